"""Where events happen: the service area positions must fall in, and village resolution.

Ingest refuses a position outside the service area (almost always a wrong ``crs`` or swapped
lon/lat) and gives each event a village code: the producer's village (code or name) or a
spatial join on its WGS-84 position, on the store's active village layer (imported polygons
where there are, else the shipped schematic ones; :class:`VillageLayerSync` keeps it current).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

from sqlalchemy.orm import Session, sessionmaker

from cockpit import geo
from cockpit.mapdata import layers

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


#: Seconds between two checks of the store's village layer by an ingest process.
LAYER_CHECK_S = 5.0


class VillageLayerSync:
    """Keep this process's point-to-village join on the store's active village layer.

    :meth:`check` asks the store for the layer version (one indexed scalar query,
    :func:`cockpit.mapdata.layers.layer_version`) at most every ``every_s`` seconds and
    swaps the join's polygons (:func:`cockpit.mapdata.layers.sync_geo`) when an import
    changed the layer; between checks it costs one clock read.

    Parameters
    ----------
    sessions : sessionmaker
        Session factory of the store.
    every_s : float
        Least time between two checks, seconds (:data:`LAYER_CHECK_S`).
    """

    def __init__(self, sessions: sessionmaker[Session], every_s: float = LAYER_CHECK_S):
        self.sessions = sessions
        self.every_s = every_s
        #: The layer version the join uses (None: not asked yet).
        self.version: int | None = None
        self._next = -math.inf

    def check(self, force: bool = False) -> bool:
        """Ask the store when due (or ``force``); return True when it asked.

        Raises
        ------
        sqlalchemy.exc.OperationalError
            When the store is unreachable; the join keeps the layer it has.
        """
        now = time.monotonic()
        if not force and now < self._next:
            return False
        self._next = now + self.every_s
        with self.sessions() as session:
            self.version = layers.sync_geo(session, self.version)
        return True
