"""``cockpit simulate-metrics``: simulated KPIs (模拟) of the demo's scenario tiles.

An upstream producer like the volunteer and waste simulators, for the KPIs the shipped tiles
file (``cockpit/tiles.yaml``) shows: every :data:`EVERY` one ``metric.observed`` per KPI of
:data:`PROFILES` that a configured tile shows (subdistrict-wide or for its village), a daily
rhythm plus a seeded random walk around a level. A configured tile whose KPI has no profile
gets no value here: it says it has no observation yet, as it would in production. Every
source starts with ``sim:``; ids come from the seed, the KPI and the time, so a restarted run
re-sends the same ids and the store keeps each value once.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import math
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import redis

from cockpit.settings import Settings
from cockpit.sim_feed import FeedStats, SimFeed, by_time, follow, run, start
from cockpit.tiles import TilesConfig
from cockpit.volunteers.sim_people import SimEvent, make_event

log = logging.getLogger(__name__)

SOURCE = "sim:metrics"
#: One value per KPI this often.
EVERY = timedelta(minutes=15)
MAX_WAIT_S = 1.0


@dataclass(frozen=True)
class Profile:
    """How one KPI moves: level, daily swing (share of the level), noise, bounds, unit."""

    level: float
    swing: float
    noise: float
    low: float
    high: float
    unit: str
    decimals: int = 0
    #: A running count of the day (resets at midnight) rather than a level.
    daily_count: bool = False


#: The demo's KPIs by (module, key): plausible for a subdistrict of 260,000 people, simulated.
PROFILES: dict[tuple[str, str], Profile] = {
    ("economy", "enterprises_served"): Profile(38, 0.0, 0.6, 0, 120, "家"),
    ("economy", "new_entities"): Profile(11, 0.0, 0.4, 0, 60, "户"),
    ("economy", "office_vacancy"): Profile(14.5, 0.0, 0.25, 3, 40, "%", decimals=1),
    ("service", "requests_handled"): Profile(420, 0.0, 25, 0, 3000, "件", daily_count=True),
    ("service", "satisfaction"): Profile(95.6, 0.004, 0.35, 80, 100, "%", decimals=1),
    ("service", "wait_minutes"): Profile(12, 0.45, 2.0, 1, 90, "分钟"),
}
#: A village's share of a subdistrict count (15 villages, unevenly).
VILLAGE_SHARE = 0.08


@dataclass(frozen=True)
class SimSeries:
    """One KPI simulated: its profile, and the village whose values it is (None: all)."""

    module: str
    key: str
    village: str | None
    profile: Profile


def series_of(config: TilesConfig) -> list[SimSeries]:
    """The KPIs to simulate: every (module, key, village) a tile shows that has a profile."""
    seen: dict[tuple[str, str, str | None], SimSeries] = {}
    for tile in config.tiles:
        profile = PROFILES.get((tile.module, tile.key))
        if profile is not None:
            seen.setdefault((tile.module, tile.key, tile.village),
                            SimSeries(tile.module, tile.key, tile.village, profile))
    return list(seen.values())


def _rng(seed: int, *parts: object) -> random.Random:
    text = "|".join(str(p) for p in (seed, *parts))
    return random.Random(int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big"))


def day_values(series: SimSeries, day: date, midnight: datetime, seed: int) -> list[SimEvent]:
    """The events of one KPI over one local day (``midnight`` its aware start)."""
    p = series.profile
    scale = VILLAGE_SHARE if series.village and p.daily_count else 1.0
    rng = _rng(seed, series.module, series.key, series.village, day.isoformat())
    # the day's own level: a step of the walk from the day before
    level = p.level * scale * (1 + _rng(seed, series.module, series.key, day.toordinal())
                               .gauss(0, 0.08 if p.daily_count else 0.02))
    out, count, walk = [], 0.0, 0.0
    times = [midnight + i * EVERY for i in range(int(timedelta(days=1) / EVERY))]
    # a count grows in office hours (08:00-18:00), by the day's level in all
    weights = [max(0.0, math.sin(math.pi * (t.hour + t.minute / 60 - 8) / 10)) for t in times]
    total = sum(weights)
    for at, weight in zip(times, weights, strict=True):
        hour = at.hour + at.minute / 60
        if p.daily_count:
            step = level * weight / total
            count += max(0.0, rng.gauss(step, step * 0.3))
            value = count
        else:
            walk = 0.8 * walk + rng.gauss(0, p.noise)
            value = level * (1 + p.swing * math.sin(math.pi * (hour - 6) / 12)) + walk
        value = round(min(p.high, max(p.low, value)), p.decimals)
        ident = f"{SOURCE}:{seed}:{series.module}:{series.key}:{series.village or 'all'}:" \
                f"{at.isoformat(timespec='minutes')}"
        event_id = hashlib.sha256(ident.encode()).hexdigest()[:24]
        out.append(make_event("metric.observed", event_id, at, SOURCE, module=series.module,
                              key=series.key, value=f"{value:g}", unit=p.unit,
                              village=series.village))
    return out


def plan_days(all_series: list[SimSeries], first: date, last: date, tz,
              seed: int) -> list[SimEvent]:
    """Every event of ``all_series`` from local day ``first`` to ``last``, by time."""
    out: list[SimEvent] = []
    day = first
    while day <= last:
        midnight = datetime(day.year, day.month, day.day, tzinfo=tz)
        for series in all_series:
            out.extend(day_values(series, day, midnight, seed))
        day += timedelta(days=1)
    return by_time(out)


def simulate(settings: Settings, r: redis.Redis, config: TilesConfig, history_days: int = 7,
             seed: int = 7, stop: threading.Event | None = None, once: bool = False,
             now: datetime | None = None,
             clock: Callable[[], datetime] | None = None) -> FeedStats:
    """Send the simulated KPIs of ``config``'s tiles to ``settings.stream("metrics")``.

    Parameters
    ----------
    settings : Settings
        The stream, the heartbeat key and the local zone.
    r : redis.Redis
        A text-mode client (:func:`cockpit.streams.connect`).
    config : TilesConfig
        The tiles whose KPIs are simulated (those with a profile in :data:`PROFILES`).
    history_days : int
        Days of past values sent at start (7), ≥ 0.
    seed : int
        Seed of the values.
    stop : threading.Event, optional
        Set it to stop; a live run stops within :data:`MAX_WAIT_S`.
    once : bool
        Send the history and today's values so far, then return.
    now, clock : optional
        The start time (aware) and the clock of the live part; default the system clock.

    Returns
    -------
    FeedStats
        Entries sent at start and live, whether stopped.

    Raises
    ------
    redis.RedisError
        If Redis fails; a restart re-sends the same ids.
    ValueError
        If ``history_days`` < 0.
    """
    tz = settings.tz
    clock, stop, now = start(history_days, tz, clock, stop, now)
    all_series = series_of(config)
    today = now.date()
    plan = plan_days(all_series, today - timedelta(days=history_days),
                     today + timedelta(days=1), tz, seed)
    split = bisect.bisect_right([e.at for e in plan], now)
    stats = FeedStats(planned=len(plan))
    log.info("simulated metrics (seed %d, %d KPIs, %d days back): %d events due now",
             seed, len(all_series), history_days, split)
    info = {"simulated": True, "sources": "sim:*", "seed": seed, "kpis": len(all_series)}
    feed = SimFeed(r, settings, "metrics", info, beat=not once, progress_every=10_000)

    def live(pending: list) -> None:
        follow(feed, stats, pending, today + timedelta(days=1), tz,
               lambda day: plan_days(all_series, day, day, tz, seed), stop, clock, MAX_WAIT_S)

    return run(feed, plan, split, stats, stop, once, live)
