"""Events through the real ingest, and what the store and the streams hold afterwards."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select

from cockpit.ingest import Ingestor
from cockpit.settings import Settings


def drain(services, consumer: str = "c1", settings: Settings | None = None) -> Ingestor:
    """Start a real Ingestor on ``services`` and step it until it is idle; return it."""
    worker = Ingestor(settings or services.settings, services.redis, services.sessions,
                      consumer=consumer, block_ms=50)
    worker.start()
    while worker.step():
        pass
    return worker


def ingest(services, entries: Iterable[dict[str, str]] = (), consumer: str = "c1",
           stream: str = "incidents", settings: Settings | None = None) -> Ingestor:
    """XADD ``entries`` to ``stream`` (pipelined) and drain them through the real ingest."""
    settings = settings or services.settings
    pipe = services.redis.pipeline(transaction=False)
    for fields in entries:
        pipe.xadd(settings.stream(stream), fields)
    pipe.execute()
    return drain(services, consumer, settings)


def count_rows(services, model, *where) -> int:
    """Return how many rows of ``model`` the store holds (matching ``where``)."""
    with services.read() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def stream_entries(services, stream: str) -> list[dict[str, str]]:
    """Return the field maps of every entry of ``stream``, oldest first."""
    return [fields for _, fields in services.redis.xrange(services.settings.stream(stream))]


def dead_letters(services) -> list[dict[str, str]]:
    """Return the dead-letter entries (``fields``, ``reason`` …), oldest first."""
    return [fields for _, fields in services.redis.xrange(services.settings.key("deadletter"))]
