"""Activities, attendances and the hours and points they give.

An attendance is a record's check-ins and check-outs (打卡 / 退卡) at one activity. Its state is
a pure function of those events, the activity and the clock (:func:`fold_attendance`), so late
or repeated events and a changed activity give the same result as a tidy feed:

* checked in, no check-out, the activity not yet over (+ ``autoclose_after``): on duty;
* no check-out by then: closed automatically at the activity's end, flagged ``no_checkout``;
* both present: verified when plausible, else flagged (``early_checkin``, ``late_checkout``,
  ``too_short``, ``too_long``, ``after_end``, ``no_activity``); a check-out without a check-in
  is flagged ``no_checkin``.

Points (积分) come only from verified attendances and on-time arrivals at mobilisations
(:func:`attendance_points`); every entry names the events that earned it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cockpit.store.bulk import insert_rows, update_changed
from cockpit.store.volunteer_models import Activity, Attendance, PointsEntry, VolunteerEventRow
from cockpit.volunteers.config import VolunteerRules
from cockpit.volunteers.events import ActivityCheckedIn, ActivityCheckedOut, ActivityPublished

#: Flags of an attendance whose hours are not verified, with their zh-CN / English labels.
FLAGS: dict[str, tuple[str, str]] = {
    "on_duty": ("在岗中", "on duty"),
    "no_checkout": ("未退卡，已自动关闭", "no check-out; closed automatically"),
    "no_checkin": ("无打卡记录", "check-out without check-in"),
    "no_activity": ("活动未发布", "activity not published"),
    "early_checkin": ("打卡过早", "checked in too early"),
    "after_end": ("活动结束后打卡", "checked in after the end"),
    "late_checkout": ("退卡过晚", "checked out too late"),
    "too_short": ("时长过短", "too short"),
    "too_long": ("时长过长", "too long"),
}


def attendance_subject(activity_id: str, platform: str, source_id: str) -> str:
    """The ``volunteer_events.subject`` of one record's check-ins/outs at one activity."""
    return json.dumps(["attendance", activity_id, platform, source_id], ensure_ascii=False)


def activity_subject(activity_id: str) -> str:
    """The ``volunteer_events.subject`` of an activity's publications."""
    return json.dumps(["activity", activity_id], ensure_ascii=False)


@dataclass(frozen=True)
class Punch:
    """One check-in or check-out as stored: time, direction, rating and its event key."""

    at: datetime
    out: bool
    rating: int | None
    key: str  # "source/event_id"


@dataclass(frozen=True)
class AttendanceState:
    """What an attendance's punches amount to (see the module docstring)."""

    checked_in_at: datetime | None
    checked_out_at: datetime | None
    auto_closed: bool
    minutes: int | None
    verified: bool
    flag: str | None
    rating: int | None
    open: bool
    basis: tuple[str, ...]


