"""Pure builders of the wall's waste-sorting figures: colours, ranked bars, map fills, labels.

The accuracy target is the rules' (``WasteRules.target``), passed in. Colours follow it: a
village at or above it is green (deeper towards 100 %), below it shades from amber to red at
:data:`RED_SPAN` under the target, and a village without disposals is grey and labelled 无数据.
Percentages are rounded *down* to 0.1 %, so a village just under the target never reads as the
target. Figures are plotly dicts (live updates send dicts, DESIGN §8). Village names in the
bars carry no schematic marker: a disposal's village is its household's or station's
registered one, never placed by the schematic outlines. No I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from layouts.figures import (
    FONT_FAMILY,
    MARK_PX,
    MUTED_COLOR,
    TEXT_COLOR,
    MapBase,
    plain,
)
from layouts.i18n import PLACEHOLDER, Lang, format_count, t
from layouts.map_counts import label_lines, label_top_px

#: Below the target the map's scale reaches full red this far under it (0.95 → 0.80).
RED_SPAN = 0.15
OK_COLOR = "#3ddc97"
ALARM_COLOR = "#ff4d4f"
#: Text on the dark panel in the alarm colour, lightened to stay readable.
ALARM_TEXT = "#ff8a8c"
#: Stops of the map's scale (RGB): red at the floor, amber just under the target, green from
#: the target, deeper green at 100 %; fills are laid over the dark map at FILL_ALPHA.
RED, AMBER = (255, 77, 79), (255, 181, 71)
GREEN, DEEP_GREEN = (61, 220, 151), (0, 166, 98)
FILL_ALPHA = 0.55
NO_DATA_FILL = "rgba(127, 156, 192, 0.22)"
NO_DATA_TEXT = "rgba(190, 210, 235, 0.9)"
#: The ranked bars, laid out in px at 1920×1080 (their graph is scaled like the map's):
#: width of the graph (assets/wall.css: the waste panel less its summary), two columns.
BARS_PX = 620
BAR_COLUMNS = 2
COLUMN_GAP_PX = 16
RANK_PX = 20
NAME_PX = {"zh": 84, "en": 112}
VALUE_PX = 98
ZONE_GAP_PX = 6
BAR_TRACK = "rgba(127, 156, 192, 0.16)"
TARGET_LINE = "rgba(255, 255, 255, 0.8)"
BAR_FONT_PX = 13


# ------------------------------------------------------------------ numbers and colours


def percent(correct: int, total: int) -> str:
    """Return ``correct / total`` as ``96.2%``, rounded down to 0.1 %; ``—`` without disposals."""
    if total <= 0:
        return PLACEHOLDER
    tenths = int(correct) * 1000 // int(total)
    return f"{tenths // 10}.{tenths % 10}%"


def target_text(target: float) -> str:
    """Return the target as people write it: ``95%`` (``95.5%`` when it has a fraction)."""
    return f"{round(target * 100, 1):g}%"


def meets(correct: int, total: int, target: float) -> bool | None:
    """True when ``correct / total`` reaches ``target`` (as :meth:`Tally.meets`); None if empty."""
    if total <= 0:
        return None
    return correct / total >= target - 1e-12


def scale_floor(target: float) -> float:
    """Return the rate at which the map's scale is full red: :data:`RED_SPAN` under target."""
    return max(0.0, target - RED_SPAN)


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], share: float) -> tuple[int, ...]:
    share = min(max(share, 0.0), 1.0)
    return tuple(round(x + (y - x) * share) for x, y in zip(a, b, strict=True))


def accuracy_rgb(correct: int, total: int, target: float) -> tuple[int, ...] | None:
    """Return the scale's colour (RGB) of an accuracy; None without disposals.

    At or above ``target``: green, deeper towards 100 %. Below it: amber just under the target
    shading to red at :func:`scale_floor` and under.
    """
    ok = meets(correct, total, target)
    if ok is None:
        return None
    rate = correct / total
    if ok:
        return _mix(GREEN, DEEP_GREEN, (rate - target) / (1 - target) if target < 1 else 1.0)
    floor = scale_floor(target)
    return _mix(RED, AMBER, (rate - floor) / (target - floor) if target > floor else 0.0)


