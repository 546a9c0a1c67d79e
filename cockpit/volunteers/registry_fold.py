"""The ingest side of the registry: fold a batch of registry events into records and people.

In bulk, for the ingest's speed: the batch's records, the records sharing their ID-number
hashes and phones, and the candidate pairs already known are read once per batch; records are
placed in memory (:class:`_Index`), then written with one flush. The rules are those of
:mod:`cockpit.volunteers.registry`: an ID-number hash held by another volunteer joins the record
to them (logged, undoable); a shared phone without a shared hash proposes the pair for review.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cockpit.store.volunteer_models import MergeCandidate, Volunteer, VolunteerRecord
from cockpit.volunteers.events import Registration, VolunteerUpdated
from cockpit.volunteers.registry import (
    _close_candidates,
    _log_merge,
    _move_records,
    _retire,
    derive_person,
    name_key,
    person_id,
)

_CHUNK = 500
Key = tuple[str, str]


def _chunks(items: Sequence, size: int = _CHUNK):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def fold_record(record: VolunteerRecord, event: Registration, village_code: str | None) -> set[str]:
    """Merge one registry event into its record (latest carrier wins); returns what changed."""
    times = dict(record.field_times or {})
    stamp = [event.occurred_at.isoformat(), event.event_id, event.source]
    changed: set[str] = set()
    for name in event.ATTRIBUTES:
        value = village_code if name == "village" else getattr(event, name)
        if value is None:
            continue
        column = "village_code" if name == "village" else name
        prior = times.get(column)
        if prior is None or stamp > prior:
            times[column] = stamp
            value = value.value if hasattr(value, "value") else value
            value = list(value) if isinstance(value, tuple) else value
            if getattr(record, column) != value:
                changed.add(column)
            setattr(record, column, value)
    record.field_times = times
    record.event_count = (record.event_count or 0) + 1
    if not isinstance(event, VolunteerUpdated) or record.registered_at is None:
        if record.registered_at is None or event.occurred_at < record.registered_at:
            record.registered_at = event.occurred_at
    if record.updated_at is None or event.occurred_at > record.updated_at:
        record.updated_at = event.occurred_at
    return changed


class _Index:
    """Who holds each ID-number hash and phone, for the batch's hashes and phones."""

    def __init__(self, session: Session, batch: dict[Key, VolunteerRecord]):
        self.batch = batch
        hashes = sorted({r.id_hash for r in batch.values() if r.id_hash})
        phones = sorted({r.phone for r in batch.values() if r.phone})
        #: hash -> [(volunteer, kept_apart, key)] in order of registration
        self.by_hash: dict[str, list[list[Any]]] = {}
        #: phone -> {volunteer: name}
        self.by_phone: dict[str, dict[str, str | None]] = {}
        columns = (VolunteerRecord.platform, VolunteerRecord.source_id,
                   VolunteerRecord.volunteer_id, VolunteerRecord.kept_apart,
                   VolunteerRecord.id_hash, VolunteerRecord.phone, VolunteerRecord.name)
        for field, values in ((VolunteerRecord.id_hash, hashes), (VolunteerRecord.phone, phones)):
            for part in _chunks(values):
                rows = session.execute(select(*columns).where(
                    field.in_(part), VolunteerRecord.volunteer_id.is_not(None))
                    .order_by(VolunteerRecord.registered_at, VolunteerRecord.platform,
                              VolunteerRecord.source_id))
                for platform, source_id, vid, apart, id_hash, phone, name in rows:
                    if (platform, source_id) in batch:
                        continue  # the batch's own records are indexed as they are placed
                    if field is VolunteerRecord.id_hash:
                        self.by_hash.setdefault(id_hash, []).append(
                            [vid, apart, (platform, source_id)])
                    else:
                        self.by_phone.setdefault(phone, {}).setdefault(vid, name)

    def holder(self, record: VolunteerRecord) -> str | None:
        """Another volunteer holding this record's hash (not kept apart), if any."""
        if not record.id_hash or record.kept_apart:
            return None
        key = (record.platform, record.source_id)
        for vid, apart, other in self.by_hash.get(record.id_hash, []):
            if other != key and vid != record.volunteer_id and not apart:
                return vid
        return None

    def add(self, record: VolunteerRecord) -> None:
        """Index a placed record of the batch."""
        key = (record.platform, record.source_id)
        if record.id_hash:
            holders = self.by_hash.setdefault(record.id_hash, [])
            for entry in holders:
                if entry[2] == key:
                    entry[0], entry[1] = record.volunteer_id, record.kept_apart
                    break
            else:
                holders.append([record.volunteer_id, record.kept_apart, key])
        if record.phone:
            self.by_phone.setdefault(record.phone, {}).setdefault(record.volunteer_id,
                                                                  record.name)

    def moved(self, old: str, new: str) -> None:
        """Every record of ``old`` now belongs to ``new``."""
        for holders in self.by_hash.values():
            for entry in holders:
                if entry[0] == old:
                    entry[0] = new
        for owners in self.by_phone.values():
            if old in owners:
                owners.setdefault(new, owners.pop(old))


def _load_records(session: Session, keys: Iterable[Key]) -> dict[Key, VolunteerRecord]:
    by_platform: dict[str, list[str]] = {}
    for platform, source_id in keys:
        by_platform.setdefault(platform, []).append(source_id)
    out: dict[Key, VolunteerRecord] = {}
    for platform, ids in by_platform.items():
        for part in _chunks(sorted(ids)):
            for r in session.scalars(select(VolunteerRecord).where(
                    VolunteerRecord.platform == platform, VolunteerRecord.source_id.in_(part))):
                out[(r.platform, r.source_id)] = r
    return out


