"""Fold a batch of waste-stream events into the store (one transaction, the caller's).

Registry and follow-up events are kept in ``waste_events`` without personal fields; each
disposal is one row of ``waste_disposals``. Both are idempotent on ``(source, event_id)``.
Then, in order: households, landlords and stations are folded (:mod:`.registry`); disposals
are stored with their household and village (:mod:`.disposals`), and house-card disposals
re-attributed where tenancies changed; the weak-household rule runs for the households that
got an incorrect disposal (:mod:`.followup`); assignments and visits move their tasks on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from cockpit.event_base import BaseEvent
from cockpit.store.bulk import insert_rows
from cockpit.store.history import (
    ROW_FIELDS,
    VillageResolver,
    drop_repeats,
    history_payload,
    stored_keys,
)
from cockpit.store.waste_models import WasteEventRow
from cockpit.waste import disposals, followup, registry
from cockpit.waste.config import WasteRules
from cockpit.waste.events import (
    FollowUpAssigned,
    FollowUpRef,
    FollowUpVisited,
    HouseholdMovedOut,
    HouseholdRegistered,
    StationRegistered,
)
from cockpit.waste.events import WasteDisposal as DisposalEvent


@dataclass
class WasteResult:
    """What one batch did to the waste module."""

    stored: int = 0
    duplicates: int = 0
    disposals: int = 0
    households: set[str] = field(default_factory=set)
    stations: set[str] = field(default_factory=set)
    followups: set[str] = field(default_factory=set)

    def merge(self, other: WasteResult) -> None:
        """Add another batch's result to this one (entries applied one by one)."""
        self.stored += other.stored
        self.duplicates += other.duplicates
        self.disposals += other.disposals
        self.households |= other.households
        self.stations |= other.stations
        self.followups |= other.followups


def subject_of(event: BaseEvent) -> str:
    """What a registry or follow-up event is about, as the history's ``subject`` key."""
    if isinstance(event, HouseholdRegistered | HouseholdMovedOut):
        return registry.household_subject(event.household_id)
    if isinstance(event, StationRegistered):
        return f"station:{event.station_id}"
    if isinstance(event, FollowUpRef):
        return f"followup:{event.followup_id}"
    return event.type






def _new_items(session: Session, items, result: WasteResult):
    """Drop repeats within the batch and registry or follow-up events stored already.

    Disposals are checked by their insert (:func:`.disposals.insert_disposals`).
    """
    keys = {(e.source, e.event_id) for e, _ in items if not isinstance(e, DisposalEvent)}
    stored = stored_keys(session, WasteEventRow, keys) if keys else set()
    fresh, dropped = drop_repeats(items, stored)
    result.duplicates += dropped
    return fresh


def apply_waste_events(session: Session, items: Sequence[tuple[BaseEvent, str]],
                       resolve_villages: VillageResolver, now: datetime, rules: WasteRules,
                       tz: ZoneInfo) -> WasteResult:
    """Store and fold waste-stream events.

    Parameters
    ----------
    session : Session
        Open session; the caller owns the transaction.
    items : sequence of (event, stream_id)
        Validated events of :data:`cockpit.waste.events.WASTE_TYPES`.
    resolve_villages : callable
        ``(lons, lats, hints) -> codes`` as for incidents.
    now : datetime
        Receive time, aware.
    rules : WasteRules
        The weak-household rule and follow-up windows.
    tz : ZoneInfo
        The cockpit's zone (local days and weeks of disposals, follow-up ids).

    Returns
    -------
    WasteResult

    Raises
    ------
    ValueError
        When a follow-up event names a task the cockpit has not opened.
    """
    result = WasteResult()
    fresh = _new_items(session, items, result)
    if not fresh:
        return result
    history = [(e, s) for e, s in fresh if not isinstance(e, DisposalEvent)]
    insert_rows(session.connection(), WasteEventRow.__table__, [
        {"event_id": e.event_id, "source": e.source, "type": e.type, "subject": subject_of(e),
         "occurred_at": e.occurred_at, "received_at": now, "stream_id": s,
         "payload": history_payload(e, ROW_FIELDS | getattr(e, "PERSONAL", frozenset()))}
        for e, s in history])
    result.stored = len(history)
    events = [e for e, _ in history]
    stations = [e for e in events if isinstance(e, StationRegistered)]
    if stations:
        codes = resolve_villages([e.lon for e in stations], [e.lat for e in stations],
                                 [e.village for e in stations])
        moved = registry.fold_stations(session, stations, codes, now)
        disposals.revillage_stations(session, moved)
        result.stations = {e.station_id for e in stations}
    registrations = [e for e in events if isinstance(e, HouseholdRegistered)]
    moves = [e for e in events if isinstance(e, HouseholdMovedOut)]
    touched: set[str] = set()
    if registrations or moves:
        # the register's village, else the house's position (a spatial join)
        codes = resolve_villages([e.lon for e in registrations], [e.lat for e in registrations],
                                 [e.village for e in registrations])
        changed, houses = registry.fold_households(session, registrations, codes, moves, now)
        disposals.revillage_households(session, changed)
        touched |= disposals.reattribute_houses(session, houses)
        followup.cancel_moved_out(session, changed, now)
        result.households |= changed
    new_disposals = [(e, s) for e, s in fresh if isinstance(e, DisposalEvent)]
    if new_disposals:
        stored, wrong = disposals.insert_disposals(session, new_disposals, now, tz)
        touched |= wrong
        result.disposals = stored
        result.stored += stored
        result.duplicates += len(new_disposals) - stored
    if touched:
        result.followups |= set(followup.evaluate(session, touched, rules, tz, now))
        result.households |= touched
    tasks = [e for e in events if isinstance(e, FollowUpAssigned | FollowUpVisited)]
    if tasks:
        result.followups |= followup.apply_followup_events(session, tasks, rules, now)
    return result
