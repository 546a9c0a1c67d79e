"""Read models of the waste module: a landlord's tenants and follow-ups with their effect.

Accuracy figures come from :mod:`cockpit.waste.accuracy`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, cast, func, select
from sqlalchemy.orm import Session

from cockpit.store.waste_models import FollowUp, Household, Landlord, WasteDisposal
from cockpit.waste.accuracy import Tally, overall
from cockpit.waste.config import WasteRules

_EPSILON = timedelta(microseconds=1)


def _tallies(session: Session, household_ids: Sequence[str]) -> dict[str, Tally]:
    if not household_ids:
        return {}
    d = WasteDisposal
    rows = session.execute(
        select(d.household_id, func.sum(cast(d.correct, Integer)), func.count(),
               func.coalesce(func.sum(d.weight_kg), 0.0))
        .where(d.household_id.in_(list(household_ids))).group_by(d.household_id))
    return {h: Tally(h, int(c or 0), int(n), float(kg)) for h, c, n, kg in rows}


def landlord_view(session: Session, landlord_id: str,
                  villages: Sequence[str] | None = None) -> dict[str, Any] | None:
    """A landlord's houses and every household that lived in them, with their accuracy.

    Each household's disposals are its own, so a tenant who moved out keeps its figures and
    the next tenant starts afresh.

    Returns
    -------
    dict or None
        ``{"landlord": Landlord, "households": [{household_id, house_id, address, kind,
        moved_in_at, moved_out_at, status, correct, total, rate, kg}, ...] (by house, then
        move-in), "accuracy": Tally of all of them}``; None for an unknown landlord or one with
        no household in ``villages``.
    """
    landlord = session.get(Landlord, landlord_id)
    query = select(Household).where(Household.landlord_id == landlord_id)
    if villages is not None:
        query = query.where(Household.village_code.in_(list(villages)))
    households = session.scalars(query).all()
    if landlord is None and not households:
        return None
    if villages is not None and not households:
        return None
    tallies = _tallies(session, [h.household_id for h in households])
    rows = []
    for h in households:
        t = tallies.get(h.household_id, Tally(h.household_id))
        rows.append({"household_id": h.household_id, "house_id": h.house_id,
                     "address": h.address, "kind": h.kind, "village_code": h.village_code,
                     "group_name": h.group_name, "moved_in_at": h.moved_in_at,
                     "moved_out_at": h.moved_out_at, "status": h.status,
                     "correct": t.correct, "total": t.total, "rate": t.rate, "kg": t.kg})
    far = datetime.max.replace(tzinfo=None)
    rows.sort(key=lambda r: (r["house_id"] or "", (r["moved_in_at"].replace(tzinfo=None)
                                                    if r["moved_in_at"] else far)))
    return {"landlord": landlord, "households": rows,
            "accuracy": overall(session, landlord_id=landlord_id)
            if villages is None else Tally(
                landlord_id, sum(r["correct"] for r in rows), sum(r["total"] for r in rows),
                sum(r["kg"] for r in rows))}


def _window(session: Session, household_id: str, start: datetime, end: datetime,
            include_end: bool) -> Tally:
    d = WasteDisposal
    upper = d.occurred_at <= end if include_end else d.occurred_at < end
    correct, total, kg = session.execute(
        select(func.sum(cast(d.correct, Integer)), func.count(),
               func.coalesce(func.sum(d.weight_kg), 0.0))
        .where(d.household_id == household_id, d.occurred_at >= start, upper)).one()
    return Tally(household_id, int(correct or 0), int(total), float(kg))


def effect(session: Session, task: FollowUp, rules: WasteRules) -> tuple[Tally, Tally | None]:
    """Accuracy before and after a follow-up's visit.

    Before: the ``follow_up.before`` window up to the visit (up to the finding while not
    visited). After: disposals after the visit within ``follow_up.after``; None until the visit.
    """
    until = task.visited_at or task.found_at
    before = _window(session, task.household_id, until - rules.follow_up.before, until,
                     include_end=task.visited_at is None)
    if task.visited_at is None:
        return before, None
    after = _window(session, task.household_id, task.visited_at + _EPSILON,
                    task.visited_at + rules.follow_up.after, include_end=True)
    return before, after


def followups(session: Session, rules: WasteRules, villages: Sequence[str] | None = None,
              statuses: Sequence[str] | None = None, limit: int = 500) -> list[dict[str, Any]]:
    """Follow-up tasks, open ones first (by due time), then the rest newest first.

    Each is a dict of the task's columns plus ``before`` and ``after`` (:class:`Tally`, after
    None until visited) and ``judged`` (True once ``min_after`` disposals followed the visit).
    """
    query = select(FollowUp)
    if villages is not None:
        query = query.where(FollowUp.village_code.in_(list(villages)))
    if statuses:
        query = query.where(FollowUp.status.in_(list(statuses)))
    tasks = session.scalars(query).all()
    open_first = sorted((t for t in tasks if t.status in ("open", "assigned")),
                        key=lambda t: (t.due_at, t.followup_id))
    rest = sorted((t for t in tasks if t.status not in ("open", "assigned")),
                  key=lambda t: (t.visited_at or t.updated_at), reverse=True)
    out = []
    for task in (open_first + rest)[:limit]:
        before, after = effect(session, task, rules)
        row = {c.name: getattr(task, c.name) for c in FollowUp.__table__.columns}
        row.update(before=before, after=after,
                   judged=after is not None and after.total >= rules.follow_up.min_after)
        out.append(row)
    return out

