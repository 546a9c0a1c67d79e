"""One volunteer's record (sources, hours, points with their events) and the merge queue."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from cockpit.store.volunteer_models import (
    Activity,
    Attendance,
    MergeCandidate,
    Mobilization,
    MobilizationAnswer,
    PointsEntry,
    Volunteer,
    VolunteerMerge,
    VolunteerRecord,
)
from cockpit.volunteers.queries import _iso, _masked, person_dict

#: Most attendances and points entries one record page lists (newest first).
DETAIL_ROWS = 200


def _records_of(session: Session, volunteer_id: str) -> list[VolunteerRecord]:
    return list(session.scalars(select(VolunteerRecord)
                                .where(VolunteerRecord.volunteer_id == volunteer_id)
                                .order_by(VolunteerRecord.platform, VolunteerRecord.source_id)))


def _record_filter(model, records: list[VolunteerRecord]):
    return or_(*[(model.platform == r.platform) & (model.source_id == r.source_id)
                 for r in records])


def volunteer_detail(session: Session, tz: ZoneInfo, volunteer_id: str,
                     unmasked: bool = False) -> dict[str, Any] | None:
    """One volunteer: attributes, every platform record, attendances, points, answers, merges.

    A volunteer merged into another returns ``{"merged_into": id}`` only, so links lead on.
    None when unknown. Points entries carry ``basis``: the ``source/event_id`` of each event
    that earned them.
    """
    person = session.get(Volunteer, volunteer_id)
    if person is None:
        return None
    if person.status == "merged":
        return {"volunteer_id": volunteer_id, "merged_into": person.merged_into}
    records = _records_of(session, volunteer_id)
    out = person_dict(person, tz, unmasked)
    out["sources"] = []
    for r in records:
        name, phone = _masked(r.name, r.phone, unmasked)
        out["sources"].append({"platform": r.platform, "source_id": r.source_id, "name": name,
                               "phone": phone, "id_on_file": r.id_hash is not None,
                               "team": r.team, "village_code": r.village_code,
                               "status": r.status, "kept_apart": r.kept_apart,
                               "registered_at": _iso(r.registered_at, tz)})
    out["attendances"], out["points"], out["mobilizations"] = [], [], []
    if records:
        rows = session.execute(
            select(Attendance, Activity.title, Activity.starts_at, Activity.ends_at,
                   Activity.village_code)
            .outerjoin(Activity, Activity.activity_id == Attendance.activity_id)
            .where(_record_filter(Attendance, records))
            .order_by(Attendance.checked_in_at.desc().nulls_last())
            .limit(DETAIL_ROWS))
        for a, title, starts, ends, village in rows:
            out["attendances"].append({
                "activity_id": a.activity_id, "title": title, "village_code": village,
                "starts_at": _iso(starts, tz), "ends_at": _iso(ends, tz),
                "platform": a.platform, "checked_in_at": _iso(a.checked_in_at, tz),
                "checked_out_at": _iso(a.checked_out_at, tz), "minutes": a.minutes,
                "verified": a.verified, "auto_closed": a.auto_closed, "flag": a.flag,
                "rating": a.rating, "open": a.open, "basis": list(a.basis or [])})
        for p in session.scalars(select(PointsEntry).where(_record_filter(PointsEntry, records))
                                 .order_by(PointsEntry.earned_at.desc(),
                                           PointsEntry.entry_id).limit(DETAIL_ROWS)):
            out["points"].append({"rule": p.rule, "points": p.points, "quantity": p.quantity,
                                  "month": p.month, "earned_at": _iso(p.earned_at, tz),
                                  "activity_id": p.activity_id,
                                  "mobilization_id": p.mobilization_id,
                                  "basis": list(p.basis or [])})
        for ans, title, village, deadline in session.execute(
                select(MobilizationAnswer, Mobilization.title, Mobilization.village_code,
                       Mobilization.deadline)
                .join(Mobilization,
                      Mobilization.mobilization_id == MobilizationAnswer.mobilization_id)
                .where(_record_filter(MobilizationAnswer, records))
                .order_by(Mobilization.deadline.desc()).limit(DETAIL_ROWS)):
            out["mobilizations"].append({
                "mobilization_id": ans.mobilization_id, "title": title, "village_code": village,
                "deadline": _iso(deadline, tz), "asked_at": _iso(ans.asked_at, tz),
                "accepted_at": _iso(ans.accepted_at, tz),
                "declined_at": _iso(ans.declined_at, tz),
                "arrived_at": _iso(ans.arrived_at, tz)})
    totals = session.execute(
        select(PointsEntry.rule, PointsEntry.points, PointsEntry.quantity)
        .where(_record_filter(PointsEntry, records))).all() if records else []
    out["points_total"] = sum(p for _, p, _ in totals)
    out["verified_hours"] = round(sum(q for r, _, q in totals if r == "verified_hours") / 60, 1)
    out["merges"] = merges(session, tz, volunteer_id)
    return out


def merges(session: Session, tz: ZoneInfo, volunteer_id: str | None = None,
           limit: int = 100) -> list[dict[str, Any]]:
    """Logged merges (of one volunteer, or all), newest first, with the records each moved."""
    query = select(VolunteerMerge).order_by(VolunteerMerge.merged_at.desc(),
                                            VolunteerMerge.merge_id.desc())
    if volunteer_id:
        query = query.where(or_(VolunteerMerge.into_id == volunteer_id,
                                VolunteerMerge.from_id == volunteer_id))
    return [{"merge_id": m.merge_id, "into_id": m.into_id, "from_id": m.from_id,
             "records": [list(k) for k in m.records], "reason": m.reason,
             "candidate_id": m.candidate_id, "merged_at": _iso(m.merged_at, tz),
             "merged_by": m.merged_by, "undone_at": _iso(m.undone_at, tz),
             "undone_by": m.undone_by}
            for m in session.scalars(query.limit(max(1, min(limit, 1000))))]


def merge_queue(session: Session, tz: ZoneInfo, status: str = "open", limit: int = 100,
                unmasked: bool = False, scope=None) -> list[dict[str, Any]]:
    """Proposed pairs for review (oldest first), each with both volunteers and their sources.

    Each: ``candidate_id, reason (same_phone | same_phone_name), status, created_at, a, b``
    where a and b are :func:`~cockpit.volunteers.queries.person_dict` plus ``sources``.
    ``scope`` keeps pairs with at least one volunteer in those villages.
    """
    query = select(MergeCandidate).where(MergeCandidate.status == status)
    if scope is not None:  # in SQL, before the limit: a staff account sees its whole share
        in_scope = select(Volunteer.volunteer_id).where(Volunteer.village_code.in_(scope))
        query = query.where(or_(MergeCandidate.volunteer_a.in_(in_scope),
                                MergeCandidate.volunteer_b.in_(in_scope)))
    rows = session.scalars(query.order_by(MergeCandidate.created_at,
                                          MergeCandidate.candidate_id)
                           .limit(max(1, min(limit, 1000)))).all()
    ids = {c.volunteer_a for c in rows} | {c.volunteer_b for c in rows}
    people = {v.volunteer_id: v for v in session.scalars(
        select(Volunteer).where(Volunteer.volunteer_id.in_(sorted(ids))))} if ids else {}
    sources: dict[str, list[dict[str, Any]]] = {}
    if ids:
        for r in session.scalars(select(VolunteerRecord)
                                 .where(VolunteerRecord.volunteer_id.in_(sorted(ids)))
                                 .order_by(VolunteerRecord.platform)):
            name, phone = _masked(r.name, r.phone, unmasked)
            sources.setdefault(r.volunteer_id, []).append({
                "platform": r.platform, "source_id": r.source_id, "name": name,
                "phone": phone, "id_on_file": r.id_hash is not None,
                "village_code": r.village_code, "team": r.team})
    out = []
    for c in rows:
        a, b = people.get(c.volunteer_a), people.get(c.volunteer_b)
        if a is None or b is None:
            continue
        if scope is not None and a.village_code not in scope and b.village_code not in scope:
            continue
        out.append({"candidate_id": c.candidate_id, "reason": c.reason, "status": c.status,
                    "created_at": _iso(c.created_at, tz), "decided_by": c.decided_by,
                    "a": person_dict(a, tz, unmasked) | {"sources": sources.get(a.volunteer_id,
                                                                               [])},
                    "b": person_dict(b, tz, unmasked) | {"sources": sources.get(b.volunteer_id,
                                                                               [])}})
    return out
