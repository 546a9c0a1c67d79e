"""Read models of the staff map's point layers: incidents, repeat groups, volunteers, stations.

Every position is WGS-84 degrees (longitude, latitude). Every function takes ``villages``, a
viewer's scope (:attr:`cockpit.access.Viewer.villages` for staff; None: every village), and
reads nothing of other villages; :meth:`MapFilters.narrow` cuts it to the filter's village.
The incident layers read each incident's plain columns in one SELECT (no ORM objects): the map
must stay usable with 50,000 incidents (``bench/staff_map.py``).

The figures of the side panel and the choropleths are in :mod:`cockpit.mapdata.staff_panel`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import and_, case, literal_column, select
from sqlalchemy.orm import Session

from cockpit.mapdata.filters import MapFilters
from cockpit.queries import _iso
from cockpit.store.models import Incident
from cockpit.store.volunteer_models import Activity, Attendance, VolunteerRecord
from cockpit.store.waste_models import WasteStation
from cockpit.vocab import Stage
from cockpit.volunteers.config import HoursRules, VolunteerRules
from cockpit.waste.accuracy import accuracy_by, days_back
from cockpit.waste.wall_queries import WALL_DAYS

#: Stages the map shows as handled (``closed``): resolved on the spot, closed, cancelled.
HANDLED_STAGES = (Stage.RESOLVED.value, Stage.CLOSED.value, Stage.CANCELLED.value)
#: The map's incident statuses, in the order a legend lists them.
STATUSES = ("open", "overdue", "closed")
#: Decimals kept of a position: 6 decimals of a degree are about 0.1 m.
DECIMALS = 6
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def status_column(now: datetime):
    """Return the SQL expression of an incident's map status at ``now``.

    ``closed`` for the stages of :data:`HANDLED_STAGES`; ``overdue`` for any other incident
    whose current stage was due by ``now`` (``due_at <= now``); else ``open``. Computed in the
    database, so 50,000 rows bring back a short text each, not a datetime to parse.
    """
    return case((Incident.stage.in_(HANDLED_STAGES), literal_column("'closed'")),
                (Incident.due_at <= now, literal_column("'overdue'")),
                else_=literal_column("'open'"))


def incident_conditions(filters: MapFilters, tz: ZoneInfo, now: datetime,
                        villages: Sequence[str] | None = None) -> list[Any]:
    """Return the WHERE conditions of the incidents the filters and the scope let through.

    An incident is in the period when it was *reported* in the filter's window
    (:meth:`MapFilters.window`); every stage counts unless ``filters.stages`` names some.
    """
    since, until = filters.window(now, tz)
    out: list[Any] = []
    scope = filters.narrow(villages)
    if scope is not None:
        out.append(Incident.village_code.in_(scope))
    if filters.categories:
        out.append(Incident.category.in_(filters.categories))
    if filters.stages:
        out.append(Incident.stage.in_(filters.stages))
    if filters.grid:
        out.append(Incident.grid == filters.grid)
    if since is not None:
        out.append(Incident.reported_at >= since)
    if until is not None:
        out.append(Incident.reported_at < until)
    return out


def incident_points(session: Session, filters: MapFilters, tz: ZoneInfo, now: datetime,
                    villages: Sequence[str] | None = None) -> dict[str, Any]:
    """Return the incidents of the filters as columns, for clusters and the heat layer.

    Parameters
    ----------
    session : Session
        Any session; nothing is written.
    filters : MapFilters
        Categories, stages, period (by report time), village and grid.
    tz : ZoneInfo
        The cockpit's zone (the local days of the period).
    now : datetime
        Aware; the period's end and the overdue clock.
    villages : sequence of str, optional
        The viewer's scope; None: every village.

    Returns
    -------
    dict
        Columns of equal length, one entry per positioned incident, in no set order:
        ``ids`` (incident ids), ``lon``, ``lat`` (WGS-84 degrees, 6 decimals), ``status``
        (``open``, ``overdue`` or ``closed``: see :func:`status_column`), ``category``
        (code, None when not sent); ``total``: incidents matching the filters, with a
        position or not; ``unplaced``: those of them without a position (not in the
        columns). About 25 bytes a point as JSON besides its id.
    """
    query = select(Incident.incident_id, Incident.lon, Incident.lat, status_column(now),
                   Incident.category).where(*incident_conditions(filters, tz, now, villages))
    ids: list[str] = []
    lons: list[float] = []
    lats: list[float] = []
    status: list[str] = []
    category: list[str | None] = []
    total = 0
    # one pass unpacking each row: a fifth of the time of zip(*rows) over 50,000 rows
    for iid, lon, lat, state, cat in session.execute(query):
        total += 1
        if lon is None or lat is None:
            continue
        ids.append(iid)
        lons.append(lon)
        lats.append(lat)
        status.append(state)
        category.append(cat)
    return {"ids": ids, "lon": _rounded(lons), "lat": _rounded(lats), "status": status,
            "category": category, "total": total, "unplaced": total - len(ids)}


def _rounded(values: list[float]) -> list[float]:
    """``values`` to :data:`DECIMALS` decimals (vectorised: 50,000 in a few ms)."""
    return np.round(np.asarray(values, dtype=float), DECIMALS).tolist()


def repeat_groups(session: Session, filters: MapFilters, tz: ZoneInfo, now: datetime,
                  villages: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Return the repeat groups (研判) with at least two members among the filtered incidents.

    A member counts when it passes every filter and the scope (:func:`incident_conditions`):
    a group whose other members were reported before the period, or lie in another village
    than the viewer's, shows only what is left, and not at all with fewer than two.

    Returns
    -------
    list of dict
        Largest first, then latest report first: ``group`` (id of the group's earliest
        incident, :mod:`cockpit.repeats`), ``category``, ``size`` (members shown),
        ``points`` (``[[lon, lat], ...]`` of the positioned members, WGS-84 degrees, report
        order), ``village_code`` (of the earliest member shown), ``first_at`` / ``last_at``
        (reports of the members shown, ISO-8601 in ``tz``), ``incident_ids`` (report order).
    """
    query = (select(Incident.repeat_group, Incident.incident_id, Incident.category,
                    Incident.lon, Incident.lat, Incident.village_code, Incident.reported_at)
             .where(Incident.repeat_group.is_not(None),
                    *incident_conditions(filters, tz, now, villages))
             .order_by(Incident.repeat_group, Incident.reported_at, Incident.incident_id))
    members: dict[str, list] = {}
    for row in session.execute(query):
        members.setdefault(row.repeat_group, []).append(row)
    groups = [rows for rows in members.values() if len(rows) >= 2]
    # largest first, then the latest report first (a report time may be unknown)
    groups.sort(key=lambda rows: (-len(rows), -(rows[-1].reported_at or _EPOCH).timestamp(),
                                  rows[0].repeat_group))
    return [{"group": rows[0].repeat_group, "category": rows[0].category, "size": len(rows),
             "points": [[round(r.lon, DECIMALS), round(r.lat, DECIMALS)] for r in rows
                        if r.lon is not None and r.lat is not None],
             "village_code": rows[0].village_code, "first_at": _iso(rows[0].reported_at, tz),
             "last_at": _iso(rows[-1].reported_at, tz),
             "incident_ids": [r.incident_id for r in rows]} for rows in groups]


