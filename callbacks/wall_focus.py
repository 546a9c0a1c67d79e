"""The wall's focus region: its KPI tiles as live outputs, and the takeover's callback.

The tiles of the focus region change with the data and with time (a KPI's change is against
its value 24 hours before the read): the poll (:mod:`callbacks.wall`) reads them once per
data version and governance period (``gkey``) — :func:`cockpit.metric_queries.latest_metrics`
for the generic tiles, :func:`cockpit.tiles.tile_states` for the configured ones (the tiles
file as ``services.tiles`` last read it: its fingerprint is part of the cache key) — and
takes the waste tiles from the waste read model of the data version and day (``key``, shared
with the waste panel, :func:`callbacks.wall_waste.waste_model`). All are cached for every
screen of the process; the parts are sent only when their signature differs from the one the
screen has. The configured tiles' sparklines cost one statement of 48 index seeks per tile:
a tile's is read once per :data:`SERIES_EVERY_S` or when its value reaches a new slice, and
ends with the tile's current value. The
scenario panels and the rotation's dots are outputs too, so a changed tiles file reaches open
screens without a reload.

The rotation runs in the browser (``assets/wall_focus.js``); the takeover of a critical
incident is a clientside callback of the announcement queue store (:func:`register_focus`),
so it follows the queue whatever fills the store.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

import dash
from dash import ClientsideFunction, Input, Output, State
from flask_caching import Cache

from callbacks import PageRequest
from callbacks.caching import single_flight
from callbacks.wall_parts import signature, village_names
from callbacks.wall_waste import waste_model
from cockpit import metric_queries
from cockpit.access import Role, Viewer
from cockpit.services import Services
from cockpit.tile_queries import slice_of, tile_series, with_latest
from cockpit.tiles import TilesConfig, tile_states
from layouts.i18n import Lang, t
from layouts.wall import WallIds
from layouts.wall_focus import FocusIds, metric_tiles, nav_dots, tile_children, waste_tiles
from layouts.wall_governance import GovIds
from layouts.wall_tiles import scenario_dots, scenario_groups, scenario_panels

#: A tile's sparkline is read again this often, seconds, or when its latest value reaches a
#: new slice of it; its last point is always the tile's latest value (read per data version).
SERIES_EVERY_S = 60
#: What the poll sends of the focus region.
FOCUS_OUTPUTS = {
    "focus_metrics": Output(FocusIds.METRICS, "children"),
    "focus_waste": Output(FocusIds.WASTE, "children"),
    "focus_names": Output(FocusIds.NAMES, "data"),
    "focus_scenarios": Output(FocusIds.SCENARIOS, "children"),
    "focus_nav": Output(FocusIds.NAV, "children"),
}


def screen_is_kiosk(viewer: Viewer, request: PageRequest | None) -> bool:
    """Whether the wall is shown in kiosk mode (no control of any kind).

    ``?kiosk=1`` asks for it; a screen signed in by its kiosk link (the wall role) has it
    unless ``?kiosk=0`` (to mute it, or set it up).
    """
    asked = request.query.get("kiosk") if request is not None else None
    if asked in ("0", "1"):
        return asked == "1"
    return viewer.kind == "kiosk" or viewer.role is Role.WALL


def read_metrics(services: Services, config: TilesConfig, now: datetime) -> dict[str, Any]:
    """Read every module's latest KPI and every configured tile as of ``now``.

    ``metrics``: :func:`cockpit.metric_queries.latest_metrics` rows; ``tiles``:
    :func:`cockpit.tiles.tile_states` rows of ``config``; ``scenarios``: its scenarios
    (id, title); ``configured``: the (module, key) pairs a subdistrict tile shows.
    """
    tz = services.settings.tz
    with services.read() as session:
        metrics = metric_queries.latest_metrics(session, tz, now)
        tiles = tile_states(session, config, tz, now, series=False)
    return {"metrics": metrics, "tiles": tiles,
            "scenarios": [{"id": s.id, "title": s.title.model_dump()}
                          for s in config.scenarios],
            "configured": sorted(config.configured())}


def read_series(services: Services, config: TilesConfig, now: datetime,
                tile_id: str) -> list[Any]:
    """Read the sparkline of one configured tile as of ``now`` (one statement)."""
    with services.read() as session:
        return tile_series(session, config, services.settings.tz, now, {tile_id})[tile_id]


def pending_groups(config: TilesConfig, lang: Lang) -> list[dict[str, Any]]:
    """The scenario pages of ``config`` before the first read: every value still ``—``."""
    rows = [{"id": tile.id, "scenario": tile.scenario, "title": tile.title.model_dump(),
             "window_s": tile.window.total_seconds(), "decimals": tile.decimals,
             "units": tile.unit.model_dump() if tile.unit else None, "value": None,
             "pending": True} for tile in config.tiles]
    scenarios = [{"id": s.id, "title": s.title.model_dump()} for s in config.scenarios]
    return scenario_groups(rows, scenarios, lang)


def build_focus_view(read: dict[str, Any], series: dict[str, Any], waste: dict[str, Any],
                     lang: Lang, target: float) -> dict[str, Any]:
    """Turn the KPI rows, the configured tiles and the waste model into children, signed.

    ``series`` holds the tiles' sparklines (:func:`read_series`, read less often); each ends
    with its tile's latest value. A KPI a subdistrict-wide tile shows is left out of the
    generic panel. ``focus_names``
    maps village codes to the names the takeover shows (the active layer's); ``sig`` maps
    each part to a short digest of what it shows.
    """
    configured = {tuple(pair) for pair in read["configured"]}
    metric = metric_tiles([row for row in read["metrics"]
                           if (row["module"], row["key"]) not in configured], lang)
    rows = [{**row, "series": with_latest(series.get(row["id"]) or [], row)}
            for row in read["tiles"]]
    groups = scenario_groups(rows, read["scenarios"], lang)
    dots = scenario_dots(groups)
    wasted = waste_tiles(waste, target, lang)
    names = village_names(lang)
    empty = t("wf_metrics_configured", lang) if configured and read["metrics"] else None
    return {"focus_metrics": tile_children(metric, lang, empty=empty),
            "focus_waste": tile_children(wasted, lang), "focus_names": dict(names),
            "focus_scenarios": scenario_panels(groups, lang),
            "focus_nav": nav_dots(lang, dots),
            "sig": {"focus_metrics": signature(metric), "focus_waste": signature(wasted),
                    "focus_names": signature(names), "focus_scenarios": signature(groups),
                    "focus_nav": signature(dots)}}


def focus_for(services: Services, cache: Cache | None, lock: threading.Lock, key: str,
              gkey: str, lang: Lang, now: datetime) -> dict[str, Any]:
    """Return the focus view: KPIs read once per ``gkey``, waste tiles from ``key``'s model.

    ``key`` is the poll's data version and day, ``gkey`` its data version and governance
    period; the view is built once per both and language.
    """
    waste = waste_model(services, cache, lock, key, now)
    config = services.tiles.current()
    read = single_flight(cache, lock, f"wall:metrics:{gkey}:{config.fingerprint}",
                         lambda: read_metrics(services, config, now))
    period = int(now.timestamp() // SERIES_EVERY_S)
    tiles = {tile.id: tile for tile in config.tiles}
    series = {}
    for row in read["tiles"]:  # again when a minute passed or a value reached a new slice
        slot = slice_of(tiles[row["id"]], row["at"]) if row["id"] in tiles else None
        series[row["id"]] = single_flight(
            cache, lock, f"wall:tileseries:{config.fingerprint}:{row['id']}:{period}:{slot}",
            lambda tile_id=row["id"]: read_series(services, config, now, tile_id))
    target = services.settings.waste_rules.target
    return single_flight(cache, lock,
                         f"wall:focusview:{key}:{gkey}:{config.fingerprint}:{period}:{lang}",
                         lambda: build_focus_view(read, series, waste, lang, target))


def send_focus(view: dict[str, Any], out: dict[str, Any], sig: dict[str, str]) -> None:
    """Put the parts of the focus view the screen does not have into the poll's outputs.

    ``sig`` is the screen's signatures (the poll's ``seen["sig"]``, updated here): a part is
    sent only when its signature differs.
    """
    for part, digest in view["sig"].items():
        if sig.get(part) != digest:
            out[part] = view[part]
            sig[part] = digest


def register_focus(app: dash.Dash) -> None:
    """Register the takeover: a clientside callback of the queue store and village names."""
    app.clientside_callback(ClientsideFunction("focus", "takeover"),
                            Output(FocusIds.TAKEOVER, "className"),
                            Output(FocusIds.TAKEOVER_HEAD, "children"),
                            Output(FocusIds.TAKEOVER_CATEGORY, "children"),
                            Output(FocusIds.TAKEOVER_TITLE, "children"),
                            Output(FocusIds.TAKEOVER_VILLAGE, "children"),
                            Output(FocusIds.TAKEOVER_AT, "children"),
                            Output(FocusIds.TAKEOVER_MORE, "children"),
                            Input(GovIds.QUEUE, "data"), Input(FocusIds.NAMES, "data"),
                            State(WallIds.CONFIG, "data"))
