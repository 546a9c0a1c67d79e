"""The volunteers and waste sections of a briefing (:mod:`cockpit.report`).

Hours are the verified minutes of attendances checked in during the period (the rule of
docs/volunteers.md: unverified punches earn none), counted at the activity's village;
mobilisations are those requested in the period with their funnel (people asked, accepted,
arrived) as :func:`cockpit.volunteers.mobilization.funnel_of` counts it for the volunteers
page. Waste accuracy is :func:`cockpit.waste.accuracy.accuracy_by` over the period's local
days, the same count the waste page and the wall make.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cockpit.store.volunteer_models import Activity, Attendance, Mobilization, VolunteerRecord
from cockpit.volunteers.config import VolunteerRules
from cockpit.volunteers.mobilization import answers_by_person, funnel_of
from cockpit.waste import accuracy

if TYPE_CHECKING:
    from cockpit.report import Period

#: The key of activities and mobilisations without a village code.
NO_VILLAGE = "unknown"


def volunteers_section(session: Session, rules: VolunteerRules,
                       period: Period) -> dict[str, Any]:
    """Volunteers' verified hours by village and the period's mobilisations.

    Returns
    -------
    dict
        ``attendances`` (verified attendances checked in during the period), ``people``
        (distinct volunteers among them; a record not yet joined to a person counts alone),
        ``hours`` (float, verified minutes / 60); ``by_village``: ``{village_code,
        attendances, people, hours}`` most hours first; ``mobilizations``: count, and
        ``mobilization_list``: ``{mobilization_id, title, village_code, needed, asked,
        accepted, arrived, filled}`` in request order.
    """
    rows = session.execute(
        select(Activity.village_code, Attendance.minutes,
               func.coalesce(VolunteerRecord.volunteer_id,
                             Attendance.platform + "/" + Attendance.source_id))
        .join(Activity, Activity.activity_id == Attendance.activity_id)
        .outerjoin(VolunteerRecord, (VolunteerRecord.platform == Attendance.platform)
                   & (VolunteerRecord.source_id == Attendance.source_id))
        .where(Attendance.verified.is_(True), Attendance.checked_in_at >= period.start,
               Attendance.checked_in_at < period.end)).all()
    minutes: dict[str, int] = defaultdict(int)
    count: dict[str, int] = defaultdict(int)
    people: dict[str, set[str]] = defaultdict(set)
    for village, mins, person in rows:
        key = village or NO_VILLAGE
        minutes[key] += int(mins or 0)
        count[key] += 1
        people[key].add(person)
    by_village = [{"village_code": k, "attendances": count[k], "people": len(people[k]),
                   "hours": round(minutes[k] / 60, 2)} for k in count]
    by_village.sort(key=lambda v: (-v["hours"], v["village_code"]))
    requests = session.scalars(
        select(Mobilization).where(Mobilization.requested_at >= period.start,
                                   Mobilization.requested_at < period.end)
        .order_by(Mobilization.requested_at, Mobilization.mobilization_id)).all()
    answers = answers_by_person(session, [r.mobilization_id for r in requests])
    mobs = []
    for request in requests:
        f = funnel_of(request, answers[request.mobilization_id], rules.mobilization, period.at)
        mobs.append({"mobilization_id": f.mobilization_id, "title": f.title,
                     "village_code": f.village_code or NO_VILLAGE, "needed": f.needed,
                     "asked": f.asked, "accepted": f.accepted, "arrived": f.arrived,
                     "filled": f.filled})
    return {"attendances": len(rows), "people": len({p for _, _, p in rows}),
            "hours": round(sum(minutes.values()) / 60, 2), "by_village": by_village,
            "mobilizations": len(mobs), "mobilization_list": mobs}


def waste_section(session: Session, target: float, period: Period) -> dict[str, Any]:
    """Sorting accuracy of the period's disposals by village, against ``target``.

    Returns
    -------
    dict
        ``target`` (0-1); ``overall``: ``{correct, total, rate, meets}``; ``by_village``:
        the same per ``village_code``, best rate first. ``rate`` is correct / rated
        disposals (0-1), None without disposals; ``meets`` is None then.
    """
    def row(tally: accuracy.Tally) -> dict[str, Any]:
        return {"correct": tally.correct, "total": tally.total, "rate": tally.rate,
                "meets": tally.meets(target)}

    villages = [{"village_code": t.key or NO_VILLAGE, **row(t)}
                for t in accuracy.accuracy_by(session, "village", period.first, period.last)]
    villages.sort(key=lambda v: (-(v["rate"] or 0), v["village_code"]))
    return {"target": target,
            "overall": row(accuracy.overall(session, period.first, period.last)),
            "by_village": villages}
