"""Pure builder of the staff map's frame: a folium (Leaflet) document, served by the app.

The document holds the vector layers (village and grid boundaries, the three village
choropleths, stations, volunteers on duty, repeat groups) and a layer control. Incidents are
not in it: ``assets/map/staff_map_frame.js`` fetches them once as compact columns and draws
them as status-coloured clusters and a heat layer, so the document stays a few hundred
kilobytes with 50,000 incidents in the store. Every coordinate handed in is already in the
base map's CRS (:mod:`cockpit.mapdata.tiles`); the document never converts.

Nothing here loads from another origin: Leaflet and its plugins are served from
``/assets/vendor`` (docs/third-party.md), and without a base map there is no tile layer at all.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

import branca.element
import folium
import geopandas as gpd

from layouts.i18n import Lang, t
from layouts.wall_waste_figures import accuracy_rgb, scale_floor

#: Asset folders of the frame only: Dash does not add their scripts and styles to its pages.
ASSETS_PATH_IGNORE = [r"^vendor$", r"^map$"]
VENDOR = "/assets/vendor"
FRAME_JS = "/assets/map/staff_map_frame.js"
FRAME_CSS = "/assets/map/staff_map_frame.css"
#: The font stack every page shares (docs/fonts.md); the frame is a document of its own.
FONTS_CSS = "/assets/fonts.css"
JS = [("leaflet", f"{VENDOR}/leaflet/leaflet.js"),
      ("markercluster", f"{VENDOR}/leaflet.markercluster/leaflet.markercluster.js"),
      ("heat", f"{VENDOR}/leaflet.heat/leaflet-heat.js"),
      ("staff_map_frame", FRAME_JS)]
CSS = [("leaflet_css", f"{VENDOR}/leaflet/leaflet.css"),
       ("markercluster_css", f"{VENDOR}/leaflet.markercluster/MarkerCluster.css"),
       ("markercluster_default_css", f"{VENDOR}/leaflet.markercluster/MarkerCluster.Default.css"),
       ("fonts_css", FONTS_CSS), ("staff_map_frame_css", FRAME_CSS)]

#: The map's layers, in the layer control's order; the frame's JS knows them by these ids.
LAYERS = ("villages", "grids", "incidents", "heat", "repeats", "volunteers", "stations",
          "waste_accuracy", "incident_density", "volunteer_coverage")
#: Layers whose features are villages: clicking one drills into the village.
VILLAGE_LAYERS = ("villages", "waste_accuracy", "incident_density", "volunteer_coverage")
#: Decimals of a coordinate in the document (1e-6 degree is about 0.1 m).
DECIMALS = 6
NO_DATA_FILL = "#9aa3ad"
OUTLINE = "#3b82c4"


class _Map(folium.Map):
    """A folium map whose own scripts and styles are served by the app (no CDN)."""

    default_js = JS
    default_css = CSS


@dataclass(frozen=True)
class TileSpec:
    """One tile layer of the base map: URL template, attribution, subdomains, zoom limit."""

    url: str
    attribution: str
    subdomains: str = "abc"
    max_zoom: int = 18
    #: An overlay over the base tiles (Tianditu's annotation layer).
    overlay: bool = False


@dataclass(frozen=True)
class FrameModel:
    """What the frame shows; coordinates in the base map's CRS, degrees, lon first.

    Attributes
    ----------
    villages : GeoDataFrame
        ``code, name, schematic, geometry`` (the active village layer).
    grids : GeoDataFrame
        ``code, name, village_code, generated, geometry``.
    metrics : mapping
        Village code -> ``village_metrics`` row (``waste_correct, waste_total, incidents,
        incident_density, volunteers, households, volunteer_coverage``).
    stations, volunteers, repeats : sequence of dict
        Rows of the staff-map queries, positions already in the base map's CRS.
    tiles : sequence of TileSpec
        The base map's tile layers; empty for none (no tile request at all).
    layers_on : frozenset of str
        The ids of :data:`LAYERS` shown at start.
    view : tuple of float or None
        ``(lat, lon, zoom)`` to open at; None fits ``focus`` (else the villages).
    focus : tuple of float or None
        ``(min_lon, min_lat, max_lon, max_lat)`` to fit when no view is given.
    points_url, item_url : str
        Where the frame fetches incident points, and one item (``{id}`` replaced).
    selected_village : str or None
        Highlighted village.
    """

    villages: gpd.GeoDataFrame
    grids: gpd.GeoDataFrame
    metrics: Mapping[str, Mapping[str, Any]]
    stations: Sequence[Mapping[str, Any]] = ()
    volunteers: Sequence[Mapping[str, Any]] = ()
    repeats: Sequence[Mapping[str, Any]] = ()
    tiles: Sequence[TileSpec] = ()
    layers_on: frozenset[str] = frozenset({"villages", "incidents"})
    view: tuple[float, float, int] | None = None
    focus: tuple[float, float, float, float] | None = None
    points_url: str = ""
    item_url: str = ""
    selected_village: str | None = None
    waste_target: float = 0.95
    #: The base map's datum (``wgs84`` or ``gcj02``): the view the frame reports is in it.
    crs: str = "wgs84"
    lang: Lang = "zh"
    strings: Mapping[str, str] = field(default_factory=dict)


def _r(value: float) -> float:
    return round(float(value), DECIMALS)


def _rounded(geometry: Mapping[str, Any]) -> Any:
    def walk(c):
        if isinstance(c, (list, tuple)) and c and isinstance(c[0], (int, float)):
            return [_r(v) for v in c]
        return [walk(x) for x in c]
    return {"type": geometry["type"], "coordinates": walk(geometry["coordinates"])}


def _features(gdf: gpd.GeoDataFrame, props: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A FeatureCollection of ``gdf``'s geometries with ``props`` (one dict per row)."""
    shapes = [None if g is None else _rounded(g.__geo_interface__) for g in gdf.geometry]
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": shape, "properties": dict(p)}
        for shape, p in zip(shapes, props, strict=True) if shape is not None]}


