"""Callbacks of the administration page: accounts and kiosk links, changed and audited.

Every callback here needs :attr:`cockpit.access.Capability.ADMIN` (declared in app.py). The
actions call :mod:`cockpit.accounts` in one transaction each, with the admin's name as ``by``
(the audit log's actor). A generated password or a new kiosk link is returned once.
"""

from __future__ import annotations

import logging
import secrets

import dash
from dash import Input, Output, State, ctx
from dash.development.base_component import Component
from dash.exceptions import PreventUpdate
from flask import request
from sqlalchemy.exc import SQLAlchemyError

from callbacks.auth import current_viewer
from cockpit import accounts, audit, geo
from cockpit.services import Services
from layouts import admin as page
from layouts.admin import AdminIds
from layouts.i18n import Lang, normalize_lang, t

log = logging.getLogger(__name__)
AUDIT_ROWS = 200


def _villages(lang: Lang) -> dict[str, str]:
    field = "name_en" if lang == "en" else "name"
    return {code: info[field] for code, info in geo.village_names().items()}


def render(services: Services, lang: Lang) -> Component:
    """The administration page with the current accounts, kiosks and latest audit rows."""
    tz = services.settings.tz
    with services.read() as db:
        users = page.users_table(accounts.list_users(db), lang, tz, _villages(lang))
        kiosks = page.kiosks_table(accounts.list_kiosks(db), lang, tz)
        log_page = audit.read(db, limit=AUDIT_ROWS)
        trail = page.audit_table(log_page.rows, log_page.total, lang, tz)
    return page.layout(lang, users, kiosks, trail)


def validation_page() -> Component:
    """The page built without data, for the app's ``validation_layout``."""
    from zoneinfo import ZoneInfo

    tz = ZoneInfo("UTC")
    return page.layout("zh", page.users_table([], "zh", tz, {}), page.kiosks_table([], "zh", tz),
                       page.audit_table([], 0, "zh", tz))


def _lang() -> Lang:
    return normalize_lang("en" if "lang=en" in (request.referrer or "") else "zh")


def _act(services: Services, lang: Lang, change, table) -> tuple:
    """Run ``change(db)`` (returns the message) in one transaction, then re-read ``table``.

    A refused change says why; a database failure says the data source is down.
    """
    try:
        with services.sessions.begin() as db:
            message = change(db) or t("adm_done", lang)
        with services.read() as db:
            children = table(db).children
    except accounts.AccountError as exc:
        return t(f"acc_err_{exc.code}", lang, **exc.fields), dash.no_update
    except SQLAlchemyError as exc:
        log.warning("admin: change failed: %s", type(exc).__name__)
        return t("source_down", lang), dash.no_update
    return message, children


def village_codes(text: str | None) -> str:
    """Village codes or names, comma-separated → codes (an unknown one is kept as given)."""
    parts = [p.strip() for p in (text or "").replace("，", ",").replace("、", ",").split(",")]
    return ",".join(geo.resolve_village(p) or p for p in parts if p)


def register(app: dash.Dash, services: Services) -> None:
    """Register the account and kiosk actions of ``/admin``."""
    tz = services.settings.tz
    known = set(geo.village_names())

    @app.callback(Output(AdminIds.USER_MESSAGE, "children"), Output(AdminIds.USERS, "children"),
                  Input(AdminIds.USER_ADD, "n_clicks"), Input(AdminIds.USER_SET_ROLE, "n_clicks"),
                  Input(AdminIds.USER_DISABLE, "n_clicks"),
                  Input(AdminIds.USER_ENABLE, "n_clicks"),
                  Input(AdminIds.USER_PASSWORD, "n_clicks"),
                  State(AdminIds.USER_NAME, "value"), State(AdminIds.USER_ROLE, "value"),
                  State(AdminIds.USER_VILLAGES, "value"), State(AdminIds.USER_LANDLORD, "value"),
                  prevent_initial_call=True)
    def user_action(_add, _role, _disable, _enable, _password, name, role, villages, landlord):
        action, lang, by = ctx.triggered_id, _lang(), current_viewer().name
        name, villages = (name or "").strip(), village_codes(villages)
        if not action or not name:
            raise PreventUpdate
        if name == by and action in (AdminIds.USER_DISABLE, AdminIds.USER_SET_ROLE,
                                     AdminIds.USER_PASSWORD):
            return t("adm_not_yourself", lang), dash.no_update  # no admin locks themself out

        def change(db) -> str | None:
            if action == AdminIds.USER_ADD:
                password = secrets.token_urlsafe(12)
                accounts.add_user(db, name, role or "", password, villages=villages,
                                  landlord_id=landlord, by=by, known_villages=known)
                return f"{t('adm_password_once', lang)} {password}"
            if action == AdminIds.USER_SET_ROLE:
                accounts.set_role(db, name, role or "", villages, landlord_id=landlord, by=by,
                                  known_villages=known)
            elif action == AdminIds.USER_PASSWORD:
                password = secrets.token_urlsafe(12)
                accounts.set_password(db, name, password, by=by)
                return f"{t('adm_password_new', lang)} {password}"
            else:
                accounts.set_disabled(db, name, action == AdminIds.USER_DISABLE, by=by)
            return None
        return _act(services, lang, change, lambda db: page.users_table(
            accounts.list_users(db), lang, tz, _villages(lang)))

    @app.callback(Output(AdminIds.KIOSK_MESSAGE, "children"),
                  Output(AdminIds.KIOSKS, "children"),
                  Input(AdminIds.KIOSK_ADD, "n_clicks"), Input(AdminIds.KIOSK_REVOKE, "n_clicks"),
                  Input(AdminIds.KIOSK_LINK, "n_clicks"),
                  State(AdminIds.KIOSK_NAME, "value"), prevent_initial_call=True)
    def kiosk_action(_add, _revoke, _link, name):
        action, lang, by = ctx.triggered_id, _lang(), current_viewer().name
        name = (name or "").strip()
        if not action or not name:
            raise PreventUpdate

        def change(db) -> str | None:
            if action in (AdminIds.KIOSK_ADD, AdminIds.KIOSK_LINK):
                kiosk = accounts.add_kiosk(db, name, by=by) if action == AdminIds.KIOSK_ADD \
                    else accounts.live_kiosk_named(db, name)
                token = accounts.kiosk_token(services.settings.secret("secret_key"), kiosk)
                return f"{t('adm_link_once', lang)} {request.host_url}kiosk/{token}"
            accounts.revoke_kiosk(db, name, by=by)
            return None
        return _act(services, lang, change,
                    lambda db: page.kiosks_table(accounts.list_kiosks(db), lang, tz))
