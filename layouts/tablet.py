"""The leaders' tablet page (``/tablet``): KPI cards, trends and a drill-down, made for touch.

The page's state is its URL — ``/tablet?village=330110006002&period=7d&lang=en`` — so back,
forward and reload show the same view; every control is a link (a period, a village, the
breadcrumb, an item), at least 44 px high. The data parts (:class:`TabletIds` ``KPIS``,
the three trend graphs, ``DRILL``) are filled at render and kept current by server push
(``callbacks.tablet``, ``assets/push.js``). Builders are pure: they take the read models of
:mod:`cockpit.tablet_queries` and return components.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import quote, urlencode

from dash import dcc, html

from cockpit.tablet_queries import DEFAULT_PERIOD, PERIODS
from layouts.figures import local_time
from layouts.i18n import (
    PLACEHOLDER,
    PUSH_TEXTS,
    Lang,
    category_label,
    format_count,
    format_duration,
    join,
    stage_label,
    strings,
    t,
)
from layouts.incidents import TABLET_NAV_PATH, page_header
from layouts.incidents_query import LIST_PATH, with_lang
from layouts.tablet_figures import GRAPH_CONFIG, percent
from layouts.wall_tiles import configured_tile

TABLET_PATH = TABLET_NAV_PATH
#: Height of each trend graph: three fit a portrait screen's scroll, two a landscape one's.
GRAPH_HEIGHT = "300px"
#: Where each KPI card leads (the list shows what the card counts).
KPI_LINKS = {"today": "/incidents?period=today", "open": "/incidents?stage=open",
             "overdue": "/incidents?stage=overdue&sort=due_at&dir=asc",
             "closed_today": "/incidents?stage=closed&sort=stage_at&dir=desc",
             "dispatch": "/analysis", "on_duty": "/volunteers", "waste": "/waste"}


class TabletIds(StrEnum):
    """Component ids of the tablet page (declared once; callbacks import them)."""

    ROOT = "tab-root"
    ALERT = "tab-alert"
    KPIS = "tab-kpis"
    PERIOD = "tab-period"
    TREND_INCIDENTS = "tab-trend-incidents"
    TREND_VOLUNTEERS = "tab-trend-volunteers"
    TREND_WASTE = "tab-trend-waste"
    DRILL = "tab-drill"
    CRUMBS = "tab-crumbs"
    CONFIG = "tab-config"
    PUSH = "tab-push"


def period_id(period: str) -> str:
    """The id of a period's button (``tab-period-7d``)."""
    return f"{TabletIds.PERIOD}-{period}"


def village_id(code: str) -> str:
    """The id of a village's card in the drill-down (``tab-village-330110006002``)."""
    return f"tab-village-{code}"


def tablet_href(period: str, village: str | None, lang: Lang) -> str:
    """The page's URL for a view: ``/tablet?village=…&period=7d`` (defaults left out)."""
    params = {}
    if village:
        params["village"] = village
    if period != DEFAULT_PERIOD:
        params["period"] = period
    if lang == "en":
        params["lang"] = "en"
    return TABLET_PATH + ("?" + urlencode(params) if params else "")


def item_href(incident_id: str, lang: Lang) -> str:
    """The incident's detail page (it masks the caller by role)."""
    return with_lang(f"{LIST_PATH}/{quote(incident_id, safe='')}", lang)


# -- KPI cards ----------------------------------------------------------------------------------
def _card(key: str, label: str, value: str, lang: Lang, sub: str = "",
          tone: str = "") -> dcc.Link:
    return dcc.Link(href=with_lang(KPI_LINKS[key], lang), id=f"tab-kpi-{key}",
                    className=f"tab-kpi {tone}".strip(), title=t("tab_kpi_tap", lang),
                    children=[html.Span(label, className="tab-kpi-label"),
                              html.Span(value, className="tab-kpi-value"),
                              html.Span(sub, className="tab-kpi-sub")])


def tile_cards(rows: Sequence[Mapping[str, Any]], lang: Lang) -> list:
    """Return a card per configured tile (docs/tiles.md): title, value and unit, change.

    ``rows`` are :func:`cockpit.tiles.tile_states` rows; a card is ``alarm`` when critical,
    ``warn`` when warn, and says so in words; a tile without a value says 尚无数据.
    """
    cards = []
    for row in rows:
        tile = configured_tile(row, lang)
        tone = {"critical": "alarm", "warn": "warn", "ok": "ok"}.get(tile["state"] or "", "")
        value = tile["value"] + (f" {tile['unit']}" if tile["unit"] else "")
        sub = " · ".join(x for x in (tile["badge"], tile["change"] or tile["note"]) if x)
        cards.append(html.Div(id=f"tab-tile-{row['id']}", className=f"tab-kpi tab-tile {tone}"
                              .strip(), children=[
            html.Span(tile["title"], className="tab-kpi-label"),
            html.Span(value, className="tab-kpi-value"),
            html.Span(sub, className="tab-kpi-sub")]))
    return cards


