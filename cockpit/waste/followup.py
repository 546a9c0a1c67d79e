"""Weak households (薄弱户) and their follow-up tasks.

The rule (``weak`` in the waste rules) is applied to each household that got an incorrect
disposal in a batch (only a wrong disposal can make a household weak; a window sliding past
old correct ones is caught at the next wrong one), as of that household's latest disposal, so
replaying the same events opens the same tasks. A household is weak when, over ``window`` up
to then, it has at least ``min_disposals`` rated disposals and its accuracy is under
``below``; or when its accuracy fell by ``drop`` or more from one ``falling.window`` to the
next. "Under" and "fell" are judged on the upper bound of the accuracy's Wilson interval at
``confidence``, so chance in a few disposals flags nobody. A weak household gets one
follow-up, unless it has one not yet visited or one found within ``cooldown``. Moved-out
households are not flagged, and their open tasks are cancelled.

``followup.assigned`` and ``followup.visited`` events move a task on; the latest of each wins.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import NormalDist
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from cockpit.privacy import redact_digits
from cockpit.store.bulk import insert_rows
from cockpit.store.waste_models import FollowUp, Household, WasteDisposal
from cockpit.waste.config import WasteRules
from cockpit.waste.events import FollowUpAssigned, FollowUpVisited

#: Statuses of a task still to be done.
OPEN_STATUSES = ("open", "assigned")
_CHUNK = 500


@dataclass(frozen=True)
class Finding:
    """Why a household is weak: the rule that fired and its figures."""

    reason: str
    correct: int
    total: int
    window_days: float
    previous_correct: int | None = None
    previous_total: int | None = None

    def as_dict(self) -> dict:
        """JSON-ready figures for the task's ``finding``."""
        out = {"correct": self.correct, "total": self.total, "window_days": self.window_days}
        if self.previous_total is not None:
            out |= {"previous_correct": self.previous_correct,
                    "previous_total": self.previous_total}
        return out


def followup_id(household_id: str, found_at: datetime, tz: ZoneInfo) -> str:
    """``FU-<household_id>-<yyyymmdd>`` (local day of the finding)."""
    return f"FU-{household_id}-{found_at.astimezone(tz):%Y%m%d}"


def _count(rows: Sequence[tuple[datetime, bool]], start: datetime, end: datetime
           ) -> tuple[int, int]:
    picked = [ok for when, ok in rows if start < when <= end]
    return sum(picked), len(picked)


def upper_bound(correct: int, total: int, confidence: float) -> float:
    """Upper bound of the one-sided Wilson score interval of ``correct / total``.

    With ``confidence`` 0 (or no disposals) the raw rate (1.0 without disposals). Source:
    E. B. Wilson, "Probable inference ...", JASA 22 (1927); the z value from
    :class:`statistics.NormalDist`.
    """
    if total == 0:
        return 1.0
    rate = correct / total
    if confidence <= 0:
        return rate
    z = NormalDist().inv_cdf(confidence)
    z2n = z * z / total
    centre = (rate + z2n / 2) / (1 + z2n)
    half = z * math.sqrt(rate * (1 - rate) / total + z2n / (4 * total)) / (1 + z2n)
    return min(1.0, centre + half)


def judge(rows: Sequence[tuple[datetime, bool]], as_of: datetime, rules: WasteRules
          ) -> Finding | None:
    """Apply the weak rule to one household's ``(occurred_at, correct)`` disposals.

    Returns the :class:`Finding` (``below`` before ``falling``), or None when not weak.
    """
    weak = rules.weak
    correct, total = _count(rows, as_of - weak.window, as_of)
    days = weak.window.total_seconds() / 86400
    if total >= weak.min_disposals and \
            upper_bound(correct, total, weak.confidence) < weak.below:
        return Finding("below", correct, total, days)
    fall = weak.falling
    if fall is None:
        return None
    recent = _count(rows, as_of - fall.window, as_of)
    previous = _count(rows, as_of - 2 * fall.window, as_of - fall.window)
    if recent[1] < fall.min_disposals or previous[1] < fall.min_disposals:
        return None
    recent_high = upper_bound(recent[0], recent[1], weak.confidence)
    if previous[0] / previous[1] - recent_high >= fall.drop:
        return Finding("falling", recent[0], recent[1], fall.window.total_seconds() / 86400,
                       previous[0], previous[1])
    return None


def _chunks(ids: Iterable[str]) -> Iterable[list[str]]:
    ids = sorted(set(ids))
    for start in range(0, len(ids), _CHUNK):
        yield ids[start:start + _CHUNK]


