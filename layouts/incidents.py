"""The incidents page for staff (警情列表): filters, a sortable table of incidents and paging.

The page's whole state is its URL query, so the wall can drill into the list by a link and a
view can be shared::

    /incidents?stage=open&category=fire&village=330110006224&team=zz-3&period=today
              &q=电动车&repeats=1&sort=due_at&dir=asc&page=2&lang=en

``stage`` is a stage code, ``open`` (not closed or cancelled) or ``overdue`` (open and past
its stage's limit); ``period`` is ``today``, ``week``, ``7d`` or ``30d`` (local days, see
``callbacks.incidents.period_bounds``); ``sort`` is a key of :data:`cockpit.queries.SORTS`.
A bad value is dropped and named in a notice (:func:`parse_list_query`).
:class:`IncidentsIds` declares the page's ids; the builders are pure.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import quote, urlencode

from dash import dcc, html

from cockpit import vocab
from cockpit.queries import OPEN_STAGES, SORTS
from layouts.figures import local_time, readable_color
from layouts.i18n import (
    PLACEHOLDER,
    Lang,
    category_label,
    format_count,
    format_duration,
    stage_label,
    t,
)

LIST_PATH = "/incidents"
PAGE_SIZE = 50
#: Longest search text kept, characters.
MAX_TEXT = 100
PERIODS = ("today", "week", "7d", "30d")
STAGE_FILTERS = ("open", "overdue", *(s.value for s in vocab.Stage))
CATEGORY_CODES = tuple(c.value for c in vocab.Category)
DEFAULT_SORT = "reported_at"
#: Background of the table (assets/incidents.css); chips keep WCAG AA contrast on it.
PAGE_BACKGROUND = "#071a38"
CHIP_CONTRAST = 4.5
#: Direction a column sorts in when first clicked: descending for the newest / largest first,
#: ascending where the first rows should be the longest waiting (stage_at, due_at).
FIRST_DESCENDING = {"reported_at": True, "repeat_size": True}
#: Table columns: (key, label key, sort key or None). Priority is not sortable: the store
#: orders it by code, not by urgency.
COLUMNS = (("id", "inc_col_id", None), ("reported", "inc_col_reported", "reported_at"),
           ("category", "inc_col_category", "category"), ("title", "inc_col_title", None),
           ("priority", "inc_col_priority", None),
           ("stage", "inc_col_stage", "stage"), ("village", "inc_col_village", "village"),
           ("team", "inc_col_team", "team"), ("in_stage", "inc_col_in_stage", "stage_at"),
           ("overdue", "inc_col_overdue", "due_at"), ("repeat", "inc_col_repeat", "repeat_size"))


class IncidentsIds(StrEnum):
    """Component ids of the incidents list page."""

    ROOT = "inc-root"
    NAV = "inc-nav"
    STAGE = "inc-f-stage"
    CATEGORY = "inc-f-category"
    VILLAGE = "inc-f-village"
    TEAM = "inc-f-team"
    PERIOD = "inc-f-period"
    TEXT = "inc-f-text"
    REPEATS = "inc-f-repeats"
    NOTICE = "inc-notice"
    ALERT = "inc-alert"
    TOTAL = "inc-total"
    PAGER = "inc-pager"
    ROWS = "inc-rows"
    TICK = "inc-tick"
    STATE = "inc-state"
    SEEN = "inc-seen"


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


FILTER_NAMES = ("stage", "category", "village", "team", "period", "text", "repeats")


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


def page_count(total: int) -> int:
    """Return the number of pages of ``total`` rows (at least 1)."""
    return max(1, math.ceil(total / PAGE_SIZE))


def detail_href(incident_id: str, query: ListQuery, lang: Lang) -> str:
    """Return the detail page of an incident; it carries the list's query for its back link."""
    return query.href(lang, f"{LIST_PATH}/{quote(incident_id, safe='')}")


def _seconds_between(later: datetime, iso: str | None) -> float | None:
    return None if not iso else (later - datetime.fromisoformat(iso)).total_seconds()


