"""The waste page's state as a URL query (``/waste?tab=households&village=...``).

:class:`WasteQuery` parses and writes it: the tab shown, the period of the figures (7, 30 or
90 days, or a month), and each tab's filters. A filter change only navigates; the router
renders the page for the new query. A household's record is its own path
(``/waste/households/<id>``); a photo is served from ``/waste/photos/<key>``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import date
from typing import Any
from urllib.parse import quote, urlencode

from cockpit.waste.events import HouseholdKind, WasteClass

WASTE_PATH = "/waste"
HOUSEHOLD_PATH = f"{WASTE_PATH}/households"
PHOTO_PATH = f"{WASTE_PATH}/photos"
#: The page's tabs, in order.
SECTIONS = ("overview", "households", "disposals", "landlords", "followups")
#: Periods of the figures, in days (a month ``YYYY-MM`` is the other choice).
PERIODS = ("7d", "30d", "90d")
KINDS = tuple(k.value for k in HouseholdKind)
STATUSES = ("active", "moved_out")
RATINGS = ("correct", "incorrect")
CLASSES = tuple(c.value for c in WasteClass)
MAX_TEXT = 64
MAX_ID = 128
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: Query parameter of each field (the rest use their own name).
_PARAM = {"text": "q", "waste_class": "class"}
#: Filters of each tab (kept while on it; cleared when another tab is chosen).
TAB_FILTERS = {"households": ("group", "kind", "status", "text"),
               "disposals": ("station", "rating", "waste_class", "day"),
               "landlords": ("landlord",)}


@dataclass(frozen=True)
class WasteQuery:
    """What the page shows.

    Attributes
    ----------
    tab : str
        One of :data:`SECTIONS`.
    period : str
        ``7d``, ``30d``, ``90d`` or a month ``YYYY-MM``: the span of the figures.
    village : str or None
        Village code (every tab).
    group, kind, status, text : str or None
        Households: group name, ``local``/``tenant``, ``active``/``moved_out``, free text.
    station, rating, waste_class, day : str or None
        Disposals: station id, ``correct``/``incorrect``, declared class, local day.
    landlord : str or None
        Landlords: the landlord shown.
    page : int
        Page of the households' or disposals' list, from 1.
    """

    tab: str = "overview"
    period: str = "30d"
    village: str | None = None
    group: str | None = None
    kind: str | None = None
    status: str | None = None
    text: str | None = None
    station: str | None = None
    rating: str | None = None
    waste_class: str | None = None
    day: str | None = None
    landlord: str | None = None
    page: int = 1

    def params(self) -> dict[str, str]:
        """The query parameters that differ from the defaults."""
        out: dict[str, str] = {}
        default = WasteQuery()
        for f in fields(self):
            value = getattr(self, f.name)
            if value != getattr(default, f.name):
                out[_PARAM.get(f.name, f.name)] = str(value)
        return out

    def href(self, lang: str) -> str:
        """``/waste`` with this query (and ``lang=en`` for English)."""
        params = self.params()
        if lang == "en":
            params["lang"] = "en"
        return WASTE_PATH + (f"?{urlencode(params)}" if params else "")

    def section(self, tab: str) -> WasteQuery:
        """The query of another tab: the period and village are kept, the rest cleared."""
        return WasteQuery(tab=tab, period=self.period, village=self.village)

    @property
    def month(self) -> str | None:
        """The month chosen as period, or None for a number of days."""
        return self.period if _MONTH.match(self.period) else None

    @property
    def days(self) -> int | None:
        """The number of days chosen as period, or None for a month."""
        return int(self.period[:-1]) if self.period in PERIODS else None


def _text(value: str | None, limit: int) -> str | None:
    text = " ".join((value or "").split())
    return text[:limit] or None


def _is_day(value: str) -> bool:
    if not _DAY.match(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def parse_query(params: Mapping[str, str], villages: Mapping[str, Any]
                ) -> tuple[WasteQuery, list[str]]:
    """Return the query of URL ``params`` and the ``name=value`` pairs that were not valid.

    Parameters
    ----------
    params : mapping
        Last value of each parameter (:func:`callbacks.parse_query`).
    villages : mapping
        Known village codes (keys).
    """
    bad: list[str] = []
    out: dict[str, Any] = {}

    def take(name: str, ok: bool, value: Any, field: str | None = None) -> None:
        if ok:
            out[field or name] = value
        else:
            raw = params[name]
            bad.append(f"{name}={raw[:12]}{'…' if len(raw) > 12 else ''}")

    checks = {
        "tab": lambda v: v in SECTIONS, "village": lambda v: v in villages,
        "period": lambda v: v in PERIODS or bool(_MONTH.match(v)),
        "kind": lambda v: v in KINDS, "status": lambda v: v in STATUSES,
        "rating": lambda v: v in RATINGS, "class": lambda v: v in CLASSES, "day": _is_day,
    }
    for name, check in checks.items():
        if params.get(name):
            take(name, check(params[name]), params[name], "waste_class" if name == "class"
                 else None)
    for name in ("station", "landlord"):
        if params.get(name):
            take(name, len(params[name]) <= MAX_ID, params[name].strip())
    if params.get("group"):
        out["group"] = _text(params["group"], MAX_TEXT)
    if params.get("q"):
        out["text"] = _text(params["q"], MAX_TEXT)
    if params.get("page"):
        raw = params["page"]
        take("page", raw.isdigit() and int(raw) >= 1, int(raw) if raw.isdigit() else 1)
    return WasteQuery(**out), bad


def with_filters(current: WasteQuery, **changes: Any) -> WasteQuery:
    """The query with ``changes`` to filters (empty values clear one); back to page 1.

    Raises
    ------
    TypeError
        If a change names no filter.
    """
    allowed = {"village", "period"} | {n for names in TAB_FILTERS.values() for n in names}
    unknown = set(changes) - allowed
    if unknown:
        raise TypeError(f"not a filter of the waste page: {', '.join(sorted(unknown))}")
    values = {name: _text(value, MAX_TEXT if name in ("text", "group") else MAX_ID)
              if isinstance(value, str) else (value or None) for name, value in changes.items()}
    if "period" in values and values["period"] is None:
        values["period"] = WasteQuery.period
    return replace(current, **values, page=1)


def household_href(household_id: str, lang: str) -> str:
    """The record of a household (``/waste/households/<id>``, percent-encoded)."""
    path = f"{HOUSEHOLD_PATH}/{quote(household_id, safe='')}"
    return path + ("?lang=en" if lang == "en" else "")


def landlord_href(landlord_id: str, lang: str) -> str:
    """The landlords tab showing ``landlord_id``."""
    return WasteQuery(tab="landlords", landlord=landlord_id).href(lang)


def photo_src(key: str) -> str:
    """The photo route's URL of a file key of the photo store (percent-encoded)."""
    return f"{PHOTO_PATH}/{quote(key, safe='/')}"


def is_object_url(ref: str) -> bool:
    """True for an object-store or web URL (``oss://``, ``s3://``, ``https://``).

    Such a reference is shown as text, never fetched (the page loads images from itself only).
    """
    return "://" in ref
