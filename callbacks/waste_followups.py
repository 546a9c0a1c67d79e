"""Callbacks of the follow-ups tab of ``/waste`` (薄弱户跟进): the list and the acts on it.

- The list (:attr:`Capability.ITEMS`): read when the tab appears, when a filter changes, and
  when the data version or the minute moved (a poll); a staff account's tasks are those of its
  villages, filtered in SQL.
- 派单 and 走访登记 (:attr:`Capability.FOLLOW_UP`, leader and staff): the form's values are
  checked, built into a ``followup.assigned`` / ``followup.visited`` field map
  (:mod:`cockpit.waste.followup_request`), checked against the contract, XADDed once to the
  waste stream and audited (``waste_followup_assigned`` / ``waste_followup_visited``) in one
  go; ingest applies the event and the list shows it once the data version moves. A staff
  account acts only on tasks of its villages. One form token is one event: a second click
  with it writes nothing.

:func:`register` declares the access rules of its callbacks itself: call it outside any
``policy.callbacks`` block.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import dash
from dash import Input, Output, State, ctx
from dash.exceptions import PreventUpdate

from callbacks.auth import client_address, current_viewer
from callbacks.incidents import village_labels
from callbacks.policy import Policy
from callbacks.staff_pages import DATA_ERRORS
from cockpit import audit
from cockpit.access import Capability, Viewer
from cockpit.clock import utc_now
from cockpit.services import Services
from cockpit.waste import followup_board
from cockpit.waste import followup_request as ask
from layouts import waste_followups as tab
from layouts.i18n import Lang, normalize_lang, t
from layouts.volunteers import View
from layouts.waste_followups import FollowupIds as Ids

log = logging.getLogger(__name__)

#: FollowupRefused codes → the tab's words (``invalid``: the contract's reason as it is).
ERRORS = {"task": "wfu_err_task", "state": "wfu_err_state", "assignee": "wfu_err_assignee",
          "by": "wfu_err_by", "kind": "wfu_err_kind", "due": "wfu_err_due",
          "outcome": "wfu_err_outcome", "note": "wfu_err_note", "at": "wfu_err_at"}


class Refused(Exception):
    """Not the viewer's to do (a role that may not, or a task elsewhere); said, not done.

    The message is the key of the tab's words.
    """


def scope_of(viewer: Viewer) -> tuple[str, ...] | None:
    """The villages whose tasks ``viewer`` sees and acts on (staff); None: every village."""
    return viewer.villages if viewer.scoped else None


def lang_of(state: Any) -> Lang:
    """The tab's language from its state store."""
    return normalize_lang(state.get("lang") if isinstance(state, dict) else None)


def refusal_text(exc: ask.FollowupRefused, lang: Lang) -> str:
    """The tab's words for a refused act."""
    if exc.code in ERRORS:
        return t(ERRORS[exc.code], lang)
    return t("wfu_err_invalid", lang, why=str(exc))


def village_choices(viewer: Viewer, lang: Lang) -> list[tuple[str, str]]:
    """``(code, name)`` of the villages ``viewer`` sees, by name."""
    return sorted(((c, n) for c, n in village_labels(lang).items() if viewer.in_scope(c)),
                  key=lambda cn: cn[1])


def _task(db, viewer: Viewer, followup_id: str) -> dict[str, Any]:
    task = followup_board.task_of(db, followup_id)
    if task is None or not viewer.in_scope(task["village_code"]):
        raise Refused("wfu_err_scope")
    return task


def _may(viewer: Viewer) -> None:
    if not viewer.can(Capability.FOLLOW_UP):
        raise Refused("wfu_err_role")


