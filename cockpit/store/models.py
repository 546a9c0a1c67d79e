"""Typed SQLAlchemy models of the store: incidents, their history, notices and metrics.

Incidents (current state) and their events (history), escalations, notifications and their
receipts, metric observations.

Times are stored as UTC; :class:`UTCDateTime` returns aware UTC datetimes on every dialect.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


_SQLITE_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


class UTCDateTime(TypeDecorator):
    """A datetime stored as naive UTC and returned as aware UTC, on SQLite and PostgreSQL.

    On SQLite the value is written as fixed-width text (``YYYY-MM-DD HH:MM:SS.ffffff``, the
    format SQLAlchemy itself uses there, so it sorts and compares as time) in one step: the
    ingest hot path binds hundreds of thousands of these.
    """

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect):
        """Text on SQLite, TIMESTAMP elsewhere."""
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(26))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | str | None:
        """Aware datetime → naive UTC (text on SQLite); a naive one raises ValueError."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        if value.tzinfo is not UTC:
            value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            # == strftime(_SQLITE_FORMAT) without the "+00:00", at a fraction of its cost
            return value.isoformat(" ", "microseconds")[:26]
        return value.replace(tzinfo=None)

    def process_result_value(self, value, dialect) -> datetime | None:
        """Stored value → aware UTC datetime."""
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    """Declarative base with a naming convention, so migrations name constraints stably."""

    metadata = MetaData(naming_convention=NAMING)


class Incident(Base):
    """Current state of one incident, folded from its events by ``occurred_at``."""

    __tablename__ = "incidents"

    incident_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    category: Mapped[str | None] = mapped_column(String(32))
    priority: Mapped[str | None] = mapped_column(String(16))
    stage: Mapped[str] = mapped_column(String(16))
    stage_at: Mapped[datetime] = mapped_column(UTCDateTime())
    title: Mapped[str | None] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(Text)
    #: The caller (报警人): personal data, masked on screen by role (cockpit.privacy).
    reporter_name: Mapped[str | None] = mapped_column(Text)
    reporter_phone: Mapped[str | None] = mapped_column(String(32))
    #: Keyed hash of the caller's ID number; the number itself is never stored.
    reporter_id_hash: Mapped[str | None] = mapped_column(String(80))
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    village_code: Mapped[str | None] = mapped_column(String(32))
    grid: Mapped[str | None] = mapped_column(Text)
    team: Mapped[str | None] = mapped_column(Text)
    unit: Mapped[str | None] = mapped_column(Text)
    disposition: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(128))
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    assessed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    arrived_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reopened_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Reopenings accepted, and moves the life cycle refused (cockpit.lifecycle).
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    illegal_count: Mapped[int] = mapped_column(Integer, default=0)
    #: Events that arrived after a later one of the same incident (the history was re-run).
    late_count: Mapped[int] = mapped_column(Integer, default=0)
    #: The life cycle's last move key and its notes (cockpit.lifecycle.Lifecycle.to_json).
    lifecycle: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: Team the routing rules suggest (code of governance.yaml); ``team`` is who was sent.
    suggested_team: Mapped[str | None] = mapped_column(String(64))
    #: Limit of the current stage, s, and when it runs out (None: final stage or no limit).
    limit_s: Mapped[float | None] = mapped_column(Float)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Ladder levels raised for the current stage's overrun (0 = none yet).
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    #: Repeat group (incident id of its earliest member) and its size; None when alone.
    repeat_group: Mapped[str | None] = mapped_column(String(128))
    repeat_size: Mapped[int] = mapped_column(Integer, default=0)
    #: field -> [occurred_at ISO, event_id] of the event that set it (latest wins).
    field_times: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    event_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        # (stage, due_at, village_code): open and overdue counts and the map's open incidents
        # per village from the index alone, the overdue board each open stage in due order;
        # (stage, stage_at): the map each stage newest first
        Index("ix_incidents_stage_due_village", "stage", "due_at", "village_code"),
        Index("ix_incidents_stage_stage_at", "stage", "stage_at"),
        Index("ix_incidents_reported_at", "reported_at"),
        Index("ix_incidents_closed_at", "closed_at"),
        Index("ix_incidents_village_code", "village_code"),
        Index("ix_incidents_updated_at", "updated_at"),
        Index("ix_incidents_due_at", "due_at"),
        Index("ix_incidents_repeat_group", "repeat_group"),
        Index("ix_incidents_category_reported", "category", "reported_at"),
    )


class IncidentEventRow(Base):
    """One accepted incident event: the history (timeline) of an incident.

    Keyed by ``(source, event_id)``: event ids are unique per producer (DESIGN §4).
    """

    __tablename__ = "incident_events"

    # event_id first: the duplicate check looks rows up by event_id through the primary key
    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    source: Mapped[str] = mapped_column(String(128), primary_key=True)
    incident_id: Mapped[str] = mapped_column(String(128))
    type: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    stream_id: Mapped[str] = mapped_column(String(48))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (
        Index("ix_incident_events_incident", "incident_id", "occurred_at"),
        # the latest event time (the wall's data age): max() from the index, not a scan
        Index("ix_incident_events_occurred_at", "occurred_at"),
    )