def kpi_children(kpis: Mapping[str, Any] | None, target: float, lang: Lang,
                 tiles: Sequence[Mapping[str, Any]] = ()) -> list:
    """Return the seven KPI cards, each a link to the list it counts, then the tiles' cards.

    Parameters
    ----------
    kpis : dict or None
        :func:`cockpit.tablet_queries.kpis`; None (not read) shows placeholders.
    target : float
        The waste accuracy target in (0, 1]; today's accuracy is ``ok`` at or above it,
        ``alarm`` below it.
    tiles : sequence of dict
        The configured tiles the viewer may see (:func:`tile_cards`).
    """
    k = dict(kpis or {})
    rate = (k["waste_correct"] / k["waste_total"]) if k.get("waste_total") else None
    if rate is None:
        waste_sub, tone = t("tab_kpi_waste_none", lang), ""
    else:
        met = rate >= target - 1e-12
        waste_sub = (t("tab_kpi_met" if met else "tab_kpi_below", lang) + " · "
                     + t("tab_kpi_waste_sub", lang, target=percent(target),
                         n=format_count(k["waste_total"])))
        tone = "ok" if met else "alarm"
    mobilised = k.get("mobilised") or 0
    return [
        _card("today", t("tab_kpi_today", lang), format_count(k.get("today")), lang),
        _card("open", t("tab_kpi_open", lang), format_count(k.get("open")), lang),
        _card("overdue", t("tab_kpi_overdue", lang), format_count(k.get("overdue")), lang,
              tone="alarm" if k.get("overdue") else ""),
        _card("closed_today", t("tab_kpi_closed", lang), format_count(k.get("closed_today")),
              lang),
        _card("dispatch", t("tab_kpi_dispatch", lang),
              format_duration(k.get("median_dispatch_s"), lang), lang),
        _card("on_duty", t("tab_kpi_on_duty", lang), format_count(k.get("on_duty")), lang,
              sub=t("tab_kpi_on_duty_sub", lang, n=mobilised) if mobilised else ""),
        _card("waste", t("tab_kpi_waste", lang), percent(rate), lang, sub=waste_sub,
              tone=tone),
        *tile_cards(tiles, lang),
    ]


# -- drill-down ---------------------------------------------------------------------------------
def _name(row: Mapping[str, Any], lang: Lang) -> str:
    return str((row.get("name_en") if lang == "en" else row.get("name")) or row.get("code"))


def _figure(label: str, value: str, tone: str = "") -> html.Span:
    return html.Span(className=f"tab-fig {tone}".strip(), children=[
        html.Span(label, className="tab-fig-label"), html.B(value, className="tab-fig-value")])


def _accuracy(correct: int, total: int, target: float, lang: Lang) -> html.Span:
    if not total:
        return _figure(t("tab_v_accuracy", lang), t("tab_v_no_waste", lang), "muted")
    rate = correct / total
    return _figure(t("tab_v_accuracy", lang), percent(rate),
                   "ok" if rate >= target - 1e-12 else "alarm")


def to_handle(row: Mapping[str, Any]) -> int | None:
    """The drill-down's 待办: a row's ``open`` plus ``overdue`` (map statuses), None if neither.

    Overdue ones included, as the village's item list (its ``total``) counts them, so that
    超时 reads as a part of 待办; resolved ones are handled (left out).
    """
    if row.get("open") is None and row.get("overdue") is None:
        return None
    return int(row.get("open") or 0) + int(row.get("overdue") or 0)


def _village_figures(row: Mapping[str, Any], target: float, lang: Lang) -> list:
    return [_figure(t("tab_v_reported", lang), format_count(row.get("incidents"))),
            _figure(t("tab_v_open", lang), format_count(to_handle(row))),
            _figure(t("tab_v_overdue", lang), format_count(row.get("overdue")),
                    "alarm" if row.get("overdue") else ""),
            _accuracy(row.get("waste_correct") or 0, row.get("waste_total") or 0, target, lang)]


