"""The time machine: read the store as it was at a past moment (issue 10).

:func:`read_at` yields a read session of an as-of store (:class:`cockpit.asof.Shadow`): the
state the ingest would have written had it applied exactly the stored events with
``occurred_at`` at or before the moment. The pages run their own query code on it with
``now=at``, so a past picture is computed by the same code as the live one.

Shadows are kept per process in a small LRU (:data:`CACHE_SIZE`, keyed by their moment). A
later moment reuses the newest cached shadow before it and applies only the events between
(a replay moving forward costs one small step per frame); an earlier moment than every cached
one builds a new shadow (settled incidents copied, the rest folded again from the history).
docs/timemachine.md has the measured costs.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from cockpit.asof import Shadow
from cockpit.event_fields import parse_time
from cockpit.services import Services

#: Shadows kept per process (each one an in-memory copy of the state at its moment).
CACHE_SIZE = 4
#: A reused shadow looks for late-stored events at most this often, seconds.
LATE_CHECK_S = 5.0
#: A moment this little ahead of the server's clock is taken as now (clocks of browsers).
CLOCK_SLACK = timedelta(seconds=2)


def parse_at(value: str, tz) -> datetime:
    """Parse a moment given in a URL: ISO-8601 (with offset, or local in ``tz``) or epoch ms.

    Returns
    -------
    datetime
        Aware, UTC.

    Raises
    ------
    ValueError
        With what was wrong, e.g. ``at: 'yesterday' is not ISO-8601 or epoch milliseconds``.
    """
    text = (value or "").strip()
    if not text:
        raise ValueError("at: empty; give ISO-8601 (2026-12-03T02:00:00+08:00) or epoch ms")
    try:
        return parse_time(int(text) if text.lstrip("-").isdigit() else text, tz)
    except ValueError as exc:
        raise ValueError(f"at: {text[:64]!r} is not a moment: {exc}") from None


def check_moment(at: datetime, now: datetime | None = None) -> datetime:
    """Return ``at`` in UTC if it is aware and not in the future; else raise ValueError."""
    if not isinstance(at, datetime) or at.tzinfo is None:
        raise ValueError(f"at: {at!r} has no time zone; give an aware datetime")
    now = now or datetime.now(UTC)
    if at > now + CLOCK_SLACK:
        raise ValueError(f"at: {at.isoformat()} is in the future (now {now.isoformat()}); "
                         "the time machine shows past moments only")
    return min(at, now).astimezone(UTC)


class TimeMachine:
    """The shadows of one store, most recently used last (:data:`CACHE_SIZE` at most)."""

    def __init__(self, services: Services, size: int = CACHE_SIZE) -> None:
        self.services = services
        self.size = size
        self.lock = threading.Lock()
        self.shadows: list[Shadow] = []
        self.checked: dict[int, float] = {}

    def acquire(self, at: datetime) -> Shadow:
        """Return a shadow holding the state at ``at``, its lock held by the caller."""
        main = self.services.sessions
        with self.lock:
            exact = [s for s in self.shadows if s.at == at]
            if exact:
                shadow = exact[0]
                shadow.lock.acquire()
                if time.monotonic() - self.checked.get(id(shadow), 0.0) >= LATE_CHECK_S:
                    shadow.advance(main, at)  # only what was stored late since the last look
                    self.checked[id(shadow)] = time.monotonic()
            else:
                older = [s for s in self.shadows if s.at < at]
                if older:
                    shadow = max(older, key=lambda s: s.at)
                    shadow.lock.acquire()
                    shadow.advance(main, at)
                else:
                    shadow = Shadow.build(main, self.services.settings, at)
                    shadow.lock.acquire()
                    self.shadows.append(shadow)
                self.checked[id(shadow)] = time.monotonic()
            self.shadows.remove(shadow)
            self.shadows.append(shadow)
            while len(self.shadows) > self.size:
                gone = self.shadows.pop(0)
                self.checked.pop(id(gone), None)
                with gone.lock:
                    gone.close()
            return shadow

    def clear(self) -> None:
        """Drop every shadow."""
        with self.lock:
            for shadow in self.shadows:
                with shadow.lock:
                    shadow.close()
            self.shadows.clear()
            self.checked.clear()


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
def read_at(services: Services, at: datetime) -> Iterator[Session]:
    """A read session of the store as it was at ``at``; rolled back and closed on exit.

    Parameters
    ----------
    services : Services
        The process's services; their store's history is what the past is rebuilt from.
    at : datetime
        The moment, aware; at most a moment ahead of the server's clock (then: now).

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
    sqlalchemy.exc.SQLAlchemyError
        When the store cannot be read.
    """
    at = check_moment(at)
    shadow = machine_for(services).acquire(at)
    try:
        with shadow.sessions() as session:
            try:
                yield session
            finally:
                session.rollback()
    finally:
        shadow.lock.release()
