"""The configured base map (tile provider) and the coordinates drawn on it.

Providers (``COCKPIT_MAP_TILES``, see :class:`cockpit.settings.Settings`):

======== ========= =============================================================
name     datum     tiles
======== ========= =============================================================
none     WGS-84    no tile layer, no tile request: vector layers only (default)
gaode    GCJ-02    Gaode/AMap road map, ``webrd0{1-4}.is.autonavi.com``
tianditu WGS-84    Tianditu vector map + Chinese annotations (``vec_w``, ``cva_w``)
osm      WGS-84    OpenStreetMap standard tiles
xyz      as set    ``COCKPIT_MAP_TILE_URL`` in ``COCKPIT_MAP_TILE_CRS`` (intranet)
======== ========= =============================================================

Tianditu is CGCS2000, which coincides with WGS-84 to a few centimetres. Everything the store
holds is WGS-84; a map converts each layer into its provider's datum with
:func:`to_display_points` / :func:`to_display_frame`, so a point sits on the right street
whichever tiles are drawn, and a click on the map comes back with :func:`from_display_point`.
The Tianditu key is part of its tile URLs (Tianditu keys are browser keys) but never of a repr
or a log line. Operators' guide: docs/geodata.md, "Base maps".
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

import numpy as np
from numpy.typing import ArrayLike

from cockpit.crs import CRS, arrays_from_wgs84, frame_from_wgs84, to_wgs84

if TYPE_CHECKING:
    import geopandas as gpd

    from cockpit.settings import Settings

GAODE_URL = ("https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8"
             "&x={x}&y={y}&z={z}")
OSM_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
#: Tianditu WMTS in Web Mercator (``_w``); ``{layer}`` is ``vec`` (roads) or ``cva`` (labels).
TIANDITU_URL = ("https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile"
                "&VERSION=1.0.0&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
                "&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={key}")
ATTRIBUTIONS = {
    "gaode": '&copy; <a href="https://www.amap.com/">高德地图 AutoNavi</a>',
    "tianditu": '&copy; <a href="https://www.tianditu.gov.cn/">天地图 Tianditu</a>',
    "osm": '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> '
           "contributors",
}
_KEY_IN_URL = re.compile(r"(?i)([?&]tk=)[^&]*")


def _masked(url: str) -> str:
    return _KEY_IN_URL.sub(r"\1***", url)


@dataclass(frozen=True)
class TileLayerSpec:
    """One tile layer of a provider.

    Attributes
    ----------
    name : str
        ``base`` or ``labels`` (Tianditu's annotation layer, drawn over the base).
    url : str
        Leaflet URL template with ``{z}``, ``{x}``, ``{y}`` and maybe ``{s}``; it may hold
        the Tianditu key, so it is masked in the repr.
    overlay : bool
        Drawn over the base layer (annotations) rather than being a base layer.
    """

    name: str
    url: str
    overlay: bool = False

    def __repr__(self) -> str:
        return (f"TileLayerSpec(name={self.name!r}, url={_masked(self.url)!r}, "
                f"overlay={self.overlay!r})")


@dataclass(frozen=True)
class TileProvider:
    """A base map: its tile layers and the datum its tiles are drawn in.

    Attributes
    ----------
    name : str
        ``none``, ``gaode``, ``tianditu``, ``osm`` or ``xyz``.
    crs : CRS
        Datum of the tiles; every layer drawn on them must be in it.
    layers : tuple of TileLayerSpec
        Base layer first; empty for ``none`` (no tile request at all).
    attribution : str
        Credit line (HTML) Leaflet shows in the corner; empty for ``none``.
    max_zoom : int
        Deepest zoom the tiles exist for.
    subdomains : str
        Characters substituted for ``{s}`` (empty when the URL has none).
    """

    name: str
    crs: CRS
    layers: tuple[TileLayerSpec, ...]
    attribution: str
    max_zoom: int
    subdomains: str

    @property
    def has_tiles(self) -> bool:
        """Whether the map draws any tile layer (false for ``none``)."""
        return bool(self.layers)


NONE = TileProvider("none", CRS.WGS84, (), "", 19, "")


def provider(settings: Settings) -> TileProvider:
    """Return the base map configured in ``settings``.

    Parameters
    ----------
    settings : Settings
        ``map_tiles``, ``map_tile_url``, ``map_tile_crs``, ``map_tile_attribution`` and
        ``tianditu_key`` are read (validated there: xyz needs a URL, tianditu a key).

    Returns
    -------
    TileProvider
        ``map_tile_attribution``, when set, replaces the provider's credit line (as text);
        an ``xyz`` provider without one is credited with its host name.
    """
    name = settings.map_tiles
    if name == "none":
        return NONE
    own = html.escape(settings.map_tile_attribution) if settings.map_tile_attribution else ""
    if name == "gaode":
        return TileProvider("gaode", CRS.GCJ02, (TileLayerSpec("base", GAODE_URL),),
                            own or ATTRIBUTIONS["gaode"], 18, "1234")
    if name == "osm":
        return TileProvider("osm", CRS.WGS84, (TileLayerSpec("base", OSM_URL),),
                            own or ATTRIBUTIONS["osm"], 19, "")
    if name == "tianditu":
        key = quote(settings.tianditu_key.get_secret_value(), safe="")
        layers = (TileLayerSpec("base", TIANDITU_URL.format(layer="vec", key=key)),
                  TileLayerSpec("labels", TIANDITU_URL.format(layer="cva", key=key), True))
        return TileProvider("tianditu", CRS.WGS84, layers, own or ATTRIBUTIONS["tianditu"],
                            18, "01234567")
    url = settings.map_tile_url
    return TileProvider("xyz", CRS(settings.map_tile_crs), (TileLayerSpec("base", url),),
                        own or html.escape(urlsplit(url).hostname or url), 18,
                        "abc" if "{s}" in url else "")


def display_crs(tiles: TileProvider) -> CRS:
    """Return the datum every layer must be drawn in on ``tiles`` (WGS-84 without tiles)."""
    return tiles.crs


def to_display_points(lons: ArrayLike, lats: ArrayLike,
                      tiles: TileProvider) -> tuple[np.ndarray, np.ndarray]:
    """Convert WGS-84 points into the provider's datum, for drawing.

    Parameters
    ----------
    lons, lats : array_like of float
        Degrees WGS-84, same shape.
    tiles : TileProvider
        The base map.

    Returns
    -------
    tuple of numpy.ndarray
        ``(lons, lats)`` in degrees of ``tiles.crs``: GCJ-02 for Gaode (and an xyz provider
        declared ``gcj02``), unchanged for OSM, Tianditu and no tiles.

    Raises
    ------
    ValueError
        If the shapes differ.
    """
    return arrays_from_wgs84(lons, lats, tiles.crs)


def to_display_frame(gdf: gpd.GeoDataFrame, tiles: TileProvider) -> gpd.GeoDataFrame:
    """Return a copy of a WGS-84 layer with its geometries in the provider's datum.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        Geometries in EPSG:4326, WGS-84.
    tiles : TileProvider
        The base map.

    Returns
    -------
    geopandas.GeoDataFrame
        See :func:`cockpit.crs.frame_from_wgs84`; for drawing only, never for the store.

    Raises
    ------
    ValueError
        If ``gdf`` is not in EPSG:4326.
    """
    return frame_from_wgs84(gdf, tiles.crs)


def from_display_point(lon: float, lat: float, tiles: TileProvider) -> tuple[float, float]:
    """Convert a position clicked on the map back to WGS-84.

    Parameters
    ----------
    lon, lat : float
        Degrees in ``tiles.crs`` (what Leaflet reports on those tiles).
    tiles : TileProvider
        The base map the click was made on.

    Returns
    -------
    tuple of float
        ``(lon, lat)`` in degrees WGS-84 (the GCJ-02 inverse is exact to a few millimetres).
    """
    return to_wgs84(lon, lat, tiles.crs)
