"""The analysis page's figures: the village × hour heatmap and the daily trends, plain dicts.

Pure builders from the read models of :mod:`cockpit.analysis` to plotly figure dicts (never
``go.Figure``) for :mod:`layouts.analysis`; text inside figures goes through
:func:`layouts.figures.plain`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cockpit import vocab
from layouts.figures import ACCENT, FONT_FAMILY, MUTED_COLOR, TEXT_COLOR, plain
from layouts.i18n import Lang, category_label, format_duration, t

GRID_COLOR = "rgba(127, 156, 192, 0.16)"
#: Heatmap colours, from an empty cell (the panel's own blue) to the hottest.
HEAT_SCALE = [[0.0, "#0a1d3a"], [0.15, "#0b4f8a"], [0.4, "#00a6d6"], [0.65, "#00e5ff"],
              [0.85, "#ffd24e"], [1.0, "#ff4d4f"]]
MEDIAN_KEYS = ("median_dispatch_s", "median_close_s")


def village_label(code: str | None, names: Mapping[str, str], lang: Lang) -> str:
    """Return a village's display name; the code when unknown; 未定位村社 for ``unknown``."""
    if not code or code == "unknown":
        return t("an_no_village", lang)
    return names.get(code) or code


def _base_layout(**extra: Any) -> dict[str, Any]:
    axis = {"gridcolor": GRID_COLOR, "zerolinecolor": GRID_COLOR, "linecolor": GRID_COLOR,
            "tickfont": {"color": MUTED_COLOR, "size": 12}, "automargin": True,
            "fixedrange": True}
    layout = {"paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
              "font": {"family": FONT_FAMILY, "color": TEXT_COLOR, "size": 13},
              "margin": {"l": 8, "r": 8, "t": 8, "b": 8}, "xaxis": dict(axis),
              "yaxis": dict(axis), "dragmode": False, "hovermode": "closest",
              "hoverlabel": {"font": {"family": FONT_FAMILY, "size": 14},
                             "bgcolor": "rgba(4, 16, 38, 0.95)", "bordercolor": ACCENT},
              "legend": {"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom",
                         "font": {"size": 12}}}
    for key, value in extra.items():
        layout[key] = {**layout[key], **value} if isinstance(layout.get(key), dict) else value
    return layout


