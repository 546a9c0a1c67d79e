"""What the simulated feeds share: XADDing planned entries, the heartbeat, the live loop.

``cockpit simulate-volunteers`` (:mod:`cockpit.volunteers.simulate`) and ``cockpit
simulate-waste`` (:mod:`cockpit.waste.simulate`) plan their entries (anything with an ``at``
time and a sort ``key``), send the ones already due at start in pipelined chunks
(:class:`SimFeed`), then follow the clock (:func:`follow`): each entry is XADDed when its time
comes, never ahead of it, and one more local day is planned at each midnight. While a live run
goes on, ``{prefix}feed:<name>`` holds a heartbeat saying the feed is simulated.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

import redis

from cockpit.settings import Settings

log = logging.getLogger(__name__)

#: Entries per pipelined round trip.
CHUNK = 1_000
HEARTBEAT_TTL_S, HEARTBEAT_EVERY_S = 15, 5.0


@dataclass
class FeedStats:
    """What a run sent: at start (the history and what was due) and live; planning times."""

    history: int = 0
    live: int = 0
    stopped: bool = False
    planned: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def sent(self) -> int:
        """Entries sent in all."""
        return self.history + self.live


def by_time(entries: list) -> list:
    """Return planned entries sorted by their ``key`` (time first)."""
    return sorted(entries, key=lambda e: e.key)


class SimFeed:
    """XADDs entries to ``settings.stream(name)`` in pipelined chunks; keeps the heartbeat fresh.

    ``render`` turns a planned entry into what is sent (an object with ``fields``, the stream
    entry's field map); ``info`` is the heartbeat's body, its ``sent`` counted here. Without
    ``beat`` (a ``--once`` run) no heartbeat is written.
    """

    def __init__(self, r: redis.Redis, settings: Settings, name: str, info: dict, beat: bool,
                 progress_every: int, render: Callable[[Any], Any] = lambda entry: entry):
        self.r, self.stream, self.name = r, settings.stream(name), name
        self.key, self.info, self.beating = settings.key(f"feed:{name}"), info, beat
        self.progress_every, self.render = progress_every, render
        self._next_beat = 0.0

    def send(self, entries: Sequence[Any], stop: threading.Event | None = None,
             progress: bool = False) -> int:
        """XADD ``entries`` in order; return how many were sent (fewer once ``stop`` is set).

        Raises redis.RedisError if Redis fails.
        """
        sent = 0
        for start in range(0, len(entries), CHUNK):
            if stop is not None and stop.is_set():
                break
            chunk = entries[start:start + CHUNK]
            pipe = self.r.pipeline(transaction=False)
            for entry in chunk:
                # uncapped: the ingest trims what its group read (cockpit.stream_trim)
                pipe.xadd(self.stream, self.render(entry).fields)
            pipe.execute()
            sent += len(chunk)
            self.info["sent"] = self.info.get("sent", 0) + len(chunk)
            if progress and (sent % self.progress_every < len(chunk) or sent == len(entries)):
                log.info("simulated %s: %d of %d start events sent to %s", self.name, sent,
                         len(entries), self.stream)
            self.beat()
        return sent

    def beat(self) -> None:
        """Write the heartbeat if it is due (every :data:`HEARTBEAT_EVERY_S`)."""
        if self.beating and time.monotonic() >= self._next_beat:
            self.r.set(self.key, json.dumps(self.info, ensure_ascii=False), ex=HEARTBEAT_TTL_S)
            self._next_beat = time.monotonic() + HEARTBEAT_EVERY_S

    def close(self) -> None:
        """Delete the heartbeat (a Redis error is logged: the key expires on its own)."""
        if self.beating:
            try:
                self.r.delete(self.key)
            except redis.RedisError:
                log.warning("could not delete the heartbeat key %s; it expires in %d s",
                            self.key, HEARTBEAT_TTL_S)


def start(history_days: int, tz: tzinfo, clock: Callable[[], datetime] | None,
          stop: threading.Event | None, now: datetime | None
          ) -> tuple[Callable[[], datetime], threading.Event, datetime]:
    """Return a run's clock, stop event and start time (aware, in ``tz``), defaults filled in.

    Raises ValueError if ``history_days`` < 0.
    """
    if history_days < 0:
        raise ValueError(f"history_days {history_days}: use 0 or more")
    clock = clock or (lambda: datetime.now(tz))
    return clock, stop or threading.Event(), (now or clock()).astimezone(tz)


def run(feed: SimFeed, plan: list, split: int, stats: FeedStats, stop: threading.Event,
        once: bool, live: Callable[[list], None]) -> FeedStats:
    """Send ``plan[:split]`` at once, then (unless ``once`` or stopped) ``live(plan[split:])``.

    ``stats`` gets the history sent, the time it took and whether the run was stopped; the
    heartbeat is deleted however the run ends. Raises redis.RedisError if Redis fails.
    """
    try:
        sending = time.monotonic()
        stats.history = feed.send(plan[:split], stop, progress=True)
        stats.seconds["send"] = time.monotonic() - sending
        if once or stop.is_set():
            stats.stopped = stop.is_set()
            return stats
        live(plan[split:])
        stats.stopped = True
        return stats
    finally:
        feed.close()


def follow(feed: SimFeed, stats: FeedStats, pending: list, planned_through: date, tz: tzinfo,
           plan_day: Callable[[date], list], stop: threading.Event,
           clock: Callable[[], datetime], max_wait: float,
           each: Callable[[datetime], None] | None = None) -> None:
    """Send each pending entry when due until ``stop``; plan one day further each midnight.

    ``plan_day(day)`` plans a local day (planned through ``planned_through``, always a day
    ahead); ``each(now)`` runs at every look at the clock (the waste field app). A look at the
    clock comes at least every ``max_wait`` seconds.
    """
    i = 0
    while not stop.is_set():
        now = clock().astimezone(tz)
        while now.date() + timedelta(days=1) > planned_through:
            planned_through += timedelta(days=1)
            pending = by_time(pending[i:] + plan_day(planned_through))
            i = 0
            log.info("simulated %s: planned %s", feed.name, planned_through.isoformat())
        if each is not None:
            each(now)
        j = i
        while j < len(pending) and pending[j].at <= now:
            j += 1
        if j > i:
            stats.live += feed.send(pending[i:j])
            i = j
            continue
        feed.beat()
        wait = max_wait
        if i < len(pending):
            wait = min(wait, (pending[i].at - now).total_seconds())
        stop.wait(max(wait, 0.01))