def assign_followup(services: Services, viewer: Viewer, values: dict[str, Any], token: Any,
                    lang: Lang) -> tuple[str, bool]:
    """Check, send and audit one assignment; returns the tab's message and whether it was sent.

    Not sent (and nothing written) when the token was sent already: a second click.

    Raises
    ------
    Refused
        The role may not, or the task is unknown or not in the viewer's villages.
    cockpit.waste.followup_request.FollowupRefused
        A value is missing or wrong, the task is visited or cancelled, or the contract refuses
        the event: nothing is written.
    """
    _may(viewer)
    followup_id = ask.task_id_of(values.get("task"))
    assignee = ask.person_id_of(values.get("assignee"), "assignee", required=True)
    kind = ask.choice_of(values.get("kind"), "kind", ask.ASSIGNEE_KINDS)
    tz, now = services.settings.tz, utc_now().replace(microsecond=0)
    due = ask.due_of(values.get("due"), now, tz)
    # the entry first, its audit row committed after: a failed commit can leave an act sent
    # without its row, never a row for an act that was not sent
    with services.sessions.begin() as db:
        ask.check_task(_task(db, viewer, followup_id), "assign")
        fields = ask.assigned_fields(token, followup_id, assignee, kind, now, due)
        ask.validate(fields, services.settings, now)
        if ask.send(services.redis, services.settings, token, fields) is None:
            return t("wfu_again", lang), False
        audit.record(db, viewer.name, "waste_followup_assigned", role=viewer.role,
                     target=followup_id, origin=client_address(services.settings),
                     detail=f"{kind} {assignee}" + (
                         f", due {due.astimezone(tz).isoformat()}" if due else ""))
    return t("wfu_assigned", lang, id=followup_id, kind=t(f"wfu_kind_{kind}", lang),
             who=assignee), True


def visit_followup(services: Services, viewer: Viewer, values: dict[str, Any], token: Any,
                   lang: Lang) -> tuple[str, bool]:
    """Check, send and audit one visit; returns the tab's message and whether it was sent.

    The visitor is the one given, else the task's assignee; the visit time the one given
    (not in the future, not before the finding), else now.

    Raises
    ------
    Refused
        The role may not, or the task is unknown or not in the viewer's villages.
    cockpit.waste.followup_request.FollowupRefused
        As :func:`assign_followup`.
    """
    _may(viewer)
    followup_id = ask.task_id_of(values.get("task"))
    outcome = ask.choice_of(values.get("outcome"), "outcome", ask.OUTCOMES)
    note = ask.note_of(values.get("note"))
    by = ask.person_id_of(values.get("by"), "by", required=False)
    tz, now = services.settings.tz, utc_now().replace(microsecond=0)
    with services.sessions.begin() as db:
        task = _task(db, viewer, followup_id)
        ask.check_task(task, "visit")
        at = ask.visited_at_of(values.get("at"), now, tz, task["found_at"])
        fields = ask.visited_fields(token, followup_id, outcome, at, note,
                                    by or task["assignee_id"])
        ask.validate(fields, services.settings, now)
        if ask.send(services.redis, services.settings, token, fields) is None:
            return t("wfu_again", lang), False
        audit.record(db, viewer.name, "waste_followup_visited", role=viewer.role,
                     target=followup_id, origin=client_address(services.settings),
                     detail=f"outcome {outcome}, at {at.astimezone(tz).isoformat()}")
    return t("wfu_visited", lang, id=followup_id,
             outcome=t(f"wfu_outcome_{outcome}", lang)), True


def _act(act, services: Services, values: dict[str, Any], token: Any, state: Any) -> tuple:
    """Run one act for the current viewer: ``(message, new token or no_update)``."""
    lang = lang_of(state)
    try:
        message, sent = act(services, current_viewer(), values, token, lang)
    except Refused as exc:
        return t(str(exc), lang), dash.no_update
    except ask.FollowupRefused as exc:
        return refusal_text(exc, lang), dash.no_update
    except DATA_ERRORS as exc:
        log.warning("follow-up act not sent: %s", type(exc).__name__)
        return t("source_down", lang), dash.no_update
    return message, uuid.uuid4().hex if sent else dash.no_update


def _filters(viewer: Viewer, status: Any, village: Any) -> tuple[list | None, list | None]:
    """``(villages, statuses)`` of the read: the village filter within the viewer's scope."""
    scope = scope_of(viewer)
    if isinstance(village, str) and village:
        villages = [village] if viewer.in_scope(village) else []
    else:
        villages = None if scope is None else list(scope)
    chosen = status if isinstance(status, list) else [status] if status else []
    statuses = [s for s in chosen if s in followup_board.STATUSES] or None
    return villages, statuses