def stage_clock(row: Mapping[str, Any], now: datetime) -> tuple[float | None, float | None]:
    """Return ``(seconds in the current stage, seconds past its limit)`` of an open incident.

    Past the limit is negative while time is left; both are None for a closed or cancelled
    incident, the second also without a limit.
    """
    if row.get("stage") not in OPEN_STAGES:
        return None, None
    return _seconds_between(now, row.get("stage_at")), _seconds_between(now, row.get("due_at"))


def overdue_text(late_s: float | None, lang: Lang) -> tuple[str, str]:
    """Return the overdue cell's text and class: ``超时 5分00秒`` (late) or ``剩 …`` (on time)."""
    if late_s is None:
        return PLACEHOLDER, "muted"
    if late_s >= 0:
        return t("inc_overdue_by", lang, d=format_duration(late_s, lang)), "late"
    return t("inc_left", lang, d=format_duration(-late_s, lang)), "muted"


def chip(text: str, terms: Mapping, code: str | None, extra: str = "") -> html.Span:
    """Return a coloured vocabulary chip (category, priority or stage), readable on the page."""
    color = next((term.color for member, term in terms.items() if member == code), "#9aa5b1")
    color = readable_color(color, PAGE_BACKGROUND, CHIP_CONTRAST)
    return html.Span(text, className=f"inc-chip {extra}".strip(),
                     style={"color": color, "borderColor": color})


def team_text(name: str | None, teams: Mapping[str, str]) -> str:
    """Return a team's display name: the configured label, else the text as sent."""
    return PLACEHOLDER if not name else teams.get(name, name)


def _cells(row: Mapping[str, Any], lang: Lang, now: datetime, today: date | None,
           villages: Mapping[str, str], teams: Mapping[str, str]) -> dict[str, Any]:
    in_stage, late = stage_clock(row, now)
    late_text, late_class = overdue_text(late, lang)
    size = row.get("repeat_size") or 0
    repeat = html.Span(t("inc_repeat_mark", lang, n=size), className="inc-repeat",
                       title=t("inc_repeat_title", lang, group=row.get("repeat_group"))) \
        if row.get("repeat_group") and size > 1 else ""
    return {
        "id": html.Span(row["incident_id"], className="inc-id"),
        "reported": local_time(row.get("reported_at"), today),
        "category": chip(category_label(row.get("category"), lang), vocab.CATEGORY_TERMS,
                         row.get("category")),
        "title": html.Span(row.get("title") or t("untitled", lang), title=row.get("title") or "",
                           className="inc-title-text"),
        "priority": chip(vocab.label(vocab.PRIORITY_TERMS, row.get("priority") or "", lang)
                         or PLACEHOLDER, vocab.PRIORITY_TERMS, row.get("priority")),
        "stage": chip(stage_label(row.get("stage"), lang), vocab.STAGE_TERMS, row.get("stage")),
        "village": villages.get(row.get("village_code") or "", PLACEHOLDER),
        "team": team_text(row.get("assigned_team"), teams),
        "in_stage": format_duration(in_stage, lang),
        "overdue": html.Span(late_text, className=f"inc-late {late_class}"),
        "repeat": repeat,
    }


def rows_children(rows: Sequence[Mapping[str, Any]] | None, query: ListQuery, lang: Lang,
                  now: datetime, villages: Mapping[str, str],
                  teams: Mapping[str, str]) -> list:
    """Return the table's body rows; every cell links to the incident's detail page.

    Parameters
    ----------
    rows : sequence of dict or None
        :func:`cockpit.queries.list_incidents` rows; None when the store could not be read.
    query : ListQuery
        The list's query (the detail links carry it back).
    now : datetime
        Aware, in the cockpit's zone; time in stage and lateness are measured to it, and
        times of other days than its date show their date.
    villages, teams : mapping
        Code -> display name in ``lang`` (teams: code or configured name -> label).
    """
    if not rows:
        text = t("inc_empty", lang) if rows is not None else PLACEHOLDER
        return [html.Tr(html.Td(text, colSpan=len(COLUMNS), className="inc-empty"))]
    today = now.date()
    out = []
    for row in rows:
        href = detail_href(row["incident_id"], query, lang)
        cells = _cells(row, lang, now, today, villages, teams)
        _, late = stage_clock(row, now)
        late_class = " inc-row-late" if late is not None and late >= 0 else ""
        out.append(html.Tr(className=f"inc-row{late_class}", key=row["incident_id"],
                           **{"data-incident": row["incident_id"]}, children=[
            html.Td(dcc.Link(cells[key], href=href, className="inc-cell-link"),
                    className=f"inc-col-{key}") for key, _, _ in COLUMNS]))
    return out


