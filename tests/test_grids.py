"""Grids (网格): generated square and H3 cells, imported grids kept, counts per grid against a
naive recount, households placed by their registered position, and ``cockpit geodata grids``;
on real SQLite and PostgreSQL."""

from __future__ import annotations

import math
import random
from datetime import timedelta

import geopandas as gpd
import h3
import numpy as np
import pytest
import shapely
from pyproj import Transformer
from sqlalchemy import insert, select

from cockpit import geo
from cockpit.crs import from_wgs84
from cockpit.mapdata import grid_counts, grids, layers
from cockpit.queries import OPEN_STAGES
from cockpit.store.map_models import BoundaryFeature, BoundaryImport
from cockpit.store.models import Incident
from cockpit.store.waste_models import Household
from cockpit.vocab import Stage
from tests.factories import T0
from tests.import_support import Command, run_env, store_sessions
from tests.waste_factories import household, moved_out
from tests.waste_factories import ingest as waste_ingest

XJ, LX, CY, WX = "330110006002", "330110006005", "330110006224", "330110006225"
VILLAGES = geo.load_villages().set_index("code").geometry


@pytest.fixture
def db(migrated_database_url):
    yield from store_sessions(migrated_database_url)


def _metric(geoms) -> gpd.GeoSeries:
    return gpd.GeoSeries(list(geoms), crs=geo.WGS84).to_crs(geo.METRIC_CRS)


def _assert_tiles(cells, village) -> None:
    """The cells cover the village (area within 0.1 %), never overlap, are valid and CCW."""
    cells = list(cells)
    area = _metric([village]).area.iloc[0]
    metric = _metric(cells)
    union = shapely.union_all(metric.to_numpy()).area
    assert abs(union / area - 1) < 1e-3
    assert abs(metric.area.sum() / union - 1) < 1e-6  # the parts add up to the whole: no overlap
    for cell in cells:
        assert cell.is_valid
        assert all(p.exterior.is_ccw for p in getattr(cell, "geoms", [cell]))


def _imported_grid(session, code: str, village: str, geometry) -> None:
    record = BoundaryImport(level="grid", method="imported", source="grids.geojson",
                            features=1, report={}, imported_at=T0)
    session.add(record)
    session.flush()
    session.add(BoundaryFeature(level="grid", code=code, name=f"{code}网格", village_code=village,
                                geometry=shapely.to_geojson(geometry), generated=False,
                                method="imported", import_id=record.import_id))


# -- generation ---------------------------------------------------------------------------------

def _rectangle(x0: float, y0: float, x1: float, y1: float):
    """A rectangle given in METRIC_CRS metres, as a WGS-84 polygon."""
    back = Transformer.from_crs(geo.METRIC_CRS, geo.WGS84, always_xy=True)
    return shapely.transform(shapely.box(x0, y0, x1, y1),
                             lambda xy: np.column_stack(back.transform(xy[:, 0], xy[:, 1])))


def test_square_cells_run_row_major_from_the_north_west_and_slivers_are_merged():
    to_m = Transformer.from_crs(geo.WGS84, geo.METRIC_CRS, always_xy=True)
    x, y = to_m.transform(*geo.QIAOSI_CENTER_WGS84)
    x0, y0 = math.floor(x / 500) * 500, math.floor(y / 500) * 500
    # two rows of 400 m; columns of 300, 500, 500 m and a strip of 30 m (4.8 % of a cell)
    cells, absorbed = grids.regular_cells(_rectangle(x0 + 200, y0 + 100, x0 + 1530, y0 + 900),
                                          500)
    assert len(cells) == 6 and absorbed == {2: 1, 5: 1}
    metric = _metric(cells)
    centres = [(round(p.x - x0), round(p.y - y0)) for p in metric.centroid]
    assert [c[1] > 500 for c in centres] == [True] * 3 + [False] * 3  # north row first
    assert centres[0][0] < centres[1][0] < centres[2][0]  # west to east
    # edges straight in lon/lat, not in UTM: a few m² apart
    assert list(metric.area) == pytest.approx([120_000, 200_000, 212_000] * 2, rel=1e-4)
    # a strip of 80 m (12.8 % of a cell) is a cell of its own
    cells, absorbed = grids.regular_cells(_rectangle(x0 + 200, y0 + 100, x0 + 1580, y0 + 900),
                                          500)
    assert len(cells) == 8 and absorbed == {}


