"""Fold validated events into the store, one batch per transaction.

The result does not depend on the order or repetition of delivery:

* the stage and the stage times come from the life cycle (:mod:`cockpit.lifecycle`) run over
  the incident's events in ``(occurred_at, stage rank, event_id, source)`` order: stepped
  forward when the new events are later than every stored one, run again over the whole
  history when one arrives late;
* every attribute (category, priority, position, team ...) takes the value of the latest event
  by ``(occurred_at, event_id, source)`` that carries it;
* the suggested team, the current stage's limit and due time follow from those and the
  governance rules (:mod:`cockpit.governance_config`);
* a ``(source, event_id)`` already stored is skipped (idempotent ingest);
* a new incident (reported recently, of a notified priority) gets one ``new_incident``
  notification row (an outbox: :mod:`cockpit.governance` publishes it);
* notification receipts set ``delivered_*`` / ``acked_*`` of their notification to the
  earliest receipt.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from cockpit.event_fields import DEFAULT_TZ
from cockpit.events import (
    INCIDENT_TYPES,
    BaseEvent,
    IncidentEvent,
    MetricObserved,
    NotificationReceipt,
)
from cockpit.governance_config import GovernanceConfig, load_governance
from cockpit.lifecycle import Lifecycle, Move, run
from cockpit.notices import notice_row
from cockpit.store.bulk import insert_rows, update_changed
from cockpit.store.history import (
    ROW_FIELDS,
    VillageResolver,
    chunks,
    drop_repeats,
    history_payload,
    stored_keys,
)
from cockpit.store.models import (
    Incident,
    IncidentEventRow,
    MetricObservation,
    Notification,
)
from cockpit.store.receipts import apply_receipts
from cockpit.vocab import TERMINAL_STAGES, Stage
from cockpit.volunteers.apply import VolunteerResult, apply_volunteer_events
from cockpit.volunteers.config import VolunteerRules, cached_rules
from cockpit.volunteers.events import VOLUNTEER_TYPES
from cockpit.waste.apply import WasteResult, apply_waste_events
from cockpit.waste.config import WasteRules, cached_waste_rules
from cockpit.waste.events import WASTE_TYPES

#: Attributes an incident takes from its latest event that carries them.
ATTRIBUTES = ("category", "priority", "title", "address", "lon", "lat", "village", "grid",
              "team", "unit", "disposition", "source", "reporter_name", "reporter_phone",
              "reporter_id_hash")
_VOLUNTEER_MODELS = frozenset(VOLUNTEER_TYPES.values())
_WASTE_MODELS = frozenset(WASTE_TYPES.values())


@dataclass
class ApplyResult:
    """What one batch did: events stored, duplicates skipped, incident ids touched."""

    stored: int = 0
    duplicates: int = 0
    incidents: set[str] = field(default_factory=set)
    metrics: int = 0
    notifications: int = 0
    receipts: int = 0
    volunteers: VolunteerResult = field(default_factory=VolunteerResult)
    waste: WasteResult = field(default_factory=WasteResult)


#: Event fields kept in their own columns of ``incident_events``, not repeated in ``payload``.
_INCIDENT_ROW_FIELDS = ROW_FIELDS | {"incident_id"}


@functools.cache
def _attributes_of(kind: type[IncidentEvent]) -> tuple[str, ...]:
    """The :data:`ATTRIBUTES` an event type can carry (village always: it may be joined)."""
    return tuple(a for a in ATTRIBUTES if a == "village" or a in kind.model_fields)


def _move(event: IncidentEvent) -> Move:
    return Move(event.occurred_at, event.stage, event.event_id, event.source, event.type)


def _fold(state: dict[str, Any], event: IncidentEvent, village: str | None) -> None:
    """Merge one event's attributes into an incident's state dict (latest carrier wins)."""
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


_DEFAULT_CONFIG: GovernanceConfig | None = None


def _default_config() -> GovernanceConfig:
    global _DEFAULT_CONFIG  # noqa: PLW0603 - the shipped file, read once per process
    if _DEFAULT_CONFIG is None:
        _DEFAULT_CONFIG = load_governance()
    return _DEFAULT_CONFIG


def apply_batch(
    session: Session,
    items: Sequence[tuple[BaseEvent, str]],
    resolve_villages: VillageResolver,
    now: datetime | None = None,
    config: GovernanceConfig | None = None,
    rules: VolunteerRules | None = None,
    tz: ZoneInfo = DEFAULT_TZ,
    waste_rules: WasteRules | None = None,
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
    config : GovernanceConfig, optional
        Limits, routing and notification rules; the shipped ``governance.yaml`` by default.
    rules : VolunteerRules, optional
        Hours and points rules of the volunteers module; the shipped file by default.
    tz : ZoneInfo
        The cockpit's zone (months of the points ledger, local days of disposals).
    waste_rules : WasteRules, optional
        Weak-household rule of the waste module; the shipped file by default.

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
    config = config or _default_config()
    result = ApplyResult()
    fresh, result.duplicates = drop_repeats(items)
    incident_items = [(e, s) for e, s in fresh if isinstance(e, IncidentEvent)]
    metric_items = [(e, s) for e, s in fresh if isinstance(e, MetricObserved)]
    receipt_items = [(e, s) for e, s in fresh if isinstance(e, NotificationReceipt)]
    volunteer_items = [(e, s) for e, s in fresh if type(e) in _VOLUNTEER_MODELS]
    result.duplicates += _store_metrics(session, metric_items, resolve_villages, now, result)
    if incident_items:
        _apply_incidents(session, incident_items, resolve_villages, now, config, result)
    if receipt_items:
        stored = apply_receipts(session, receipt_items, now)
        result.duplicates += len(receipt_items) - stored
        result.stored += stored
        result.receipts += stored
    if volunteer_items:
        done = apply_volunteer_events(session, volunteer_items, resolve_villages,
                                      now, rules or cached_rules(None), tz)
        result.volunteers = done
        result.stored += done.stored
        result.duplicates += done.duplicates
    waste_items = [(e, s) for e, s in fresh if type(e) in _WASTE_MODELS]
    if waste_items:
        waste = apply_waste_events(session, waste_items, resolve_villages, now,
                                   waste_rules or cached_waste_rules(None), tz)
        result.waste = waste
        result.stored += waste.stored
        result.duplicates += waste.duplicates
    return result


def _apply_incidents(session, incident_items, resolve_villages, now, config, result) -> None:
    if not incident_items:
        return result
    incident_items = _insert_history(session, incident_items, now, result)
    if not incident_items:
        return
    villages = resolve_villages(
        [e.__dict__.get("lon") for e, _ in incident_items],
        [e.__dict__.get("lat") for e, _ in incident_items],
        [e.__dict__.get("village") for e, _ in incident_items],
    )
    _fold_incidents(session, incident_items, villages, now, config, result, resolve_villages)


def _insert_history(session, items, now, result) -> list[tuple[IncidentEvent, str]]:
    """Insert history rows, skipping stored ``(source, event_id)``; returns the new events.

    The insert itself skips conflicts; only when it stored fewer rows than it was given (a
    redelivery) are the rows of this batch, marked by their receive time, read back.
    """
    table = IncidentEventRow.__table__
    stored = insert_rows(session.connection(), table, [
        {"event_id": e.event_id, "incident_id": e.incident_id, "type": e.type,
         "occurred_at": e.occurred_at, "received_at": now, "source": e.source,
         "stream_id": s, "payload": history_payload(e, _INCIDENT_ROW_FIELDS)}
        for e, s in items
    ], skip_conflicts=True)
    given = len(items)
    if stored != given:
        mine: set[tuple] = set()
        for part in chunks(sorted({e.event_id for e, _ in items})):
            mine.update(map(tuple, session.execute(
                select(table.c.source, table.c.event_id)
                .where(table.c.event_id.in_(part), table.c.received_at == now))))
        items = [(e, s) for e, s in items if (e.source, e.event_id) in mine]
    result.duplicates += given - len(items)
    result.stored += len(items)
    return items


def _fold_incidents(session, items, villages, now, config, result,
                    resolve_villages: VillageResolver) -> None:
    ids = sorted({e.incident_id for e, _ in items})
    states: dict[str, dict[str, Any]] = {}
    table = Incident.__table__
    for part in chunks(ids):
        # Core rows, not ORM objects: only their values are needed, and this runs per batch
        query = select(table).where(table.c.incident_id.in_(part)).with_for_update()
        for row in session.execute(query).mappings():
            states[row["incident_id"]] = dict(row, field_times=dict(row["field_times"] or {}))
    # as stored (field_times copied: the fold replaces its entries in place)
    existing = {key: {**state, "field_times": dict(state["field_times"])}
                for key, state in states.items()}
    new: dict[str, list[tuple[Move, IncidentEvent, str | None]]] = {}
    for (event, _), village in zip(items, villages, strict=True):
        new.setdefault(event.incident_id, []).append((_move(event), event, village))
    rerun: list[str] = []
    for incident_id, batch in new.items():
        state = states.setdefault(incident_id, {"incident_id": incident_id})
        machine = Lifecycle.from_row(state) if incident_id in existing else Lifecycle()
        batch.sort(key=lambda item: item[0].key)
        if machine.can_extend(batch[0][0]):
            for move, event, village in batch:
                # a refused move changes nothing, not even the attributes it carries
                if machine.apply(move):
                    _fold(state, event, village)
                else:
                    state["event_count"] = state.get("event_count", 0) + 1
            state.update(machine.columns())
        else:
            late = sum(1 for move, _, _ in batch if not machine.can_extend(move))
            state["late_count"] = (state.get("late_count") or 0) + late
            rerun.append(incident_id)
    if rerun:
        _rerun(session, rerun, states, resolve_villages)
    inserts, updates, notices = [], [], []
    columns = [c.key for c in table.columns]
    for incident_id, state in states.items():
        before = existing.get(incident_id)
        _derive(state, before, config)
        state["updated_at"] = now
        row = {c: state.get(c) for c in columns}
        row["source"] = row["source"] or "unknown"
        for name in ("reopen_count", "illegal_count", "late_count", "escalation_level",
                     "repeat_size", "event_count"):
            row[name] = row[name] or 0
        if before is None:
            inserts.append(row)
        else:
            updates.append((row, before))
        if _newly_reported(state, before, config, now):
            notices.append(notice_row(f"{incident_id}/new", "new_incident", state, config, 0, now))
    if inserts:
        insert_rows(session.connection(), table, inserts)
    if updates:
        update_changed(session.connection(), table, "incident_id", updates)
    if notices:
        result.notifications += insert_rows(session.connection(), Notification.__table__,
                                            notices, skip_conflicts=True)
    result.incidents.update(ids)


#: Columns the attribute fold sets (reset before a re-run folds the history again).
_ATTRIBUTE_COLUMNS = tuple("village_code" if a == "village" else a for a in ATTRIBUTES)


def _rerun(session, ids: Sequence[str], states: dict[str, dict[str, Any]],
           resolve_villages: VillageResolver) -> None:
    """Run the life cycle and the attribute fold again over the whole stored history.

    Used when an event arrives before one already taken: which moves are refused may change,
    and the attributes come only from the accepted ones.
    """
    history = IncidentEventRow.__table__
    rows_of: dict[str, list] = {}
    for part in chunks(sorted(ids)):
        for row in session.execute(
                select(history.c.incident_id, history.c.type, history.c.occurred_at,
                       history.c.event_id, history.c.source, history.c.payload)
                .where(history.c.incident_id.in_(part))):
            rows_of.setdefault(row.incident_id, []).append(row)
    for incident_id, rows in rows_of.items():
        refused: set[tuple[str, str]] = set()
        machine = run([Move(r.occurred_at, INCIDENT_TYPES[r.type].stage, r.event_id, r.source,
                            r.type) for r in rows], refused=refused)
        events = [INCIDENT_TYPES[r.type].model_construct(
            **(r.payload or {}), event_id=r.event_id, source=r.source, type=r.type,
            occurred_at=r.occurred_at, incident_id=incident_id)
            for r in rows if (r.event_id, r.source) not in refused]
        data = [e.__dict__ for e in events]
        villages = resolve_villages([d.get("lon") for d in data], [d.get("lat") for d in data],
                                    [d.get("village") for d in data])
        state = states[incident_id]
        for column in _ATTRIBUTE_COLUMNS:
            state[column] = None
        state["field_times"] = {}
        state["event_count"] = 0
        for event, village in zip(events, villages, strict=True):
            _fold(state, event, village)
        state["event_count"] = len(rows)
        state.update(machine.columns())


def _derive(state: dict[str, Any], before: dict[str, Any] | None,
            config: GovernanceConfig) -> None:
    """Set routing suggestion, limit and due time of the stage; reset escalation on a move."""
    state["suggested_team"] = config.route(state.get("category"), state.get("village_code"),
                                           state.get("grid"))
    sent = config.team(state.get("team"))
    if sent is not None:  # a configured team named in a dispatch: keep its code
        state["team"] = sent.code
    stage = Stage(state["stage"])
    limit = None if stage in TERMINAL_STAGES else config.limit(
        state.get("category"), state.get("priority"), stage)
    state["limit_s"] = None if limit is None else limit.total_seconds()
    state["due_at"] = None if limit is None else state["stage_at"] + limit
    if before is None or (before.get("stage"), before.get("stage_at")) != \
            (state["stage"], state["stage_at"]):
        state["escalation_level"] = 0


def _newly_reported(state, before, config: GovernanceConfig, now: datetime) -> bool:
    """Whether this batch gave the incident its report, recently enough to notify."""
    reported = state.get("reported_at")
    if reported is None or (before is not None and before.get("reported_at") is not None):
        return False
    if Stage(state["stage"]) in TERMINAL_STAGES:
        return False
    return now - reported <= config.notifications.max_age and config.notifies(
        state.get("priority"))


def _store_metrics(session, items, resolve_villages, now, result) -> int:
    if not items:
        return 0
    known = stored_keys(session, MetricObservation, [(e.source, e.event_id) for e, _ in items])
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
