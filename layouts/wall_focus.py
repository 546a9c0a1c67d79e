"""The wall's focus region: rotating panels, their dots, KPI tiles and a critical takeover.

The region holds :data:`FOCUS_PANELS` in one place of the grid; ``assets/wall_focus.js``
shows one at a time for ``Settings.wall_rotate_s`` seconds each (a class on ``<html>``, no
server round trip) and the dots say which is shown and which comes next. A wide screen
(``assets/wall_focus.css``) takes some panels out of the rotation and shows them side by side.
While the announcement queue holds a critical notice, :func:`takeover` covers the region.

:class:`FocusIds` declares the ids once; ``callbacks/wall_focus.py`` fills the tiles. The tile
builder :func:`tile_children` takes plain tile dicts (title, value, unit, change ...), so the
configured tiles of issue 10 can feed it as well as :func:`metric_tiles` and
:func:`waste_tiles`. Builders are pure and pass upstream text as children, never as HTML.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from dash import html
from dash.development.base_component import Component

from cockpit import vocab
from layouts.i18n import PLACEHOLDER, Lang, format_count, strings, t
from layouts.wall_waste_figures import percent, target_text

#: The focus panels in rotation order: (name, label key).
FOCUS_PANELS = (("incidents", "wf_incidents"), ("volunteers", "wf_volunteers"),
                ("waste", "wf_waste"), ("metrics", "wf_metrics"))
#: Tiles shown at most in the KPI panel; the others are counted in its last line.
MAX_TILES = 12
#: The priority whose unacknowledged new-incident or alert notice takes the screen: the highest.
TAKEOVER_PRIORITY = next(iter(vocab.PRIORITY_TERMS)).value
#: Strings the clientside rotation and takeover need (assets/wall_focus.js).
FOCUS_TEXTS = ("wf_takeover_head", "wf_takeover_alert", "wf_takeover_at", "wf_takeover_raised",
               "wf_takeover_waited", "wf_takeover_more", "wf_wait_s", "wf_wait_m", "wf_wait_h")
#: Idle time after which a kiosk screen hides the mouse pointer, ms.
CURSOR_IDLE_MS = 3000


class FocusIds(StrEnum):
    """Component ids of the wall's focus region."""

    NAV = "wall-focus-nav"
    SCENARIOS = "wall-focus-scenarios"
    METRICS = "wall-focus-metrics"
    WASTE = "wall-focus-waste"
    NAMES = "wall-focus-names"
    TAKEOVER = "wall-takeover"
    TAKEOVER_HEAD = "wall-takeover-head"
    TAKEOVER_CATEGORY = "wall-takeover-category"
    TAKEOVER_TITLE = "wall-takeover-title"
    TAKEOVER_VILLAGE = "wall-takeover-village"
    TAKEOVER_AT = "wall-takeover-at"
    TAKEOVER_WAITED = "wall-takeover-waited"
    TAKEOVER_MORE = "wall-takeover-more"


def focus_config(lang: Lang, rotate_s: int, kiosk: bool) -> dict[str, Any]:
    """Return what ``assets/wall_focus.js`` needs: period, takeover priority, kiosk, texts.

    ``rotate_ms`` 0 means no rotation (the first panel stays).
    """
    return {"rotate_ms": max(0, int(rotate_s)) * 1000, "takeover": TAKEOVER_PRIORITY,
            "kiosk": kiosk, "cursor_idle_ms": CURSOR_IDLE_MS,
            "order": [name for name, _ in FOCUS_PANELS],
            "focus_texts": strings(lang, FOCUS_TEXTS)}


def focus_panel(name: str, *children: Component) -> html.Div:
    """Wrap the panels of one focus view; the grid places every one in the focus slot."""
    return html.Div(list(children), className=f"focus-panel focus-{name}",
                    **{"data-focus": name})


def tiles_panel(title: str, body_id: FocusIds, area: str, lang: Lang) -> html.Section:
    """Return a panel of KPI tiles (filled by the poll) under ``title``."""
    return html.Section(className=f"panel panel-tiles panel-{area}", children=[
        html.H2(title, className="panel-title"),
        html.Div(className="panel-body", children=html.Div(
            tile_children([], lang, empty=PLACEHOLDER), id=body_id, className="tiles"))])


def nav_dots(lang: Lang, scenarios: Sequence[tuple[str, str]] = ()) -> list[html.Span]:
    """Return the dots of the focus panels, the scenario pages' before the other modules'.

    ``scenarios`` holds ``(panel name, label)`` of each scenario page
    (:func:`layouts.wall_tiles.scenario_dots`), in the order of their panels.
    """
    panels = [(name, t(key, lang)) for name, key in FOCUS_PANELS]
    panels[-1:-1] = list(scenarios)  # before "metrics": the DOM order of the panels
    return [html.Span(className="focus-dot", key=name, **{"data-focus": name}, children=[
        html.Span(className="focus-dot-mark"), html.Span(label)]) for name, label in panels]


