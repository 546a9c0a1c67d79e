"""Fold a batch of volunteer-stream events into the store (one transaction, the caller's).

Every event is kept in ``volunteer_events`` without its personal fields (idempotent on
``(source, event_id)``), then folded by kind: the registry (:mod:`.registry`), activities and
attendances with their points (:mod:`.hours`), mobilisations (:mod:`.mobilization`) and
recruitment sign-ups.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
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
from cockpit.store.volunteer_models import (
    Attendance,
    Mobilization,
    PointsEntry,
    SignUp,
    VolunteerEventRow,
)
from cockpit.volunteers import hours, mobilization, registry_fold
from cockpit.volunteers.config import VolunteerRules
from cockpit.volunteers.events import (
    ActivityCheckedIn,
    ActivityCheckedOut,
    ActivityPublished,
    MobilizationRequested,
    MobilizationResponse,
    RecruitmentSignedUp,
    Registration,
    VolunteerEvent,
)

#: Fields never written to the event history: personal data lives only in the registry.
PERSONAL_FIELDS = frozenset({"name", "phone", "id_number", "id_hash"})
_HISTORY_SKIP = ROW_FIELDS | PERSONAL_FIELDS


@dataclass
class VolunteerResult:
    """What one batch did to the volunteers module."""

    stored: int = 0
    duplicates: int = 0
    volunteers: set[str] = field(default_factory=set)
    activities: set[str] = field(default_factory=set)
    attendances: int = 0
    mobilizations: set[str] = field(default_factory=set)
    signups: int = 0

    def merge(self, other: VolunteerResult) -> None:
        """Add another batch's result to this one (entries applied one by one)."""
        self.stored += other.stored
        self.duplicates += other.duplicates
        self.volunteers |= other.volunteers
        self.activities |= other.activities
        self.attendances += other.attendances
        self.mobilizations |= other.mobilizations
        self.signups += other.signups


def subject_of(event: BaseEvent) -> str:
    """What an event is about, as the history's ``subject`` key."""
    if isinstance(event, ActivityCheckedIn | ActivityCheckedOut):
        return hours.attendance_subject(event.activity_id, *event.record_key)
    if isinstance(event, ActivityPublished):
        return hours.activity_subject(event.activity_id)
    if isinstance(event, MobilizationResponse):
        return json.dumps(["mobilization", event.mobilization_id, *event.record_key],
                          ensure_ascii=False)
    if isinstance(event, MobilizationRequested):
        return json.dumps(["mobilization", event.mobilization_id], ensure_ascii=False)
    if isinstance(event, VolunteerEvent):
        return json.dumps(["record", *event.record_key], ensure_ascii=False)
    if isinstance(event, RecruitmentSignedUp):
        return json.dumps(["campaign", event.campaign_id], ensure_ascii=False)
    return json.dumps([event.type], ensure_ascii=False)




def _new_events(session: Session, items, now: datetime, result: VolunteerResult):
    stored = stored_keys(session, VolunteerEventRow, {(e.source, e.event_id) for e, _ in items})
    fresh, dropped = drop_repeats(items, stored)
    result.duplicates += dropped
    if fresh:
        insert_rows(session.connection(), VolunteerEventRow.__table__, [
            {"event_id": e.event_id, "source": e.source, "type": e.type,
             "subject": subject_of(e), "occurred_at": e.occurred_at, "received_at": now,
             "stream_id": s, "payload": history_payload(e, _HISTORY_SKIP)} for e, s in fresh])
    result.stored += len(fresh)
    return [e for e, _ in fresh]


def apply_volunteer_events(session: Session, items: Sequence[tuple[BaseEvent, str]],
                           resolve_villages: VillageResolver, now: datetime,
                           rules: VolunteerRules, tz: ZoneInfo) -> VolunteerResult:
    """Store and fold volunteer-stream events.

    Parameters
    ----------
    session : Session
        Open session; the caller owns the transaction.
    items : sequence of (event, stream_id)
        Validated events of :data:`cockpit.volunteers.events.VOLUNTEER_TYPES`.
    resolve_villages : callable
        ``(lons, lats, hints) -> codes`` as for incidents.
    now : datetime
        Receive time, aware; also the clock of automatic check-out.
    rules : VolunteerRules
        Hours and points rules.
    tz : ZoneInfo
        The cockpit's zone (months of the points ledger).

    Returns
    -------
    VolunteerResult
    """
    result = VolunteerResult()
    if not items:
        return result
    events = _new_events(session, items, now, result)
    if not events:
        return result
    registrations = [e for e in events if isinstance(e, Registration)]
    if registrations:
        codes = resolve_villages([None] * len(registrations), [None] * len(registrations),
                                 [e.village for e in registrations])
        result.volunteers |= registry_fold.apply_registrations(
            session, sorted(zip(registrations, codes, strict=True),
                            key=lambda ec: (ec[0].occurred_at, ec[0].event_id, ec[0].source)),
            now)
    published = [e for e in events if isinstance(e, ActivityPublished)]
    keys: set[tuple[str, str, str]] = set()
    if published:
        codes = resolve_villages([e.lon for e in published], [e.lat for e in published],
                                 [e.village for e in published])
        result.activities = hours.fold_activities(session, published, codes)
        keys |= hours.keys_of_activities(session, result.activities)
    punches = [e for e in events if isinstance(e, ActivityCheckedIn | ActivityCheckedOut)]
    keys |= hours.attendance_keys(punches)
    if keys:
        result.attendances = hours.refold_attendances(session, keys, rules, tz, now)
    requests = [e for e in events if isinstance(e, MobilizationRequested)]
    if requests:
        codes = resolve_villages([None] * len(requests), [None] * len(requests),
                                 [e.village for e in requests])
        result.mobilizations |= mobilization.fold_requests(session, requests, codes)
    answers = [e for e in events if isinstance(e, MobilizationResponse)]
    if answers:
        result.mobilizations |= mobilization.fold_answers(session, answers)
    if result.mobilizations:
        mobilization.refresh_points(session, result.mobilizations, rules, tz)
    signups = [e for e in events if isinstance(e, RecruitmentSignedUp)]
    if signups:
        codes = resolve_villages([None] * len(signups), [None] * len(signups),
                                 [e.village for e in signups])
        insert_rows(session.connection(), SignUp.__table__, [
            {"event_id": e.event_id, "source": e.source, "campaign_id": e.campaign_id,
             "campaign": e.campaign, "target": e.target, "village_code": c,
             "channel": e.channel, "occurred_at": e.occurred_at}
            for e, c in zip(signups, codes, strict=True)])
        result.signups = len(signups)
    return result


def recompute_points(session: Session, rules: VolunteerRules, tz: ZoneInfo, now: datetime
                     ) -> int:
    """Re-fold every attendance and rewrite the whole points ledger under ``rules``.

    Run when the rules file changed (its fingerprint differs from the one the ledger was
    written with). Returns the number of ledger entries written.
    """
    session.execute(PointsEntry.__table__.delete())
    keys = [tuple(k) for k in session.execute(
        select(Attendance.activity_id, Attendance.platform, Attendance.source_id))]
    hours.refold_attendances(session, keys, rules, tz, now)
    mobilization.refresh_points(
        session, [m for (m,) in session.execute(select(Mobilization.mobilization_id))], rules,
        tz)
    return int(session.scalar(select(func.count()).select_from(PointsEntry)) or 0)