def test_regular_grids_cover_each_village_once_with_stable_codes(db):
    with db.begin() as session:
        first = grids.generate_grids(session, villages=[XJ, LX], now=T0, actor="test")
    with db() as session:
        layer = layers.grid_layer(session)
        (record,) = session.scalars(select(BoundaryImport)).all()
    assert (record.level, record.method, record.features, record.actor) == \
        ("grid", "regular", len(layer), "test")
    assert record.report["villages"] == first.cells
    for code in (XJ, LX):
        cells = layer[layer["village_code"] == code]
        assert first.cells[code] == len(cells) > 3
        assert list(cells["code"]) == [f"{code}-G{n:03d}" for n in range(1, len(cells) + 1)]
        assert set(cells["name"]) == {f"第{n}网格" for n in range(1, len(cells) + 1)}
        assert cells["generated"].all() and (cells["method"] == "regular").all()
        _assert_tiles(cells.geometry, VILLAGES[code])
    with db.begin() as session:
        again = grids.generate_grids(session, villages=[XJ, LX])
    assert again.replaced == len(layer) and again.cells == first.cells
    with db() as session:
        redone = layers.grid_layer(session)
    assert list(redone["code"]) == list(layer["code"])
    assert all(a.equals_exact(b, 0) for a, b in zip(redone.geometry, layer.geometry,
                                                    strict=True))


def test_h3_grids_cover_each_village_once_and_keep_their_indexes(db):
    with db.begin() as session:
        result = grids.generate_grids(session, method="h3", resolution=9, villages=[XJ, LX])
    with db() as session:
        layer = layers.grid_layer(session)
    assert (layer["method"] == "h3").all() and sum(result.cells.values()) == len(layer)
    prefixed = 0
    for code in (XJ, LX):
        cells = layer[layer["village_code"] == code]
        _assert_tiles(cells.geometry, VILLAGES[code])
        for grid_code in cells["code"]:
            index = grid_code.removeprefix(f"{code}-")
            assert h3.is_valid_cell(index) and h3.get_resolution(index) == 9
            lat, lon = h3.cell_to_latlng(index)
            centre = shapely.Point(lon, lat)
            holders = [v for v, poly in VILLAGES.items() if poly.intersects(centre)]
            if index == grid_code:  # the plain index: the cell's centre is in this village or none
                assert holders in ([code], [])
            else:  # a piece of a cell whose centre lies in another village
                prefixed += 1
                assert holders and code not in holders
    assert prefixed > 0  # the two villages are neighbours: border cells are shared
    with db.begin() as session:
        grids.generate_grids(session, method="h3", resolution=9, villages=[XJ, LX])
    with db() as session:
        assert list(layers.grid_layer(session)["code"]) == list(layer["code"])


def test_imported_grids_are_never_touched(db):
    square = VILLAGES[CY].representative_point().buffer(0.002, cap_style="square")
    with db.begin() as session:
        _imported_grid(session, "CY-01", CY, square)
    with db.begin() as session, pytest.raises(grids.ImportedGrids) as refused:
        grids.generate_grids(session, villages=[XJ, CY])
    assert refused.value.villages == [CY]
    with db.begin() as session:
        result = grids.generate_grids(session, size_m=1000)
    assert result.skipped == [CY] and CY not in result.cells and len(result.cells) == 14
    with db.begin() as session:
        grids.generate_grids(session, size_m=1000, villages=[XJ])
        assert grids.ensure_grids(session) is None  # a grid layer exists
    with db() as session:
        kept = session.get(BoundaryFeature, ("grid", "CY-01"))
        assert (kept.generated, kept.method) == (False, "imported")
        assert shapely.from_geojson(kept.geometry).equals(square)
        assert grids.villages_with_grids(session, generated=True) == set(VILLAGES.index) - {CY}


def test_the_demo_start_generates_grids_only_when_there_are_none(db):
    with db.begin() as session:
        made = grids.ensure_grids(session, size_m=2000, actor="demo")
        assert made is not None and set(made.cells) == set(VILLAGES.index)
        assert grids.ensure_grids(session, size_m=2000) is None
    with db() as session:
        assert len(layers.grid_layer(session)) == sum(made.cells.values())


@pytest.mark.parametrize(("method", "size", "resolution", "reason"), [
    ("hexagons", 500, 9, "method 'hexagons'"), ("regular", 20, 9, "size 20 m"),
    ("h3", 500, 13, "resolution 13")])
