"""Read-only access to the shipped geodata layers and point-to-village assignment.

The layers in ``geodata/`` are built by ``python -m cockpit.geodata_build`` (see
``geodata/PROVENANCE.md``). Everything here is WGS-84 (EPSG:4326), longitude before latitude.
The village layer is SCHEMATIC (示意): official village boundaries are not public, so its
polygons only place each village roughly and must be labelled （示意） on screen. A layer's
rings, outlines and label points for drawing are in :mod:`cockpit.geo_shapes`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Transformer

from cockpit.geo_shapes import (  # noqa: F401 - re-exported: drawing a layer
    check_wgs84,
    label_points,
    outline_coords,
    outline_xy,
)

GEODATA_DIR = Path(__file__).resolve().parents[1] / "geodata"
DISTRICT_FILE = "linping_district_wgs84.geojson"
SUBDISTRICT_FILE = "qiaosi_subdistrict_schematic.geojson"
VILLAGES_FILE = "qiaosi_villages_schematic.geojson"

WGS84 = "EPSG:4326"
METRIC_CRS = "EPSG:32651"  # UTM zone 51N: metres around Hangzhou
NEAREST_MAX_M = 1000.0  # points this close to a village but outside all of them snap to it

#: Centre point of 乔司街道 (NBS 2016, GCJ-02 120.286388, 30.34937 converted to WGS-84 with
#: prcoords), as (lon, lat) in degrees.
QIAOSI_CENTER_WGS84: tuple[float, float] = (120.281907, 30.351794)

VILLAGE_COLUMNS = ["code", "name", "name_en", "kind", "schematic", "label_suffix", "geometry"]
_SUFFIXES = ("（示意）", "(示意)", "示意")
# Points further than this (degrees) outside the layer's bounds cannot be within NEAREST_MAX_M.
_BBOX_MARGIN_DEG = 0.02


@functools.lru_cache(maxsize=8)
def _read(name: str) -> gpd.GeoDataFrame:
    """Read one shipped layer once per process and check its CRS."""
    path = GEODATA_DIR / name
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; run `python -m cockpit.geodata_build`")
    gdf = gpd.read_file(path)
    if gdf.crs is None or gdf.crs.to_epsg() != 4326:
        raise ValueError(f"{path} is not WGS-84 (EPSG:4326): {gdf.crs}")
    return gdf


def load_villages() -> gpd.GeoDataFrame:
    """Return the schematic (示意) layer of the 15 villages and communities of 乔司街道.

    Returns
    -------
    geopandas.GeoDataFrame
        15 rows sorted by code, CRS EPSG:4326 (degrees), columns ``code`` (12-digit NBS 2016
        code, str), ``name`` (Chinese, without 委会), ``name_en``, ``kind``
        (``"community"`` or ``"village"``), ``schematic`` (bool, True), ``label_suffix``
        (``"（示意）"``) and ``geometry`` (Polygon). A fresh copy on every call.

    Raises
    ------
    FileNotFoundError
        If ``geodata/qiaosi_villages_schematic.geojson`` is missing.

    Notes
    -----
    Derived from the Linping outline (lyhmyd1211/GeoMapData_CN, DataV GeoAtlas) and the NBS
    village list (Vonng/adcode, CC-BY-4.0); see ``geodata/PROVENANCE.md``.
    """
    gdf = _read(VILLAGES_FILE)[VILLAGE_COLUMNS]
    return gdf.sort_values("code", kind="stable").reset_index(drop=True)


def load_subdistrict() -> gpd.GeoDataFrame:
    """Return the schematic (示意) area of 乔司街道 as one row.

    Returns
    -------
    geopandas.GeoDataFrame
        One row, CRS EPSG:4326, columns ``code``, ``name``, ``name_en``, ``kind``,
        ``schematic``, ``label_suffix``, ``geometry`` (Polygon). A fresh copy on every call.

    Raises
    ------
    FileNotFoundError
        If ``geodata/qiaosi_subdistrict_schematic.geojson`` is missing.
    """
    return _read(SUBDISTRICT_FILE)[VILLAGE_COLUMNS].copy()


def load_district() -> gpd.GeoDataFrame:
    """Return the real outline of 临平区 (Linping district), converted from GCJ-02.

    Returns
    -------
    geopandas.GeoDataFrame
        One row, CRS EPSG:4326, columns ``code`` (``"330113"``), ``adcode`` (int), ``name``
        and ``geometry`` (MultiPolygon). A fresh copy on every call.

    Raises
    ------
    FileNotFoundError
        If ``geodata/linping_district_wgs84.geojson`` is missing.

    Notes
    -----
    Source: lyhmyd1211/GeoMapData_CN @ 8a5515176a87 : county/330113.json (DataV GeoAtlas).
    """
    gdf = _read(DISTRICT_FILE)[["adcode", "name", "geometry"]].copy()
    gdf.insert(0, "code", gdf["adcode"].astype(str))
    return gdf


class _Index(NamedTuple):
    codes: np.ndarray  # village codes, aligned with the geometries below
    villages: gpd.GeoDataFrame  # code + geometry, WGS-84
    villages_m: gpd.GeoDataFrame  # the same in METRIC_CRS
    tree: shapely.STRtree  # WGS-84 polygons, prepared, for point-in-polygon
    tree_m: shapely.STRtree  # metric polygons for the nearest-within-1-km fallback
    to_m: Transformer
    bounds: tuple[float, float, float, float]  # WGS-84 bounds grown by _BBOX_MARGIN_DEG


#: The village polygons the join uses when not the shipped schematic ones (see use_villages);
#: a per-process cache of the active layer in the store, never written from a request.
_ACTIVE: list[gpd.GeoDataFrame | None] = [None]


def use_villages(layer: gpd.GeoDataFrame | None) -> None:
    """Join points on ``layer`` from now on in this process (None: the shipped schematic one).

    Parameters
    ----------
    layer : geopandas.GeoDataFrame or None
        ``code`` and ``geometry`` columns, EPSG:4326 (``cockpit.mapdata.layers.village_layer``).

    Raises
    ------
    ValueError
        If ``layer`` is not in EPSG:4326.
    """
    if layer is not None:
        check_wgs84(layer)
        layer = layer[["code", "geometry"]].sort_values("code").reset_index(drop=True)
    _ACTIVE[0] = layer
    _index.cache_clear()


@functools.lru_cache(maxsize=1)
def _index() -> _Index:
    active = _ACTIVE[0]
    villages = load_villages()[["code", "geometry"]] if active is None else active
    villages_m = villages.to_crs(METRIC_CRS)
    geoms = villages.geometry.to_numpy()
    shapely.prepare(geoms)
    x0, y0, x1, y1 = villages.total_bounds
    m = _BBOX_MARGIN_DEG
    return _Index(
        codes=villages["code"].to_numpy(dtype=object),
        villages=villages,
        villages_m=villages_m,
        tree=shapely.STRtree(geoms),
        tree_m=shapely.STRtree(villages_m.geometry.to_numpy()),
        to_m=Transformer.from_crs(WGS84, METRIC_CRS, always_xy=True),
        bounds=(x0 - m, y0 - m, x1 + m, y1 + m),
    )


def prepare() -> None:
    """Load the layers and build the spatial indexes now, not on the first point joined."""
    _index()
    _aliases()


def assign_villages(lons: Sequence[float], lats: Sequence[float]) -> list[str | None]:
    """Assign WGS-84 points to villages (vectorised; the ingest hot path).

    A point inside a village polygon gets its code; a point outside all of them but within
    1,000 m of one gets the nearest village's code (ties: the lowest code); otherwise None.

    Parameters
    ----------
    lons, lats : sequence of float, shape (n,)
        Longitudes and latitudes in degrees, WGS-84. NaN, None or infinite values give None.

    Returns
    -------
    list of str or None, length n
        Village codes (12-digit NBS 2016 codes) in input order.

    Raises
    ------
    ValueError
        If ``lons`` and ``lats`` differ in length or hold non-numeric values.
    """
    x = np.asarray(lons, dtype=float).ravel()
    y = np.asarray(lats, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValueError(f"lons and lats differ in length: {x.size} != {y.size}")
    if not x.size:
        return []
    idx = _index()
    found = np.full(x.shape, -1)
    finite = np.isfinite(x) & np.isfinite(y)
    # one contains_xy call per village polygon over all points, lowest code first (ties)
    for i in sorted(range(len(idx.codes)), key=lambda k: idx.codes[k]):
        free = (found < 0) & finite
        if not free.any():
            break
        inside = np.zeros(x.shape, dtype=bool)
        inside[free] = shapely.contains_xy(idx.tree.geometries[i], x[free], y[free])
        found[inside] = i
    rest = np.flatnonzero((found < 0) & finite)
    if rest.size:
        # one nearest-village query in metres for every point inside no village
        mx, my = idx.to_m.transform(x[rest], y[rest])
        pairs = idx.tree_m.query_nearest(shapely.points(mx, my), max_distance=NEAREST_MAX_M,
                                         all_matches=True)
        best: dict[int, int] = {}
        for point, village in zip(pairs[0], pairs[1], strict=True):
            best[point] = min(village, best.get(point, village))  # ties: lowest index
        for point, village in best.items():
            found[rest[point]] = village
    return [idx.codes[k] if k >= 0 else None for k in found]


def village_of(lon: float, lat: float) -> str | None:
    """Return the village code of one WGS-84 point.

    Same rule as :func:`assign_villages` (inside, else nearest within 1,000 m, else None),
    using STRtrees built once per process; a call takes a few microseconds after the first.

    Parameters
    ----------
    lon, lat : float
        Longitude and latitude in degrees, WGS-84.

    Returns
    -------
    str or None
        The 12-digit NBS 2016 village code, or None (also for NaN or None input).
    """
    if lon is None or lat is None or not (math.isfinite(lon) and math.isfinite(lat)):
        return None
    idx = _index()
    x0, y0, x1, y1 = idx.bounds
    if not (x0 <= lon <= x1 and y0 <= lat <= y1):
        return None
    cands = idx.tree.query(shapely.Point(lon, lat))
    hits = cands[shapely.contains_xy(idx.tree.geometries[cands], lon, lat)]
    if hits.size:
        return idx.codes[hits.min()]
    point_m = shapely.Point(idx.to_m.transform(lon, lat))
    near = idx.tree_m.query_nearest(point_m, max_distance=NEAREST_MAX_M, all_matches=True)
    return idx.codes[near.min()] if near.size else None


@functools.lru_cache(maxsize=1)
def _names() -> dict[str, dict[str, str]]:
    rows = load_villages().itertuples(index=False)
    return {r.code: {"name": r.name, "name_en": r.name_en, "kind": r.kind} for r in rows}


def village_names() -> dict[str, dict[str, str]]:
    """Return the village and community names by code.

    Returns
    -------
    dict
        ``{code: {"name": ..., "name_en": ..., "kind": "community" | "village"}}`` for the 15
        villages, codes sorted; a fresh copy on every call. Use :func:`resolve_village` to
        look a village up by its Chinese or English name.
    """
    return {code: dict(info) for code, info in _names().items()}


@functools.lru_cache(maxsize=1)
def _aliases() -> dict[str, str]:
    aliases: dict[str, str] = {}
    for code, info in _names().items():
        aliases[code] = code
        aliases[info["name"]] = code
        aliases[info["name_en"].casefold()] = code
    return aliases


def resolve_village(value: object) -> str | None:
    """Return the village code for a code or a name.

    Parameters
    ----------
    value : str or int or None
        A 12-digit NBS 2016 code, a Chinese name with or without the suffix 委会 and/or a
        示意 marker (``"朝阳村委会"``, ``"朝阳村"``, ``"朝阳村（示意）"``), or the English name
        (case-insensitive).

    Returns
    -------
    str or None
        The village code, or None when nothing matches.
    """
    if value is None:
        return None
    text = str(value).strip()
    for suffix in _SUFFIXES:
        text = text.removesuffix(suffix).strip()
    text = text.removesuffix("委会")
    aliases = _aliases()
    return aliases.get(text) or aliases.get(text.casefold())
