"""``cockpit simulate-volunteers``: a simulated volunteer feed (模拟) on ``{prefix}volunteers``.

An upstream producer like ``cockpit replay``, for the volunteers module, calibrated to the
figures of the issue: 7,400 volunteers over the 15 villages and communities, in teams, from
three platforms (:mod:`.sim_people`); daily activities with check-ins and check-outs, an
occasional mobilisation, the Asian Games campaign's 25,404 sign-ups and a current campaign
(:mod:`.sim_days`). Every source starts with ``sim:``, so the cockpit and its users can tell the
simulation from real feeds (docs/volunteers-simulated.md).

At start the history (``history_days`` back) is sent at once, in pipelined chunks; then each
event is XADDed when its time comes, never ahead of the clock, until SIGTERM. Ids come from the
seed, the size and what the event is, so a restarted simulator re-sends the same ids and the
store (idempotent on ``(source, event_id)``) keeps each event once. The mobilisations of a run
hang on its start time (the *anchor*), kept in Redis for :data:`ANCHOR_TTL_S` so that a restart
soon after continues the same ones. While it runs, ``{prefix}feed:volunteers`` holds a
heartbeat saying the feed is simulated.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import redis

from cockpit.settings import Settings
from cockpit.sim_feed import FeedStats, SimFeed, by_time, follow, run, start
from cockpit.volunteers.sim_campaigns import asian_games, campaign_signups, current_campaign
from cockpit.volunteers.sim_days import World, day_plan, live_mobilizations
from cockpit.volunteers.sim_people import DEFAULT_VOLUNTEERS, SimEvent, registry_events

log = logging.getLogger(__name__)

#: How often the start reports its progress, entries.
PROGRESS_EVERY = 10_000
#: How long a run's start time (and so its mobilisations) is kept for a restart, seconds.
ANCHOR_TTL_S = 12 * 3600
#: Longest sleep between looks at the clock and the stop event, seconds.
MAX_WAIT_S = 1.0


@dataclass(frozen=True)
class SimConfig:
    """Size, history and seed of a simulated world."""

    volunteers: int = DEFAULT_VOLUNTEERS
    history_days: int = 30
    seed: int = 7


@dataclass
class SimStats(FeedStats):
    """What a run sent: at start (the history and what was due) and live; its anchor."""

    anchor: datetime | None = None


def anchor_time(r: redis.Redis, settings: Settings, world: World, now: datetime,
                keep: bool = True) -> datetime:
    """The start time of this run, or of a live one started less than :data:`ANCHOR_TTL_S` ago.

    With ``keep`` (a live run) a new anchor is stored for later restarts; a ``--once`` run
    only reads it, so that filling a store does not use up the next live run's lockdown.
    """
    key = settings.key(f"sim:volunteers:{world.seed}.{world.size}:anchor")
    if keep:
        r.set(key, now.isoformat(), nx=True, ex=ANCHOR_TTL_S)
    try:
        anchor = datetime.fromisoformat(r.get(key) or now.isoformat())
    except ValueError:
        anchor = now
        if keep:
            r.set(key, now.isoformat(), ex=ANCHOR_TTL_S)
    return min(anchor, now).astimezone(world.tz)


def days_plan(world: World, anchor: datetime, first: date, last: date) -> list[SimEvent]:
    """Events of the local days ``first`` .. ``last``: activities, sign-ups, mobilisations.

    Each day's activities are published the evening before, so this includes events of the
    evening before ``first``; the mobilisations are those of the run started at ``anchor``
    requested within these days.
    """
    out: list[SimEvent] = []
    day = first
    while day <= last:
        out.extend(day_plan(world, day))
        out.extend(campaign_signups(world, day))
        day += timedelta(days=1)
    out.extend(live_mobilizations(world, anchor, world.midnight(first),
                                  world.midnight(last + timedelta(days=1))))
    return out


def opening_plan(world: World, anchor: datetime, today: date, history_days: int
                 ) -> list[SimEvent]:
    """Everything a run starting ``today`` plans at once.

    The registry, the Asian Games campaign, the current campaign since its start, and the days
    from ``history_days`` ago to tomorrow.
    """
    first = today - timedelta(days=history_days)
    out = registry_events(world.people, world.eid) + asian_games(world)
    day = current_campaign(world, today).start
    while day < first:
        out.extend(campaign_signups(world, day))
        day += timedelta(days=1)
    out.extend(days_plan(world, anchor, first, today + timedelta(days=1)))
    return out


def simulate(settings: Settings, r: redis.Redis, config: SimConfig = SimConfig(),
             stop: threading.Event | None = None, once: bool = False,
             now: datetime | None = None,
             clock: Callable[[], datetime] | None = None) -> SimStats:
    """Send the simulated volunteer feed to ``settings.stream("volunteers")``.

    Parameters
    ----------
    settings : Settings
        The stream, the heartbeat and anchor keys, and the local zone (days, times).
    r : redis.Redis
        A text-mode client (:func:`cockpit.streams.connect`).
    config : SimConfig
        Volunteers (7,400), days of history (30) and seed (7).
    stop : threading.Event, optional
        Set it to stop; a live run stops within :data:`MAX_WAIT_S`, the start between chunks.
    once : bool
        Send what is due at start (the history and today's events so far), then return.
    now : datetime, optional
        The start time (aware); default the clock. Two runs with the same ``now`` send the same
        entries.
    clock : callable, optional
        Returns the current aware time, for the live part; default ``datetime.now``.

    Returns
    -------
    SimStats
        Entries sent at start and live, the anchor, and whether the run was stopped.

    Raises
    ------
    redis.RedisError
        If Redis fails; the run stops (a restart re-sends the same ids).
    ValueError
        If ``config.volunteers`` < 1 or ``config.history_days`` < 0.
    """
    tz = settings.tz
    clock, stop, now = start(config.history_days, tz, clock, stop, now)
    began = time.monotonic()
    world = World(config.seed, config.volunteers, tz)
    anchor = anchor_time(r, settings, world, now, keep=not once)
    today = now.date()
    plan = by_time(opening_plan(world, anchor, today, config.history_days))
    stats = SimStats(anchor=anchor, planned=len(plan))
    stats.seconds["plan"] = time.monotonic() - began
    split = bisect.bisect_right([e.at for e in plan], now)
    log.info("simulated volunteers (seed %d, %d people, %d days back): %d events due now, "
             "planned in %.1f s; anchor %s", config.seed, config.volunteers,
             config.history_days, split, stats.seconds["plan"], anchor.isoformat())
    info = {"simulated": True, "sources": "sim:*", "seed": config.seed,
            "volunteers": config.volunteers, "started_at": now.isoformat(timespec="seconds"),
            "anchor": anchor.isoformat(timespec="seconds"), "sent": 0}
    feed = SimFeed(r, settings, "volunteers", info, beat=not once,
                   progress_every=PROGRESS_EVERY)

    def live(pending: list[SimEvent]) -> None:
        follow(feed, stats, pending, today + timedelta(days=1), tz,
               lambda day: days_plan(world, anchor, day, day), stop, clock, MAX_WAIT_S)

    run(feed, plan, split, stats, stop, once, live)
    return stats
