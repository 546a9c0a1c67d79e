"""A polygon layer as plotly draws it: its rings, its outlines and a label point per feature.

Plain geometry over a GeoDataFrame in WGS-84 (EPSG:4326), longitude before latitude; every
function checks the CRS at the boundary. Works on any village layer, the shipped schematic
one (:mod:`cockpit.geo`, which re-exports these names) or the store's active one.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely


def check_wgs84(gdf: gpd.GeoDataFrame) -> None:
    """Raise ValueError unless ``gdf`` is in WGS-84 (EPSG:4326)."""
    if gdf.crs is None or gdf.crs.to_epsg() != 4326:
        raise ValueError(f"expected a WGS-84 (EPSG:4326) GeoDataFrame, got CRS {gdf.crs}")


def _polygons(gdf: gpd.GeoDataFrame) -> list[shapely.Polygon]:
    polys: list[shapely.Polygon] = []
    for geom in gdf.geometry:
        if geom is not None and not geom.is_empty:
            polys.extend(getattr(geom, "geoms", [geom]))
    return [p for p in polys if p.geom_type == "Polygon"]


def outline_coords(gdf: gpd.GeoDataFrame) -> list[tuple[list[float], list[float]]]:
    """Return every polygon ring as ``(lons, lats)`` lists.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        Polygons or MultiPolygons in EPSG:4326.

    Returns
    -------
    list of (list of float, list of float)
        One ``(lons, lats)`` pair in degrees per ring, exterior rings first within each
        polygon, then its holes; rings are closed (first point repeated at the end).

    Raises
    ------
    ValueError
        If ``gdf`` is not in EPSG:4326.
    """
    check_wgs84(gdf)
    rings = []
    for poly in _polygons(gdf):
        for ring in (poly.exterior, *poly.interiors):
            xy = np.asarray(ring.coords)
            rings.append((xy[:, 0].tolist(), xy[:, 1].tolist()))
    return rings


def outline_xy(gdf: gpd.GeoDataFrame) -> tuple[list[float | None], list[float | None]]:
    """Return all exterior rings joined by None, for one plotly line trace.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        Polygons or MultiPolygons in EPSG:4326.

    Returns
    -------
    tuple of (list of float or None, list of float or None)
        Longitudes and latitudes in degrees, a None after each closed ring so the line breaks.

    Raises
    ------
    ValueError
        If ``gdf`` is not in EPSG:4326.
    """
    check_wgs84(gdf)
    lons: list[float | None] = []
    lats: list[float | None] = []
    for poly in _polygons(gdf):
        xy = np.asarray(poly.exterior.coords)
        lons.extend([*xy[:, 0].tolist(), None])
        lats.extend([*xy[:, 1].tolist(), None])
    return lons, lats


def label_points(
    gdf: gpd.GeoDataFrame, with_suffix: bool = True
) -> list[tuple[str, str, float, float]]:
    """Return one label anchor per feature, inside its polygon.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        EPSG:4326 with ``code`` and ``name`` columns (e.g. :func:`load_villages`).
    with_suffix : bool, default True
        Append ``label_suffix`` (``"（示意）"``) to the name of schematic features, so that a
        schematic layer says so on screen.

    Returns
    -------
    list of (code, name, lon, lat)
        ``representative_point()`` of each geometry, degrees WGS-84; empty geometries skipped.

    Raises
    ------
    ValueError
        If ``gdf`` is not in EPSG:4326.
    KeyError
        If ``code`` or ``name`` is missing.
    """
    check_wgs84(gdf)
    suffixes = [""] * len(gdf)
    if with_suffix and {"schematic", "label_suffix"} <= set(gdf.columns):
        pairs = zip(gdf["schematic"], gdf["label_suffix"], strict=True)
        suffixes = [str(s) if flag else "" for flag, s in pairs]
    labels = []
    rows = zip(gdf["code"], gdf["name"], gdf.geometry, suffixes, strict=True)
    for code, name, geom, suffix in rows:
        if geom is None or geom.is_empty:
            continue
        point = geom.representative_point()
        labels.append((str(code), f"{name}{suffix}", point.x, point.y))
    return labels
