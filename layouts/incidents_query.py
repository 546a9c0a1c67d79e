"""The incidents list's URL query: filters, sort and page, parsed, validated and written back.

The list page's whole state is its URL query, so the wall and the analysis page can drill into
the list by a link and a view can be shared::

    /incidents?stage=open&category=fire&village=330110006224&team=zz-3&period=today
              &q=电动车&repeats=1&sort=due_at&dir=asc&page=2&lang=en

``stage`` is a stage code, ``open`` (not closed or cancelled) or ``overdue`` (open and past
its stage's limit); ``period`` is ``today``, ``week``, ``7d`` or ``30d`` (local days, see
``callbacks.incidents.period_bounds``); ``sort`` is a key of :data:`cockpit.queries.SORTS`.
A bad value is dropped and named in a notice (:func:`parse_list_query`). Everything here is
pure: no Dash, no I/O.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote, urlencode

from cockpit import vocab
from cockpit.queries import SORTS
from layouts.i18n import Lang

LIST_PATH = "/incidents"
#: Longest search text (and free-text team name) kept, characters.
MAX_TEXT = 100
PERIODS = ("today", "week", "7d", "30d")
STAGE_FILTERS = ("open", "overdue", *(s.value for s in vocab.Stage))
CATEGORY_CODES = tuple(c.value for c in vocab.Category)
DEFAULT_SORT = "reported_at"
#: Direction a column sorts in when first clicked: descending for the newest / largest first,
#: ascending where the first rows should be the longest waiting (stage_at, due_at).
FIRST_DESCENDING = {"reported_at": True, "repeat_size": True}
FILTER_NAMES = ("stage", "category", "village", "team", "period", "text", "repeats")


@dataclass(frozen=True)
class ListQuery:
    """The list's filters, sort and page: what the URL query says, validated."""

    stage: str | None = None
    category: str | None = None
    village: str | None = None
    team: str | None = None
    period: str | None = None
    text: str | None = None
    repeats: bool = False
    sort: str = DEFAULT_SORT
    descending: bool = True
    page: int = 1

    def params(self) -> dict[str, str]:
        """Return the URL parameters that differ from the defaults, in a fixed order."""
        out = {name: getattr(self, name) for name in
               ("stage", "category", "village", "team", "period") if getattr(self, name)}
        if self.text:
            out["q"] = self.text
        if self.repeats:
            out["repeats"] = "1"
        if self.sort != DEFAULT_SORT or not self.descending:
            out["sort"] = self.sort
            out["dir"] = "desc" if self.descending else "asc"
        if self.page > 1:
            out["page"] = str(self.page)
        return out

    def href(self, lang: Lang, path: str = LIST_PATH) -> str:
        """Return ``path`` with this query (and ``lang=en`` when English)."""
        params = self.params()
        if lang == "en":
            params["lang"] = "en"
        return f"{path}?{urlencode(params)}" if params else path

    def sorted_by(self, key: str) -> ListQuery:
        """Return the query after clicking column ``key``: toggle it, or sort by it afresh."""
        if key == self.sort:
            return replace(self, descending=not self.descending, page=1)
        return replace(self, sort=key, descending=FIRST_DESCENDING.get(key, False), page=1)


def parse_list_query(query: Mapping[str, str],
                     villages: Collection[str]) -> tuple[ListQuery, list[str]]:
    """Return the list query of URL parameters and the ``name=value`` pairs it ignored.

    Parameters
    ----------
    query : mapping of str to str
        URL parameters (last value of each); unknown names (``lang``, ...) are left alone.
    villages : collection of str
        Known village codes.

    Returns
    -------
    (ListQuery, list of str)
        A value that is not allowed is dropped (the default applies) and listed, so the page
        can say so; an over-long search text is cut to :data:`MAX_TEXT` and listed too.
    """
    values: dict[str, Any] = {}
    bad: list[str] = []

    def take(name: str, ok: bool, value: Any, field: str | None = None) -> None:
        if ok:
            values[field or name] = value
        else:
            bad.append(f"{name}={query[name]}")

    def text(name: str) -> str:
        return str(query.get(name) or "").strip()

    for name, allowed in (("stage", STAGE_FILTERS), ("category", CATEGORY_CODES),
                          ("village", villages), ("period", PERIODS)):
        if text(name):
            take(name, text(name) in allowed, text(name))
    if text("team"):
        take("team", len(text("team")) <= MAX_TEXT, text("team"))
    if text("q"):
        take("q", True, text("q")[:MAX_TEXT], "text")
        if len(text("q")) > MAX_TEXT:
            bad.append(f"q={text('q')[:12]}…")
    if text("repeats"):
        take("repeats", text("repeats") in ("0", "1"), text("repeats") == "1")
    if text("sort"):
        take("sort", text("sort") in SORTS, text("sort"))
    if text("dir"):
        take("dir", text("dir") in ("asc", "desc"), text("dir") == "desc", "descending")
    if text("page"):
        take("page", text("page").isdigit() and int(text("page")) >= 1,
             int(text("page")) if text("page").isdigit() else 1)
    return ListQuery(**values), bad


def with_filters(current: ListQuery, **filters: Any) -> ListQuery:
    """Return ``current`` with the given filters (blank values clear one) and page 1.

    Parameters
    ----------
    current : ListQuery
        The query the page shows.
    **filters
        Any of :data:`FILTER_NAMES`; ``text`` is stripped and cut to :data:`MAX_TEXT`,
        ``repeats`` is truthy (a checklist's value list works).

    Raises
    ------
    TypeError
        If a name is not one of :data:`FILTER_NAMES`.
    """
    unknown = set(filters) - set(FILTER_NAMES)
    if unknown:
        raise TypeError(f"unknown filter(s): {', '.join(sorted(unknown))}")
    clean: dict[str, Any] = {}
    for name, value in filters.items():
        if name == "repeats":
            clean[name] = bool(value)
        elif name == "text":
            clean[name] = (str(value or "").strip()[:MAX_TEXT]) or None
        else:
            clean[name] = str(value).strip() if value not in (None, "") else None
    return replace(current, **clean, page=1)


def detail_href(incident_id: str, query: ListQuery, lang: Lang) -> str:
    """Return the detail page of an incident; it carries the list's query for its back link."""
    return query.href(lang, f"{LIST_PATH}/{quote(incident_id, safe='')}")


def incident_href(incident_id: str, lang: Lang = "zh") -> str:
    """Return the detail page of one incident: ``/incidents/<id>`` (id percent-encoded)."""
    return with_lang(f"{LIST_PATH}/{quote(str(incident_id), safe='')}", lang)


def with_lang(href: str, lang: Lang) -> str:
    """Return ``href`` carrying ``lang=en`` when the page is English (else unchanged)."""
    if lang != "en":
        return href
    return href + ("&" if "?" in href else "?") + "lang=en"
