"""The stored history read back as events, for the as-of stores (:mod:`cockpit.asof`).

Six tables keep what the ingest stored: ``incident_events``, ``metric_observations``,
``notification_receipts``, ``volunteer_events``, ``waste_events`` and ``waste_disposals``. Each
row is rebuilt into its pydantic event and validated again, and the six are merged in time
order, ``(occurred_at, event_id, source)``, in batches (:func:`history_batches`): a build holds
one batch of events in Python at a time, not the history.

The volunteer and waste histories keep no personal fields (names, phones, ID hashes,
household addresses and positions), so what is rebuilt from them holds none (a volunteer's
required name is :data:`MASKED`).
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from cockpit.asof_copy import moved_after
from cockpit.event_base import BaseEvent
from cockpit.events import EVENT_TYPES
from cockpit.settings import Settings
from cockpit.store.models import IncidentEventRow, MetricObservation, NotificationReceipt
from cockpit.store.volunteer_models import VolunteerEventRow
from cockpit.store.waste_models import WasteDisposal, WasteEventRow

log = logging.getLogger(__name__)

#: Events per batch (one transaction of the as-of store each).
BATCH = 2000
#: Rows fetched from the main store at a time, per table.
FETCH = 1000
#: Keys looked up per query by :func:`held_keys`.
KEY_CHUNK = 500
#: Stands for a required personal field the history does not keep (a registration's name).
MASKED = "*"
#: Far enough ahead that re-validating a stored event never refuses it as "in the future".
_NOW_FOR_VALIDATION = datetime(9000, 1, 1, tzinfo=UTC)

Item = tuple[BaseEvent, str]


def _validated(data: dict[str, Any], settings: Settings) -> BaseEvent:
    model = EVENT_TYPES[data["type"]]
    return model.model_validate(data, context={"tz": settings.tz, "area": None,
                                               "now": _NOW_FOR_VALIDATION, "pd_key": None})


def _envelope(row) -> dict[str, Any]:
    return {"event_id": row.event_id, "source": row.source, "type": row.type,
            "occurred_at": row.occurred_at}


def _incident(row) -> dict[str, Any]:
    return {**(row.payload or {}), **_envelope(row), "incident_id": row.incident_id}


def _payload(row) -> dict[str, Any]:
    data = {**(row.payload or {}), **_envelope(row)}
    if row.type == "volunteer.registered":
        data.setdefault("name", MASKED)
    return data


def _metric(row) -> dict[str, Any]:
    return {"event_id": row.event_id, "source": row.source, "type": "metric.observed",
            "occurred_at": row.occurred_at, "module": row.module, "key": row.key,
            "value": row.value, "unit": row.unit, "village": row.village_code}


def _receipt(row) -> dict[str, Any]:
    return {**_envelope(row), "notification_id": row.notification_id, "channel": row.channel,
            "by": row.by, "origin": row.origin}


def _disposal(row) -> dict[str, Any]:
    return {"event_id": row.event_id, "source": row.source, "type": "waste.disposal",
            "occurred_at": row.occurred_at,
            "household_id": None if row.via_house else row.household_id,
            "house_id": row.house_id, "station_id": row.station_id,
            "supervisor_id": row.supervisor_id, "photo": row.photo,
            "weight_kg": row.weight_kg, "declared_class": row.declared_class,
            "rating": "correct" if row.correct else "incorrect",
            "found_class": row.found_class, "found_item": row.found_item}


#: Each history table and how one of its rows becomes an event's fields again.
HISTORY = ((IncidentEventRow, _incident), (MetricObservation, _metric),
           (NotificationReceipt, _receipt), (VolunteerEventRow, _payload),
           (WasteEventRow, _payload), (WasteDisposal, _disposal))


def _key(item: Item) -> tuple[datetime, str, str]:
    event = item[0]
    return event.occurred_at, event.event_id, event.source


@dataclass
class Failures:
    """Rows that could not be rebuilt (logged and skipped): counted while a read goes on."""

    count: int = 0


def _table(session: Session, settings: Settings, model, fields_of, after: datetime | None,
           upto: datetime, received_after: datetime | None, unsettled: bool,
           failures: Failures) -> Iterator[Item]:
    query = select(model).where(model.occurred_at <= upto).order_by(model.occurred_at)
    if after is not None:
        query = query.where(model.occurred_at > after)
    if received_after is not None:
        query = query.where(model.received_at > received_after)
    if unsettled and model is IncidentEventRow:
        query = query.where(moved_after(IncidentEventRow.__table__.c.incident_id, upto))
    for row in session.scalars(query.execution_options(yield_per=FETCH)):
        try:
            yield _validated(fields_of(row), settings), row.stream_id
        except (ValueError, KeyError) as exc:
            failures.count += 1
            log.warning("time machine: %s %s/%s not rebuilt: %s", model.__tablename__,
                        row.source, row.event_id, str(exc).splitlines()[0])


def history_batches(session: Session, settings: Settings, after: datetime | None,
                    upto: datetime, received_after: datetime | None = None,
                    unsettled: bool = False, failures: Failures | None = None,
                    size: int = BATCH) -> Iterator[list[Item]]:
    """Yield the stored events with ``after < occurred_at <= upto``, rebuilt, in batches.

    Parameters
    ----------
    session : Session
        A session of the main store (held open while the batches are read).
    settings : Settings
        The cockpit's zone (times of re-validated events).
    after : datetime or None
        Exclusive lower bound of ``occurred_at`` (aware); None for the whole history.
    upto : datetime
        Inclusive upper bound of ``occurred_at`` (aware).
    received_after : datetime, optional
        Only events stored (``received_at``) after this moment.
    unsettled : bool
        Of the incidents, only the events of those with an event after ``upto`` (the others
        are copied as they are: :func:`cockpit.asof_copy.copy_settled`).
    failures : Failures, optional
        Counts the rows that could not be rebuilt (a row the ingest stored validates again
        unless the event contract changed since).
    size : int
        Events per batch, at least; a batch ends only where ``occurred_at`` changes.

    Yields
    ------
    list of (event, stream_id)
        Sorted by ``(occurred_at, event_id, source)``; the batches one after the other are
        that order over the whole history.
    """
    failures = failures if failures is not None else Failures()
    streams = [_table(session, settings, model, fields_of, after, upto, received_after,
                      unsettled, failures) for model, fields_of in HISTORY]
    batch: list[Item] = []
    for item in heapq.merge(*streams, key=lambda i: i[0].occurred_at):
        if len(batch) >= size and item[0].occurred_at != batch[-1][0].occurred_at:
            batch.sort(key=_key)
            yield batch
            batch = []
        batch.append(item)
    if batch:
        batch.sort(key=_key)
        yield batch


def held_keys(session: Session, model, keys) -> set[tuple[str, str]]:
    """The ``(event_id, source)`` of ``keys`` that ``model``'s table holds in ``session``.

    ``keys``: an iterable of ``(event_id, source)``; looked up :data:`KEY_CHUNK` at a time.
    """
    wanted = list(dict.fromkeys(keys))
    held: set[tuple[str, str]] = set()
    for lo in range(0, len(wanted), KEY_CHUNK):
        held.update(tuple(row) for row in session.execute(
            select(model.event_id, model.source).where(
                tuple_(model.event_id, model.source).in_(wanted[lo:lo + KEY_CHUNK]))))
    return held


def history_events(session: Session, settings: Settings, after: datetime | None,
                   upto: datetime, received_after: datetime | None = None,
                   unsettled: bool = False) -> tuple[list[Item], int]:
    """Every event :func:`history_batches` yields, in one list, and how many failed."""
    failures = Failures()
    items = [item for batch in history_batches(session, settings, after, upto, received_after,
                                               unsettled, failures) for item in batch]
    return items, failures.count
