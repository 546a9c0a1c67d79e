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
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import redis

from cockpit.settings import Settings
from cockpit.volunteers.sim_campaigns import asian_games, campaign_signups, current_campaign
from cockpit.volunteers.sim_days import World, day_plan, live_mobilizations
from cockpit.volunteers.sim_people import DEFAULT_VOLUNTEERS, SimEvent, registry_events

log = logging.getLogger(__name__)

#: Approximate cap of the volunteers stream (XADD MAXLEN ~).
STREAM_MAXLEN = 1_000_000
#: Entries per pipelined round trip, and how often the start reports its progress.
CHUNK, PROGRESS_EVERY = 1_000, 10_000
HEARTBEAT_TTL_S, HEARTBEAT_EVERY_S = 15, 5.0
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
class SimStats:
    """What a run sent: at start (the history and what was due) and live; its anchor."""

    history: int = 0
    live: int = 0
    anchor: datetime | None = None
    stopped: bool = False
    planned: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def sent(self) -> int:
        """Entries sent in all."""
        return self.history + self.live


def _by_time(events: list[SimEvent]) -> list[SimEvent]:
    return sorted(events, key=lambda e: e.key)


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


class _Feed:
    """XADDs events in pipelined chunks and keeps the heartbeat fresh."""

    def __init__(self, r: redis.Redis, settings: Settings, info: dict, beat: bool):
        self.r, self.stream = r, settings.stream("volunteers")
        self.key, self.info, self.beating = settings.key("feed:volunteers"), info, beat
        self._next_beat = 0.0

    def send(self, events: Sequence[SimEvent], stop: threading.Event | None = None,
             progress: bool = False) -> int:
        sent = 0
        for start in range(0, len(events), CHUNK):
            if stop is not None and stop.is_set():
                break
            chunk = events[start:start + CHUNK]
            pipe = self.r.pipeline(transaction=False)
            for event in chunk:
                pipe.xadd(self.stream, event.fields, maxlen=STREAM_MAXLEN, approximate=True)
            pipe.execute()
            sent += len(chunk)
            self.info["sent"] = self.info.get("sent", 0) + len(chunk)
            if progress and (sent % PROGRESS_EVERY < len(chunk) or sent == len(events)):
                log.info("simulated volunteers: %d of %d start events sent to %s", sent,
                         len(events), self.stream)
            self.beat()
        return sent

    def beat(self) -> None:
        if self.beating and time.monotonic() >= self._next_beat:
            self.r.set(self.key, json.dumps(self.info, ensure_ascii=False), ex=HEARTBEAT_TTL_S)
            self._next_beat = time.monotonic() + HEARTBEAT_EVERY_S

    def close(self) -> None:
        if self.beating:
            try:
                self.r.delete(self.key)
            except redis.RedisError:
                log.warning("could not delete the heartbeat key %s; it expires in %d s",
                            self.key, HEARTBEAT_TTL_S)


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
    if config.history_days < 0:
        raise ValueError(f"history_days {config.history_days}: use 0 or more")
    tz = settings.tz
    clock = clock or (lambda: datetime.now(tz))
    stop = stop or threading.Event()
    now = (now or clock()).astimezone(tz)
    began = time.monotonic()
    world = World(config.seed, config.volunteers, tz)
    anchor = anchor_time(r, settings, world, now, keep=not once)
    today = now.date()
    plan = _by_time(opening_plan(world, anchor, today, config.history_days))
    stats = SimStats(anchor=anchor, planned=len(plan))
    stats.seconds["plan"] = time.monotonic() - began
    split = bisect.bisect_right([e.at for e in plan], now)
    log.info("simulated volunteers (seed %d, %d people, %d days back): %d events due now, "
             "planned in %.1f s; anchor %s", config.seed, config.volunteers,
             config.history_days, split, stats.seconds["plan"], anchor.isoformat())
    info = {"simulated": True, "sources": "sim:*", "seed": config.seed,
            "volunteers": config.volunteers, "started_at": now.isoformat(timespec="seconds"),
            "anchor": anchor.isoformat(timespec="seconds"), "sent": 0}
    feed = _Feed(r, settings, info, beat=not once)
    try:
        sending = time.monotonic()
        stats.history = feed.send(plan[:split], stop, progress=True)
        stats.seconds["send"] = time.monotonic() - sending
        if once or stop.is_set():
            stats.stopped = stop.is_set()
            return stats
        _live(world, anchor, plan[split:], today + timedelta(days=1), feed, stats, stop, clock)
        stats.stopped = True
        return stats
    finally:
        feed.close()


def _live(world: World, anchor: datetime, pending: list[SimEvent], planned_through: date,
          feed: _Feed, stats: SimStats, stop: threading.Event,
          clock: Callable[[], datetime]) -> None:
    """Send each pending event when due; plan one day further at each local midnight."""
    i = 0
    while not stop.is_set():
        now = clock().astimezone(world.tz)
        while now.date() + timedelta(days=1) > planned_through:
            planned_through += timedelta(days=1)
            pending = _by_time(pending[i:] + days_plan(world, anchor, planned_through,
                                                       planned_through))
            i = 0
            log.info("simulated volunteers: planned %s", planned_through.isoformat())
        j = i
        while j < len(pending) and pending[j].at <= now:
            j += 1
        if j > i:
            stats.live += feed.send(pending[i:j])
            i = j
            continue
        feed.beat()
        wait = MAX_WAIT_S
        if i < len(pending):
            wait = min(wait, (pending[i].at - now).total_seconds())
        stop.wait(max(wait, 0.01))
