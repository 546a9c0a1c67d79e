"""Read models of the leaders' tablet page (``/tablet``): KPI cards, trends, the drill-down.

Nothing here counts anew what another screen counts already. The KPI cards are the counts of
the incident list (:func:`cockpit.queries.count_incidents`, with the list's own filters, so a
card and the list it opens agree), the wall's median dispatch rule, the volunteers page's
deployment (:func:`cockpit.volunteers.queries.deployment`) and the waste accuracy rule
(:func:`cockpit.waste.accuracy.overall`). The drill-down's village figures are the staff map's
(:func:`cockpit.mapdata.staff_panel.village_metrics` and the map statuses of
:func:`cockpit.mapdata.staff_queries.status_column`, under :class:`MapFilters` of the page's
period). The trends bucket the same rows by local hour (today) or local day (7 / 30 days) of
the cockpit's zone, whatever the server's zone.

Every function takes ``scope``, a staff account's villages (None: every village), and reads
nothing of other villages.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import geopandas as gpd
from sqlalchemy import Integer, and_, case, cast, func, select
from sqlalchemy.orm import Session

from cockpit.analysis import period_bounds
from cockpit.clock import day_bounds
from cockpit.mapdata.filters import MapFilters
from cockpit.mapdata.staff_panel import overview, village_metrics
from cockpit.mapdata.staff_queries import HANDLED_STAGES, incident_conditions, status_column
from cockpit.queries import DICT_COLUMNS, count_incidents, incident_dict
from cockpit.store.models import Incident
from cockpit.store.volunteer_models import Activity, Attendance, VolunteerRecord
from cockpit.store.waste_models import WasteDisposal
from cockpit.vocab import Stage
from cockpit.volunteers.config import VolunteerRules
from cockpit.volunteers.queries import deployment
from cockpit.waste.accuracy import overall

#: The page's periods: local today by hour, the last 7 and 30 local days by day.
PERIODS = ("today", "7d", "30d")
DEFAULT_PERIOD = "today"
_DAYS = {"7d": 7, "30d": 30}
#: Open incidents listed for one village, at most (overdue first, then the newest).
ITEMS_SHOWN = 100


def bucket_bounds(period: str, now: datetime, tz: ZoneInfo) -> list[datetime]:
    """Return the bounds of the trend buckets of ``period``, as aware UTC datetimes.

    Parameters
    ----------
    period : {"today", "7d", "30d"}
        ``today``: the 24 local hours of ``now``'s local day; ``7d`` / ``30d``: the local days
        ending with ``now``'s (:func:`cockpit.analysis.period_bounds`).
    now : datetime
        Aware.
    tz : ZoneInfo
        The cockpit's zone (``Settings.tz``).

    Returns
    -------
    list of datetime
        ``n + 1`` bounds; bucket ``i`` is ``[bounds[i], bounds[i + 1])``.

    Raises
    ------
    ValueError
        For an unknown period or a naive ``now``.
    """
    if period == "today":
        start, end = day_bounds(now, tz)
        day = start.astimezone(tz).date()
        return [datetime.combine(day, time(h), tz).astimezone(UTC) for h in range(24)] + [end]
    if period not in _DAYS:
        raise ValueError(f"period {period!r}; one of {', '.join(PERIODS)}")
    return period_bounds(now, tz, _DAYS[period])


def _bucket(column, bounds: Sequence[datetime]):
    """SQL: the bucket index (0 first) of ``column`` by ``bounds`` (rows inside them only)."""
    return case(*[(column < end, i) for i, end in enumerate(bounds[1:])])


def _counts(session: Session, column, bounds: Sequence[datetime], *where) -> list[int]:
    """Rows per bucket of ``column``; grouped in a subquery (PostgreSQL groups by a column)."""
    sub = (select(_bucket(column, bounds).label("b"))
           .where(column >= bounds[0], column < bounds[-1], *where).subquery())
    out = [0] * (len(bounds) - 1)
    for index, n in session.execute(select(sub.c.b, func.count()).group_by(sub.c.b)):
        out[int(index)] = int(n)
    return out


def _median_dispatch(session: Session, start: datetime, end: datetime,
                     scope: Sequence[str] | None) -> float | None:
    """Median seconds from report to first dispatch of the scope's reports in ``[start, end)``.

    The wall's rule (:func:`cockpit.queries.summary`), limited to the scope.
    """
    query = select(Incident.reported_at, Incident.dispatched_at).where(
        Incident.reported_at >= start, Incident.reported_at < end,
        Incident.dispatched_at.is_not(None))
    if scope is not None:
        query = query.where(Incident.village_code.in_(list(scope)))
    waits = [(d - r).total_seconds() for r, d in session.execute(query) if d >= r]
    return statistics.median(waits) if waits else None


def kpis(session: Session, tz: ZoneInfo, now: datetime, rules: VolunteerRules,
         scope: Sequence[str] | None = None) -> dict[str, Any]:
    """Return the KPI cards' figures at ``now``.

    Returns
    -------
    dict
        ``today`` (incidents reported today: the list's ``?period=today``); ``open`` (not
        closed or cancelled: ``?stage=open``); ``overdue`` (open and past their stage's limit
        at ``now``: ``?stage=overdue``); ``closed_today`` (current stage closed, entered today:
        the wall's 今日办结); ``median_dispatch_s`` (seconds, None without a dispatch today);
        ``on_duty`` and ``mobilised`` (people now, the deployment's totals); ``waste_correct``
        / ``waste_total`` (rated disposals of today, of which correct; accuracy is their
        ratio, a count of disposals).
    """
    start, end = day_bounds(now, tz)
    day = start.astimezone(tz).date()
    duty = deployment(session, rules, now, scope)["totals"]
    waste = overall(session, day, day, villages=scope)
    return {"today": count_incidents(session, reported_from=start, reported_to=end,
                                     scope=scope),
            "open": count_incidents(session, stage="open", scope=scope),
            "overdue": count_incidents(session, stage="open", overdue_at=now, scope=scope),
            "closed_today": count_incidents(session, stage="closed", since=start, until=end,
                                            scope=scope),
            "median_dispatch_s": _median_dispatch(session, start, end, scope),
            "on_duty": duty["on_duty"], "mobilised": duty["mobilised"],
            "waste_correct": waste.correct, "waste_total": waste.total}


def _volunteer_buckets(session: Session, bounds: Sequence[datetime],
                       scope: Sequence[str] | None) -> tuple[list[float], list[int]]:
    """Verified hours and people checked in, per bucket of the check-in time.

    An attendance counts at its activity's village (an activity of no village only when
    ``scope`` is None); a person is counted once per bucket however many records they used.
    """
    record = and_(VolunteerRecord.platform == Attendance.platform,
                  VolunteerRecord.source_id == Attendance.source_id)
    where = [Attendance.checked_in_at >= bounds[0], Attendance.checked_in_at < bounds[-1]]
    if scope is not None:
        where.append(Activity.village_code.in_(list(scope)))
    rows = session.execute(
        select(_bucket(Attendance.checked_in_at, bounds), Attendance.platform,
               Attendance.source_id, VolunteerRecord.volunteer_id, Attendance.minutes,
               Attendance.verified)
        .join(Activity, Activity.activity_id == Attendance.activity_id)
        .outerjoin(VolunteerRecord, record).where(*where))
    minutes = [0] * (len(bounds) - 1)
    people: list[set[str]] = [set() for _ in minutes]
    for index, platform, source_id, vid, mins, verified in rows:
        people[int(index)].add(vid or f"{platform}/{source_id}")
        if verified and mins:
            minutes[int(index)] += int(mins)
    return [round(m / 60.0, 1) for m in minutes], [len(p) for p in people]


def _waste_buckets(session: Session, bounds: Sequence[datetime], tz: ZoneInfo,
                   scope: Sequence[str] | None) -> tuple[list[int], list[int]]:
    """Rated disposals and the correct ones, per bucket of ``occurred_at``.

    The accuracy rule of :mod:`cockpit.waste.accuracy`; the local-day bounds let the day
    index find the rows, the instants cut them exactly.
    """
    d = WasteDisposal
    where = [d.local_day >= bounds[0].astimezone(tz).date().isoformat(),
             d.local_day <= (bounds[-1] - timedelta(microseconds=1)).astimezone(tz).date()
             .isoformat(), d.occurred_at >= bounds[0], d.occurred_at < bounds[-1]]
    if scope is not None:
        where.append(d.village_code.in_(list(scope)))
    sub = select(_bucket(d.occurred_at, bounds).label("b"),
                 cast(d.correct, Integer).label("c")).where(*where).subquery()
    total = [0] * (len(bounds) - 1)
    correct = [0] * (len(bounds) - 1)
    for index, c, n in session.execute(select(sub.c.b, func.sum(sub.c.c), func.count())
                                       .group_by(sub.c.b)):
        total[int(index)], correct[int(index)] = int(n), int(c or 0)
    return correct, total


def trends(session: Session, tz: ZoneInfo, now: datetime, period: str,
           scope: Sequence[str] | None = None) -> dict[str, Any]:
    """Return the trend series of ``period`` (see :func:`bucket_bounds`).

    Returns
    -------
    dict
        ``period``; ``starts``: each bucket's start, ISO-8601 in ``tz``; per bucket, lists of
        equal length: ``reported`` (incidents reported in it), ``closed`` (incidents whose
        current stage, closed, was entered in it: the rule of the 今日办结 card, so today's
        buckets add up to it), ``volunteer_hours`` (verified hours of the attendances checked
        in during it, one decimal), ``volunteers`` (people who checked in), ``waste_correct``
        and ``waste_total`` (rated disposals, of which correct).
    """
    bounds = bucket_bounds(period, now, tz)
    where = [] if scope is None else [Incident.village_code.in_(list(scope))]
    hours, people = _volunteer_buckets(session, bounds, scope)
    correct, total = _waste_buckets(session, bounds, tz, scope)
    return {"period": period,
            "starts": [b.astimezone(tz).isoformat(timespec="minutes") for b in bounds[:-1]],
            "reported": _counts(session, Incident.reported_at, bounds, *where),
            "closed": _counts(session, Incident.stage_at, bounds,
                              Incident.stage == Stage.CLOSED.value, *where),
            "volunteer_hours": hours, "volunteers": people,
            "waste_correct": correct, "waste_total": total}


def villages(session: Session, tz: ZoneInfo, now: datetime, period: str,
             layer: gpd.GeoDataFrame, scope: Sequence[str] | None = None) -> dict[str, Any]:
    """Return the drill-down's first level: the subdistrict and its villages, in ``period``.

    The staff map's figures with its period filter (:class:`MapFilters`): incidents
    *reported* in the period, by map status now (``open``, ``overdue``, ``closed``, where a
    resolved incident counts as handled), and the rated disposals of the period.

    Parameters
    ----------
    layer : geopandas.GeoDataFrame
        The active village layer (:func:`cockpit.mapdata.layers.village_layer`), EPSG:4326.

    Returns
    -------
    dict
        ``totals``: :func:`cockpit.mapdata.staff_panel.overview` of the scope; ``villages``:
        in the layer's code order, each ``code``, ``name``, ``name_en``, ``incidents``,
        ``open``, ``overdue``, ``closed``, ``waste_correct``, ``waste_total``.
    """
    filters = MapFilters(period=period)
    metrics = village_metrics(session, filters, tz, now, layer, scope)
    sub = (select(Incident.village_code.label("v"), status_column(now).label("s"))
           .where(*incident_conditions(filters, tz, now, scope)).subquery())
    states: dict[str, dict[str, int]] = {}
    for code, state, n in session.execute(select(sub.c.v, sub.c.s, func.count())
                                          .group_by(sub.c.v, sub.c.s)):
        states.setdefault(code, {"open": 0, "overdue": 0, "closed": 0})[state] = int(n)
    names = {code: (name, name_en) for code, name, name_en
             in zip(layer["code"], layer["name"], layer["name_en"], strict=True)}
    rows = []
    for code, m in metrics.items():
        counts = states.get(code, {"open": 0, "overdue": 0, "closed": 0})
        rows.append({"code": code, "name": names[code][0], "name_en": names[code][1],
                     "incidents": m["incidents"], **counts,
                     "waste_correct": m["waste_correct"], "waste_total": m["waste_total"]})
    return {"totals": overview(session, filters, tz, now, scope), "villages": rows}


def village_items(session: Session, tz: ZoneInfo, now: datetime, code: str, period: str,
                  scope: Sequence[str] | None = None,
                  limit: int = ITEMS_SHOWN) -> dict[str, Any] | None:
    """Return one village's incidents still to handle, reported in ``period``.

    The incidents its village card counts as ``open`` and ``overdue`` (map statuses):
    overdue ones first, then the latest reported.

    Returns
    -------
    dict or None
        None when ``code`` is outside ``scope``. Else ``total`` (how many there are) and
        ``items`` (at most ``limit``): :func:`cockpit.queries.incident_dict` each, plus
        ``status`` (``open`` or ``overdue``). No caller's name or phone is read.
    """
    if scope is not None and code not in scope:
        return None
    filters = MapFilters(period=period, village=code)
    status = status_column(now).label("map_status")
    where = [*incident_conditions(filters, tz, now, scope),
             Incident.stage.not_in(HANDLED_STAGES)]
    total = session.scalar(select(func.count()).select_from(Incident).where(*where)) or 0
    late = case((Incident.due_at <= now, 0), else_=1)
    rows = session.execute(select(*DICT_COLUMNS, status).where(*where)
                           .order_by(late, Incident.reported_at.desc().nulls_last(),
                                     Incident.incident_id).limit(max(1, limit)))
    return {"total": int(total),
            "items": [{**incident_dict(row, tz), "status": row.map_status} for row in rows]}