def focus_nav(lang: Lang, scenarios: Sequence[tuple[str, str]] = ()) -> html.Div:
    """Return the dots: one per focus panel, its name beside it; the shown one lit."""
    return html.Div(nav_dots(lang, scenarios), id=FocusIds.NAV, className="focus-nav")


def scenario_slot(panels: Sequence[Component] = ()) -> html.Div:
    """Return the place of the scenario panels: a box the grid does not see.

    It is ``display: contents``, so each panel in it takes the focus slot like the others.
    """
    return html.Div(list(panels), id=FocusIds.SCENARIOS, className="focus-scenarios")


def takeover(lang: Lang) -> html.Div:
    """Return the takeover of a critical incident, hidden; assets/wall_focus.js fills it.

    Big enough to read at 5 m: the priority and 待确认, the category, the title, the village,
    when it was reported and how long it has waited for an acknowledgement.
    """
    return html.Div(id=FocusIds.TAKEOVER, className="takeover takeover-hidden", role="alert",
                    children=[
        html.Div(id=FocusIds.TAKEOVER_HEAD, className="takeover-head"),
        html.Div(className="takeover-line", children=[
            html.Span(id=FocusIds.TAKEOVER_CATEGORY, className="takeover-category"),
            html.Span(id=FocusIds.TAKEOVER_VILLAGE, className="takeover-village")]),
        html.Div(id=FocusIds.TAKEOVER_TITLE, className="takeover-title"),
        html.Div(className="takeover-line takeover-times", children=[
            html.Span(id=FocusIds.TAKEOVER_AT, className="takeover-at"),
            html.Span(id=FocusIds.TAKEOVER_WAITED, className="takeover-waited")]),
        html.Div(id=FocusIds.TAKEOVER_MORE, className="takeover-more"),
    ])


# ------------------------------------------------------------------ tiles


def tile_children(tiles: Sequence[Mapping[str, Any]], lang: Lang,
                  empty: str | None = None, limit: int = MAX_TILES) -> list:
    """Return KPI tiles: title, value and unit, change, a small note.

    Parameters
    ----------
    tiles : sequence of dict
        ``title`` (str), ``value`` (str, already formatted), optional ``unit``, ``change``
        (a text such as ``较24小时前 +3``), ``trend`` (``up``, ``down``, ``flat``: the change's
        colour and arrow), ``state`` (``ok``, ``bad``, ``warn``, ``critical``: the value's
        and the tile's colour), ``badge`` (a word saying the state), ``spark`` (an image
        URI: the sparkline), ``note`` (a small line: when it was observed), ``key`` (unique,
        for React), ``id`` (a configured tile's, as ``data-tile``).
    lang : {"zh", "en"}
        Language of the empty and "N more" lines.
    empty : str, optional
        The line shown without tiles (default: 暂无指标数据).
    limit : int
        Tiles shown at most; a last line counts the others.
    """
    if not tiles:
        return [html.Div(empty if empty is not None else t("wf_metrics_empty", lang),
                         className="tiles-empty")]
    out = []
    for index, tile in enumerate(list(tiles)[:limit]):
        trend = tile.get("trend")
        state = tile.get("state")
        figure = [html.Span(str(tile.get("value", PLACEHOLDER)),
                            className=f"tile-value tile-{state}" if state else "tile-value")]
        if tile.get("unit"):
            figure.append(html.Span(str(tile["unit"]), className="tile-unit"))
        title = html.Div(str(tile.get("title") or ""), className="tile-title")
        if tile.get("badge"):
            title = html.Div(className="tile-head", children=[title, html.Span(
                str(tile["badge"]), className=f"tile-badge tile-{state}")])
        body = [title, html.Div(figure, className="tile-figure")]
        if tile.get("spark"):
            body.append(html.Img(src=str(tile["spark"]), className="tile-spark", alt=""))
        if tile.get("change"):
            body.append(html.Div(str(tile["change"]),
                                 className=f"tile-change tile-{trend}" if trend else
                                 "tile-change"))
        if tile.get("note"):
            body.append(html.Div(str(tile["note"]), className="tile-note"))
        extra = {"data-tile": str(tile["id"])} if tile.get("id") else {}
        out.append(html.Div(body, className=f"tile tile-is-{state}"
                            if state in ("warn", "critical") else "tile",
                            key=str(tile.get("key") or index), **extra))
    hidden = len(tiles) - limit
    if hidden > 0:
        out.append(html.Div(t("wf_metrics_more", lang, n=format_count(hidden)),
                            className="tiles-more"))
    return out


