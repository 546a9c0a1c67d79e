"""Base maps from settings, and every layer drawn in the tile provider's datum."""

import logging
import re
from pathlib import Path

import numpy as np
import pytest
import shapely
from pydantic import ValidationError
from pyproj import Geod

from cockpit import geo
from cockpit.crs import CRS, arrays_from_wgs84, from_wgs84
from cockpit.mapdata import tiles
from cockpit.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
GEOD = Geod(ellps="WGS84")
KEY = "0123456789abcdef0123456789abcdef"
TILE_ENV = ("COCKPIT_MAP_TILES", "COCKPIT_MAP_TILE_URL", "COCKPIT_MAP_TILE_CRS",
            "COCKPIT_MAP_TILE_ATTRIBUTION", "COCKPIT_TIANDITU_KEY")
#: googollee/eviltransform go/transform_test.go @ 1643645a2a2f2fa06811df676db42d02a0fb1f40:
#: WGS-84 (121.5272106, 31.1774276) is GCJ-02 (121.531541859215, 31.17530398364597).
SHANGHAI_WGS = (121.5272106, 31.1774276)
SHANGHAI_GCJ = (121.531541859215, 31.17530398364597)


@pytest.fixture
def settings_from_env(monkeypatch, tmp_path):
    for name in TILE_ENV:
        monkeypatch.delenv(name, raising=False)

    def make(**env):
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return Settings(data_dir=tmp_path)

    return make


def test_none_is_the_default_and_requests_no_tiles(settings_from_env):
    p = tiles.provider(settings_from_env())
    assert p.name == "none" and p.layers == () and not p.has_tiles
    assert tiles.display_crs(p) is CRS.WGS84 and p.attribution == ""


def test_gaode_from_environment(settings_from_env):
    p = tiles.provider(settings_from_env(COCKPIT_MAP_TILES="gaode"))
    assert p.crs is CRS.GCJ02 and p.has_tiles and p.subdomains == "1234"
    (layer,) = p.layers
    assert layer.url.startswith("https://webrd0{s}.is.autonavi.com/appmaptile?")
    assert all(part in layer.url for part in ("style=8", "x={x}", "y={y}", "z={z}"))
    assert "高德" in p.attribution and p.max_zoom == 18


def test_osm_from_environment(settings_from_env):
    p = tiles.provider(settings_from_env(COCKPIT_MAP_TILES="OSM"))
    assert p.name == "osm" and p.crs is CRS.WGS84 and p.subdomains == ""
    assert [layer.url for layer in p.layers] == ["https://tile.openstreetmap.org/{z}/{x}/{y}.png"]
    assert "OpenStreetMap" in p.attribution


def test_tianditu_draws_roads_and_labels_with_its_key(settings_from_env):
    p = tiles.provider(settings_from_env(COCKPIT_MAP_TILES="tianditu", COCKPIT_TIANDITU_KEY=KEY))
    assert p.crs is CRS.WGS84 and p.subdomains == "01234567"
    base, labels = p.layers
    assert not base.overlay and labels.overlay
    assert base.url.startswith("https://t{s}.tianditu.gov.cn/vec_w/wmts?")
    assert labels.url.startswith("https://t{s}.tianditu.gov.cn/cva_w/wmts?")
    for layer, name in ((base, "vec"), (labels, "cva")):
        assert f"LAYER={name}&" in layer.url and layer.url.endswith(f"&tk={KEY}")
        assert all(p in layer.url for p in ("TILEMATRIX={z}", "TILEROW={y}", "TILECOL={x}"))


@pytest.mark.parametrize(("datum", "expected"), [("gcj02", CRS.GCJ02), ("wgs84", CRS.WGS84),
                                                 (None, CRS.WGS84)])
