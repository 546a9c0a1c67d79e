"""``cockpit geodata import | list | clear``: boundary files into the layers, on real stores.

Fixtures are squares built around each village's schematic representative point and written
with geopandas/pyogrio in the format under test; the command runs through typer's CliRunner
against real SQLite and PostgreSQL and a real Redis.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import sqlite3
import zipfile

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import redis
import shapely
from sqlalchemy import select

from cockpit import geo
from cockpit.crs import to_wgs84
from cockpit.import_table import BOM
from cockpit.mapdata import layers
from cockpit.mapdata.import_checks import Fields, check_features, choose_fields
from cockpit.mapdata.importer import ImportRefused, import_layer, parse_crs
from cockpit.mapdata.mojibake import misdecoded
from cockpit.placing import service_area
from cockpit.store.map_models import BoundaryFeature, BoundaryImport
from tests.import_support import Command, run_env, store_sessions

VILLAGES = geo.load_villages()
CODES = VILLAGES["code"].tolist()
NAMES = dict(zip(VILLAGES["code"], VILLAGES["name"], strict=True))
CENTRES = {c: (p.x, p.y) for c, p in zip(CODES, VILLAGES.representative_point(), strict=True)}
QIAOSI = "330110006003"  # 乔司社区
HALF = 0.002  # degrees: squares about 400 m wide

cli = Command("geodata", "import")
ok, refused = cli.ok, cli.refused


def square(code: str, half: float = HALF, dx: float = 0.0, cw: bool = False) -> shapely.Polygon:
    """A square around a village's representative point (WGS-84), counter-clockwise."""
    x, y = CENTRES[code]
    return shapely.box(x + dx - half, y - half, x + dx + half, y + half, ccw=not cw)


def frame(codes, names=None, geoms=None, crs="EPSG:4326", **columns) -> gpd.GeoDataFrame:
    names = [NAMES[c] for c in codes] if names is None else names
    geoms = [square(c) for c in codes] if geoms is None else geoms
    return gpd.GeoDataFrame({"code": list(codes), "name": names, **columns}, geometry=geoms,
                            crs=crs)


def geojson_without_crs(gdf: gpd.GeoDataFrame, path):
    doc = json.loads(gdf.to_json(to_wgs84=False))
    doc.pop("crs", None)
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def stored(session, level="village") -> dict[str, BoundaryFeature]:
    rows = session.scalars(select(BoundaryFeature).where(BoundaryFeature.level == level))
    return {r.code: r for r in rows}


def shape(row: BoundaryFeature) -> shapely.Geometry:
    return shapely.geometry.shape(json.loads(row.geometry))


def exteriors_ccw(geom: shapely.Geometry) -> bool:
    return all(p.exterior.is_ccw and not any(r.is_ccw for r in p.interiors)
               for p in shapely.get_parts(geom))


@pytest.fixture
def env(tmp_path, migrated_database_url, redis_server_url):
    """The environment of one CLI run: the test database, Redis under a fresh prefix."""
    yield from run_env(tmp_path, migrated_database_url, redis_server_url)


@pytest.fixture
def db(migrated_database_url):
    yield from store_sessions(migrated_database_url)


@pytest.fixture
def lite_url(tmp_path, sqlite_template) -> str:
    """A migrated SQLite store only, for what does not depend on the database."""
    path = tmp_path / "lite.sqlite3"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def lite(lite_url):
    yield from store_sessions(lite_url)


@pytest.fixture
def lite_env(tmp_path, lite_url, redis_server_url):
    yield from run_env(tmp_path, lite_url, redis_server_url)


def test_geojson_with_crs_member_becomes_the_village_layer(env, db, tmp_path):
    chosen = CODES[:5]
    path = tmp_path / "villages.geojson"
    frame(chosen).to_file(path)
    assert '"crs"' in path.read_text(encoding="utf-8")
    out = ok(env, str(path), "--level", "village")
    assert "imported villages.geojson into the village layer" in out
    assert "CRS wgs84" in out and "schematic" in out
    client = redis.Redis.from_url(env["REDIS_URL"])
    assert int(client.get(f"{env['COCKPIT_STREAM_PREFIX']}version")) == 1  # screens re-read
    client.close()
    with db() as s:
        run = s.scalars(select(BoundaryImport)).one()
        assert (run.level, run.method, run.source, run.source_crs, run.features, run.actor) == \
            ("village", "imported", "villages.geojson", "wgs84", 5, "cli")
        assert run.report["rejected"] == [] and run.report["rewound"] == 0
        layer = layers.village_layer(s)
        assert layers.layer_version(s) == run.import_id
    assert len(layer) == 15
    for row in layer.itertuples():
        assert row.schematic is (row.code not in chosen)
        if row.code in chosen:
            assert shapely.equals_exact(row.geometry, square(row.code), tolerance=1e-12)
            assert row.label_suffix == ""


