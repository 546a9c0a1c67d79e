"""Generate grids (网格) for the villages that have none imported: square cells or H3 cells.

A village's official grids are imported (``cockpit geodata import --level grid``); where there
are none, :func:`generate_grids` draws them over the village's polygon of the active layer
(:func:`cockpit.mapdata.layers.village_layer`, imported or schematic):

- ``regular``: squares of ``size_m`` metres on a lattice of :data:`cockpit.geo.METRIC_CRS`
  (UTM 51N) anchored at multiples of ``size_m``, so neighbouring villages' cells line up;
- ``h3``: the H3 cells of ``resolution`` (h3 library, Uber) that overlap the village.

Each cell is clipped to the village, so the cells cover it exactly and never overlap. A clipped
cell smaller than :data:`SLIVER_SHARE` of a whole cell is MERGED into the neighbour it shares
the longest border with (the nearest cell when it touches none), never dropped, so no part of
the village is left out of every grid. Generated grids are stored with ``generated=True``
(the screen labels them 生成) and replace the village's earlier generated ones; imported
grids are never touched (docs/geodata.md).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import shapely
from pyproj import Transformer
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from cockpit import geo
from cockpit.clock import utc_now
from cockpit.mapdata import layers
from cockpit.store.map_models import BoundaryFeature, BoundaryImport

REGULAR, H3 = "regular", "h3"
METHODS = (REGULAR, H3)
#: A clipped cell below this share of a whole cell's area is merged into a neighbour.
SLIVER_SHARE = 0.10
#: Accepted cell sizes (metres) and H3 resolutions: from a few to a few thousand cells.
SIZE_RANGE_M = (100.0, 5000.0)
RESOLUTION_RANGE = (6, 10)
#: Pieces this close (degrees, about 0.1 m) count as touching.
_TOUCH_DEG = 1e-6


class ImportedGrids(ValueError):
    """Villages asked for have imported grids, which generation never replaces."""

    def __init__(self, villages: Sequence[str]):
        super().__init__(f"imported grids exist in {', '.join(villages)}")
        self.villages = list(villages)


@dataclass
class GridResult:
    """What one generation did.

    ``cells`` and ``merged``: per village code, the cells stored and the slivers merged into
    them; ``skipped``: villages left alone because they have imported grids; ``replaced``:
    generated grids removed first.
    """

    method: str
    import_id: int | None = None
    cells: dict[str, int] = field(default_factory=dict)
    merged: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    replaced: int = 0


@functools.lru_cache(maxsize=1)
def _transformers() -> tuple[Transformer, Transformer]:
    return (Transformer.from_crs(geo.WGS84, geo.METRIC_CRS, always_xy=True),
            Transformer.from_crs(geo.METRIC_CRS, geo.WGS84, always_xy=True))


def _project(geoms, to_metric: bool = True) -> np.ndarray:
    """Geometries from WGS-84 to METRIC_CRS (or back), vertex by vertex."""
    transformer = _transformers()[0 if to_metric else 1]
    return shapely.transform(np.asarray(geoms, dtype=object),
                             lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])))


def _polygonal(geom):
    """The polygonal part of a geometry (a clip may add lines and points), None if none."""
    if geom is None or geom.is_empty:
        return None
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else None


def _clean(geom):
    """Valid, polygonal, exterior rings counter-clockwise (RFC 7946), as the importer stores."""
    if not shapely.is_valid(geom):
        geom = _polygonal(shapely.make_valid(geom))
    return shapely.orient_polygons(geom)


def _merge_slivers(pieces: list, whole_m2: np.ndarray) -> tuple[list[int], list, dict[int, int]]:
    """Merge pieces below SLIVER_SHARE of their whole cell into a neighbouring piece.

    Returns the indices of the pieces kept (in input order), their geometries with the
    slivers merged in, and ``{position in the kept list: slivers merged into it}``.
    """
    if not pieces:
        return [], [], {}
    arr = np.asarray(pieces, dtype=object)
    big = shapely.area(_project(arr)) >= SLIVER_SHARE * whole_m2
    if not big.any():  # the village is smaller than a tenth of a cell: it is one cell
        return [0], [shapely.union_all(arr)], {0: len(pieces) - 1} if len(pieces) > 1 else {}
    keep = np.flatnonzero(big)
    tree = shapely.STRtree(arr[keep])
    into: dict[int, list[int]] = {int(i): [] for i in keep}
    for s in np.flatnonzero(~big):
        near = tree.query(arr[s], predicate="dwithin", distance=_TOUCH_DEG)
        if near.size:
            near.sort()
            grown = shapely.buffer(arr[s], _TOUCH_DEG)
            shared = shapely.area(shapely.intersection(arr[keep[near]], grown))
            target = keep[near[int(np.argmax(shared))]]  # longest border; ties: first cell
        else:
            target = keep[int(tree.query_nearest(arr[s]).min())]
        into[int(target)].append(int(s))
    geoms = [shapely.union_all(arr[[i, *into[i]]]) if into[i] else arr[i] for i in into]
    return list(into), geoms, {k: len(into[i]) for k, i in enumerate(into) if into[i]}


def regular_cells(village, size_m: float) -> tuple[list, dict[int, int]]:
    """Square cells over a village, clipped to it, numbered row-major from the north-west.

    Parameters
    ----------
    village : shapely.Polygon or shapely.MultiPolygon
        The village, WGS-84 degrees.
    size_m : float
        Side of a cell in metres, in :data:`cockpit.geo.METRIC_CRS`; the lattice is anchored
        at multiples of ``size_m``, so the same inputs give the same cells.

    Returns
    -------
    (list of geometry, dict)
        The cells ((Multi)Polygon, WGS-84) from the north-west row by row, and
        ``{position: slivers merged into it}`` of the cells that took slivers.
    """
    x0, y0, x1, y1 = _project([village])[0].bounds
    left, top = math.floor(x0 / size_m) * size_m, math.ceil(y1 / size_m) * size_m
    cols = max(1, math.ceil((x1 - left) / size_m))
    rows = max(1, math.ceil((top - y0) / size_m))
    r, c = np.divmod(np.arange(rows * cols), cols)
    boxes = _project(shapely.box(left + c * size_m, top - (r + 1) * size_m,
                                 left + (c + 1) * size_m, top - r * size_m), to_metric=False)
    shapely.prepare(village)
    hit = boxes[shapely.intersects(boxes, village)]
    pieces = [p for p in map(_polygonal, shapely.intersection(hit, village)) if p is not None]
    _, geoms, absorbed = _merge_slivers(pieces, np.full(len(pieces), size_m * size_m))
    return geoms, absorbed


def _hexagons(cells: Sequence[str]) -> np.ndarray:
    import h3

    return np.array([shapely.Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(c)])
                     for c in cells], dtype=object)


def h3_cells(village, resolution: int) -> tuple[list[str], list, dict[int, int]]:
    """The H3 cells overlapping a village, clipped to it, north to south.

    Parameters
    ----------
    village : shapely.Polygon or shapely.MultiPolygon
        The village, WGS-84 degrees.
    resolution : int
        H3 resolution (9: cells of about 0.1 km², edges of about 200 m).

    Returns
    -------
    (list of str, list of geometry, dict)
        The H3 indexes of the cells kept (by their centres, north to south then west to east),
        their clipped geometries (WGS-84) and ``{position: slivers merged into it}``.
    """
    import h3

    edge = h3.average_hexagon_edge_length(resolution, unit="m")
    # a cell overlapping the village has its centre within about one edge (its circumradius)
    # of it; two edges allow for H3's cells varying in size
    grown = _project([_project([village])[0].buffer(2 * edge)], to_metric=False)[0]
    cells = np.array(sorted(h3.geo_to_cells(grown, resolution)), dtype=object)
    hexes = _hexagons(cells)
    shapely.prepare(village)
    hit = shapely.intersects(hexes, village)
    cells, hexes = cells[hit], hexes[hit]
    pieces = [_polygonal(p) for p in shapely.intersection(hexes, village)]
    ok = [i for i, p in enumerate(pieces) if p is not None]
    centres = [h3.cell_to_latlng(c) for c in cells[ok]]
    order = sorted(range(len(ok)), key=lambda k: (-centres[k][0], centres[k][1]))
    ok = [ok[k] for k in order]
    kept, geoms, absorbed = _merge_slivers([pieces[i] for i in ok],
                                           shapely.area(_project(hexes[ok])))
    return [str(cells[ok[k]]) for k in kept], geoms, absorbed


def _h3_owners(cells: Sequence[str], layer) -> dict[str, str]:
    """Return the village each H3 cell's plain index belongs to.

    The one holding its centre (lowest code on a tie), else the one it overlaps most. A
    cell's piece in any other village is coded ``<village code>-<index>``, so every code is
    unique within the grid layer.
    """
    import h3

    codes, polys = list(layer["code"]), layer.geometry.to_numpy()
    tree = shapely.STRtree(polys)
    centres = [h3.cell_to_latlng(c) for c in cells]
    points = shapely.points([lng for _, lng in centres], [lat for lat, _ in centres])
    pairs = tree.query(points, predicate="intersects")
    found = np.full(len(cells), len(codes))
    np.minimum.at(found, pairs[0], pairs[1])
    owners = {}
    hexes = _hexagons(cells)
    for i, cell in enumerate(cells):
        if found[i] < len(codes):
            owners[cell] = codes[found[i]]
            continue
        near = np.sort(tree.query(hexes[i], predicate="intersects"))
        overlap = shapely.area(shapely.intersection(polys[near], hexes[i]))
        owners[cell] = codes[near[int(np.argmax(overlap))]] if near.size else ""
    return owners


def villages_with_grids(session: Session, generated: bool) -> set[str]:
    """Return the codes of the villages that have generated (or imported) grids."""
    return set(session.scalars(select(BoundaryFeature.village_code).distinct().where(
        BoundaryFeature.level == layers.GRID, BoundaryFeature.generated.is_(generated))))


def check_parameters(method: str, size_m: float, resolution: int) -> None:
    """Refuse a method, cell size or H3 resolution :func:`generate_grids` does not take.

    Raises
    ------
    ValueError
        Naming the parameter and its accepted values.
    """
    if method not in METHODS:
        raise ValueError(f"method {method!r}: one of {', '.join(METHODS)}")
    if not SIZE_RANGE_M[0] <= size_m <= SIZE_RANGE_M[1]:
        raise ValueError(f"size {size_m:g} m: between {SIZE_RANGE_M[0]:g} and "
                         f"{SIZE_RANGE_M[1]:g} m")
    if not RESOLUTION_RANGE[0] <= resolution <= RESOLUTION_RANGE[1]:
        raise ValueError(f"resolution {resolution}: between {RESOLUTION_RANGE[0]} and "
                         f"{RESOLUTION_RANGE[1]}")


def generate_grids(session: Session, method: str = REGULAR, size_m: float = 500.0,
                   resolution: int = 9, villages: Sequence[str] | None = None,
                   actor: str | None = None, now: datetime | None = None) -> GridResult:
    """Generate grids for villages without imported ones and store them as the grid layer.

    Parameters
    ----------
    session : Session
        Open session; the caller owns the transaction (and signals screens after commit).
    method : {"regular", "h3"}
        Square cells of ``size_m`` or H3 cells of ``resolution``.
    size_m : float
        Side of a square cell, metres (100-5000).
    resolution : int
        H3 resolution (6-10).
    villages : sequence of str, optional
        12-digit village codes; None: every village of the active layer without imported
        grids (those are skipped and listed in the result).
    actor : str, optional
        Who generated them (kept with the run).
    now : datetime, optional
        Time of the run (default: now).

    Returns
    -------
    GridResult
        Cells per village. Codes are ``<village code>-G<nnn>`` (regular, row-major from the
        north-west) or the H3 index (``<village code>-<index>`` for the piece of a cell whose
        centre lies in another village); names are ``第<n>网格``. Each village's previously
        generated grids are replaced.

    Raises
    ------
    ImportedGrids
        If a village named in ``villages`` has imported grids (nothing is changed).
    ValueError
        On an unknown method, village code, or a size or resolution out of range.
    """
    check_parameters(method, size_m, resolution)
    layer = layers.village_layer(session)
    known = list(layer["code"])
    imported = villages_with_grids(session, generated=False)
    result = GridResult(method=method)
    if villages is None:
        targets = [c for c in known if c not in imported]
        result.skipped = sorted(imported & set(known))
    else:
        targets = sorted(set(villages))
        unknown = [c for c in targets if c not in known]
        if unknown:
            raise ValueError(f"unknown village code(s): {', '.join(unknown)}")
        if imported & set(targets):
            raise ImportedGrids(sorted(imported & set(targets)))
    polygons = dict(zip(layer["code"], layer.geometry, strict=True))
    rows: list[dict] = []
    absorbing: list[str] = []
    for code in targets:
        if method == REGULAR:
            geoms, absorbed = regular_cells(polygons[code], size_m)
            codes = [f"{code}-G{n:03d}" for n in range(1, len(geoms) + 1)]
        else:
            cells, geoms, absorbed = h3_cells(polygons[code], resolution)
            owners = _h3_owners(cells, layer)
            codes = [c if owners[c] == code else f"{code}-{c}" for c in cells]
        result.cells[code], result.merged[code] = len(geoms), sum(absorbed.values())
        absorbing.extend(codes[k] for k in absorbed)
        texts = shapely.to_geojson(np.array([_clean(g) for g in geoms], dtype=object))
        rows.extend({"level": layers.GRID, "code": c, "name": f"第{n}网格", "village_code": code,
                     "geometry": str(t), "generated": True, "method": method}
                    for n, (c, t) in enumerate(zip(codes, texts, strict=True), start=1))
    result.replaced = session.execute(
        delete(BoundaryFeature).where(BoundaryFeature.level == layers.GRID,
                                      BoundaryFeature.generated.is_(True),
                                      BoundaryFeature.village_code.in_(targets)),
        execution_options={"synchronize_session": False}).rowcount or 0
    new_codes = [r["code"] for r in rows]
    taken = [c for start in range(0, len(new_codes), 500) for c in session.scalars(
        select(BoundaryFeature.code).where(BoundaryFeature.level == layers.GRID,
                                           BoundaryFeature.code.in_(new_codes[start:start + 500])))]
    if taken:
        raise ValueError(f"grid code(s) already used by imported grids: {', '.join(taken[:5])}")
    what = f"size_m={size_m:g}" if method == REGULAR else f"resolution={resolution}"
    record = BoundaryImport(
        level=layers.GRID, method=method, source=f"generated {method} {what}",
        source_crs="wgs84", encoding=None, features=len(rows), imported_at=now or utc_now(),
        actor=actor, report={"villages": dict(result.cells), "merged": absorbing,
                             "slivers": dict(result.merged), "skipped": result.skipped,
                             "replaced": result.replaced, "warnings": []})
    session.add(record)
    session.flush()
    result.import_id = record.import_id
    if rows:
        session.execute(insert(BoundaryFeature), [dict(r, import_id=record.import_id)
                                                  for r in rows])
    return result


def ensure_grids(session: Session, method: str = REGULAR, size_m: float = 500.0,
                 actor: str | None = None) -> GridResult | None:
    """Generate grids for every village when no grid layer exists at all (the demo's start).

    Returns
    -------
    GridResult or None
        What :func:`generate_grids` did, or None when some grid (imported or generated)
        exists already.
    """
    exists = session.scalar(select(func.count()).select_from(BoundaryFeature)
                            .where(BoundaryFeature.level == layers.GRID))
    if exists:
        return None
    return generate_grids(session, method=method, size_m=size_m, actor=actor)
