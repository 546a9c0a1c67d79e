"""Where the simulated houses stand: in groups (组) around their station, inside their village.

A village's houses come in groups of 40 (:mod:`cockpit.waste.sim_world`) and a group's
households mostly use the station ``(group - 1) % stations`` — so each group is a cluster
(a natural hamlet, 自然村) a few hundred metres from that station, and each house a point
scattered around its group's centre. Every point lies inside the village's schematic polygon
(pulled in by about 30 m), so a grid (网格) drawn over the village shows a realistic density:
dense hamlets, empty fields. Positions depend on the world's seed, the ids and the village's
stations (whose number grows with the village's size), so a world is the same at every start.
"""

from __future__ import annotations

import functools
import math
import random

#: Metres per degree of latitude (and of longitude at the equator), spherical Earth.
M_PER_DEG = 111_320.0
#: A group's centre lies this far from its station, metres.
GROUP_DISTANCE_M = (60.0, 320.0)
#: Standard deviation of a house around its group's centre, metres.
HOUSE_SPREAD_M = 45.0
#: Points keep this far inside the village polygon, degrees (about 30 m).
INSET_DEG = 0.0003
_TRIES = 40


@functools.lru_cache(maxsize=16)
def _area(code: str):
    """The village's schematic polygon pulled in by :data:`INSET_DEG`, prepared."""
    import shapely

    from cockpit.geo import load_villages

    villages = load_villages()
    polygon = villages.loc[villages["code"] == code, "geometry"].iloc[0]
    inner = polygon.buffer(-INSET_DEG)
    area = inner if not inner.is_empty else polygon
    shapely.prepare(area)
    return area


def _offset(lon: float, lat: float, east_m: float, north_m: float) -> tuple[float, float]:
    return (lon + east_m / (M_PER_DEG * math.cos(math.radians(lat))),
            lat + north_m / M_PER_DEG)


def _inside(code: str, lon: float, lat: float) -> bool:
    import shapely

    return bool(shapely.contains_xy(_area(code), lon, lat))


@functools.lru_cache(maxsize=4096)
def group_centre(seed: int, code: str, group: int,
                 station: tuple[float, float]) -> tuple[float, float]:
    """The centre of a village's group (组), a few hundred metres from its station.

    Parameters
    ----------
    seed : int
        The world's seed.
    code : str
        The village's 12-digit NBS code.
    group : int
        The group's number (1, 2, ...).
    station : tuple of float
        ``(lon, lat)`` of the group's station, WGS-84 degrees, inside the village.

    Returns
    -------
    tuple of float
        ``(lon, lat)``, WGS-84 degrees, inside the village (the station itself when no draw
        falls inside).
    """
    rng = random.Random(f"{seed}:group-at:{code}:{group}")
    for _ in range(_TRIES):
        angle, distance = rng.uniform(0, 2 * math.pi), rng.uniform(*GROUP_DISTANCE_M)
        lon, lat = _offset(*station, distance * math.cos(angle), distance * math.sin(angle))
        if _inside(code, lon, lat):
            return lon, lat
    return station


def house_point(seed: int, code: str, group: int, house_id: str,
                station: tuple[float, float]) -> tuple[float, float]:
    """Where a simulated house stands: scattered around its group's centre.

    Parameters
    ----------
    seed : int
        The world's seed.
    code : str
        The village's 12-digit NBS code.
    group : int
        The house's group (组).
    house_id : str
        The house's id (its draw).
    station : tuple of float
        ``(lon, lat)`` of the group's station, WGS-84 degrees.

    Returns
    -------
    tuple of float
        ``(lon, lat)``, WGS-84 degrees rounded to 6 decimals (about 0.1 m), inside the
        village's schematic polygon.
    """
    centre = group_centre(seed, code, group, station)
    rng = random.Random(f"{seed}:house-at:{house_id}")
    for _ in range(_TRIES):
        lon, lat = _offset(*centre, rng.gauss(0, HOUSE_SPREAD_M), rng.gauss(0, HOUSE_SPREAD_M))
        if _inside(code, lon, lat):
            return round(lon, 6), round(lat, 6)
    return round(centre[0], 6), round(centre[1], 6)