def _count_step(peak: int, ticks: int = 6) -> int:
    """Tick step of a count axis: whole numbers, about ``ticks`` of them."""
    return max(1, -(-int(peak) // ticks))


def _show_empty(layout: dict[str, Any], lang: Lang, key: str) -> None:
    """Turn a figure layout without traces into a note (no axes): 本时段暂无警情."""
    layout["xaxis"]["visible"] = layout["yaxis"]["visible"] = False
    layout["annotations"] = [{"text": plain(t(key, lang)), "showarrow": False, "xref": "paper",
                              "yref": "paper", "x": 0.5, "y": 0.5,
                              "font": {"size": 15, "color": MUTED_COLOR}}]


def blank_figure() -> dict[str, Any]:
    """Return an empty dark figure (what a graph shows before the first data)."""
    return {"data": [], "layout": _base_layout(xaxis={"visible": False},
                                               yaxis={"visible": False})}


def heatmap_figure(matrix: Mapping[str, Any], names: Mapping[str, str],
                   lang: Lang = "zh") -> dict[str, Any]:
    """Return the village × hour heatmap of :func:`cockpit.analysis.hot_matrix`.

    Parameters
    ----------
    matrix : dict
        ``villages`` (codes), ``hours`` and ``counts`` (villages × 24).
    names : mapping
        Village code -> display name in ``lang``.
    lang : {"zh", "en"}
        Language of the labels.

    Returns
    -------
    dict
        One ``heatmap`` trace (uid ``heat``): ``y`` the village names (first village on top),
        ``x`` the hours, ``z`` the counts, ``customdata`` each cell's village code (what a
        click drills to); colour from 0 to the largest count (at least 1).
    """
    codes = list(matrix["villages"])
    counts = [list(row) for row in matrix["counts"]]
    peak = max((max(row) for row in counts if row), default=0)
    hover = t("an_hover_cell", lang, village="%{y}", hour="%{x}", n="%{z}")
    trace = {"type": "heatmap", "uid": "heat", "x": list(matrix["hours"]),
             "y": [plain(village_label(c, names, lang)) for c in codes], "z": counts,
             "customdata": [[code] * len(matrix["hours"]) for code in codes],
             "zmin": 0, "zmax": max(peak, 1), "colorscale": HEAT_SCALE, "xgap": 2, "ygap": 2,
             "hovertemplate": hover + "<extra></extra>", "hoverongaps": False,
             "colorbar": {"thickness": 10, "outlinewidth": 0, "dtick": _count_step(peak),
                          "tickfont": {"color": MUTED_COLOR, "size": 11}}}
    return {"data": [trace], "layout": _base_layout(
        xaxis={"title": {"text": plain(t("an_hour_axis", lang)), "font": {"size": 12}},
               "dtick": 1, "tickmode": "linear", "showgrid": False},
        yaxis={"autorange": "reversed", "type": "category", "showgrid": False},
        margin={"l": 8, "r": 8, "t": 8, "b": 40})}


def _day_labels(days: Sequence[str]) -> list[str]:
    return [d[5:] for d in days]  # MM-DD


def _series_name(code: str, lang: Lang) -> str:
    return t("an_series_all", lang) if code == "all" else category_label(code, lang)


def category_color(code: str) -> str:
    """Return a category's colour (white for an unknown code)."""
    term = vocab.CATEGORY_TERMS.get(code)
    return term.color if term else "#ffffff"


def count_figure(trends: Mapping[str, Any], lang: Lang = "zh") -> dict[str, Any]:
    """Return incidents per local day, one stacked bar trace per category with any.

    Traces carry uid ``count-<category>`` and the category's colour; the ``all`` series is
    the stack's height and is not drawn. An empty period shows 本时段暂无警情.
    """
    x = _day_labels(trends["days"])
    totals = next((s["counts"] for s in trends["series"] if s["category"] == "all"), [])
    peak = max(totals, default=0)
    data = [{"type": "bar", "uid": f"count-{s['category']}", "x": x, "y": list(s["counts"]),
             "name": plain(_series_name(s["category"], lang)),
             "marker": {"color": category_color(s["category"])},
             "hovertemplate": "%{fullData.name} · %{x} · %{y}<extra></extra>"}
            for s in trends["series"] if s["category"] != "all" and s["total"]]
    layout = _base_layout(barmode="stack", xaxis={"type": "category"},
                          legend={"traceorder": "normal"},
                          yaxis={"rangemode": "tozero", "dtick": _count_step(peak)},
                          margin={"l": 8, "r": 8, "t": 28, "b": 8})
    if not data:
        _show_empty(layout, lang, "an_empty")
    return {"data": data, "layout": layout}


def median_figure(trends: Mapping[str, Any], key: str, lang: Lang = "zh") -> dict[str, Any]:
    """Return a median duration per local day, in minutes, one line per category with data.

    Parameters
    ----------
    trends : dict
        :func:`cockpit.analysis.trends`.
    key : {"median_dispatch_s", "median_close_s"}
        Which median.
    lang : {"zh", "en"}
        Language of the labels.

    Returns
    -------
    dict
        Line traces (uid ``<key>-<category>``; ``all`` white and dashed) with ``y`` in
        minutes (None where a day has no data: the line breaks) and the duration as text in
        ``customdata`` for the hover.

    Raises
    ------
    ValueError
        If ``key`` is not one of :data:`MEDIAN_KEYS`.
    """
    if key not in MEDIAN_KEYS:
        raise ValueError(f"key: {key!r}; expected one of {', '.join(MEDIAN_KEYS)}")
    x = _day_labels(trends["days"])
    data = []
    for s in trends["series"]:
        values = s[key]
        if all(v is None for v in values):
            continue
        is_all = s["category"] == "all"
        data.append({
            "type": "scatter", "mode": "lines+markers", "uid": f"{key}-{s['category']}",
            "x": x, "y": [None if v is None else round(v / 60.0, 2) for v in values],
            "customdata": [format_duration(v, lang) for v in values],
            "name": plain(_series_name(s["category"], lang)), "connectgaps": False,
            "line": {"color": category_color(s["category"]), "width": 3 if is_all else 2,
                     "dash": "dash" if is_all else "solid"},
            "marker": {"size": 6}, "hovertemplate":
                "%{fullData.name} · %{x} · %{customdata}<extra></extra>"})
    layout = _base_layout(xaxis={"type": "category"},
                          yaxis={"rangemode": "tozero",
                                 "ticksuffix": " " + t("an_minutes", lang)},
                          margin={"l": 8, "r": 8, "t": 28, "b": 8})
    if not data:
        _show_empty(layout, lang, "an_no_data")
    return {"data": data, "layout": layout}
