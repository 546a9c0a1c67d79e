"""The time machine: read the store as it was at a past moment (issue 10).

:func:`read_at` yields a read session of an as-of store (:class:`cockpit.asof.Shadow`): the
state the ingest would have written had it applied exactly the stored events with
``occurred_at`` at or before the moment. The pages run their own query code on it with
``now=at``, so a past picture is computed by the same code as the live one.

Shadows are kept per process in an LRU bounded in bytes (``COCKPIT_TM_CACHE_MB``) and in
number (:data:`CACHE_SIZE`). A moment starts from whichever is later: the newest cached shadow
before it (a replay moving forward costs one small step per frame) or the newest valid
midnight checkpoint before it (:mod:`cockpit.asof_checkpoint`), moved forward with the events
between; only a moment with neither is built from the history, at its midnight, and saved.
One build runs at a time per process, and a viewer queues one at a time
(:class:`TimeMachineBusy`). docs/timemachine.md has the measured costs.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from cockpit.asof import Shadow
from cockpit.asof_checkpoint import Checkpoints, midnight_after, midnight_before, store_key
from cockpit.asof_memory import give_back
from cockpit.moments import CLOCK_SLACK, check_moment, parse_at  # noqa: F401 - re-exported
from cockpit.services import Services
from cockpit.timemachine_settings import TimeMachineSettings

log = logging.getLogger(__name__)

#: Shadows kept per process at most (each one an in-memory copy of the state at its moment;
#: ``COCKPIT_TM_CACHE_MB`` bounds their bytes).
CACHE_SIZE = 8
#: A reused shadow looks for late-stored events at most this often, seconds.
LATE_CHECK_S = 5.0
#: A moment is moved on from a cached shadow or a checkpoint at most this far before it; further
#: back, its midnight is built from the history (a day's fold and save cost about 2 s, a build
#: of the demo's history about 10 s).
WALK_LIMIT = timedelta(days=3)


class TimeMachineBusy(RuntimeError):
    """Too many past moments are being built; ask again after :attr:`retry_after` seconds."""

    def __init__(self, reason: str, retry_after: int = 5) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class TimeMachine:
    """The shadows of one store, most recently used last, bounded in bytes.

    One build runs at a time per process (:attr:`build_lock`); requests for the moment being
    built wait for it; at most ``builds_waiting`` other moments wait, one per viewer
    (:class:`TimeMachineBusy` otherwise). With checkpoints (:mod:`cockpit.asof_checkpoint`) a
    moment is the newest valid midnight checkpoint before it moved forward, and each midnight
    crossed on the way is saved.
    """

    def __init__(self, services: Services, size: int = CACHE_SIZE,
                 config: TimeMachineSettings | None = None) -> None:
        self.services = services
        self.size = size
        self.config = config or TimeMachineSettings()
        self.cache_bytes = self.config.cache_mb * 2**20
        self.checkpoints = _checkpoints(services, self.config)
        self.lock = threading.Lock()
        self.build_lock = threading.Lock()
        self.shadows: list[Shadow] = []
        self.checked: dict[int, float] = {}
        #: When each cached shadow was last read (monotonic seconds), for :meth:`expire`.
        self.used: dict[int, float] = {}
        self.sweeper: threading.Thread | None = None
        self.building: dict[datetime, threading.Event] = {}
        self.viewers: dict[str, int] = {}
        #: How moments were made: built from the history, loaded from a checkpoint, moved on
        #: from a cached shadow; and checkpoints saved.
        self.counts = {"built": 0, "loaded": 0, "moved": 0, "saved": 0}
        #: The last error saving a checkpoint (the folder unwritable, the disk full), if any.
        self.save_error: OSError | None = None

    def acquire(self, at: datetime, who: str | None = None) -> Shadow:
        """Return a shadow holding the state at ``at``, its lock held by the caller.

        ``who`` names the viewer asking (bounds the builds one viewer can queue).

        Raises
        ------
        TimeMachineBusy
            When the moment needs a build and too many wait, or this viewer's own build runs.
        """
        deadline = time.monotonic() + self.config.build_wait_s
        while True:
            with self.lock:
                exact = next((s for s in self.shadows if s.at == at), None)
                if exact is not None:
                    self.shadows.remove(exact)
                    self.shadows.append(exact)
                    self.used[id(exact)] = time.monotonic()
                    exact.lock.acquire()
                    break
                running = self.building.get(at)
                if running is None:
                    if who and self.viewers.get(who):
                        raise TimeMachineBusy("busy: a past moment of yours is being built")
                    if len(self.building) > self.config.builds_waiting:
                        raise TimeMachineBusy("busy: other past moments are being built")
                    running = self.building[at] = threading.Event()
                    if who:
                        self.viewers[who] = self.viewers.get(who, 0) + 1
                    mine = True
                else:
                    mine = False
            if mine:
                return self._built(at, who, running, deadline)
            if not running.wait(max(0.0, deadline - time.monotonic())):
                raise TimeMachineBusy("busy: the past moment is still being built")
        try:
            if time.monotonic() - self.checked.get(id(exact), 0.0) >= LATE_CHECK_S:
                exact.advance(self.services.sessions, at)  # what was stored late since
                self.checked[id(exact)] = time.monotonic()
        except BaseException:
            exact.lock.release()
            raise
        return exact

    def _built(self, at: datetime, who: str | None, running: threading.Event,
               deadline: float) -> Shadow:
        try:
            if not self.build_lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
                raise TimeMachineBusy("busy: other past moments are being built")
            try:
                shadow = self._make(at)
            finally:
                self.build_lock.release()
            with self.lock:
                self.shadows.append(shadow)
                self.checked[id(shadow)] = self.used[id(shadow)] = time.monotonic()
                gone = self._over()
                if self.sweeper is None:
                    self.sweeper = _start_sweeper(self)
            for old in gone:
                with old.lock:
                    old.close()
            give_back()
            return shadow
        finally:
            with self.lock:
                del self.building[at]
                if who:
                    self.viewers[who] -= 1
                    if not self.viewers[who]:
                        del self.viewers[who]
            running.set()

    def _over(self) -> list[Shadow]:
        """Take the least recently used shadows out past the bounds (under :attr:`lock`)."""
        gone = []
        while len(self.shadows) > 1 and (len(self.shadows) > self.size or sum(
                s.size for s in self.shadows) > self.cache_bytes):
            old = self.shadows.pop(0)
            self.checked.pop(id(old), None)
            self.used.pop(id(old), None)
            gone.append(old)
        return gone

    def expire(self, idle_s: float | None = None) -> int:
        """Drop the shadows unread for ``idle_s`` s (``COCKPIT_TM_IDLE_S``); return how many.

        Their memory goes back to the system: a web process at rest holds no past moment.
        """
        limit = time.monotonic() - (self.config.idle_s if idle_s is None else idle_s)
        with self.lock:
            gone = [s for s in self.shadows if self.used.get(id(s), 0.0) <= limit]
            for old in gone:
                self.shadows.remove(old)
                self.checked.pop(id(old), None)
                self.used.pop(id(old), None)
        for old in gone:
            with old.lock:
                old.close()
        if gone:
            give_back()
        return len(gone)

    def _take(self, shadow: Shadow) -> Shadow:
        """Take a cached shadow out of the cache to move it (its lock held on return)."""
        with self.lock:
            if shadow in self.shadows:
                self.shadows.remove(shadow)
        shadow.lock.acquire()
        return shadow

    def _make(self, at: datetime) -> Shadow:
        """Build or move a shadow to ``at``; its lock held on return (under :attr:`build_lock`).

        Starts from the later of the newest cached shadow and the newest valid checkpoint
        before ``at``, unless that lies more than :data:`WALK_LIMIT` before it: then the
        moment's midnight is built from the history (a far look back does not walk, and save,
        every day in between).
        """
        main, settings = self.services.sessions, self.services.settings
        floor = at - WALK_LIMIT
        with self.lock:
            cached = max((s for s in self.shadows if floor <= s.at <= at), key=lambda s: s.at,
                         default=None)
        saved = self.checkpoints.latest_before(at) if self.checkpoints else None
        shadow = None
        if saved is not None and saved >= floor and (cached is None or saved > cached.at):
            shadow = self.checkpoints.load(main, at)  # the newest valid one
            if shadow is not None and (shadow.at < floor or (
                    cached is not None and cached.at > shadow.at)):
                shadow.close()
                shadow = None
            elif shadow is not None:
                self.counts["loaded"] += 1
                shadow.lock.acquire()
        fresh = shadow is not None  # a loaded checkpoint: its repeat groups formed now
        if shadow is None and cached is not None:
            shadow = self._take(cached)
            self.counts["moved"] += 1
        if shadow is None:
            fresh = True
            start = midnight_before(at, settings.tz) if self.checkpoints else at
            shadow = Shadow.build(main, settings, start)
            self.counts["built"] += 1
            self._save(shadow)
            shadow.lock.acquire()
        try:
            while self.checkpoints and (midnight := midnight_after(shadow.at, settings.tz)) <= at:
                shadow.advance(main, midnight, settle=True)
                self._save(shadow)
                fresh = True
            # a replay's step moves a cached shadow a little: its repeat groups are formed at
            # most every REGROUP_EVERY_S (cockpit.asof); a moment made anew has them formed now
            shadow.advance(main, at, settle=fresh)
        except BaseException:
            shadow.lock.release()
            shadow.close()
            raise
        return shadow

    def _save(self, shadow: Shadow) -> None:
        if self.checkpoints is None:
            return
        if midnight_before(shadow.at, self.services.settings.tz) != shadow.at:
            return
        try:
            if self.checkpoints.save(shadow, self.services.sessions) is not None:
                self.counts["saved"] += 1
        except OSError as exc:
            self.save_error = exc
            log.warning("time machine: checkpoint not saved in %s: %s",
                        self.checkpoints.folder, exc)

    def clear(self) -> None:
        """Drop every shadow."""
        with self.lock:
            gone, self.shadows = self.shadows, []
            self.checked.clear()
            self.used.clear()
        for shadow in gone:
            with shadow.lock:
                shadow.close()
        give_back()


def _start_sweeper(machine: TimeMachine) -> threading.Thread:
    """A daemon thread calling ``machine.expire()`` now and then while the machine lives."""
    ref = weakref.ref(machine)
    every = max(1.0, min(60.0, machine.config.idle_s / 4))

    def sweep() -> None:
        while True:
            time.sleep(every)
            alive = ref()
            if alive is None:
                return
            try:
                alive.expire()
            except Exception:  # noqa: BLE001 - a sweep must never end the thread
                log.exception("time machine: expiring idle shadows failed")
            del alive

    thread = threading.Thread(target=sweep, name="timemachine-sweeper", daemon=True)
    thread.start()
    return thread


def _checkpoints(services: Services, config: TimeMachineSettings) -> Checkpoints | None:
    """The store's checkpoints, None when they are off or the store has no URL."""
    settings = services.settings
    if not config.checkpoint_mb:
        return None
    root = config.checkpoint_dir or settings.data_dir / "timemachine"
    url = services.engine.url.render_as_string(hide_password=False)
    return Checkpoints(root / store_key(settings, url), settings, config.checkpoint_mb * 2**20)