def _place(session: Session, record: VolunteerRecord, changed: set[str], index: _Index,
           now: datetime) -> tuple[set[str], bool]:
    """Give a folded record its volunteer; returns (volunteers touched, propose by phone?)."""
    touched: set[str] = set()
    fresh = record.volunteer_id is None
    holder = index.holder(record) if fresh or "id_hash" in changed else None
    if fresh:
        if holder is not None:
            record.volunteer_id = holder
            own = person_id(record.platform, record.source_id)
            _log_merge(session, holder, own, [record], "same_id_number", now, None)
            # the record's own id points to the person, so the merge log's link leads there
            if session.get(Volunteer, own) is None:
                session.add(Volunteer(volunteer_id=own, status="merged", merged_into=holder,
                                      skills=[], record_count=0, updated_at=now))
        else:
            record.volunteer_id = person_id(record.platform, record.source_id)
    elif holder is not None:
        old = record.volunteer_id
        session.flush()
        moved = _move_records(session, old, holder)
        _log_merge(session, holder, old, moved, "same_id_number", now, None)
        _retire(session, old, holder, now)
        _close_candidates(session, old, holder, now)
        index.moved(old, holder)
        touched.add(old)
    index.add(record)
    touched.add(record.volunteer_id)
    propose = bool(record.phone) and (fresh or holder is not None
                                      or bool({"phone", "name"} & changed))
    return touched, propose


def _propose(session: Session, proposals: Sequence[VolunteerRecord], index: _Index,
             now: datetime) -> int:
    """Queue the pairs of volunteers sharing a phone that are not queued yet (any state)."""
    pairs: dict[tuple[str, str], str] = {}
    for record in proposals:
        for other, other_name in index.by_phone.get(record.phone, {}).items():
            if other == record.volunteer_id:
                continue
            low, high = sorted((record.volunteer_id, other))
            same = name_key(other_name) == name_key(record.name)
            if pairs.get((low, high)) != "same_phone_name":
                pairs[(low, high)] = "same_phone_name" if same else "same_phone"
    if not pairs:
        return 0
    ids = sorted({v for pair in pairs for v in pair})
    merged = set()
    known = set()
    for part in _chunks(ids):
        merged.update(session.scalars(select(Volunteer.volunteer_id).where(
            Volunteer.volunteer_id.in_(part), Volunteer.status == "merged")))
        known.update(map(tuple, session.execute(
            select(MergeCandidate.volunteer_a, MergeCandidate.volunteer_b)
            .where(MergeCandidate.volunteer_a.in_(part)))))
    fresh = [MergeCandidate(volunteer_a=a, volunteer_b=b, reason=reason, status="open",
                            created_at=now)
             for (a, b), reason in sorted(pairs.items())
             if (a, b) not in known and a not in merged and b not in merged]
    session.add_all(fresh)
    return len(fresh)


def refresh_people(session: Session, volunteer_ids: Iterable[str], now: datetime) -> None:
    """Derive volunteers' attributes from their records, in bulk (see registry.refresh_person).

    A volunteer left without records is deleted, unless it is a merged-away pointer.
    """
    ids = sorted(set(volunteer_ids))
    table = VolunteerRecord.__table__
    for part in _chunks(ids):
        records: dict[str, list[dict[str, Any]]] = {}
        for row in session.execute(select(table).where(table.c.volunteer_id.in_(part))
                                   ).mappings():
            records.setdefault(row["volunteer_id"], []).append(row)
        people = {p.volunteer_id: p for p in session.scalars(
            select(Volunteer).where(Volunteer.volunteer_id.in_(part)))}
        for vid in part:
            rows, person = records.get(vid, []), people.get(vid)
            if not rows:
                if person is not None and person.status != "merged":
                    session.delete(person)
                continue
            if person is None:
                person = Volunteer(volunteer_id=vid, skills=[], updated_at=now)
                session.add(person)
            derive_person(person, rows, now)


def apply_registrations(session: Session, items: Iterable[tuple[Registration, str | None]],
                        now: datetime) -> set[str]:
    """Fold registry events (already new to the store) into records and volunteers.

    Parameters
    ----------
    items : iterable of (event, village_code)
        ``volunteer.registered`` / ``volunteer.updated`` events with their resolved village,
        in ``(occurred_at, event_id, source)`` order.

    Returns
    -------
    set of str
        Ids of the volunteers whose attributes changed.
    """
    items = list(items)
    if not items:
        return set()
    touched: set[str] = set()
    with session.no_autoflush:
        records = _load_records(session, {e.record_key for e, _ in items})
        changed: dict[Key, set[str]] = {}
        for event, village_code in items:
            key = event.record_key
            record = records.get(key)
            if record is None:
                record = VolunteerRecord(platform=key[0], source_id=key[1], status="active",
                                         kept_apart=False, field_times={}, event_count=0)
                session.add(record)
                records[key] = record
            changed.setdefault(key, set()).update(fold_record(record, event, village_code))
        batch = {k: records[k] for k in changed}
        index = _Index(session, batch)
        proposals = []
        for key, what in changed.items():
            record = records[key]
            # a record becomes a volunteer once it has a name (its registration may come late)
            if record.volunteer_id is None and not record.name:
                continue
            done, propose = _place(session, record, what, index, now)
            touched |= done
            if propose:
                proposals.append(record)
        _propose(session, proposals, index, now)
    session.flush()
    refresh_people(session, touched, now)
    session.flush()
    return touched

