"""Fold validated events into the store, one batch per transaction.

The fold is order-independent, so out-of-order and repeated delivery give the same final state:

* each stage's time is the earliest event of that stage (``min``);
* the current stage is the stage of the event with the greatest ``(occurred_at, stage rank,
  event_id, source)``;
* every attribute (category, priority, position, team ...) takes the value of the latest event
  by ``(occurred_at, event_id, source)`` that carries it;
* a ``(source, event_id)`` already stored is skipped (idempotent ingest).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cockpit.events import BaseEvent, IncidentEvent, MetricObserved
from cockpit.store.bulk import insert_rows, update_rows
from cockpit.store.models import Incident, IncidentEventRow, MetricObservation
from cockpit.vocab import STAGE_RANK, Stage

#: Attributes an incident takes from its latest event that carries them.
ATTRIBUTES = ("category", "priority", "title", "address", "lon", "lat", "village", "grid",
              "team", "unit", "disposition", "source")
_CHUNK = 500

#: Resolves (lons, lats, village hints) → village codes; injected so tests can pass their own.
VillageResolver = Callable[[Sequence[float | None], Sequence[float | None],
                            Sequence[str | None]], list[str | None]]


@dataclass
class ApplyResult:
    """What one batch did: events stored, duplicates skipped, incident ids touched."""

    stored: int = 0
    duplicates: int = 0
    incidents: set[str] = field(default_factory=set)
    metrics: int = 0


def _chunks(items: Sequence, size: int = _CHUNK) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _existing_keys(session: Session, model, keys: Sequence[tuple[str, str]]) -> set[tuple]:
    """Which ``(source, event_id)`` keys of ``model`` are stored already."""
    wanted = set(keys)
    found: set[tuple] = set()
    ids = sorted({event_id for _, event_id in wanted})
    for part in _chunks(ids):
        # event_id leads the primary key, so this is an index lookup on every dialect
        rows = session.execute(select(model.source, model.event_id)
                               .where(model.event_id.in_(part)))
        found.update(key for key in map(tuple, rows) if key in wanted)
    return found


#: Event fields kept in their own columns of ``incident_events``, not repeated in ``payload``.
_ROW_FIELDS = frozenset({"event_id", "type", "occurred_at", "source", "incident_id"})


def payload(event: BaseEvent) -> dict[str, Any]:
    """The event's own fields as stored in history, JSON-ready (enums as codes).

    Like ``model_dump(mode="json", exclude_none=True)`` less the fields the history row keeps
    in columns (id, type, time, source, incident), without pydantic's cost per event.
    """
    out: dict[str, Any] = {}
    for name, value in event.__dict__.items():
        if value is None or name in _ROW_FIELDS:
            continue
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, Enum):  # not hasattr(): a failed lookup raises inside, slowly
            value = value.value
        out[name] = value
    return out


@functools.cache
def _attributes_of(kind: type[IncidentEvent]) -> tuple[str, ...]:
    """The :data:`ATTRIBUTES` an event type can carry (village always: it may be joined)."""
    return tuple(a for a in ATTRIBUTES if a == "village" or a in kind.model_fields)


def _event_key(event: IncidentEvent) -> tuple:
    return (event.occurred_at, STAGE_RANK[event.stage], event.event_id, event.source)


def _fold(state: dict[str, Any], event: IncidentEvent, village: str | None) -> None:
    """Merge one event into an incident's state dict (commutative, see module docstring)."""
    stage_col = f"{event.stage.value}_at"
    if state.get(stage_col) is None or event.occurred_at < state[stage_col]:
        state[stage_col] = event.occurred_at
    key = _event_key(event)
    current = state.get("_stage_key")
    if current is None or key > current:
        state["_stage_key"] = key
        state["stage"] = event.stage.value
        state["stage_at"] = event.occurred_at
    times = state.setdefault("field_times", {})
    stamp = None
    data = event.__dict__  # plain dict access: pydantic's getattr fallback is slow here
    for name in _attributes_of(type(event)):
        value = village if name == "village" else data.get(name)
        if value is None:
            continue
        if stamp is None:
            stamp = [event.occurred_at.isoformat(), event.event_id, event.source]
        prior = times.get(name)
        if prior is None or stamp > prior:
            times[name] = stamp
            column = "village_code" if name == "village" else name
            state[column] = value.value if isinstance(value, Enum) else value
    state["event_count"] = state.get("event_count", 0) + 1


def _state_of(row: dict[str, Any]) -> dict[str, Any]:
    """The fold's state of a stored incident row (a column → value mapping)."""
    state = dict(row)
    state["field_times"] = times = dict(row["field_times"] or {})
    stamp = times.get("_stage")
    state["_stage_key"] = (row["stage_at"], STAGE_RANK[Stage(row["stage"])],
                           *(stamp[1:3] if stamp else ("", "")))
    return state


