"""The administration page (``/admin``): accounts, kiosk links and the audit log.

Pure builders: the callbacks (:mod:`callbacks.admin`) pass rows read from the store. A new
password or kiosk link is shown once, in the action's message, and never again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from dash import dcc, html

from cockpit.access import Role
from layouts.i18n import PLACEHOLDER, Lang, join, t

ADMIN_PATH = "/admin"


class AdminIds(StrEnum):
    """Component ids of the administration page."""

    ROOT = "adm-root"
    USERS = "adm-users"
    USER_NAME = "adm-user-name"
    USER_ROLE = "adm-user-role"
    USER_VILLAGES = "adm-user-villages"
    USER_LANDLORD = "adm-user-landlord"
    USER_ADD = "adm-user-add"
    USER_DISABLE = "adm-user-disable"
    USER_ENABLE = "adm-user-enable"
    USER_PASSWORD = "adm-user-password"
    USER_SET_ROLE = "adm-user-set-role"
    USER_MESSAGE = "adm-user-message"
    KIOSKS = "adm-kiosks"
    KIOSK_NAME = "adm-kiosk-name"
    KIOSK_ADD = "adm-kiosk-add"
    KIOSK_REVOKE = "adm-kiosk-revoke"
    KIOSK_LINK = "adm-kiosk-link"
    KIOSK_MESSAGE = "adm-kiosk-message"
    AUDIT = "adm-audit"


def _when(value: datetime | None, tz: ZoneInfo) -> str:
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S") if value else PLACEHOLDER


def _table(head: Sequence[str], rows: Sequence[Sequence[Any]], table_id: str) -> html.Table:
    return html.Table(id=table_id, className="inc-table adm-table", children=[
        html.Thead(html.Tr([html.Th(h) for h in head])),
        html.Tbody([html.Tr([html.Td(c if c not in (None, "") else PLACEHOLDER) for c in row])
                    for row in rows])])


def role_label(role: str, lang: Lang) -> str:
    """``staff`` → 工作人员 (zh) / staff (en)."""
    return t(f"role_{role}", lang)


def action_label(action: str, lang: Lang) -> str:
    """An audited act in words (``view_unmasked`` → 查看完整个人信息)."""
    try:
        return t(f"audit_{action}", lang)
    except KeyError:
        return action


def users_table(accounts: Sequence[Any], lang: Lang, tz: ZoneInfo,
                villages: Mapping[str, str]) -> html.Table:
    """Accounts (:class:`cockpit.accounts.Account`): name, role, scope, state, sign-ins.

    The scope is a staff account's villages, or a landlord account's landlord id.
    """
    rows = [(a.username, role_label(a.role, lang),
             t("adm_landlord_of", lang, id=a.landlord_id) if a.landlord_id
             else join((villages.get(c, c) for c in a.villages), lang),
             t("adm_disabled" if a.disabled else "adm_enabled", lang),
             _when(a.last_sign_in_at, tz), _when(a.created_at, tz)) for a in accounts]
    head = [t(k, lang) for k in ("signin_username", "adm_role", "adm_villages", "adm_state",
                                 "adm_last", "adm_created")]
    return _table(head, rows, AdminIds.USERS)


def kiosks_table(kiosks: Sequence[Any], lang: Lang, tz: ZoneInfo) -> html.Table:
    """Kiosks (:class:`cockpit.store.models.Kiosk`): name, created, by whom, revoked when."""
    rows = [(k.name, _when(k.created_at, tz), k.created_by,
             t("adm_disabled", lang) + " " + _when(k.revoked_at, tz) if k.revoked_at
             else t("adm_enabled", lang)) for k in kiosks]
    head = [t("adm_kiosks", lang), t("adm_created", lang), t("adm_actor", lang),
            t("adm_state", lang)]
    return _table(head, rows, AdminIds.KIOSKS)


def audit_table(entries: Sequence[Any], total: int, lang: Lang, tz: ZoneInfo) -> html.Div:
    """Audit rows (:class:`cockpit.store.models.AuditEntry`), newest first, and their total."""
    rows = [(_when(e.at, tz), e.actor, role_label(e.role, lang) if e.role else None,
             action_label(e.action, lang), e.target, e.origin, e.detail) for e in entries]
    head = [t(k, lang) for k in ("adm_at", "adm_actor", "adm_role", "adm_action", "adm_target",
                                 "adm_origin", "adm_detail")]
    return html.Div([html.P(t("adm_audit_total", lang, n=total), className="adm-total"),
                     _table(head, rows, AdminIds.AUDIT)])


def _button(key: str, lang: Lang, ident: AdminIds) -> html.Button:
    return html.Button(t(key, lang), id=ident, n_clicks=0, className="adm-button")


def layout(lang: Lang, users: html.Table, kiosks: html.Table, audit: html.Div) -> html.Div:
    """The whole page around the three tables."""
    roles = [{"label": role_label(r.value, lang), "value": r.value} for r in Role]
    user_form = html.Div(className="adm-form", children=[
        dcc.Input(id=AdminIds.USER_NAME, placeholder=t("signin_username", lang),
                  className="inc-input", debounce=False, maxLength=64),
        dcc.Dropdown(id=AdminIds.USER_ROLE, options=roles, value=Role.STAFF.value,
                     clearable=False, className="adm-role"),
        dcc.Input(id=AdminIds.USER_VILLAGES, placeholder=t("adm_villages", lang),
                  className="inc-input adm-villages"),
        dcc.Input(id=AdminIds.USER_LANDLORD, placeholder=t("adm_landlord", lang),
                  className="inc-input adm-landlord", maxLength=128),
        _button("adm_add_user", lang, AdminIds.USER_ADD),
        _button("adm_set_role", lang, AdminIds.USER_SET_ROLE),
        _button("adm_disable", lang, AdminIds.USER_DISABLE),
        _button("adm_enable", lang, AdminIds.USER_ENABLE),
        _button("adm_reset_password", lang, AdminIds.USER_PASSWORD)])
    kiosk_form = html.Div(className="adm-form", children=[
        dcc.Input(id=AdminIds.KIOSK_NAME, placeholder=t("adm_kiosks", lang),
                  className="inc-input", maxLength=64),
        _button("adm_add_kiosk", lang, AdminIds.KIOSK_ADD),
        _button("adm_show_link", lang, AdminIds.KIOSK_LINK),
        _button("adm_revoke", lang, AdminIds.KIOSK_REVOKE)])

    def section(title: str, *children) -> html.Section:
        return html.Section(className="incd-section adm-section",
                            children=[html.H2(title, className="incd-section-title"),
                                      *children])
    return html.Div(id=AdminIds.ROOT, className=f"inc-page adm-page lang-{lang}", lang=lang,
                    children=[
        html.Header(className="inc-header", children=[
            html.H1(t("adm_title", lang), className="inc-title"),
            html.Nav(className="inc-nav", children=[
                dcc.Link(t("inc_nav_list", lang), href="/incidents", className="inc-nav-link"),
                dcc.Link(t("inc_nav_analysis", lang), href="/analysis",
                         className="inc-nav-link"),
                html.A(t("inc_nav_wall", lang), href="/", className="inc-nav-link")])]),
        html.Main(className="inc-main", children=[
            section(t("adm_users", lang), user_form,
                    html.Div(id=AdminIds.USER_MESSAGE, className="adm-message", role="status"),
                    html.Div(users, className="adm-users-wrap")),
            section(t("adm_kiosks", lang), kiosk_form,
                    html.Div(id=AdminIds.KIOSK_MESSAGE, className="adm-message",
                             role="status"),
                    html.Div(kiosks, className="adm-kiosks-wrap")),
            section(t("adm_audit", lang), audit)])])
