"""The staff map page (``/map``): filters, the map frame and the drill-down side panel.

The map itself is a separate document (:mod:`layouts.staff_map_frame`, served at
:data:`FRAME_PATH`) shown in an iframe; ``assets/staff_map.js`` listens to it and keeps what the
user did (layers, view, the village, grid or incident chosen) in this page's URL, so the link
shares the view. The side panel is filled by ``callbacks.staff_map`` from the selection.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode

from dash import dcc, html

from cockpit import vocab
from layouts.i18n import (
    PLACEHOLDER,
    Lang,
    category_label,
    format_count,
    join,
    stage_label,
    t,
)
from layouts.incidents_query import with_lang
from layouts.staff_page import MAP_NAV_PATH, page_header

MAP_PATH = MAP_NAV_PATH
FRAME_PATH = "/map/frame"
POINTS_PATH = "/map/points.json"
ITEM_PATH = "/map/item"
PERIODS = ("today", "24h", "7d", "30d", "all")


class MapIds(StrEnum):
    """Component ids of the staff map page (declared once, used by its callbacks)."""

    CATEGORY = "map-category"
    STAGE = "map-stage"
    PERIOD = "map-period"
    FRAME = "map-frame"
    PANEL = "map-panel"
    SELECTION = "map-selection"
    PROBLEMS = "map-problems"
    SHARE = "map-share"
    QUERY = "map-query"
    LAYER_VERSION = "map-layer-version"
    TICK = "map-tick"


#: How often an open map asks whether the boundary layers changed (an import, new grids).
LAYER_CHECK_MS = 15_000


def frame_src(query: Mapping[str, str]) -> str:
    """The frame's URL for the page's query (the same keys: layers, filters, view, village)."""
    return FRAME_PATH + ("?" + urlencode(dict(query)) if query else "")


def _options(codes: Sequence[str], label, lang: Lang) -> list[dict[str, str]]:
    return [{"label": label(code, lang), "value": code} for code in codes]


def filters(lang: Lang, categories: Sequence[str], stages: Sequence[str], period: str,
            problems: Sequence[str]) -> html.Div:
    """The filter row: categories, stages, period, and what the link held that was ignored."""
    return html.Div(className="map-filters", children=[
        html.Label([t("map_f_category", lang), dcc.Dropdown(
            id=MapIds.CATEGORY, multi=True, value=list(categories),
            placeholder=t("map_f_all", lang), className="map-dropdown",
            options=_options([c.value for c in vocab.Category], category_label, lang))],
            className="map-field"),
        html.Label([t("map_f_stage", lang), dcc.Dropdown(
            id=MapIds.STAGE, multi=True, value=list(stages),
            placeholder=t("map_f_all", lang), className="map-dropdown",
            options=_options([s.value for s in vocab.Stage], stage_label, lang))],
            className="map-field"),
        html.Label([t("map_f_period", lang), dcc.Dropdown(
            id=MapIds.PERIOD, clearable=False, value=period, className="map-dropdown",
            options=[{"label": t(f"map_p_{p}", lang), "value": p} for p in PERIODS])],
            className="map-field map-field-narrow"),
        html.Button(t("map_share", lang), id=MapIds.SHARE, className="map-share",
                    **{"data-done": t("map_share_done", lang)}),
        html.Div(t("map_ignored", lang, what=join(problems, lang, "semi_sep")) if problems else "",
                 id=MapIds.PROBLEMS, className="map-problems", role="status"),
    ])


def layout(lang: Lang, *, query: Mapping[str, str], categories: Sequence[str],
           stages: Sequence[str], period: str, problems: Sequence[str],
           selection: Mapping[str, Any], panel: Any, layer_version: int = 0,
           past: Any = None, opener: Any = None) -> html.Div:
    """Return the page: header, filters, the map frame and the side panel.

    Parameters
    ----------
    query : mapping
        The page's query string (normalised): the frame opens with the same state.
    selection : mapping
        ``{"village": code | None, "grid": code | None, "item": id | None}`` from the link.
    panel : component
        The side panel's first content (:func:`overview_children` and the like).
    layer_version : int
        The boundary layers' version the frame is drawn from: when it moves (an import), the
        frame is drawn again.
    past, opener : Component, optional
        The time machine's band (the frame, points and panel read the past moment of the
        query's ``at``) and its opener (:mod:`layouts.timemachine`).
    """
    other = dict(query)
    if lang == "en":
        other.pop("lang", None)
    else:
        other["lang"] = "en"
    html_lang = "en" if lang == "en" else "zh-CN"
    return html.Div(className="inc-page map-page", lang=html_lang, children=[
        *([past] if past is not None else []),
        page_header(lang, t("map_title", lang),
                    MAP_PATH + ("?" + urlencode(other) if other else "")),
        *([opener] if opener is not None else []),
        filters(lang, categories, stages, period, problems),
        dcc.Store(id=MapIds.SELECTION, data=dict(selection)),
        dcc.Store(id=MapIds.QUERY, data=dict(query)),
        dcc.Store(id=MapIds.LAYER_VERSION, data=layer_version),
        dcc.Interval(id=MapIds.TICK, interval=LAYER_CHECK_MS),
        html.Div(className="map-main", children=[
            html.Iframe(id=MapIds.FRAME, src=frame_src(query), className="map-frame",
                        title=t("map_title", lang)),
            html.Aside(panel, id=MapIds.PANEL, className="map-panel", role="region",
                       **{"aria-live": "polite"}),
        ]),
    ])


def _figure(label: str, value: Any, modifier: str = "") -> html.Div:
    shown = PLACEHOLDER if value is None else (format_count(value) if isinstance(value, int)
                                               else str(value))
    return html.Div(className=f"map-fig {modifier}".strip(), children=[
        html.Span(label, className="map-fig-label"), html.B(shown, className="map-fig-value")])


def _percent(correct: int, total: int) -> str:
    return f"{100 * correct / total:.1f}%" if total else PLACEHOLDER


def _bars(title: str, rows: Sequence[tuple[str, int]]) -> html.Div:
    top = max((n for _, n in rows), default=0) or 1
    return html.Div(className="map-bars", children=[
        html.H4(title),
        *[html.Div(className="map-bar", children=[
            html.Span(label, className="map-bar-label"),
            html.Span(className="map-bar-track", children=html.Span(
                className="map-bar-fill", style={"width": f"{100 * n / top:.0f}%"})),
            html.B(format_count(n), className="map-bar-n")]) for label, n in rows]])


def overview_children(lang: Lang, totals: Mapping[str, Any]) -> list:
    """The panel with no village chosen: the subdistrict's figures and a hint."""
    return [html.H3(t("map_panel_all", lang), className="map-panel-title"),
            html.P(t("map_panel_hint", lang), className="map-panel-hint"),
            html.Div(className="map-figs", children=[
                _figure(t("map_panel_incidents", lang), totals.get("total")),
                _figure(t("map_panel_open", lang), totals.get("open")),
                _figure(t("map_panel_overdue", lang), totals.get("overdue"), "map-fig-alarm"),
            ]),
            html.P(t("map_panel_unplaced", lang, n=totals.get("unplaced", 0)),
                   className="map-panel-note") if totals.get("unplaced") else None]