def test_unknown_crs_refused_and_gcj02_converted_vertex_by_vertex(lite_env, lite, tmp_path):
    chosen = CODES[3:6]
    path = geojson_without_crs(frame(chosen), tmp_path / "datav.json")
    line = refused(lite_env, str(path), "--level", "village")
    assert "does not declare its CRS" in line and "--crs wgs84|gcj02|bd09|EPSG:n" in line
    with lite() as s:
        assert s.scalars(select(BoundaryImport)).all() == []
    ok(lite_env, str(path), "--level", "village", "--crs", "gcj02")
    with lite() as s:
        rows = stored(s)
        assert s.scalars(select(BoundaryImport.source_crs)).one() == "gcj02"
    assert sorted(rows) == sorted(chosen)
    for code in chosen:
        given = shapely.get_coordinates(square(code))
        expected = np.array([to_wgs84(x, y, "gcj02") for x, y in given])
        assert np.allclose(shapely.get_coordinates(shape(rows[code])), expected, rtol=0,
                           atol=1e-12)
        assert np.abs(expected - given).max() > 0.001  # GCJ-02 is hundreds of metres off


def test_declared_crs_overridden_is_a_warning(lite_env, tmp_path):
    path = tmp_path / "gaode.geojson"
    frame(CODES[:2]).to_file(path)  # says CRS84, holds GCJ-02
    out = ok(lite_env, str(path), "--level", "village", "--crs", "gcj02")
    assert "warning: the file declares wgs84 but --crs gcj02 was given" in out


def test_gbk_shapefile_without_cpg(lite_env, lite, tmp_path):
    codes = [QIAOSI, *CODES[6:9]]
    path = tmp_path / "村界.shp"
    pyogrio.write_dataframe(frame(codes), path, encoding="GBK")
    os.remove(path.with_suffix(".cpg"))
    line = refused(lite_env, str(path), "--level", "village")
    assert "the names look mis-decoded (" in line
    assert "reads as 乔司社区 in GBK): pass --encoding gbk" in line
    out = ok(lite_env, str(path), "--level", "village", "--encoding", "gbk")
    assert "encoding gbk" in out
    with lite() as s:
        assert {c: r.name for c, r in stored(s).items()} == {c: NAMES[c] for c in codes}
        run = s.scalars(select(BoundaryImport)).one()
        assert (run.source, run.encoding, run.source_crs) == ("村界.shp", "gbk", "wgs84")
        # a shapefile's exterior rings are clockwise: stored counter-clockwise
        assert run.report["rewound"] == len(codes)
        assert all(exteriors_ccw(shape(r)) for r in stored(s).values())


def test_shapefile_without_prj_refused_and_zip_read(lite_env, lite, tmp_path):
    path = tmp_path / "bounds.shp"
    pyogrio.write_dataframe(frame(CODES[:3]), path, encoding="UTF-8")
    path.with_suffix(".prj").unlink()
    assert "--crs wgs84|gcj02|bd09|EPSG:n" in refused(lite_env, str(path), "--level", "village")
    archive = tmp_path / "bounds.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for part in tmp_path.glob("bounds.*"):
            if part != archive:
                z.write(part, f"export/{part.name}")
    out = ok(lite_env, str(archive), "--level", "village", "--crs", "wgs84")
    assert "imported bounds.zip" in out
    with lite() as s:
        assert sorted(stored(s)) == CODES[:3]


