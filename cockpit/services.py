"""The bundle of shared resources a process needs: settings, Redis, the store.

Web callbacks receive a :class:`Services` (``register(app, services)``) instead of reaching for
globals; tests build one against a real Redis and a real database.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import redis
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from cockpit.livelink import LiveLink
from cockpit.settings import Settings
from cockpit.store.db import engine_for, session_factory
from cockpit.streams import EmbeddedRedis, connect
from cockpit.tiles import TilesWatch


@dataclass
class Services:
    """Settings, a Redis client and the store's engine and session factory of one process."""

    settings: Settings
    redis: redis.Redis
    engine: Engine
    sessions: sessionmaker[Session]
    embedded: EmbeddedRedis | None = None
    #: The web's view of Redis and the database (:mod:`cockpit.livelink`), made from the rest.
    link: LiveLink = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.link = LiveLink(self)

    @classmethod
    def from_settings(cls, settings: Settings, web: bool = False) -> Services:
        """Connect to Redis (or start the embedded one) and open the database engine.

        ``web``: the client of a web process, whose socket timeout is
        ``Settings.web_redis_timeout_s`` (a page never waits long on a hung Redis).
        """
        client, embedded = connect(settings, settings.web_redis_timeout_s if web else None)
        engine = engine_for(settings)
        return cls(settings, client, engine, session_factory(engine), embedded)

    @cached_property
    def tiles(self) -> TilesWatch:
        """The scenario tiles file (``Settings.tiles_file``), re-read when it changes."""
        return TilesWatch(self.settings.tiles_file)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading; rolled back and closed on exit."""
        with self.sessions() as session:
            try:
                yield session
            finally:
                session.rollback()
            self.link.note_database_answered()

    def version(self) -> int:
        """The data version; it moves after every ingest commit.

        While Redis is unreachable, the last version this process saw (pages then render
        from the database and say the live link is down: :attr:`link`).
        """
        return self.link.version()

    def last_commit_ms(self) -> int | None:
        """Epoch ms of the last ingest commit, None before the first.

        While Redis is unreachable, the last one seen, else the store's latest receipt.
        """
        return self.link.committed_ms()

    def replay_status(self) -> dict[str, Any] | None:
        """The running replay's heartbeat (name, file, speed, sent, total), None if none runs."""
        value = self.link.call(lambda r: r.get(self.settings.key("feed:replay")), None)
        if not value:
            return None
        try:
            return json.loads(value)
        except ValueError:
            return {"name": "unknown"}

    def close(self) -> None:
        """Release the engine, the client and (if owned) the embedded Redis server."""
        self.engine.dispose()
        self.redis.close()
        if self.embedded is not None:
            self.embedded.close()
