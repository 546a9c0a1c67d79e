"""WGS-84 ⇄ GCJ-02 (and BD-09) conversions, checked against published reference pairs."""

import math

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Geod

from cockpit import crs, geo
from cockpit.crs import (
    arrays_from_wgs84,
    arrays_to_wgs84,
    frame_from_wgs84,
    frame_to_wgs84,
    from_wgs84,
    geometry_from_wgs84,
    geometry_to_wgs84,
    to_wgs84,
)

GEOD = Geod(ellps="WGS84")

#: Published WGS-84 → GCJ-02 pairs: (where, wgs lon, wgs lat, gcj lon, gcj lat, tolerance °).
#: Tolerance 1e-9° where the publisher printed full doubles of the standard formula (same
#: arithmetic, so agreement is to the last bits); 1e-6° (≈ 0.1 m) where the value was rounded
#: or comes from Gaode's own server, which differs from the published formula by ≈ 4e-7°.
PUBLISHED = [
    # googollee/eviltransform go/transform_test.go @ 1643645a2a2f2fa06811df676db42d02a0fb1f40
    ("Shanghai", 121.5272106, 31.1774276, 121.531541859215, 31.17530398364597, 1e-9),
    ("Shenzhen", 113.912316, 22.543847, 113.9171764808363, 22.540796131694766, 1e-9),
    ("Beijing", 116.377817, 39.911954, 116.38404722455657, 39.91334545536069, 1e-9),
    # wandergis/coordtransform test/app.js @ 242324636adb54f9d1ef571035dc61f0ac8f0e8c
    ("Beijing 2", 116.404, 39.915, 116.41024449916938, 39.91640428150164, 1e-9),
    # feiquan123/coordtransform-go coordtransform_test.go @ 2389b024fda56dace695c1766c164bf833fb1388
    ("Wuhan", 114.363089, 30.517411, 114.36861383019243, 30.515078352018758, 1e-9),
    # hujiulong/gcoord test/unit/crs/WGS84.spec.ts @ 42ea29df479c739f9b39f9c8e939fb7ae39e5a3e
    # (printed to 8 decimals)
    ("Jilin", 123.0, 45.0, 123.00607541, 45.00197815, 1e-6),
    # Gaode's coordinate-convert API itself: the request of its documentation example
    # (https://lbs.amap.com/api/webservice/guide/api/convert, coordsys=gps) and Gaode's reply as
    # recorded in womeimingzi11/amapGeocode README.md (2020 versions)
    ("Beijing, Gaode API", 116.481499, 39.990475, 116.487585177952, 39.991754014757, 1e-6),
]

#: Published GCJ-02 → WGS-84 results: hujiulong/gcoord test/unit/crs/GCJ02.spec.ts
#: @ 42ea29df479c739f9b39f9c8e939fb7ae39e5a3e (gcj lon, gcj lat, wgs lon, wgs lat).
PUBLISHED_INVERSE = [(123.0, 45.0, 122.99395597, 44.99804071)]

#: Alibaba Cloud (Gaode's parent) documents its coordinate API with a point in Yuhang,
#: Hangzhou: GCJ-02 120.026268,30.279164 → WGS-84 120.021519,30.281543 (6 decimals).
#: https://help.aliyun.com/zh/address-purification/addrpapi/developer-reference/coordinate-system-conversion
HANGZHOU_GCJ = (120.026268, 30.279164)
HANGZHOU_WGS_PUBLISHED = (120.021519, 30.281543)

OUTSIDE_CHINA = [(2.3522, 48.8566), (-74.006, 40.7128), (139.6917, 35.6895), (151.2093, -33.8688)]

#: The inverse must land within this of the published WGS-84 point.
INVERSE_TOL_M = 0.5


def metres(a, b):
    return GEOD.inv(a[0], a[1], b[0], b[1])[2]


@pytest.mark.parametrize(("where", "wlon", "wlat", "glon", "glat", "tol"), PUBLISHED,
                         ids=[p[0] for p in PUBLISHED])
def test_forward_matches_published_pairs(where, wlon, wlat, glon, glat, tol):
    lon, lat = from_wgs84(wlon, wlat, "gcj02")
    assert abs(lon - glon) <= tol and abs(lat - glat) <= tol, (where, lon - glon, lat - glat)
    alon, alat = arrays_from_wgs84([wlon], [wlat], crs.CRS.GCJ02)
    assert (alon[0], alat[0]) == (lon, lat)


