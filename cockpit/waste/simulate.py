"""``cockpit simulate-waste``: a simulated waste-sorting feed (模拟) on ``{prefix}waste``.

An upstream producer like ``cockpit simulate-volunteers``, for the waste module, calibrated to
the figures of the issue: about 900 households in one community (新街社区) sorting about 96 %
correctly, 150-400 in each other village at 78-91 %, a few weak households everywhere
(:mod:`.sim_world`); a disposal a household a day, photographed, weighed and rated, a wrong one
naming a real item of the class found (:mod:`.sim_days`, :mod:`.sim_items`); the volunteers'
field app visiting the weak households the cockpit finds (:mod:`.sim_field`). Every source
starts with ``sim:`` (docs/waste-simulated.md).

At start the placeholder photos are written once into the photo store (:mod:`.sim_photos`) and
the history (``history_days`` back) is sent at once, in pipelined chunks; then each event is
XADDed when its time comes, never ahead of the clock, until SIGTERM. Ids come from the seed,
the size and what the event is, so a restarted simulator re-sends the same ids and the store
(idempotent on ``(source, event_id)``) keeps each event once. While it runs,
``{prefix}feed:waste`` holds a heartbeat saying the feed is simulated.
"""

from __future__ import annotations

import bisect
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import redis
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from cockpit.settings import Settings
from cockpit.volunteers.sim_people import SimEvent
from cockpit.waste.sim_days import Disposal, Visit, day_plan, disposal_event
from cockpit.waste.sim_field import field_round, keep_visits, load_visits
from cockpit.waste.sim_items import read_items
from cockpit.waste.sim_photos import write_photos
from cockpit.waste.sim_world import DEFAULT_HOUSEHOLDS, World, registry_events

log = logging.getLogger(__name__)

#: Approximate cap of the waste stream (XADD MAXLEN ~).
STREAM_MAXLEN = 1_000_000
#: Entries per pipelined round trip, and how often the start reports its progress.
CHUNK, PROGRESS_EVERY = 1_000, 20_000
HEARTBEAT_TTL_S, HEARTBEAT_EVERY_S = 15, 5.0
#: Longest sleep between looks at the clock and the stop event, seconds.
MAX_WAIT_S = 1.0
#: How often the simulated field app looks at the store's follow-ups, seconds.
FIELD_EVERY_S = 180.0

Planned = SimEvent | Disposal


@dataclass(frozen=True)
class SimConfig:
    """Size, history, seed, item list and whether the field app runs."""

    households: int = DEFAULT_HOUSEHOLDS
    history_days: int = 14
    seed: int = 7
    field_app: bool = True
    items: Path | None = None


@dataclass
class SimStats:
    """What a run sent: at start (the history) and live; photos written; visits made."""

    history: int = 0
    live: int = 0
    stopped: bool = False
    planned: int = 0
    photos: int = 0
    visits: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def sent(self) -> int:
        """Entries sent in all."""
        return self.history + self.live


def _by_time(events: list[Planned]) -> list[Planned]:
    return sorted(events, key=lambda e: e.key)


def opening_plan(world: World, today: date, history_days: int) -> list[Planned]:
    """Everything a run starting ``today`` plans at once, by time.

    The registry as it stood ``history_days`` ago, then the days from then to tomorrow.
    """
    first = today - timedelta(days=history_days)
    out: list[Planned] = list(registry_events(world, world.midnight(first)))
    day = first
    while day <= today + timedelta(days=1):
        out.extend(day_plan(world, day))
        day += timedelta(days=1)
    return _by_time(out)


def render(item: Planned, visits: Mapping[str, Visit]) -> SimEvent:
    """The stream entry of a planned item (a disposal is rated now)."""
    return disposal_event(item, visits) if isinstance(item, Disposal) else item