def test_repair_rewind_merge_and_rejections(lite_env, lite, tmp_path):
    a, b, c, d = CODES[:4]
    x, y = CENTRES[a]
    bowtie = shapely.Polygon([(x - HALF, y - HALF), (x + HALF, y + HALF), (x + HALF, y - HALF),
                              (x - HALF, y + HALF)])
    assert not bowtie.is_valid
    rows = [(a, NAMES[a], bowtie),
            (b, NAMES[b], square(b, cw=True)),
            (c, NAMES[c], square(c, half=0.001, dx=-0.003)),
            (c, NAMES[c], square(c, half=0.001, dx=0.003)),
            ("330110009999", "翁梅村", square(d)),
            (d, NAMES[d], square(d)),
            (d, "别的村", square(d, dx=0.001))]
    path = tmp_path / "mixed.geojson"
    frame([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]).to_file(path)
    report = tmp_path / "rejected.csv"
    out = ok(lite_env, str(path), "--level", "village", "--report", str(report))
    assert "repaired row 1" in out and "Self-intersection" in out
    assert f"merged rows 3, 4 into {c}" in out
    with lite() as s:
        got = stored(s)
        run = s.scalars(select(BoundaryImport)).one()
    assert sorted(got) == [a, b, c] and run.features == 3
    assert [(r["row"], r["code"]) for r in run.report["repaired"]] == [(1, a)]
    assert run.report["repaired"][0]["reason"].startswith("Self-intersection")
    assert run.report["rewound"] == 1 and run.report["merged"][0]["rows"] == [3, 4]
    repaired = shape(got[a])
    assert repaired.is_valid and repaired.geom_type == "MultiPolygon"
    assert repaired.area == pytest.approx(2 * HALF**2, rel=1e-9)  # both triangles kept
    assert exteriors_ccw(repaired) and exteriors_ccw(shape(got[b]))
    assert shapely.equals_exact(shape(got[b]), square(b), tolerance=1e-12, normalize=True)
    merged = shape(got[c])
    assert merged.geom_type == "MultiPolygon" and len(merged.geoms) == 2
    data = report.read_bytes()
    assert data.startswith(BOM)
    table = list(csv.reader(io.StringIO(data[len(BOM):].decode("utf-8"))))
    assert table[0] == ["row", "code", "name", "reason"]
    assert [r[:3] for r in table[1:]] == [["5", "330110009999", "翁梅村"], ["6", d, NAMES[d]],
                                          ["7", d, "别的村"]]
    assert "unknown code 330110009999" in table[1][3]
    assert table[2][3] == table[3][3] == f"duplicate code {d} with different names: " \
                                         f"{NAMES[d]}, 别的村"


def test_epsg_4549_gpkg_lands_within_a_metre(lite_env, lite, tmp_path):
    chosen = CODES[9:12]
    path = tmp_path / "hangzhou.gpkg"
    projected = frame(chosen).to_crs("EPSG:4549")  # CGCS2000 GK zone CM 120°E
    assert projected.total_bounds[0] > 1e5  # metres, CM 120E
    projected.to_file(path, layer="villages")
    projected.iloc[:1].to_file(path, layer="other")
    line = refused(lite_env, str(path), "--level", "village")
    assert "has 2 layers with geometries (villages, other): pass --layer NAME" in line
    ok(lite_env, str(path), "--level", "village", "--layer", "villages")
    with lite() as s:
        rows = stored(s)
        assert s.scalars(select(BoundaryImport.source_crs)).one() == "EPSG:4549"
    assert sorted(rows) == chosen
    for code in chosen:
        here = gpd.GeoSeries([shape(rows[code]), square(code)], crs=4326).to_crs(geo.METRIC_CRS)
        assert shapely.hausdorff_distance(here.iloc[0], here.iloc[1]) < 1.0


def test_grid_file_attaches_grids_to_villages(env, db, tmp_path):
    a, b, c, other = CODES[0], CODES[1], CODES[2], CODES[14]
    with db.begin() as s:  # generated grids: one of a village in the file, one of another
        for code, village in (("GEN-A", a), ("GEN-O", other)):
            s.add(BoundaryFeature(level="grid", code=code, name=code, village_code=village,
                                  geometry=shapely.to_geojson(square(village, 0.0003)),
                                  generated=True, method="regular", import_id=0))
    x0, y0, _, _ = service_area()
    nowhere = shapely.box(x0 + 0.01, y0 + 0.01, x0 + 0.012, y0 + 0.012)
    grids = gpd.GeoDataFrame(
        {"网格编码": ["G-1", "G-2", "G-3", "G-4", "G-5", "G 6"],
         "网格名称": ["一号", "二号", "三号", "四号", "五号", "六号"],
         "村社": [a, NAMES[b], None, "翁梅村", None, a]},
        geometry=[square(a, 0.0005), square(b, 0.0005), square(c, 0.0005), square(a, 0.0005),
                  nowhere, square(a, 0.0004)], crs=4326)
    path = tmp_path / "grids.gpkg"
    grids.to_file(path)
    out = ok(env, str(path), "--level", "grid")
    assert "imported grids.gpkg into the grid layer" in out
    with db() as s:
        grid = layers.grid_layer(s)
    assert dict(zip(grid["code"], grid["village_code"], strict=True)) == \
        {"G-1": a, "G-2": b, "G-3": c, "GEN-O": other}
    assert dict(zip(grid["code"], grid["name"], strict=True))["G-2"] == "二号"
    assert not grid.set_index("code").loc["G-1", "generated"]
    with db() as s:
        reasons = {r["row"]: r["reason"] for r in
                   s.scalars(select(BoundaryImport)).one().report["rejected"]}
    assert sorted(reasons) == [4, 5, 6]
    assert "unknown village '翁梅村'" in reasons[4]
    assert "lies in none of the 15 villages" in reasons[5]
    assert "letters, digits" in reasons[6]


