"""Tests of the geodata builder and the runtime geo module, on the real shipped files."""

import csv
import itertools
import json
import math
import subprocess
import sys

import numpy as np
import pytest
import shapely
from pyproj import Transformer

from cockpit import geo
from cockpit.geodata_build import DEFAULT_DATA_DIR, build, gcj_to_wgs

pytestmark = pytest.mark.skipif(
    not DEFAULT_DATA_DIR.is_dir(), reason=f"shared data folder {DEFAULT_DATA_DIR} not found"
)

TO_M = Transformer.from_crs("EPSG:4326", geo.METRIC_CRS, always_xy=True)
TO_DEG = Transformer.from_crs(geo.METRIC_CRS, "EPSG:4326", always_xy=True)


def to_m(geom):
    return shapely.transform(geom, lambda c: np.column_stack(TO_M.transform(c[:, 0], c[:, 1])))


def csv_rows():
    path = DEFAULT_DATA_DIR / "admin" / "qiaosi_villages_communities_2016.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    first = tmp_path_factory.mktemp("geo_a")
    second = tmp_path_factory.mktemp("geo_b")
    return build(DEFAULT_DATA_DIR, first), build(DEFAULT_DATA_DIR, second)


def test_builder_is_deterministic(built):
    first, second = built
    assert [p.name for p in first] == [p.name for p in second]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_shipped_geodata_is_up_to_date(built):
    for path in built[0]:
        assert (geo.GEODATA_DIR / path.name).read_bytes() == path.read_bytes(), path.name


def test_files_are_rfc7946_wgs84_with_6_decimals():
    text = (geo.GEODATA_DIR / geo.VILLAGES_FILE).read_text(encoding="utf-8")
    data = json.loads(text)
    assert "crs" not in data
    coords = data["features"][0]["geometry"]["coordinates"][0]
    assert all(len(repr(v).split(".")[1]) <= 6 for xy in coords for v in xy)
    assert shapely.Polygon(coords).exterior.is_ccw


def test_fifteen_valid_villages_with_properties():
    villages = geo.load_villages()
    rows = csv_rows()[1:]
    assert len(villages) == 15
    assert villages.crs.to_epsg() == 4326
    assert list(villages.columns) == geo.VILLAGE_COLUMNS
    assert sorted(villages["code"]) == sorted(r["nbs_code_2016"] for r in rows)
    assert villages.geometry.is_valid.all()
    assert (villages.geom_type == "Polygon").all()
    assert villages["schematic"].all()
    assert (villages["label_suffix"] == "（示意）").all()
    assert not villages["name"].str.endswith("委会").any()
    assert villages["kind"].value_counts().to_dict() == {"village": 11, "community": 4}
    names = dict(zip(villages["code"], villages["name"], strict=True))
    assert names["330110006201"] == "胜稼村"
    assert geo.village_names()["330110006002"] == {
        "name": "新街社区",
        "name_en": "Xinjie Community",
        "kind": "community",
    }


def test_villages_do_not_overlap_and_fill_the_area():
    polys = [to_m(g) for g in geo.load_villages().geometry]
    for a, b in itertools.combinations(polys, 2):
        assert a.intersection(b).area < 1.0  # square metres
    area = to_m(geo.load_subdistrict().geometry[0])
    union = shapely.union_all(polys)
    assert union.symmetric_difference(area).area < 1e-6 * area.area
    assert 40e6 < area.area < 82e6  # a disc of 82 km², clipped by the district edge


def test_villages_inside_linping_outline():
    district = to_m(geo.load_district().geometry[0])
    assert 270e6 < district.area < 300e6  # Linping is about 286 km²
    # Snapping to 6 decimals (about 0.1 m) may move a vertex a few centimetres outside.
    grown = district.buffer(0.5)
    assert grown.contains(to_m(geo.load_subdistrict().geometry[0]))
    for poly in geo.load_villages().geometry:
        assert grown.contains(to_m(poly))


def test_communities_lie_near_the_centre():
    centre = shapely.Point(TO_M.transform(*geo.QIAOSI_CENTER_WGS84))
    villages = geo.load_villages()
    dist = {
        kind: np.mean([to_m(g.representative_point()).distance(centre) for g in group.geometry])
        for kind, group in villages.groupby("kind")
    }
    assert dist["community"] < dist["village"]
    xinjie = next(r for r in csv_rows() if r["name"] == "新街社区")
    lon, lat = gcj_to_wgs(float(xinjie["lon_gcj02"]), float(xinjie["lat_gcj02"]))
    assert geo.village_of(lon, lat) == "330110006002"


