"""The registry: one volunteer per person, although records arrive from several platforms.

* A record (``(platform, source_id)``) takes each attribute from its latest event carrying it,
  by ``(occurred_at, event_id, source)``, so delivery order and repeats do not matter.
* A new record whose ID-number hash is already known joins that person at once (an automatic
  merge, logged and undoable). Without a shared ID number, the same phone number only proposes
  the pair for review: :class:`~cockpit.store.volunteer_models.MergeCandidate`.
* A merge re-points records from one volunteer to another and keeps every source id; its undo
  re-points them back and marks them ``kept_apart`` so they are never joined automatically
  again.
* A person's attributes are derived from their records (latest carrier across records wins).
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from cockpit.store.volunteer_models import (
    MergeCandidate,
    Volunteer,
    VolunteerMerge,
    VolunteerRecord,
)

#: Person attributes derived from records.
PERSON_FIELDS = ("name", "phone", "id_hash", "team", "team_kind", "skills", "village_code", "grid")


class MergeError(ValueError):
    """A merge or undo that cannot be done; the message says why."""


def person_id(platform: str, source_id: str) -> str:
    """Id of the volunteer first made for a record: ``V`` + 12 hex of SHA-1 of its key."""
    digest = hashlib.sha1(f"{platform}\x1f{source_id}".encode()).hexdigest()
    return f"V{digest[:12]}"


def name_key(name: str | None) -> str:
    """A name compared loosely: NFKC, no spaces or dots, lower case (张 三 = 张三, ·)."""
    if not name:
        return ""
    text = unicodedata.normalize("NFKC", name)
    return "".join(ch for ch in text if ch.isalnum()).lower()


_DERIVE_FROM = (*PERSON_FIELDS, "field_times", "status", "registered_at", "updated_at",
                "platform", "source_id")
_FAR_FUTURE = "9999"


def _primary_key(row: dict[str, Any]) -> tuple:
    at = row["registered_at"]
    return (at.isoformat() if at is not None else _FAR_FUTURE, row["platform"], row["source_id"])


def derive_person(person: Volunteer, rows: Sequence[dict[str, Any]], now: datetime) -> None:
    """Set a volunteer's attributes from their records (dicts of record columns).

    Each attribute comes from the latest record event carrying it, across records, except the
    name: that of the volunteer's first-registered record carrying one (a later platform's
    variant spelling does not rename the person; a correction on that record does).
    """
    for column in PERSON_FIELDS:
        best, value = None, None
        for row in rows:
            stamp = (row["field_times"] or {}).get(column)
            if stamp is not None and (best is None or stamp > best):
                best, value = stamp, row[column]
        setattr(person, column, [] if column == "skills" and value is None else value)
    named = sorted((r for r in rows if r["name"]), key=_primary_key)
    if named:
        person.name = named[0]["name"]
    person.status = "active" if any(r["status"] == "active" for r in rows) else "inactive"
    person.merged_into = None
    person.record_count = len(rows)
    registered = [r["registered_at"] for r in rows if r["registered_at"] is not None]
    person.registered_at = min(registered) if registered else None
    updated = [r["updated_at"] for r in rows if r["updated_at"] is not None]
    person.updated_at = max(updated) if updated else now


def refresh_person(session: Session, volunteer_id: str, now: datetime) -> Volunteer | None:
    """Derive a volunteer's attributes from their records; deletes a volunteer left without any.

    Returns the volunteer, or None when it has no record any more.
    """
    records = session.scalars(select(VolunteerRecord)
                              .where(VolunteerRecord.volunteer_id == volunteer_id)).all()
    person = session.get(Volunteer, volunteer_id)
    if not records:
        if person is not None and person.status != "merged":
            session.delete(person)
        return None
    if person is None:
        person = Volunteer(volunteer_id=volunteer_id, skills=[], updated_at=now)
        session.add(person)
    derive_person(person, [{c: getattr(r, c) for c in _DERIVE_FROM} for r in records], now)
    return person


def _log_merge(session: Session, into_id: str, from_id: str, records: Sequence[VolunteerRecord],
               reason: str, now: datetime, by: str | None,
               candidate_id: int | None = None) -> VolunteerMerge:
    merge = VolunteerMerge(into_id=into_id, from_id=from_id,
                           records=[[r.platform, r.source_id] for r in records], reason=reason,
                           candidate_id=candidate_id, merged_at=now, merged_by=by)
    session.add(merge)
    return merge


def _move_records(session: Session, from_id: str, into_id: str) -> list[VolunteerRecord]:
    records = session.scalars(select(VolunteerRecord)
                              .where(VolunteerRecord.volunteer_id == from_id)).all()
    for record in records:
        record.volunteer_id = into_id
    return list(records)


def _retire(session: Session, from_id: str, into_id: str, now: datetime) -> None:
    """Keep the merged volunteer's row as a pointer, so old links lead to the person."""
    person = session.get(Volunteer, from_id)
    if person is None:
        person = Volunteer(volunteer_id=from_id, skills=[], updated_at=now)
        session.add(person)
    person.status = "merged"
    person.merged_into = into_id
    person.record_count = 0
    person.updated_at = now


