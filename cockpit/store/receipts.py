"""Notification receipts: stored once, and their notices marked delivered and acknowledged.

A notice takes the earliest ``notification.delivered`` and ``notification.acknowledged`` of its
receipts, whatever order they arrive in; an acknowledgement also answers the rest of the
notice's chain (:func:`ack_chain`). Part of a batch's fold (:mod:`cockpit.store.apply`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cockpit.events import NotificationAcknowledged, NotificationReceipt
from cockpit.store.bulk import insert_rows
from cockpit.store.history import chunks
from cockpit.store.models import Notification
from cockpit.store.models import NotificationReceipt as ReceiptRow


def ack_chain(session: Session, notification_id: str, values: dict[str, Any]) -> None:
    """Acknowledge the rest of a notice's chain that is not acknowledged yet.

    An acknowledged notice answers the notices it was raised from and those raised from it
    (``.../unack/<level>``).
    """
    notices = Notification.__table__
    chain = set()
    current = notification_id
    while current and current not in chain:
        chain.add(current)
        current = session.scalar(select(notices.c.parent_id)
                                 .where(notices.c.notification_id == current))
    ack = {k: v for k, v in values.items() if k.startswith("ack")}
    session.execute(notices.update()
                    .where(notices.c.acked_at.is_(None),
                           notices.c.notification_id.in_(sorted(chain))
                           | notices.c.notification_id.startswith(f"{notification_id}/unack/",
                                                                  autoescape=True))
                    .values(**ack))


def apply_receipts(session: Session, items: Sequence[tuple[NotificationReceipt, str]],
                   now: datetime) -> int:
    """Store receipts (idempotent) and set their notifications' earliest delivery / ack.

    Returns how many receipts were new (the rest were stored already).
    """
    table = ReceiptRow.__table__
    stored = 0
    for event, stream_id in items:
        ack = isinstance(event, NotificationAcknowledged)
        stored += insert_rows(session.connection(), table, [{
            "event_id": event.event_id, "source": event.source,
            "notification_id": event.notification_id, "type": event.type,
            "occurred_at": event.occurred_at, "received_at": now, "channel": event.channel,
            "by": event.by if ack else None, "origin": event.origin if ack else None,
            "stream_id": stream_id}], skip_conflicts=True)
    ids = sorted({e.notification_id for e, _ in items})
    notices = Notification.__table__
    for part in chunks(ids):
        earliest: dict[tuple[str, str], Any] = {}
        rows = session.execute(
            select(table).where(table.c.notification_id.in_(part))
            .order_by(table.c.occurred_at, table.c.event_id, table.c.source)).mappings()
        for row in rows:
            earliest.setdefault((row["notification_id"], row["type"]), row)
        for notification_id in part:
            values: dict[str, Any] = {}
            delivered = earliest.get((notification_id, "notification.delivered"))
            if delivered is not None:
                values.update(delivered_at=delivered["occurred_at"],
                              delivered_channel=delivered["channel"])
            acked = earliest.get((notification_id, "notification.acknowledged"))
            if acked is not None:
                values.update(acked_at=acked["occurred_at"], acked_by=acked["by"],
                              ack_channel=acked["channel"], ack_from=acked["origin"])
            if values:
                session.execute(notices.update()
                                .where(notices.c.notification_id == notification_id)
                                .values(**values))
            if acked is not None:
                ack_chain(session, notification_id, values)
    return stored
