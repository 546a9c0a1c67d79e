"""Read models of the volunteers screens: deployment by village, mobilisations, the registry.

Each function takes a :class:`~sqlalchemy.orm.Session` and returns JSON-ready data (times as
ISO-8601 with offset in the cockpit's zone). People are counted once however many platform
records they have (records reach their volunteer through ``volunteer_records``). Names and
phone numbers are masked (周**, 138****1234) unless ``unmasked=True``; the ID number is never
returned, only whether one is on file.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from cockpit.privacy import mask_name, mask_phone
from cockpit.queries import contains_pattern
from cockpit.store.volunteer_models import (
    Activity,
    Attendance,
    Mobilization,
    MobilizationAnswer,
    PointsEntry,
    Volunteer,
    VolunteerRecord,
)
from cockpit.volunteers.config import VolunteerRules
from cockpit.volunteers.mobilization import funnels

MAX_LIMIT = 500
_RECORD_JOIN = and_(VolunteerRecord.platform == Attendance.platform,
                    VolunteerRecord.source_id == Attendance.source_id)


def _iso(value: datetime | None, tz: ZoneInfo) -> str | None:
    return None if value is None else value.astimezone(tz).isoformat(timespec="seconds")


def _person(volunteer_id: str | None, platform: str, source_id: str) -> str:
    return volunteer_id or f"{platform}/{source_id}"


def _masked(name: str | None, phone: str | None, unmasked: bool) -> tuple[str | None, str | None]:
    return (name, phone) if unmasked else (mask_name(name), mask_phone(phone))


def is_simulated(source: str | None) -> bool:
    """Whether a producer is the demo's simulator (source ``sim:...``)."""
    return bool(source) and source.startswith("sim:")


def deployment(session: Session, rules: VolunteerRules, now: datetime,
               scope: Sequence[str] | None = None) -> dict[str, Any]:
    """Volunteers per village now: registered, active, mobilised, on duty, available.

    * mobilised: accepted or arrived for a mobilisation on show, counted at its village;
    * on duty: checked in at an activity not yet over (+ the auto-close grace), not checked
      out, counted at the activity's village (else their home village); a mobilised person is
      not counted again;
    * available: active volunteers of the home village neither mobilised nor on duty.

    Returns ``{"villages": [{village_code, registered, active, mobilised, on_duty,
    available}], "totals": {...}, "simulated": bool}``; ``scope`` limits the villages.
    """
    show_since = now - rules.mobilization.show_after_deadline
    mobilised: dict[str, str | None] = {}
    rows = session.execute(
        select(MobilizationAnswer.platform, MobilizationAnswer.source_id,
               VolunteerRecord.volunteer_id, Mobilization.village_code)
        .join(Mobilization, Mobilization.mobilization_id == MobilizationAnswer.mobilization_id)
        .outerjoin(VolunteerRecord, and_(
            VolunteerRecord.platform == MobilizationAnswer.platform,
            VolunteerRecord.source_id == MobilizationAnswer.source_id))
        .where(Mobilization.deadline > show_since, Mobilization.requested_at <= now,
               or_(MobilizationAnswer.accepted_at.is_not(None),
                   MobilizationAnswer.arrived_at.is_not(None))))
    for platform, source_id, vid, village in rows:
        mobilised.setdefault(_person(vid, platform, source_id), village)
    on_duty: dict[str, str | None] = {}
    rows = session.execute(
        select(Attendance.platform, Attendance.source_id, VolunteerRecord.volunteer_id,
               Activity.village_code)
        .join(Activity, Activity.activity_id == Attendance.activity_id)
        .outerjoin(VolunteerRecord, _RECORD_JOIN)
        .where(Attendance.open.is_(True),
               Activity.ends_at > now - rules.hours.autoclose_after))
    for platform, source_id, vid, village in rows:
        person = _person(vid, platform, source_id)
        if person not in mobilised:
            on_duty.setdefault(person, village)
    busy = sorted(mobilised.keys() | on_duty.keys())
    home: dict[str, tuple[str | None, str]] = {}
    for start in range(0, len(busy), 500):
        home.update((vid, (village, status)) for vid, village, status in session.execute(
            select(Volunteer.volunteer_id, Volunteer.village_code, Volunteer.status)
            .where(Volunteer.volunteer_id.in_(busy[start:start + 500]))))
    for person, village in list(on_duty.items()):
        if village is None and person in home:
            on_duty[person] = home[person][0]
    table: dict[str | None, dict[str, int]] = {}

    def row(code: str | None) -> dict[str, int]:
        return table.setdefault(code, {"registered": 0, "active": 0, "mobilised": 0,
                                       "on_duty": 0, "available": 0})

    for village, status, n in session.execute(
            select(Volunteer.village_code, Volunteer.status, func.count())
            .where(Volunteer.status != "merged")
            .group_by(Volunteer.village_code, Volunteer.status)):
        r = row(village)
        r["registered"] += n
        if status == "active":
            r["active"] += n
            r["available"] += n
    for village, status in home.values():
        if status == "active":
            row(village)["available"] -= 1
    for village in mobilised.values():
        row(village)["mobilised"] += 1
    for village in on_duty.values():
        row(village)["on_duty"] += 1
    villages = [{"village_code": code, **counts} for code, counts in table.items()
                if scope is None or code in scope]
    villages.sort(key=lambda v: (v["village_code"] is None, v["village_code"] or ""))
    totals = {k: sum(v[k] for v in villages)
              for k in ("registered", "active", "mobilised", "on_duty", "available")}
    # a range on the primary key's leading column: an index probe, where LIKE 'sim:%' scans
    simulated = session.scalar(select(VolunteerRecord.platform)
                               .where(VolunteerRecord.platform >= "sim:",
                                      VolunteerRecord.platform < "sim;").limit(1))
    return {"villages": villages, "totals": totals, "simulated": simulated is not None}


