"""The volunteers pages' acts, which need :attr:`Capability.REVEAL` (staff; app.py declares it).

- Reveals: the unanswered people of a mobilisation, the open merge queue and one person's
  record, unmasked. Each writes ``view_unmasked`` to the audit log before the values are sent,
  and a staff account reveals only what lies in its villages.
- Merge-queue decisions (merge either way, 不是同一人) and undoing a merge: each calls
  :mod:`cockpit.volunteers.registry` and writes its audit entry in one transaction, answers a
  :class:`~cockpit.volunteers.registry.MergeError` with a clear message, signals the change
  (other screens refresh) and asks the page to re-read its body.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import dash
from dash import ALL, Input, Output, State, ctx
from dash.exceptions import PreventUpdate
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from callbacks.auth import audit_view, client_address, current_viewer
from callbacks.staff_pages import reveal_audited
from callbacks.volunteers import (
    DATA_ERRORS,
    page_state,
    read_record,
    scope_of,
    view_of,
)
from cockpit import audit
from cockpit.access import Viewer
from cockpit.clock import utc_now
from cockpit.services import Services
from cockpit.streams import signal_change
from cockpit.volunteers import detail, page_queries, queries, registry
from layouts.i18n import Lang, normalize_lang, t
from layouts.volunteer_detail import VolunteerDetailIds, revealed_children
from layouts.volunteers import VolunteersIds
from layouts.volunteers_merges import queue_revealed
from layouts.volunteers_sections import people_table

log = logging.getLogger(__name__)

#: Audit actions of the decisions (cockpit.audit.ACTIONS); target and detail are written as
#: ``cockpit volunteers merges`` writes them (the volunteer kept / a / given back, and a note).
AUDIT = {"merge_into_a": "volunteer_merged", "merge_into_b": "volunteer_merged",
         "reject": "volunteer_merge_rejected", "undo": "volunteer_merge_undone"}
#: MergeError messages of cockpit.volunteers.registry → the page's words.
MERGE_ERRORS = (
    (re.compile(r"^no open merge candidate (?P<id>\S+)$"), "vol_err_no_candidate"),
    (re.compile(r"^no merge (?P<id>\S+)$"), "vol_err_no_merge"),
    (re.compile(r"^merge (?P<id>\S+) was undone already$"), "vol_err_undone"),
    (re.compile(r"^volunteer (?P<id>\S+) was merged into (?P<into>\S+) already$"),
     "vol_err_merged"),
    (re.compile(r"^no volunteer (?P<id>\S+)$"), "vol_err_no_volunteer"),
    (re.compile(r"^records (?P<records>.+) moved on since"), "vol_err_moved_on"),
    (re.compile(r"^a volunteer cannot be merged into itself$"), "vol_err_itself"),
)


class Refused(Exception):
    """An act outside the viewer's villages (or of something unknown): said, not done."""


def merge_error_text(message: str, lang: Lang) -> str:
    """The page's words for a :class:`~cockpit.volunteers.registry.MergeError` message."""
    for pattern, key in MERGE_ERRORS:
        match = pattern.match(message)
        if match:
            return t(key, lang, **match.groupdict())
    return t("vol_err_other", lang, why=message)


def decide(services: Services, viewer: Viewer, action: str, key: str, lang: Lang) -> str:
    """Carry out one decision in one transaction with its audit entry; return the message.

    Parameters
    ----------
    action : {"merge_into_a", "merge_into_b", "reject", "undo"}
        Merge B into A or A into B, reject the pair (candidate ``key``), or undo merge ``key``.

    Raises
    ------
    Refused
        The candidate or merge is unknown, or touches none of a staff account's villages.
    cockpit.volunteers.registry.MergeError
        The registry refused (the transaction is rolled back, nothing is logged).
    """
    if action not in AUDIT or not key.isdigit():
        raise Refused(key)
    scope, by, now = scope_of(viewer), viewer.name, utc_now()
    origin = client_address(services.settings)
    with services.sessions.begin() as db:
        if action == "undo":
            if not page_queries.merge_in_scope(db, int(key), scope):
                raise Refused(key)
            entry = registry.undo(db, int(key), by, now)
            target, note = entry.from_id, f"merge {entry.merge_id}: back from {entry.into_id}"
            message = t("vol_done_undo", lang, id=entry.merge_id, into=entry.into_id,
                        source=entry.from_id)
        else:
            pair = page_queries.candidate(db, int(key), scope)
            if pair is None:
                raise Refused(key)
            if pair["status"] != "open":  # decided meanwhile (another screen, a double click)
                raise registry.MergeError(f"no open merge candidate {pair['candidate_id']}")
            if action == "reject":
                registry.reject(db, pair["candidate_id"], by, now)
                target, note = pair["a"], f"candidate {pair['candidate_id']}: {pair['b']}"
                message = t("vol_done_reject", lang, a=pair["a"], b=pair["b"])
            else:
                into, source = (pair["a"], pair["b"]) if action == "merge_into_a" \
                    else (pair["b"], pair["a"])
                entry = registry.merge(db, into, source, by, now, pair["candidate_id"])
                target, note = into, f"merge {entry.merge_id}: {source}"
                message = t("vol_done_merge", lang, into=into, source=source)
        audit.record(db, by, AUDIT[action], role=viewer.role, target=target, origin=origin,
                     detail=note)
    return message