def village_children(lang: Lang, v: Mapping[str, Any], grids: Sequence[Mapping[str, Any]],
                     back_href: str, villages: Mapping[str, str]) -> list:
    """The panel of one village: its figures, stage and category bars, and its grids."""
    correct, total = int(v.get("waste_correct") or 0), int(v.get("waste_total") or 0)
    target = float(v.get("waste_target") or 0.95)
    n_grids = len(grids)
    generated = any(g.get("generated") for g in grids)
    name = villages.get(v.get("code"), v.get("name") or v.get("code"))
    grid_note = (t("map_panel_no_grids", lang) if not n_grids else
                 t("map_panel_grids_generated" if generated else "map_panel_grids", lang,
                   n=n_grids))
    stages = [(stage_label(s, lang), int(n)) for s, n in (v.get("incidents_by_stage") or {}
                                                         ).items() if n]
    categories = [(category_label(c["category"], lang), int(c["count"]))
                  for c in v.get("by_category") or ()]
    return [
        html.A(t("map_panel_back", lang), href=back_href, className="map-back",
               **{"data-select": "clear"}),
        html.H3(name, className="map-panel-title"),
        html.P(t("map_panel_schematic" if v.get("schematic") else "map_panel_imported", lang),
               className="map-panel-note" + (" map-schematic" if v.get("schematic") else "")),
        html.Div(className="map-figs", children=[
            _figure(t("map_panel_incidents", lang), sum(n for _, n in stages)),
            _figure(t("map_panel_open", lang), v.get("open")),
            _figure(t("map_panel_overdue", lang), v.get("overdue"), "map-fig-alarm"),
            _figure(t("map_panel_repeats", lang), v.get("repeat_groups")),
            _figure(t("map_panel_volunteers", lang), v.get("volunteers")),
            _figure(t("map_panel_on_duty", lang), v.get("on_duty")),
            _figure(t("map_panel_households", lang), v.get("households")),
            _figure(t("map_panel_accuracy", lang), _percent(correct, total),
                    "" if not total or correct / total >= target else "map-fig-alarm"),
        ]),
        html.P(t("map_panel_target", lang, p=f"{100 * target:.0f}%"),
               className="map-panel-note"),
        _bars(t("map_panel_by_stage", lang), stages) if stages else None,
        _bars(t("map_panel_by_category", lang), categories) if categories else None,
        html.H4(grid_note),
        grid_table(lang, grids) if grids else None,
    ]