def header_row(query: ListQuery, lang: Lang) -> html.Tr:
    """Return the table's header: sortable columns link to the list sorted by them."""
    cells = []
    for key, label, sort in COLUMNS:
        if sort is None:
            cells.append(html.Th(t(label, lang), className=f"inc-col-{key}"))
            continue
        active = query.sort == sort
        arrow = ("▼" if query.descending else "▲") if active else "↕"
        cells.append(html.Th(className=f"inc-col-{key}", **{"data-sort": sort},
                             children=dcc.Link(
            [t(label, lang), html.Span(arrow, className="inc-sort-arrow")],
            href=query.sorted_by(sort).href(lang), title=t("inc_sort_hint", lang),
            className="inc-sort active" if active else "inc-sort")))
    return html.Tr(cells)


def total_children(total: int | None, lang: Lang) -> str:
    """Return the count of matching incidents (``共 312 起``)."""
    return PLACEHOLDER if total is None else t("inc_total", lang, n=format_count(total))


def pager_children(query: ListQuery, total: int | None, lang: Lang) -> list:
    """Return the pager: first, previous, ``第 2 / 7 页``, next and last (links)."""
    pages = page_count(total or 0)
    page = min(query.page, pages)

    def link(key: str, target: int) -> Any:
        name = f"inc-page-link {key.replace('_', '-')}"
        if target == page or not 1 <= target <= pages:
            return html.Span(t(key, lang), className=f"{name} disabled")
        return dcc.Link(t(key, lang), href=replace(query, page=target).href(lang),
                        className=name)

    return [link("inc_first", 1), link("inc_prev", page - 1),
            html.Span(t("inc_page", lang, page=page, pages=pages), className="inc-page-now"),
            link("inc_next", page + 1), link("inc_last", pages)]


@dataclass(frozen=True)
class FilterOptions:
    """Choices of the filter dropdowns: ``(value, label)`` pairs in display order."""

    villages: tuple[tuple[str, str], ...] = ()
    teams: tuple[tuple[str, str], ...] = ()


def _options(pairs: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"value": value, "label": label} for value, label in pairs]


def _field(label: str, control: Any, extra: str = "") -> html.Div:
    # a div, not a <label>: a label around the dropdown's button would toggle it twice
    return html.Div(className=f"inc-field {extra}".strip(), children=[
        html.Span(label, className="inc-field-label"), control])


def filter_bar(query: ListQuery, options: FilterOptions, lang: Lang) -> html.Div:
    """Return the filter controls, showing ``query``'s values."""
    stages = [(code, t(f"inc_stage_{code}", lang)) for code in ("open", "overdue")]
    stages += [(s.value, stage_label(s.value, lang)) for s in vocab.Stage]
    teams = list(options.teams)
    if query.team and query.team not in {value for value, _ in teams}:
        teams.append((query.team, query.team))
    every = t("inc_f_all", lang)

    def dropdown(ids: IncidentsIds, pairs: Sequence[tuple[str, str]], value: str | None,
                 searchable: bool = False) -> dcc.Dropdown:
        return dcc.Dropdown(id=ids, options=_options(pairs), value=value, placeholder=every,
                            clearable=True, searchable=searchable, className="inc-dropdown")

    return html.Div(className="inc-filters", children=[
        _field(t("inc_f_stage", lang), dropdown(IncidentsIds.STAGE, stages, query.stage)),
        _field(t("inc_f_category", lang), dropdown(
            IncidentsIds.CATEGORY, [(c, category_label(c, lang)) for c in CATEGORY_CODES],
            query.category)),
        _field(t("inc_f_village", lang), dropdown(IncidentsIds.VILLAGE, options.villages,
                                                  query.village, searchable=True)),
        _field(t("inc_f_team", lang), dropdown(IncidentsIds.TEAM, teams, query.team,
                                               searchable=True), "inc-field-wide"),
        _field(t("inc_f_period", lang), dropdown(
            IncidentsIds.PERIOD, [(p, t(f"inc_period_{p}", lang)) for p in PERIODS],
            query.period)),
        _field(t("inc_f_text", lang), dcc.Input(
            id=IncidentsIds.TEXT, type="search", value=query.text or "", debounce=True,
            placeholder=t("inc_f_text_hint", lang), maxLength=MAX_TEXT,
            className="inc-input"), "inc-field-wide"),
        dcc.Checklist(id=IncidentsIds.REPEATS, className="inc-check",
                      options=[{"label": t("inc_f_repeats", lang), "value": "1"}],
                      value=["1"] if query.repeats else []),
        dcc.Link(t("inc_f_clear", lang), href=ListQuery().href(lang), className="inc-clear"),
    ])


