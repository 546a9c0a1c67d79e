"""The active village and grid layers: imported ones from the store, else the schematic one.

Readers ask :func:`layer_version` (the newest import's id, 0 when nothing was imported) and
re-read a layer only when it changed; :func:`sync_geo` does so for the point-to-village join of
this process (:mod:`cockpit.geo`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import geopandas as gpd
import shapely
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cockpit import geo
from cockpit.store.map_models import BoundaryFeature, BoundaryImport

VILLAGE = "village"
GRID = "grid"
LEVELS = (VILLAGE, GRID)
GRID_COLUMNS = ["code", "name", "village_code", "generated", "method", "geometry"]


def layer_version(session: Session) -> int:
    """Return the id of the newest boundary import or generation (0 when there is none)."""
    return int(session.scalar(select(func.max(BoundaryImport.import_id))) or 0)


def _frame(rows: Iterable[BoundaryFeature], columns: list[str]) -> gpd.GeoDataFrame:
    records = [{"code": r.code, "name": r.name, "village_code": r.village_code,
                "generated": bool(r.generated), "method": r.method,
                "geometry": shapely.geometry.shape(json.loads(r.geometry))} for r in rows]
    if not records:
        return gpd.GeoDataFrame({c: [] for c in columns}, geometry="geometry", crs=geo.WGS84)
    return gpd.GeoDataFrame(records, geometry="geometry", crs=geo.WGS84)[columns]


def imported_villages(session: Session) -> gpd.GeoDataFrame:
    """Return the imported village polygons (maybe empty).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``code`` (12-digit NBS code), ``name`` (as imported), ``village_code``,
        ``generated``, ``method``, ``geometry`` ((Multi)Polygon, EPSG:4326), sorted by code.
    """
    rows = session.scalars(select(BoundaryFeature).where(BoundaryFeature.level == VILLAGE)
                           .order_by(BoundaryFeature.code))
    return _frame(rows, GRID_COLUMNS)


def village_layer(session: Session) -> gpd.GeoDataFrame:
    """Return the village layer to draw and to join points on.

    Each of the 15 villages takes its imported polygon when there is one, else its schematic
    (示意) one, flagged so the screen says which is which.

    Returns
    -------
    geopandas.GeoDataFrame
        The columns of :func:`cockpit.geo.load_villages` (``code, name, name_en, kind,
        schematic, label_suffix, geometry``), 15 rows sorted by code, EPSG:4326. ``name`` is
        always the NBS name; ``schematic`` is False (and ``label_suffix`` empty) for an
        imported polygon.
    """
    layer = geo.load_villages()
    imported = imported_villages(session)
    if imported.empty:
        return layer
    polygons = dict(zip(imported["code"], imported.geometry, strict=True))
    hit = layer["code"].isin(polygons)
    layer.loc[hit, "geometry"] = [polygons[c] for c in layer.loc[hit, "code"]]
    layer.loc[hit, "schematic"] = False
    layer.loc[hit, "label_suffix"] = ""
    return layer


def grid_layer(session: Session, villages: Iterable[str] | None = None) -> gpd.GeoDataFrame:
    """Return the grid (网格) polygons, imported or generated, of some or all villages.

    Parameters
    ----------
    villages : iterable of str, optional
        Village codes to keep; None keeps all.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``code, name, village_code, generated, method, geometry`` (EPSG:4326),
        sorted by code; empty when no grid layer exists.
    """
    query = select(BoundaryFeature).where(BoundaryFeature.level == GRID)
    if villages is not None:
        query = query.where(BoundaryFeature.village_code.in_(list(villages)))
    return _frame(session.scalars(query.order_by(BoundaryFeature.code)), GRID_COLUMNS)


def sync_geo(session: Session, known: int | None) -> int:
    """Make this process's point-to-village join use the active layer if it changed.

    Parameters
    ----------
    known : int or None
        The version this process last loaded (None: never).

    Returns
    -------
    int
        The version now in use; pass it back on the next call.
    """
    version = layer_version(session)
    if version != known:
        imported = imported_villages(session)
        geo.use_villages(None if imported.empty else village_layer(session))
    return version


def layer_counts(session: Session) -> dict[str, dict[str, int]]:
    """Features of the active layers: ``{level: {"imported": n, "generated": m}}``."""
    counts = {level: {"imported": 0, "generated": 0} for level in LEVELS}
    query = (select(BoundaryFeature.level, BoundaryFeature.generated, func.count())
             .group_by(BoundaryFeature.level, BoundaryFeature.generated))
    for level, generated, n in session.execute(query):
        counts.setdefault(level, {"imported": 0, "generated": 0})
        counts[level]["generated" if generated else "imported"] += n
    return counts


def recent_imports(session: Session, limit: int = 5) -> list[BoundaryImport]:
    """The newest imports, generations and clearings of both levels, newest first."""
    query = select(BoundaryImport).order_by(BoundaryImport.import_id.desc()).limit(limit)
    return list(session.scalars(query))
