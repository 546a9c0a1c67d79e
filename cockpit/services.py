"""The bundle of shared resources a process needs: settings, Redis, the store.

Web callbacks receive a :class:`Services` (``register(app, services)``) instead of reaching for
globals; tests build one against a real Redis and a real database.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import redis
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from cockpit.settings import Settings
from cockpit.store.db import engine_for, session_factory
from cockpit.streams import EmbeddedRedis, connect, data_version


@dataclass
class Services:
    """Settings, a Redis client and the store's engine and session factory of one process."""

    settings: Settings
    redis: redis.Redis
    engine: Engine
    sessions: sessionmaker[Session]
    embedded: EmbeddedRedis | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Services:
        """Connect to Redis (or start the embedded one) and open the database engine."""
        client, embedded = connect(settings)
        engine = engine_for(settings)
        return cls(settings, client, engine, session_factory(engine), embedded)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading; rolled back and closed on exit."""
        with self.sessions() as session:
            try:
                yield session
            finally:
                session.rollback()

    def version(self) -> int:
        """The data version; it moves after every ingest commit."""
        return data_version(self.redis, self.settings)

    def last_commit_ms(self) -> int | None:
        """Epoch ms of the last ingest commit, None before the first."""
        value = self.redis.get(self.settings.key("ingest:last_commit"))
        return int(value) if value else None

    def replay_status(self) -> dict[str, Any] | None:
        """The running replay's heartbeat (name, file, speed, sent, total), None if none runs."""
        value = self.redis.get(self.settings.key("feed:replay"))
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
