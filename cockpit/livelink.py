"""How the web process sees its two sources: Redis (the live link) and the database.

Pages read their data from the database; Redis only tells them when to read again (the data
version and the last commit time) and pushes the change signal. With Redis down the pages still
render from the database, and say since when they show committed data; with the database down
they keep what they show and say so. :class:`LiveLink` gives the web those answers without
waiting on a dead source for every request:

- a Redis read that fails (refused, timed out after ``Settings.web_redis_timeout_s``) opens a
  breaker: for ``Settings.web_retry_s`` seconds no request asks Redis again, and the last
  answers this process saw stand in (the data version, the last commit time);
- the database is probed (``SELECT 1``) at most every ``web_retry_s`` seconds; the time of its
  last good answer is what a page names while it is down.

Nothing here imports the web framework; ``callbacks.faults`` turns the state into banners.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import redis
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)
T = TypeVar("T")
#: What a failing Redis raises (a refused or timed-out socket is an OSError underneath).
REDIS_ERRORS = (redis.RedisError, OSError)
#: What a failing database raises.
DB_ERRORS = (SQLAlchemyError, OSError)


def _now_ms() -> int:
    return int(time.time() * 1000)


class LiveLink:
    """The web process's view of Redis and the database, with a breaker per source.

    Parameters
    ----------
    services : cockpit.services.Services
        Whose Redis client (the web's, with ``Settings.web_redis_timeout_s``) and sessions it
        uses; read at every call, so a client or session factory swapped on the services is
        the one used.
    clock : callable, optional
        Monotonic seconds (tests pass their own).
    """

    def __init__(self, services: Any, clock: Callable[[], float] = time.monotonic) -> None:
        self.services, self.settings, self.clock = services, services.settings, clock
        self.retry_s = self.settings.web_retry_s
        self._lock = threading.Lock()
        self._redis_retry_at = 0.0
        #: Epoch ms since when Redis is down (None while it answers).
        self.redis_down_since: int | None = None
        self.last_version = 0
        self._last_counter = 0
        self._epoch = 0
        #: How often Redis came back after an outage (and how many of those version() saw).
        self._recoveries = self._seen_recoveries = 0
        self.last_commit_ms: int | None = None
        self._db_checked_at: float | None = None
        self._db_ok = True
        #: Epoch ms of the database's last good answer in this process.
        self.db_ok_ms: int | None = None
        self._stored_commit: tuple[float, int | None] | None = None

    # -- Redis -----------------------------------------------------------------------------

    @property
    def redis_down(self) -> bool:
        """True while the last Redis read of this process failed."""
        return self.redis_down_since is not None

    def call(self, read: Callable[[redis.Redis], T], fallback: T) -> T:
        """``read(client)``, or ``fallback`` at once while the breaker is open or when it fails.

        One request probes Redis again when ``web_retry_s`` has passed; the others keep
        getting ``fallback`` meanwhile, so no request waits on a hung server.
        """
        with self._lock:
            if self.redis_down and self.clock() < self._redis_retry_at:
                return fallback
            self._redis_retry_at = self.clock() + self.retry_s  # the others: fallback
        try:
            value = read(self.services.redis)
        except REDIS_ERRORS as exc:
            with self._lock:
                self._redis_retry_at = self.clock() + self.retry_s
                if self.redis_down_since is None:
                    self.redis_down_since = _now_ms()
                    log.warning("live link down: Redis unreachable (%s); pages render from "
                                "the database", type(exc).__name__)
            return fallback
        with self._lock:
            if self.redis_down_since is not None:
                log.warning("live link back: Redis answers again")
                self._recoveries += 1
            self.redis_down_since = None
        return value

    def version(self) -> int:
        """The data version; the last one seen while Redis is down (0 if never seen).

        Redis's counter starts again at 0 when it restarts without its data: each time Redis
        is back after an outage (or its counter went back) the answer moves to a new epoch
        (``epoch << 40`` added), so no page takes the new counter's values for ones it saw.
        """
        value = self.call(lambda r: r.get(self.settings.key("version")), None)
        if value is None and self.redis_down:
            return self.last_version
        counter = int(value or 0)
        with self._lock:
            if self._recoveries != self._seen_recoveries or counter < self._last_counter:
                self._epoch += 1
                self._seen_recoveries = self._recoveries
            self._last_counter = counter
            self.last_version = (self._epoch << 40) + counter
        return self.last_version

    def committed_ms(self) -> int | None:
        """Return the epoch ms of the last ingest commit.

        Redis's; with Redis down, the later of the last one seen and the store's latest receipt
        (an ingest may have committed after this process last asked Redis, e.g. on a web
        instance no screen polled).

        Returns None before the first commit (or when no source knows it).
        """
        value = self.call(lambda r: r.get(self.settings.key("ingest:last_commit")), None)
        if value is not None:
            self.last_commit_ms = int(value)
            return self.last_commit_ms
        if not self.redis_down:
            return self.last_commit_ms
        stored = self._stored_commit_ms()
        return max((v for v in (self.last_commit_ms, stored) if v is not None), default=None)

    def _stored_commit_ms(self) -> int | None:
        """The store's latest receipt time (an incident event), asked once per retry period."""
        now = self.clock()
        if self._stored_commit is not None and now - self._stored_commit[0] < self.retry_s:
            return self._stored_commit[1]
        from cockpit.store.models import IncidentEventRow  # the store's models: only here

        try:
            with self.services.sessions() as session:
                latest = session.scalar(select(func.max(IncidentEventRow.received_at)))
        except DB_ERRORS:
            latest = None
        if isinstance(latest, str):  # SQLite without the column type's conversion
            latest = datetime.fromisoformat(latest)
        if latest is not None and latest.tzinfo is None:
            latest = latest.replace(tzinfo=UTC)
        value = int(latest.timestamp() * 1000) if latest is not None else None
        self._stored_commit = (now, value)
        return value

    # -- the database ----------------------------------------------------------------------

    def database_ok(self) -> bool:
        """Whether the database answers (``SELECT 1``, asked at most every ``web_retry_s``)."""
        now = self.clock()
        with self._lock:
            if self._db_checked_at is not None and now - self._db_checked_at < self.retry_s:
                return self._db_ok
            self._db_checked_at = now
        try:
            with self.services.sessions() as session:
                session.execute(text("SELECT 1"))
        except DB_ERRORS as exc:
            if self._db_ok:
                log.warning("database unreachable (%s); pages keep what they show",
                            type(exc).__name__)
            self._db_ok = False
            return False
        if not self._db_ok:
            log.warning("database back: it answers again")
        self._db_ok, self.db_ok_ms = True, _now_ms()
        return True

    def note_database_answered(self) -> None:
        """A read of the store succeeded: the database's last good answer is now.

        A page rendered from the database is such an answer: the banner of an outage that
        starts before the next ``SELECT 1`` then still names when the data was read.
        """
        self.db_ok_ms = _now_ms()

    def state(self) -> dict[str, object]:
        """What the banner needs: ``{redis, database, committed_ms, database_ok_ms}``.

        ``redis`` and ``database`` are ``"ok"`` or ``"down"``; times are epoch ms or None.
        """
        self.version()  # asks Redis (unless the breaker is open) and notes a restart
        database = self.database_ok()
        return {"redis": "down" if self.redis_down else "ok",
                "database": "ok" if database else "down",
                "committed_ms": self.committed_ms(), "database_ok_ms": self.db_ok_ms}