@pytest.mark.parametrize(("where", "wlon", "wlat", "glon", "glat", "tol"), PUBLISHED,
                         ids=[p[0] for p in PUBLISHED])
def test_inverse_lands_on_published_wgs84(where, wlon, wlat, glon, glat, tol):
    back = to_wgs84(glon, glat, "gcj02")
    assert metres(back, (wlon, wlat)) < INVERSE_TOL_M, where


@pytest.mark.parametrize(("glon", "glat", "wlon", "wlat"), PUBLISHED_INVERSE)
def test_inverse_matches_published_inverse(glon, glat, wlon, wlat):
    assert metres(to_wgs84(glon, glat, "gcj02"), (wlon, wlat)) < INVERSE_TOL_M


def test_hangzhou_pair_from_alibaba_cloud():
    g, w_pub = HANGZHOU_GCJ, HANGZHOU_WGS_PUBLISHED
    # The published WGS-84 value is the one-step inverse w = 2g − F(g) (eviltransform's
    # GCJtoWGS, 1–2 m off), so it fixes the forward formula at g: F(g) = 2g − w. w was printed
    # to 6 decimals, hence ±5e-7° on each axis; allow 1e-6°.
    f = from_wgs84(*g, "gcj02")
    assert abs(f[0] - (2 * g[0] - w_pub[0])) < 1e-6
    assert abs(f[1] - (2 * g[1] - w_pub[1])) < 1e-6
    # The exact inverse goes forward onto g again; the published one-step value misses it.
    w = to_wgs84(*g, "gcj02")
    assert metres(from_wgs84(*w, "gcj02"), g) < 0.001
    assert metres(from_wgs84(*w_pub, "gcj02"), g) > 1.0
    assert metres(w, w_pub) < 2.5


def test_hangzhou_offset_is_about_500_m():
    lons = np.array([geo.QIAOSI_CENTER_WGS84[0], 120.15, HANGZHOU_WGS_PUBLISHED[0]])
    lats = np.array([geo.QIAOSI_CENTER_WGS84[1], 30.25, HANGZHOU_WGS_PUBLISHED[1]])
    glons, glats = arrays_from_wgs84(lons, lats, "gcj02")
    _, _, dist = GEOD.inv(lons, lats, glons, glats)
    assert np.all((dist > 450) & (dist < 600)), dist
    # GCJ-02 lies east and a little south of WGS-84 here
    assert np.all(glons > lons) and np.all(glats < lats)


@pytest.mark.parametrize("point", OUTSIDE_CHINA)
@pytest.mark.parametrize("datum", ["gcj02", "wgs84"])
def test_points_outside_china_are_unchanged(point, datum):
    assert from_wgs84(*point, datum) == point
    assert to_wgs84(*point, datum) == point
    lons, lats = arrays_to_wgs84([point[0]], [point[1]], datum)
    assert (lons[0], lats[0]) == point


def test_arrays_keep_shape_and_nan_and_refuse_mismatch():
    lons = np.array([[120.28, np.nan], [2.35, 120.3]])
    lats = np.array([[30.35, np.nan], [48.85, 30.36]])
    glons, glats = arrays_from_wgs84(lons, lats, "gcj02")
    assert glons.shape == (2, 2) and np.isnan(glons[0, 1]) and np.isnan(glats[0, 1])
    assert (glons[1, 0], glats[1, 0]) == (2.35, 48.85)
    assert (glons[0, 0], glats[0, 0]) == from_wgs84(120.28, 30.35, "gcj02")
    assert lons[0, 0] == 120.28  # the input is not modified
    empty = arrays_to_wgs84([], [], "gcj02")
    assert empty[0].shape == (0,)
    with pytest.raises(ValueError, match="shape"):
        arrays_to_wgs84([1.0, 2.0], [1.0], "gcj02")
    with pytest.raises(ValueError):
        arrays_to_wgs84([1.0], [1.0], "utm")


@pytest.mark.parametrize("datum", ["gcj02", "bd09"])
def test_round_trip_of_random_qiaosi_points_within_a_centimetre(datum):
    x0, y0, x1, y1 = geo.load_villages().total_bounds
    rng = np.random.default_rng(7)
    lons, lats = rng.uniform(x0, x1, 10_000), rng.uniform(y0, y1, 10_000)
    there = arrays_from_wgs84(lons, lats, datum)
    back = arrays_to_wgs84(*there, datum)
    assert GEOD.inv(lons, lats, *back)[2].max() < 0.01
    # and the other way round: a point read in the datum, to WGS-84 and back
    again = arrays_from_wgs84(*arrays_to_wgs84(lons, lats, datum), datum)
    assert GEOD.inv(lons, lats, *again)[2].max() < 0.01