def _scale(share: float | None) -> str:
    """Light yellow to deep red for 0..1; grey without data."""
    if share is None:
        return NO_DATA_FILL
    low, high = (255, 237, 160), (189, 0, 38)
    s = min(max(share, 0.0), 1.0)
    return _hex([round(a + (b - a) * s) for a, b in zip(low, high, strict=True)])


def _hex(rgb: Sequence[int] | None) -> str:
    """``#rrggbb`` of an RGB triple; the no-data grey for None."""
    return "#" + "".join(f"{int(c):02x}" for c in rgb[:3]) if rgb else NO_DATA_FILL


def _percent(correct: int, total: int) -> str:
    return f"{100 * correct / total:.1f}%" if total else "—"


def village_properties(model: FrameModel) -> list[dict[str, Any]]:
    """One properties dict per village: name, tooltips and the three choropleths' fills."""
    lang = model.lang
    rows = []
    densities = [m.get("incident_density") or 0 for m in model.metrics.values()]
    coverages = [m.get("volunteer_coverage") or 0 for m in model.metrics.values()]
    top_density, top_coverage = max(densities, default=0) or 1, max(coverages, default=0) or 1
    for code, name, schematic in zip(model.villages["code"], model.villages["name"],
                                     model.villages["schematic"], strict=True):
        m = model.metrics.get(code, {})
        correct, total = int(m.get("waste_correct") or 0), int(m.get("waste_total") or 0)
        rgb = accuracy_rgb(correct, total, model.waste_target)
        density, coverage = m.get("incident_density"), m.get("volunteer_coverage")
        # tooltips and labels are HTML in Leaflet: every name is escaped (imported files and
        # upstream events write them)
        label = escape(str(name) + (t("schematic", lang) if schematic else ""))
        rows.append({
            "code": code, "name": label,
            "tip_accuracy": f"{label}<br>" + (t("map_tip_accuracy", lang,
                                                 p=_percent(correct, total), c=correct, t=total)
                                               if total else t("map_no_data", lang)),
            "fill_accuracy": _hex(rgb),
            # a village without figures (outside a staff account's scope) says so, not "0"
            "tip_density": f"{label}<br>" + (t("map_tip_density", lang,
                                               n=int(m.get("incidents") or 0),
                                               d=f"{density or 0:.1f}")
                                             if m else t("map_no_data", lang)),
            "fill_density": _scale((density or 0) / top_density) if m else NO_DATA_FILL,
            "tip_coverage": f"{label}<br>" + (t("map_tip_coverage", lang,
                                                 v=int(m.get("volunteers") or 0),
                                                 h=int(m.get("households") or 0),
                                                 c=f"{coverage:.1f}")
                                               if coverage is not None
                                               else t("map_no_data", lang)),
            "fill_coverage": _scale(None if coverage is None else coverage / top_coverage),
            "selected": code == model.selected_village,
        })
    return rows


