"""Texts and rows of notifications: new incidents, overdue escalations, unacknowledged notices.

The zh-CN text is what the duty team hears (the wall's speech synthesis and the voice gateway)
and reads (SMS): category, village and address, e.g. ``紧急火情，乔司社区，乔司街道三角村路12号``.
No personal data goes into a notice (incidents carry none in their fields).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from cockpit import geo
from cockpit.governance_config import GovernanceConfig
from cockpit.vocab import CATEGORY_TERMS, PRIORITY_TERMS, STAGE_TERMS, label

#: Longest notification id (the column's width).
MAX_ID = 200
#: Longest address spoken or sent, characters (a notice is heard, not read).
MAX_ADDRESS = 40
KINDS = ("new_incident", "overdue", "unacknowledged", "alert")


def fit_id(notification_id: str) -> str:
    """Return the id as it is, or its head and a hash when longer than :data:`MAX_ID`.

    The shortened id is still unique and the same every time for the same full id.
    """
    if len(notification_id) <= MAX_ID:
        return notification_id
    digest = hashlib.sha256(notification_id.encode()).hexdigest()[:24]
    return f"{notification_id[:MAX_ID - 25]}~{digest}"


def _village(code: str | None, lang: str) -> str | None:
    if not code:
        return None
    info = geo.village_names().get(code)
    if info is None:
        return code
    return info["name"] if lang == "zh" else info["name_en"]


def _minutes(seconds: float, lang: str) -> str:
    minutes = max(1, round(seconds / 60))
    hours, rest = divmod(minutes, 60)
    h, m = ("小时", "分钟") if lang == "zh" else (" h", " min")
    sep = "" if lang == "zh" else " "
    if minutes < 120:
        return f"{minutes}{m}"
    return f"{hours}{h}{sep}{rest}{m}" if rest else f"{hours}{h}"


def incident_phrase(incident: dict[str, Any], lang: str = "zh") -> str:
    """Return ``priority category, village, address`` of an incident in ``lang`` ("zh"/"en").

    ``incident`` is a column → value mapping with ``priority``, ``category`` (codes),
    ``village_code`` and ``address``; missing parts are left out.
    """
    priority = incident.get("priority")
    category = incident.get("category") or "other"
    cat = label(CATEGORY_TERMS, category, lang)
    head = cat
    if priority in ("critical", "urgent"):
        prio = label(PRIORITY_TERMS, priority, lang)
        head = f"{prio}{cat}" if lang == "zh" else f"{prio} {cat.lower()}"
    parts = [head]
    village = _village(incident.get("village_code"), lang)
    if village:
        parts.append(village)
    address = (incident.get("address") or "").strip()
    if address:
        parts.append(address[:MAX_ADDRESS])
    return ("，" if lang == "zh" else ", ").join(parts)


def notice_text(kind: str, incident: dict[str, Any], lang: str = "zh",
                level_label: str | None = None, late_s: float | None = None) -> str:
    """Return the text of a notice of ``kind`` (see :data:`KINDS`) about ``incident``.

    Examples (zh): ``新警情：紧急火情，乔司社区，乔司街道三角村路12号``;
    ``超时督办（科室负责人）：火情，乔司社区，已派遣超时12分钟``;
    ``未确认升级（分管领导）：新警情：火情，乔司社区``.
    """
    phrase = incident_phrase(incident, lang)
    if kind == "new_incident":
        return f"新警情：{phrase}" if lang == "zh" else f"New incident: {phrase}"
    stage = label(STAGE_TERMS, incident.get("stage") or "", lang)
    if kind == "overdue":
        late = _minutes(late_s or 0, lang)
        if lang == "zh":
            return f"超时督办（{level_label}）：{phrase}，{stage}超时{late}"
        return f"Overdue ({level_label}): {phrase}; {stage.lower()} {late} late"
    if lang == "zh":
        return f"未确认升级（{level_label}）：{phrase}"
    return f"Not acknowledged, raised ({level_label}): {phrase}"


def notice_row(notification_id: str, kind: str, incident: dict[str, Any],
               config: GovernanceConfig, level_index: int, now: datetime,
               parent_id: str | None = None, late_s: float | None = None) -> dict[str, Any]:
    """Return a ``notifications`` row (column → value) addressed to ladder level ``level_index``.

    ``ack_due_at`` is ``now`` plus the level's ``ack_within``.
    """
    level = config.escalation[level_index]
    return {
        "notification_id": fit_id(notification_id),
        "incident_id": incident["incident_id"],
        "kind": kind,
        "level": level.level,
        "priority": incident.get("priority"),
        "category": incident.get("category"),
        "village_code": incident.get("village_code"),
        "text_zh": notice_text(kind, incident, "zh", level.zh, late_s),
        "text_en": notice_text(kind, incident, "en", level.en, late_s),
        "created_at": now,
        "ack_due_at": now + timedelta(seconds=level.ack_within.total_seconds()),
        "parent_id": parent_id,
    }
