"""An as-of store: the state the store would hold at a past moment, rebuilt from its history.

A :class:`Shadow` is an in-memory SQLite database with the store's schema. It holds the
reference data that is not events (the map's boundary layers, copied), what the moment shares
with the present (incidents with no later event: :mod:`cockpit.asof_copy`)
and every other stored event with ``occurred_at`` at or before its moment ``at``, re-applied
through the ingest's own :func:`cockpit.store.apply.apply_batch` with ``now=at``: the same
fold, the same rules, the same derived columns. The pages' own query code then reads it with
``now=at``.

The events come back from the history tables (:func:`history_events`): ``incident_events``,
``metric_observations``, ``notification_receipts``, ``volunteer_events``, ``waste_events`` and
``waste_disposals``, each rebuilt into its pydantic event and validated again. The volunteer
and waste histories keep no personal fields (names, phones, ID hashes, household addresses
and positions), so the shadow's registries hold none (a volunteer's required name is
:data:`MASKED`); an incident's reporter is in its history, as its timeline shows it (masked on
screen by role, like the live store's).

Moving a shadow forward (:meth:`Shadow.advance`) applies only the events in ``(at, to]`` —
what the ingest did live — so a replay costs little per step; events that arrived late (stored
after the shadow last looked, with ``occurred_at`` within :data:`LATE_WINDOW` before its
moment) are applied too (the fold is idempotent and independent of delivery order).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, create_engine, func, insert, select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from cockpit import repeats
from cockpit.asof_copy import copy_settled, copy_settled_in_sqlite, moved_after
from cockpit.event_base import BaseEvent
from cockpit.events import EVENT_TYPES, IncidentEvent
from cockpit.placing import VillageLayerSync, resolve_villages
from cockpit.settings import Settings
from cockpit.store.apply import apply_batch
from cockpit.store.map_models import BoundaryFeature, BoundaryImport
from cockpit.store.models import (
    Base,
    IncidentEventRow,
    MetricObservation,
    NotificationReceipt,
)
from cockpit.store.volunteer_models import VolunteerEventRow
from cockpit.store.waste_models import WasteDisposal, WasteEventRow
from cockpit.volunteers.hours import close_overdue

log = logging.getLogger(__name__)

#: Events per applied batch (one transaction of the shadow each).
BATCH = 2000
#: Events stored late are looked for this far before a shadow's moment when it is reused.
LATE_WINDOW = timedelta(hours=24)
#: A stored event's ``received_at`` may precede its commit by this much (the ingest's clock is
#: read before the batch commits): the late check looks back this far past its last look.
COMMIT_MARGIN = timedelta(seconds=60)
#: Repeat groups are formed again over the incidents reported this long before a moment...
REPEAT_SPAN = timedelta(days=31)
#: ... at most this often while a replay moves the shadow, seconds (a sweep costs ~0.1 s).
REGROUP_EVERY_S = 10.0
#: Reference tables copied as they are (not events): the map's layers.
REFERENCE = (BoundaryImport, BoundaryFeature)
#: Far enough ahead that re-validating a stored event never refuses it as "in the future".
_NOW_FOR_VALIDATION = datetime(9000, 1, 1, tzinfo=UTC)


def _validated(data: dict[str, Any], settings: Settings) -> BaseEvent:
    model = EVENT_TYPES[data["type"]]
    return model.model_validate(data, context={"tz": settings.tz, "area": None,
                                               "now": _NOW_FOR_VALIDATION, "pd_key": None})


def _envelope(row) -> dict[str, Any]:
    return {"event_id": row.event_id, "source": row.source, "type": row.type,
            "occurred_at": row.occurred_at}


def _incident(row) -> dict[str, Any]:
    return {**(row.payload or {}), **_envelope(row), "incident_id": row.incident_id}


#: Stands for a required personal field the history does not keep (a registration's name).
MASKED = "*"


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


def history_events(session: Session, settings: Settings, after: datetime | None,
                   upto: datetime, received_after: datetime | None = None,
                   unsettled: bool = False) -> tuple[list[tuple[BaseEvent, str]], int]:
    """Return the stored events with ``after < occurred_at <= upto``, rebuilt, in time order.

    Parameters
    ----------
    session : Session
        A session of the main store.
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
        are copied as they are: :func:`copy_settled`).

    Returns
    -------
    (list of (event, stream_id), int)
        The events sorted by ``(occurred_at, event_id, source)``, and how many rows could not
        be rebuilt (logged, skipped; a row the ingest stored validates again unless the event
        contract changed since).
    """
    items: list[tuple[BaseEvent, str]] = []
    failed = 0
    for model, fields_of in HISTORY:
        query = select(model).where(model.occurred_at <= upto)
        if after is not None:
            query = query.where(model.occurred_at > after)
        if received_after is not None:
            query = query.where(model.received_at > received_after)
        if unsettled and model is IncidentEventRow:
            query = query.where(moved_after(IncidentEventRow.__table__.c.incident_id, upto))
        for row in session.scalars(query):
            try:
                items.append((_validated(fields_of(row), settings), row.stream_id))
            except (ValueError, KeyError) as exc:
                failed += 1
                log.warning("time machine: %s %s/%s not rebuilt: %s", model.__tablename__,
                            row.source, row.event_id, str(exc).splitlines()[0])
    items.sort(key=lambda item: (item[0].occurred_at, item[0].event_id, item[0].source))
    return items, failed


def _batches(items: Sequence, size: int = BATCH) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


@dataclass
class Shadow:
    """One as-of store: an in-memory SQLite database holding the state at :attr:`at`.

    Use it under :attr:`lock` (one connection serves every session of it).
    """

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    #: The moment it holds (aware, UTC).
    at: datetime
    #: The main store's latest ``received_at`` when the shadow last read its history.
    seen_received: datetime | None = None
    #: Incidents copied as they are (no event after the moment), events applied, and rows that
    #: could not be rebuilt or applied.
    copied: int = 0
    applied: int = 0
    skipped: int = 0
    #: Seconds spent building and advancing it.
    build_s: float = 0.0
    #: Earliest report time whose repeat groups are not formed yet (None: all formed), and
    #: when they were last formed (monotonic seconds).
    regroup: datetime | None = None
    regrouped: float = 0.0
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    @classmethod
    def empty(cls, settings: Settings) -> Shadow:
        """Return a shadow with the store's schema and nothing in it (its moment: the epoch)."""
        engine = create_engine("sqlite://", poolclass=StaticPool,
                               connect_args={"check_same_thread": False})
        Base.metadata.create_all(engine)
        return cls(settings, engine, sessionmaker(engine, expire_on_commit=False),
                   datetime(1970, 1, 1, tzinfo=UTC))

    @classmethod
    def build(cls, main: sessionmaker[Session], settings: Settings, at: datetime) -> Shadow:
        """Return the shadow of the store ``main`` at ``at`` (aware).

        Raises
        ------
        sqlalchemy.exc.SQLAlchemyError
            When the main store cannot be read.
        """
        started = time.perf_counter()
        shadow = cls.empty(settings)
        VillageLayerSync(main).check(force=True)  # the join on the store's village layer
        copied = copy_settled_in_sqlite(main, shadow.engine, at)
        with main() as source, shadow.sessions.begin() as target:
            for model in REFERENCE:
                rows = [dict(r._mapping) for r in source.execute(select(model.__table__))]
                if rows:
                    target.execute(insert(model.__table__), rows)
            shadow.copied = copy_settled(source, target, at) if copied is None else copied
        shadow._sync(main, None, at)
        shadow.build_s = time.perf_counter() - started
        return shadow

    def advance(self, main: sessionmaker[Session], to: datetime, late: bool = True) -> None:
        """Move the shadow forward to ``to`` (aware, not before :attr:`at`).

        Applies the events in ``(at, to]`` and, with ``late``, those stored since the last
        look whose ``occurred_at`` lies in ``(to - LATE_WINDOW, to]``.

        Raises
        ------
        ValueError
            When ``to`` is before the shadow's moment (a shadow only moves forward).
        """
        if to < self.at:
            raise ValueError(f"to: {to.isoformat()} is before the shadow's moment "
                             f"{self.at.isoformat()}; build a new one")
        started = time.perf_counter()
        with self.lock:
            self._sync(main, self.at, to, late=late)
        self.build_s += time.perf_counter() - started

    def _sync(self, main: sessionmaker[Session], after: datetime | None, to: datetime,
              late: bool = False) -> None:
        with main() as source:
            # what the next late check starts from (a scan of the received times: not per step)
            newest = _latest_received(source) if late or after is None else None
            items, failed = history_events(source, self.settings, after, to,
                                           unsettled=after is None)
            if late and self.seen_received is not None and after is not None:
                since = self.seen_received - COMMIT_MARGIN
                extra, more = history_events(source, self.settings,
                                             max(after - LATE_WINDOW, datetime.min.replace(
                                                 tzinfo=UTC)), after, received_after=since)
                items, failed = sorted(extra + items, key=lambda i: (
                    i[0].occurred_at, i[0].event_id, i[0].source)), failed + more
        self.skipped += failed
        for part in _batches(items):
            self._apply(part, to)
        incidents = [e.occurred_at for e, _ in items if isinstance(e, IncidentEvent)]
        with self.sessions.begin() as session:
            # what the ingest's periodic work does with the clock: open check-ins past their
            # activity's end are closed; the governance tick's repeat groups of what moved
            close_overdue(session, self.settings.volunteer_rules, self.settings.tz, to)
            config = self.settings.governance
            if incidents:
                start = min(incidents) - config.repeats.window
                self.regroup = start if self.regroup is None else min(self.regroup, start)
            due = time.monotonic() - self.regrouped >= REGROUP_EVERY_S
            if after is None or (self.regroup is not None and due):
                start = to - REPEAT_SPAN if after is None else self.regroup
                repeats.regroup_from(session, max(start, to - REPEAT_SPAN), config)
                self.regroup, self.regrouped = None, time.monotonic()
        self.at = to
        self.seen_received = newest if newest is not None else self.seen_received

    def _apply(self, items: Sequence[tuple[BaseEvent, str]], now: datetime) -> None:
        settings = self.settings
        kwargs = {"now": now, "config": settings.governance, "rules": settings.volunteer_rules,
                  "tz": settings.tz, "waste_rules": settings.waste_rules}
        try:
            with self.sessions.begin() as session:
                self.applied += apply_batch(session, items, resolve_villages, **kwargs).stored
            return
        except ValueError:
            if len(items) == 1:
                self.skipped += 1
                log.warning("time machine: %s %s/%s not applied", items[0][0].type,
                            items[0][0].source, items[0][0].event_id)
                return
        for item in items:  # isolate the one the fold refuses, as the ingest does
            self._apply([item], now)

    def close(self) -> None:
        """Release the in-memory database."""
        self.engine.dispose()


def _latest_received(session: Session) -> datetime | None:
    latest = [session.scalar(select(func.max(model.received_at))) for model, _ in HISTORY]
    known = [t for t in latest if t is not None]
    return max(known) if known else None
