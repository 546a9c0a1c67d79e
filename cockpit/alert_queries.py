"""The alerts list: active, acknowledged and cleared alerts with their notice's acknowledgement.

An alert is ``active`` while its condition holds and nobody acknowledged its notice,
``acknowledged`` while it holds and someone did (on the wall, or a receipt of the voice and
SMS gateway), ``cleared`` once the condition stopped holding (acknowledged or not).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from cockpit.alert_measures import alert_text, scope_name
from cockpit.clock import utc_now
from cockpit.store.alert_models import Alert
from cockpit.store.models import Notification

STATUSES = ("active", "acknowledged", "cleared")
#: Cleared alerts listed by default: those cleared within this many days.
CLEARED_DAYS = 7.0


def _iso(value: datetime | None, tz: ZoneInfo) -> str | None:
    return value.astimezone(tz).isoformat() if value is not None else None


def status_of(cleared_at: datetime | None, acked_at: datetime | None) -> str:
    """Return ``cleared``, ``acknowledged`` or ``active`` (see the module docstring)."""
    if cleared_at is not None:
        return "cleared"
    return "acknowledged" if acked_at is not None else "active"


def list_alerts(session: Session, tz: ZoneInfo, *, status: str | None = None,
                scope: Sequence[str] | None = None, now: datetime | None = None,
                cleared_days: float = CLEARED_DAYS, limit: int = 200) -> dict[str, Any]:
    """Return alerts, uncleared first then newest first, and how many of each status.

    Parameters
    ----------
    session : Session
        Read only.
    tz : ZoneInfo
        Zone of the times returned (ISO-8601).
    status : {"active", "acknowledged", "cleared"}, optional
        Only alerts of this status.
    scope : sequence of str, optional
        A staff account's village codes: only alerts of those villages (subdistrict-wide
        alerts are left out).
    now : datetime, optional
        Aware; cleared alerts count when cleared within ``cleared_days`` before it.
    limit : int
        Items returned at most (1-1000); the counts count every alert.

    Returns
    -------
    dict
        ``counts`` (status -> number) and ``items``: ``alert_id, rule_id, scope, scope_zh,
        scope_en, village_code, severity, status, title_zh, title_en, text_zh, text_en,
        compare, threshold, raised_value, value, raised_at, cleared_at, notification_id,
        acked_at, acked_by, ack_channel``.

    Raises
    ------
    ValueError
        For an unknown ``status``.
    """
    if status is not None and status not in STATUSES:
        raise ValueError(f"unknown status {status!r}; one of {', '.join(STATUSES)}")
    since = (now or utc_now()) - timedelta(days=cleared_days)
    query = (select(Alert, Notification.acked_at, Notification.acked_by,
                    Notification.ack_channel)
             .outerjoin(Notification, Notification.notification_id == Alert.notification_id)
             .where(Alert.cleared_at.is_(None) | (Alert.cleared_at >= since)))
    if scope is not None:
        query = query.where(Alert.village_code.in_(list(scope)))
    counts = dict.fromkeys(STATUSES, 0)
    items = []
    for alert, acked_at, acked_by, channel in session.execute(
            query.order_by(Alert.cleared_at.is_not(None), Alert.raised_at.desc(),
                           Alert.alert_id)):
        state = status_of(alert.cleared_at, acked_at)
        counts[state] += 1
        if (status is not None and state != status) or len(items) >= max(1, min(limit, 1000)):
            continue
        texts = {lang: alert_text(alert.scope, alert.title_zh, alert.title_en, alert.compare,
                                  alert.threshold, alert.raised_value, alert.unit_zh or "",
                                  alert.unit_en or "", lang) for lang in ("zh", "en")}
        items.append({
            "alert_id": alert.alert_id, "rule_id": alert.rule_id, "scope": alert.scope,
            "scope_zh": scope_name(alert.scope, "zh"), "scope_en": scope_name(alert.scope, "en"),
            "village_code": alert.village_code, "severity": alert.severity, "status": state,
            "title_zh": alert.title_zh, "title_en": alert.title_en,
            "text_zh": texts["zh"], "text_en": texts["en"], "compare": alert.compare,
            "threshold": alert.threshold, "raised_value": alert.raised_value,
            "value": alert.value, "raised_at": _iso(alert.raised_at, tz),
            "cleared_at": _iso(alert.cleared_at, tz), "notification_id": alert.notification_id,
            "acked_at": _iso(acked_at, tz), "acked_by": acked_by, "ack_channel": channel})
    return {"counts": counts, "items": items}
