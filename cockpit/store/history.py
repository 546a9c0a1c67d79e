"""What the event history tables share: which events of a batch are new, and what a row keeps.

Every stream's events are kept once by ``(source, event_id)`` (idempotent ingest): a batch
drops its own repeats and the keys its history table holds already (:func:`stored_keys`,
looked up by ``event_id``, which leads every history table's primary key, in chunks of
:data:`CHUNK`), then stores the rest with their fields as JSON (:func:`history_payload`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cockpit.event_base import BaseEvent

#: Resolves (lons, lats, village hints) → village codes; injected so tests can pass their own.
VillageResolver = Callable[[Sequence[float | None], Sequence[float | None],
                            Sequence[str | None]], list[str | None]]
#: Ids per ``IN (...)`` lookup.
CHUNK = 500
#: Event fields every history row keeps in its own columns, not repeated in its payload.
ROW_FIELDS = frozenset({"event_id", "type", "occurred_at", "source"})


def chunks(items: Sequence, size: int = CHUNK) -> Iterable[Sequence]:
    """Yield ``items`` in consecutive slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


def stored_keys(session: Session, model, keys: Collection[tuple[str, str]]
                ) -> set[tuple[str, str]]:
    """Return which ``(source, event_id)`` keys of the history ``model`` are stored already."""
    wanted = set(keys)
    found: set[tuple[str, str]] = set()
    for part in chunks(sorted({event_id for _, event_id in wanted})):
        # event_id leads the primary key, so this is an index lookup on every dialect
        rows = session.execute(select(model.source, model.event_id)
                               .where(model.event_id.in_(part)))
        found.update(key for key in map(tuple, rows) if key in wanted)
    return found


def drop_repeats(items: Iterable[tuple[BaseEvent, str]],
                 stored: Collection[tuple[str, str]] = frozenset()
                 ) -> tuple[list[tuple[BaseEvent, str]], int]:
    """Return the ``(event, stream_id)`` items not ``stored`` nor repeated, and how many went.

    The first of repeated ``(source, event_id)`` keys within ``items`` is kept, in order.
    """
    fresh: list[tuple[BaseEvent, str]] = []
    seen: set[tuple[str, str]] = set()
    dropped = 0
    for event, stream_id in items:
        key = (event.source, event.event_id)
        if key in stored or key in seen:
            dropped += 1
            continue
        seen.add(key)
        fresh.append((event, stream_id))
    return fresh, dropped


def history_payload(event: BaseEvent, skip: Collection[str] = ROW_FIELDS) -> dict[str, Any]:
    """Return the event's own fields as a history row keeps them, JSON-ready.

    Like ``model_dump(mode="json", exclude_none=True)`` less the fields named in ``skip`` (kept
    in columns, or personal data never written to history), without pydantic's cost per
    event: times as ISO-8601 text, enums as their codes, tuples as lists.
    """
    out: dict[str, Any] = {}
    for name, value in event.__dict__.items():
        if value is None or name in skip:
            continue
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, Enum):  # not hasattr(): a failed lookup raises inside, slowly
            value = value.value
        elif isinstance(value, tuple):
            value = list(value)
        out[name] = value
    return out