def mobilization_board(session: Session, rules: VolunteerRules, tz: ZoneInfo, now: datetime,
                       scope: Sequence[str] | None = None, every: bool = False
                       ) -> list[dict[str, Any]]:
    """Funnels of the mobilisations on show (all of them with ``every``).

    Open ones by deadline, soonest first, then those past their deadline, latest first.

    Each: ``mobilization_id, title, village_code, needed, asked, accepted, declined, arrived,
    unanswered, requested_at, deadline, seconds_left, elapsed (0-1), expected, lag, filled,
    recall_count, recalled_at, simulated``.
    """
    out = []
    for funnel in funnels(session, rules.mobilization, now, open_only=not every):
        if scope is not None and funnel.village_code not in scope:
            continue
        item = funnel.as_dict()
        item["requested_at"] = _iso(funnel.requested_at, tz)
        item["deadline"] = _iso(funnel.deadline, tz)
        item["recalled_at"] = _iso(funnel.recalled_at, tz)
        item["simulated"] = is_simulated(funnel.source)
        del item["source"]
        out.append(item)
    out.sort(key=lambda f: (f["seconds_left"] < 0, f["seconds_left"] if f["seconds_left"] >= 0
                            else -f["seconds_left"]))
    return out


def unanswered(session: Session, mobilization_id: str, unmasked: bool = False
               ) -> list[dict[str, Any]]:
    """The people a mobilisation asked who have not answered, by name (masked unless allowed).

    Each: ``volunteer_id, name, phone, team, village_code, skills, platform, source_id``.
    """
    rows = session.execute(
        select(MobilizationAnswer.platform, MobilizationAnswer.source_id,
               MobilizationAnswer.asked_at, MobilizationAnswer.accepted_at,
               MobilizationAnswer.declined_at, MobilizationAnswer.arrived_at,
               VolunteerRecord.volunteer_id)
        .outerjoin(VolunteerRecord, and_(
            VolunteerRecord.platform == MobilizationAnswer.platform,
            VolunteerRecord.source_id == MobilizationAnswer.source_id))
        .where(MobilizationAnswer.mobilization_id == mobilization_id)).all()
    answered = {_person(r.volunteer_id, r.platform, r.source_id) for r in rows
                if r.accepted_at or r.declined_at or r.arrived_at}
    waiting: dict[str, Any] = {}
    for r in rows:
        person = _person(r.volunteer_id, r.platform, r.source_id)
        if r.asked_at is not None and person not in answered:
            waiting.setdefault(person, r)
    ids = [p for p in waiting if not p.count("/")]
    people = {v.volunteer_id: v for v in session.scalars(
        select(Volunteer).where(Volunteer.volunteer_id.in_(ids)))} if ids else {}
    out = []
    for person, r in sorted(waiting.items()):
        v = people.get(person)
        name, phone = _masked(v.name if v else None, v.phone if v else None, unmasked)
        out.append({"volunteer_id": v.volunteer_id if v else None, "name": name,
                    "phone": phone, "team": v.team if v else None,
                    "village_code": v.village_code if v else None,
                    "skills": list(v.skills or []) if v else [], "platform": r.platform,
                    "source_id": r.source_id})
    return out


def _person_filters(query, *, village=None, team=None, team_kind=None, status=None,
                    text=None, scope=None, personal_search=False):
    if scope is not None:
        query = query.where(Volunteer.village_code.in_(scope))
    if village:
        query = query.where(Volunteer.village_code == village)
    if team:
        query = query.where(Volunteer.team == team)
    if team_kind:
        query = query.where(Volunteer.team_kind == team_kind)
    if status:
        query = query.where(Volunteer.status == status)
    else:
        query = query.where(Volunteer.status != "merged")
    if text:
        pattern = contains_pattern(text)
        fields = [Volunteer.volunteer_id.ilike(pattern, escape="\\"),
                  Volunteer.team.ilike(pattern, escape="\\")]
        if personal_search:  # only for a role that may see names: else it would confirm them
            fields += [Volunteer.name.ilike(pattern, escape="\\"),
                       Volunteer.phone.ilike(pattern, escape="\\")]
        records = select(VolunteerRecord.volunteer_id).where(
            VolunteerRecord.source_id.ilike(pattern, escape="\\"))
        query = query.where(or_(*fields, Volunteer.volunteer_id.in_(records)))
    return query


