"""Monthly assessment, the leaderboard and recruitment campaigns, from the stored ledger.

Every figure is a sum over ``volunteer_points`` (the ledger) or ``recruitment_signups``; a
volunteer's entries are those of all their records. Names on the leaderboard are always masked.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from cockpit.privacy import mask_name
from cockpit.store.volunteer_models import (
    Attendance,
    PointsEntry,
    SignUp,
    Volunteer,
    VolunteerRecord,
)
from cockpit.volunteers.config import VolunteerRules

_LEDGER_JOIN = and_(VolunteerRecord.platform == PointsEntry.platform,
                    VolunteerRecord.source_id == PointsEntry.source_id)


def months(session: Session) -> list[str]:
    """Months (``YYYY-MM``) with ledger entries, newest first."""
    return [m for (m,) in session.execute(select(PointsEntry.month).distinct()
                                          .order_by(PointsEntry.month.desc()))]


def monthly(session: Session, month: str, scope: Sequence[str] | None = None
            ) -> dict[str, dict[str, float]]:
    """``{volunteer: {points, verified_minutes, services}}`` of one month."""
    query = (select(VolunteerRecord.volunteer_id, PointsEntry.rule, func.sum(PointsEntry.points),
                    func.sum(PointsEntry.quantity), func.count())
             .join(VolunteerRecord, _LEDGER_JOIN)
             .where(PointsEntry.month == month)
             .group_by(VolunteerRecord.volunteer_id, PointsEntry.rule))
    if scope is not None:
        query = query.join(Volunteer, Volunteer.volunteer_id == VolunteerRecord.volunteer_id) \
            .where(Volunteer.village_code.in_(scope))
    out: dict[str, dict[str, float]] = {}
    for vid, rule, points, quantity, n in session.execute(query):
        item = out.setdefault(vid, {"points": 0, "verified_minutes": 0, "services": 0})
        item["points"] += int(points or 0)
        if rule == "verified_hours":
            item["verified_minutes"] += int(quantity or 0)
            item["services"] += int(n)
    return out


def assessment(session: Session, rules: VolunteerRules, month: str,
               scope: Sequence[str] | None = None) -> dict[str, Any]:
    """The monthly assessment of volunteers and teams.

    Returns
    -------
    dict
        ``month``; ``grades``: ``[{code, zh, en, min_points, volunteers}]`` (the last is
        ``none``: below every grade; active volunteers without entries count there);
        ``teams``: ``[{team, team_kind, members, active_members, points, verified_hours,
        points_per_member, active_share}]`` by points; ``volunteers``: how many earned points.
    """
    per = monthly(session, month, scope)
    people = session.execute(
        _scoped(select(Volunteer.volunteer_id, Volunteer.team, Volunteer.team_kind)
                .where(Volunteer.status == "active"), scope)).all()
    counts = {g.code: 0 for g in rules.assessment.grades} | {"none": 0}
    team_rows: dict[str, dict[str, Any]] = {}
    for vid, team, kind in people:
        points = per.get(vid, {}).get("points", 0)
        grade = rules.grade(int(points))
        counts[grade.code if grade else "none"] += 1
        if team:
            t = team_rows.setdefault(team, {"team": team, "team_kind": kind, "members": 0,
                                            "active_members": 0, "points": 0,
                                            "verified_minutes": 0})
            t["members"] += 1
            t["points"] += points
            t["verified_minutes"] += per.get(vid, {}).get("verified_minutes", 0)
            if points >= rules.assessment.active_min_points:
                t["active_members"] += 1
    teams = []
    for t in team_rows.values():
        minutes = t.pop("verified_minutes")
        teams.append({**t, "verified_hours": round(minutes / 60, 1),
                      "points_per_member": round(t["points"] / t["members"], 1),
                      "active_share": round(t["active_members"] / t["members"], 3)})
    teams.sort(key=lambda t: (-t["points"], t["team"]))
    grades = [{"code": g.code, "zh": g.zh, "en": g.en, "min_points": g.min_points,
               "volunteers": counts[g.code]} for g in rules.assessment.grades]
    grades.append({"code": "none", "zh": "未达标", "en": "Below", "min_points": 0,
                   "volunteers": counts["none"]})
    return {"month": month, "grades": grades, "teams": teams,
            "volunteers": sum(1 for v in per.values() if v["points"] > 0)}


def _scoped(query, scope: Sequence[str] | None):
    return query if scope is None else query.where(Volunteer.village_code.in_(scope))


def leaderboard(session: Session, rules: VolunteerRules, month: str | None = None,
                limit: int = 20, scope: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The volunteers with most points (one month, or all time), names masked for everyone.

    Each: ``rank, volunteer_id, name (masked), team, village_code, points, verified_hours,
    grade`` (the month's grade code; None for all time). Ties share a rank.
    """
    query = (select(VolunteerRecord.volunteer_id, func.sum(PointsEntry.points).label("points"),
                    func.sum(PointsEntry.quantity).filter(
                        PointsEntry.rule == "verified_hours").label("minutes"))
             .join(VolunteerRecord, _LEDGER_JOIN)
             .join(Volunteer, Volunteer.volunteer_id == VolunteerRecord.volunteer_id)
             .where(Volunteer.status == "active")
             .group_by(VolunteerRecord.volunteer_id)
             .order_by(func.sum(PointsEntry.points).desc(), VolunteerRecord.volunteer_id)
             .limit(max(1, min(limit, 200))))
    if month:
        query = query.where(PointsEntry.month == month)
    query = _scoped(query, scope)
    rows = session.execute(query).all()
    people = {v.volunteer_id: v for v in session.scalars(
        select(Volunteer).where(Volunteer.volunteer_id.in_([r[0] for r in rows])))}
    out, rank, last = [], 0, None
    for i, (vid, points, minutes) in enumerate(rows, start=1):
        if points != last:
            rank, last = i, points
        v = people[vid]
        grade = rules.grade(int(points or 0)) if month else None
        out.append({"rank": rank, "volunteer_id": vid, "name": mask_name(v.name),
                    "team": v.team, "village_code": v.village_code, "points": int(points or 0),
                    "verified_hours": round(float(minutes or 0) / 60, 1),
                    "grade": grade.code if grade else None})
    return out