def test_xyz_takes_its_url_and_declared_datum(settings_from_env, datum, expected):
    env = {"COCKPIT_MAP_TILES": "xyz",
           "COCKPIT_MAP_TILE_URL": "http://gis.intranet.local/tiles/{z}/{x}/{y}.png"}
    if datum:
        env["COCKPIT_MAP_TILE_CRS"] = datum
    p = tiles.provider(settings_from_env(**env))
    assert p.crs is expected and p.subdomains == ""
    assert [layer.url for layer in p.layers] == [env["COCKPIT_MAP_TILE_URL"]]
    assert p.attribution == "gis.intranet.local"


def test_xyz_subdomains_and_own_attribution_is_text(settings_from_env):
    p = tiles.provider(settings_from_env(
        COCKPIT_MAP_TILES="xyz", COCKPIT_MAP_TILE_URL="https://{s}.tiles.example/{z}/{x}/{y}.png",
        COCKPIT_MAP_TILE_ATTRIBUTION="城管 <b>GIS</b>"))
    assert p.subdomains == "abc"
    assert p.attribution == "城管 &lt;b&gt;GIS&lt;/b&gt;"


@pytest.mark.parametrize(("env", "variable"), [
    ({"COCKPIT_MAP_TILES": "bing"}, "COCKPIT_MAP_TILES"),
    ({"COCKPIT_MAP_TILES": "xyz"}, "COCKPIT_MAP_TILE_URL"),
    ({"COCKPIT_MAP_TILES": "xyz", "COCKPIT_MAP_TILE_URL": "   "}, "COCKPIT_MAP_TILE_URL"),
    ({"COCKPIT_MAP_TILES": "xyz", "COCKPIT_MAP_TILE_URL": "file:///tiles/{z}/{x}/{y}.png"},
     "COCKPIT_MAP_TILE_URL"),
    ({"COCKPIT_MAP_TILES": "xyz", "COCKPIT_MAP_TILE_URL": "https://tiles.example/{z}/{x}.png"},
     "COCKPIT_MAP_TILE_URL"),
    ({"COCKPIT_MAP_TILES": "xyz", "COCKPIT_MAP_TILE_URL": "https://t.example/{z}/{x}/{y}.png",
      "COCKPIT_MAP_TILE_CRS": "bd09"}, "COCKPIT_MAP_TILE_CRS"),
    ({"COCKPIT_MAP_TILES": "tianditu"}, "COCKPIT_TIANDITU_KEY"),
    ({"COCKPIT_MAP_TILES": "tianditu", "COCKPIT_TIANDITU_KEY": "abc&tk=x"},
     "COCKPIT_TIANDITU_KEY"),
])
def test_bad_settings_are_refused_naming_the_variable(settings_from_env, env, variable):
    with pytest.raises(ValidationError, match=re.escape(variable)) as info:
        settings_from_env(**env)
    assert "abc&tk=x" not in str(info.value)


def test_tianditu_key_is_in_no_repr_and_no_log(settings_from_env, caplog):
    settings = settings_from_env(COCKPIT_MAP_TILES="tianditu", COCKPIT_TIANDITU_KEY=KEY)
    p = tiles.provider(settings)
    assert KEY in p.layers[0].url  # the browser needs it
    with caplog.at_level(logging.INFO):
        logging.getLogger("cockpit.test").info("base map %s, layers %r, %s", p, p.layers, settings)
    for text in (repr(p), str(p), repr(p.layers[1]), repr(settings), caplog.text):
        assert KEY not in text
    assert "tk=***" in repr(p)


def providers(settings_from_env):
    url = "https://tiles.example/{z}/{x}/{y}.png"
    return {
        "none": tiles.provider(settings_from_env()),
        "gaode": tiles.provider(settings_from_env(COCKPIT_MAP_TILES="gaode")),
        "osm": tiles.provider(settings_from_env(COCKPIT_MAP_TILES="osm")),
        "tianditu": tiles.provider(settings_from_env(COCKPIT_MAP_TILES="tianditu",
                                                     COCKPIT_TIANDITU_KEY=KEY)),
        "xyz-gcj02": tiles.provider(settings_from_env(
            COCKPIT_MAP_TILES="xyz", COCKPIT_MAP_TILE_URL=url, COCKPIT_MAP_TILE_CRS="gcj02")),
    }


