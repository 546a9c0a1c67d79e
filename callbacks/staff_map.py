"""The staff map (``/map``): the page, its frame, its points and items, and the side panel.

- ``/map`` (router page) reads the shareable state from its URL (:class:`cockpit.mapdata.
  filters.MapState`) and renders the filters, the frame and the side panel of the village,
  grid or incident named in the link.
- ``/map/frame`` renders the map document (:func:`layouts.staff_map_frame.build_frame`) with
  the vector layers; its inline scripts carry the response's CSP nonce, and it may be framed
  by the app's own pages only (``frame-ancestors 'self'``).
- ``/map/points.json`` sends the filtered incidents as compact columns (gzip when accepted);
  ``/map/item/<id>`` one incident for its popup, masked for the viewer's role.
- Every coordinate leaves the server in the base map's CRS (:mod:`cockpit.mapdata.tiles`): on
  Gaode tiles (GCJ-02) a WGS-84 point is drawn at its GCJ-02 position.
All of it needs :attr:`Capability.ITEMS`; a staff account sees its own villages' items only.
"""

from __future__ import annotations

import functools
import gzip
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import dash
import numpy as np
from dash import ClientsideFunction, Input, Output, State
from dash.development.base_component import Component
from flask import Response, request

from callbacks import PageRequest, parse_query
from callbacks.auth import current_viewer
from callbacks.incidents import village_labels
from callbacks.policy import Policy
from callbacks.staff_pages import DATA_ERRORS
from callbacks.timemachine import PARAMS, moment_of, page_band, page_opener
from cockpit import crs
from cockpit.access import Capability, Viewer
from cockpit.mapdata import grid_counts, layers, staff_panel, staff_queries, tiles
from cockpit.mapdata.filters import MapFilters, MapState
from cockpit.services import Services
from layouts import staff_map as page
from layouts.i18n import Lang, lang_from_search, t
from layouts.incidents_query import LIST_PATH, with_lang
from layouts.staff_map import FRAME_PATH, ITEM_PATH, MAP_PATH, POINTS_PATH, MapIds
from layouts.staff_map_frame import LAYERS, FrameModel, TileSpec, build_frame

log = logging.getLogger(__name__)

FRAME_ENDPOINT = "staff_map_frame"
POINTS_ENDPOINT = "staff_map_points"
ITEM_ENDPOINT = "staff_map_item"
FRAME_STRINGS = {"loading": "map_loading", "loaded": "map_loaded", "failed": "map_load_failed",
                 "open_item": "map_panel_open_item", "colon": "label_colon"}
_SCRIPT = re.compile(r"<script(?=[\s>])")
#: The repeat-groups layer draws the largest groups, each with its first members: the frame
#: stays bounded however many incidents repeat (the panel and the list count them all).
REPEAT_GROUPS_SHOWN = 200
REPEAT_MEMBERS_SHOWN = 25


def scope_of(viewer: Viewer) -> tuple[str, ...] | None:
    """The villages a viewer's lists are limited to (None: all)."""
    return tuple(viewer.villages) if viewer.scoped else None


def tile_specs(provider: tiles.TileProvider) -> list[TileSpec]:
    """The provider's tile layers for the frame (none: an empty list, no tile request)."""
    return [TileSpec(url=layer.url, attribution=provider.attribution,
                     subdomains=provider.subdomains or "abc", max_zoom=provider.max_zoom,
                     overlay=layer.overlay)
            for layer in provider.layers]


def tile_sources(provider: tiles.TileProvider) -> list[str]:
    """The origins the frame may load tiles from (for its CSP ``img-src``)."""
    out = []
    for layer in provider.layers:
        parts = urlsplit(layer.url)
        hosts = ([parts.netloc.replace("{s}", s) for s in provider.subdomains or "abc"]
                 if "{s}" in parts.netloc else [parts.netloc])
        out.extend(f"{parts.scheme}://{h}" for h in hosts)
    return sorted(set(out))


def _display_points(rows: Sequence[dict[str, Any]], provider: tiles.TileProvider
                    ) -> list[dict[str, Any]]:
    rows = [dict(r) for r in rows if r.get("lon") is not None and r.get("lat") is not None]
    if rows:
        lons, lats = tiles.to_display_points([r["lon"] for r in rows],
                                             [r["lat"] for r in rows], provider)
        for r, lon, lat in zip(rows, lons, lats, strict=True):
            r["lon"], r["lat"] = float(lon), float(lat)
    return rows