_MACHINES: weakref.WeakKeyDictionary[Engine, TimeMachine] = weakref.WeakKeyDictionary()
_MACHINES_LOCK = threading.Lock()


def machine_for(services: Services) -> TimeMachine:
    """Return this process's time machine of ``services``' store (made on first use)."""
    with _MACHINES_LOCK:
        machine = _MACHINES.get(services.engine)
        if machine is None:
            machine = _MACHINES[services.engine] = TimeMachine(services)
        return machine


@contextmanager
def read_at(services: Services, at: datetime, who: str | None = None) -> Iterator[Session]:
    """A read session of the store as it was at ``at``; rolled back and closed on exit.

    Parameters
    ----------
    services : Services
        The process's services; their store's history is what the past is rebuilt from.
    at : datetime
        The moment, aware; at most a moment ahead of the server's clock (then: now).
    who : str, optional
        The viewer asking (a username or kiosk name): one viewer queues one build at a time.

    Yields
    ------
    Session
        A session of the as-of store (:class:`cockpit.asof.Shadow`): the store's tables
        holding the state after every stored event with ``occurred_at <= at``; query it with
        ``now=at``. Personal fields are empty in it. Hold it briefly: other readers of the
        same moment wait for it.

    Raises
    ------
    ValueError
        When ``at`` is naive or in the future.
    TimeMachineBusy
        When the moment needs a build and the process's builds are taken (ask again later).
    ImageTooLarge
        When the moment's state outgrows SQLite's bound on one in-memory image (1 GiB).
    sqlalchemy.exc.SQLAlchemyError
        When the store cannot be read.
    """
    at = check_moment(at, tz=services.settings.tz)
    shadow = machine_for(services).acquire(at, who)
    try:
        with shadow.sessions() as session:
            try:
                yield session
            finally:
                session.rollback()
    finally:
        shadow.lock.release()
