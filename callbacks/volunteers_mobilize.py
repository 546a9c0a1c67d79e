"""The 动员 section's acts, which need :attr:`Capability.MOBILIZE` (leader, staff; app.py).

- 发起动员: the form's values become a ``mobilization.requested`` field map
  (:mod:`cockpit.volunteers.request`), checked against the contract, XADDed to the volunteers
  stream and audited (``mobilization_requested``) in one go; ingest stores it like any other
  request and the page shows it once the data version moves. A staff account asks only for
  its villages. One form token is one event: a second click with it writes nothing.
- 再次动员: :func:`cockpit.volunteers.recall.recall` and its audit entry
  (``mobilization_recalled``) in one transaction, then the change signal; a staff account
  re-calls only mobilisations of its villages.

Every check is made here, on the server: the policy refuses the callbacks to other roles, and
the villages are checked against the account's scope whatever the form sent.
"""

from __future__ import annotations

import functools
import logging
import re
import uuid
from datetime import datetime
from typing import Any

import dash
from dash import ALL, Input, Output, State, ctx
from dash.development.base_component import Component
from dash.exceptions import PreventUpdate
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from callbacks import PageRequest
from callbacks.auth import client_address, current_viewer
from callbacks.incidents import village_labels
from callbacks.volunteers import DATA_ERRORS, page_state, scope_of, view_of
from cockpit import audit
from cockpit.access import Capability, Viewer
from cockpit.clock import utc_now
from cockpit.services import Services
from cockpit.streams import signal_change
from cockpit.volunteers import page_queries, queries, recall
from cockpit.volunteers import request as ask
from layouts import volunteers_mobilize as mobilize
from layouts.i18n import Lang, t
from layouts.volunteers import VolunteersIds, when
from layouts.volunteers_mobilize import MobilizeIds
from layouts.volunteers_query import VOLUNTEERS_PATH, parse_query

log = logging.getLogger(__name__)

#: RecallError messages of cockpit.volunteers.recall → the page's words.
RECALL_ERRORS = ((re.compile(r"^no mobilisation "), "vol_mob_unknown"),
                 (re.compile(r"^the deadline has passed$"), "vol_recall_err_deadline"),
                 (re.compile(r"^everyone asked has answered$"), "vol_recall_err_answered"))
#: RequestRefused codes (and the contract's reasons) → the page's words.
REQUEST_ERRORS = {"village": "vol_req_err_village", "count": "vol_req_err_count",
                  "skills": "vol_req_err_skills", "deadline": "vol_req_err_deadline"}


class Refused(Exception):
    """Not the viewer's to do (another village, or a role that may not); said, not done."""


def recall_error_text(message: str, lang: Lang) -> str:
    """The page's words for a :class:`~cockpit.volunteers.recall.RecallError` message."""
    for pattern, key in RECALL_ERRORS:
        if pattern.match(message):
            return t(key, lang)
    return t("vol_recall_err_other", lang, why=message)


def refusal_text(exc: ask.RequestRefused, lang: Lang) -> str:
    """The page's words for a refused request (the contract's reason as it is, else)."""
    if exc.code in REQUEST_ERRORS:
        return t(REQUEST_ERRORS[exc.code], lang)
    if str(exc) == "deadline must be after occurred_at":
        return t("vol_req_err_past", lang)
    return t("vol_req_err_invalid", lang, why=str(exc))


def scope_villages(viewer: Viewer, lang: Lang) -> list[tuple[str, str]]:
    """``(code, name)`` of the villages ``viewer`` may ask volunteers of, by name."""
    return sorted(((c, n) for c, n in village_labels(lang).items() if viewer.in_scope(c)),
                  key=lambda cn: cn[1])


def board_of(session, services: Services, viewer: Viewer, now: datetime) -> list[dict]:
    """The mobilisations on show in ``viewer``'s villages (the cards' read model)."""
    return queries.mobilization_board(session, services.settings.volunteer_rules,
                                      services.settings.tz, now, scope=scope_of(viewer))