def _display_repeats(groups: Sequence[dict[str, Any]], provider: tiles.TileProvider
                     ) -> list[dict[str, Any]]:
    out = []
    largest = sorted(groups, key=lambda g: -int(g.get("size") or 0))[:REPEAT_GROUPS_SHOWN]
    for g in largest:
        points = (g.get("points") or [])[:REPEAT_MEMBERS_SHOWN]
        if points:
            lons, lats = tiles.to_display_points([p[0] for p in points], [p[1] for p in points],
                                                 provider)
            g = {**g, "points": [[float(x), float(y)] for x, y in zip(lons, lats, strict=True)]}
        out.append(g)
    return out


def map_state(query: Mapping[str, str]) -> MapState:
    """The state of a page or frame query, its view centre in WGS-84.

    The frame reports its centre in the base map's datum and the page tags it (``vcrs``): a
    GCJ-02 centre is brought back to WGS-84 here, so a link opened again does not drift by
    the datum's offset (about 500 m in Hangzhou).
    """
    state = MapState.from_query(query)
    datum, view = query.get("vcrs"), state.view
    if datum in ("gcj02", "bd09") and view.lat is not None and view.lon is not None:
        lon, lat = crs.to_wgs84(view.lon, view.lat, datum)
        state = replace(state, view=replace(view, lat=round(lat, 6), lon=round(lon, 6)))
    return state


def _names(layer, lang: Lang):
    return layer.assign(name=layer["name_en"]) if lang == "en" else layer


def frame_model(services: Services, state: MapState, viewer: Viewer, lang: Lang,
                query: Mapping[str, str] | None = None) -> FrameModel:
    """Read what the frame shows for ``state`` and put it in the base map's CRS.

    ``query`` may name a past moment (``at``: the time machine), read from the as-of store.
    """
    settings = services.settings
    (now, read), scope = moment_of(services, query or {}), scope_of(viewer)
    provider = tiles.provider(settings)
    # the village chosen focuses the map; it does not filter the layers
    shown = MapFilters(**{**_fields(state.filters), "village": None, "grid": None})
    with read() as session:
        village_layer = layers.village_layer(session)
        grid_layer = layers.grid_layer(session)
        metrics = staff_panel.village_metrics(session, shown, settings.tz, now, village_layer,
                                              scope)
        stations = staff_queries.stations(session, now, settings.tz, scope)
        on_duty = staff_queries.volunteers_on_duty(session, now, scope)
        repeats = staff_queries.repeat_groups(session, shown, settings.tz, now, scope)
    villages = tiles.to_display_frame(_names(village_layer, lang), provider)
    grids = tiles.to_display_frame(grid_layer, provider)
    focus = None
    code = state.filters.village
    if code and (villages["code"] == code).any():
        focus = tuple(float(v) for v in villages[villages["code"] == code].total_bounds)
    view = state.view
    at = None
    if view.z is not None and view.lat is not None and view.lon is not None:
        lon, lat = tiles.to_display_points([view.lon], [view.lat], provider)
        at = (float(lat[0]), float(lon[0]), int(round(view.z)))
    query = state.filters.to_query()
    query.pop("village", None)
    query.pop("grid", None)
    if lang == "en":
        query["lang"] = "en"
    past = {} if read == services.read else {"at": str(int(now.timestamp() * 1000))}
    query.update(past)
    points_url = POINTS_PATH + ("?" + "&".join(f"{k}={v}" for k, v in query.items())
                                if query else "")
    return FrameModel(
        villages=villages, grids=grids, metrics=metrics,
        stations=_display_points(stations, provider),
        volunteers=_display_points(on_duty, provider),
        repeats=_display_repeats(repeats, provider), tiles=tile_specs(provider),
        layers_on=frozenset(str(layer) for layer in view.layers) & frozenset(LAYERS),
        view=at, focus=focus, points_url=points_url,
        item_url=ITEM_PATH + "/{id}" + ("?" + urlencode({**past, **(
            {"lang": "en"} if lang == "en" else {})}) if past or lang == "en" else ""),
        selected_village=code, waste_target=settings.waste_rules.target,
        crs=str(provider.crs), lang=lang,
        strings={k: t(v, lang) for k, v in FRAME_STRINGS.items()})


def _fields(filters: MapFilters) -> dict[str, Any]:
    return {"categories": filters.categories, "stages": filters.stages,
            "period": filters.period, "start": filters.start, "end": filters.end,
            "village": filters.village, "grid": filters.grid}


def _with_nonce(document: str) -> str:
    nonce = getattr(request, "csp_nonce", "")
    return _SCRIPT.sub(f'<script nonce="{nonce}"', document) if nonce else document