def evaluate(session: Session, household_ids: Iterable[str], rules: WasteRules,
             tz: ZoneInfo, now: datetime) -> list[str]:
    """Open a follow-up for each of ``household_ids`` the weak rule finds; returns their ids."""
    span = max(rules.weak.window, 2 * rules.weak.falling.window if rules.weak.falling
               else timedelta(0))
    opened: list[dict] = []
    for chunk in _chunks(household_ids):
        active = dict(session.execute(
            select(Household.household_id, Household.village_code)
            .where(Household.household_id.in_(chunk), Household.status == "active")).all())
        if not active:
            continue
        ids = sorted(active)
        as_of = dict(session.execute(
            select(WasteDisposal.household_id, func.max(WasteDisposal.occurred_at))
            .where(WasteDisposal.household_id.in_(ids))
            .group_by(WasteDisposal.household_id)).all())
        blocked = _blocked(session, ids, as_of, rules)
        todo = [h for h in ids if h in as_of and h not in blocked]
        if not todo:
            continue
        rows: dict[str, list[tuple[datetime, bool]]] = {}
        for household, when, ok in session.execute(
                select(WasteDisposal.household_id, WasteDisposal.occurred_at,
                       WasteDisposal.correct)
                .where(WasteDisposal.household_id.in_(todo),
                       WasteDisposal.occurred_at > min(as_of[h] for h in todo) - span)):
            rows.setdefault(household, []).append((when, ok))
        for household in todo:
            finding = judge(rows.get(household, []), as_of[household], rules)
            if finding is None:
                continue
            found = as_of[household]
            opened.append({
                "followup_id": followup_id(household, found, tz), "household_id": household,
                "reason": finding.reason, "finding": finding.as_dict(), "found_at": found,
                "due_at": found + rules.follow_up.due, "status": "open",
                "village_code": active[household], "updated_at": now})
    insert_rows(session.connection(), FollowUp.__table__, opened, skip_conflicts=True)
    return [row["followup_id"] for row in opened]


def _blocked(session: Session, ids: list[str], as_of: dict[str, datetime],
             rules: WasteRules) -> set[str]:
    """Households with a task not yet visited, or one found within the cooldown."""
    out: set[str] = set()
    for household, status, found in session.execute(
            select(FollowUp.household_id, FollowUp.status, FollowUp.found_at)
            .where(FollowUp.household_id.in_(ids))):
        if status in OPEN_STATUSES:
            out.add(household)
        elif household in as_of and found > as_of[household] - rules.follow_up.cooldown:
            out.add(household)
    return out


def cancel_moved_out(session: Session, household_ids: Iterable[str], now: datetime) -> None:
    """Cancel the open tasks of households that have moved out (outcome ``moved_out``)."""
    for chunk in _chunks(household_ids):
        gone = select(Household.household_id).where(Household.household_id.in_(chunk),
                                                    Household.status == "moved_out")
        session.execute(
            update(FollowUp)
            .where(FollowUp.household_id.in_(gone), FollowUp.status.in_(OPEN_STATUSES))
            .values(status="cancelled", outcome="moved_out", updated_at=now)
            .execution_options(synchronize_session=False))


def _check(task: FollowUp, event: FollowUpAssigned | FollowUpVisited) -> None:
    """Refuse an event no field app should send; raises ValueError with the reason."""
    if event.occurred_at < task.found_at:
        raise ValueError(f"followup_id {task.followup_id!r}: {event.type} at "
                         f"{event.occurred_at.isoformat()} is before the household was found "
                         f"weak ({task.found_at.isoformat()})")
    if task.status == "cancelled" and task.visited_at is None:
        raise ValueError(f"followup_id {task.followup_id!r}: cancelled, the household moved "
                         "out; nothing more can be recorded")


def apply_followup_events(session: Session,
                          events: Sequence[FollowUpAssigned | FollowUpVisited],
                          rules: WasteRules, now: datetime) -> set[str]:
    """Apply assignments and visits to their tasks; returns the task ids changed.

    Raises
    ------
    ValueError
        When an event names a follow-up the cockpit has not opened, is dated before the
        finding, or is about a task cancelled because the household moved out (the entry is
        then dead-lettered with this reason).
    """
    ids = sorted({e.followup_id for e in events})
    rows = {r.followup_id: r for r in session.scalars(
        select(FollowUp).where(FollowUp.followup_id.in_(ids)))}
    missing = [i for i in ids if i not in rows]
    if missing:
        raise ValueError(f"followup_id {missing[0]!r}: no such follow-up (the cockpit opens "
                         "them from the weak-household rule; see /waste)")
    for event in sorted(events, key=lambda e: (e.occurred_at, e.event_id, e.source)):
        task = rows[event.followup_id]
        _check(task, event)
        if isinstance(event, FollowUpAssigned):
            if task.assigned_at is None or event.occurred_at >= task.assigned_at:
                task.assignee_id, task.assignee_kind = event.assignee_id, event.assignee_kind
                task.assigned_at = event.occurred_at
                # an assignment keeps the task's due time unless it names one: reassigning
                # must not make an overdue task look on time
                task.due_at = event.due_at or task.due_at
        elif task.visited_at is None or event.occurred_at >= task.visited_at:
            task.visited_at, task.outcome = event.occurred_at, event.outcome
            task.note, task.visited_by = redact_digits(event.note), event.by
        task.status = ("cancelled" if task.outcome == "moved_out"
                       else "visited" if task.visited_at else
                       "assigned" if task.assignee_id else "open")
        task.updated_at = now
    session.flush()
    return set(ids)
