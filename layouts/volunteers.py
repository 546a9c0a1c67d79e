"""The volunteers page for staff and leaders (红乔先锋 志愿者): its skeleton and the registry.

The page has five sections, one shown at a time (tabs are links; the state is the URL query,
:mod:`layouts.volunteers_query`): 名册 registry, 动员 mobilisations, 积分考核 assessment,
招募 recruitment and 合并审核 the merge queue. Each section has its controls (rendered once)
and its body (:class:`VolunteersIds.BODY`, replaced by the refresh poll). Personal data shown
unmasked after a reveal goes to a panel outside the body, so a refresh never masks it again nor
puts it into a refresh. Builders are pure; :class:`VolunteersIds` declares the page's ids.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from dash import dcc, html

from cockpit.volunteers.events import TEAM_KIND_LABELS, TeamKind
from layouts.i18n import PLACEHOLDER, Lang, format_count, join, t
from layouts.staff_page import (
    StaffView,
    filter_dropdown,
    filter_field,
    page_header,
    pager_links,
)
from layouts.volunteers_query import (
    MAX_TEXT,
    SECTIONS,
    STATUSES,
    VolunteersQuery,
    record_href,
)

PAGE_SIZE = 50
#: Platforms with a display name (``vol_platform_<code>``); another platform shows as sent.
PLATFORMS = ("hongqiao", "xihu", "zhiyuanhui")
#: Registry table columns: (key, label key).
COLUMNS = (("id", "vol_col_id"), ("name", "vol_col_name"), ("phone", "vol_col_phone"),
           ("team", "vol_col_team"), ("village", "vol_col_village"),
           ("skills", "vol_col_skills"), ("platforms", "vol_col_platforms"),
           ("hours", "vol_col_hours"), ("points", "vol_col_points"))


class VolunteersIds(StrEnum):
    """Component ids of the volunteers page."""

    ROOT = "vol-root"
    NAV = "vol-nav"
    VILLAGE = "vol-f-village"
    TEAM = "vol-f-team"
    KIND = "vol-f-kind"
    STATUS = "vol-f-status"
    TEXT = "vol-f-text"
    MONTH = "vol-f-month"
    MONTH_NAV = "vol-month-nav"
    NOTICE = "vol-notice"
    ALERT = "vol-alert"
    MESSAGE = "vol-message"
    BODY = "vol-body"
    TOTAL = "vol-total"
    ROWS = "vol-rows"
    QUEUE_COUNT = "vol-queue-count"
    REVEAL = "vol-reveal"
    NOTE = "vol-pd-note"
    REVEALED = "vol-revealed"
    TICK = "vol-tick"
    STATE = "vol-state"
    SEEN = "vol-seen"
    CHANGED = "vol-changed"
    #: Type of the merge queue's buttons: ``{"type", "action", "key"}`` (pattern-matching).
    ACTION = "vol-act"


#: Who the page is built for (:class:`layouts.staff_page.StaffView`).
View = StaffView


# -- small shared builders ---------------------------------------------------------------------
def when(iso: str | None) -> str:
    """``YYYY-MM-DD HH:MM`` of an ISO-8601 local time; ``—`` for none."""
    return f"{iso[:10]} {iso[11:16]}" if iso else PLACEHOLDER


def platform_label(platform: str | None, lang: Lang) -> str:
    """A platform's display name."""
    if not platform:
        return PLACEHOLDER
    return t(f"vol_platform_{platform}", lang) if platform in PLATFORMS else platform


def kind_label(code: str | None, lang: Lang) -> str:
    """A team kind's label (``youth`` → 青年突击队)."""
    try:
        zh, en = TEAM_KIND_LABELS[TeamKind(code)]
    except ValueError:
        return code or PLACEHOLDER
    return en if lang == "en" else zh


def status_label(code: str | None, lang: Lang) -> str:
    """A volunteer's status label."""
    return t(f"vol_status_{code}", lang) if code in STATUSES else (code or PLACEHOLDER)


def or_dash(value: Any) -> Any:
    """``value``, or ``—`` when it is None or empty."""
    return PLACEHOLDER if value in (None, "", []) else value


def record_link(volunteer_id: str | None, lang: Lang, text: Any = None) -> Any:
    """A link to a person's record, or ``—``."""
    if not volunteer_id:
        return PLACEHOLDER
    return dcc.Link(text if text is not None else volunteer_id,
                    href=record_href(volunteer_id, lang), className="vp-id-link")


