"""Count incidents and households per grid (网格), and per village those in no grid (未定位).

The grids are the active grid layer (:func:`cockpit.mapdata.layers.grid_layer`, imported or
generated). Points are joined to grids vectorised (``shapely.intersects_xy`` on the points
within each grid's bounds): a point on a border shared by two grids, or inside overlapping
imported grids, counts once, in the grid whose code sorts first. An incident whose upstream
``grid`` field names a grid of the layer counts there whether or not it has a position (the
producer's grid wins over its position). Incidents are selected with the incident list's own
filters (:func:`cockpit.queries._filtered`): the period is on the time of their latest stage
change, as on the incident list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import select
from sqlalchemy.orm import Session

from cockpit import geo
from cockpit.mapdata import layers
from cockpit.queries import OPEN_STAGES, _filtered
from cockpit.store.models import Incident
from cockpit.store.waste_models import Household

#: The counts of each grid row, besides its identity and area.
COUNT_FIELDS = ("incidents", "open_incidents", "households")


@dataclass
class GridTally:
    """Counts per grid, and per village what lies in none of its grids.

    ``rows``: one dict per grid, sorted by code (see :func:`grid_counts`). ``unplaced``:
    village code (``""`` for incidents of no village) → ``{"unplaced_incidents": n,
    "unplaced_households": n}``: those without a position, or whose position lies in no grid
    (and, for incidents, whose ``grid`` field names none).
    """

    rows: list[dict[str, Any]]
    unplaced: dict[str, dict[str, int]]


def _assign(grids: np.ndarray, lons: np.ndarray, lats: np.ndarray) -> np.ndarray:
    """Index of the grid (first by code) covering each point; -1 for none or no position.

    Points sorted by longitude once; each grid tests only those within its bounds
    (``searchsorted``), with ``shapely.intersects_xy`` (a border point is in): no point
    geometries are made, which costs more than the tests themselves for 50,000 points.
    """
    found = np.full(lons.shape, -1)
    ok = np.flatnonzero(np.isfinite(lons) & np.isfinite(lats))
    if not ok.size or not len(grids):
        return found
    ok = ok[np.argsort(lons[ok], kind="stable")]
    xs, ys = lons[ok], lats[ok]
    bounds = shapely.bounds(grids)
    shapely.prepare(grids)
    for i, (x0, y0, x1, y1) in enumerate(bounds):
        near = np.arange(np.searchsorted(xs, x0, side="left"), np.searchsorted(xs, x1, "right"))
        near = near[(ys[near] >= y0) & (ys[near] <= y1) & (found[ok[near]] < 0)]
        if near.size:
            hit = near[shapely.intersects_xy(grids[i], xs[near], ys[near])]
            found[ok[hit]] = i
    return found


def _columns(session: Session, query, width: int) -> list[np.ndarray]:
    """The query's rows as columns: lon and lat as floats (NaN for NULL), the rest objects.

    Read through the Core connection: the ORM's row processing would cost more than the join.
    """
    rows = session.connection().execute(query).all()
    columns = list(zip(*rows, strict=True)) if rows else [()] * width
    return [np.array(c, dtype=float if i < 2 else object) for i, c in enumerate(columns)]


def _incidents(session: Session, villages, since, until, categories, stages):
    query = _filtered(select(Incident.lon, Incident.lat, Incident.stage, Incident.village_code,
                             Incident.grid), reported_from=since, reported_to=until,
                      scope=villages)
    if categories:
        query = query.where(Incident.category.in_(list(categories)))
    if stages:
        wanted = {s for stage in stages for s in (OPEN_STAGES if stage == "open" else (stage,))}
        query = query.where(Incident.stage.in_(sorted(wanted)))
    return _columns(session, query, 5)


def _households(session: Session, villages):
    query = select(Household.lon, Household.lat, Household.village_code).where(
        Household.status == "active")
    if villages is not None:
        query = query.where(Household.village_code.in_(list(villages)))
    return _columns(session, query, 3)


def _unplaced(found: np.ndarray, villages: Sequence[str | None]) -> dict[str, int]:
    missing = pd.Series([v or "" for v in villages], dtype=object)[found < 0]
    return {str(k): int(n) for k, n in missing.value_counts().items()}


def grid_tally(session: Session, villages: Sequence[str] | None = None,
               since: datetime | None = None, until: datetime | None = None,
               categories: Sequence[str] | None = None,
               stages: Sequence[str] | None = None) -> GridTally:
    """Count incidents and active households per grid, and per village those in no grid.

    Parameters
    ----------
    session : Session
        Open session (read only).
    villages : sequence of str, optional
        Village codes: only their grids, their incidents (by the incident's village code, as
        a staff account's scope) and their households; None: all.
    since, until : datetime, optional
        Aware; incidents *reported* in ``[since, until)``, as the staff map's layers and panel
        count them (:func:`cockpit.mapdata.staff_queries.incident_conditions`).
    categories : sequence of str, optional
        Category codes (``fire``, ...); None or empty: all.
    stages : sequence of str, optional
        Stage codes, or ``open`` for every stage still in the loop; None or empty: all.

    Returns
    -------
    GridTally
        Per grid and per village; households are the active (not moved-out) ones, joined on
        their house's position (``Household.lon/lat``, WGS-84).
    """
    grids = layers.grid_layer(session, villages)
    geoms = grids.geometry.to_numpy()
    codes = list(grids["code"])
    index = {code: i for i, code in enumerate(codes)}
    lons, lats, stage, inc_village, upstream = _incidents(session, villages, since, until,
                                                           categories, stages)
    found = _assign(geoms, lons, lats)
    named = np.array([index.get(g, -1) if g else -1 for g in upstream], dtype=int)
    found = np.where(named >= 0, named, found) if named.size else found
    is_open = np.isin(stage, OPEN_STAGES)
    h_lons, h_lats, h_village = _households(session, villages)
    homes = _assign(geoms, h_lons, h_lats)
    n = len(codes)
    incidents = np.bincount(found[found >= 0], minlength=n)
    open_incidents = np.bincount(found[(found >= 0) & is_open], minlength=n)
    households = np.bincount(homes[homes >= 0], minlength=n)
    areas = grids.to_crs(geo.METRIC_CRS).area.to_numpy() / 1e6 if n else np.array([])
    rows = [{"code": code, "name": name, "village_code": village, "generated": bool(gen),
             "method": method, "area_km2": round(float(area), 4), "incidents": int(a),
             "open_incidents": int(b), "households": int(c)}
            for code, name, village, gen, method, area, a, b, c in zip(
                codes, grids["name"], grids["village_code"], grids["generated"],
                grids["method"], areas, incidents, open_incidents, households, strict=True)]
    keys = list(villages) if villages is not None else list(geo.village_names())
    unplaced = {k: {"unplaced_incidents": 0, "unplaced_households": 0} for k in keys}
    for key, count in _unplaced(found, inc_village).items():
        unplaced.setdefault(key, {"unplaced_incidents": 0, "unplaced_households": 0})
        unplaced[key]["unplaced_incidents"] = count
    for key, count in _unplaced(homes, h_village).items():
        unplaced.setdefault(key, {"unplaced_incidents": 0, "unplaced_households": 0})
        unplaced[key]["unplaced_households"] = count
    return GridTally(rows, unplaced)


def grid_counts(session: Session, villages: Sequence[str] | None = None,
                since: datetime | None = None, until: datetime | None = None,
                categories: Sequence[str] | None = None,
                stages: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Return one row per grid with its incidents and households.

    Parameters are those of :func:`grid_tally`, which also returns the villages' unplaced
    (未定位) incidents and households.

    Returns
    -------
    list of dict
        Sorted by grid code: ``code``, ``name``, ``village_code``, ``generated`` (bool),
        ``method`` (imported, regular, h3), ``area_km2`` (km², in
        :data:`cockpit.geo.METRIC_CRS`), ``incidents`` (in the filters), ``open_incidents``
        (of those, still in the loop) and ``households`` (active ones).
    """
    return grid_tally(session, villages, since, until, categories, stages).rows