def fill_color(correct: int, total: int, target: float) -> str:
    """Return a village's fill on the map: :func:`accuracy_rgb` at :data:`FILL_ALPHA`, or grey."""
    rgb = accuracy_rgb(correct, total, target)
    if rgb is None:
        return NO_DATA_FILL
    return f"rgba({rgb[0]}, {rgb[1]}, {rgb[2]}, {FILL_ALPHA})"


def key_gradient(target: float) -> str:
    """Return the CSS gradient of the map key: the scale from its floor to 100 %."""
    floor = scale_floor(target)
    at = 100 * (target - floor) / (1 - floor) if floor < 1 else 100

    def rgba(rgb: tuple[int, int, int]) -> str:
        return f"rgba({rgb[0]}, {rgb[1]}, {rgb[2]}, {FILL_ALPHA})"

    return (f"linear-gradient(90deg, {rgba(RED)} 0%, {rgba(AMBER)} {at:.1f}%, "
            f"{rgba(GREEN)} {at:.1f}%, {rgba(DEEP_GREEN)} 100%)")


# ------------------------------------------------------------------ data shaping (pure)


def village_rows(models: Mapping[str, Any], order: Sequence[str], names: Mapping[str, str],
                 target: float) -> list[dict[str, Any]]:
    """Return one row per village in ``order``, best first; villages without disposals last.

    Parameters
    ----------
    models : dict
        :func:`cockpit.waste.wall_queries.wall_accuracy` (``villages``).
    order : sequence of str
        Every village code shown (those without disposals too); others are not shown.
    names : mapping
        Village code -> display name.
    target : float
        The accuracy target (``WasteRules.target``).

    Returns
    -------
    list of dict
        ``{code, name, correct, total, rate, percent, meets}`` (``rate`` None and ``meets``
        None without disposals), by rate (higher first), then more disposals, then code.
    """
    known = {v.get("village_code"): v for v in models.get("villages") or ()}
    rows = []
    for code in order:
        found = known.get(code) or {}
        correct, total = int(found.get("correct") or 0), int(found.get("total") or 0)
        rows.append({"code": code, "name": names.get(code) or code, "correct": correct,
                     "total": total, "rate": correct / total if total else None,
                     "percent": percent(correct, total),
                     "meets": meets(correct, total, target)})
    rows.sort(key=lambda r: (r["rate"] is None, -(r["rate"] or 0.0), -r["total"], r["code"]))
    return rows


def bar_floor(rows: Sequence[Mapping[str, Any]], target: float) -> float:
    """Return where the bars start: the map's scale floor, lower when a village is under it.

    Whole tenths, a little under the lowest rate, so that every bar shows.
    """
    rates = [r["rate"] for r in rows if r["rate"] is not None]
    low = min([scale_floor(target) + 0.02, *rates])
    return max(0.0, math.floor(round((low - 0.02) * 10, 6)) / 10)


# ------------------------------------------------------------------ the ranked bars