def _json(payload: Any, status: int = 200) -> Response:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    headers = {"Cache-Control": "no-store"}
    if len(body) > 4096 and "gzip" in request.headers.get("Accept-Encoding", ""):
        body = gzip.compress(body, compresslevel=5)
        headers["Content-Encoding"] = "gzip"
        headers["Vary"] = "Accept-Encoding"
    return Response(body, status=status, mimetype="application/json", headers=headers)


def points_payload(points: Mapping[str, Any], provider: tiles.TileProvider) -> dict[str, Any]:
    """The frame's incident columns in the base map's CRS (6 decimals)."""
    out = dict(points)
    if out.get("ids"):
        lons, lats = tiles.to_display_points(out["lon"], out["lat"], provider)
        out["lon"] = np.round(np.asarray(lons, dtype=float), 6).tolist()
        out["lat"] = np.round(np.asarray(lats, dtype=float), 6).tolist()
    return out


def register_routes(app: dash.Dash, services: Services, policy: Policy) -> None:
    """Add the frame, points and item routes; each needs :attr:`Capability.ITEMS`."""
    settings = services.settings
    server = app.server

    @server.get(FRAME_PATH, endpoint=FRAME_ENDPOINT)
    def staff_map_frame():
        lang = lang_from_search(request.query_string.decode(errors="replace"))
        state = map_state(request.args.to_dict())
        try:
            document = build_frame(frame_model(services, state, current_viewer(), lang,
                                               request.args.to_dict()))
        except DATA_ERRORS as exc:
            log.warning("map frame: data source unreachable: %s", type(exc).__name__)
            return Response(t("source_down", lang), status=503, mimetype="text/plain",
                            headers={"Cache-Control": "no-store"})
        return Response(_with_nonce(document), mimetype="text/html",
                        headers={"Cache-Control": "no-store"})

    @server.get(POINTS_PATH, endpoint=POINTS_ENDPOINT)
    def staff_map_points():
        filters = MapState.from_query(request.args.to_dict()).filters
        shown = MapFilters(**{**_fields(filters), "village": None, "grid": None})
        now, read = moment_of(services, request.args.to_dict())
        try:
            with read() as session:
                points = staff_queries.incident_points(session, shown, settings.tz, now,
                                                       scope_of(current_viewer()))
        except DATA_ERRORS as exc:
            log.warning("map points: data source unreachable: %s", type(exc).__name__)
            return _json({"error": "source_down"}, 503)
        return _json(points_payload(points, tiles.provider(settings)))

    @server.get(f"{ITEM_PATH}/<path:incident_id>", endpoint=ITEM_ENDPOINT)
    def staff_map_item(incident_id: str):
        lang = lang_from_search(request.query_string.decode(errors="replace"))
        item = read_item(services, incident_id, current_viewer(), lang, request.args.to_dict())
        return _json(item) if item else _json({"error": "not_found"}, 404)

    for endpoint in (FRAME_ENDPOINT, POINTS_ENDPOINT, ITEM_ENDPOINT):
        policy.route(endpoint, Capability.ITEMS)


def read_item(services: Services, incident_id: str, viewer: Viewer,
              lang: Lang, query: Mapping[str, str] | None = None) -> dict[str, Any] | None:
    """One incident for the popup and the panel, masked for ``viewer`` (None: not seen).

    ``query`` may name a past moment (``at``), read from the as-of store.
    """
    settings = services.settings
    _, read = moment_of(services, query or {})
    try:
        with read() as session:
            detail = staff_panel.incident_item(session, incident_id, settings.tz, viewer,
                                               config=settings.governance)
    except DATA_ERRORS as exc:
        log.warning("map item: data source unreachable: %s", type(exc).__name__)
        return None
    if detail is None:
        return None
    href = with_lang(f"{LIST_PATH}/{quote(incident_id, safe='')}", lang)
    return page.item_view(detail, lang, village_labels(lang), href)