class _Feed:
    """XADDs entries in pipelined chunks and keeps the heartbeat fresh."""

    def __init__(self, r: redis.Redis, settings: Settings, info: dict, beat: bool):
        self.r, self.stream = r, settings.stream("waste")
        self.key, self.info, self.beating = settings.key("feed:waste"), info, beat
        self._next_beat = 0.0

    def send(self, items: Sequence[Planned], visits: Mapping[str, Visit],
             stop: threading.Event | None = None, progress: bool = False) -> int:
        sent = 0
        for start in range(0, len(items), CHUNK):
            if stop is not None and stop.is_set():
                break
            chunk = items[start:start + CHUNK]
            pipe = self.r.pipeline(transaction=False)
            for item in chunk:
                pipe.xadd(self.stream, render(item, visits).fields, maxlen=STREAM_MAXLEN,
                          approximate=True)
            pipe.execute()
            sent += len(chunk)
            self.info["sent"] = self.info.get("sent", 0) + len(chunk)
            if progress and (sent % PROGRESS_EVERY < len(chunk) or sent == len(items)):
                log.info("simulated waste: %d of %d start events sent to %s", sent, len(items),
                         self.stream)
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
             now: datetime | None = None, clock: Callable[[], datetime] | None = None,
             sessions: sessionmaker[Session] | None = None) -> SimStats:
    """Send the simulated waste-sorting feed to ``settings.stream("waste")``.

    Parameters
    ----------
    settings : Settings
        The stream, the heartbeat and visit keys, the photo store and the local zone.
    r : redis.Redis
        A text-mode client (:func:`cockpit.streams.connect`).
    config : SimConfig
        Households (4,700), days of history (14), seed (7), field app (on), item list.
    stop : threading.Event, optional
        Set it to stop; a live run stops within :data:`MAX_WAIT_S`, the start between chunks.
    once : bool
        Send what is due at start (the history and today's events so far), then return.
    now : datetime, optional
        The start time (aware); default the clock. Two runs with the same ``now`` and no visits
        in between send the same entries.
    clock : callable, optional
        Returns the current aware time, for the live part; default ``datetime.now``.
    sessions : sessionmaker, optional
        The store's sessions, for the field app (``config.field_app``) in a live run; without
        it the field app does not run.

    Returns
    -------
    SimStats
        Entries sent at start and live, photos written, visits made, whether stopped.

    Raises
    ------
    cockpit.waste.sim_items.ItemListError
        If the item list is missing or unusable (the message names the path).
    OSError
        If the photo store cannot be written.
    redis.RedisError
        If Redis fails; the run stops (a restart re-sends the same ids).
    ValueError
        If ``config.households`` < 15 or ``config.history_days`` < 0.
    """
    if config.history_days < 0:
        raise ValueError(f"history_days {config.history_days}: use 0 or more")
    tz = settings.tz
    clock = clock or (lambda: datetime.now(tz))
    stop = stop or threading.Event()
    now = (now or clock()).astimezone(tz)
    began = time.monotonic()
    world = World(config.seed, config.households, tz, read_items(config.items))
    stats = SimStats(photos=len(write_photos(settings.photo_store)))
    visits = load_visits(r, settings, world)
    plan = opening_plan(world, now.date(), config.history_days)
    stats.planned = len(plan)
    stats.seconds["plan"] = time.monotonic() - began
    split = bisect.bisect_right([e.at for e in plan], now)
    log.info("simulated waste (seed %d, %d households, %d days back): %d events due now, "
             "planned in %.1f s; %d photos written to %s", config.seed, config.households,
             config.history_days, split, stats.seconds["plan"], stats.photos,
             settings.photo_store)
    info = {"simulated": True, "sources": "sim:*", "seed": config.seed,
            "households": config.households, "started_at": now.isoformat(timespec="seconds"),
            "sent": 0}
    feed = _Feed(r, settings, info, beat=not once)
    try:
        sending = time.monotonic()
        stats.history = feed.send(plan[:split], visits, stop, progress=True)
        stats.seconds["send"] = time.monotonic() - sending
        if once or stop.is_set():
            stats.stopped = stop.is_set()
            return stats
        live = _Live(world, settings, r, feed, stats, visits,
                     sessions if config.field_app else None)
        live.run(plan[split:], now.date() + timedelta(days=1), stop, clock)
        stats.stopped = True
        return stats
    finally:
        feed.close()


class _Live:
    """The live part: each pending item when due, a day further each midnight, field rounds."""

    def __init__(self, world: World, settings: Settings, r: redis.Redis, feed: _Feed,
                 stats: SimStats, visits: dict[str, Visit],
                 sessions: sessionmaker[Session] | None):
        self.world, self.settings, self.r, self.feed = world, settings, r, feed
        self.stats, self.visits, self.sessions = stats, visits, sessions
        self.next_round: datetime | None = None

    def run(self, pending: list[Planned], planned_through: date, stop: threading.Event,
            clock: Callable[[], datetime]) -> None:
        world, i = self.world, 0
        while not stop.is_set():
            now = clock().astimezone(world.tz)
            while now.date() + timedelta(days=1) > planned_through:
                planned_through += timedelta(days=1)
                pending = _by_time(pending[i:] + day_plan(world, planned_through))
                i = 0
                log.info("simulated waste: planned %s", planned_through.isoformat())
            self.field(now)
            j = i
            while j < len(pending) and pending[j].at <= now:
                j += 1
            if j > i:
                self.stats.live += self.feed.send(pending[i:j], self.visits)
                i = j
                continue
            self.feed.beat()
            wait = MAX_WAIT_S
            if i < len(pending):
                wait = min(wait, (pending[i].at - now).total_seconds())
            stop.wait(max(wait, 0.01))

    def field(self, now: datetime) -> None:
        """A round of the field app when one is due (a store error skips the round)."""
        if self.sessions is None or (self.next_round is not None and now < self.next_round):
            return
        self.next_round = now + timedelta(seconds=FIELD_EVERY_S)
        try:
            with self.sessions() as session:
                events, visits = field_round(session, self.world, now)
                session.rollback()
        except SQLAlchemyError as exc:
            log.warning("simulated field app: cannot read follow-ups (%s); next round in %d s",
                        str(exc).splitlines()[0], FIELD_EVERY_S)
            return
        if events:
            self.stats.live += self.feed.send(events, self.visits)
            keep_visits(self.r, self.settings, self.world, visits)
            self.visits.update(visits)
            self.stats.visits += len(visits)
            log.info("simulated field app: %d assignments and visits sent",
                     len(events))