@pytest.mark.parametrize("name", ["gaode", "xyz-gcj02"])
def test_wgs84_points_are_drawn_at_their_gcj02_position(settings_from_env, name):
    p = providers(settings_from_env)[name]
    lons = np.array([SHANGHAI_WGS[0], geo.QIAOSI_CENTER_WGS84[0], 2.35])
    lats = np.array([SHANGHAI_WGS[1], geo.QIAOSI_CENTER_WGS84[1], 48.85])
    x, y = tiles.to_display_points(lons, lats, p)
    assert abs(x[0] - SHANGHAI_GCJ[0]) < 1e-9 and abs(y[0] - SHANGHAI_GCJ[1]) < 1e-9
    assert (x[1], y[1]) == from_wgs84(*geo.QIAOSI_CENTER_WGS84, "gcj02")
    assert 450 < GEOD.inv(lons[1], lats[1], x[1], y[1])[2] < 600
    assert (x[2], y[2]) == (2.35, 48.85)  # outside China the datums coincide
    # a click on the drawn point comes back to where the data said it was
    back = tiles.from_display_point(float(x[1]), float(y[1]), p)
    assert GEOD.inv(*back, *geo.QIAOSI_CENTER_WGS84)[2] < 0.01
    assert tiles.display_crs(p) is CRS.GCJ02


@pytest.mark.parametrize("name", ["none", "osm", "tianditu"])
def test_wgs84_providers_draw_and_click_unchanged(settings_from_env, name):
    p = providers(settings_from_env)[name]
    lons, lats = [SHANGHAI_WGS[0], 120.3], [SHANGHAI_WGS[1], 30.36]
    x, y = tiles.to_display_points(lons, lats, p)
    assert x.tolist() == lons and y.tolist() == lats
    assert tiles.from_display_point(120.3, 30.36, p) == (120.3, 30.36)


@pytest.mark.parametrize(("name", "moved"), [("gaode", True), ("xyz-gcj02", True),
                                             ("osm", False), ("none", False)])
def test_layers_are_drawn_in_the_provider_datum(settings_from_env, name, moved):
    p = providers(settings_from_env)[name]
    villages = geo.load_villages()
    shown = tiles.to_display_frame(villages, p)
    assert shown.geometry.is_valid.all() and len(shown) == len(villages)
    xy = shapely.get_coordinates(villages.geometry.to_numpy())
    expected = np.column_stack(arrays_from_wgs84(xy[:, 0], xy[:, 1], p.crs))
    assert np.array_equal(shapely.get_coordinates(shown.geometry.to_numpy()), expected)
    assert (not np.array_equal(expected, xy)) is moved


VENDORED = {
    "leaflet": ["leaflet.js", "leaflet.css", "images/layers.png", "images/layers-2x.png",
                "images/marker-icon.png", "images/marker-icon-2x.png",
                "images/marker-shadow.png"],
    "leaflet.markercluster": ["leaflet.markercluster.js", "MarkerCluster.css",
                              "MarkerCluster.Default.css"],
    "leaflet.heat": ["leaflet-heat.js"],
}


def test_vendored_map_libraries_are_present_licensed_and_documented():
    doc = (ROOT / "docs" / "third-party.md").read_text(encoding="utf-8")
    for folder, files in VENDORED.items():
        base = ROOT / "assets" / "vendor" / folder
        assert (base / "LICENSE").stat().st_size > 500
        for name in files:
            assert (base / name).stat().st_size > 0, name
            assert f"assets/vendor/{folder}/{name}" in doc
    css = (ROOT / "assets" / "vendor" / "leaflet" / "leaflet.css").read_text(encoding="utf-8")
    for image in re.findall(r"url\((images/[^)]+)\)", css):
        assert (ROOT / "assets" / "vendor" / "leaflet" / image).is_file()
    for path in (ROOT / "assets" / "vendor").rglob("*.css"):
        # no stylesheet pulls anything from the internet (the map must work offline)
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"""url\(\s*["']?(?:https?:)?//|@import""", text), path