def apply_batch(
    session: Session,
    items: Sequence[tuple[BaseEvent, str]],
    resolve_villages: VillageResolver,
    now: datetime | None = None,
) -> ApplyResult:
    """Store a batch of validated events and update the incidents they touch.

    Parameters
    ----------
    session : Session
        Open session; the caller owns the transaction and commits it.
    items : sequence of (event, stream_id)
        Validated events with the Redis entry id they came from.
    resolve_villages : callable
        ``(lons, lats, hints) -> codes``; maps WGS-84 positions and village hints (code or
        name) to village codes, e.g. :func:`cockpit.geo.resolve_or_join`.
    now : datetime, optional
        Receive time (aware); defaults to the current UTC time.

    Returns
    -------
    ApplyResult
        Counts, and the ids of the incidents whose state changed.

    Raises
    ------
    sqlalchemy.exc.SQLAlchemyError
        On database errors; nothing of the batch is kept once the caller rolls back.
    """
    now = now or datetime.now(UTC)
    result = ApplyResult()
    seen: set[tuple[str, str]] = set()
    fresh: list[tuple[BaseEvent, str]] = []
    for event, stream_id in items:
        key = (event.source, event.event_id)
        if key in seen:
            result.duplicates += 1
            continue
        seen.add(key)
        fresh.append((event, stream_id))
    incident_items = [(e, s) for e, s in fresh if isinstance(e, IncidentEvent)]
    metric_items = [(e, s) for e, s in fresh if isinstance(e, MetricObserved)]
    result.duplicates += _store_metrics(session, metric_items, resolve_villages, now, result)
    if not incident_items:
        return result
    incident_items = _insert_history(session, incident_items, now, result)
    if not incident_items:
        return result
    villages = resolve_villages(
        [e.__dict__.get("lon") for e, _ in incident_items],
        [e.__dict__.get("lat") for e, _ in incident_items],
        [e.__dict__.get("village") for e, _ in incident_items],
    )
    _fold_incidents(session, incident_items, villages, now, result)
    return result


def _insert_history(session, items, now, result) -> list[tuple[IncidentEvent, str]]:
    """Insert history rows, skipping stored ``(source, event_id)``; returns the new events.

    The insert itself skips conflicts; only when it stored fewer rows than it was given (a
    redelivery) are the rows of this batch, marked by their receive time, read back.
    """
    table = IncidentEventRow.__table__
    stored = insert_rows(session.connection(), table, [
        {"event_id": e.event_id, "incident_id": e.incident_id, "type": e.type,
         "occurred_at": e.occurred_at, "received_at": now, "source": e.source,
         "stream_id": s, "payload": payload(e)}
        for e, s in items
    ], skip_conflicts=True)
    given = len(items)
    if stored != given:
        mine: set[tuple] = set()
        for part in _chunks(sorted({e.event_id for e, _ in items})):
            mine.update(map(tuple, session.execute(
                select(table.c.source, table.c.event_id)
                .where(table.c.event_id.in_(part), table.c.received_at == now))))
        items = [(e, s) for e, s in items if (e.source, e.event_id) in mine]
    result.duplicates += given - len(items)
    result.stored += len(items)
    return items


def _fold_incidents(session, items, villages, now, result) -> None:
    ids = sorted({e.incident_id for e, _ in items})
    states: dict[str, dict[str, Any]] = {}
    table = Incident.__table__
    for part in _chunks(ids):
        # Core rows, not ORM objects: only their values are needed, and this runs per batch
        query = select(table).where(table.c.incident_id.in_(part)).with_for_update()
        for row in session.execute(query).mappings():
            states[row["incident_id"]] = _state_of(row)
    existing = set(states)
    for (event, _), village in zip(items, villages, strict=True):
        state = states.setdefault(event.incident_id, {"incident_id": event.incident_id})
        _fold(state, event, village)
    inserts, updates = [], []
    columns = [c.key for c in Incident.__table__.columns]
    for incident_id, state in states.items():
        key = state.pop("_stage_key")
        state["field_times"]["_stage"] = [key[0].isoformat(), key[2], key[3]]
        state["updated_at"] = now
        row = {c: state.get(c) for c in columns}
        row["source"] = row["source"] or "unknown"
        (updates if incident_id in existing else inserts).append(row)
    if inserts:
        insert_rows(session.connection(), Incident.__table__, inserts)
    if updates:
        update_rows(session.connection(), Incident.__table__, "incident_id", updates)
    result.incidents.update(ids)


def _store_metrics(session, items, resolve_villages, now, result) -> int:
    if not items:
        return 0
    known = _existing_keys(session, MetricObservation, [(e.source, e.event_id) for e, _ in items])
    items = [(e, s) for e, s in items if (e.source, e.event_id) not in known]
    if items:
        villages = resolve_villages([None] * len(items), [None] * len(items),
                                    [e.village for e, _ in items])
        insert_rows(session.connection(), MetricObservation.__table__, [
            {"event_id": e.event_id, "module": e.module, "key": e.key, "value": e.value,
             "unit": e.unit, "village_code": v, "occurred_at": e.occurred_at,
             "received_at": now, "source": e.source, "stream_id": s}
            for (e, s), v in zip(items, villages, strict=True)
        ])
        result.metrics += len(items)
        result.stored += len(items)
    return len(known)
