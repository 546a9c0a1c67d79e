"""The tablet page's trend figures, as plotly figure dicts (no ``go.Figure``: cheap to build).

Made for fingers: the graphs are static (no mode bar, no zoom, no drag, no hover), so a swipe
scrolls the page and nothing is shown only on hover — each bar and point carries its value as
text where it fits, and each title states the period's totals. Input is
:func:`cockpit.tablet_queries.trends`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from layouts.figures import ACCENT, FONT_FAMILY, MUTED_COLOR, TEXT_COLOR, plain
from layouts.i18n import PLACEHOLDER, Lang, t

GRID_COLOR = "rgba(127, 156, 192, 0.16)"
REPORTED_COLOR = "#3f8cff"
CLOSED_COLOR = "#3ddc97"
HOURS_COLOR = "#ffb547"
BELOW_COLOR = "#ff6b6b"
#: dcc.Graph config of every trend: a picture for touch screens.
GRAPH_CONFIG = {"staticPlot": True, "displayModeBar": False, "scrollZoom": False,
                "doubleClick": False, "showTips": False, "responsive": True}
#: The figures' smallest text, px: a value label that does not fit at this size is hidden.
MIN_TEXT_PX = 14


def percent(rate: float | None) -> str:
    """``0.953`` → ``95.3%``; None → the placeholder."""
    return PLACEHOLDER if rate is None else f"{rate * 100:.1f}%"


def bucket_labels(starts: Sequence[str], period: str, lang: Lang) -> list[str]:
    """Axis labels of the buckets: ``8时`` / ``8h`` by hour (today), ``12-01`` by day."""
    out = []
    for iso in starts:
        moment = datetime.fromisoformat(iso)
        out.append(t("tab_hour", lang, h=moment.hour) if period == "today"
                   else moment.strftime("%m-%d"))
    return out


def _layout(title: str, **extra: Any) -> dict[str, Any]:
    axis = {"gridcolor": GRID_COLOR, "zerolinecolor": GRID_COLOR, "linecolor": GRID_COLOR,
            "tickfont": {"color": MUTED_COLOR, "size": 14}, "automargin": True,
            "fixedrange": True}
    layout = {"title": {"text": plain(title, 120), "x": 0, "xanchor": "left",
                        "font": {"size": 16, "color": TEXT_COLOR}},
              "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
              "font": {"family": FONT_FAMILY, "color": TEXT_COLOR, "size": 14},
              "margin": {"l": 8, "r": 8, "t": 64, "b": 8}, "xaxis": {**axis, "type": "category"},
              "yaxis": {**axis, "rangemode": "tozero"}, "dragmode": False, "hovermode": False,
              "showlegend": True, "barmode": "group", "bargap": 0.25,
              "uniformtext": {"minsize": MIN_TEXT_PX, "mode": "hide"},
              "legend": {"orientation": "h", "x": 1, "xanchor": "right", "y": 1.02,
                         "yanchor": "bottom", "font": {"size": 14}}}
    for key, value in extra.items():
        layout[key] = {**layout[key], **value} if isinstance(layout.get(key), dict) else value
    return layout


def _x_axis(labels: Sequence[str]) -> dict[str, Any]:
    """The bucket axis: every label up to 12 buckets, else every 3rd hour or 5th day, level.

    The last bucket (now) is always labelled; each bar still carries its value.
    """
    count = len(labels)
    if count <= 12:
        return {"tickangle": 0}
    step = 3 if count == 24 else 5
    shown = [labels[i] for i in range((count - 1) % step, count, step)]
    return {"tickmode": "array", "tickvals": shown, "ticktext": shown, "tickangle": 0}


def _count_axis(*series: Sequence[float]) -> dict[str, Any]:
    """A y axis of whole numbers, about five ticks (no 0.5 incidents)."""
    peak = max([0, *[v for values in series for v in values]])
    return {"dtick": max(1, math.ceil(peak / 5)), "tickformat": ",d"}


def _bars(name: str, x: list[str], y: Sequence[float], color: str) -> dict[str, Any]:
    return {"type": "bar", "name": name, "x": x, "y": list(y), "marker": {"color": color},
            "text": [f"{v:g}" if v else "" for v in y], "textposition": "outside",
            "cliponaxis": False, "textfont": {"size": MIN_TEXT_PX, "color": TEXT_COLOR},
            "hoverinfo": "skip"}


def _empty(layout: dict[str, Any], lang: Lang) -> None:
    layout["annotations"] = [{"text": plain(t("tab_tr_empty", lang)), "showarrow": False,
                              "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5,
                              "font": {"size": 16, "color": MUTED_COLOR}}]


def incidents_figure(trend: Mapping[str, Any], lang: Lang = "zh") -> dict[str, Any]:
    """Incidents reported and closed per bucket, side by side; totals in the title."""
    x = bucket_labels(trend["starts"], trend["period"], lang)
    reported, closed = trend["reported"], trend["closed"]
    title = (f"{t('tab_tr_incidents', lang)} · "
             + t("tab_tr_incidents_sum", lang, reported=sum(reported), closed=sum(closed)))
    layout = _layout(title, xaxis=_x_axis(x), yaxis=_count_axis(reported, closed))
    if not any(reported) and not any(closed):
        _empty(layout, lang)
    return {"data": [_bars(t("tab_tr_reported", lang), x, reported, REPORTED_COLOR),
                     _bars(t("tab_tr_closed", lang), x, closed, CLOSED_COLOR)],
            "layout": layout}


def volunteers_figure(trend: Mapping[str, Any], lang: Lang = "zh") -> dict[str, Any]:
    """Verified volunteer hours per bucket (by check-in time); check-ins in the title."""
    x = bucket_labels(trend["starts"], trend["period"], lang)
    hours = trend["volunteer_hours"]
    total = round(sum(hours), 1)
    title = (f"{t('tab_tr_volunteers', lang)} · "
             + t("tab_tr_volunteers_sum", lang, hours=f"{total:g}",
                 people=sum(trend["volunteers"])))
    layout = _layout(title, showlegend=False, xaxis=_x_axis(x))
    if not any(hours) and not any(trend["volunteers"]):
        _empty(layout, lang)
    return {"data": [_bars(t("tab_tr_hours", lang), x, hours, HOURS_COLOR)], "layout": layout}


def waste_figure(trend: Mapping[str, Any], target: float, lang: Lang = "zh") -> dict[str, Any]:
    """Sorting accuracy per bucket (%, a gap where nothing was rated) against the target.

    Parameters
    ----------
    target : float
        The accuracy target in (0, 1] (``Settings.waste_rules.target``), drawn as a dashed
        line; points below it are red.
    """
    x = bucket_labels(trend["starts"], trend["period"], lang)
    correct, total = trend["waste_correct"], trend["waste_total"]
    rates = [c / n if n else None for c, n in zip(correct, total, strict=True)]
    n, c = sum(total), sum(correct)
    goal = percent(target)
    summary = (t("tab_tr_waste_sum", lang, rate=percent(c / n), n=n, target=goal) if n
               else t("tab_tr_waste_none", lang, target=goal))
    layout = _layout(f"{t('tab_tr_waste', lang)} · {summary}", showlegend=False,
                     xaxis=_x_axis(x),
                     yaxis={"range": [min([target * 100 - 10, *[r * 100 - 5 for r in rates
                                                                if r is not None]]), 101],
                            "ticksuffix": "%", "rangemode": "normal"})
    layout["shapes"] = [{"type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": "y",
                         "y0": target * 100, "y1": target * 100,
                         "line": {"color": ACCENT, "width": 2, "dash": "dash"}}]
    # under the line at the left: the latest points, at the right, stay readable
    layout["annotations"] = [{"text": plain(t("tab_tr_target", lang, target=goal)),
                              "xref": "paper", "x": 0, "xanchor": "left", "yref": "y",
                              "y": target * 100, "yanchor": "top", "showarrow": False,
                              "font": {"size": MIN_TEXT_PX, "color": ACCENT}}]
    if not n:
        _empty(layout, lang)
    y = [None if r is None else round(r * 100, 1) for r in rates]
    trace = {"type": "scatter", "mode": "lines+markers+text", "x": x, "y": y,
             "connectgaps": False, "line": {"color": TEXT_COLOR, "width": 2},
             "marker": {"size": 10, "color": [BELOW_COLOR if r is not None and r < target
                                              else CLOSED_COLOR for r in rates]},
             "text": [f"{v:g}" if v is not None else "" for v in y],
             "textposition": "top center", "textfont": {"size": MIN_TEXT_PX, "color": TEXT_COLOR},
             "cliponaxis": False, "hoverinfo": "skip"}
    if len(x) > 10:  # thirty labels over each other say nothing: the axis and title do
        trace["mode"] = "lines+markers"
    return {"data": [trace], "layout": layout}
