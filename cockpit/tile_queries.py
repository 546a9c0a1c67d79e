"""What each configured tile shows, from the ``metric.observed`` values stored.

:func:`tile_states` reads, per tile of a :class:`cockpit.tiles.TilesConfig`, its latest value
(of the subdistrict, or of the tile's village), the value one trend window earlier, the change
between them, the threshold state and a short series of the window for the sparkline. Each
read is a seek on the ``(module, key, occurred_at)`` index; nothing is written.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from cockpit.clock import utc_now
from cockpit.store.models import MetricObservation

if TYPE_CHECKING:
    from cockpit.tiles import Tile, TilesConfig

#: Points of a sparkline at most: the window in this many equal buckets, the last value each.
SPARK_POINTS = 48
#: Observations of one window read at most for a sparkline (the newest ones).
MAX_SERIES_ROWS = 20_000

_M = MetricObservation
_ORDER_NEWEST = (_M.occurred_at.desc(), _M.received_at.desc(), _M.event_id.desc())


def _where(tile: Tile) -> tuple:
    village = _M.village_code.is_(None) if tile.village is None \
        else _M.village_code == tile.village
    return (_M.module == tile.module, _M.key == tile.key, village)


def _newest(session: Session, tile: Tile, until: datetime) -> Any:
    """The newest (value, unit, occurred_at) at or before ``until``; a correction wins ties."""
    return session.execute(
        select(_M.value, _M.unit, _M.occurred_at)
        .where(*_where(tile), _M.occurred_at <= until)
        .order_by(*_ORDER_NEWEST).limit(1)).first()


def _series(session: Session, tile: Tile, start: datetime, end: datetime
            ) -> list[tuple[datetime, float]]:
    """The last value of each of :data:`SPARK_POINTS` buckets of ``(start, end]``, by time."""
    rows = session.execute(
        select(_M.occurred_at, _M.value)
        .where(*_where(tile), _M.occurred_at > start, _M.occurred_at <= end)
        .order_by(*_ORDER_NEWEST).limit(MAX_SERIES_ROWS)).all()
    width = (end - start) / SPARK_POINTS
    buckets: dict[int, tuple[datetime, float]] = {}
    for at, value in rows:  # newest first: the first seen of a bucket is its last value
        index = min(SPARK_POINTS - 1, int((at - start) / width))
        buckets.setdefault(index, (at, float(value)))
    return [buckets[i] for i in sorted(buckets)]


def tile_state(session: Session, tile: Tile, tz: ZoneInfo, now: datetime) -> dict[str, Any]:
    """Return what one tile shows as of ``now`` (see :func:`tile_states` for the keys)."""
    window: timedelta = tile.window
    newest = _newest(session, tile, now)
    earlier = _newest(session, tile, now - window) if newest is not None else None
    value = None if newest is None else float(newest.value)
    before = None if earlier is None else float(earlier.value)
    thresholds = tile.thresholds
    series = _series(session, tile, now - window, now) if newest is not None else []
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
        "change": None if value is None or before is None else value - before,
        "state": None if value is None or thresholds is None else thresholds.state(value),
        "series": [(at.astimezone(tz).isoformat(), v) for at, v in series],
    }


def tile_states(session: Session, config: TilesConfig, tz: ZoneInfo,
                now: datetime | None = None) -> list[dict[str, Any]]:
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
        made up), ``at`` (ISO-8601 in ``tz``, when it was observed), ``before`` (the latest
        value at or before ``now - window``, or None), ``change`` (``value - before`` or
        None), ``state`` (``ok``, ``warn``, ``critical``; None without a value or without
        thresholds) and ``series`` (up to :data:`SPARK_POINTS` ``(ISO time, value)`` pairs,
        oldest first: the last value of each equal slice of the window). At equal
        ``occurred_at`` the later arrival (a correction) wins.
    """
    now = now or utc_now()
    return [tile_state(session, tile, tz, now) for tile in config.tiles]