def _close_candidates(session: Session, a: str, b: str, now: datetime) -> None:
    low, high = sorted((a, b))
    row = session.scalar(select(MergeCandidate).where(MergeCandidate.volunteer_a == low,
                                                      MergeCandidate.volunteer_b == high))
    if row is not None and row.status == "open":
        row.status, row.decided_at, row.decided_by = "merged", now, "same_id_number"


def merge(session: Session, into_id: str, from_id: str, by: str, now: datetime,
          candidate_id: int | None = None) -> VolunteerMerge:
    """Merge volunteer ``from_id`` into ``into_id`` (a reviewer's decision).

    Every record of ``from_id`` then belongs to ``into_id``; ``from_id`` stays as a pointer
    (status ``merged``). Returns the logged merge.

    Raises
    ------
    MergeError
        If either volunteer is unknown or already merged, or they are the same.
    """
    if into_id == from_id:
        raise MergeError("a volunteer cannot be merged into itself")
    into = session.get(Volunteer, into_id)
    source = session.get(Volunteer, from_id)
    for vid, person in ((into_id, into), (from_id, source)):
        if person is None:
            raise MergeError(f"no volunteer {vid}")
        if person.status == "merged":
            raise MergeError(f"volunteer {vid} was merged into {person.merged_into} already")
    moved = _move_records(session, from_id, into_id)
    entry = _log_merge(session, into_id, from_id, moved, "review", now, by, candidate_id)
    session.flush()  # the merge's number, for the candidate and the caller
    _retire(session, from_id, into_id, now)
    session.flush()
    refresh_person(session, into_id, now)
    low, high = sorted((into_id, from_id))
    row = session.scalar(select(MergeCandidate).where(MergeCandidate.volunteer_a == low,
                                                      MergeCandidate.volunteer_b == high))
    if row is not None:
        row.status, row.decided_at, row.decided_by, row.merge_id = "merged", now, by, \
            entry.merge_id
    _repoint_candidates(session, from_id, into_id)
    return entry


def _repoint_candidates(session: Session, old: str, new: str) -> None:
    """Open candidates naming a merged volunteer are closed (the survivor is proposed anew)."""
    rows = session.scalars(select(MergeCandidate).where(
        MergeCandidate.status == "open",
        or_(MergeCandidate.volunteer_a == old, MergeCandidate.volunteer_b == old))).all()
    for row in rows:
        row.status = "superseded"


def undo(session: Session, merge_id: int, by: str, now: datetime) -> VolunteerMerge:
    """Undo a merge: its records return to the volunteer they came from, kept apart from now on.

    Raises
    ------
    MergeError
        If there is no such merge, it was undone already, or a later merge moved its records on
        (undo that one first).
    """
    entry = session.get(VolunteerMerge, merge_id)
    if entry is None:
        raise MergeError(f"no merge {merge_id}")
    if entry.undone_at is not None:
        raise MergeError(f"merge {merge_id} was undone already")
    keys = [tuple(k) for k in entry.records]
    records = [session.get(VolunteerRecord, key) for key in keys]
    elsewhere = [f"{r.platform}/{r.source_id}" for r in records
                 if r is not None and r.volunteer_id != entry.into_id]
    if elsewhere:
        raise MergeError(f"records {', '.join(elsewhere)} moved on since; undo the later merge "
                         "first")
    for record in records:
        if record is not None:
            record.volunteer_id = entry.from_id
            record.kept_apart = True
    entry.undone_at, entry.undone_by = now, by
    session.flush()
    refresh_person(session, entry.from_id, now)
    refresh_person(session, entry.into_id, now)
    if entry.candidate_id is not None:
        row = session.get(MergeCandidate, entry.candidate_id)
        if row is not None:
            row.status, row.decided_at, row.decided_by = "open", now, by
    return entry


def reject(session: Session, candidate_id: int, by: str, now: datetime) -> MergeCandidate:
    """Mark a proposed pair as two different people; it is not proposed again.

    Raises MergeError if there is no such open candidate.
    """
    row = session.get(MergeCandidate, candidate_id)
    if row is None or row.status != "open":
        raise MergeError(f"no open merge candidate {candidate_id}")
    row.status, row.decided_at, row.decided_by = "rejected", now, by
    return row


def record_map(session: Session, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Any]:
    """Volunteer id of each record key that has one (records not yet registered are absent)."""
    keys = set(keys)
    out: dict[tuple[str, str], Any] = {}
    if not keys:
        return out
    by_platform: dict[str, list[str]] = {}
    for platform, source_id in keys:
        by_platform.setdefault(platform, []).append(source_id)
    for platform, ids in by_platform.items():
        for start in range(0, len(ids), 500):
            part = ids[start:start + 500]
            rows = session.execute(select(VolunteerRecord.source_id, VolunteerRecord.volunteer_id)
                                   .where(VolunteerRecord.platform == platform,
                                          VolunteerRecord.source_id.in_(part)))
            for source_id, volunteer_id in rows:
                if volunteer_id is not None:
                    out[(platform, source_id)] = volunteer_id
    return out
