"""Positions of a replay: read from a row, and moved onto Qiaosi by the mapping's ``transform``.

:func:`read_position` reads and checks one row's position as the mapping's ``position`` key
says (cockpit/replay_read.py). A recorded file comes from another city; :class:`Transform`
moves its positions by a similarity (shift and scale, distances kept proportional) so they
fall around :data:`QIAOSI_CENTER`. cockpit/replay_mapping.py uses it as the ``transform`` key.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: Centre of 乔司街道, WGS-84 (lon, lat) in degrees; the same point as
#: ``cockpit.geo.QIAOSI_CENTER_WGS84``, repeated here so replay need not import geopandas.
QIAOSI_CENTER: tuple[float, float] = (120.281907, 30.351794)


def _lon_lat(value: object) -> object:
    if isinstance(value, list | tuple) and len(value) == 2:
        lon, lat = (float(v) for v in value)
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise ValueError("expected [lon, lat] in degrees; lon and lat swapped?")
        return (lon, lat)
    raise ValueError("expected [lon, lat] in degrees")


class Transform(BaseModel):
    """Similarity that moves the file's positions onto Qiaosi, keeping distances proportional.

    ``lon' = tc_lon + (lon - sc_lon) * scale * cos(sc_lat) / cos(tc_lat)`` and
    ``lat' = tc_lat + (lat - sc_lat) * scale``, with ``sc = source_center`` and
    ``tc = target_center`` (default :data:`QIAOSI_CENTER`), all ``[lon, lat]`` in degrees.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    source_center: tuple[float, float]
    scale: float = Field(gt=0, le=10)
    target_center: tuple[float, float] = QIAOSI_CENTER

    @field_validator("source_center", "target_center", mode="before")
    @classmethod
    def _centre(cls, value: object) -> object:
        return _lon_lat(value)

    def apply(self, lon: float, lat: float) -> tuple[float, float]:
        """Return the moved ``(lon, lat)`` in degrees."""
        sc_lon, sc_lat = self.source_center
        tc_lon, tc_lat = self.target_center
        kx = self.scale * math.cos(math.radians(sc_lat)) / math.cos(math.radians(tc_lat))
        return tc_lon + (lon - sc_lon) * kx, tc_lat + (lat - sc_lat) * self.scale


def read_position(spec, cell) -> tuple[float, float] | None:
    """Return the file's ``(lon, lat)`` of a row, None when it has none.

    Parameters
    ----------
    spec : PositionSpec or None
        The mapping's ``position`` (cockpit/replay_mapping.py): ``column`` with a ``regex``
        holding groups ``lat`` and ``lon``, or ``lat_column`` and ``lon_column``.
    cell : callable
        ``cell(column)``: the row's stripped cell, ``""`` when empty or a null value.

    Returns
    -------
    tuple of float or None
        Degrees in the file's datum; None for empty cells, no ``spec`` or ``0, 0``.

    Raises
    ------
    ValueError
        If the position cannot be read or lies outside [-90, 90] / [-180, 180]; the message
        names the column but never quotes the coordinate.
    """
    if spec is None:
        return None
    if spec.column:
        raw = cell(spec.column)
        if not raw:
            return None
        match = spec.regex.search(raw)
        if match is None:
            raise ValueError(f"{spec.column}: does not match the mapping's position pattern")
        texts, names = (match["lat"], match["lon"]), (spec.column, spec.column)
    else:
        texts = (cell(spec.lat_column), cell(spec.lon_column))
        names = (spec.lat_column, spec.lon_column)
        if not texts[0] and not texts[1]:
            return None
        if not texts[0] or not texts[1]:
            raise ValueError(f"{names[0]}/{names[1]}: only one of the pair is given")
    try:
        lat, lon = float(texts[0]), float(texts[1])
    except ValueError:
        raise ValueError(f"{names[0]}: latitude or longitude is not a number") from None
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise ValueError(f"{names[0]}: latitude or longitude is not finite")
    if not -90 <= lat <= 90:
        hint = "; lat and lon swapped?" if -90 <= lon <= 90 else ""
        raise ValueError(f"{names[0]}: latitude is outside [-90, 90]{hint}")
    if not -180 <= lon <= 180:
        raise ValueError(f"{names[1]}: longitude is outside [-180, 180]")
    if lat == 0 and lon == 0:
        return None  # "0, 0" is how many exports say "unknown"
    return lon, lat