def request_mobilization(services: Services, viewer: Viewer, values: dict[str, Any],
                         token: str, lang: Lang) -> tuple[str, bool]:
    """Check, send and audit one request; returns the page's message and whether it was sent.

    Not sent (and nothing written) when the token was sent already: a second click.

    Raises
    ------
    Refused
        The role may not, or the village is not the viewer's.
    cockpit.volunteers.request.RequestRefused
        A field is missing or wrong, or the contract refuses the event: nothing is written.
    """
    if not viewer.can(Capability.MOBILIZE):
        raise Refused("role")
    village = str(values.get("village") or "")
    if not village:
        raise ask.RequestRefused("village", "village: missing")
    if village not in village_labels(lang) or not viewer.in_scope(village):
        raise Refused(village)
    tz, now = services.settings.tz, utc_now().replace(microsecond=0)
    skills = ask.skills_of(values.get("skills"), values.get("skills_text"))
    fields = ask.build_fields(
        token, village=village, count=ask.count_of(values.get("count")),
        deadline=ask.deadline_of(values.get("minutes"), values.get("at"), now, tz),
        now=now, tz=tz, skills=skills, title=values.get("what"), place=values.get("place"))
    event = ask.validate(fields, services.settings, now)
    # the entry first, its audit row committed after: a failed commit can leave a request sent
    # without its row, never a row for a request that was not sent
    with services.sessions.begin() as db:
        if ask.send(services.redis, services.settings, token, fields) is None:
            return t("vol_req_again", lang, id=event.mobilization_id), False
        audit.record(db, viewer.name, "mobilization_requested", role=viewer.role,
                     target=event.mobilization_id, origin=client_address(services.settings),
                     detail=f"village {village}, count {event.count}, "
                            f"deadline {event.deadline.astimezone(tz).isoformat()}")
    return t("vol_req_sent", lang, id=event.mobilization_id, n=event.count,
             village=village_labels(lang).get(village, village),
             deadline=when(event.deadline.astimezone(tz).isoformat())), True


def recall_mobilization(services: Services, viewer: Viewer, mobilization_id: str,
                        lang: Lang) -> str:
    """Re-call in one transaction with its audit entry, then signal; returns the message.

    Raises
    ------
    Refused
        Unknown, or not in a staff account's villages.
    cockpit.volunteers.recall.RecallError
        Past the deadline, or nobody is waiting (nothing is written).
    """
    if not viewer.can(Capability.MOBILIZE):
        raise Refused("role")
    with services.sessions.begin() as db:
        known, village = page_queries.mobilization_village(db, mobilization_id)
        if not known or not viewer.in_scope(village):
            raise Refused(mobilization_id)
        count = recall.recall(db, services.redis, services.settings, mobilization_id,
                              viewer.name, utc_now())
        audit.record(db, viewer.name, "mobilization_recalled", role=viewer.role,
                     target=mobilization_id, origin=client_address(services.settings),
                     detail=f"{count} volunteers")
    try:
        signal_change(services.redis, services.settings, [])
    except (RedisError, OSError) as exc:
        log.warning("re-call: change signal not sent: %s", type(exc).__name__)
    return t("vol_recall_done", lang, n=count)


def render_list(services: Services, base, lang: Lang, page_request: PageRequest) -> Component:
    """Return ``/volunteers`` as ``base`` renders it, plus the acts of a role that may mobilise.

    On the mobilisation section only: the request form and the re-call cards.
    """
    page = base(lang, page_request)
    viewer = current_viewer()
    query, _ = parse_query(page_request.query, village_labels(lang))
    if query.tab != "mobilization" or not viewer.can(Capability.MOBILIZE):
        return page
    skills: list[str] = []
    board: list[dict] = []
    try:
        with services.read() as session:
            skills = ask.registry_skills(session)
            board = board_of(session, services, viewer, utc_now())
    except DATA_ERRORS as exc:  # the page says the source is down already
        log.warning("mobilise: data source unreachable: %s", type(exc).__name__)
    form = mobilize.request_form(lang, scope_villages(viewer, lang), skills, uuid.uuid4().hex)
    part = mobilize.section(lang, form, mobilize.recall_cards(board, view_of(viewer, lang)))
    return mobilize.with_section(page, part)


