"""The wall's waste-sorting panel (垃圾分类, 一拍二称三评价) and the map's accuracy key.

:class:`WasteIds` declares the ids once; :mod:`layouts.wall` places :func:`waste_panel` under
the map and :func:`waste_key` on it, and ``callbacks/wall_waste.py`` fills them through
:func:`waste_view` from :func:`cockpit.waste.wall_queries.wall_accuracy`: the subdistrict's
accuracy of the last seven local days (近7日) as a big number against the target, the daily
trend, the villages' ranked bars (:func:`layouts.wall_waste_figures.ranking_figure`) and the
map's fills. Counts only: the read model carries nothing personal and nothing here adds any.
Pure: components and plotly dicts, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from enum import StrEnum
from typing import Any

from dash import dcc, html

from layouts.figures import MapBase
from layouts.i18n import Lang, format_count, t
from layouts.wall_volunteers import short_names
from layouts.wall_waste_figures import (
    choropleth_shapes,
    key_gradient,
    meets,
    no_data_notes,
    percent,
    ranking_figure,
    scale_floor,
    target_text,
    village_rows,
)

#: A day's column of the trend is at least this tall (share of its box), so that it shows.
TREND_MIN = 0.08


class WasteIds(StrEnum):
    """Component ids of the wall's waste panel and map key."""

    SUMMARY = "wall-waste-summary"
    BARS = "wall-waste-bars"
    KEY_NOTE = "wall-waste-key-note"


def _state(correct: int, total: int, target: float) -> str:
    ok = meets(correct, total, target)
    return "none" if ok is None else "ok" if ok else "bad"


def _short_day(iso: str | None) -> str:
    return date.fromisoformat(iso).strftime("%m-%d") if iso else ""


# ------------------------------------------------------------------ skeleton


def waste_panel(lang: Lang, target: float) -> html.Section:
    """Return the wall's waste panel: title and summary at the left, the ranked bars beside.

    ``callbacks/wall.py`` fills the summary (its 模拟数据 note too) and the bars (a graph laid
    out at 1920×1080 and scaled, like the map).
    """
    graph = dcc.Graph(id=WasteIds.BARS, figure=ranking_figure([], target, lang),
                      className="ww-graph", responsive=True,
                      config={"displayModeBar": False, "scrollZoom": False,
                              "doubleClick": False, "showTips": False})
    return html.Section(className="panel panel-waste", children=[
        html.H2(t("ww_panel", lang), className="panel-title ww-title"),
        html.Div(summary_children({}, target, lang), id=WasteIds.SUMMARY,
                 className="ww-summary"),
        html.Div(html.Div(graph, className="map-scale"), className="ww-bars"),
    ])


def waste_key(lang: Lang, target: float) -> html.Div:
    """Return the map's key of the village fills: 分类准确率（近7日）, the scale and 无数据.

    The scale runs from :func:`layouts.wall_waste_figures.scale_floor` (red) through the
    target (the break: amber below, green from it) to 100 %; its note says 模拟数据 when the
    disposals shown are simulated.
    """
    floor = scale_floor(target)
    at = 100 * (target - floor) / (1 - floor) if floor < 1 else 100.0
    return html.Div(className="waste-key", children=[
        html.Div(className="waste-key-head", children=[
            html.Span(t("ww_key_title", lang)),
            html.Span(id=WasteIds.KEY_NOTE, className="panel-note")]),
        html.Div(className="waste-key-bar", style={"background": key_gradient(target)}),
        html.Div(className="waste-key-ticks", children=[
            html.Span(t("ww_key_floor", lang, p=target_text(floor)),
                      className="waste-key-tick", style={"left": "0%"}),
            html.Span(target_text(target), className="waste-key-tick waste-key-target",
                      style={"left": f"{at:.1f}%"}),
            html.Span("100%", className="waste-key-tick", style={"left": "100%"})]),
        html.Div(className="waste-key-none", children=[
            html.Span(className="waste-key-swatch"), html.Span(t("ww_no_data", lang))]),
    ])


# ------------------------------------------------------------------ the summary


def trend_children(trend: Sequence[Mapping[str, Any]], target: float, lang: Lang) -> list:
    """Return the daily trend: one column per day, oldest first, and the target's line.

    A column's height is the day's accuracy on the map's scale; its tooltip gives the day's
    numbers. A day without disposals is a grey stub.
    """
    floor = scale_floor(target)
    days = []
    for day in trend:
        correct, total = int(day.get("correct") or 0), int(day.get("total") or 0)
        share = (correct / total - floor) / (1 - floor) if total and floor < 1 else 0.0
        days.append(html.Div(
            className=f"ww-day ww-{_state(correct, total, target)}",
            style={"height": f"{max(min(share, 1.0), TREND_MIN) * 100:.0f}%"},
            title=t("ww_day_hover", lang, day=_short_day(day.get("day")),
                    rate=percent(correct, total), n=format_count(total)),
            **{"data-day": day.get("day") or ""}))
    line = (target - floor) / (1 - floor) if floor < 1 else 1.0
    return [*days, html.Div(className="ww-trend-target", style={"bottom": f"{line * 100:.1f}%"})]


