"""Where events happen: the service area positions must fall in, and village resolution.

Ingest refuses a position outside the service area (almost always a wrong ``crs`` or swapped
lon/lat) and gives each event a village code: the producer's village (code or name) or a
spatial join on its WGS-84 position.
"""

from __future__ import annotations

from collections.abc import Sequence

from cockpit import geo

#: Degrees added around the district's bounds to form the service area.
SERVICE_MARGIN_DEG = 0.05


def service_area() -> tuple[float, float, float, float]:
    """Bounds ``(min_lon, min_lat, max_lon, max_lat)`` accepted for positions, WGS-84 degrees.

    The real Linping district outline plus :data:`SERVICE_MARGIN_DEG` on each side.
    """
    minx, miny, maxx, maxy = (float(v) for v in geo.load_district().total_bounds)
    m = SERVICE_MARGIN_DEG
    return (minx - m, miny - m, maxx + m, maxy + m)


def resolve_villages(lons: Sequence[float | None], lats: Sequence[float | None],
                     hints: Sequence[str | None]) -> list[str | None]:
    """Village codes for events: the producer's village (code or name) or a spatial join.

    A hint that names no known village falls back to the join on the WGS-84 position.
    """
    out: list[str | None] = [geo.resolve_village(h) if h else None for h in hints]
    todo = [i for i, code in enumerate(out) if code is None and lons[i] is not None
            and lats[i] is not None]
    if todo:
        codes = geo.assign_villages([lons[i] for i in todo], [lats[i] for i in todo])
        for i, code in zip(todo, codes, strict=True):
            out[i] = code
    return out
