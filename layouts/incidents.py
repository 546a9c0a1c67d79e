"""The incidents page for staff (警情列表): filters, team load, a sortable table and paging.

The page's whole state is its URL query (:class:`ListQuery`, :mod:`layouts.incidents_query`).
Above the table a strip shows each team's open, overdue and today's counts; a click filters
the list to the team. :class:`IncidentsIds` declares the page's ids; the builders are pure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from dash import dcc, html

from cockpit import vocab
from cockpit.queries import OPEN_STAGES
from layouts.figures import local_time, readable_color
from layouts.i18n import (
    PLACEHOLDER,
    Lang,
    category_label,
    format_count,
    format_duration,
    join,
    stage_label,
    t,
)
from layouts.incidents_query import (  # noqa: F401 - LIST_PATH re-exported
    CATEGORY_CODES,
    LIST_PATH,
    MAX_TEXT,
    PERIODS,
    ListQuery,
    detail_href,
    with_filters,
)
from layouts.incidents_query import parse_list_query as parse_list_query  # re-exported
from layouts.staff_page import (  # noqa: F401 - re-exported: the pages import them from here
    MAP_NAV_PATH,
    TABLET_NAV_PATH,
    filter_dropdown,
    filter_field,
    page_header,
    pager_links,
)

PAGE_SIZE = 50
#: Background of the table (assets/incidents.css); chips keep WCAG AA contrast on it.
PAGE_BACKGROUND = "#071a38"
CHIP_CONTRAST = 4.5
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
    TEAMS = "inc-teams"
    TOTAL = "inc-total"
    PAGER = "inc-pager"
    ROWS = "inc-rows"
    TICK = "inc-tick"
    STATE = "inc-state"
    SEEN = "inc-seen"


def page_count(total: int) -> int:
    """Return the number of pages of ``total`` rows (at least 1)."""
    return max(1, math.ceil(total / PAGE_SIZE))


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
    return pager_links(query, page_count(total or 0), lang)


@dataclass(frozen=True)
class FilterOptions:
    """Choices of the filter dropdowns: ``(value, label)`` pairs in display order."""

    villages: tuple[tuple[str, str], ...] = ()
    teams: tuple[tuple[str, str], ...] = ()


def filter_bar(query: ListQuery, options: FilterOptions, lang: Lang) -> html.Div:
    """Return the filter controls, showing ``query``'s values."""
    stages = [(code, t(f"inc_stage_{code}", lang)) for code in ("open", "overdue")]
    stages += [(s.value, stage_label(s.value, lang)) for s in vocab.Stage]
    teams = list(options.teams)
    if query.team and query.team not in {value for value, _ in teams}:
        teams.append((query.team, query.team))

    def dropdown(ids: IncidentsIds, pairs: Sequence[tuple[str, str]], value: str | None,
                 searchable: bool = False) -> dcc.Dropdown:
        return filter_dropdown(ids, pairs, value, lang, searchable)

    return html.Div(className="inc-filters", children=[
        filter_field(t("inc_f_stage", lang), dropdown(IncidentsIds.STAGE, stages, query.stage)),
        filter_field(t("inc_f_category", lang), dropdown(
            IncidentsIds.CATEGORY, [(c, category_label(c, lang)) for c in CATEGORY_CODES],
            query.category)),
        filter_field(t("inc_f_village", lang), dropdown(IncidentsIds.VILLAGE, options.villages,
                                                        query.village, searchable=True)),
        filter_field(t("inc_f_team", lang), dropdown(IncidentsIds.TEAM, teams, query.team,
                                                     searchable=True), wide=True),
        filter_field(t("inc_f_period", lang), dropdown(
            IncidentsIds.PERIOD, [(p, t(f"inc_period_{p}", lang)) for p in PERIODS],
            query.period)),
        filter_field(t("inc_f_text", lang), dcc.Input(
            id=IncidentsIds.TEXT, type="search", value=query.text or "", debounce=True,
            placeholder=t("inc_f_text_hint", lang), maxLength=MAX_TEXT,
            className="inc-input"), wide=True),
        dcc.Checklist(id=IncidentsIds.REPEATS, className="inc-check",
                      options=[{"label": t("inc_f_repeats", lang), "value": "1"}],
                      value=["1"] if query.repeats else []),
        dcc.Link(t("inc_f_clear", lang), href=ListQuery().href(lang), className="inc-clear"),
        # a plain link: the browser downloads the file (the server audits the export)
        html.A(t("inc_export", lang), href=query.href(lang, EXPORT_PATH),
               className="inc-export", download=""),
    ])


