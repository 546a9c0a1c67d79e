"""Typed SQLAlchemy models of the volunteers module (docs/volunteers.md).

A *record* is one platform's registration of a volunteer, keyed ``(platform, source_id)``; a
*volunteer* is one person, the union of the records joined to it. Every per-person fact
(attendances, points, mobilisation answers) is stored against the record it arrived with and
reaches the person through ``volunteer_records.volunteer_id``, so a merge or its undo moves no
fact: it only re-points records.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cockpit.store.models import Base, UTCDateTime


class Volunteer(Base):
    """One person: attributes derived from their records (latest carrier of each wins)."""

    __tablename__ = "volunteers"

    volunteer_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    #: Personal data, masked on screen by role (cockpit.privacy).
    name: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(32))
    #: Keyed hash of the ID number (HMAC-SHA256, COCKPIT_PD_KEY); the number is never stored.
    id_hash: Mapped[str | None] = mapped_column(String(80))
    team: Mapped[str | None] = mapped_column(Text)
    team_kind: Mapped[str | None] = mapped_column(String(16))
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    village_code: Mapped[str | None] = mapped_column(String(32))
    grid: Mapped[str | None] = mapped_column(Text)
    #: active | inactive (every record inactive) | merged (into ``merged_into``).
    status: Mapped[str] = mapped_column(String(16), default="active")
    merged_into: Mapped[str | None] = mapped_column(String(40))
    record_count: Mapped[int] = mapped_column(Integer, default=0)
    registered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_volunteers_village_status", "village_code", "status"),
        Index("ix_volunteers_id_hash", "id_hash"),
        Index("ix_volunteers_phone", "phone"),
        Index("ix_volunteers_team", "team"),
    )


class VolunteerRecord(Base):
    """One platform's record of a volunteer, folded from its registry events."""

    __tablename__ = "volunteer_records"

    platform: Mapped[str] = mapped_column(String(128), primary_key=True)
    source_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    #: The person this record belongs to; None until its registration arrives.
    volunteer_id: Mapped[str | None] = mapped_column(String(40))
    name: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(32))
    id_hash: Mapped[str | None] = mapped_column(String(80))
    team: Mapped[str | None] = mapped_column(Text)
    team_kind: Mapped[str | None] = mapped_column(String(16))
    skills: Mapped[list[str] | None] = mapped_column(JSON)
    village_code: Mapped[str | None] = mapped_column(String(32))
    grid: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="active")
    #: Set when a reviewer undid a merge of this record: it is never joined automatically again.
    kept_apart: Mapped[bool] = mapped_column(Boolean, default=False)
    registered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: field -> [occurred_at ISO, event_id, source] of the event that set it (latest wins).
    field_times: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    event_count: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        Index("ix_volunteer_records_volunteer", "volunteer_id"),
        Index("ix_volunteer_records_id_hash", "id_hash"),
        Index("ix_volunteer_records_phone", "phone"),
    )


class VolunteerEventRow(Base):
    """One accepted volunteer-stream event, without its personal fields (the audit trail).

    Points, hours and answers name the events that gave them by ``(source, event_id)``.
    """

    __tablename__ = "volunteer_events"

    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    source: Mapped[str] = mapped_column(String(128), primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    #: The record, activity, mobilisation or campaign the event is about.
    subject: Mapped[str] = mapped_column(String(512))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    stream_id: Mapped[str] = mapped_column(String(48))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (
        Index("ix_volunteer_events_subject", "subject", "occurred_at"),
        Index("ix_volunteer_events_type_time", "type", "occurred_at"),
    )


class MergeCandidate(Base):
    """Two volunteers that may be one person (same phone, no shared ID number): for review."""

    __tablename__ = "volunteer_merge_candidates"

    candidate_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: The two volunteers, ``volunteer_a < volunteer_b``.
    volunteer_a: Mapped[str] = mapped_column(String(40))
    volunteer_b: Mapped[str] = mapped_column(String(40))
    #: same_phone | same_phone_name
    reason: Mapped[str] = mapped_column(String(32))
    #: open | merged | rejected
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(64))
    merge_id: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        Index("ix_volunteer_merge_candidates_pair", "volunteer_a", "volunteer_b", unique=True),
        Index("ix_volunteer_merge_candidates_status", "status"),
    )


class VolunteerMerge(Base):
    """One merge: records moved from one volunteer into another; undoable."""

    __tablename__ = "volunteer_merges"

    merge_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    into_id: Mapped[str] = mapped_column(String(40))
    from_id: Mapped[str] = mapped_column(String(40))
    #: ``[[platform, source_id], ...]`` moved by this merge.
    records: Mapped[list[Any]] = mapped_column(JSON)
    #: same_id_number (automatic) | review (from the merge queue)
    reason: Mapped[str] = mapped_column(String(32))
    candidate_id: Mapped[int | None] = mapped_column(Integer)
    merged_at: Mapped[datetime] = mapped_column(UTCDateTime())
    merged_by: Mapped[str | None] = mapped_column(String(64))
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    undone_by: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (Index("ix_volunteer_merges_into", "into_id"),
                      Index("ix_volunteer_merges_from", "from_id"))


