"""Read models of the analysis screen (研判): hot villages and hours, trends per category.

A period of ``days`` days is today and the ``days - 1`` local days before it, from local
midnight to the next local midnight in the cockpit's zone ``tz`` (Asia/Shanghai), whatever the
server's own zone: the bounds are computed here with :mod:`zoneinfo` and handed to SQL as UTC
instants, so the same incidents fall on the same days on every dialect and server.

Each read model is one pass over the period's incidents (the ``reported_at`` index). Counting
runs in SQL: by village × hour since the period start (mapped to local hours of the day here)
and by category × local day (a ``CASE`` over the day bounds). Medians use ``percentile_cont``
on PostgreSQL (grouping sets: per category and over all); SQLite has no median, so there the
durations SQL computes (to the millisecond, SQLite's resolution) are read and their median
taken here. Like :mod:`cockpit.queries`, times come back as ISO-8601 in ``tz``.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Float, Integer, case, cast, func, literal_column, select, tuple_
from sqlalchemy.orm import Session

from cockpit import geo
from cockpit.clock import utc_now
from cockpit.queries import OPEN_STAGES, _iso
from cockpit.store.models import Incident
from cockpit.vocab import Category

#: Key of the matrix row of incidents without a village.
UNKNOWN_VILLAGE = "unknown"
#: Key of the series over every category.
ALL = "all"
HOURS = tuple(range(24))


def period_bounds(now: datetime, tz: ZoneInfo, days: int) -> list[datetime]:
    """Return the ``days + 1`` local midnights bounding the last ``days`` local days, in UTC.

    Parameters
    ----------
    now : datetime
        Aware; its local day (in ``tz``) is the last day of the period.
    tz : ZoneInfo
        The cockpit's zone.
    days : int
        Number of local days, at least 1.

    Returns
    -------
    list of datetime
        Aware UTC datetimes; day ``i`` of the period is ``[bounds[i], bounds[i + 1])`` (23 or
        25 hours long across a daylight-saving change).

    Raises
    ------
    ValueError
        If ``now`` is naive or ``days`` is below 1.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    first = now.astimezone(tz).date() - timedelta(days=days - 1)
    return [datetime.combine(first + timedelta(days=i), time(0), tz).astimezone(UTC)
            for i in range(days + 1)]


def _is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


#: Julian day number of 1970-01-01T00:00Z (SQLite's ``julianday``).
_UNIX_JULIAN_DAY = 2440587.5


def _ms_from(column, origin: datetime):
    """SQLite: whole milliseconds from ``origin`` to a stored time.

    ``julianday`` counts whole milliseconds internally (and rounds the microseconds of the
    stored text to them); rounding its scaled difference gives that count back exactly.
    """
    origin_jd = _UNIX_JULIAN_DAY + origin.timestamp() / 86400.0
    return cast(func.round((func.julianday(column) - origin_jd) * 86_400_000.0), Integer)


def _epoch_pg(value):
    """PostgreSQL: seconds of a timestamp since 1970 (or of an interval), double precision.

    ``date_part`` rather than ``EXTRACT``, which computes in ``numeric`` at twice the cost.
    """
    return func.date_part(literal_column("'epoch'"), value, type_=Float)


def _hour_index(session: Session, start: datetime):
    """SQL: whole hours from ``start`` (a local midnight) to ``reported_at``; rows after it."""
    if _is_sqlite(session):
        return _ms_from(Incident.reported_at, start) // 3_600_000
    return func.floor((_epoch_pg(Incident.reported_at) - start.timestamp()) / 3600.0)


def _day_index(bounds: list[datetime]):
    """SQL: the period day (0 first) ``reported_at`` falls on, by the local day bounds."""
    return case(*[(Incident.reported_at < end, i) for i, end in enumerate(bounds[1:])])


def _seconds_between(session: Session, start, end, origin: datetime):
    """SQL: seconds from ``start`` to ``end``, NULL when either is missing or ``end`` is first.

    Both times lie after ``origin``; exact to the microsecond on PostgreSQL, to the
    millisecond on SQLite.
    """
    if _is_sqlite(session):
        seconds = (_ms_from(end, origin) - _ms_from(start, origin)) / 1000.0
    else:
        seconds = _epoch_pg(end - start)
    return case((end >= start, seconds))


def _in_period(bounds: list[datetime], category: str | None) -> list:
    where = [Incident.reported_at >= bounds[0], Incident.reported_at < bounds[-1]]
    if category:
        where.append(Incident.category == category)
    return where