def summary_children(models: Mapping[str, Any], target: float, lang: Lang) -> list:
    """Return the summary: the subdistrict's accuracy of 近7日 against the target.

    A label (街道分类准确率 · 近7日), the big number with the daily trend beside it, 目标 95 %
    and whether it is met (达标 / 未达标), and the disposals counted, 模拟数据 beside them when
    they are simulated (:func:`waste_note`).

    Parameters
    ----------
    models : dict
        :func:`cockpit.waste.wall_queries.wall_accuracy` (``overall``, ``trend``, the
        period); empty before the first read (the number shows ``—``).
    target : float
        The accuracy target (``WasteRules.target``).
    lang : {"zh", "en"}
        Language of the labels.
    """
    overall = models.get("overall") or {}
    correct, total = int(overall.get("correct") or 0), int(overall.get("total") or 0)
    state = _state(correct, total, target)
    period = t("ww_days", lang, first=models["first_day"], last=models["last_day"]) \
        if models.get("first_day") else None
    status = [] if state == "none" else [
        html.Span(t("ww_met" if state == "ok" else "ww_below", lang),
                  className=f"ww-status ww-{state}")]
    return [
        html.Div(f"{t('ww_overall', lang)} · {t('ww_period', lang)}", className="ww-label",
                 title=period),
        html.Div(className="ww-figure", children=[
            html.Span(percent(correct, total), className=f"ww-overall ww-{state}",
                      **{"data-correct": str(correct), "data-total": str(total)}),
            html.Div(trend_children(models.get("trend") or [], target, lang),
                     className="ww-trend", title=t("ww_trend", lang))]),
        html.Div(className="ww-target", children=[
            html.Span(className="ww-dash"),
            html.Span(t("ww_target", lang, p=target_text(target))), *status]),
        html.Div(className="ww-count", children=[
            html.Span(t("ww_disposals", lang, n=format_count(total))),
            *waste_note(models, lang)]),
    ]


def waste_note(models: Mapping[str, Any], lang: Lang) -> list:
    """Return the note of the summary's count and the map key: 模拟数据 when simulated.

    Simulated: a disposal of the period comes from the demo's simulator (``sim:`` sources).
    """
    if not models.get("simulated"):
        return []
    return [html.Span(t("ww_simulated", lang), className="vol-sim",
                      title=t("ww_simulated_note", lang))]


# ------------------------------------------------------------------ the whole view


def waste_view(models: Mapping[str, Any], lang: Lang, *, target: float, base: MapBase,
               rings: Mapping[str, Sequence[tuple[Sequence[float], Sequence[float]]]],
               order: Sequence[str], villages: Mapping[str, str]) -> dict[str, Any]:
    """Turn the waste read model into the panel's parts and the map's fills and notes.

    Parameters
    ----------
    models : dict
        :func:`cockpit.waste.wall_queries.wall_accuracy`.
    lang : {"zh", "en"}
        Language of every label.
    target : float
        The accuracy target (``WasteRules.target``).
    base : MapBase
        The map's fixed layer (its label points place the 无数据 notes).
    rings : mapping
        Village code -> its rings (WGS-84 degrees), the fills' outlines.
    order, villages
        Village codes shown and their plain names (shortened for the bars,
        :func:`layouts.wall_volunteers.short_names`).

    Returns
    -------
    dict
        ``summary``, ``key_note`` (children), ``bars`` (figure), ``shapes`` (the
        map's ``layout.shapes``), ``notes`` (the map's 无数据 annotations), ``rows``
        (:func:`layouts.wall_waste_figures.village_rows`) and ``shown``: the plain data the
        parts are built from, for the poll to tell whether they changed.
    """
    rows = village_rows(models, order, short_names(villages, lang), target)
    return {
        "summary": summary_children(models, target, lang),
        "key_note": waste_note(models, lang),
        "bars": ranking_figure(rows, target, lang),
        "shapes": choropleth_shapes(rings, rows, target),
        "notes": no_data_notes(base, rows, lang),
        "rows": rows,
        "shown": [[(r["code"], r["correct"], r["total"]) for r in rows],
                  models.get("overall"), models.get("trend"), models.get("simulated"),
                  models.get("first_day"), target],
    }