def test_parameters_out_of_range_are_refused(method, size, resolution, reason):
    with pytest.raises(ValueError, match=reason):
        grids.check_parameters(method, size, resolution)


# -- counts -------------------------------------------------------------------------------------

def _random_incidents(rng: random.Random, layer: gpd.GeoDataFrame) -> list[dict]:
    x0, y0, x1, y1 = layer.total_bounds
    points = [(rng.uniform(x0 - 0.002, x1 + 0.002), rng.uniform(y0 - 0.002, y1 + 0.002))
              for _ in range(700)]
    for cell in layer.geometry.iloc[:12]:  # vertices: on borders shared by 2-4 cells
        for part in getattr(cell, "geoms", [cell]):
            points.extend(part.exterior.coords[:-1])
    points += [(None, None)] * 40
    stages = [s.value for s in Stage]
    rows = []
    for i, (lon, lat) in enumerate(points):
        upstream = None
        if i % 37 == 0:
            upstream = rng.choice(list(layer["code"]))
        elif i % 53 == 0:
            upstream = "NO-SUCH-GRID"
        rows.append({"incident_id": f"G-{i:05d}", "category": rng.choice(["fire", "police",
                                                                          "medical"]),
                     "stage": rng.choice(stages), "stage_at": T0,
                     "reported_at": T0 - timedelta(hours=rng.uniform(0, 24 * 20)),
                     "lon": lon, "lat": lat, "grid": upstream, "source": "test",
                     "village_code": rng.choice([XJ, LX, CY, None]), "updated_at": T0})
    return rows


def _naive(layer, incidents, households, villages=None, since=None, until=None,
           categories=None, stages=None):
    """Per grid and per village, one point and one polygon at a time."""
    if villages is not None:
        layer = layer[layer["village_code"].isin(villages)]
    codes, polygons = list(layer["code"]), list(layer.geometry)

    def where(lon, lat):
        if lon is None:
            return None
        point = shapely.Point(lon, lat)
        return next((c for c, poly in zip(codes, polygons, strict=True)
                     if poly.intersects(point)), None)

    wanted = {s for s in stages or () for s in (OPEN_STAGES if s == "open" else (s,))}
    counts = {c: [0, 0, 0] for c in codes}
    unplaced: dict[str, list[int]] = {}
    for row in incidents:
        if ((villages is not None and row["village_code"] not in villages)
                or (categories and row["category"] not in categories)
                or (wanted and row["stage"] not in wanted)
                or (since and row["reported_at"] < since)
                or (until and row["reported_at"] >= until)):
            continue
        code = row["grid"] if row["grid"] in counts else where(row["lon"], row["lat"])
        if code is None:
            unplaced.setdefault(row["village_code"] or "", [0, 0])[0] += 1
        else:
            counts[code][0] += 1
            counts[code][1] += row["stage"] in OPEN_STAGES
    for row in households:
        if row["status"] != "active" or (villages is not None
                                         and row["village_code"] not in villages):
            continue
        code = where(row["lon"], row["lat"])
        if code is None:
            unplaced.setdefault(row["village_code"] or "", [0, 0])[1] += 1
        else:
            counts[code][2] += 1
    return counts, unplaced


