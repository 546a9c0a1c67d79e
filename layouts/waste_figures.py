"""Figures of the waste page as plain dicts (DESIGN §8: never ``go.Figure``).

The daily and weekly accuracy trends with the target line of the rules, and the villages'
accuracy as ranked bars. Each takes tallies as :func:`cockpit.waste.page_queries.tally_dict`
gives them: the rate drawn is the tally's own, a period without disposals is a gap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dash import dcc

from layouts.figures import ACCENT, FONT_FAMILY, MUTED_COLOR, TEXT_COLOR, plain
from layouts.i18n import Lang, t
from layouts.waste import View, pct

GRID = "rgba(127, 156, 192, 0.16)"
OK_COLOR = "#3ddc97"
LOW_COLOR = "#ff8a65"
TARGET_COLOR = "#ffd54f"
COUNT_COLOR = "rgba(78, 168, 255, 0.28)"


def _layout(height: int, **extra: Any) -> dict[str, Any]:
    return {"height": height, "margin": {"l": 52, "r": 52, "t": 14, "b": 40},
            "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
            "font": {"family": FONT_FAMILY, "color": TEXT_COLOR, "size": 12},
            "showlegend": False, "hovermode": "closest", **extra}


def _target_line(target: float, axis: str = "y") -> dict[str, Any]:
    value = 100 * target
    if axis == "y":
        return {"type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": "y", "y0": value,
                "y1": value, "line": {"color": TARGET_COLOR, "width": 1.5, "dash": "dash"}}
    return {"type": "line", "yref": "paper", "y0": 0, "y1": 1, "xref": "x", "x0": value,
            "x1": value, "line": {"color": TARGET_COLOR, "width": 1.5, "dash": "dash"}}


def _floor(rates: Sequence[float | None], target: float) -> float:
    values = [100 * r for r in rates if r is not None] + [100 * target]
    return max(0.0, min(values) - 5.0)


def graph(figure: dict[str, Any], name: str) -> dcc.Graph:
    """A figure dict in a static-looking graph (no mode bar), sized by its layout."""
    return dcc.Graph(figure=figure, className=f"vp-graph wp-graph wp-graph-{name}",
                     config={"displayModeBar": False, "responsive": True},
                     style={"height": f"{figure['layout']['height']}px"})


def trend_figure(rows: Sequence[Mapping[str, Any]], target: float, unit: str,
                 lang: Lang) -> dict[str, Any]:
    """Accuracy per day or ISO week (line) over the disposals counted (bars), target dashed.

    Parameters
    ----------
    rows : sequence of dict
        Tallies keyed ``YYYY-MM-DD`` or ``YYYY-Www``, oldest first, every period present.
    target : float
        The rules' target in [0, 1].
    unit : {"day", "week"}
        Labels ``11-29`` or ``W49``.
    """
    keys = [str(r.get("key") or "") for r in rows]
    labels = [k[5:] for k in keys]
    rates = [r.get("rate") for r in rows]
    hover = [plain(t("wst_trend_hover", lang, what=k, rate=pct(r.get("rate")),
                     correct=r.get("correct") or 0, total=r.get("total") or 0))
             for k, r in zip(keys, rows, strict=True)]
    return {"data": [
        {"type": "bar", "x": labels, "y": [r.get("total") or 0 for r in rows], "yaxis": "y2",
         "marker": {"color": COUNT_COLOR}, "hoverinfo": "skip", "uid": f"{unit}-count"},
        {"type": "scatter", "mode": "lines+markers", "x": labels,
         "y": [None if v is None else round(100 * v, 2) for v in rates], "connectgaps": False,
         "line": {"color": ACCENT, "width": 2}, "marker": {"size": 6, "color": [
             MUTED_COLOR if v is None else (OK_COLOR if v >= target - 1e-12 else LOW_COLOR)
             for v in rates]},
         "text": hover, "hoverinfo": "text", "uid": f"{unit}-rate"}],
        "layout": _layout(
            240, shapes=[_target_line(target)], bargap=0.35,
            annotations=[{"xref": "paper", "x": 0, "xanchor": "left", "yref": "y",
                          "y": 100 * target, "yanchor": "bottom", "showarrow": False,
                          "text": t("wst_target_mark", lang, rate=pct(target)),
                          "font": {"color": TARGET_COLOR, "size": 11}}],
            xaxis={"type": "category", "color": MUTED_COLOR, "tickangle": 0,
                   "nticks": 12 if unit == "day" else 13},
            yaxis={"range": [_floor(rates, target), 100.5], "ticksuffix": "%",
                   "gridcolor": GRID, "color": MUTED_COLOR},
            yaxis2={"overlaying": "y", "side": "right", "rangemode": "tozero",
                    "showgrid": False, "color": MUTED_COLOR,
                    "title": {"text": t("wst_axis_disposals", lang)}})}


def village_figure(rows: Sequence[Mapping[str, Any]], target: float, view: View
                   ) -> dict[str, Any]:
    """The villages' accuracy of the period as horizontal bars, best on top, target dashed."""
    lang = view.lang
    shown = [r for r in rows if r.get("rate") is not None]
    names = [plain(view.village(r.get("key"))) for r in shown]
    rates = [r["rate"] for r in shown]
    return {"data": [{
        "type": "bar", "orientation": "h", "y": names,
        "x": [round(100 * v, 2) for v in rates],
        "text": [pct(v) for v in rates], "textposition": "outside", "cliponaxis": False,
        "marker": {"color": [OK_COLOR if v >= target - 1e-12 else LOW_COLOR for v in rates]},
        "hovertext": [plain(t("wst_trend_hover", lang, what=n, rate=pct(r["rate"]),
                              correct=r.get("correct") or 0, total=r.get("total") or 0))
                      for n, r in zip(names, shown, strict=True)],
        "hoverinfo": "text", "uid": "villages"}],
        "layout": _layout(max(160, 28 * len(shown) + 50), shapes=[_target_line(target, "x")],
                          margin={"l": 110, "r": 56, "t": 10, "b": 30},
                          xaxis={"range": [_floor(rates, target), 104], "ticksuffix": "%",
                                 "gridcolor": GRID, "color": MUTED_COLOR},
                          yaxis={"type": "category", "autorange": "reversed",
                                 "color": TEXT_COLOR})}