def _signal(services: Services) -> None:
    try:
        signal_change(services.redis, services.settings, [])
    except (RedisError, OSError) as exc:
        log.warning("volunteers: change signal not sent: %s", type(exc).__name__)


def _act(services: Services, trigger: Any, value: Any, lang: Lang) -> tuple[str, Any]:
    if not isinstance(trigger, dict) or not value:
        raise PreventUpdate
    action, key = str(trigger.get("action") or ""), str(trigger.get("key") or "")
    try:
        message = decide(services, current_viewer(), action, key, lang)
    except Refused:
        return t("vol_refused", lang), dash.no_update
    except registry.MergeError as exc:
        return merge_error_text(str(exc), lang), {"at": time.time()}
    except SQLAlchemyError as exc:
        log.warning("volunteers: decision failed: %s", type(exc).__name__)
        return t("source_down", lang), dash.no_update
    _signal(services)
    return message, {"at": time.time()}


def _triggered() -> tuple[Any, Any]:
    if not ctx.triggered:
        return None, None
    return ctx.triggered_id, ctx.triggered[0].get("value")


def register(app: dash.Dash, services: Services) -> None:
    """Register the reveals, the merge-queue decisions and the undo of both pages."""
    tz = services.settings.tz

    @app.callback(Output(VolunteersIds.REVEALED, "children"),
                  Output(VolunteersIds.NOTE, "children"), Output(VolunteersIds.REVEAL, "hidden"),
                  Input(VolunteersIds.REVEAL, "n_clicks"), State(VolunteersIds.STATE, "data"),
                  prevent_initial_call=True)
    def reveal_list(clicks, state) -> tuple:
        if not clicks:
            raise PreventUpdate
        lang, query = page_state(state)
        viewer = current_viewer()
        scope = scope_of(viewer)
        try:
            with services.read() as session:
                if query.tab == "mobilization" and query.mob:
                    known, village = page_queries.mobilization_village(session, query.mob)
                    if not known or not viewer.in_scope(village):
                        return dash.no_update, t("vol_refused", lang), False
                    people = queries.unanswered(session, query.mob, unmasked=True)
                    target, where = f"mobilization:{query.mob}", "volunteers page: not answered"
                    shown = people_table(people, view_of(viewer, lang), reveal=True)
                elif query.tab == "merges":
                    queue = detail.merge_queue(session, tz, unmasked=True, scope=scope)
                    ids = ",".join(str(item["candidate_id"]) for item in queue)
                    target, where = f"merge-queue:{ids}", "volunteers page: merge queue"
                    shown = queue_revealed(queue, lang)
                else:
                    raise PreventUpdate
            audit_view(services, viewer, target, where)
        except DATA_ERRORS as exc:
            log.warning("volunteers reveal: data source unreachable: %s", type(exc).__name__)
            return dash.no_update, t("source_down", lang), False
        return shown, t("pd_revealed", lang), True

    @app.callback(Output(VolunteerDetailIds.REVEALED, "children"),
                  Output(VolunteerDetailIds.NOTE, "children"),
                  Output(VolunteerDetailIds.REVEAL, "hidden"),
                  Input(VolunteerDetailIds.REVEAL, "n_clicks"),
                  State(VolunteerDetailIds.STATE, "data"), prevent_initial_call=True)
    def reveal_record(clicks, state) -> tuple:
        if not clicks:
            raise PreventUpdate
        state = state or {}
        lang = normalize_lang(state.get("lang"))
        volunteer_id = str(state.get("volunteer_id") or "")
        viewer = current_viewer()

        def read() -> dict | None:
            record = read_record(services, volunteer_id, viewer, unmasked=True)
            return record if record is not None and "sources" in record else None
        return reveal_audited(services, viewer, lang, read,
                              lambda record: revealed_children(record, lang), volunteer_id,
                              "volunteer record page")

    @app.callback(Output(VolunteersIds.MESSAGE, "children"),
                  Output(VolunteersIds.CHANGED, "data"),
                  Input({"type": str(VolunteersIds.ACTION), "action": ALL, "key": ALL},
                        "n_clicks"),
                  State(VolunteersIds.STATE, "data"), prevent_initial_call=True)
    def review(_clicks, state) -> tuple:
        lang, _ = page_state(state)
        return _act(services, *_triggered(), lang)

    @app.callback(Output(VolunteerDetailIds.MESSAGE, "children"),
                  Output(VolunteerDetailIds.CHANGED, "data"),
                  Input({"type": str(VolunteerDetailIds.UNDO), "action": ALL, "key": ALL},
                        "n_clicks"),
                  State(VolunteerDetailIds.STATE, "data"), prevent_initial_call=True)
    def undo_on_record(_clicks, state) -> tuple:
        lang = normalize_lang((state or {}).get("lang"))
        trigger, value = _triggered()
        if isinstance(trigger, dict) and trigger.get("action") != "undo":
            raise PreventUpdate
        return _act(services, trigger, value, lang)