def test_dry_run_stores_nothing(lite_env, lite, tmp_path):
    path = tmp_path / "v.geojson"
    frame([CODES[0], "330110009999"], [NAMES[CODES[0]], "翁梅村"],
          [square(CODES[0]), square(CODES[1])]).to_file(path)
    out = ok(lite_env, str(path), "--level", "village", "--dry-run")
    assert out.startswith("dry run of v.geojson") and "nothing stored" in out
    assert (tmp_path / "v.rejected.csv").exists()
    with lite() as s:
        assert s.scalars(select(BoundaryImport)).all() == []
        assert s.scalars(select(BoundaryFeature)).all() == []
    client = redis.Redis.from_url(lite_env["REDIS_URL"])
    assert client.get(f"{lite_env['COCKPIT_STREAM_PREFIX']}version") is None
    client.close()


def test_reimport_replaces_then_list_and_clear(env, db, tmp_path):
    first, second = tmp_path / "first.geojson", tmp_path / "second.geojson"
    frame(CODES[:4]).to_file(first)
    frame(CODES[4:6]).to_file(second)
    ok(env, str(first), "--level", "village")
    ok(env, str(second), "--level", "village")
    with db() as s:
        assert sorted(stored(s)) == CODES[4:6]
        layer = layers.village_layer(s)
    assert layer.loc[~layer["schematic"], "code"].tolist() == CODES[4:6]
    listing = Command("geodata", "list").ok(env)
    assert "village layer: 2 imported, 13 schematic" in listing
    assert "grid layer: none" in listing
    assert "village imported second.geojson (wgs84): 2 features" in listing
    clear = Command("geodata", "clear")
    assert "nothing cleared" in clear.refused(env, "--level", "village")
    out = clear.ok(env, "--level", "village", "--yes")
    assert "cleared the village layer: 2 features removed" in out
    with db() as s:
        assert stored(s) == {}
        assert layers.village_layer(s)["schematic"].all()
        methods = s.scalars(select(BoundaryImport.method).order_by(BoundaryImport.import_id))
        assert methods.all() == ["imported", "imported", "cleared"]