def grid_table(lang: Lang, grids: Sequence[Mapping[str, Any]]) -> html.Table:
    """The village's grids with their counts; a row drills into its grid."""
    mark = t("map_panel_generated", lang)
    return html.Table(className="map-grids", children=[
        html.Thead(html.Tr([html.Th(t(k, lang)) for k in (
            "map_grid_col_code", "map_grid_col_incidents", "map_grid_col_open",
            "map_grid_col_households")])),
        html.Tbody([html.Tr(**{"data-grid": g["code"]}, className="map-grid-row", children=[
            html.Td(f"{g.get('name') or g['code']}{mark if g.get('generated') else ''}"),
            html.Td(format_count(int(g.get("incidents") or 0))),
            html.Td(format_count(int(g.get("open_incidents") or 0))),
            html.Td(format_count(int(g.get("households") or 0)))]) for g in grids])])


def grid_children(lang: Lang, g: Mapping[str, Any], village_name: str,
                  back_href: str) -> list:
    """The panel of one grid: its counts and the way back to its village."""
    mark = t("map_panel_generated", lang) if g.get("generated") else ""
    return [html.A(t("map_panel_village_back", lang, name=village_name), href=back_href,
                   className="map-back"),
            html.H3(t("map_panel_grid", lang, name=f"{g.get('name') or g['code']}{mark}"),
                    className="map-panel-title"),
            html.Div(className="map-figs", children=[
                _figure(t("map_grid_col_incidents", lang), int(g.get("incidents") or 0)),
                _figure(t("map_grid_col_open", lang), int(g.get("open_incidents") or 0)),
                _figure(t("map_grid_col_households", lang), int(g.get("households") or 0)),
            ])]


def scope_children(lang: Lang, back_href: str) -> list:
    """The panel of a village the viewer may not see (a staff account's other villages)."""
    return [html.A(t("map_panel_back", lang), href=back_href, className="map-back"),
            html.P(t("map_panel_out_of_scope", lang), className="map-panel-note")]


def item_children(lang: Lang, item: Mapping[str, Any] | None, back_href: str) -> list:
    """The panel of one incident: the rows its popup shows and a link to its page."""
    if item is None:
        return [html.A(t("map_panel_back", lang), href=back_href, className="map-back"),
                html.P(t("map_panel_item_missing", lang), className="map-panel-note")]
    return [html.A(t("map_panel_back", lang), href=back_href, className="map-back"),
            html.H3(item.get("title") or item.get("id"), className="map-panel-title"),
            html.Dl(className="map-item", children=[
                part for label, value in item.get("rows") or ()
                for part in (html.Dt(label), html.Dd(value))]),
            html.A(t("map_panel_open_item", lang), href=with_lang(item["href"], lang),
                   className="map-open-item") if item.get("href") else None]


def _when(value: str | None) -> str:
    """``2026-12-03T10:04:05+08:00`` → ``2026-12-03 10:04``."""
    return value[:16].replace("T", " ") if value else PLACEHOLDER


def item_view(detail: Mapping[str, Any], lang: Lang, villages: Mapping[str, str],
              href: str) -> dict[str, Any]:
    """The popup's and the panel's view of one incident: a title, label-value rows, a link.

    ``detail`` is :func:`cockpit.mapdata.staff_panel.incident_item` (masked for the viewer);
    every value is plain text (the frame sets it with ``textContent``).
    """
    reporter = detail.get("reporter") or {}
    caller = " ".join(str(v) for v in (reporter.get("name"), reporter.get("phone")) if v)
    status = detail.get("status")
    rows = [
        (t("map_item_id", lang), detail.get("incident_id")),
        (t("map_item_category", lang), category_label(detail.get("category"), lang)),
        (t("map_item_stage", lang), stage_label(detail.get("stage"), lang)),
        (t("map_item_status", lang), t(f"map_status_{status}", lang) if status else None),
        (t("map_item_village", lang), villages.get(detail.get("village_code") or "")),
        (t("map_item_address", lang), detail.get("address")),
        (t("map_item_reported", lang), _when(detail.get("reported_at"))),
        (t("map_item_due", lang), _when(detail.get("due_at")) if detail.get("due_at") else None),
        (t("map_item_reporter", lang), caller or None),
        (t("map_item_repeats", lang), str(detail.get("repeat_size"))
         if (detail.get("repeat_size") or 0) > 1 else None),
    ]
    return {"id": detail.get("incident_id"),
            "title": detail.get("title") or t("untitled", lang),
            "rows": [[label, str(value)] for label, value in rows if value],
            "href": href}