def routes(services: Services, base: dict[str, Any]) -> dict[str, Any]:
    """The volunteers pages' router entries (``base``), the list page with the acts added."""
    return {**base, VOLUNTEERS_PATH: functools.partial(render_list, services,
                                                       base[VOLUNTEERS_PATH])}


def validation_pages() -> list[Component]:
    """The form and the cards' containers, without data, for ``validation_layout``."""
    form = mobilize.request_form("zh", [], [], "0" * 32)
    return [mobilize.section("zh", form, [])]


def register(app: dash.Dash, services: Services) -> None:
    """Register the request form's submit and the re-call cards (refresh and 再次动员)."""

    @app.callback(Output(MobilizeIds.SENT, "children"), Output(MobilizeIds.TOKEN, "data"),
                  Input(MobilizeIds.SUBMIT, "n_clicks"),
                  State(MobilizeIds.VILLAGE, "value"), State(MobilizeIds.COUNT, "value"),
                  State(MobilizeIds.SKILLS, "value"), State(MobilizeIds.SKILLS_TEXT, "value"),
                  State(MobilizeIds.MINUTES, "value"), State(MobilizeIds.AT, "value"),
                  State(MobilizeIds.WHAT, "value"), State(MobilizeIds.PLACE, "value"),
                  State(MobilizeIds.TOKEN, "data"), State(VolunteersIds.STATE, "data"),
                  running=[(Output(MobilizeIds.SUBMIT, "disabled"), True, False)],
                  prevent_initial_call=True)
    def submit(clicks, village, count, skills, skills_text, minutes, at, what, place, token,
               state) -> tuple:
        if not clicks:
            raise PreventUpdate
        lang, _ = page_state(state)
        values = {"village": village, "count": count, "skills": skills,
                  "skills_text": skills_text, "minutes": minutes, "at": at, "what": what,
                  "place": place}
        try:
            message, sent = request_mobilization(services, current_viewer(), values,
                                                 str(token or ""), lang)
        except Refused:
            return t("vol_req_err_scope", lang), dash.no_update
        except (ask.RequestRefused, ValueError) as exc:
            if not isinstance(exc, ask.RequestRefused):  # a forged or missing token
                exc = ask.RequestRefused("invalid", str(exc))
            return refusal_text(exc, lang), dash.no_update
        except (SQLAlchemyError, RedisError, OSError) as exc:
            log.warning("mobilise: request not sent: %s", type(exc).__name__)
            return t("source_down", lang), dash.no_update
        return message, uuid.uuid4().hex if sent else dash.no_update

    @app.callback(Output(MobilizeIds.CARDS, "children"), Output(MobilizeIds.RECALLED, "children"),
                  Input(VolunteersIds.SEEN, "data"),
                  Input({"type": str(MobilizeIds.RECALL), "key": ALL}, "n_clicks"),
                  State(VolunteersIds.STATE, "data"), prevent_initial_call=True)
    def cards(_seen, _clicks, state) -> tuple:
        lang, query = page_state(state)
        if query.tab != "mobilization":
            raise PreventUpdate
        viewer = current_viewer()
        message: Any = dash.no_update
        trigger = ctx.triggered_id
        if isinstance(trigger, dict):
            if not ctx.triggered or not ctx.triggered[0].get("value"):
                raise PreventUpdate  # the buttons were redrawn, not clicked
            try:
                message = recall_mobilization(services, viewer, str(trigger.get("key") or ""),
                                              lang)
            except Refused:
                message = t("vol_mob_unknown", lang)
            except recall.RecallError as exc:
                message = recall_error_text(str(exc), lang)
            except (SQLAlchemyError, RedisError, OSError) as exc:
                log.warning("re-call failed: %s", type(exc).__name__)
                return dash.no_update, t("source_down", lang)
        try:
            with services.read() as session:
                board = board_of(session, services, viewer, utc_now())
        except DATA_ERRORS as exc:
            log.warning("mobilise: data source unreachable: %s", type(exc).__name__)
            return dash.no_update, message
        return mobilize.recall_cards(board, view_of(viewer, lang)), message
