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
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import redis
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from cockpit.settings import Settings
from cockpit.sim_feed import FeedStats, SimFeed, by_time, follow, run, start
from cockpit.volunteers.sim_people import SimEvent
from cockpit.waste.sim_days import Disposal, Visit, day_plan, disposal_event
from cockpit.waste.sim_field import field_round, keep_visits, load_visits
from cockpit.waste.sim_items import read_items
from cockpit.waste.sim_photos import write_photos
from cockpit.waste.sim_world import DEFAULT_HOUSEHOLDS, World, registry_events

log = logging.getLogger(__name__)

#: How often the start reports its progress, entries.
PROGRESS_EVERY = 20_000
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
class SimStats(FeedStats):
    """What a run sent: at start (the history) and live; photos written; visits made."""

    photos: int = 0
    visits: int = 0


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
    return by_time(out)


def render(item: Planned, visits: Mapping[str, Visit]) -> SimEvent:
    """The stream entry of a planned item (a disposal is rated now)."""
    return disposal_event(item, visits) if isinstance(item, Disposal) else item


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
    tz = settings.tz
    clock, stop, now = start(config.history_days, tz, clock, stop, now)
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
    feed = SimFeed(r, settings, "waste", info, beat=not once, progress_every=PROGRESS_EVERY,
                   render=lambda item: render(item, visits))
    field_app = _FieldApp(world, settings, r, feed, stats, visits,
                          sessions if config.field_app else None)

    def live(pending: list[Planned]) -> None:
        follow(feed, stats, pending, now.date() + timedelta(days=1), tz,
               lambda day: day_plan(world, day), stop, clock, MAX_WAIT_S, each=field_app.field)

    run(feed, plan, split, stats, stop, once, live)
    return stats


class _FieldApp:
    """The simulated field app of a live run: a round of visits every :data:`FIELD_EVERY_S`."""

    def __init__(self, world: World, settings: Settings, r: redis.Redis, feed: SimFeed,
                 stats: SimStats, visits: dict[str, Visit],
                 sessions: sessionmaker[Session] | None):
        self.world, self.settings, self.r, self.feed = world, settings, r, feed
        self.stats, self.visits, self.sessions = stats, visits, sessions
        self.next_round: datetime | None = None

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
            self.stats.live += self.feed.send(events)
            keep_visits(self.r, self.settings, self.world, visits)
            self.visits.update(visits)
            self.stats.visits += len(visits)
            log.info("simulated field app: %d assignments and visits sent",
                     len(events))
