"""Typed SQLAlchemy models of the waste-sorting module (docs/waste.md).

Households, landlords and stations are folded from their registry events (latest carrier of
each attribute wins); every disposal is one row keyed by its event; follow-ups are the tasks
the weak-household rule opens. Accuracy is never stored: it is counted from the disposals at
read time (:mod:`cockpit.waste.accuracy`), so every screen agrees with them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cockpit.store.models import Base, UTCDateTime


class Household(Base):
    """One household (户): local, or a tenant bound to its rental house and landlord."""

    __tablename__ = "households"

    household_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    #: local | tenant
    kind: Mapped[str] = mapped_column(String(16))
    village_code: Mapped[str | None] = mapped_column(String(32))
    #: The village as sent when it matched no known village (shown, not counted on the map).
    village_text: Mapped[str | None] = mapped_column(String(64))
    group_name: Mapped[str | None] = mapped_column(String(64))
    house_id: Mapped[str | None] = mapped_column(String(128))
    address: Mapped[str | None] = mapped_column(Text)
    landlord_id: Mapped[str | None] = mapped_column(String(128))
    #: Personal data, masked on screen by role (cockpit.privacy).
    head_name: Mapped[str | None] = mapped_column(Text)
    head_phone: Mapped[str | None] = mapped_column(String(32))
    members: Mapped[int | None] = mapped_column(Integer)
    moved_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    moved_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: The house's position (WGS-84 degrees) when the register gives one: grids count by it.
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    #: active | moved_out
    status: Mapped[str] = mapped_column(String(16), default="active")
    source: Mapped[str | None] = mapped_column(String(128))
    registered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: field -> [occurred_at ISO, event_id, source] of the event that set it (latest wins).
    field_times: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (
        Index("ix_households_village_group", "village_code", "group_name"),
        Index("ix_households_house", "house_id"),
        Index("ix_households_landlord", "landlord_id"),
    )


class Landlord(Base):
    """A landlord (房东) of rental houses; personal data masked on screen."""

    __tablename__ = "landlords"

    landlord_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    field_times: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class WasteStation(Base):
    """A collection station (投放点) where supervisors weigh and rate disposals."""

    __tablename__ = "waste_stations"

    station_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str | None] = mapped_column(Text)
    village_code: Mapped[str | None] = mapped_column(String(32))
    village_text: Mapped[str | None] = mapped_column(String(64))
    #: WGS-84 degrees.
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    #: active | closed
    status: Mapped[str] = mapped_column(String(16), default="active")
    source: Mapped[str | None] = mapped_column(String(128))
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    field_times: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class WasteDisposal(Base):
    """One rated disposal (一拍二称三评价), as its ``waste.disposal`` event gave it.

    ``household_id`` is the household as sent, or the one living in ``house_id`` at
    ``occurred_at`` when only the house was sent (``via_house``); None when no household or
    several lived there then. ``village_code`` is the household's village, else the station's.
    """

    __tablename__ = "waste_disposals"

    source: Mapped[str] = mapped_column(String(128), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    stream_id: Mapped[str] = mapped_column(String(48))
    #: Local (COCKPIT_TIMEZONE) day ``YYYY-MM-DD`` and ISO week ``YYYY-Www`` of ``occurred_at``.
    local_day: Mapped[str] = mapped_column(String(10))
    local_week: Mapped[str] = mapped_column(String(8))
    household_id: Mapped[str | None] = mapped_column(String(128))
    house_id: Mapped[str | None] = mapped_column(String(128))
    via_house: Mapped[bool] = mapped_column(Boolean, default=False)
    station_id: Mapped[str] = mapped_column(String(128))
    village_code: Mapped[str | None] = mapped_column(String(32))
    supervisor_id: Mapped[str | None] = mapped_column(String(128))
    #: A key in the photo store or an object URL; never the image.
    photo: Mapped[str | None] = mapped_column(String(512))
    weight_kg: Mapped[float] = mapped_column(Float)
    #: recyclable | perishable | residual | hazardous
    declared_class: Mapped[str] = mapped_column(String(16))
    #: True when the supervisor rated the disposal correct.
    correct: Mapped[bool] = mapped_column(Boolean)
    found_class: Mapped[str | None] = mapped_column(String(16))
    found_item: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_waste_disposals_household_time", "household_id", "occurred_at"),
        Index("ix_waste_disposals_village_day", "village_code", "local_day"),
        Index("ix_waste_disposals_day", "local_day"),
        Index("ix_waste_disposals_station_day", "station_id", "local_day"),
        Index("ix_waste_disposals_house", "house_id"),
        #: The photo route checks a key against the disposals that name it.
        Index("ix_waste_disposals_photo", "photo"),
    )


class WasteEventRow(Base):
    """One accepted registry or follow-up event, without personal fields (the audit trail).

    Disposals are not repeated here: their row in ``waste_disposals`` is their record.
    """

    __tablename__ = "waste_events"

    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    source: Mapped[str] = mapped_column(String(128), primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    #: ``household:<id>``, ``station:<id>`` or ``followup:<id>``.
    subject: Mapped[str] = mapped_column(String(300))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    stream_id: Mapped[str] = mapped_column(String(48))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (Index("ix_waste_events_subject", "subject", "occurred_at"),)


class FollowUp(Base):
    """A weak household's follow-up task (薄弱户上门指导): found, assigned, visited.

    Its effect (accuracy before and after the visit) is counted from the disposals at read time.
    """

    __tablename__ = "waste_followups"

    followup_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    household_id: Mapped[str] = mapped_column(String(128))
    #: below | falling
    reason: Mapped[str] = mapped_column(String(16))
    #: The figures that made it weak: {"correct", "total", "window_days", ...}.
    finding: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    found_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: open | assigned | visited | cancelled
    status: Mapped[str] = mapped_column(String(16), default="open")
    assignee_id: Mapped[str | None] = mapped_column(String(128))
    assignee_kind: Mapped[str | None] = mapped_column(String(16))
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    visited_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: educated | not_home | refused | moved_out
    outcome: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    visited_by: Mapped[str | None] = mapped_column(String(128))
    village_code: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_waste_followups_household", "household_id", "found_at"),
        Index("ix_waste_followups_status_village", "status", "village_code"),
    )
