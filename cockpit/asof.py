"""An as-of store: the state the store would hold at a past moment, rebuilt from its history.

A :class:`Shadow` is an in-memory SQLite database with the store's schema. It holds the
reference data that is not events (the map's boundary layers, copied), what the moment shares
with the present (incidents with no later event: :mod:`cockpit.asof_copy`)
and every other stored event with ``occurred_at`` at or before its moment ``at``, re-applied
through the ingest's own :func:`cockpit.store.apply.apply_batch` with ``now=at``: the same
fold, the same rules, the same derived columns. The pages' own query code then reads it with
``now=at``.

The events come back from the history tables (:mod:`cockpit.asof_history`): ``incident_events``,
``metric_observations``, ``notification_receipts``, ``volunteer_events``, ``waste_events`` and
``waste_disposals``, each rebuilt into its pydantic event and validated again. The volunteer
and waste histories keep no personal fields (names, phones, ID hashes, household addresses
and positions), so the shadow's registries hold none (a volunteer's required name is
:data:`cockpit.asof_history.MASKED`); an incident's reporter is in its history, as its
timeline shows it (masked on screen by role, like the live store's).

Its database is one in-memory image (:mod:`cockpit.asof_memory`): freed whole when it is
closed, and saved and loaded as such by the checkpoints (:mod:`cockpit.asof_checkpoint`).

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

from sqlalchemy import Engine, func, insert, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from cockpit import repeats
from cockpit.asof_copy import copy_settled, copy_settled_in_sqlite
from cockpit.asof_history import HISTORY, Failures, Item, held_keys, history_batches
from cockpit.asof_memory import ImageTooLarge, image_bytes, image_engine, image_of, is_full
from cockpit.events import IncidentEvent
from cockpit.placing import VillageLayerSync, resolve_villages
from cockpit.settings import Settings
from cockpit.store.apply import apply_batch
from cockpit.store.map_models import BoundaryFeature, BoundaryImport
from cockpit.volunteers.hours import close_overdue

log = logging.getLogger(__name__)

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
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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
    #: The size of its database, bytes (measured after each build or step).
    size: int = 0
    #: Earliest report time whose repeat groups are not formed yet (None: all formed), and
    #: when they were last formed (monotonic seconds).
    regroup: datetime | None = None
    regrouped: float = 0.0
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    @classmethod
    def empty(cls, settings: Settings, image: bytes | None = None,
              at: datetime = _EPOCH) -> Shadow:
        """Return a shadow loaded from ``image`` (default: the store's schema, empty) at ``at``."""
        engine = image_engine(image)
        shadow = cls(settings, engine, sessionmaker(engine, expire_on_commit=False), at)
        shadow.size = image_bytes(engine)
        return shadow

    @classmethod
    def build(cls, main: sessionmaker[Session], settings: Settings, at: datetime) -> Shadow:
        """Return the shadow of the store ``main`` at ``at`` (aware).

        Raises
        ------
        sqlalchemy.exc.SQLAlchemyError
            When the main store cannot be read.
        ImageTooLarge
            When the moment's state outgrows SQLite's bound on one in-memory image.
        """
        started = time.perf_counter()
        shadow = cls.empty(settings)
        try:
            VillageLayerSync(main).check(force=True)  # the join on the store's village layer
            copied = copy_settled_in_sqlite(main, shadow.engine, at)
            with main() as source, shadow.sessions.begin() as target:
                for model in REFERENCE:
                    rows = [dict(r._mapping) for r in source.execute(select(model.__table__))]
                    if rows:
                        target.execute(insert(model.__table__), rows)
                shadow.copied = copy_settled(source, target, at) if copied is None else copied
            shadow._sync(main, None, at)
        except BaseException:
            shadow.close()
            raise
        shadow.build_s = time.perf_counter() - started
        return shadow

    def image(self) -> bytes:
        """Return its database image (what :meth:`empty` loads again), bytes."""
        with self.lock:
            return image_of(self.engine)

    def advance(self, main: sessionmaker[Session], to: datetime, late: bool = True,
                settle: bool = False) -> None:
        """Move the shadow forward to ``to`` (aware, not before :attr:`at`).

        Applies the events in ``(at, to]`` and, with ``late``, those stored since the last
        look whose ``occurred_at`` lies in ``(to - LATE_WINDOW, to]``. The repeat groups of
        what moved are formed again at most every :data:`REGROUP_EVERY_S` (a replay's steps),
        or now with ``settle`` (a moment about to be shown after a longer move).

        Raises
        ------
        ValueError
            When ``to`` is before the shadow's moment (a shadow only moves forward).
        ImageTooLarge
            When the state outgrows SQLite's bound on one in-memory image.
        """
        if to < self.at:
            raise ValueError(f"to: {to.isoformat()} is before the shadow's moment "
                             f"{self.at.isoformat()}; build a new one")
        started = time.perf_counter()
        with self.lock:
            self._sync(main, self.at, to, late=late, settle=settle)
        self.build_s += time.perf_counter() - started

    def _sync(self, main: sessionmaker[Session], after: datetime | None, to: datetime,
              late: bool = False, settle: bool = False) -> None:
        failures = Failures()
        first_incident: datetime | None = None
        with main() as source:
            # what the next late check starts from (a scan of the received times: not per step)
            newest = _latest_received(source) if late or after is None else None
            parts: list[Iterator[list[Item]]] = []
            if late and self.seen_received is not None and after is not None:
                since = self.seen_received - COMMIT_MARGIN
                parts.append(history_batches(source, self.settings, max(after - LATE_WINDOW,
                                                                        _EPOCH), after,
                                             received_after=since, failures=failures))
            # late ones all happened at or before ``after``: this order is time order
            parts.append(history_batches(source, self.settings, after, to,
                                         unsettled=after is None, failures=failures))
            for n, batches in enumerate(parts):
                for part in batches:
                    if n < len(parts) - 1:  # late ones: only those not applied already
                        part = self._unseen(part)
                    incidents = [e.occurred_at for e, _ in part if isinstance(e, IncidentEvent)]
                    if incidents:
                        first = min(incidents)
                        first_incident = first if first_incident is None else min(
                            first_incident, first)
                    self._apply(part, to)
        self.skipped += failures.count
        try:
            with self.sessions.begin() as session:
                # what the ingest's periodic work does with the clock: open check-ins past
                # their activity's end are closed; the governance tick's repeat groups
                close_overdue(session, self.settings.volunteer_rules, self.settings.tz, to)
                config = self.settings.governance
                if first_incident is not None:
                    start = first_incident - config.repeats.window
                    self.regroup = start if self.regroup is None else min(self.regroup, start)
                due = settle or time.monotonic() - self.regrouped >= REGROUP_EVERY_S
                if after is None or (self.regroup is not None and due):
                    start = to - REPEAT_SPAN if after is None else self.regroup
                    repeats.regroup_from(session, max(start, to - REPEAT_SPAN), config)
                    self.regroup, self.regrouped = None, time.monotonic()
        except OperationalError as exc:
            if is_full(exc):
                raise self._too_large(exc) from None
            raise
        self.at = to
        self.seen_received = newest if newest is not None else self.seen_received
        self.size = image_bytes(self.engine)

    def _unseen(self, items: list[Item]) -> list[Item]:
        """The events of ``items`` the shadow does not hold yet (by ``(event_id, source)``).

        A late event applied again with the same ``now`` as its first application would not
        be told from a new one by the store's duplicate check (its ``received_at`` is ``now``).
        """
        keys = {(e.event_id, e.source) for e, _ in items}
        held: set[tuple[str, str]] = set()
        with self.sessions() as session:
            for model, _ in HISTORY:
                held |= held_keys(session, model, keys)
        return [item for item in items if (item[0].event_id, item[0].source) not in held]

    def _too_large(self, exc: BaseException) -> BaseException:
        return ImageTooLarge(f"the state at {self.at.isoformat()} outgrew SQLite's in-memory "
                             f"bound (about {self.size / 2**20:.0f} MiB held): {exc}")

    def _apply(self, items: Sequence[Item], now: datetime) -> None:
        settings = self.settings
        kwargs = {"now": now, "config": settings.governance, "rules": settings.volunteer_rules,
                  "tz": settings.tz, "waste_rules": settings.waste_rules}
        try:
            with self.sessions.begin() as session:
                self.applied += apply_batch(session, items, resolve_villages, **kwargs).stored
            return
        except OperationalError as exc:
            if is_full(exc):
                raise self._too_large(exc) from None
            raise
        except ValueError:
            if len(items) == 1:
                self.skipped += 1
                log.warning("time machine: %s %s/%s not applied", items[0][0].type,
                            items[0][0].source, items[0][0].event_id)
                return
        for item in items:  # isolate the one the fold refuses, as the ingest does
            self._apply([item], now)

    def close(self) -> None:
        """Release the in-memory database (its whole image goes back to the system)."""
        self.engine.dispose()


def _latest_received(session: Session) -> datetime | None:
    latest = [session.scalar(select(func.max(model.received_at))) for model, _ in HISTORY]
    known = [t for t in latest if t is not None]
    return max(known) if known else None
