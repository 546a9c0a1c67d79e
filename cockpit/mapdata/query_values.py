"""Reading a query string that may have been edited by hand: values, items, days, problems.

Plain Python helpers of the staff map's URL state (:mod:`cockpit.mapdata.filters`). A reader
never raises for a bad value: it drops it and says why in a ``problems`` list, quoting the
value with :func:`shown`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

#: Longest query value read: anything longer is a paste gone wrong.
MAX_VALUE = 2000


def ordered(values: Iterable[Any], order: Sequence[Any]) -> tuple:
    """Return ``values`` without repeats, in ``order`` (the vocabulary's): one canonical form."""
    found = set(values)
    return tuple(v for v in order if v in found)


def shown(text: str) -> str:
    """Return a value quoted in a problem: its first 40 characters (problems are shown)."""
    return repr(text[:40] + ("…" if len(text) > 40 else ""))


def last_value(mapping: Mapping[str, Any], key: str) -> str | None:
    """Return the last value of ``key``, stripped; None when absent or blank."""
    value = mapping.get(key)
    if isinstance(value, (list, tuple)):
        value = value[-1] if value else None
    if value is None:
        return None
    text = str(value)[:MAX_VALUE].strip()
    return text or None


def items(mapping: Mapping[str, Any], key: str) -> list[str]:
    """Return the comma-separated items of every value of ``key``, blanks left out."""
    value = mapping.get(key)
    values = value if isinstance(value, (list, tuple)) else [] if value is None else [value]
    return [item.strip() for v in values for item in str(v)[:MAX_VALUE].split(",")
            if item.strip()]


def read_day(mapping: Mapping[str, Any], key: str, problems: list[str]) -> date | None:
    """Return the ``YYYY-MM-DD`` day of ``key``; a bad one goes to ``problems`` as None."""
    text = last_value(mapping, key)
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        problems.append(f"{key}: {shown(text)} is not a date (YYYY-MM-DD); ignored")
        return None
