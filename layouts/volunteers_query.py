"""The volunteers page's state as a URL query (``/volunteers?tab=registry&village=...``).

:class:`VolunteersQuery` parses and writes the query: the section shown (``tab``), the
registry's filters and page, the mobilisation chosen and the assessment month. A filter change
only navigates; the router renders the page for the new query.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any
from urllib.parse import quote, urlencode

from cockpit.volunteers.events import TeamKind

VOLUNTEERS_PATH = "/volunteers"
#: The page's sections, in the order of its tabs.
SECTIONS = ("registry", "mobilization", "assessment", "recruitment", "merges")
STATUSES = ("active", "inactive", "merged")
KINDS = tuple(k.value for k in TeamKind)
MAX_TEXT = 64
MAX_ID = 128
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
#: Query parameter of each field (the rest use their own name).
_PARAM = {"text": "q", "every": "all"}


@dataclass(frozen=True)
class VolunteersQuery:
    """What the page shows.

    Attributes
    ----------
    tab : str
        One of :data:`SECTIONS`.
    village, team, kind, status, text : str or None
        Registry filters: village code, team name, team kind code, status, free text.
    page : int
        Registry page, from 1.
    mob : str or None
        The mobilisation whose unanswered people are listed.
    every : bool
        Mobilisations: every one, not only those on show.
    month : str or None
        Assessment month ``YYYY-MM``; None: the newest with entries.
    """

    tab: str = "registry"
    village: str | None = None
    team: str | None = None
    kind: str | None = None
    status: str | None = None
    text: str | None = None
    page: int = 1
    mob: str | None = None
    every: bool = False
    month: str | None = None

    def params(self) -> dict[str, str]:
        """The query parameters that differ from the defaults."""
        out: dict[str, str] = {}
        default = VolunteersQuery()
        for f in fields(self):
            value = getattr(self, f.name)
            if value == getattr(default, f.name):
                continue
            out[_PARAM.get(f.name, f.name)] = "1" if value is True else str(value)
        return out

    def href(self, lang: str, path: str = VOLUNTEERS_PATH) -> str:
        """``path`` with this query (and ``lang=en`` for English)."""
        params = self.params()
        if lang == "en":
            params["lang"] = "en"
        return path + (f"?{urlencode(params)}" if params else "")

    def section(self, tab: str) -> VolunteersQuery:
        """The query of another section (filters of the registry are kept)."""
        return replace(self, tab=tab, mob=None, every=False)


def _text(value: str | None, limit: int) -> str | None:
    text = " ".join((value or "").split())
    return text[:limit] or None


def parse_query(params: Mapping[str, str], villages: Mapping[str, Any]
                ) -> tuple[VolunteersQuery, list[str]]:
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

    def take(name: str, ok: bool, value: Any) -> None:
        if ok:
            out[name] = value
        else:
            bad.append(f"{name}={params[name][:12]}{'…' if len(params[name]) > 12 else ''}")

    checks = {
        "tab": lambda v: v in SECTIONS, "village": lambda v: v in villages,
        "kind": lambda v: v in KINDS, "status": lambda v: v in STATUSES,
        "month": lambda v: bool(_MONTH.match(v)),
    }
    for name, check in checks.items():
        if params.get(name):
            take(name, check(params[name]), params[name])
    if params.get("team"):
        out["team"] = _text(params["team"], MAX_ID)
    if params.get("q"):
        out["text"] = _text(params["q"], MAX_TEXT)
    if params.get("mob"):
        take("mob", len(params["mob"]) <= MAX_ID, params["mob"])
    if params.get("all"):
        take("all", params["all"] == "1", True)
        out["every"] = out.pop("all", False)
    if params.get("page"):
        raw = params["page"]
        take("page", raw.isdigit() and int(raw) >= 1, int(raw) if raw.isdigit() else 1)
    return VolunteersQuery(**out), bad


def with_filters(current: VolunteersQuery, **changes: Any) -> VolunteersQuery:
    """The registry query with ``changes`` (empty values clear a filter); back to page 1.

    Raises
    ------
    TypeError
        If a change names no filter.
    """
    allowed = {"village", "team", "kind", "status", "text"}
    unknown = set(changes) - allowed
    if unknown:
        raise TypeError(f"not a registry filter: {', '.join(sorted(unknown))}")
    values = {name: _text(value, MAX_TEXT if name == "text" else MAX_ID)
              if isinstance(value, str) else (value or None) for name, value in changes.items()}
    return replace(current, **values, page=1)


def record_href(volunteer_id: str, lang: str) -> str:
    """The person record of ``volunteer_id`` (``/volunteers/<id>``, percent-encoded)."""
    path = f"{VOLUNTEERS_PATH}/{quote(volunteer_id, safe='')}"
    return path + ("?lang=en" if lang == "en" else "")
