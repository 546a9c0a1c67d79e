"""Typed SQLAlchemy model of raised alerts (docs/alerts.md).

One row per episode of one rule in one scope: raised when the rule's condition began to hold,
cleared when it stopped. ``alert_id`` is ``<rule>/<scope>/<n>`` (the n-th episode), so two
evaluations that race or a re-run after a crash cannot raise the same episode twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cockpit.store.models import Base, UTCDateTime


class Alert(Base):
    """One alert episode; its notice is the ``notifications`` row ``notification_id``."""

    __tablename__ = "alerts"

    alert_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(48))
    #: A village code, or ``subdistrict``.
    scope: Mapped[str] = mapped_column(String(32))
    seq: Mapped[int] = mapped_column(Integer)
    #: critical | urgent | normal | low (the notice's priority).
    severity: Mapped[str] = mapped_column(String(16))
    village_code: Mapped[str | None] = mapped_column(String(32))
    title_zh: Mapped[str] = mapped_column(Text)
    title_en: Mapped[str] = mapped_column(Text)
    compare: Mapped[str] = mapped_column(String(2))
    threshold: Mapped[float] = mapped_column(Float)
    unit_zh: Mapped[str | None] = mapped_column(String(32))
    unit_en: Mapped[str | None] = mapped_column(String(32))
    #: The measure when raised, and its latest figure while active (None: no figure).
    raised_value: Mapped[float] = mapped_column(Float)
    value: Mapped[float | None] = mapped_column(Float)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime())
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime())
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cleared_value: Mapped[float | None] = mapped_column(Float)
    notification_id: Mapped[str] = mapped_column(String(200))

    __table_args__ = (
        Index("ix_alerts_rule_scope", "rule_id", "scope", "seq"),
        Index("ix_alerts_cleared_at", "cleared_at"),
        Index("ix_alerts_raised_at", "raised_at"),
    )