def volunteers_on_duty(session: Session, now: datetime, villages: Sequence[str] | None = None,
                       rules: VolunteerRules | None = None) -> list[dict[str, Any]]:
    """Return the activities with volunteers on duty now, and how many, per activity.

    On duty (as the wall's deployment counts it, :func:`cockpit.volunteers.queries.deployment`):
    checked in at an activity not yet over, plus the hours rules' ``autoclose_after`` grace,
    and not checked out. A person is counted once per activity however many platform records
    they checked in with; unlike the wall's village figure, a person also answering a
    mobilisation still counts here (they are at the activity).

    Parameters
    ----------
    rules : VolunteerRules, optional
        The volunteers rules (``Settings.volunteer_rules``); None: the default grace (30 min).

    Returns
    -------
    list of dict
        By activity id: ``activity_id``, ``title``, ``lon``, ``lat`` (WGS-84 degrees; None
        for an activity published without a position), ``village_code``, ``on_duty``
        (people), ``village_on_duty`` (people on duty at any activity of that village, each
        once). Activities of no village are left out when ``villages`` is given.
    """
    grace = (rules.hours if rules else HoursRules()).autoclose_after
    record = and_(VolunteerRecord.platform == Attendance.platform,
                  VolunteerRecord.source_id == Attendance.source_id)
    query = (select(Activity.activity_id, Activity.title, Activity.lon, Activity.lat,
                    Activity.village_code, Attendance.platform, Attendance.source_id,
                    VolunteerRecord.volunteer_id)
             .join(Activity, Activity.activity_id == Attendance.activity_id)
             .outerjoin(VolunteerRecord, record)
             .where(Attendance.open.is_(True), Activity.ends_at > now - grace))
    if villages is not None:
        query = query.where(Activity.village_code.in_(list(villages)))
    activities: dict[str, dict[str, Any]] = {}
    people: dict[str, set[str]] = {}
    per_village: dict[str | None, set[str]] = {}
    for aid, title, lon, lat, village, platform, source_id, vid in session.execute(query):
        person = vid or f"{platform}/{source_id}"
        activities.setdefault(aid, {"activity_id": aid, "title": title,
                                    "lon": None if lon is None else round(lon, DECIMALS),
                                    "lat": None if lat is None else round(lat, DECIMALS),
                                    "village_code": village})
        people.setdefault(aid, set()).add(person)
        per_village.setdefault(village, set()).add(person)
    return [{**activities[aid], "on_duty": len(people[aid]),
             "village_on_duty": len(per_village[activities[aid]["village_code"]])}
            for aid in sorted(activities)]