def test_gcj_to_wgs_shift_of_the_centre():
    town = csv_rows()[0]
    gcj = (float(town["lon_gcj02"]), float(town["lat_gcj02"]))
    wgs = gcj_to_wgs(*gcj)
    assert geo.QIAOSI_CENTER_WGS84 == (round(wgs[0], 6), round(wgs[1], 6))
    shift = math.dist(TO_M.transform(*gcj), TO_M.transform(*wgs))
    assert 400 < shift < 600
    district = json.loads((geo.GEODATA_DIR / geo.DISTRICT_FILE).read_text(encoding="utf-8"))
    props = district["features"][0]["properties"]
    assert props["crs_source"] == "gcj02" and props["adcode"] == 330113


def test_assign_villages_on_own_label_points():
    labels = geo.label_points(geo.load_villages())
    lons = [lon for _, _, lon, _ in labels]
    lats = [lat for _, _, _, lat in labels]
    codes = [code for code, _, _, _ in labels]
    assert geo.assign_villages(lons, lats) == codes
    assert [geo.village_of(lon, lat) for lon, lat in zip(lons, lats, strict=True)] == codes
    assert all(name.endswith("（示意）") for _, name, _, _ in labels)


def test_far_away_and_missing_points_give_none():
    beijing = (116.3975, 39.9087)
    assert geo.village_of(*beijing) is None
    assert geo.village_of(float("nan"), 30.35) is None
    assert geo.assign_villages([beijing[0], np.nan, None], [beijing[1], 30.35, 30.35]) == [
        None,
        None,
        None,
    ]


def test_point_just_outside_the_area_goes_to_nearest_village():
    # The northernmost point of the schematic area lies on the disc's arc; step north from it.
    area_m = to_m(geo.load_subdistrict().geometry[0])
    coords = np.asarray(area_m.exterior.coords)
    top = coords[coords[:, 1].argmax()]
    villages_m = [to_m(g) for g in geo.load_villages().geometry]
    codes = list(geo.load_villages()["code"])
    for step, expect_hit in ((500.0, True), (1500.0, False)):
        point = shapely.Point(top[0], top[1] + step)
        assert 0.9 * step < area_m.distance(point) <= step
        dists = [poly.distance(point) for poly in villages_m]
        expected = codes[int(np.argmin(dists))] if expect_hit else None
        lon, lat = TO_DEG.transform(point.x, point.y)
        assert geo.assign_villages([lon], [lat]) == [expected]
        assert geo.village_of(lon, lat) == expected


def test_assign_villages_agrees_with_village_of():
    x0, y0, x1, y1 = geo.load_subdistrict().total_bounds
    rng = np.random.default_rng(7)
    lons = rng.uniform(x0 - 0.02, x1 + 0.02, 2000)
    lats = rng.uniform(y0 - 0.02, y1 + 0.02, 2000)
    bulk = geo.assign_villages(lons, lats)
    assert bulk == [geo.village_of(lon, lat) for lon, lat in zip(lons, lats, strict=True)]
    assert any(code is None for code in bulk) and any(code is not None for code in bulk)


def test_empty_and_mismatched_input():
    assert geo.assign_villages([], []) == []
    assert geo.assign_villages(np.array([]), np.array([])) == []
    with pytest.raises(ValueError):
        geo.assign_villages([120.28], [])


def test_village_of_is_fast():
    import time

    geo.village_of(*geo.QIAOSI_CENTER_WGS84)
    start = time.perf_counter()
    for _ in range(1000):
        geo.village_of(120.28, 30.35)
    assert (time.perf_counter() - start) / 1000 < 1e-3


@pytest.mark.parametrize(
    "value",
    ["朝阳村委会", "朝阳村", "330110006224", 330110006224, "朝阳村（示意）", "Chaoyang Village"],
)
def test_resolve_village(value):
    assert geo.resolve_village(value) == "330110006224"


@pytest.mark.parametrize("value", [None, "", "朝阳", "330110006000", "北京"])
def test_resolve_village_unknown(value):
    assert geo.resolve_village(value) is None


def test_outlines_for_plotly():
    villages = geo.load_villages()
    lons, lats = geo.outline_xy(villages)
    assert len(lons) == len(lats)
    assert lons.count(None) == 15 and lons[-1] is None
    rings = geo.outline_coords(geo.load_district())
    assert len(rings) == 1 and rings[0][0][0] == rings[0][0][-1]
    with pytest.raises(ValueError):
        geo.outline_xy(villages.to_crs(geo.METRIC_CRS))


def test_loaders_return_copies():
    first = geo.load_villages()
    first.loc[0, "name"] = "changed"
    assert geo.load_villages().loc[0, "name"] != "changed"


def test_geo_module_imports_no_web_framework():
    code = (
        "import sys, cockpit.geo, cockpit.geodata_build; "
        "bad = [m for m in ('dash', 'flask', 'plotly', 'folium') if m in sys.modules]; "
        "sys.exit(str(bad) if bad else 0)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=geo.GEODATA_DIR.parent)
