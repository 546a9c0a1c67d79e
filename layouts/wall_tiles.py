"""The wall's scenario panels: the configured tiles (cockpit/tiles.yaml), one panel per scenario.

:func:`scenario_groups` turns :func:`cockpit.tiles.tile_states` rows into tile dicts for
:func:`layouts.wall_focus.tile_children` (value with its decimals, the change over the
tile's trend window, the threshold state, a sparkline), grouped by scenario and cut into pages
of :data:`TILES_PER_PAGE`. :func:`scenario_panels` makes each page a focus panel of the
rotation (``data-focus="scn-<scenario>-<page>"``), :func:`scenario_dots` their dots. Pure
builders; the configured titles are passed as children, never as HTML.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from dash import html

from layouts.i18n import PLACEHOLDER, Lang, t
from layouts.wall_focus import number_text, tile_children

#: Tiles on one page of a scenario panel; more make more pages (each its own rotation step).
TILES_PER_PAGE = 8
#: The sparkline's drawing box (SVG user units) and its colour per state.
SPARK_W, SPARK_H = 120, 28
SPARK_COLOURS = {None: "#00e5ff", "ok": "#52e08a", "warn": "#ffb547", "critical": "#ff4d4f"}


def window_text(seconds: float, lang: Lang) -> str:
    """Return a trend window as people say it: ``24小时``, ``7天``, ``90分钟``."""
    if seconds % 86400 == 0 and seconds >= 86400 * 2:
        return t("wf_window_d", lang, n=int(seconds // 86400))
    if seconds % 3600 == 0:
        return t("wf_window_h", lang, n=int(seconds // 3600))
    return t("wf_window_m", lang, n=int(round(seconds / 60)))


def value_text(value: float | None, decimals: int | None) -> str:
    """Return a value with the tile's decimals (``1,234.5``), automatic without; ``—`` for None."""
    if value is None or not math.isfinite(value):
        return PLACEHOLDER
    if decimals is None:
        return number_text(value)
    return f"{value:,.{decimals}f}"


def _signed(value: float, decimals: int | None) -> str:
    text = value_text(abs(value), decimals)
    rounded = round(value, decimals if decimals is not None else 6)
    return f"+{text}" if rounded > 0 else f"−{text}" if rounded < 0 else "±0"


def sparkline(series: Sequence[Sequence[Any]], state: str | None) -> str | None:
    """Return the window's values as an SVG polyline in a ``data:`` URI; None under 2 points.

    Parameters
    ----------
    series : sequence of (time, value)
        Oldest first (:func:`cockpit.tiles.tile_states`' ``series``); spaced by index.
    state : str or None
        The tile's state, which colours the line.
    """
    values = [float(v) for _, v in series if v is not None and math.isfinite(float(v))]
    if len(values) < 2:
        return None
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = SPARK_W / (len(values) - 1)
    points = " ".join(f"{i * step:.1f},{SPARK_H - 2 - (v - low) / span * (SPARK_H - 4):.1f}"
                      for i, v in enumerate(values))
    svg = (f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {SPARK_W} {SPARK_H}' "
           f"preserveAspectRatio='none'><polyline fill='none' stroke='"
           f"{SPARK_COLOURS.get(state, SPARK_COLOURS[None])}' stroke-width='2' "
           f"vector-effect='non-scaling-stroke' points='{points}'/></svg>")
    return "data:image/svg+xml;utf8," + quote(svg, safe=" =:/',.")


def configured_tile(row: Mapping[str, Any], lang: Lang) -> dict[str, Any]:
    """Turn one :func:`cockpit.tiles.tile_states` row into a tile dict of ``tile_children``."""
    window = window_text(float(row["window_s"]), lang)
    value, change, state = row.get("value"), row.get("change"), row.get("state")
    at = str(row.get("at") or "")
    if value is None:  # not read yet (pending: the page before its first update) or never seen
        change_text, note = None, None if row.get("pending") else t("wf_tile_none", lang)
    else:
        change_text = (t("wf_tile_change", lang, w=window, d=_signed(change, row["decimals"]))
                       if change is not None else t("wf_tile_change_none", lang, w=window))
        note = t("wf_at", lang, t=f"{at[5:10]} {at[11:16]}") if len(at) >= 16 else None
    title, units = row["title"], row.get("units")
    return {"key": row["id"], "title": title.get(lang) or title.get("zh") or row["id"],
            "value": value_text(value, row.get("decimals")),
            "unit": units.get(lang, "") if units else row.get("unit") or "",
            "change": change_text,
            "trend": None if change is None else "up" if change > 0 else "down"
            if change < 0 else "flat",
            "state": state, "badge": t(f"wf_state_{state}", lang)
            if state in ("warn", "critical") else None,
            "spark": sparkline(row.get("series") or (), state), "note": note,
            "id": row["id"]}


def scenario_groups(rows: Sequence[Mapping[str, Any]], scenarios: Sequence[Mapping[str, Any]],
                    lang: Lang) -> list[dict[str, Any]]:
    """Return one group per page of each scenario that has tiles, in the file's order.

    Parameters
    ----------
    rows : sequence of dict
        :func:`cockpit.tiles.tile_states` rows.
    scenarios : sequence of dict
        ``id`` and ``title`` (``{"zh", "en"}``) of each scenario, in the file's order.
    lang : {"zh", "en"}

    Returns
    -------
    list of dict
        ``name`` (the focus panel's name, ``scn-<id>-<page>``), ``scenario``, ``title``
        (with ``1/2`` when the scenario has several pages), ``tiles`` (tile dicts) and
        ``simulated`` (a latest value of the scenario came from a simulator: marked 模拟数据).
    """
    groups = []
    for scenario in scenarios:
        tiles = [configured_tile(row, lang) for row in rows if row["scenario"] == scenario["id"]]
        pages = [tiles[i:i + TILES_PER_PAGE] for i in range(0, len(tiles), TILES_PER_PAGE)]
        name = scenario["title"].get(lang) or scenario["id"]
        for number, page in enumerate(pages, start=1):
            groups.append({
                "name": f"scn-{scenario['id']}-{number}", "scenario": scenario["id"],
                "title": name if len(pages) == 1 else t("wf_tiles_page", lang, s=name,
                                                         i=number, n=len(pages)),
                "tiles": page,
                "simulated": any(r.get("simulated") for r in rows
                                 if r["scenario"] == scenario["id"])})
    return groups


def scenario_panels(groups: Sequence[Mapping[str, Any]], lang: Lang) -> list[html.Div]:
    """Return each group as a focus panel of the rotation: its title over its tiles."""
    return [html.Div(className="focus-panel focus-scenario", key=group["name"],
                     **{"data-focus": group["name"], "data-scenario": group["scenario"]},
                     children=html.Section(
                         className="panel panel-tiles panel-scenario", children=[
                             html.H2(className="panel-title", children=[
                                 html.Span(group["title"]),
                                 *([html.Span(t("wf_tiles_simulated", lang), className="vol-sim",
                                              title=t("wf_tiles_simulated_note", lang))]
                                   if group.get("simulated") else [])]),
                             html.Div(className="panel-body", children=html.Div(
                                 tile_children(group["tiles"], lang, limit=TILES_PER_PAGE),
                                 className="tiles tiles-scenario"))]))
            for group in groups]


def scenario_dots(groups: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """Return ``(panel name, label)`` of each scenario page, for the rotation's dots."""
    return [(group["name"], group["title"]) for group in groups]