def ranking_figure(rows: Sequence[Mapping[str, Any]], target: float,
                   lang: Lang = "zh") -> dict[str, Any]:
    """Return the ranked bars: villages best first, in columns, against the target's line.

    Each row: rank, name (right-aligned), a bar from :func:`bar_floor` to the village's rate
    (green at or above the target, the alarm colour below it; none without disposals) over a
    grey track, then its percentage and disposal count (无数据 without disposals). A vertical
    dashed line marks the target in every column. Laid out in px (:data:`BARS_PX`).

    Parameters
    ----------
    rows : sequence of dict
        :func:`village_rows`, best first.
    target : float
        The accuracy target, 0-1.
    lang : {"zh", "en"}
        Language of the texts.

    Returns
    -------
    dict
        A plotly figure: traces ``track``, ``bars`` (hover text per village), ``ranks``,
        ``names``, ``values``; ``layout.shapes`` the target's lines.
    """
    per_column = max(math.ceil(len(rows) / BAR_COLUMNS), 1)
    width = (BARS_PX - COLUMN_GAP_PX * (BAR_COLUMNS - 1)) / BAR_COLUMNS
    name_px = NAME_PX["en" if lang == "en" else "zh"]
    bar_px = width - RANK_PX - name_px - VALUE_PX - 2 * ZONE_GAP_PX
    lo = bar_floor(rows, target)
    span = 1.0 - lo
    ys, starts, lengths, colors, hovers = [], [], [], [], []
    rank_x, name_x, value_x, ranks, names, values, tints = [], [], [], [], [], [], []
    shapes = []
    for column in range(BAR_COLUMNS):
        left = column * (width + COLUMN_GAP_PX)
        bar0 = left + RANK_PX + name_px + ZONE_GAP_PX
        if column * per_column < len(rows):
            x = bar0 + bar_px * (target - lo) / span
            shapes.append({"type": "line", "xref": "x", "yref": "y", "x0": x, "x1": x,
                           "y0": -0.5, "y1": per_column - 0.5, "layer": "above",
                           "line": {"color": TARGET_LINE, "width": 1.5, "dash": "dash"}})
        for row_index, row in enumerate(rows[column * per_column:(column + 1) * per_column]):
            rank = column * per_column + row_index + 1
            ys.append(row_index)
            starts.append(bar0)
            has = row["rate"] is not None
            lengths.append(bar_px * (row["rate"] - lo) / span if has else 0.0)
            colors.append(OK_COLOR if row["meets"] else ALARM_COLOR)
            hovers.append(t("ww_bar_hover", lang, name=plain(row["name"]), rate=row["percent"],
                            correct=format_count(row["correct"]),
                            total=format_count(row["total"])) if has
                          else t("ww_bar_hover_none", lang, name=plain(row["name"])))
            rank_x.append(left + RANK_PX - 4)
            name_x.append(left + RANK_PX + name_px)
            value_x.append(bar0 + bar_px + ZONE_GAP_PX)
            ranks.append(str(rank))
            names.append(row["name"])
            values.append(t("ww_bar_text", lang, rate=row["percent"],
                            n=format_count(row["total"])) if has else t("ww_no_data", lang))
            tints.append(TEXT_COLOR if not has else OK_COLOR if row["meets"] else ALARM_TEXT)

    def text(uid: str, xs: list, labels: list, position: str, colors: Any) -> dict[str, Any]:
        return {"type": "scatter", "mode": "text", "uid": uid, "x": xs, "y": ys,
                "text": labels, "textposition": position, "hoverinfo": "skip",
                "cliponaxis": False, "showlegend": False,
                "textfont": {"family": FONT_FAMILY, "size": BAR_FONT_PX, "color": colors}}

    no_data = [MUTED_COLOR if length == 0 and value == t("ww_no_data", lang) else TEXT_COLOR
               for length, value in zip(lengths, values, strict=True)]
    bar = {"type": "bar", "orientation": "h", "y": ys, "base": starts, "width": 0.56,
           "showlegend": False}
    axis = {"visible": False, "fixedrange": True, "showgrid": False, "zeroline": False}
    return {"data": [
        {**bar, "uid": "track", "x": [bar_px] * len(ys), "marker": {"color": BAR_TRACK},
         "hoverinfo": "skip"},
        {**bar, "uid": "bars", "x": lengths, "marker": {"color": colors},
         "hovertext": hovers, "hoverinfo": "text"},
        text("ranks", rank_x, ranks, "middle left", MUTED_COLOR),
        text("names", name_x, names, "middle left", no_data),
        text("values", value_x, values, "middle right", tints),
    ], "layout": {
        "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
        "margin": {"l": 0, "r": 0, "t": 0, "b": 0}, "barmode": "overlay",
        "font": {"family": FONT_FAMILY, "color": TEXT_COLOR, "size": BAR_FONT_PX},
        "xaxis": {**axis, "range": [0, BARS_PX]},
        "yaxis": {**axis, "range": [per_column - 0.5, -0.5]},
        "shapes": shapes, "showlegend": False, "dragmode": False, "hovermode": "closest",
        "hoverlabel": {"font": {"family": FONT_FAMILY, "size": 15},
                       "bgcolor": "rgba(4, 16, 38, 0.95)"},
        "uirevision": "wall-waste"}}