#: The CSV export of the list (callbacks.export); the list's query applies.
EXPORT_PATH = "/export/incidents.csv"


def _team_count(key: str, value: int | None, lang: Lang, alarm: bool = False) -> html.Span:
    late = alarm and bool(value)
    return html.Span(className=f"inc-team-n inc-team-{key}{' late' if late else ''}", children=[
        html.Span(t(f"inc_team_{key}", lang), className="inc-team-n-label"),
        html.B(PLACEHOLDER if value is None else format_count(value))])


def team_panel_children(load: Sequence[Mapping[str, Any]] | None, query: ListQuery,
                        lang: Lang) -> list:
    """Return the team load strip: one card per team with open, overdue and today's counts.

    Parameters
    ----------
    load : sequence of dict or None
        :func:`cockpit.governance_queries.team_load` rows, in its order (``team`` None: no
        team at all, a card without a link); None when the store could not be read.
    query : ListQuery
        A card links to it filtered to the team (``?team=<code>``, page 1, other filters
        kept); the card of the team filtered on links to it without the team filter.
    lang : {"zh", "en"}
        Language; a configured team shows its zh/en label, another name as sent.

    Returns
    -------
    list of components
        A title and the cards; the overdue count is ``late`` (red) when above zero, a team
        with nothing open nor reported today is ``idle`` (dimmed).
    """
    title = html.Span(t("inc_teams_title", lang), className="inc-teams-title")
    if load is None:
        return [title, html.Span(PLACEHOLDER, className="inc-team-none")]
    cards = []
    for row in load:
        code = row.get("team")
        label = (row.get("en") if lang == "en" else row.get("zh")) or code \
            or t("inc_team_unassigned", lang)
        counts = [html.Span(label, className="inc-team-name", title=label),
                  _team_count("open", row.get("open"), lang),
                  _team_count("overdue", row.get("overdue"), lang, alarm=True),
                  _team_count("today", row.get("today"), lang)]
        active = bool(code) and code == query.team
        flags = {"active": active, "has-overdue": row.get("overdue"), "unassigned": not code,
                 "idle": not (row.get("open") or row.get("today"))}
        name = " ".join(["inc-team", *(flag for flag, on in flags.items() if on)])
        if not code:
            cards.append(html.Div(counts, className=name, **{"data-team": ""}))
            continue
        link = dcc.Link(counts, href=with_filters(query, team=None if active else code)
                        .href(lang), className="inc-team-link",
                        title=t("inc_team_clear" if active else "inc_team_hint", lang))
        cards.append(html.Div(link, className=name, **{"data-team": code}))
    return [title, *cards]


def layout(lang: Lang, query: ListQuery, *, options: FilterOptions,
           rows: Sequence[Mapping[str, Any]] | None, total: int | None, now: datetime,
           villages: Mapping[str, str], teams: Mapping[str, str], ignored: Sequence[str] = (),
           alert: str = "", poll_ms: int = 2000, seen: Mapping[str, Any] | None = None,
           load: Sequence[Mapping[str, Any]] | None = ()) -> html.Div:
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
    alert, poll_ms : str, int
        Data-source error text (empty when fine); period of the refresh poll, ms.
    seen : mapping, optional
        What the page was rendered from (the poll's ``SEEN`` store).
    load : sequence of dict or None
        Team load for the strip above the table (:func:`team_panel_children`).
    """
    notice = t("inc_ignored", lang, items=join(ignored, lang, "clause_sep")) if ignored else ""
    other = "zh" if lang == "en" else "en"
    return html.Div(id=IncidentsIds.ROOT, className=f"inc-page lang-{lang}", lang=lang,
                    children=[
        page_header(lang, t("inc_title", lang), query.href(other)),
        html.Main(className="inc-main", children=[
            filter_bar(query, options, lang),
            html.Div(notice, id=IncidentsIds.NOTICE, className="inc-notice", role="status"),
            html.Div(alert, id=IncidentsIds.ALERT, className="inc-alert", role="alert"),
            html.Div(team_panel_children(load, query, lang), id=IncidentsIds.TEAMS,
                     className="inc-teams"),
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