def number_text(value: float | None) -> str:
    """Return a KPI value as people read it: ``1,234``, ``96.5``, ``0.125``; ``—`` for None."""
    if value is None or not math.isfinite(value):
        return PLACEHOLDER
    if float(value).is_integer():
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.3g}" if abs(value) < 1 else f"{value:,.1f}"


def _signed(value: float) -> str:
    text = number_text(abs(value))
    return f"+{text}" if value > 0 else f"−{text}" if value < 0 else "±0"


def _trend(change: float | None) -> str | None:
    if change is None:
        return None
    return "up" if change > 0 else "down" if change < 0 else "flat"


def metric_title(module: str, key: str, lang: Lang) -> str:
    """Return a tile's title: the module's and the key's names from the catalogue.

    A module or key the catalogue does not know shows as sent (``economy · new_key``).
    """
    def known(name: str, fallback: str) -> str:
        try:
            return t(name, lang)
        except KeyError:
            return fallback

    return (f"{known(f'wf_module_{module}', module)} · "
            f"{known(f'wf_key_{module}_{key}', key)}")


def metric_tiles(rows: Sequence[Mapping[str, Any]], lang: Lang) -> list[dict[str, Any]]:
    """Turn :func:`cockpit.metric_queries.latest_metrics` rows into tile dicts.

    The change is against the value 24 hours earlier (``较24小时前 +3``), or says there was
    none; the note is the time of the latest value (``更新于 11-29 10:00``).
    """
    tiles = []
    for row in rows:
        change = row.get("change")
        at = str(row.get("at") or "")
        tiles.append({
            "key": f"{row['module']}/{row['key']}",
            "title": metric_title(str(row["module"]), str(row["key"]), lang),
            "value": number_text(row.get("value")), "unit": row.get("unit") or "",
            "change": (t("wf_change", lang, d=_signed(change)) if change is not None
                       else t("wf_change_none", lang)),
            "trend": _trend(change),
            "note": t("wf_at", lang, t=f"{at[5:10]} {at[11:16]}") if len(at) >= 16 else None})
    return tiles


def waste_tiles(model: Mapping[str, Any], target: float, lang: Lang) -> list[dict[str, Any]]:
    """Turn the wall's waste read model into tiles: today, 7 days, disposals, villages below.

    Parameters
    ----------
    model : dict
        :func:`cockpit.waste.wall_queries.wall_accuracy` (``trend`` oldest first, ``overall``,
        ``villages``); empty before the first read.
    target : float
        The accuracy target, 0-1 (``WasteRules.target``).
    lang : {"zh", "en"}
        Language of the titles.
    """
    trend = list(model.get("trend") or [])
    today = trend[-1] if trend else {}
    yesterday = trend[-2] if len(trend) > 1 else {}

    def rate(cell: Mapping[str, Any]) -> float | None:
        total = int(cell.get("total") or 0)
        return int(cell.get("correct") or 0) / total if total else None

    def state(cell: Mapping[str, Any]) -> str | None:
        value = rate(cell)
        return None if value is None else "ok" if value >= target else "bad"

    now, before = rate(today), rate(yesterday)
    change = None
    if now is not None and before is not None:
        points = round((now - before) * 1000) / 10
        change = t("wf_waste_vs_day", lang, d=f"{'+' if points > 0 else ''}{points:g} pt"
                   if points else "±0")
    overall = model.get("overall") or {}
    rated = [v for v in model.get("villages") or () if v.get("village_code")
             and int(v.get("total") or 0) > 0]
    below = sum(1 for v in rated if int(v["correct"]) / int(v["total"]) < target)
    goal = t("wf_waste_target", lang, p=target_text(target))
    return [
        {"key": "today", "title": t("wf_waste_today", lang),
         "value": percent(int(today.get("correct") or 0), int(today.get("total") or 0)),
         "state": state(today), "change": change,
         "trend": _trend(None if now is None or before is None else now - before),
         "note": goal},
        {"key": "week", "title": t("wf_waste_week", lang),
         "value": percent(int(overall.get("correct") or 0), int(overall.get("total") or 0)),
         "state": state(overall), "note": goal},
        {"key": "count", "title": t("wf_waste_count", lang),
         "value": format_count(int(today.get("total") or 0)), "unit": t("wf_unit_times", lang)},
        {"key": "below", "title": t("wf_waste_below", lang),
         "value": format_count(below) if rated else PLACEHOLDER,
         "unit": t("wf_unit_villages", lang), "state": None if not rated else
         "bad" if below else "ok"},
    ]