def stations(session: Session, now: datetime, tz: ZoneInfo,
             villages: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Return the waste stations with their sorting accuracy of the wall's last 7 local days.

    Counted from the stored disposals as everywhere (:func:`cockpit.waste.accuracy.accuracy_by`
    by station: ``correct`` of ``total`` rated disposals at the station, whatever household's),
    over the :data:`~cockpit.waste.wall_queries.WALL_DAYS` local days ending with ``now``'s.

    Returns
    -------
    list of dict
        By station id: ``station_id``, ``name``, ``lon``, ``lat`` (WGS-84 degrees; None when
        registered without a position), ``village_code`` (the village it serves; the scope
        is applied to it), ``status`` (``active`` or ``closed``), ``correct``, ``total``.
    """
    first, last = days_back(now.astimezone(tz).date(), WALL_DAYS)
    query = select(WasteStation.station_id, WasteStation.name, WasteStation.lon,
                   WasteStation.lat, WasteStation.village_code, WasteStation.status)
    if villages is not None:
        query = query.where(WasteStation.village_code.in_(list(villages)))
    rows = session.execute(query.order_by(WasteStation.station_id)).all()
    if not rows:
        return []
    tallies = {t.key: t for t in accuracy_by(session, "station", first, last)}
    out = []
    for sid, name, lon, lat, village, status in rows:
        tally = tallies.get(sid)
        out.append({"station_id": sid, "name": name,
                    "lon": None if lon is None else round(lon, DECIMALS),
                    "lat": None if lat is None else round(lat, DECIMALS),
                    "village_code": village, "status": status,
                    "correct": tally.correct if tally else 0,
                    "total": tally.total if tally else 0})
    return out