def test_refusals_are_one_line(lite_env, tmp_path):
    bad = tmp_path / "broken.geojson"
    bad.write_text("{not json", encoding="utf-8")
    assert "cannot read broken.geojson" in refused(lite_env, str(bad), "--level", "village")
    other = tmp_path / "plan.dwg"
    other.write_bytes(b"x")
    assert "not a GeoJSON" in refused(lite_env, str(other), "--level", "village")
    good = tmp_path / "v.geojson"
    frame(CODES[:1], extra=["x"]).to_file(good)
    line = refused(lite_env, str(good), "--level", "village", "--code-field", "QHDM")
    assert "no field 'QHDM' (--code-field); the file has fields: code, name, extra" in line
    line = refused(lite_env, str(good), "--level", "village", "--crs", "mars")
    assert "unknown CRS 'mars'" in line
    undefined = tmp_path / "undefined.gpkg"
    frame(CODES[:1]).to_file(undefined)
    with sqlite3.connect(undefined) as con:  # srs 0: "undefined geographic SRS"
        con.execute("update gpkg_geometry_columns set srs_id = 0")
        con.execute("update gpkg_contents set srs_id = 0")
    con.close()
    line = refused(lite_env, str(undefined), "--level", "village")
    assert "does not declare its CRS" in line
    far = tmp_path / "far.geojson"
    frame(CODES[:1], geoms=[shapely.box(116.3, 39.9, 116.31, 39.91)]).to_file(far)
    line = refused(lite_env, str(far), "--level", "village")
    assert "no valid feature in far.geojson" in line and "wrong CRS?" in line
    assert "(report: " in line
    # a crs member no CRS library knows is no declaration (GDAL would read it as WGS-84)
    doc = json.loads(good.read_text(encoding="utf-8"))
    doc["crs"] = {"type": "name", "properties": {"name": "GCJ02"}}
    mislabelled = tmp_path / "mislabelled.geojson"
    mislabelled.write_text(json.dumps(doc), encoding="utf-8")
    line = refused(lite_env, str(mislabelled), "--level", "village")
    assert "crs member names 'GCJ02'" in line and "--crs" in line
    # a NaN coordinate is a rejected feature with its reason, never a traceback
    ring = doc["features"][0]["geometry"]["coordinates"][0]
    ring[1][1] = float("nan")
    doc["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}
    nan = tmp_path / "nan.geojson"
    nan.write_text(json.dumps(doc), encoding="utf-8")  # json writes NaN, as GDAL reads it
    line = refused(lite_env, str(nan), "--level", "village")
    assert "not a finite number" in line
    # a report that could not be written is said before anything is stored
    line = refused(lite_env, str(good), "--level", "village", "--report",
                   str(tmp_path / "no-such-folder" / "r.csv"))
    assert "does not exist; nothing was stored" in line


def test_name_only_file_and_field_detection(lite, tmp_path):
    gdf = gpd.GeoDataFrame({"村名": [f"{NAMES[CODES[2]]}委会", "不存在村"]},
                           geometry=[square(CODES[2]), square(CODES[3])], crs=4326)
    path = tmp_path / "names.geojson"
    gdf.to_file(path)
    with lite.begin() as s:
        result = import_layer(s, path, "village", actor="test")
    assert result.imported == 1 and [r.row for r in result.rejected] == [2]
    assert "unknown village name '不存在村'" in result.rejected[0].reason
    with lite() as s:
        assert {c: r.name for c, r in stored(s).items()} == {CODES[2]: f"{NAMES[CODES[2]]}委会"}
    assert choose_fields(["QHDM", "QHMC", "other"], "village") == Fields("QHDM", "QHMC")
    assert choose_fields(["grid_code", "网格名称", "所属村社"], "grid") == \
        Fields("grid_code", "网格名称", "所属村社")
    with pytest.raises(ImportRefused, match="no grid code field found.*fields: name, foo"):
        choose_fields(["name", "foo"], "grid")


def test_swapped_axes_and_projected_coordinates_are_named():
    a = CODES[0]
    x, y = CENTRES[a]
    swapped = shapely.box(y - 0.001, x - 0.001, y + 0.001, x + 0.001)
    metres = shapely.box(230000, 3360000, 230100, 3360100)
    gdf = gpd.GeoDataFrame({"code": [a, a, CODES[1]]},
                           geometry=[swapped, metres, shapely.LineString([(x, y), (x, y + 1)])],
                           crs=4326)
    checked = check_features(gdf, "village", Fields("code", None), service_area())
    reasons = [r.reason for r in checked.rejected]
    assert "lon and lat look swapped" in reasons[0]
    assert "coordinates look projected" in reasons[1]
    assert reasons[2] == "not a polygon (LineString)"
    assert checked.features == []


def test_misdecoded_names_and_crs_parsing():
    gbk = "乔司社区".encode("gbk").decode("latin-1")
    assert misdecoded(["330110006003", gbk]) == (gbk, "乔司社区", "gbk")
    assert misdecoded(["乔司社区", "Qiaosi", "Müller-Straße"]) is None
    assert misdecoded(["ASCII only"]) is None
    assert misdecoded([gbk, "Café", "Crème"]) is None  # fewer than half look mis-decoded
    assert misdecoded(["三角村".encode().decode("latin-1")])[1:] == ("三角村", "utf-8")
    assert parse_crs("GCJ-02") == ("gcj02", None)
    assert parse_crs("EPSG:4326")[0] == "wgs84"
    assert parse_crs("epsg:4547")[1].to_epsg() == 4547
    with pytest.raises(ImportRefused, match="no such EPSG code"):
        parse_crs("EPSG:999999")