# ------------------------------------------------------------------ the map


def choropleth_shapes(rings: Mapping[str, Sequence[tuple[Sequence[float], Sequence[float]]]],
                      rows: Sequence[Mapping[str, Any]], target: float) -> list[dict[str, Any]]:
    """Return the map's village fills: one path shape per village, below every trace.

    Parameters
    ----------
    rings : mapping
        Village code -> its rings, ``(lons, lats)`` in WGS-84 degrees (exterior rings and
        holes; holes stay unfilled, the fill rule is even-odd). Each village's path is its
        own rings and nothing else, so a ring filled the same whether it runs clockwise or
        counter-clockwise fills only the village.
    rows : sequence of dict
        :func:`village_rows` (``code``, ``correct``, ``total``); a village of ``rings``
        without a row is drawn as without disposals.
    target : float
        The accuracy target.
    """
    by_code = {row["code"]: row for row in rows}
    shapes = []
    for code in sorted(rings):
        row = by_code.get(code) or {}
        path = "".join("M" + "L".join(f"{x:.6f},{y:.6f}" for x, y in zip(xs, ys, strict=True))
                       + "Z" for xs, ys in rings[code])
        shapes.append({"type": "path", "xref": "x", "yref": "y", "path": path,
                       "fillcolor": fill_color(row.get("correct", 0), row.get("total", 0),
                                               target), "fillrule": "evenodd",
                       "line": {"width": 0}, "layer": "below", "name": f"waste-{code}"})
    return shapes


def no_data_notes(base: MapBase, rows: Sequence[Mapping[str, Any]],
                  lang: Lang) -> list[dict[str, Any]]:
    """Return the map's 无数据 notes: one small line just above each village without disposals.

    Annotations, so that the labels themselves stay as they are; above the label, where
    :func:`layouts.map_counts.badge_rise` keeps a line's room under the volunteers' badge (the
    incident bubbles sit below the label). None while no village has any disposal (the waste
    feed is not running): the grey fills and the key's 无数据 say so.

    Parameters
    ----------
    base : MapBase
        Its label points place the notes (WGS-84 degrees).
    rows : sequence of dict
        :func:`village_rows`; a labelled village without a row has no disposals either.
    lang : {"zh", "en"}
        Language of the note.
    """
    by_code = {row["code"]: row for row in rows}
    if not any(row["rate"] is not None for row in rows):
        return []  # nothing anywhere: the key's 无数据 says it, not fifteen notes
    notes = []
    for code, name, lon, lat in base.labels:
        if (by_code.get(code) or {}).get("rate") is not None:
            continue
        lines = label_lines(base, name, code, lang)
        notes.append({"x": lon, "y": lat, "xref": "x", "yref": "y", "showarrow": False,
                      "text": t("ww_no_data", lang), "yanchor": "bottom",
                      "yshift": label_top_px(lines) + 1,
                      "font": {"family": FONT_FAMILY, "size": MARK_PX["normal"],
                               "color": NO_DATA_TEXT},
                      "name": f"waste-none-{code}"})
    return notes