def panel(services: Services, lang: Lang, state: MapState, selection: Mapping[str, Any],
          viewer: Viewer, query: Mapping[str, str] | None = None) -> list:
    """The side panel for a selection: the subdistrict, a village, a grid or an incident.

    ``query`` may name a past moment (``at``), read from the as-of store.
    """
    settings = services.settings
    (now, read), scope = moment_of(services, query or {}), scope_of(viewer)
    filters = MapFilters(**{**_fields(state.filters), "village": None, "grid": None})
    village, grid, item = (selection.get(k) for k in ("village", "grid", "item"))
    back = MAP_PATH + ("?lang=en" if lang == "en" else "")
    try:
        if item:
            return page.item_children(lang, read_item(services, str(item), viewer, lang, query),
                                      back)
        with read() as session:
            if not village:
                totals = staff_panel.overview(session, filters, settings.tz, now, scope)
                return page.overview_children(lang, totals)
            figures = staff_panel.village_panel(session, str(village), filters, settings.tz,
                                                now, scope, settings.waste_rules.target)
            if figures is None:
                return page.scope_children(lang, back)
            since, until = filters.window(now, settings.tz)
            grids = grid_counts.grid_counts(session, villages=[str(village)], since=since,
                                            until=until, categories=filters.categories or None,
                                            stages=filters.stages or None)
    except DATA_ERRORS as exc:
        log.warning("map panel: data source unreachable: %s", type(exc).__name__)
        return [dash.html.P(t("source_down", lang), className="map-panel-note")]
    rows = grids["grids"] if isinstance(grids, dict) else grids
    if grid:
        chosen = next((g for g in rows if g["code"] == grid), None)
        if chosen is not None:
            name = village_labels(lang).get(str(village), str(village))
            return page.grid_children(lang, chosen, name, back)
    return page.village_children(lang, figures, rows, back, village_labels(lang))


def render(services: Services, lang: Lang, req: PageRequest) -> Component:
    """Return ``/map`` for the link's state."""
    state = map_state(req.query)
    viewer = current_viewer()
    selection = {"village": state.filters.village, "grid": state.filters.grid,
                 "item": req.query.get("item")}
    query = {**state.to_query(), **({"item": req.query["item"]} if req.query.get("item")
                                    else {}), **({"lang": "en"} if lang == "en" else {}),
             **{k: req.query[k] for k in PARAMS if req.query.get(k)}}
    past = page_band(services, "map", lang, MAP_PATH, req.query, root=MapIds.FRAME,
                     frame=MapIds.FRAME)
    return page.layout(lang, query=query, categories=state.filters.categories,
                       stages=state.filters.stages, period=state.filters.period,
                       problems=state.problems, selection=selection,
                       panel=panel(services, lang, state, selection, viewer, req.query),
                       layer_version=read_layer_version(services), past=past,
                       opener=page_opener(services, lang, MAP_PATH, req.query))


def read_layer_version(services: Services) -> int | None:
    """The boundary layers' version (None when the store cannot be read)."""
    try:
        with services.read() as session:
            return layers.layer_version(session)
    except DATA_ERRORS as exc:
        log.warning("map: data source unreachable: %s", type(exc).__name__)
        return None


def routes(services: Services) -> dict[str, Any]:
    """Router entry of the staff map page."""
    return {MAP_PATH: functools.partial(render, services)}


def validation_page() -> Component:
    """The page built without data, for the app's ``validation_layout``."""
    return page.layout("zh", query={}, categories=(), stages=(), period="7d", problems=(),
                       selection={}, panel=[])


def register(app: dash.Dash, services: Services) -> None:
    """Register the page's callbacks: filters reload the frame; a selection fills the panel."""
    app.clientside_callback(
        ClientsideFunction("staff_map", "frame"),
        Output(MapIds.FRAME, "src"),
        Input(MapIds.CATEGORY, "value"), Input(MapIds.STAGE, "value"),
        Input(MapIds.PERIOD, "value"), prevent_initial_call=True)

    # an import or new grids: the open map is drawn again from the new layer
    @app.callback(Output(MapIds.LAYER_VERSION, "data"), Input(MapIds.TICK, "n_intervals"),
                  State(MapIds.LAYER_VERSION, "data"), prevent_initial_call=True)
    def layer_moved(_tick, known):
        version = read_layer_version(services)
        return dash.no_update if version is None or version == known else version

    app.clientside_callback(
        ClientsideFunction("staff_map", "reload"),
        Output(MapIds.FRAME, "src", allow_duplicate=True),
        Input(MapIds.LAYER_VERSION, "data"), prevent_initial_call=True)

    @app.callback(Output(MapIds.PANEL, "children"),
                  Input(MapIds.SELECTION, "data"), Input(MapIds.FRAME, "src"),
                  State(MapIds.QUERY, "data"), prevent_initial_call=True)
    def show_panel(selection, src, query):
        # the frame's URL holds the filters in force (the page's own query is the first one)
        query = {**dict(query or {}), **parse_query(urlsplit(src or "").query)}
        lang: Lang = "en" if query.get("lang") == "en" else "zh"
        return panel(services, lang, MapState.from_query(query), selection or {},
                     current_viewer(), query)