def legends(model: FrameModel) -> dict[str, dict[str, Any]]:
    """Each choropleth's key: its title and ``[colour, label]`` stops (shown while it is on)."""
    lang, target = model.lang, model.waste_target
    floor = scale_floor(target)

    def share(rate: float) -> str:
        return _hex(accuracy_rgb(round(rate * 1000), 1000, target))
    top_density = max((m.get("incident_density") or 0 for m in model.metrics.values()),
                      default=0)
    top_coverage = max((m.get("volunteer_coverage") or 0 for m in model.metrics.values()),
                       default=0)
    no_data = [NO_DATA_FILL, t("map_no_data", lang)]
    return {
        "waste_accuracy": {"title": t("map_l_waste_accuracy", lang), "stops": [
            [share(1.0), "100%"], [share(target), f"{100 * target:.0f}%"],
            [share(floor), f"≤{100 * floor:.0f}%"], no_data]},
        "incident_density": {"title": t("map_l_incident_density", lang), "stops": [
            [_scale(1.0), f"{top_density:.1f} /km²"], [_scale(0.5), f"{top_density / 2:.1f}"],
            [_scale(0.0), "0"]]},
        "volunteer_coverage": {"title": t("map_l_volunteer_coverage", lang), "stops": [
            [_scale(1.0), f"{top_coverage:.1f} /100"], [_scale(0.0), "0"], no_data]},
    }


def _village_layer(model: FrameModel, props: list[dict[str, Any]], layer: str,
                   fill_key: str | None, tip_key: str) -> folium.GeoJson:
    def style(feature):
        selected = feature["properties"]["selected"]
        return {"color": "#f5b700" if selected else OUTLINE,
                "weight": 4 if selected else 1.5,
                "fillColor": feature["properties"][fill_key] if fill_key else OUTLINE,
                "fillOpacity": 0.55 if fill_key else 0.04}
    # the choropleths say their figure on hover; the boundaries carry each village's name
    # as a label (bound per feature by the frame's script)
    tooltip = (None if fill_key is None else
               folium.GeoJsonTooltip(fields=[tip_key], labels=False, sticky=True))
    return folium.GeoJson(
        _features(model.villages, props), name=t(f"map_l_{layer}", model.lang),
        style_function=style, show=layer in model.layers_on, zoom_on_click=False,
        tooltip=tooltip, highlight_function=lambda _: {"weight": 3, "color": "#f5b700"})


def _grid_layer(model: FrameModel) -> folium.GeoJson:
    mark = t("map_panel_generated", model.lang)
    props = [{"code": c, "village": v, "tip": escape(f"{n}{mark if g else ''}")}
             for c, n, v, g in zip(model.grids["code"], model.grids["name"],
                                   model.grids["village_code"], model.grids["generated"],
                                   strict=True)]
    return folium.GeoJson(
        _features(model.grids, props), name=t("map_l_grids", model.lang),
        show="grids" in model.layers_on, zoom_on_click=False,
        style_function=lambda _: {"color": "#7c8a99", "weight": 1, "dashArray": "4 3",
                                  "fillOpacity": 0.02},
        tooltip=folium.GeoJsonTooltip(fields=["tip"], labels=False, sticky=True)
        if props else None)


def _point_group(name: str, show: bool) -> folium.FeatureGroup:
    return folium.FeatureGroup(name=name, show=show)


def _stations(model: FrameModel) -> folium.FeatureGroup:
    group = _point_group(t("map_l_stations", model.lang), "stations" in model.layers_on)
    for s in model.stations:
        correct, total = int(s.get("correct") or 0), int(s.get("total") or 0)
        rgb = accuracy_rgb(correct, total, model.waste_target)
        folium.CircleMarker(
            [_r(s["lat"]), _r(s["lon"])], radius=6, weight=2, color="#ffffff",
            fill=True, fill_opacity=0.95,
            fill_color=_hex(rgb),
            tooltip=escape(t("map_tip_station", model.lang,
                             name=s.get("name") or s["station_id"],
                             p=_percent(correct, total)))).add_to(group)
    return group


def _volunteers(model: FrameModel) -> folium.FeatureGroup:
    group = _point_group(t("map_l_volunteers", model.lang), "volunteers" in model.layers_on)
    for a in model.volunteers:
        n = int(a.get("on_duty") or 0)
        folium.CircleMarker(
            [_r(a["lat"]), _r(a["lon"])], radius=5 + min(n, 20) ** 0.5 * 3, weight=2,
            color="#ffffff", fill=True, fill_color="#d62728", fill_opacity=0.85,
            tooltip=escape(t("map_tip_volunteers", model.lang, title=a.get("title") or "", n=n)),
        ).add_to(group)
    return group