def campaigns(session: Session, tz: ZoneInfo, now: datetime, days: int = 30
              ) -> list[dict[str, Any]]:
    """Recruitment campaigns with their sign-ups, newest activity first.

    Each: ``campaign_id, title, target, total, today, first_at, last_at, trend`` where trend is
    ``[{date, count}]`` per local day over the campaign's last ``days`` days with sign-ups
    (days without any are listed with 0).
    """
    rows = session.execute(
        select(SignUp.campaign_id, func.count(), func.min(SignUp.occurred_at),
               func.max(SignUp.occurred_at), func.max(SignUp.target), func.max(SignUp.campaign))
        .group_by(SignUp.campaign_id)).all()
    start_today = datetime.combine(now.astimezone(tz).date(), datetime.min.time(), tz)
    out = []
    for cid, total, first, last, target, title in rows:
        end_day = last.astimezone(tz).date()
        first_day = max(first.astimezone(tz).date(), end_day - timedelta(days=days - 1))
        lower = datetime.combine(first_day, datetime.min.time(), tz)
        per_day: dict[str, int] = {}
        for (at,) in session.execute(select(SignUp.occurred_at)
                                     .where(SignUp.campaign_id == cid,
                                            SignUp.occurred_at >= lower)):
            key = at.astimezone(tz).date().isoformat()
            per_day[key] = per_day.get(key, 0) + 1
        trend = []
        day = first_day
        while day <= end_day:
            trend.append({"date": day.isoformat(), "count": per_day.get(day.isoformat(), 0)})
            day += timedelta(days=1)
        today = session.scalar(select(func.count()).select_from(SignUp).where(
            SignUp.campaign_id == cid, SignUp.occurred_at >= start_today)) or 0
        out.append({"campaign_id": cid, "title": title, "target": target, "total": int(total),
                    "today": int(today), "first_at": first.astimezone(tz).isoformat(),
                    "last_at": last.astimezone(tz).isoformat(), "trend": trend})
    out.sort(key=lambda c: c["last_at"], reverse=True)
    return out


def attendance_summary(session: Session, since: datetime) -> dict[str, int]:
    """Attendances with check-in since ``since``: total, verified, auto-closed, flagged, open."""
    rows = session.execute(select(Attendance.verified, Attendance.auto_closed, Attendance.open,
                                  func.count())
                           .where(Attendance.checked_in_at >= since)
                           .group_by(Attendance.verified, Attendance.auto_closed,
                                     Attendance.open)).all()
    out = {"total": 0, "verified": 0, "auto_closed": 0, "open": 0, "flagged": 0}
    for verified, auto, is_open, n in rows:
        out["total"] += n
        if verified:
            out["verified"] += n
        elif auto:
            out["auto_closed"] += n
        elif is_open:
            out["open"] += n
        else:
            out["flagged"] += n
    return out