def test_counts_per_grid_equal_a_naive_recount(db):
    rng = random.Random(11)
    with db.begin() as session:
        grids.generate_grids(session, size_m=400, villages=[XJ, LX])
        # two overlapping imported grids: a point in both counts in the first by code
        middle = VILLAGES[CY].representative_point()
        _imported_grid(session, "CY-A", CY, middle.buffer(0.003, cap_style="square"))
        _imported_grid(session, "CY-B", CY, shapely.affinity.translate(
            middle.buffer(0.003, cap_style="square"), 0.002, 0.001))
    with db() as session:
        layer = layers.grid_layer(session)
    incidents = _random_incidents(rng, layer)
    x0, y0, x1, y1 = layer.total_bounds
    households = [{"household_id": f"H-{i}", "kind": "local", "village_code": rng.choice(
                   [XJ, LX, CY]), "status": "active" if i % 5 else "moved_out",
                   "lon": rng.uniform(x0, x1) if i % 11 else None,
                   "lat": rng.uniform(y0, y1) if i % 11 else None} for i in range(300)]
    with db.begin() as session:
        session.execute(insert(Incident), incidents)
        session.execute(insert(Household), households)
    cases = [{}, {"villages": [XJ, CY]},
             {"categories": ["fire", "medical"], "stages": ["open"]},
             {"since": T0 - timedelta(days=12), "until": T0 - timedelta(days=3),
              "stages": ["closed", "reported"]}]
    with db() as session:
        for case in cases:
            tally = grid_counts.grid_tally(session, **case)
            counts, unplaced = _naive(layer, incidents, households, **case)
            got = {r["code"]: [r["incidents"], r["open_incidents"], r["households"]]
                   for r in tally.rows}
            assert got == counts, case
            assert {k: [v["unplaced_incidents"], v["unplaced_households"]]
                    for k, v in tally.unplaced.items() if any(v.values())} == unplaced, case
            assert sum(c[0] for c in counts.values()) > 20  # the case counts something
        rows = grid_counts.grid_counts(session, villages=[XJ])
    assert {r["village_code"] for r in rows} == {XJ} and not any(r["generated"] is False
                                                                 for r in rows)
    area = _metric([VILLAGES[XJ]]).area.iloc[0] / 1e6
    assert sum(r["area_km2"] for r in rows) == pytest.approx(area, rel=1e-3)


def test_households_count_in_the_grid_of_their_registered_position(services):
    with services.sessions.begin() as session:
        grids.generate_grids(session, villages=[CY])
    with services.read() as session:
        layer = layers.grid_layer(session)
    a, b = (cell.representative_point() for cell in layer.geometry.iloc[[0, 3]])

    def placed(hid, point, **extra):
        lon, lat = from_wgs84(point.x, point.y, "gcj02")
        return household(hid, at=T0 - timedelta(days=9), lon=f"{lon:.7f}", lat=f"{lat:.7f}",
                         crs="gcj02", **extra)

    elsewhere = VILLAGES[WX].representative_point()  # 五星村 has no grids
    waste_ingest(services, [placed("H-1", a), placed("H-2", a), placed("H-3", b),
                            household("H-4", at=T0 - timedelta(days=9)),
                            placed("H-5", elsewhere, village="五星村"),
                            placed("H-6", a, kind="tenant", house_id="HS-6", landlord_id="LL-6"),
                            moved_out("H-6", T0 - timedelta(days=2))])
    with services.read() as session:
        tally = grid_counts.grid_tally(session)
    by_code = {r["code"]: r["households"] for r in tally.rows}
    assert by_code[layer["code"].iloc[0]] == 2 and by_code[layer["code"].iloc[3]] == 1
    assert sum(by_code.values()) == 3  # the moved-out tenant counts nowhere
    assert tally.unplaced[CY]["unplaced_households"] == 1  # no position: 未定位
    assert tally.unplaced[WX]["unplaced_households"] == 1  # a position in no grid


# -- the command --------------------------------------------------------------------------------

cli = Command("geodata", "grids")


@pytest.fixture
def env(tmp_path, migrated_database_url, redis_server_url):
    yield from run_env(tmp_path, migrated_database_url, redis_server_url)


def test_the_grids_command_generates_refuses_and_replaces(env, db):
    out = cli.ok(env, "--village", "新街社区", "--size", "400")
    with db() as session:
        made = layers.grid_layer(session)
    assert f"新街社区 ({XJ}): {len(made)} cells" in out
    assert f"{len(made)} grid cells (400 m squares) in 1 village;" in out
    assert "pass --replace" in cli.refused(env, "--village", XJ)
    out = cli.ok(env, "--village", XJ, "--method", "h3", "--replace")
    with db() as session:
        redone = layers.grid_layer(session)
        assert (redone["method"] == "h3").all()
        assert f"{len(made)} earlier generated cells replaced" in out
        _imported_grid(session, "CY-01", CY, VILLAGES[CY].representative_point().buffer(0.001))
        session.commit()
    assert "朝阳村 (330110006224): imported grids exist" in cli.refused(env, "--replace")
    assert "imported grids exist" in cli.refused(env, "--village", "朝阳村", "--village", XJ)
    assert "五星村" in cli.ok(env, "--village", "五星村")
    assert "unknown village '火星村'" in cli.refused(env, "--village", "火星村")
    assert "size 20 m" in cli.refused(env, "--size", "20")
    with db() as session:
        assert grids.villages_with_grids(session, generated=True) == {XJ, WX}
        assert grids.villages_with_grids(session, generated=False) == {CY}
