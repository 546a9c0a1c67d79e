"""The analysis page (研判): village × hour heatmap, hot villages, trends and repeat groups.

:class:`AnalysisIds` declares the page's component ids once; ``callbacks/analysis.py`` imports
them. Every builder here is pure: it takes the read models of :mod:`cockpit.analysis` and
:func:`cockpit.governance_queries.repeat_groups` and returns plain figure dicts (never
``go.Figure``) or components. Upstream text (incident ids) is passed as component children,
escaped by React; text inside figures goes through :func:`layouts.figures.plain`. The
figures themselves are :mod:`layouts.analysis_figures`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode

from dash import dcc, html

from cockpit import vocab
from layouts.analysis_figures import blank_figure, category_color, village_label
from layouts.i18n import PLACEHOLDER, Lang, category_label, format_count, t
from layouts.incidents_query import incident_href, with_lang

#: Period token (``?period=``, also handed to the incidents page on a drill) -> local days.
PERIODS: dict[str, int] = {"today": 1, "7d": 7, "30d": 30}
DEFAULT_PERIOD = "30d"
#: Value of the category selector meaning "every category".
ALL_CATEGORIES = "all"
#: The page polls the data version no faster than this, ms: an analysis is not a live ticker.
MIN_REFRESH_MS = 2000
#: Incident ids listed per repeat group; the rest are counted.
GROUP_IDS_SHOWN = 8


class AnalysisIds(StrEnum):
    """Component ids of the analysis page."""

    ROOT = "analysis-root"
    PERIOD = "analysis-period"
    CATEGORY = "analysis-category"
    RANGE = "analysis-range"
    ALERT = "analysis-alert"
    HEATMAP = "analysis-heatmap"
    HOT = "analysis-hot"
    TREND_COUNTS = "analysis-trend-counts"
    TREND_DISPATCH = "analysis-trend-dispatch"
    TREND_CLOSE = "analysis-trend-close"
    REPEATS = "analysis-repeats"
    ALERTS = "analysis-alerts"
    TICK = "analysis-tick"
    SEEN = "analysis-seen"
    CONFIG = "analysis-config"
    NAV = "analysis-nav"
    TRIM = "analysis-trim"


def normalize_period(value: object) -> str:
    """Return a period token of :data:`PERIODS`; anything else gives :data:`DEFAULT_PERIOD`."""
    text = str(value or "").strip().lower()
    return text if text in PERIODS else DEFAULT_PERIOD


def normalize_category(value: object) -> str | None:
    """Return a category code, or None for "every category" (also for unknown values)."""
    text = str(value or "").strip()
    return text if text in {c.value for c in vocab.Category} else None


def drill_href(village_code: str, period: str, lang: Lang = "zh") -> str:
    """Return the incidents list of one village and period: ``/incidents?village=..&period=..``."""
    query = urlencode({"village": village_code, "period": normalize_period(period)})
    return with_lang(f"/incidents?{query}", lang)


def range_text(matrix: Mapping[str, Any], lang: Lang = "zh") -> str:
    """Return ``2026-10-31 至 2026-11-29 · 共 12 起``: the period's first and last local day.

    ``matrix`` is :func:`cockpit.analysis.hot_matrix` (``since``, ``until`` exclusive,
    ``total``).
    """
    since, until = matrix.get("since"), matrix.get("until")
    last = (date.fromisoformat(until[:10]) - timedelta(days=1)).isoformat() if until else None
    return t("an_range", lang, since=(since or PLACEHOLDER)[:10], until=last or PLACEHOLDER,
             n=format_count(matrix.get("total")))


def hot_children(hot: Sequence[Mapping[str, Any]], names: Mapping[str, str], lang: Lang,
                 period: str) -> list:
    """Return the hot-villages list: rank, name, count, share bar, open and repeats.

    Each item links to the incidents of that village and period (:func:`drill_href`).
    """
    if not hot:
        return [html.Li(t("an_empty", lang), className="an-empty")]
    top = max(row["count"] for row in hot) or 1
    return [html.Li(className="an-hot-item", key=row["village_code"],
                    **{"data-village": row["village_code"]}, children=dcc.Link(
        href=drill_href(row["village_code"], period, lang), className="an-hot-link", children=[
            html.Span(str(rank), className="an-hot-rank"),
            html.Span(village_label(row["village_code"], names, lang), className="an-hot-name"),
            html.Span(format_count(row["count"]), className="an-hot-count"),
            html.Span(f"{row['share']:.0%}", className="an-hot-share"),
            html.Div(className="an-hot-track", children=html.Div(
                className="an-hot-bar", style={"width": f"{row['count'] / top * 100:.1f}%"})),
            html.Span(t("an_hot_open", lang, n=row["open"]),
                      className="an-hot-open" + ("" if row["open"] else " an-zero")),
            html.Span(t("an_hot_repeats", lang, n=row["repeats"]),
                      className="an-hot-rep" + ("" if row["repeats"] else " an-zero")),
        ])) for rank, row in enumerate(hot, start=1)]


def _when(iso: str | None) -> str:
    return iso[5:16].replace("T", " ") if iso else PLACEHOLDER  # MM-DD HH:MM, local


def repeat_children(groups: Sequence[Mapping[str, Any]], names: Mapping[str, str],
                    lang: Lang) -> list:
    """Return the repeat-groups table: size, category, village, first/last report, open, ids.

    Each incident id links to its detail page (:func:`incident_href`); at most
    :data:`GROUP_IDS_SHOWN` ids are listed per group, the others counted (等 n 起).
    """
    if not groups:
        return [html.P(t("an_repeats_empty", lang), className="an-empty")]
    head = html.Thead(html.Tr([
        html.Th(t(f"an_col_{c}", lang), className="an-num" if c in ("size", "open") else None)
        for c in ("size", "category", "village", "first", "last", "open", "incidents")]))
    rows = []
    for g in groups:
        ids = list(g.get("incident_ids") or [])
        links: list = [dcc.Link(i, href=incident_href(i, lang), className="an-incident")
                       for i in ids[:GROUP_IDS_SHOWN]]
        if len(ids) > GROUP_IDS_SHOWN:
            links.append(html.Span(t("an_more", lang, n=len(ids) - GROUP_IDS_SHOWN),
                                   className="an-more"))
        category = g.get("category") or "other"
        rows.append(html.Tr(key=g["group"], **{"data-group": g["group"]}, children=[
            html.Td(format_count(g["size"]), className="an-num"),
            html.Td(html.Span(category_label(category, lang), className="an-chip",
                              style={"color": category_color(category),
                                     "borderColor": category_color(category)})),
            html.Td(village_label(g.get("village_code"), names, lang)),
            html.Td(_when(g.get("first_at"))), html.Td(_when(g.get("last_at"))),
            html.Td(format_count(g.get("open")), className="an-num"),
            html.Td(links, className="an-ids")]))
    return [html.Table([head, html.Tbody(rows)], className="an-table")]


def _panel(title: str, body: Any, area: str, hint: str | None = None) -> html.Section:
    heading = [html.H2(title, className="an-panel-title")]
    if hint:
        heading.append(html.Span(hint, className="an-panel-hint"))
    return html.Section(className=f"an-panel an-area-{area}", children=[
        html.Div(heading, className="an-panel-head"), html.Div(body, className="an-panel-body")])


def _graph(graph_id: AnalysisIds, area: str) -> dcc.Graph:
    return dcc.Graph(id=graph_id, figure=blank_figure(), className=f"an-graph an-graph-{area}",
                     responsive=True, config={"displayModeBar": False, "scrollZoom": False,
                                              "doubleClick": False, "showTips": False})


def _choices(choice_id: AnalysisIds, options: list[tuple[str, str]], value: str) -> Any:
    return dcc.RadioItems(id=choice_id, options=[{"label": label, "value": v}
                                                 for v, label in options],
                          value=value, inline=True, className="an-choices",
                          labelClassName="an-choice")


def layout(lang: Lang, *, refresh_ms: int, period: str = DEFAULT_PERIOD,
           category: str | None = None, reports: Any = None) -> html.Div:
    """Return the analysis page; its data arrive with the first poll.

    Parameters
    ----------
    lang : {"zh", "en"}
        Language of every string on the page.
    refresh_ms : int
        Poll period of the data version, ms (at least :data:`MIN_REFRESH_MS`).
    period : str
        Selected period token of :data:`PERIODS`.
    category : str, optional
        Selected category code; None for every category.
    reports : component, optional
        The briefing download panel (:func:`layouts.report_panel.download_panel`), for a
        viewer who may download briefings; None shows none.
    """
    other = "zh" if lang == "en" else "en"
    periods = [(p, t(f"an_period_{p}", lang)) for p in PERIODS]
    categories = [(ALL_CATEGORIES, t("an_all_categories", lang))] + [
        (c.value, category_label(c.value, lang)) for c in vocab.Category]
    header = html.Header(className="an-header", children=[
        html.H1(t("an_title", lang), className="an-title"),
        html.Div(id=AnalysisIds.RANGE, className="an-range"),
        html.Nav(className="an-nav", children=[
            dcc.Link(t("an_to_incidents", lang), href=with_lang("/incidents", lang)),
            dcc.Link(t("back_to_wall", lang), href=with_lang("/", lang)),
            html.A(t("lang_switch", lang), href=f"?lang={other}", className="an-lang")])])
    controls = html.Div(className="an-controls", children=[
        html.Div([html.Span(t("an_period", lang), className="an-control-label"),
                  _choices(AnalysisIds.PERIOD, periods, normalize_period(period))],
                 className="an-control"),
        html.Div([html.Span(t("an_category", lang), className="an-control-label"),
                  _choices(AnalysisIds.CATEGORY, categories,
                           normalize_category(category) or ALL_CATEGORIES)],
                 className="an-control"),
        html.Div(id=AnalysisIds.ALERT, className="an-alert", role="alert"),
        *([reports] if reports is not None else [])])
    return html.Div(id=AnalysisIds.ROOT, className=f"analysis lang-{lang}", lang=lang, children=[
        header, controls,
        html.Main(className="an-grid", children=[
            _panel(t("an_heatmap", lang), _graph(AnalysisIds.HEATMAP, "heat"), "heat",
                   t("an_heatmap_hint", lang)),
            _panel(t("an_hot", lang), html.Ol(id=AnalysisIds.HOT, className="an-hot"), "hot"),
            _panel(t("an_trend_counts", lang), _graph(AnalysisIds.TREND_COUNTS, "trend"),
                   "counts"),
            _panel(t("an_trend_dispatch", lang), _graph(AnalysisIds.TREND_DISPATCH, "trend"),
                   "dispatch"),
            _panel(t("an_trend_close", lang), _graph(AnalysisIds.TREND_CLOSE, "trend"),
                   "close"),
            _panel(t("an_alerts", lang), html.Div(id=AnalysisIds.ALERTS), "alerts"),
            _panel(t("an_repeats", lang), html.Div(id=AnalysisIds.REPEATS), "repeats")]),
        dcc.Interval(id=AnalysisIds.TICK, interval=max(refresh_ms, MIN_REFRESH_MS)),
        dcc.Store(id=AnalysisIds.CONFIG, data={"lang": lang}),
        dcc.Store(id=AnalysisIds.SEEN),
        dcc.Store(id=AnalysisIds.TRIM),
        dcc.Location(id=AnalysisIds.NAV, refresh="callback-nav"),
    ])