def register(app: dash.Dash, services: Services) -> None:
    """Register the list's refresh (items) and the two acts (follow-up), with their rules."""
    policy = Policy.of(app)
    tz = services.settings.tz

    with policy.callbacks(app, Capability.ITEMS):
        @app.callback(Output(Ids.LIST, "children"), Output(Ids.COUNT, "children"),
                      Output(Ids.TASK, "options"), Output(Ids.VILLAGE, "options"),
                      Output(Ids.MESSAGE, "children"), Output(Ids.SEEN, "data"),
                      Output(Ids.ASSIGN_TOKEN, "data"), Output(Ids.VISIT_TOKEN, "data"),
                      Input(Ids.TICK, "n_intervals"), Input(Ids.STATUS, "value"),
                      Input(Ids.VILLAGE, "value"), State(Ids.STATE, "data"),
                      State(Ids.SEEN, "data"), State(Ids.ASSIGN_TOKEN, "data"),
                      State(Ids.VISIT_TOKEN, "data"))
        def refresh(_tick, status, village, state, seen, assign_token, visit_token) -> tuple:
            lang, viewer = lang_of(state), current_viewer()
            villages, statuses = _filters(viewer, status, village)
            now = utc_now()
            try:
                key = f"{services.version()}@{now.astimezone(tz):%Y-%m-%dT%H:%M}|" \
                      f"{statuses}|{villages}"
                if ctx.triggered_id == Ids.TICK and key == seen:
                    raise PreventUpdate
                with services.read() as session:
                    model = followup_board.board(session, services.settings.waste_rules, tz,
                                                 now, villages, statuses)
            except DATA_ERRORS as exc:
                log.warning("follow-ups: data source unreachable: %s", type(exc).__name__)
                return (dash.no_update,) * 4 + (t("source_down", lang),) + (dash.no_update,) * 3
            view = View(lang, village_labels(lang))
            return (tab.list_children(model, view), tab.count_text(model, lang),
                    tab.task_options(model["actionable"], view),
                    tab.village_options(village_choices(viewer, lang)), "", key,
                    dash.no_update if assign_token else uuid.uuid4().hex,
                    dash.no_update if visit_token else uuid.uuid4().hex)

    with policy.callbacks(app, Capability.FOLLOW_UP):
        @app.callback(Output(Ids.ASSIGNED, "children"),
                      Output(Ids.ASSIGN_TOKEN, "data", allow_duplicate=True),
                      Input(Ids.ASSIGN, "n_clicks"), State(Ids.TASK, "value"),
                      State(Ids.ASSIGNEE, "value"), State(Ids.KIND, "value"),
                      State(Ids.DUE, "value"), State(Ids.ASSIGN_TOKEN, "data"),
                      State(Ids.STATE, "data"),
                      running=[(Output(Ids.ASSIGN, "disabled"), True, False)],
                      prevent_initial_call=True)
        def assign(clicks, task, assignee, kind, due, token, state) -> tuple:
            if not clicks:
                raise PreventUpdate
            return _act(assign_followup, services, {"task": task, "assignee": assignee,
                                                    "kind": kind, "due": due}, token, state)

        @app.callback(Output(Ids.VISITED, "children"),
                      Output(Ids.VISIT_TOKEN, "data", allow_duplicate=True),
                      Input(Ids.VISIT, "n_clicks"), State(Ids.TASK, "value"),
                      State(Ids.OUTCOME, "value"), State(Ids.NOTE, "value"),
                      State(Ids.BY, "value"), State(Ids.AT, "value"),
                      State(Ids.VISIT_TOKEN, "data"), State(Ids.STATE, "data"),
                      running=[(Output(Ids.VISIT, "disabled"), True, False)],
                      prevent_initial_call=True)
        def visit(clicks, task, outcome, note, by, at, token, state) -> tuple:
            if not clicks:
                raise PreventUpdate
            return _act(visit_followup, services, {"task": task, "outcome": outcome,
                                                   "note": note, "by": by, "at": at},
                        token, state)

