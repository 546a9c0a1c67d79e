"""Controlled vocabularies of the event contract: incident categories, priorities and stages.

Each value has an English code (what the store keeps), a Chinese label (what the UI shows by
default) and an English label. Producers may send either the code or the Chinese label.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True)
class Term:
    """One vocabulary entry: code, zh-CN label, English label and display colour (hex)."""

    code: str
    zh: str
    en: str
    color: str = "#9aa5b1"


class Category(StrEnum):
    """Incident category (警源类别)."""

    FIRE = "fire"
    POLICE = "police"
    MEDICAL = "medical"
    TRAFFIC = "traffic"
    URBAN_MANAGEMENT = "urban_management"
    PUBLIC_SAFETY = "public_safety"
    OTHER = "other"


class Priority(StrEnum):
    """Incident priority; ``critical`` is the highest."""

    CRITICAL = "critical"
    URGENT = "urgent"
    NORMAL = "normal"
    LOW = "low"


class Stage(StrEnum):
    """Stage of an incident's closed loop, in the order the loop runs."""

    REPORTED = "reported"
    ASSESSED = "assessed"
    DISPATCHED = "dispatched"
    ARRIVED = "arrived"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REOPENED = "reopened"
    CANCELLED = "cancelled"


CATEGORY_TERMS: dict[Category, Term] = {
    Category.FIRE: Term("fire", "火情", "Fire", "#ff5a4e"),
    Category.POLICE: Term("police", "警情", "Police", "#4ea8ff"),
    Category.MEDICAL: Term("medical", "医疗急救", "Medical", "#ffd24e"),
    Category.TRAFFIC: Term("traffic", "交通事故", "Traffic", "#c77dff"),
    Category.URBAN_MANAGEMENT: Term("urban_management", "城管", "Urban management", "#3ddc97"),
    Category.PUBLIC_SAFETY: Term("public_safety", "公共安全", "Public safety", "#ff9f43"),
    Category.OTHER: Term("other", "其他", "Other", "#9aa5b1"),
}

PRIORITY_TERMS: dict[Priority, Term] = {
    Priority.CRITICAL: Term("critical", "特急", "Critical", "#ff3b30"),
    Priority.URGENT: Term("urgent", "紧急", "Urgent", "#ff9500"),
    Priority.NORMAL: Term("normal", "一般", "Normal", "#8e8e93"),
    Priority.LOW: Term("low", "较低", "Low", "#636366"),
}

STAGE_TERMS: dict[Stage, Term] = {
    Stage.REPORTED: Term("reported", "已上报", "Reported", "#ff5a4e"),
    Stage.ASSESSED: Term("assessed", "已研判", "Assessed", "#ff9f43"),
    Stage.DISPATCHED: Term("dispatched", "已派遣", "Dispatched", "#ffd24e"),
    Stage.ARRIVED: Term("arrived", "已到场", "On scene", "#4ea8ff"),
    Stage.RESOLVED: Term("resolved", "已处置", "Resolved", "#3ddc97"),
    Stage.CLOSED: Term("closed", "已办结", "Closed", "#2f9e6e"),
    Stage.REOPENED: Term("reopened", "已重启", "Reopened", "#ff6bd6"),
    Stage.CANCELLED: Term("cancelled", "已撤销", "Cancelled", "#636366"),
}

#: The closed loop's four phases (信息收集 → 分析研判 → 分类处置 → 跟踪反馈) and their stages.
LOOP_PHASES: tuple[tuple[str, str, tuple[Stage, ...]], ...] = (
    ("信息收集", "Collection", (Stage.REPORTED,)),
    ("分析研判", "Assessment", (Stage.ASSESSED,)),
    ("分类处置", "Disposal", (Stage.DISPATCHED, Stage.ARRIVED)),
    ("跟踪反馈", "Feedback", (Stage.RESOLVED, Stage.CLOSED)),
)

#: Rank of each stage along the loop; at the same instant a reopening follows the close it
#: reopens, and cancelled ranks last so it wins a tie.
STAGE_RANK: dict[Stage, int] = {stage: rank for rank, stage in enumerate(Stage)}
TERMINAL_STAGES: frozenset[Stage] = frozenset({Stage.CLOSED, Stage.CANCELLED})
#: Numeric priorities used by many dispatch systems (1 = highest).
_PRIORITY_DIGITS = {"1": Priority.CRITICAL, "2": Priority.URGENT, "3": Priority.NORMAL,
                    "4": Priority.LOW}


def _lookup(enum: type[StrEnum], terms: dict, value: object, extra: dict | None = None):
    text = str(value).strip()
    if not text:
        raise ValueError("is empty")
    low = text.lower()
    for member, term in terms.items():
        if low in (term.code, term.en.lower()) or text == term.zh:
            return member
    if extra and text in extra:
        return extra[text]
    choices = ", ".join(f"{t.code}/{t.zh}" for t in terms.values())
    raise ValueError(f"unknown value {text!r}; expected one of {choices}")


def parse_category(value: object) -> Category:
    """Return the category for an English code, English label or Chinese label.

    Raises
    ------
    ValueError
        If the value names no category; the message lists the accepted values.
    """
    return _lookup(Category, CATEGORY_TERMS, value, {"城市管理": Category.URBAN_MANAGEMENT})


def parse_priority(value: object) -> Priority:
    """Return the priority for a code, a label or a digit 1-4 (1 = critical).

    Raises
    ------
    ValueError
        If the value names no priority.
    """
    return _lookup(Priority, PRIORITY_TERMS, value, _PRIORITY_DIGITS)


def label(term_map: dict, code: str, lang: str = "zh") -> str:
    """Return the label of ``code`` in ``lang`` ("zh" or "en"); the code itself if unknown."""
    for member, term in term_map.items():
        if member == code:
            return term.zh if lang == "zh" else term.en
    return code
