"""Coordinate reference systems used in China, converted with the published ``prcoords`` library.

WGS-84 is what GPS and OpenStreetMap use; GCJ-02 (the "Mars" datum) is what Gaode/AMap and DataV
use; BD-09 is Baidu's. In Hangzhou GCJ-02 is about 500 m off WGS-84.
"""

from __future__ import annotations

from enum import StrEnum

import prcoords


class CRS(StrEnum):
    """Datum of a lon/lat pair in an event."""

    WGS84 = "wgs84"
    GCJ02 = "gcj02"
    BD09 = "bd09"


def to_wgs84(lon: float, lat: float, crs: CRS | str) -> tuple[float, float]:
    """Convert a point to WGS-84.

    Parameters
    ----------
    lon, lat : float
        Degrees in ``crs``.
    crs : CRS or str
        ``wgs84``, ``gcj02`` or ``bd09``.

    Returns
    -------
    tuple of float
        ``(lon, lat)`` in degrees, WGS-84. GCJ-02 and BD-09 are inverted with prcoords'
        iterative method (``gcj_wgs_bored``), accurate to about a millimetre; points outside
        China are returned unchanged (the datums coincide there).

    Raises
    ------
    ValueError
        If ``crs`` is not one of the three.
    """
    crs = CRS(crs)
    if crs is CRS.WGS84:
        return lon, lat
    if crs is CRS.GCJ02:
        out = prcoords.gcj_wgs_bored((lat, lon))
    else:
        out = prcoords.bd_wgs((lat, lon))
    return out.lon, out.lat


def from_wgs84(lon: float, lat: float, crs: CRS | str) -> tuple[float, float]:
    """Convert a WGS-84 point to ``crs`` (for GCJ-02 tile providers); returns ``(lon, lat)``."""
    crs = CRS(crs)
    if crs is CRS.WGS84:
        return lon, lat
    if crs is CRS.GCJ02:
        out = prcoords.wgs_gcj((lat, lon))
    else:
        out = prcoords.wgs_bd((lat, lon))
    return out.lon, out.lat
