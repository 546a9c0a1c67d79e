"""The waste page's 概览 tab, and the body of any tab from its read models.

:func:`overview_children` builds KPI cards (today, 7 and 30 days against the target, the
period's disposals and kg by declared class), the daily and weekly trends, and the period's
accuracy per village, station, group and supervisor. :func:`body_children` dispatches to the
builder of the tab shown (the lists are :mod:`layouts.waste_lists`'). Every figure shown is a
tally of :mod:`cockpit.waste.page_queries`; nothing is computed here but its formatting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dash import html

from cockpit.waste.events import WasteClass
from layouts.i18n import PLACEHOLDER, format_count, t
from layouts.volunteers import panel, table
from layouts.waste import View, class_label, kg_text, pct, period_label, rate_cell
from layouts.waste_figures import graph, trend_figure, village_figure
from layouts.waste_lists import disposals_children, households_children, landlords_children
from layouts.waste_query import WasteQuery

#: The KPI cards of accuracy: (key of the tally, label key).
ACCURACY_CARDS = (("today", "wst_kpi_today"), ("7d", "wst_kpi_7d"), ("30d", "wst_kpi_30d"))


def _meets_text(tally: Mapping[str, Any], target: float, lang) -> html.Span:
    if tally.get("rate") is None:
        return html.Span(t("wst_no_disposals", lang), className="wp-kpi-state")
    key = "wst_meets" if tally.get("meets") else "wst_below"
    return html.Span(t(key, lang, target=pct(target)), className="wp-kpi-state")


def accuracy_card(key: str, label: str, tally: Mapping[str, Any], target: float,
                  lang) -> html.Article:
    """One KPI card titled ``label``: the accuracy, ``correct/total``, and the target's verdict."""
    state = "none" if tally.get("rate") is None else ("ok" if tally.get("meets") else "low")
    return html.Article(className=f"wp-kpi wp-kpi-{state}", **{
        "data-kpi": key, "data-correct": str(tally.get("correct") or 0),
        "data-total": str(tally.get("total") or 0)}, children=[
        html.H3(label, className="wp-kpi-label"),
        html.B(pct(tally.get("rate")), className="wp-kpi-value"),
        html.Small(t("wst_kpi_counts", lang, correct=format_count(tally.get("correct") or 0),
                     total=format_count(tally.get("total") or 0)), className="wp-kpi-n"),
        _meets_text(tally, target, lang)])


def kpi_children(models: Mapping[str, Any], query: WasteQuery, view: View) -> html.Div:
    """The KPI strip: three accuracy cards, then the period's disposals, kg and classes."""
    lang, target = view.lang, models.get("target") or 0.0
    kpis = models.get("kpis") or {}
    period = kpis.get("period") or {}
    classes = {c.get("key"): c for c in models.get("classes") or []}
    cards = [accuracy_card(key, t(label, lang), kpis.get(key) or {}, target, lang)
             for key, label in ACCURACY_CARDS]
    cards.append(accuracy_card("period", t("wst_kpi_period", lang,
                                           period=period_label(query, lang)),
                               period, target, lang))
    cards.append(html.Article(className="wp-kpi wp-kpi-kg", **{"data-kpi": "kg"}, children=[
        html.H3(t("wst_kpi_kg", lang, period=period_label(query, lang)),
                className="wp-kpi-label"),
        html.B(kg_text(period.get("kg")), className="wp-kpi-value"),
        html.Ul(className="wp-classes", children=[
            html.Li(className=f"wp-class wp-class-{c.value}",
                    **{"data-class": c.value}, children=[
                html.Span(class_label(c.value, lang), className="wp-class-label"),
                html.Span(kg_text((classes.get(c.value) or {}).get("kg") or 0.0),
                          className="wp-class-kg"),
                rate_cell(classes.get(c.value), lang, counts=False)])
            for c in WasteClass])]))
    return html.Div(cards, className="wp-kpis")


def _tally_cells(row: Mapping[str, Any], lang) -> list:
    return [rate_cell(row, lang), format_count(row.get("total") or 0), kg_text(row.get("kg"))]


def _classes(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    return ["wp-row-low" if r.get("meets") is False else "wp-row" for r in rows]


def grouping_tables(models: Mapping[str, Any], view: View) -> list:
    """The period's tables per village, station, group and supervisor."""
    lang = view.lang
    heads = ("wst_col_accuracy", "wst_col_disposals", "wst_col_kg")
    villages = models.get("villages") or []
    stations = models.get("stations") or []
    groups = models.get("groups") or []
    supervisors = models.get("supervisors") or []
    return [
        html.Div(className="vp-columns", children=[
            panel(t("wst_by_village", lang), [
                graph(village_figure(villages, models.get("target") or 0.0, view), "villages"),
                table(("vol_col_village", *heads), [
                    [view.village(r.get("key")), *_tally_cells(r, lang)] for r in villages],
                    lang, "wp-villages", _classes(villages), empty="wst_none")], "villages"),
            panel(t("wst_by_station", lang), table(("wst_col_station", *heads), [
                [html.Span([r.get("name") or r.get("key"), html.Br(),
                            html.Small(r.get("key"), className="vp-muted")]),
                 *_tally_cells(r, lang)] for r in stations], lang, "wp-stations",
                _classes(stations), empty="wst_none"), "stations")]),
        html.Div(className="vp-columns", children=[
            panel(t("wst_by_group", lang), table(("vol_col_village", "wst_col_group", *heads), [
                [view.village(r.get("village_code")), r.get("group") or PLACEHOLDER,
                 *_tally_cells(r, lang)] for r in groups], lang, "wp-groups", _classes(groups),
                empty="wst_none"), "groups"),
            panel(t("wst_by_supervisor", lang), table(("wst_col_supervisor", *heads), [
                [r.get("key") or t("wst_no_supervisor", lang), *_tally_cells(r, lang)]
                for r in supervisors], lang, "wp-supervisors", _classes(supervisors),
                empty="wst_none"), "supervisors")]),
    ]


def overview_children(models: Mapping[str, Any], query: WasteQuery, view: View) -> list:
    """The 概览 tab: KPIs, the trends with the target line, and the period's groupings."""
    lang, target = view.lang, models.get("target") or 0.0
    daily, weekly = models.get("daily") or [], models.get("weekly") or []
    return [
        kpi_children(models, query, view),
        html.Div(className="vp-columns", children=[
            panel(t("wst_trend_daily", lang, n=len(daily)),
                  graph(trend_figure(daily, target, "day", lang), "daily"), "daily"),
            panel(t("wst_trend_weekly", lang, n=len(weekly)),
                  graph(trend_figure(weekly, target, "week", lang), "weekly"), "weekly")]),
        html.P(t("wst_period_span", lang, start=models.get("start") or PLACEHOLDER,
                 end=models.get("end") or PLACEHOLDER), className="vp-muted wp-span"),
        *grouping_tables(models, view),
    ]


def body_children(models: Mapping[str, Any], query: WasteQuery, view: View) -> list:
    """The body of the tab ``query.tab`` from its read models (not the follow-ups tab's)."""
    builders = {
        "overview": lambda: overview_children(models, query, view),
        "households": lambda: households_children(models, query, view),
        "disposals": lambda: disposals_children(models, query, view),
        "landlords": lambda: landlords_children(models, query, view),
    }
    return builders.get(query.tab, builders["overview"])()