def square_with_hole():
    c = geo.QIAOSI_CENTER_WGS84
    shell = [(c[0] + dx, c[1] + dy) for dx, dy in
             [(-0.01, -0.01), (0.01, -0.01), (0.01, 0.01), (-0.01, 0.01)]]
    hole = [(c[0] + dx, c[1] + dy) for dx, dy in
            [(-0.002, -0.002), (-0.002, 0.002), (0.002, 0.002), (0.002, -0.002)]]
    return shapely.orient_polygons(shapely.Polygon(shell, [hole]))


@pytest.mark.parametrize("datum", ["gcj02", "bd09"])
def test_geometry_helpers_keep_orientation_and_validity(datum):
    poly = square_with_hole()
    assert poly.exterior.is_ccw and not poly.interiors[0].is_ccw
    moved = geometry_from_wgs84(poly, datum)
    assert moved.is_valid and moved.exterior.is_ccw and not moved.interiors[0].is_ccw
    xy = shapely.get_coordinates(poly)
    assert np.array_equal(shapely.get_coordinates(moved),
                          np.column_stack(arrays_from_wgs84(xy[:, 0], xy[:, 1], datum)))
    shift = metres(poly.exterior.coords[0], moved.exterior.coords[0])
    assert 400 < shift < 1500  # BD-09 adds Baidu's own ≈ 700 m
    back = geometry_to_wgs84(moved, datum)
    assert shapely.equals_exact(back, poly, tolerance=1e-7)  # ≈ 1 cm
    assert back.is_valid and back.exterior.is_ccw


def test_geometry_helpers_take_arrays_with_none_and_leave_wgs84_alone():
    poly = square_with_hole()
    arr = np.array([poly, None, shapely.Point(120.28, 30.35)], dtype=object)
    out = geometry_from_wgs84(arr, "gcj02")
    assert out[1] is None and out[2].x == from_wgs84(120.28, 30.35, "gcj02")[0]
    assert geometry_from_wgs84(poly, "wgs84") is poly


def ring_orientations(geoms):
    parts = shapely.get_parts(np.asarray(geoms))
    return [(p.exterior.is_ccw, tuple(r.is_ccw for r in p.interiors)) for p in parts]


def test_frames_convert_every_village_and_check_their_crs():
    villages = geo.load_villages()
    gcj = frame_from_wgs84(villages, "gcj02")
    assert gcj.attrs["datum"] == "gcj02" and gcj.crs == villages.crs
    assert list(gcj.columns) == list(villages.columns)
    assert gcj.geometry.is_valid.all()
    assert ring_orientations(gcj.geometry) == ring_orientations(villages.geometry)
    shifts = [metres(a.representative_point().coords[0], b.representative_point().coords[0])
              for a, b in zip(villages.geometry, gcj.geometry, strict=True)]
    # representative points of moved shapes move by about the datum offset
    assert all(300 < s < 700 for s in shifts), shifts
    back = frame_to_wgs84(gcj, "gcj02")
    assert back.attrs["datum"] == "wgs84"
    for a, b in zip(villages.geometry, back.geometry, strict=True):
        assert shapely.equals_exact(a, b, tolerance=1e-7)  # ≈ 1 cm
    assert villages.attrs.get("datum") != "gcj02"  # the input frame is untouched
    with pytest.raises(ValueError, match="EPSG:4326"):
        frame_from_wgs84(villages.to_crs(3857), "gcj02")
    with pytest.raises(ValueError, match="EPSG:4326"):
        frame_from_wgs84(gpd.GeoDataFrame(geometry=[shapely.Point(0, 0)]), "gcj02")


def test_bd09_is_gcj02_plus_baidus_rotation():
    w = geo.QIAOSI_CENTER_WGS84
    g = from_wgs84(*w, "gcj02")
    b = from_wgs84(*w, "bd09")
    assert metres(to_wgs84(*b, "bd09"), w) < 0.001
    assert 500 < metres(g, b) < 1000 and math.isclose(b[0] - g[0], 0.0065, abs_tol=0.002)
