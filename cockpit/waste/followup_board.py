"""The follow-up board of weak households (薄弱户跟进): JSON-ready rows for the tab and the API.

Built on :func:`cockpit.waste.queries.followups` (open tasks first by due time, then the rest,
each with its before/after :class:`~cockpit.waste.accuracy.Tally`), with each household's group
and the overdue flag added, times as local ISO-8601. A staff account's villages are a filter of
the SQL, never of the rows afterwards. :func:`api_item` drops what names or describes a person
(assignee, visitor, the visit's note) for the read API.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from cockpit.store.waste_models import FollowUp, Household
from cockpit.waste import queries
from cockpit.waste.accuracy import Tally
from cockpit.waste.config import WasteRules
from cockpit.waste.followup_request import ACTIONABLE

#: A task's statuses, in the order of its life.
STATUSES = ("open", "assigned", "visited", "cancelled")
#: Why a household was found weak: under the threshold, or its accuracy fell.
REASONS = ("below", "falling")
#: Most tasks one board lists (open ones first).
LIMIT = 500
#: The fields of a row the read API serves (no assignee, visitor or note).
API_FIELDS = ("followup_id", "household_id", "village_code", "group", "reason", "finding",
              "status", "found_at", "due_at", "overdue", "assigned", "visited_at", "outcome",
              "before", "after", "judged")


def _iso(value: datetime | None, tz: ZoneInfo) -> str | None:
    return None if value is None else value.astimezone(tz).isoformat(timespec="seconds")


def tally_dict(tally: Tally | None) -> dict[str, Any] | None:
    """``{correct, total, rate, kg}`` of a :class:`Tally` (rate None without disposals)."""
    if tally is None:
        return None
    return {"correct": tally.correct, "total": tally.total, "rate": tally.rate,
            "kg": round(tally.kg, 3)}


def _groups(session: Session, household_ids: Sequence[str]) -> dict[str, str | None]:
    ids = sorted(set(household_ids))
    out: dict[str, str | None] = {}
    for start in range(0, len(ids), 500):
        out.update(session.execute(select(Household.household_id, Household.group_name)
                                   .where(Household.household_id.in_(ids[start:start + 500])))
                   .all())
    return out


def followup_rows(session: Session, rules: WasteRules, tz: ZoneInfo, now: datetime,
                  villages: Sequence[str] | None = None, statuses: Sequence[str] | None = None,
                  limit: int = LIMIT) -> list[dict[str, Any]]:
    """The tasks of ``villages`` (None: every village) with these ``statuses`` (None: all).

    Parameters
    ----------
    now : datetime
        Aware; a task still open or assigned past its ``due_at`` is ``overdue``.

    Returns
    -------
    list of dict
        ``followup_id, household_id, village_code, group, reason`` (below | falling),
        ``finding`` (the figures of the rule: correct, total, window_days, and for falling
        previous_correct, previous_total), ``status, found_at, due_at, overdue, assigned``
        (bool), ``assignee_id, assignee_kind, assigned_at, visited_at, outcome, note,
        visited_by``, ``before`` and ``after`` (``{correct, total, rate, kg}``; after None
        until visited) and ``judged`` (True once ``follow_up.min_after`` disposals followed
        the visit). Times are local ISO-8601. Open tasks first by due time, then the rest,
        newest first.
    """
    tasks = queries.followups(session, rules, villages, statuses, limit)
    groups = _groups(session, [t["household_id"] for t in tasks])
    rows = []
    for task in tasks:
        live = task["status"] in ACTIONABLE
        rows.append({
            "followup_id": task["followup_id"], "household_id": task["household_id"],
            "village_code": task["village_code"], "group": groups.get(task["household_id"]),
            "reason": task["reason"], "finding": dict(task["finding"] or {}),
            "status": task["status"], "found_at": _iso(task["found_at"], tz),
            "due_at": _iso(task["due_at"], tz), "overdue": live and task["due_at"] < now,
            "assigned": task["assignee_id"] is not None,
            "assignee_id": task["assignee_id"], "assignee_kind": task["assignee_kind"],
            "assigned_at": _iso(task["assigned_at"], tz),
            "visited_at": _iso(task["visited_at"], tz), "outcome": task["outcome"],
            "note": task["note"], "visited_by": task["visited_by"],
            "before": tally_dict(task["before"]), "after": tally_dict(task["after"]),
            "judged": bool(task["judged"])})
    return rows


def actionable(session: Session, villages: Sequence[str] | None = None,
               limit: int = LIMIT) -> list[dict[str, Any]]:
    """Tasks an assignment or a visit may still change (open, assigned), by due time.

    Each is ``{followup_id, household_id, village_code, status}``: the choices of the tab's
    forms, whatever the list's filters show.
    """
    query = (select(FollowUp.followup_id, FollowUp.household_id, FollowUp.village_code,
                    FollowUp.status)
             .where(FollowUp.status.in_(ACTIONABLE))
             .order_by(FollowUp.due_at, FollowUp.followup_id).limit(limit))
    if villages is not None:
        query = query.where(FollowUp.village_code.in_(list(villages)))
    return [{"followup_id": f, "household_id": h, "village_code": v, "status": s}
            for f, h, v, s in session.execute(query)]


def board(session: Session, rules: WasteRules, tz: ZoneInfo, now: datetime,
          villages: Sequence[str] | None = None,
          statuses: Sequence[str] | None = None) -> dict[str, Any]:
    """The follow-ups tab's read model: ``{items, total, overdue, actionable, min_after, target}``.

    ``items`` are :func:`followup_rows` of the filters (at most :data:`LIMIT`), ``total`` and
    ``overdue`` the counts of every task of the filters (not only those listed),
    ``actionable`` the open and assigned tasks of ``villages`` (:func:`actionable`),
    ``min_after`` the disposals after a visit its effect waits for, ``target`` the accuracy
    aimed at.
    """
    total, overdue = counts(session, now, villages, statuses)
    return {"items": followup_rows(session, rules, tz, now, villages, statuses),
            "total": total, "overdue": overdue, "actionable": actionable(session, villages),
            "min_after": rules.follow_up.min_after, "target": rules.target}


def counts(session: Session, now: datetime, villages: Sequence[str] | None = None,
           statuses: Sequence[str] | None = None) -> tuple[int, int]:
    """``(tasks, overdue tasks)`` of the filters, counted in SQL (no list limit)."""
    query = select(func.count(), func.sum(case(
        (FollowUp.status.in_(list(ACTIONABLE)) & (FollowUp.due_at < now), 1), else_=0)))
    if villages is not None:
        query = query.where(FollowUp.village_code.in_(list(villages)))
    if statuses:
        query = query.where(FollowUp.status.in_(list(statuses)))
    total, overdue = session.execute(query).one()
    return int(total or 0), int(overdue or 0)


def task_of(session: Session, followup_id: str) -> dict[str, Any] | None:
    """One task's ``followup_id, household_id, village_code, status, assignee_id, found_at``.

    None for an unknown id (an act on it is refused before anything is sent).
    """
    task = session.get(FollowUp, followup_id)
    if task is None:
        return None
    return {"followup_id": task.followup_id, "household_id": task.household_id,
            "village_code": task.village_code, "status": task.status,
            "assignee_id": task.assignee_id, "found_at": task.found_at}


def api_item(row: dict[str, Any]) -> dict[str, Any]:
    """A :func:`followup_rows` row as the read API serves it: counts, no one named.

    ``before`` and ``after`` keep ``correct, total, rate`` (not kg).
    """
    out = {k: row[k] for k in API_FIELDS}
    for side in ("before", "after"):
        if out[side] is not None:
            out[side] = {k: out[side][k] for k in ("correct", "total", "rate")}
    return out
