"""An incident's timeline against its limits: one bar per stage stay, the limits as ticks.

:func:`timeline_figure` draws ``incident_detail(...)["timeline"]`` (a plain plotly figure
dict) for the detail page (:mod:`layouts.incident_detail`), whose stays table shares its
labels (:func:`stay_label`) and colours (:func:`stay_status`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from layouts.figures import FONT_FAMILY, MUTED_COLOR, TEXT_COLOR
from layouts.i18n import Lang, format_duration, stage_label, t

WITHIN_COLOR = "#3ddc97"
OVER_COLOR = "#ff4d4f"
NOLIMIT_COLOR = "#4ea8ff"
LIMIT_COLOR = "#ffd24e"
#: Figure height: fixed part and per bar, px.
FIG_BASE_PX = 90
FIG_BAR_PX = 34
#: Time units of the timeline's axis: (seconds per unit, label key), the first one whose
#: largest value stays under the threshold (in that unit) is used.
UNITS = ((1.0, "inc_unit_s", 180.0), (60.0, "inc_unit_min", 180.0),
         (3600.0, "inc_unit_h", float("inf")))


def _axis_unit(timeline: Sequence[Mapping[str, Any]]) -> tuple[float, str]:
    largest = max([s.get("seconds") or 0 for s in timeline]
                  + [s.get("limit_s") or 0 for s in timeline] + [0])
    for scale, key, under in UNITS:
        if largest / scale < under:
            return scale, key
    return UNITS[-1][0], UNITS[-1][1]


def stay_label(index: int, stay: Mapping[str, Any], lang: Lang) -> str:
    """Return the label of the ``index``-th stay (from 1): ``2 已研判``, plus its round."""
    text = f"{index} {stage_label(stay.get('stage'), lang)}"
    if stay.get("cycle"):
        text += f" · {t('inc_cycle', lang, n=int(stay['cycle']) + 1)}"
    return text


def stay_status(stay: Mapping[str, Any]) -> str:
    """Return ``over``, ``within`` or ``nolimit`` for one stay of the timeline."""
    if stay.get("limit_s") is None:
        return "nolimit"
    return "over" if (stay.get("over_s") or 0) > 0 else "within"


def timeline_figure(timeline: Sequence[Mapping[str, Any]], lang: Lang) -> dict[str, Any]:
    """Return the timeline as a plotly figure dict: one horizontal bar per stage stay.

    Parameters
    ----------
    timeline : sequence of dict
        ``incident_detail(...)["timeline"]``: ``stage``, ``seconds``, ``limit_s``,
        ``over_s``, ``cycle``, ``current``. Final stays (closed, cancelled: no duration) have
        no bar.
    lang : {"zh", "en"}
        Language of labels.

    Returns
    -------
    dict
        ``{"data": [...], "layout": {...}}``: bars in one trace per status (within the limit
        green, over it red, no limit blue; x in the unit of the axis title), and the limits
        as tick markers. Rows run top-down in time order.
    """
    stays = [(i, s) for i, s in enumerate(timeline, start=1) if s.get("seconds") is not None]
    scale, unit = _axis_unit([s for _, s in stays])
    labels = [stay_label(i, s, lang) for i, s in stays]
    traces = []
    for status, color, key in (("within", WITHIN_COLOR, "inc_fig_within"),
                               ("over", OVER_COLOR, "inc_fig_over"),
                               ("nolimit", NOLIMIT_COLOR, "inc_fig_nolimit")):
        chosen = [(i, s) for i, s in stays if stay_status(s) == status]
        if not chosen:
            continue
        traces.append({
            "type": "bar", "orientation": "h", "name": t(key, lang), "uid": f"stay-{status}",
            "x": [s["seconds"] / scale for _, s in chosen],
            "y": [stay_label(i, s, lang) for i, s in chosen],
            "text": [format_duration(s["seconds"], lang)
                     + (f" ({t('inc_current', lang)})" if s.get("current") else "")
                     for _, s in chosen],
            "textposition": "outside", "cliponaxis": False,
            "marker": {"color": color, "opacity": 0.85}, "hoverinfo": "y+text"})
    limited = [(i, s) for i, s in stays if s.get("limit_s") is not None]
    if limited:
        traces.append({
            "type": "scatter", "mode": "markers", "name": t("inc_fig_limit", lang),
            "uid": "limits", "x": [s["limit_s"] / scale for _, s in limited],
            "y": [stay_label(i, s, lang) for i, s in limited],
            "text": [format_duration(s["limit_s"], lang) for _, s in limited],
            "hoverinfo": "y+text",
            "marker": {"symbol": "line-ns-open", "size": 26, "color": LIMIT_COLOR,
                       "line": {"width": 3, "color": LIMIT_COLOR}}})
    grid = "rgba(127, 156, 192, 0.18)"
    return {"data": traces, "layout": {
        "barmode": "overlay", "height": FIG_BASE_PX + FIG_BAR_PX * max(1, len(stays)),
        "margin": {"l": 150, "r": 90, "t": 36, "b": 48},
        "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"family": FONT_FAMILY, "color": TEXT_COLOR, "size": 13},
        "xaxis": {"title": {"text": t("inc_fig_axis", lang, unit=t(unit, lang))},
                  "rangemode": "tozero", "gridcolor": grid, "zeroline": False,
                  "color": MUTED_COLOR},
        "yaxis": {"type": "category", "categoryorder": "array", "categoryarray": labels,
                  "autorange": "reversed", "gridcolor": grid},
        "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
        "hovermode": "closest", "showlegend": True}}