def table(columns: Sequence[str], rows: Sequence[Sequence[Any]], lang: Lang, name: str,
          row_classes: Sequence[str] = (), empty: str = "vol_none") -> Any:
    """A table in a panel that scrolls sideways by itself; ``empty`` text without rows."""
    if not rows:
        return html.P(t(empty, lang), className="vp-none")
    head = html.Thead(html.Tr([html.Th(t(c, lang)) for c in columns]))
    body = html.Tbody([html.Tr([html.Td(cell) for cell in row],
                               className=row_classes[i] if i < len(row_classes) else None)
                       for i, row in enumerate(rows)])
    return html.Div(html.Table([head, body], className=f"vp-table {name}"),
                    className="vp-table-wrap")


def panel(title: str, children: Any, name: str, extra: Any = None) -> html.Section:
    """A titled panel of a section (children flat: the renderer skips nested lists)."""
    head = [html.H2(title, className="vp-panel-title")]
    if extra is not None:
        head.append(extra)
    return html.Section(className=f"vp-panel vp-{name}", children=[
        html.Div(head, className="vp-panel-head"),
        *(children if isinstance(children, list) else [children])])


def pd_panel(lang: Lang, ids: tuple[str, str, str], title_key: str, may_reveal: bool,
             masked_note: str = "pd_masked_note") -> html.Section:
    """The reveal panel: a note, the audited 显示 button (a role that may) and what it shows.

    ``ids`` are the (button, note, revealed) ids of the page.
    """
    reveal, note, revealed = ids
    return html.Section(className="vp-panel vp-pd", children=[
        html.Div([html.H2(t(title_key, lang), className="vp-panel-title"),
                  html.Button(t("vol_reveal", lang), id=reveal, n_clicks=0,
                              className="pd-reveal vp-reveal", hidden=not may_reveal)],
                 className="vp-panel-head"),
        html.Div(t(masked_note, lang), id=note, className="pd-note"),
        html.Div(id=revealed, className="vp-revealed"),
    ])


# -- the registry --------------------------------------------------------------------------
def page_count(total: int) -> int:
    """Number of registry pages of ``total`` rows (at least 1)."""
    return max(1, math.ceil(total / PAGE_SIZE))


def registry_filters(query: VolunteersQuery, lang: Lang, villages: Sequence[tuple[str, str]],
                     teams: Sequence[str], personal_search: bool) -> html.Div:
    """The registry's filter bar: village, team, team kind, status and free text.

    Parameters
    ----------
    villages : sequence of (code, name)
        The villages the viewer may see.
    teams : sequence of str
        Team names.
    personal_search : bool
        The free text also finds names and phone numbers (a role that may see them).
    """
    team_pairs = [(name, name) for name in teams]
    if query.team and query.team not in teams:
        team_pairs.append((query.team, query.team))
    hint = "vol_f_text_hint_pd" if personal_search else "vol_f_text_hint"
    return html.Div(className="inc-filters vp-filters", children=[
        filter_field(t("inc_f_village", lang), filter_dropdown(
            VolunteersIds.VILLAGE, villages, query.village, lang, searchable=True)),
        filter_field(t("vol_f_team", lang), filter_dropdown(
            VolunteersIds.TEAM, team_pairs, query.team, lang, searchable=True), wide=True),
        filter_field(t("vol_f_kind", lang), filter_dropdown(
            VolunteersIds.KIND, [(k.value, kind_label(k.value, lang)) for k in TeamKind],
            query.kind, lang)),
        filter_field(t("vol_f_status", lang), filter_dropdown(
            VolunteersIds.STATUS, [(s, status_label(s, lang)) for s in STATUSES], query.status,
            lang)),
        filter_field(t("inc_f_text", lang), dcc.Input(
            id=VolunteersIds.TEXT, type="search", value=query.text or "", debounce=True,
            placeholder=t(hint, lang), maxLength=MAX_TEXT, className="inc-input"),
            wide=True),
        dcc.Link(t("inc_f_clear", lang), href=VolunteersQuery().href(lang),
                 className="inc-clear"),
    ])


def pager_children(query: VolunteersQuery, total: int, lang: Lang) -> list:
    """First, previous, ``第 2 / 7 页``, next and last (links)."""
    return pager_links(query, page_count(total), lang)


def registry_rows(rows: Sequence[Mapping[str, Any]], view: View) -> list:
    """The registry table's body: every cell links to the person's record."""
    lang = view.lang
    if not rows:
        return [html.Tr(html.Td(t("vol_empty", lang), colSpan=len(COLUMNS),
                                className="inc-empty"))]
    out = []
    for row in rows:
        href = record_href(row["volunteer_id"], lang)
        cells = {
            "id": html.Span(row["volunteer_id"], className="vp-id"),
            "name": or_dash(row.get("name")), "phone": or_dash(row.get("phone")),
            "team": or_dash(row.get("team")), "village": view.village(row.get("village_code")),
            "skills": join(row.get("skills") or [], lang) or PLACEHOLDER,
            "platforms": " · ".join(platform_label(p, lang)
                                    for p in dict.fromkeys(row.get("platforms") or []))
            or PLACEHOLDER,
            "hours": f"{row.get('verified_hours') or 0:g}",
            "points": format_count(row.get("points") or 0),
        }
        out.append(html.Tr(className="vp-row", key=row["volunteer_id"],
                           **{"data-volunteer": row["volunteer_id"]}, children=[
            html.Td(dcc.Link(cells[key], href=href, className="inc-cell-link"),
                    className=f"vp-col-{key}") for key, _ in COLUMNS]))
    return out