class Activity(Base):
    """A published activity: place, time and the number of people needed."""

    __tablename__ = "volunteer_activities"

    activity_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    source: Mapped[str] = mapped_column(String(128))
    title: Mapped[str] = mapped_column(Text)
    kind: Mapped[str | None] = mapped_column(Text)
    team: Mapped[str | None] = mapped_column(Text)
    place: Mapped[str | None] = mapped_column(Text)
    village_code: Mapped[str | None] = mapped_column(String(32))
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    needed: Mapped[int | None] = mapped_column(Integer)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: [occurred_at ISO, event_id, source] of the publication in force (latest wins).
    version: Mapped[list[Any]] = mapped_column(JSON)

    __table_args__ = (Index("ix_volunteer_activities_time", "starts_at", "ends_at"),
                      Index("ix_volunteer_activities_village", "village_code"))


class Attendance(Base):
    """A record's check-in and check-out at one activity, and the hours they give."""

    __tablename__ = "volunteer_attendances"

    activity_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    platform: Mapped[str] = mapped_column(String(128), primary_key=True)
    source_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    checked_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Closed by the cockpit at the activity's end: no check-out came in time.
    auto_closed: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Minutes from check-in to check-out (or to the activity's end when auto-closed).
    minutes: Mapped[int | None] = mapped_column(Integer)
    #: Both check-in and check-out present and plausible (cockpit.volunteers.hours).
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Why the hours are not verified, e.g. ``no_checkout``; None when verified.
    flag: Mapped[str | None] = mapped_column(String(32))
    rating: Mapped[int | None] = mapped_column(Integer)
    #: ``["source/event_id", ...]`` of the check-in and check-out events.
    basis: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Still on duty: checked in, not out, not auto-closed (the wall's "on duty now").
    open: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_volunteer_attendances_record", "platform", "source_id"),
                      Index("ix_volunteer_attendances_open", "open"),
                      Index("ix_volunteer_attendances_in", "checked_in_at"))


class PointsEntry(Base):
    """One entry of the points ledger (积分), traceable to the events that earned it."""

    __tablename__ = "volunteer_points"

    entry_id: Mapped[str] = mapped_column(String(400), primary_key=True)
    platform: Mapped[str] = mapped_column(String(128))
    source_id: Mapped[str] = mapped_column(String(128))
    #: verified_hours | rating | mobilization
    rule: Mapped[str] = mapped_column(String(32))
    #: What the rule counted: minutes, the rating, or 1 arrival.
    quantity: Mapped[float] = mapped_column(Float)
    points: Mapped[int] = mapped_column(Integer)
    #: Local month (YYYY-MM) of the work, for the monthly assessment.
    month: Mapped[str] = mapped_column(String(7))
    earned_at: Mapped[datetime] = mapped_column(UTCDateTime())
    activity_id: Mapped[str | None] = mapped_column(String(128))
    mobilization_id: Mapped[str | None] = mapped_column(String(128))
    #: ``["source/event_id", ...]`` of the events that earned it.
    basis: Mapped[list[str]] = mapped_column(JSON)
    #: Fingerprint of the points rules that computed it.
    rules: Mapped[str] = mapped_column(String(16))

    __table_args__ = (Index("ix_volunteer_points_record", "platform", "source_id", "month"),
                      Index("ix_volunteer_points_month", "month"))


class Mobilization(Base):
    """A request for volunteers in a village, by a deadline."""

    __tablename__ = "mobilizations"

    mobilization_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    source: Mapped[str] = mapped_column(String(128))
    title: Mapped[str | None] = mapped_column(Text)
    place: Mapped[str | None] = mapped_column(Text)
    village_code: Mapped[str | None] = mapped_column(String(32))
    village_hint: Mapped[str] = mapped_column(Text)
    needed: Mapped[int] = mapped_column(Integer)
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    deadline: Mapped[datetime] = mapped_column(UTCDateTime())
    #: When the centre last asked again those who had not answered (re-call).
    recalled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    recall_count: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (Index("ix_mobilizations_deadline", "deadline"),)


class MobilizationAnswer(Base):
    """One record asked by a mobilisation, and its answers (accepted, declined, arrived)."""

    __tablename__ = "mobilization_answers"

    mobilization_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    platform: Mapped[str] = mapped_column(String(128), primary_key=True)
    source_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    #: When asked; None for someone who answered without being asked (walk-in).
    asked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    declined_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    arrived_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    basis: Mapped[list[str]] = mapped_column(JSON, default=list)

    __table_args__ = (Index("ix_mobilization_answers_record", "platform", "source_id"),)


class SignUp(Base):
    """One sign-up to a recruitment campaign."""

    __tablename__ = "recruitment_signups"

    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    source: Mapped[str] = mapped_column(String(128), primary_key=True)
    campaign_id: Mapped[str] = mapped_column(String(128))
    campaign: Mapped[str | None] = mapped_column(Text)
    target: Mapped[int | None] = mapped_column(Integer)
    village_code: Mapped[str | None] = mapped_column(String(32))
    channel: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_recruitment_signups_campaign", "campaign_id", "occurred_at"),)