def points_of(session: Session, volunteer_ids: Sequence[str], month: str | None = None
              ) -> dict[str, dict[str, float]]:
    """``{volunteer: {points, verified_minutes}}`` from the ledger (one month or all time)."""
    out: dict[str, dict[str, float]] = {}
    ids = list(volunteer_ids)
    for start in range(0, len(ids), 500):
        query = (select(VolunteerRecord.volunteer_id, PointsEntry.rule,
                        func.sum(PointsEntry.points), func.sum(PointsEntry.quantity))
                 .join(VolunteerRecord, and_(VolunteerRecord.platform == PointsEntry.platform,
                                             VolunteerRecord.source_id == PointsEntry.source_id))
                 .where(VolunteerRecord.volunteer_id.in_(ids[start:start + 500]))
                 .group_by(VolunteerRecord.volunteer_id, PointsEntry.rule))
        if month:
            query = query.where(PointsEntry.month == month)
        for vid, rule, points, quantity in session.execute(query):
            item = out.setdefault(vid, {"points": 0, "verified_minutes": 0})
            item["points"] += int(points or 0)
            if rule == "verified_hours":
                item["verified_minutes"] += int(quantity or 0)
    return out


def list_volunteers(session: Session, tz: ZoneInfo, *, limit: int = 50, offset: int = 0,
                    unmasked: bool = False, sort: str = "volunteer_id", **filters: Any
                    ) -> list[dict[str, Any]]:
    """A page of volunteers with their all-time points and verified hours.

    Filters: ``village, team, team_kind, status, text, scope, personal_search``. Sort by
    ``volunteer_id``, ``name``, ``village`` or ``registered_at`` (newest first).
    """
    order = {"name": (Volunteer.name,), "village": (Volunteer.village_code,),
             "registered_at": (Volunteer.registered_at.desc(),)}.get(sort, ())
    query = _person_filters(select(Volunteer), **filters).order_by(*order,
                                                                    Volunteer.volunteer_id)
    rows = session.scalars(query.limit(max(1, min(limit, MAX_LIMIT)))
                           .offset(max(0, offset))).all()
    totals = points_of(session, [v.volunteer_id for v in rows])
    platforms: dict[str, list[str]] = {}
    if rows:
        for vid, platform in session.execute(
                select(VolunteerRecord.volunteer_id, VolunteerRecord.platform)
                .where(VolunteerRecord.volunteer_id.in_([v.volunteer_id for v in rows]))
                .order_by(VolunteerRecord.platform)):
            platforms.setdefault(vid, []).append(platform)
    return [person_dict(v, tz, unmasked) | {
        "points": totals.get(v.volunteer_id, {}).get("points", 0),
        "verified_hours": round(totals.get(v.volunteer_id, {}).get("verified_minutes", 0) / 60,
                                1),
        "platforms": platforms.get(v.volunteer_id, [])} for v in rows]


def count_volunteers(session: Session, **filters: Any) -> int:
    """How many volunteers the filters of :func:`list_volunteers` select."""
    query = _person_filters(select(func.count()).select_from(Volunteer), **filters)
    return int(session.scalar(query) or 0)


def person_dict(v: Volunteer, tz: ZoneInfo, unmasked: bool = False) -> dict[str, Any]:
    """One volunteer's attributes, masked unless ``unmasked``."""
    name, phone = _masked(v.name, v.phone, unmasked)
    return {"volunteer_id": v.volunteer_id, "name": name, "phone": phone,
            "id_on_file": v.id_hash is not None, "team": v.team, "team_kind": v.team_kind,
            "skills": list(v.skills or []), "village_code": v.village_code, "grid": v.grid,
            "status": v.status, "merged_into": v.merged_into, "records": v.record_count,
            "registered_at": _iso(v.registered_at, tz), "masked": not unmasked}


def teams(session: Session) -> list[dict[str, Any]]:
    """Teams with their kind and member count (active volunteers), largest first."""
    rows = session.execute(select(Volunteer.team, Volunteer.team_kind, func.count())
                           .where(Volunteer.status == "active", Volunteer.team.is_not(None))
                           .group_by(Volunteer.team, Volunteer.team_kind))
    out = [{"team": t, "team_kind": k, "members": n} for t, k, n in rows]
    out.sort(key=lambda r: (-r["members"], r["team"]))
    return out