def registry_children(models: Mapping[str, Any], query: VolunteersQuery, view: View) -> list:
    """The registry section's body: total, pager and the table of one page."""
    lang, total = view.lang, models.get("total") or 0
    return [
        html.Div(className="inc-summary", children=[
            html.Span(t("vol_total", lang, n=format_count(total)), className="inc-total",
                      id=VolunteersIds.TOTAL),
            html.Nav(pager_children(query, total, lang), className="inc-pager")]),
        html.Div(className="inc-table-wrap vp-table-wrap", children=html.Table(
            className="inc-table vp-registry", children=[
                html.Thead(html.Tr([html.Th(t(label, lang), className=f"vp-col-{key}")
                                    for key, label in COLUMNS])),
                html.Tbody(registry_rows(models.get("rows") or [], view), id=VolunteersIds.ROWS)])),
    ]


# -- the page ------------------------------------------------------------------------------
def tabs(query: VolunteersQuery, lang: Lang, open_pairs: int | None = None) -> html.Nav:
    """The section tabs (links); the merge queue's tab shows how many pairs wait."""
    links = []
    for tab in SECTIONS:
        label = t(f"vol_tab_{tab}", lang)
        if tab == "merges" and open_pairs:
            label = f"{label} ({open_pairs})"
        active = " active" if tab == query.tab else ""
        links.append(dcc.Link(label, href=query.section(tab).href(lang),
                              className=f"vp-tab vp-tab-{tab}{active}"))
    return html.Nav(links, className="vp-tabs")


def layout(lang: Lang, query: VolunteersQuery, *, controls: Any = None, body: list | None = None,
           pd: Any = None, notice: str = "", alert: str = "", poll_ms: int = 2000,
           seen: Mapping[str, Any] | None = None, open_pairs: int | None = None,
           state: Mapping[str, Any] | None = None) -> html.Div:
    """Return the volunteers page.

    Parameters
    ----------
    lang : {"zh", "en"}
        Language of every label.
    query : VolunteersQuery
        The section and its state.
    controls : component or list, optional
        The section's controls (filters, month picker), outside the refreshed body.
    body : list, optional
        The section's content (replaced by the refresh poll).
    pd : component, optional
        The reveal panel (:func:`pd_panel`), outside the body.
    notice, alert : str
        Invalid query parameters ignored; data-source error text.
    poll_ms : int
        Period of the refresh poll, ms.
    seen : mapping, optional
        What the body was rendered from (the poll's store).
    open_pairs : int, optional
        Pairs waiting in the merge queue (shown on its tab).
    state : mapping, optional
        Extra state for the callbacks (kept in the page's store with lang and params).
    """
    other = "zh" if lang == "en" else "en"
    data = {"lang": lang, "params": query.params(), **dict(state or {})}
    return html.Div(id=VolunteersIds.ROOT, className=f"inc-page vp-page lang-{lang}", lang=lang,
                    children=[
        page_header(lang, t("vol_title", lang), query.href(other)),
        html.Main(className="inc-main vp-main", children=[
            tabs(query, lang, open_pairs),
            html.Div(controls, className="vp-controls"),
            html.Div(notice, id=VolunteersIds.NOTICE, className="inc-notice", role="status"),
            html.Div(alert, id=VolunteersIds.ALERT, className="inc-alert", role="alert"),
            html.Div(id=VolunteersIds.MESSAGE, className="vp-message", role="status"),
            html.Div(body or [], id=VolunteersIds.BODY,
                     className=f"vp-body vp-section-{query.tab}"),
            *([pd] if pd is not None else []),
        ]),
        dcc.Location(id=VolunteersIds.NAV, refresh="callback-nav"),
        dcc.Location(id=VolunteersIds.MONTH_NAV, refresh="callback-nav"),
        dcc.Interval(id=VolunteersIds.TICK, interval=poll_ms),
        dcc.Store(id=VolunteersIds.STATE, data=data),
        dcc.Store(id=VolunteersIds.SEEN, data=dict(seen or {})),
        dcc.Store(id=VolunteersIds.CHANGED),
    ])