def crumbs(period: str, village: str | None, lang: Lang) -> html.Nav:
    """The breadcrumb: 乔司街道 (a link back when a village is open) › the village."""
    home = t("tab_subdistrict", lang)
    parts: list[Any] = [dcc.Link(home, href=tablet_href(period, None, lang),
                                 className="tab-crumb", id=f"{TabletIds.CRUMBS}-home")
                        if village else html.Span(home, className="tab-crumb current")]
    if village:
        parts += [html.Span("›", className="tab-crumb-sep", **{"aria-hidden": "true"}),
                  html.Span(village, className="tab-crumb current")]
    return html.Nav(parts, id=TabletIds.CRUMBS, className="tab-crumbs",
                    **{"aria-label": t("tab_drill", lang)})


def subdistrict_children(model: Mapping[str, Any], period: str, target: float,
                         lang: Lang) -> list:
    """The drill-down's first level: the subdistrict's figures and one card per village.

    ``model`` is :func:`cockpit.tablet_queries.villages`; a card links to the village.
    """
    totals = model["totals"]
    head = html.Div(className="tab-drill-head", children=[
        crumbs(period, None, lang),
        html.Div(className="tab-figs", children=[
            _figure(t("tab_v_reported", lang), format_count(totals.get("total"))),
            _figure(t("tab_v_open", lang), format_count(to_handle(totals))),
            _figure(t("tab_v_overdue", lang), format_count(totals.get("overdue")),
                    "alarm" if totals.get("overdue") else "")]),
        html.P(t("tab_drill_hint", lang, period=t(f"tab_p_{period}", lang)),
               className="tab-hint")])
    cards = [dcc.Link(id=village_id(row["code"]), href=tablet_href(period, row["code"], lang),
                      className="tab-village" + (" late" if row.get("overdue") else ""),
                      children=[html.Span(_name(row, lang), className="tab-village-name"),
                                html.Span(_village_figures(row, target, lang),
                                          className="tab-figs")])
             for row in model["villages"]]
    return [head, html.Div(cards, className="tab-villages")]


def _item(row: Mapping[str, Any], lang: Lang, today: date | None) -> dcc.Link:
    late = row.get("status") == "overdue"
    when = local_time(row.get("reported_at"), today)
    return dcc.Link(href=item_href(str(row["incident_id"]), lang),
                    className="tab-item" + (" late" if late else ""), children=[
        html.Span(t("tab_item_overdue" if late else "tab_item_open", lang),
                  className="tab-item-status"),
        html.Span(className="tab-item-main", children=[
            html.Span(row.get("title") or t("untitled", lang), className="tab-item-title"),
            html.Span(" · ".join([category_label(row.get("category"), lang),
                                  stage_label(row.get("stage"), lang),
                                  t("tab_item_reported", lang, when=when)]),
                      className="tab-item-sub")]),
        html.Span("›", className="tab-item-go", **{"aria-hidden": "true"})])


def village_children(row: Mapping[str, Any], items: Mapping[str, Any], period: str,
                     target: float, lang: Lang, now: datetime | None = None) -> list:
    """The drill-down's second level: a village's figures and its open items.

    Parameters
    ----------
    row : dict
        The village's row of :func:`cockpit.tablet_queries.villages`.
    items : dict
        :func:`cockpit.tablet_queries.village_items`; each item links to its detail page.
    now : datetime, optional
        Local now: today's reports show their time only.
    """
    total, shown = items["total"], len(items["items"])
    count = (t("tab_items_shown", lang, shown=shown, total=total) if shown < total
             else t("tab_items_count", lang, total=total))
    today = now.date() if now is not None else None
    body: list[Any] = ([_item(r, lang, today) for r in items["items"]] if shown
                       else [html.P(t("tab_items_empty", lang), className="tab-hint")])
    return [html.Div(className="tab-drill-head", children=[
                crumbs(period, _name(row, lang), lang),
                html.Div(_village_figures(row, target, lang), className="tab-figs")]),
            html.H3([t("tab_items_title", lang), html.Span(count, className="tab-count")],
                    className="tab-items-title"),
            html.Div(body, className="tab-items")]


def notice_children(text: str, period: str, lang: Lang) -> list:
    """The drill-down when the link names a village that cannot be shown, and a way back."""
    return [html.Div(className="tab-drill-head", children=[crumbs(period, None, lang)]),
            html.P(text, className="tab-hint tab-notice"),
            dcc.Link(t("tab_back", lang), href=tablet_href(period, None, lang),
                     className="tab-back")]


# -- the page -----------------------------------------------------------------------------------
def period_control(period: str, village: str | None, lang: Lang) -> html.Nav:
    """The segmented control 今日 / 近7天 / 近30天: links that keep the village."""
    return html.Nav(className="tab-seg", **{"aria-label": t("tab_period", lang)}, children=[
        dcc.Link(t(f"tab_p_{p}", lang), href=tablet_href(p, village, lang), id=period_id(p),
                 className="tab-seg-item" + (" selected" if p == period else ""))
        for p in PERIODS])


