"""The read API's query parameters: each parsed, or a :class:`BadParameter` naming it.

Every parser reads ``flask.request.args`` of the current request; an empty value is the
default. Messages are ``"<param>: <why>"`` (the API answers them as 400 JSON).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import request

from callbacks.api_past import BadParameter
from cockpit.api_doc import MAX_DAYS
from cockpit.events import parse_time
from cockpit.vocab import parse_category

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def int_arg(name: str, default: int, low: int, high: int) -> int:
    """Integer ``name`` within ``[low, high]``; ``default`` when absent."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadParameter(f"{name}: {raw!r} is not an integer") from None
    if not low <= value <= high:
        raise BadParameter(f"{name}: {value} is outside [{low}, {high}]")
    return value


def flag_arg(name: str) -> bool | None:
    """``0``/``1`` as False/True; None when absent."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    if raw not in ("0", "1"):
        raise BadParameter(f"{name}: {raw!r}; expected 0 or 1")
    return raw == "1"


def choice_arg(name: str, choices, default: str | None = None) -> str | None:
    """One of ``choices``; ``default`` when absent."""
    raw = request.args.get(name) or default
    if raw is not None and raw not in choices:
        raise BadParameter(f"{name}: {raw!r}; expected one of {', '.join(choices)}")
    return raw


def category_arg() -> str | None:
    """``category`` as its code (a code or its Chinese label is accepted); None when absent."""
    raw = request.args.get("category")
    if not raw:
        return None
    try:
        return parse_category(raw).value
    except ValueError as exc:
        raise BadParameter(f"category: {exc}") from None


def time_arg(name: str, tz: ZoneInfo, *, end: bool = False) -> datetime | None:
    """A time parameter; a bare local date is its 00:00 (``end``: the next day's 00:00)."""
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    try:
        if _DATE.match(raw):
            day = date.fromisoformat(raw) + timedelta(days=1 if end else 0)
            return parse_time(datetime.combine(day, time(0), tz), tz)
        return parse_time(raw, tz)
    except (ValueError, OverflowError) as exc:
        raise BadParameter(f"{name}: {exc}") from None


def day_arg(name: str) -> date | None:
    """A local date ``YYYY-MM-DD``; None when absent."""
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    try:
        if _DATE.match(raw):
            return date.fromisoformat(raw)
    except ValueError:
        pass
    raise BadParameter(f"{name}: {raw[:40]!r} is not a date YYYY-MM-DD")


def days_arg(today: date) -> tuple[date, date]:
    """``from``..``to`` of the waste routes: local days, both included.

    ``to`` defaults to today, ``from`` to six days before ``to`` (a week).
    """
    last = day_arg("to") or today
    first = day_arg("from") or last - timedelta(days=6)
    if first > last:
        raise BadParameter("to: must not be before from")
    if (last - first).days >= MAX_DAYS:
        raise BadParameter(f"to: at most {MAX_DAYS} days after from")
    return first, last
