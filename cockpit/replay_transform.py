"""The ``transform`` of a replay mapping: moving a file's positions onto Qiaosi.

A recorded file comes from another city; :class:`Transform` moves its positions by a
similarity (shift and scale, distances kept proportional) so they fall around
:data:`QIAOSI_CENTER`. cockpit/replay_mapping.py uses it as the mapping's ``transform`` key.
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