def _graph(graph_id: TabletIds, figure: Mapping[str, Any] | None) -> dcc.Graph:
    # the height inline: plotly sizes a responsive graph by its element, not by a stylesheet
    return dcc.Graph(id=graph_id, figure=figure or {"data": [], "layout": {}},
                     config=GRAPH_CONFIG, responsive=True, className="tab-graph",
                     style={"height": GRAPH_HEIGHT})


def layout(lang: Lang, *, period: str, village: str | None, parts: Mapping[str, Any],
           push: Mapping[str, Any] | None, scope_names: Sequence[str] | None = None,
           alert: str = "", past: Any = None, opener: Any = None,
           reports: Any = None) -> html.Div:
    """Return the tablet page with its first data.

    Parameters
    ----------
    lang : {"zh", "en"}
        Language of every string.
    period : str
        One of :data:`cockpit.tablet_queries.PERIODS`.
    village : str or None
        The village drilled into (its code), None for the subdistrict.
    parts : mapping
        The data parts by output name (``kpis``, ``trend_incidents``, ``trend_volunteers``,
        ``trend_waste``, ``drill``), as ``callbacks.tablet.tablet_update`` builds them; a
        part missing shows empty.
    push : mapping or None
        What ``assets/push.js`` needs to keep the parts current (``callbacks.push.client_config``
        for this view: routes, channel, poll period); None (the validation layout): no updates.
    scope_names : sequence of str, optional
        A staff account's village names (shown under the title); None: every village.
    alert : str
        Shown when the data source is unreachable.
    past, opener : Component, optional
        The time machine's band (the page shows a past moment: ``push`` is ignored) and its
        opener (:mod:`layouts.timemachine`).
    reports : component, optional
        The briefing download panel (:func:`layouts.report_panel.download_panel`) for a viewer
        who may download briefings; None shows none.
    """
    push = None if past is not None else push
    other = tablet_href(period, village, "zh" if lang == "en" else "en")
    scope = (t("tab_scope_all", lang) if scope_names is None
             else t("tab_scope_some", lang, names=join(scope_names, lang) or PLACEHOLDER))
    return html.Div(id=TabletIds.ROOT, className=f"inc-page tab-page lang-{lang}", lang=lang,
                    children=[
        *([past] if past is not None else []),
        page_header(lang, t("tab_title", lang), other),
        html.Main(className="tab-main", children=[
            *([opener] if opener is not None else []),
            html.Div(alert, id=TabletIds.ALERT, className="tab-alert", role="alert"),
            html.P(scope, className="tab-scope"),
            html.Section(className="tab-section", children=[
                html.H2(t("tab_kpis", lang), className="tab-h2"),
                html.Div(parts.get("kpis") or [], id=TabletIds.KPIS, className="tab-kpis")]),
            html.Section(className="tab-section", children=[
                html.Div(className="tab-section-head", children=[
                    html.H2(t("tab_trends", lang), className="tab-h2"),
                    period_control(period, village, lang)]),
                html.Div(className="tab-trends", children=[
                    _graph(TabletIds.TREND_INCIDENTS, parts.get("trend_incidents")),
                    _graph(TabletIds.TREND_VOLUNTEERS, parts.get("trend_volunteers")),
                    _graph(TabletIds.TREND_WASTE, parts.get("trend_waste"))])]),
            html.Section(className="tab-section", children=[
                html.H2(t("tab_drill", lang), className="tab-h2"),
                html.Div(parts.get("drill") or [], id=TabletIds.DRILL,
                         className="tab-drill")]),
            *([html.Section(reports, className="tab-section tab-reports")]
              if reports is not None else [])]),
        dcc.Store(id=TabletIds.CONFIG, data=client_config(lang, push)),
        dcc.Store(id=TabletIds.PUSH),
    ])


def client_config(lang: Lang, push: Mapping[str, Any] | None) -> dict[str, Any]:
    """What the page's clientside code needs: ``assets/push.js``'s config and its texts.

    ``push`` as for :func:`layout`; the page's root tells the client when the page was left,
    its alert when the data source is down (the watermark shows then too). Without ``push``
    the config holds no ``push`` and the client does not start.
    """
    config: dict[str, Any] = {"lang": lang}
    if push is not None:
        config["tz"] = push.get("tz")
        config["push"] = {**push, "root": TabletIds.ROOT, "alert_id": TabletIds.ALERT,
                          "texts": strings(lang, PUSH_TEXTS)}
    return config