class MetricObservation(Base):
    """One ``metric.observed`` value."""

    __tablename__ = "metric_observations"

    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    source: Mapped[str] = mapped_column(String(128), primary_key=True)
    module: Mapped[str] = mapped_column(String(128))
    key: Mapped[str] = mapped_column(String(128))
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str | None] = mapped_column(Text)
    village_code: Mapped[str | None] = mapped_column(String(32))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    stream_id: Mapped[str] = mapped_column(String(48))

    __table_args__ = (Index("ix_metric_observations_key", "module", "key", "occurred_at"),)


class Escalation(Base):
    """One raised level of the escalation ladder for one overrun of one stage."""

    __tablename__ = "incident_escalations"

    incident_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    stage: Mapped[str] = mapped_column(String(16), primary_key=True)
    #: When the overrun stage was entered: a later entry of the same stage is a new overrun.
    stage_at: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    level: Mapped[str] = mapped_column(String(32), primary_key=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime())
    notification_id: Mapped[str] = mapped_column(String(200))

    __table_args__ = (Index("ix_incident_escalations_raised", "raised_at"),)


class Notification(Base):
    """One notice to the duty team (new incident, overdue escalation, unacknowledged, alert).

    Written in the transaction that caused it (an outbox) and published to the
    ``{prefix}notifications`` stream afterwards; ``delivered_*`` and ``acked_*`` come back as
    ``notification.delivered`` / ``notification.acknowledged`` events (the earliest wins).
    """

    __tablename__ = "notifications"

    notification_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    #: The incident the notice is about; None for an alert's (``alert_id``).
    incident_id: Mapped[str | None] = mapped_column(String(128))
    alert_id: Mapped[str | None] = mapped_column(String(200))
    #: new_incident | overdue | unacknowledged | alert
    kind: Mapped[str] = mapped_column(String(32))
    #: Ladder level addressed (governance.yaml escalation[].level).
    level: Mapped[str] = mapped_column(String(32))
    priority: Mapped[str | None] = mapped_column(String(16))
    category: Mapped[str | None] = mapped_column(String(32))
    village_code: Mapped[str | None] = mapped_column(String(32))
    text_zh: Mapped[str] = mapped_column(Text)
    text_en: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ack_due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    parent_id: Mapped[str | None] = mapped_column(String(200))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    stream_id: Mapped[str | None] = mapped_column(String(48))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_channel: Mapped[str | None] = mapped_column(String(32))
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acked_by: Mapped[str | None] = mapped_column(String(128))
    ack_channel: Mapped[str | None] = mapped_column(String(32))
    ack_from: Mapped[str | None] = mapped_column(String(128))
    #: When the next level was notified because this one was not acknowledged in time.
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_notifications_incident", "incident_id"),
        Index("ix_notifications_alert", "alert_id"),
        Index("ix_notifications_created_at", "created_at"),
        Index("ix_notifications_published_at", "published_at"),
        Index("ix_notifications_ack_due_at", "ack_due_at"),
    )


class NotificationReceipt(Base):
    """One ``notification.delivered`` / ``notification.acknowledged`` event (idempotent)."""

    __tablename__ = "notification_receipts"

    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    source: Mapped[str] = mapped_column(String(128), primary_key=True)
    notification_id: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(40))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    channel: Mapped[str | None] = mapped_column(String(32))
    by: Mapped[str | None] = mapped_column(String(128))
    origin: Mapped[str | None] = mapped_column(String(128))
    stream_id: Mapped[str] = mapped_column(String(48))

    __table_args__ = (Index("ix_notification_receipts_notification", "notification_id"),)


class User(Base):
    """A person who signs in: a local account (argon2 hash) or one named by the SSO proxy.

    ``villages`` scopes a ``staff`` account (village codes, comma-separated; empty = none);
    ``landlord_id`` names a ``landlord`` account's landlord (None for every other role).
    ``session_epoch`` moves on disable, role change and new password: sessions signed in under
    an older epoch end at their next request.
    """

    __tablename__ = "users"

    user_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str | None] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16))
    villages: Mapped[str] = mapped_column(Text, default="")
    landlord_id: Mapped[str | None] = mapped_column(String(128))
    password_hash: Mapped[str | None] = mapped_column(Text)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Kiosk(Base):
    """A wall screen's signed link; revoking it ends the screen's session within a minute."""

    __tablename__ = "kiosks"

    kiosk_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    #: Random; part of the signed link, so a revoked link stays void if re-created by name.
    nonce: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by: Mapped[str | None] = mapped_column(String(64))


class AuditEntry(Base):
    """One audited act: an unmasked view, an export, a sign-in, an account or link change.

    Append-only: database triggers (migration 0004) refuse UPDATE and DELETE, on SQLite and
    PostgreSQL alike; the app has no path that edits it.
    """

    __tablename__ = "audit_log"

    audit_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(64))
    role: Mapped[str | None] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str | None] = mapped_column(Text)
    origin: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_audit_log_at", "at"),)


# The volunteers module's tables share this metadata (migrations and create_all see them);
# imported last, once Base and UTCDateTime exist.
from cockpit.store import (  # noqa: E402, F401
    alert_models,
    map_models,
    volunteer_models,
    waste_models,
)