def _repeats(model: FrameModel) -> folium.FeatureGroup:
    group = _point_group(t("map_l_repeats", model.lang), "repeats" in model.layers_on)
    for g in model.repeats:
        points = [[_r(lat), _r(lon)] for lon, lat in g.get("points") or ()]
        if len(points) < 2:
            continue
        tip = t("map_tip_repeat", model.lang, n=int(g.get("size") or len(points)))
        folium.PolyLine(points, color="#9467bd", weight=3, opacity=0.9, dash_array="6 4",
                        tooltip=tip).add_to(group)
        # the first report of the group: one marker, so the layer stays small
        folium.CircleMarker(points[0], radius=5, color="#9467bd", fill=True,
                            fill_opacity=1, tooltip=tip).add_to(group)
    return group


class _Wiring(branca.element.MacroElement):
    """The script that hands the map, its layers and the page's settings to the frame's JS."""

    _template = branca.element.Template("""
        {% macro script(this, kwargs) %}
            StaffMapFrame.start({{ this.config }}, {{ this.map_name }},
                                {{ this.control_name }}, {{ this.layer_names }});
        {% endmacro %}
    """)

    def __init__(self, config: dict[str, Any], map_name: str, control_name: str,
                 layers: Mapping[str, str]) -> None:
        super().__init__()
        self._name = "StaffMapWiring"
        self.config = json.dumps(config, ensure_ascii=False)
        self.map_name = map_name
        self.control_name = control_name
        # layer id -> the JS variable folium gives it
        self.layer_names = "{" + ", ".join(f"{json.dumps(k)}: {v}"
                                           for k, v in layers.items()) + "}"


def build_frame(model: FrameModel) -> str:
    """Return the frame document (HTML) for ``model``.

    Its size depends on the villages, grids, stations and groups, not on the number of
    incidents (they are fetched from ``model.points_url``).
    """
    lang = model.lang
    every = tuple(float(v) for v in model.villages.total_bounds)
    bounds = model.focus or every
    centre = [(bounds[1] + bounds[3]) / 2, (bounds[0] + bounds[2]) / 2]
    fmap = _Map(location=centre, zoom_start=13, tiles=None, control_scale=True,
                prefer_canvas=True, max_zoom=19, attribution_control=bool(model.tiles))
    for spec in model.tiles:
        folium.TileLayer(tiles=spec.url, attr=spec.attribution, name=t("map_base_none", lang),
                         subdomains=spec.subdomains, max_zoom=spec.max_zoom,
                         overlay=spec.overlay, control=False).add_to(fmap)
    props = village_properties(model)
    layers: dict[str, Any] = {
        "villages": _village_layer(model, props, "villages", None, "name"),
        "waste_accuracy": _village_layer(model, props, "waste_accuracy", "fill_accuracy",
                                         "tip_accuracy"),
        "incident_density": _village_layer(model, props, "incident_density", "fill_density",
                                           "tip_density"),
        "volunteer_coverage": _village_layer(model, props, "volunteer_coverage",
                                             "fill_coverage", "tip_coverage"),
        "grids": _grid_layer(model),
        "repeats": _repeats(model),
        "volunteers": _volunteers(model),
        "stations": _stations(model),
    }
    for layer in ("waste_accuracy", "incident_density", "volunteer_coverage", "villages",
                  "grids", "repeats", "volunteers", "stations"):
        layers[layer].add_to(fmap)
    control = folium.LayerControl(collapsed=False, position="topright")
    control.add_to(fmap)
    config = {
        "lang": lang, "pointsUrl": model.points_url, "itemUrl": model.item_url,
        "layersOn": sorted(model.layers_on), "order": list(LAYERS),
        "villageLayers": list(VILLAGE_LAYERS),
        "names": {layer: t(f"map_l_{layer}", lang) for layer in LAYERS},
        "view": list(model.view) if model.view else None,
        "fit": [[bounds[1], bounds[0]], [bounds[3], bounds[2]]],
        "fitAll": [[every[1], every[0]], [every[3], every[2]]],
        "crs": model.crs,
        "strings": dict(model.strings),
        "legends": legends(model),
    }
    _Wiring(config, fmap.get_name(), control.get_name(),
            {k: v.get_name() for k, v in layers.items()}).add_to(fmap)
    return fmap.get_root().render()