def page_header(lang: Lang, title: str, other_lang_href: str) -> html.Header:
    """Return the staff pages' header: title, links to the wall and the list, language."""
    suffix = "?lang=en" if lang == "en" else ""
    return html.Header(className="inc-header", children=[
        html.H1(title, className="inc-title"),
        html.Nav(className="inc-nav", children=[
            dcc.Link(t("inc_nav_list", lang), href=LIST_PATH + suffix, className="inc-nav-link"),
            html.A(t("inc_nav_wall", lang), href="/" + suffix, className="inc-nav-link"),
            dcc.Link(t("lang_switch", lang), href=other_lang_href, className="inc-lang")]),
    ])


def layout(lang: Lang, query: ListQuery, *, options: FilterOptions,
           rows: Sequence[Mapping[str, Any]] | None, total: int | None, now: datetime,
           villages: Mapping[str, str], teams: Mapping[str, str], ignored: Sequence[str] = (),
           alert: str = "", poll_ms: int = 2000, seen: Mapping[str, Any] | None = None
           ) -> html.Div:
    """Return the incidents list page.

    Parameters
    ----------
    lang : {"zh", "en"}
        Language of every label.
    query : ListQuery
        Filters, sort and page shown (the page already clamped to the last one).
    options : FilterOptions
        Village and team choices.
    rows, total : list of dict or None, int or None
        The page's incidents and how many match; None when the store could not be read.
    now : datetime
        Aware, in the cockpit's zone; the clocks of the table are measured to it.
    villages, teams : mapping
        Code -> display name (see :func:`rows_children`).
    ignored : sequence of str
        ``name=value`` pairs of the URL that were not valid (shown in a notice).
    alert : str
        Data-source error text, empty when fine.
    poll_ms : int
        Period of the refresh poll, milliseconds.
    seen : mapping, optional
        What the page was rendered from (the poll's ``SEEN`` store).
    """
    notice = t("inc_ignored", lang, items="，".join(ignored) if lang == "zh"
               else ", ".join(ignored)) if ignored else ""
    other = "zh" if lang == "en" else "en"
    return html.Div(id=IncidentsIds.ROOT, className=f"inc-page lang-{lang}", lang=lang,
                    children=[
        page_header(lang, t("inc_title", lang), query.href(other)),
        html.Main(className="inc-main", children=[
            filter_bar(query, options, lang),
            html.Div(notice, id=IncidentsIds.NOTICE, className="inc-notice", role="status"),
            html.Div(alert, id=IncidentsIds.ALERT, className="inc-alert", role="alert"),
            html.Div(className="inc-summary", children=[
                html.Span(total_children(total, lang), id=IncidentsIds.TOTAL,
                          className="inc-total"),
                html.Nav(pager_children(query, total, lang), id=IncidentsIds.PAGER,
                         className="inc-pager")]),
            html.Div(className="inc-table-wrap", children=html.Table(
                className="inc-table", children=[
                    html.Thead(header_row(query, lang)),
                    html.Tbody(rows_children(rows, query, lang, now, villages, teams),
                               id=IncidentsIds.ROWS)])),
        ]),
        dcc.Location(id=IncidentsIds.NAV, refresh="callback-nav"),
        dcc.Interval(id=IncidentsIds.TICK, interval=poll_ms),
        dcc.Store(id=IncidentsIds.STATE, data={"lang": lang, "params": query.params()}),
        dcc.Store(id=IncidentsIds.SEEN, data=dict(seen or {})),
    ])