def _period_keys(bounds: list[datetime], tz: ZoneInfo) -> dict[str, str | None]:
    return {"since": _iso(bounds[0], tz), "until": _iso(bounds[-1], tz)}


def hot_matrix(session: Session, tz: ZoneInfo, now: datetime | None = None, days: int = 30,
               category: str | None = None) -> dict[str, Any]:
    """Return incidents reported in the last ``days`` local days by village × local hour.

    Parameters
    ----------
    session : Session
        Open session on the store.
    tz : ZoneInfo
        Zone of the days and hours (the cockpit's, not the server's).
    now : datetime, optional
        Aware; defaults to the current time. Its local day is the period's last.
    days : int
        Local days in the period (1 = today), see :func:`period_bounds`.
    category : str, optional
        Only incidents of this category code.

    Returns
    -------
    dict
        ``since``, ``until`` (ISO-8601 local midnights, ``[since, until)``); ``villages``:
        every village code of :func:`cockpit.geo.village_names` in code order, then any
        other code stored, then ``"unknown"`` when some incident has no village; ``hours``
        (0..23); ``counts``: ``len(villages)`` lists of 24 ints, ``counts[v][h]`` incidents
        of village ``v`` reported in local hour ``h``; ``total`` (sum of ``counts``).

    Raises
    ------
    ValueError
        If ``now`` is naive or ``days`` is below 1.
    """
    bounds = period_bounds(now or utc_now(), tz, days)
    hour = _hour_index(session, bounds[0])
    sub = (select(Incident.village_code.label("village"), hour.label("hour"))
           .where(*_in_period(bounds, category)).subquery())
    rows = session.execute(select(sub.c.village, sub.c.hour, func.count())
                           .group_by(sub.c.village, sub.c.hour)).all()
    span = int((bounds[-1] - bounds[0]).total_seconds() // 3600) + 1
    local_hours = [(bounds[0] + timedelta(hours=i)).astimezone(tz).hour for i in range(span)]
    counts: dict[str, list[int]] = {code: [0] * 24 for code in geo.village_names()}
    extra: dict[str, list[int]] = {}
    for village, index, n in rows:
        local_hour = local_hours[int(index)]
        key = village or UNKNOWN_VILLAGE
        row = counts.get(key) or extra.setdefault(key, [0] * 24)
        row[local_hour] += int(n)
    unknown = extra.pop(UNKNOWN_VILLAGE, None)
    counts.update(sorted(extra.items()))
    if unknown is not None:
        counts[UNKNOWN_VILLAGE] = unknown
    return {**_period_keys(bounds, tz), "villages": list(counts), "hours": list(HOURS),
            "counts": list(counts.values()), "total": sum(map(sum, counts.values()))}


#: Per (category or ALL, day index): (count, median dispatch s, median close s).
DayStats = dict[tuple[str | None, int], tuple[int, float | None, float | None]]


def _durations(session: Session, bounds: list[datetime], category: str | None):
    """The period's incidents: category, day index and seconds to dispatch and to close."""
    return (select(Incident.category.label("category"), _day_index(bounds).label("day"),
                   _seconds_between(session, Incident.reported_at, Incident.dispatched_at,
                                    bounds[0]).label("dispatch"),
                   _seconds_between(session, Incident.reported_at, Incident.closed_at,
                                    bounds[0]).label("close"))
            .where(*_in_period(bounds, category)))


def _day_stats_sql(session: Session, bounds: list[datetime], category: str | None) -> DayStats:
    """Counts and medians in one pass: grouping sets (category, day) and (day); PostgreSQL."""
    sub = _durations(session, bounds, category).subquery()
    rows = session.execute(
        select(func.grouping(sub.c.category), sub.c.category, sub.c.day, func.count(),
               func.percentile_cont(0.5).within_group(sub.c.dispatch),
               func.percentile_cont(0.5).within_group(sub.c.close))
        .group_by(func.grouping_sets(tuple_(sub.c.category, sub.c.day), tuple_(sub.c.day))))
    return {(ALL if every else cat, int(day)): (
        int(n), *(None if v is None else round(float(v), 3) for v in (dispatch, close)))
        for every, cat, day, n, dispatch, close in rows}


def _day_stats_read(session: Session, bounds: list[datetime], category: str | None) -> DayStats:
    """Counts and medians from one read of the durations SQL computes (SQLite: no median)."""
    counts: Counter[tuple[str | None, int]] = Counter()
    waits: dict[tuple[str | None, int], tuple[list[float], list[float]]] = defaultdict(
        lambda: ([], []))
    for cat, day, d, c in session.execute(_durations(session, bounds, category)):
        for key in ((cat, day), (ALL, day)):
            counts[key] += 1
            if d is not None:
                waits[key][0].append(d)
            if c is not None:
                waits[key][1].append(c)
    return {key: (n, *(None if not v else round(statistics.median(v), 3)
                       for v in waits.get(key, ([], []))))
            for key, n in counts.items()}


def trends(session: Session, tz: ZoneInfo, now: datetime | None = None, days: int = 30,
           category: str | None = None) -> dict[str, Any]:
    """Return per local day, per category: incidents reported and median handling times.

    Parameters
    ----------
    session : Session
        Open session on the store.
    tz : ZoneInfo
        Zone of the days.
    now : datetime, optional
        Aware; defaults to the current time. Its local day is the last one.
    days : int
        Local days, see :func:`period_bounds`.
    category : str, optional
        Only this category code: ``series`` then holds that category (and ``all``).

    Returns
    -------
    dict
        ``since``, ``until`` (ISO-8601 local midnights); ``days``: the ``days`` local dates
        (ISO, oldest first); ``series``: one per category of :class:`cockpit.vocab.Category`
        in vocabulary order (zeros included), then ``all`` over every incident; each has
        ``category``, ``counts`` (incidents reported per day), ``total``,
        ``median_dispatch_s`` and ``median_close_s``: per day, the median seconds from report
        to first dispatch (to first close) of the incidents reported that day, None when none
        has one; durations are rounded to the millisecond, negative ones are ignored.

    Raises
    ------
    ValueError
        If ``now`` is naive or ``days`` is below 1.
    """
    bounds = period_bounds(now or utc_now(), tz, days)
    read = _day_stats_read if _is_sqlite(session) else _day_stats_sql
    stats = read(session, bounds, category)
    codes = [c.value for c in Category if not category or c.value == category]
    series = []
    for code in [*codes, ALL]:
        per_day = [stats.get((code, i), (0, None, None)) for i in range(days)]
        counts = [day[0] for day in per_day]
        series.append({"category": code, "counts": counts, "total": sum(counts),
                       "median_dispatch_s": [day[1] for day in per_day],
                       "median_close_s": [day[2] for day in per_day]})
    return {**_period_keys(bounds, tz),
            "days": [b.astimezone(tz).date().isoformat() for b in bounds[:-1]],
            "series": series}


def hot_villages(session: Session, tz: ZoneInfo, now: datetime | None = None, days: int = 30,
                 limit: int = 5, category: str | None = None) -> list[dict[str, Any]]:
    """Return the villages with the most incidents reported in the last ``days`` local days.

    Parameters
    ----------
    session : Session
        Open session on the store.
    tz : ZoneInfo
        Zone of the days.
    now : datetime, optional
        Aware; defaults to the current time.
    days : int
        Local days, see :func:`period_bounds`.
    limit : int
        At most this many villages.
    category : str, optional
        Only incidents of this category code.

    Returns
    -------
    list of dict
        Most incidents first (ties by code), villages with none left out: ``village_code``,
        ``count``, ``open`` (of those, still open now), ``repeats`` (of those, members of a
        repeat group) and ``share`` (``count`` over every incident of the period, with or
        without a village; 0-1).

    Raises
    ------
    ValueError
        If ``now`` is naive or ``days`` is below 1.
    """
    bounds = period_bounds(now or utc_now(), tz, days)
    where = _in_period(bounds, category)
    total = session.scalar(select(func.count()).select_from(Incident).where(*where)) or 0
    n = func.count()
    rows = session.execute(
        select(Incident.village_code, n,
               func.sum(case((Incident.stage.in_(OPEN_STAGES), 1), else_=0)),
               func.sum(case((Incident.repeat_group.is_not(None), 1), else_=0)))
        .where(*where, Incident.village_code.is_not(None))
        .group_by(Incident.village_code)
        .order_by(n.desc(), Incident.village_code)
        .limit(max(1, limit))).all()
    return [{"village_code": code, "count": int(count), "open": int(n_open or 0),
             "repeats": int(n_rep or 0), "share": count / total if total else 0.0}
            for code, count, n_open, n_rep in rows]
