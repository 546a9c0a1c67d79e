"""What each configured tile shows, from the ``metric.observed`` values stored.

:func:`tile_states` reads, per tile of a :class:`cockpit.tiles.TilesConfig`, its latest value
(of the subdistrict, or of the tile's village), the value one trend window earlier, the change
between them, the threshold state and a short series of the window for the sparkline. Each
read is a seek on the ``(module, key, occurred_at)`` index; nothing is written.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from cockpit.clock import utc_now
from cockpit.store.models import MetricObservation

if TYPE_CHECKING:
    from cockpit.tiles import Tile, TilesConfig

#: Sources of the demo's simulators (``sim:metrics``): their values are marked 模拟.
SIM_PREFIX = "sim:"
#: Points of a sparkline at most: the window in this many equal slices, the last value each.
SPARK_POINTS = 48

_M = MetricObservation
_ORDER_NEWEST = (_M.occurred_at.desc(), _M.received_at.desc(), _M.event_id.desc())


def _where(tile: Tile) -> tuple:
    village = _M.village_code.is_(None) if tile.village is None \
        else _M.village_code == tile.village
    return (_M.module == tile.module, _M.key == tile.key, village)


def _newest(session: Session, tile: Tile, until: datetime) -> Any:
    """The newest (value, unit, occurred_at, source) at or before ``until``; a correction wins."""
    return session.execute(
        select(_M.value, _M.unit, _M.occurred_at, _M.source)
        .where(*_where(tile), _M.occurred_at <= until)
        .order_by(*_ORDER_NEWEST).limit(1)).first()


def _series(session: Session, tile: Tile, start: datetime, end: datetime
            ) -> list[tuple[datetime, float]]:
    """The last value of each of :data:`SPARK_POINTS` slices of ``(start, end]``, by time.

    One statement of :data:`SPARK_POINTS` scalar subqueries, each an index seek (the newest
    value of its slice): the cost does not grow with the observations in the window. A
    point's time is the end of its slice; a slice without an observation has no point.
    """
    width = (end - start) / SPARK_POINTS
    edges = [start + i * width for i in range(SPARK_POINTS)] + [end]
    where = _where(tile)
    row = session.execute(select(*[
        select(_M.value).where(*where, _M.occurred_at > lo, _M.occurred_at <= hi)
        .order_by(*_ORDER_NEWEST).limit(1).scalar_subquery().label(f"s{i}")
        for i, (lo, hi) in enumerate(zip(edges, edges[1:], strict=False))])).one()
    return [(edges[i + 1], float(value)) for i, value in enumerate(row) if value is not None]


def tile_state(session: Session, tile: Tile, tz: ZoneInfo, now: datetime,
               series: bool = True) -> dict[str, Any]:
    """Return what one tile shows as of ``now`` (see :func:`tile_states` for the keys)."""
    window: timedelta = tile.window
    newest = _newest(session, tile, now)
    earlier = _newest(session, tile, now - window) if newest is not None else None
    value = None if newest is None else float(newest.value)
    before = None if earlier is None else float(earlier.value)
    thresholds = tile.thresholds
    points = _series(session, tile, now - window, now) if newest is not None and series else []
    return {
        "id": tile.id, "scenario": tile.scenario, "module": tile.module, "key": tile.key,
        "village": tile.village, "title": {"zh": tile.title.zh, "en": tile.title.en},
        "unit": tile.unit.zh if tile.unit is not None else (newest.unit if newest else None),
        "units": tile.unit.model_dump() if tile.unit is not None else None,
        "decimals": tile.decimals, "window_s": window.total_seconds(),
        "direction": thresholds.direction.value if thresholds else None,
        "warn": thresholds.warn if thresholds else None,
        "critical": thresholds.critical if thresholds else None,
        "value": value,
        "at": None if newest is None else newest.occurred_at.astimezone(tz).isoformat(),
        "before": before,
        "simulated": newest is not None and newest.source.startswith(SIM_PREFIX),
        "change": None if value is None or before is None else value - before,
        "state": None if value is None or thresholds is None else thresholds.state(value),
        "series": [(at.astimezone(tz).isoformat(), v) for at, v in points],
    }


def tile_states(session: Session, config: TilesConfig, tz: ZoneInfo,
                now: datetime | None = None, series: bool = True) -> list[dict[str, Any]]:
    """Return the value, change and threshold state of every configured tile.

    Parameters
    ----------
    session : Session
        Any session; nothing is written.
    config : TilesConfig
        The tiles (:func:`cockpit.tiles.load_tiles`).
    tz : ZoneInfo
        Zone of the times returned (``Settings.tz``).
    now : datetime, optional
        Aware time of the read (default: now); observations after it are not seen.
    series : bool
        Read the sparklines too (one more statement per tile); False leaves ``series``
        empty (:func:`tile_series` reads them on their own, e.g. less often).

    Returns
    -------
    list of dict
        One per tile, in the file's order: ``id``, ``scenario``, ``module``, ``key``,
        ``village`` (code or None: the subdistrict's values, those without a village),
        ``title`` (``{"zh", "en"}``), ``unit`` (the tile's in zh-CN, else the latest
        observation's as sent), ``units`` (the tile's ``{"zh", "en"}``, or None),
        ``decimals`` (int or None: automatic), ``window_s`` (the trend window, seconds),
        ``direction``, ``warn``, ``critical`` (the thresholds, or None), ``value`` (float, the
        latest observation at or before ``now``; None when none was observed: nothing is
        made up), ``at`` (ISO-8601 in ``tz``, when it was observed), ``simulated`` (True when
        that value came from a simulator: source ``sim:...``), ``before`` (the latest
        value at or before ``now - window``, or None), ``change`` (``value - before`` or
        None), ``state`` (``ok``, ``warn``, ``critical``; None without a value or without
        thresholds) and ``series`` (up to :data:`SPARK_POINTS` ``(ISO time, value)`` pairs,
        oldest first: the last value of each equal slice of the window, at the slice's end;
        a slice without an observation has no pair). At equal ``occurred_at`` the later
        arrival (a correction) wins.
    """
    now = now or utc_now()
    return [tile_state(session, tile, tz, now, series) for tile in config.tiles]


def tile_series(session: Session, config: TilesConfig, tz: ZoneInfo, now: datetime,
                ids: Collection[str] | None = None) -> dict[str, list[tuple[str, float]]]:
    """Return tiles' sparklines as of ``now``: ``{tile id: [(ISO time, value), ...]}``.

    The same points as :func:`tile_states`' ``series`` (:data:`SPARK_POINTS` slices of the
    tile's window, the last value of each, at the slice's end, oldest first), for the tiles
    of ``config`` whose id is in ``ids`` (all without it).
    """
    return {tile.id: [(at.astimezone(tz).isoformat(), v)
                      for at, v in _series(session, tile, now - tile.window, now)]
            for tile in config.tiles if ids is None or tile.id in ids}


def slice_of(tile: Tile, at: str | None) -> int | None:
    """Return which sparkline slice (of the epoch, ``window / SPARK_POINTS`` wide) ``at`` is in.

    A sparkline read earlier is still right while its tile's latest value stays in the slice
    it was read in (the caller appends that value: :func:`with_latest`).
    """
    if not at:
        return None
    width = tile.window.total_seconds() / SPARK_POINTS
    return int(datetime.fromisoformat(at).timestamp() // width)


def with_latest(points: list[tuple[str, float]], row: dict[str, Any]) -> list[tuple[str, float]]:
    """Return ``points`` (an older read of a sparkline) ending with ``row``'s latest value.

    ``row`` is a :func:`tile_states` row read now; its value is appended when it is newer
    than the last point (ISO times of one zone compare as text), so a sparkline read once
    a minute still ends at the value the tile shows.
    """
    at, value = row.get("at"), row.get("value")
    if value is None or not at or (points and points[-1][0] >= at):
        return list(points)
    return [*points, (at, value)]
