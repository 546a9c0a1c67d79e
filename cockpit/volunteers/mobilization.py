"""Mobilisation: the centre asks for N volunteers in a village by a deadline.

``mobilization.requested`` stores the request and the volunteers asked: the ids it names, or
else every active volunteer whose home village is the village and who has one of the skills
asked for (all of them when none is asked), as the registry stands when the request is applied.
Answers (accepted, declined, arrived) are kept per record, earliest of each kind; someone who
answers without having been asked joins the asked (walk-in). Counts are of people: records of
one volunteer count once.

An arrival earns ``mobilization_on_time`` points by the deadline, ``mobilization_late`` after.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cockpit.store.bulk import insert_rows
from cockpit.store.volunteer_models import (
    Mobilization,
    MobilizationAnswer,
    PointsEntry,
    Volunteer,
    VolunteerRecord,
)
from cockpit.volunteers.config import MobilizationRules, VolunteerRules
from cockpit.volunteers.events import (
    MobilizationAccepted,
    MobilizationArrived,
    MobilizationDeclined,
    MobilizationRequested,
    MobilizationResponse,
)
from cockpit.volunteers.hours import local_month

_ANSWER_COLUMN = {
    MobilizationAccepted: "accepted_at",
    MobilizationDeclined: "declined_at",
    MobilizationArrived: "arrived_at",
}


def eligible_records(session: Session, village_code: str | None,
                     skills: Sequence[str]) -> list[tuple[str, str]]:
    """One record per active volunteer of the village with any of ``skills`` (all if none).

    The record is the volunteer's first by ``(platform, source_id)`` among its active ones.
    """
    if village_code is None:
        return []
    people = session.execute(select(Volunteer.volunteer_id, Volunteer.skills)
                             .where(Volunteer.village_code == village_code,
                                    Volunteer.status == "active")).all()
    wanted = set(skills)
    ids = [vid for vid, have in people if not wanted or wanted & set(have or [])]
    out: list[tuple[str, str]] = []
    for start in range(0, len(ids), 500):
        rows = session.execute(select(VolunteerRecord.volunteer_id, VolunteerRecord.platform,
                                      VolunteerRecord.source_id)
                               .where(VolunteerRecord.volunteer_id.in_(ids[start:start + 500]),
                                      VolunteerRecord.status == "active")
                               .order_by(VolunteerRecord.volunteer_id, VolunteerRecord.platform,
                                         VolunteerRecord.source_id))
        seen: set[str] = set()
        for vid, platform, source_id in rows:
            if vid not in seen:
                seen.add(vid)
                out.append((platform, source_id))
    return out


def fold_requests(session: Session, events: Sequence[MobilizationRequested],
                  villages: Sequence[str | None]) -> set[str]:
    """Store requests (latest wins) and, for a new one, the volunteers it asks."""
    changed: set[str] = set()
    for event, village in zip(events, villages, strict=True):
        row = session.get(Mobilization, event.mobilization_id)
        fresh = row is None
        if row is not None and (row.requested_at, row.source) > (event.occurred_at,
                                                                   event.source):
            continue
        if fresh:
            row = Mobilization(mobilization_id=event.mobilization_id, recall_count=0)
            session.add(row)
        row.source, row.title, row.place = event.source, event.title, event.place
        row.village_code, row.village_hint = village, event.village
        row.needed, row.skills = event.count, list(event.skills or ())
        row.requested_at, row.deadline = event.occurred_at, event.deadline
        session.flush()
        if fresh:
            if event.volunteer_ids:
                asked = [(event.source, vid) for vid in event.volunteer_ids]
            else:
                asked = eligible_records(session, village, row.skills)
            insert_rows(session.connection(), MobilizationAnswer.__table__, [
                {"mobilization_id": event.mobilization_id, "platform": p, "source_id": s,
                 "asked_at": event.occurred_at, "accepted_at": None, "declined_at": None,
                 "arrived_at": None, "basis": [f"{event.source}/{event.event_id}"]}
                for p, s in asked], skip_conflicts=True)
        changed.add(event.mobilization_id)
    return changed


def fold_answers(session: Session, events: Sequence[MobilizationResponse]) -> set[str]:
    """Store answers, the earliest of each kind per record; returns the mobilisations touched."""
    touched: set[str] = set()
    for event in events:
        platform, source_id = event.record_key
        key = (event.mobilization_id, platform, source_id)
        row = session.get(MobilizationAnswer, key)
        if row is None:
            row = MobilizationAnswer(mobilization_id=key[0], platform=platform,
                                     source_id=source_id, basis=[])
            session.add(row)
        column = _ANSWER_COLUMN[type(event)]
        prior = getattr(row, column)
        if prior is None or event.occurred_at < prior:
            setattr(row, column, event.occurred_at)
        row.basis = sorted({*(row.basis or []), f"{event.source}/{event.event_id}"})
        touched.add(event.mobilization_id)
    session.flush()
    return touched


def refresh_points(session: Session, mobilization_ids: Iterable[str], rules: VolunteerRules,
                   tz: ZoneInfo) -> None:
    """Rewrite the arrival points of these mobilisations from their stored answers."""
    for mid in sorted(set(mobilization_ids)):
        session.execute(delete(PointsEntry).where(PointsEntry.mobilization_id == mid))
        request = session.get(Mobilization, mid)
        if request is None:
            continue
        rows = session.scalars(select(MobilizationAnswer).where(
            MobilizationAnswer.mobilization_id == mid,
            MobilizationAnswer.arrived_at.is_not(None))).all()
        entries = []
        for answer in rows:
            on_time = answer.arrived_at <= request.deadline
            points = (rules.points.mobilization_on_time if on_time
                      else rules.points.mobilization_late)
            if not points:
                continue
            key = json.dumps([mid, answer.platform, answer.source_id], ensure_ascii=False)
            entries.append({
                "entry_id": f"mobilization:{key}", "platform": answer.platform,
                "source_id": answer.source_id, "rule": "mobilization", "quantity": 1.0,
                "points": points, "month": local_month(answer.arrived_at, tz),
                "earned_at": answer.arrived_at, "activity_id": None, "mobilization_id": mid,
                "basis": list(answer.basis), "rules": rules.fingerprint})
        if entries:
            insert_rows(session.connection(), PointsEntry.__table__, entries)


@dataclass(frozen=True)
class Funnel:
    """One mobilisation's funnel, in people, at a moment."""

    mobilization_id: str
    title: str | None
    village_code: str | None
    needed: int
    asked: int
    accepted: int
    declined: int
    arrived: int
    unanswered: int
    requested_at: datetime
    deadline: datetime
    seconds_left: float
    #: Share of the time from request to deadline gone, 0-1.
    elapsed: float
    #: Accepted (or arrived) people the schedule expects by now: needed × elapsed.
    expected: float
    lag: bool
    filled: bool
    source: str
    recall_count: int = 0
    recalled_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (times as ISO-8601)."""
        out = dict(self.__dict__)
        out["requested_at"] = self.requested_at.isoformat()
        out["deadline"] = self.deadline.isoformat()
        out["recalled_at"] = self.recalled_at.isoformat() if self.recalled_at else None
        return out


def funnel_of(request: Mobilization, people: dict[str, dict[str, bool]],
              rules: MobilizationRules, now: datetime) -> Funnel:
    """Funnel of a request from its answers grouped by person (``{person: {kind: bool}}``).

    Lag: once ``recall_after`` of the time has passed and before the deadline, the accepted
    share of ``needed`` is more than ``recall_lag`` below the share of time passed; after the
    deadline, fewer arrived than needed.
    """
    accepted = sum(1 for p in people.values() if p["accepted"] or p["arrived"])
    arrived = sum(1 for p in people.values() if p["arrived"])
    declined = sum(1 for p in people.values() if p["declined"] and not p["accepted"]
                   and not p["arrived"])
    unanswered = sum(1 for p in people.values()
                     if p["asked"] and not (p["accepted"] or p["arrived"] or p["declined"]))
    span = max((request.deadline - request.requested_at).total_seconds(), 1.0)
    elapsed = min(max((now - request.requested_at).total_seconds() / span, 0.0), 1.0)
    filled = arrived >= request.needed
    if now >= request.deadline:
        lag = not filled
    else:
        lag = (elapsed >= rules.recall_after
               and min(accepted, request.needed) / request.needed < elapsed - rules.recall_lag)
    return Funnel(request.mobilization_id, request.title, request.village_code, request.needed,
                  len(people), accepted, declined, arrived, unanswered, request.requested_at,
                  request.deadline, (request.deadline - now).total_seconds(), elapsed,
                  request.needed * elapsed, lag, filled, request.source,
                  request.recall_count or 0, request.recalled_at)


def answers_by_person(session: Session, mobilization_ids: Sequence[str]
                      ) -> dict[str, dict[str, dict[str, bool]]]:
    """``{mobilization: {person: {asked, accepted, declined, arrived}}}``.

    A record not (yet) registered counts as its own person.
    """
    out: dict[str, dict[str, dict[str, bool]]] = {m: {} for m in mobilization_ids}
    if not mobilization_ids:
        return out
    rows = session.execute(
        select(MobilizationAnswer.mobilization_id, MobilizationAnswer.platform,
               MobilizationAnswer.source_id, VolunteerRecord.volunteer_id,
               MobilizationAnswer.asked_at, MobilizationAnswer.accepted_at,
               MobilizationAnswer.declined_at, MobilizationAnswer.arrived_at)
        .outerjoin(VolunteerRecord, (VolunteerRecord.platform == MobilizationAnswer.platform)
                   & (VolunteerRecord.source_id == MobilizationAnswer.source_id))
        .where(MobilizationAnswer.mobilization_id.in_(list(mobilization_ids))))
    for mid, platform, source_id, vid, asked, acc, dec, arr in rows:
        person = vid or f"{platform}/{source_id}"
        p = out[mid].setdefault(person, {"asked": False, "accepted": False, "declined": False,
                                          "arrived": False})
        p["asked"] |= asked is not None
        p["accepted"] |= acc is not None
        p["declined"] |= dec is not None
        p["arrived"] |= arr is not None
    return out


def funnels(session: Session, rules: MobilizationRules, now: datetime,
            open_only: bool = True) -> list[Funnel]:
    """Funnels of the mobilisations on show, soonest deadline first.

    On show: requested, and the deadline less than ``show_after_deadline`` ago; every one with
    ``open_only=False``.
    """
    query = select(Mobilization).order_by(Mobilization.deadline, Mobilization.mobilization_id)
    if open_only:
        query = query.where(Mobilization.deadline > now - rules.show_after_deadline,
                            Mobilization.requested_at <= now)
    requests = session.scalars(query).all()
    people = answers_by_person(session, [r.mobilization_id for r in requests])
    return [funnel_of(r, people[r.mobilization_id], rules, now) for r in requests]