def fold_attendance(punches: Sequence[Punch], activity: Activity | None,
                    rules: VolunteerRules, now: datetime) -> AttendanceState:
    """The state of one record's attendance at one activity, from all its punches.

    Parameters
    ----------
    punches : sequence of Punch
        Every stored check-in and check-out of the record at the activity, any order.
    activity : Activity or None
        The activity as published (None: not published yet).
    rules : VolunteerRules
        ``hours`` rules: plausible windows and lengths.
    now : datetime
        Aware; decides whether an open check-in is closed automatically.
    """
    h = rules.hours
    ins = sorted(p.at for p in punches if not p.out)
    in_at = ins[0] if ins else None
    outs = sorted((p for p in punches if p.out and (in_at is None or p.at > in_at)),
                  key=lambda p: (p.at, p.key))
    out = outs[-1] if outs else None
    rated = [p for p in outs if p.rating is not None]
    rating = rated[-1].rating if rated else None
    basis = tuple(sorted(p.key for p in punches))
    if in_at is None:
        return AttendanceState(None, out.at if out else None, False, None, False, "no_checkin",
                               rating, False, basis)
    if out is None:
        if activity is None:  # re-folded when the activity is published
            return AttendanceState(in_at, None, False, None, False, "no_activity", rating,
                                   False, basis)
        if now >= activity.ends_at + h.autoclose_after:
            minutes = max(0, int((activity.ends_at - in_at).total_seconds() // 60))
            return AttendanceState(in_at, activity.ends_at, True, minutes, False, "no_checkout",
                                   rating, False, basis)
        return AttendanceState(in_at, None, False, None, False, "on_duty", rating, True, basis)
    minutes = int((out.at - in_at).total_seconds() // 60)
    flag = None
    if activity is None:
        flag = "no_activity"
    elif in_at < activity.starts_at - h.early_checkin:
        flag = "early_checkin"
    elif in_at >= activity.ends_at:
        flag = "after_end"
    elif out.at > activity.ends_at + h.late_checkout:
        flag = "late_checkout"
    elif minutes < h.min_minutes:
        flag = "too_short"
    elif minutes > h.max_minutes:
        flag = "too_long"
    return AttendanceState(in_at, out.at, False, minutes, flag is None, flag, rating, False,
                           basis)


def local_month(at: datetime, tz: ZoneInfo) -> str:
    """``YYYY-MM`` of an aware time in the cockpit's zone."""
    return at.astimezone(tz).strftime("%Y-%m")


def attendance_points(activity_id: str, platform: str, source_id: str, state: AttendanceState,
                      rules: VolunteerRules, tz: ZoneInfo) -> list[dict[str, Any]]:
    """Points entries one attendance earns: none unless verified.

    ``verified_hours``: ``floor(minutes × per_verified_hour / 60)``; ``rating``: the rules'
    points for the organiser's rating (entries of 0 points are not written). Month and time are
    those of the check-in.
    """
    if not state.verified or state.minutes is None or state.checked_in_at is None:
        return []
    p = rules.points
    common = {"platform": platform, "source_id": source_id, "activity_id": activity_id,
              "mobilization_id": None, "month": local_month(state.checked_in_at, tz),
              "earned_at": state.checked_in_at, "basis": list(state.basis),
              "rules": rules.fingerprint}
    key = json.dumps([activity_id, platform, source_id], ensure_ascii=False)
    out = [{**common, "entry_id": f"hours:{key}", "rule": "verified_hours",
            "quantity": float(state.minutes),
            "points": math.floor(state.minutes * p.per_verified_hour / 60)}]
    if state.rating is not None and p.rating.get(state.rating, 0):
        out.append({**common, "entry_id": f"rating:{key}", "rule": "rating",
                    "quantity": float(state.rating), "points": p.rating[state.rating]})
    return out


def fold_activities(session: Session, events: Iterable[ActivityPublished],
                    villages: Sequence[str | None]) -> set[str]:
    """Store activities, the latest publication of each winning; returns the changed ids."""
    changed: set[str] = set()
    for event, village in zip(events, villages, strict=True):
        stamp = [event.occurred_at.isoformat(), event.event_id, event.source]
        row = session.get(Activity, event.activity_id)
        if row is not None and list(row.version) >= stamp:
            continue
        if row is None:
            row = Activity(activity_id=event.activity_id)
            session.add(row)
        row.source, row.title, row.kind, row.team = event.source, event.title, event.kind, \
            event.team
        row.place = event.place or event.address
        row.village_code, row.lon, row.lat = village, event.lon, event.lat
        row.starts_at, row.ends_at, row.needed = event.starts_at, event.ends_at, event.needed
        row.published_at, row.version = event.occurred_at, stamp
        changed.add(event.activity_id)
    session.flush()
    return changed


_ATTENDANCE_VALUES = ("checked_in_at", "checked_out_at", "auto_closed", "minutes", "verified",
                      "flag", "rating", "basis", "open")
_CHUNK = 500


def _chunks(items: Sequence, size: int = _CHUNK):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _punches(session: Session, subjects: Sequence[str]) -> dict[str, list[Punch]]:
    out: dict[str, list[Punch]] = {s: [] for s in subjects}
    for part in _chunks(list(subjects)):
        rows = session.execute(select(VolunteerEventRow.subject, VolunteerEventRow.occurred_at,
                                      VolunteerEventRow.type, VolunteerEventRow.payload,
                                      VolunteerEventRow.source, VolunteerEventRow.event_id)
                               .where(VolunteerEventRow.subject.in_(part)))
        for subject, at, kind, payload, source, event_id in rows:
            out[subject].append(Punch(at, kind == "activity.checked_out",
                                      (payload or {}).get("rating"), f"{source}/{event_id}"))
    return out


def _stored_attendances(session: Session, keys: Sequence[tuple[str, str, str]]
                        ) -> dict[tuple[str, str, str], dict[str, Any]]:
    wanted = set(keys)
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    table = Attendance.__table__
    for part in _chunks(sorted({k[0] for k in keys})):
        for row in session.execute(select(table).where(table.c.activity_id.in_(part))).mappings():
            key = (row["activity_id"], row["platform"], row["source_id"])
            if key in wanted:
                out[key] = dict(row)
    return out


def refold_attendances(session: Session, keys: Iterable[tuple[str, str, str]],
                       rules: VolunteerRules, tz: ZoneInfo, now: datetime) -> int:
    """Recompute attendances ``(activity_id, platform, source_id)`` and their points entries.

    In bulk: one read of the punches, activities and stored rows per 500 keys, one
    ``executemany`` per kind of write. Returns how many attendances changed state.
    """
    keys = sorted(set(keys))
    if not keys:
        return 0
    subjects = {k: attendance_subject(*k) for k in keys}
    punches = _punches(session, list(subjects.values()))
    activities = {a.activity_id: a for part in _chunks(sorted({k[0] for k in keys}))
                  for a in session.scalars(select(Activity)
                                           .where(Activity.activity_id.in_(part)))}
    stored = _stored_attendances(session, keys)
    inserts, updates, entries, stale = [], [], [], []
    for key in keys:
        state = fold_attendance(punches[subjects[key]], activities.get(key[0]), rules, now)
        values = {"checked_in_at": state.checked_in_at, "checked_out_at": state.checked_out_at,
                  "auto_closed": state.auto_closed, "minutes": state.minutes,
                  "verified": state.verified, "flag": state.flag, "rating": state.rating,
                  "basis": list(state.basis), "open": state.open}
        ids = {"activity_id": key[0], "platform": key[1], "source_id": key[2]}
        old = stored.get(key)
        if old is None:
            inserts.append({**ids, **values, "updated_at": now})
        elif any(old[k] != v for k, v in values.items()):
            updates.append(({**ids, **values, "updated_at": now}, old))
        entry_key = json.dumps(list(key), ensure_ascii=False)
        stale += [f"hours:{entry_key}", f"rating:{entry_key}"]
        entries += attendance_points(*key, state, rules, tz)
    conn = session.connection()
    insert_rows(conn, Attendance.__table__, inserts)
    update_changed(conn, Attendance.__table__, ("activity_id", "platform", "source_id"), updates)
    for part in _chunks(stale):
        session.execute(delete(PointsEntry).where(PointsEntry.entry_id.in_(part)))
    insert_rows(conn, PointsEntry.__table__, entries)
    return len(inserts) + len(updates)


def attendance_keys(events: Iterable[ActivityCheckedIn | ActivityCheckedOut]
                    ) -> set[tuple[str, str, str]]:
    """``(activity_id, platform, source_id)`` of check-in / check-out events."""
    return {(e.activity_id, *e.record_key) for e in events}


def keys_of_activities(session: Session, activity_ids: Iterable[str]
                       ) -> set[tuple[str, str, str]]:
    """Attendance keys stored for these activities (to re-fold after a changed publication)."""
    ids = sorted(set(activity_ids))
    out: set[tuple[str, str, str]] = set()
    for start in range(0, len(ids), 500):
        rows = session.execute(select(Attendance.activity_id, Attendance.platform,
                                      Attendance.source_id)
                               .where(Attendance.activity_id.in_(ids[start:start + 500])))
        out.update(map(tuple, rows))
    return out


def close_overdue(session: Session, rules: VolunteerRules, tz: ZoneInfo, now: datetime) -> int:
    """Close open check-ins whose activity ended ``autoclose_after`` ago; returns how many."""
    rows = session.execute(
        select(Attendance.activity_id, Attendance.platform, Attendance.source_id)
        .join(Activity, Activity.activity_id == Attendance.activity_id)
        .where(Attendance.open.is_(True),
               Activity.ends_at <= now - rules.hours.autoclose_after)).all()
    if not rows:
        return 0
    return refold_attendances(session, [tuple(r) for r in rows], rules, tz, now)
