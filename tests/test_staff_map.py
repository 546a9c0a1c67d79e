"""The staff map's server side: the frame document, its points and items, its headers, the side
panel, and who may see what. Base maps: a WGS-84 point is drawn at its GCJ-02 position on Gaode
tiles, and a GCJ-02 point back at its own position (the conversion itself is checked against
published pairs in tests/test_crs.py)."""

from __future__ import annotations

import gzip
import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from app import create_app
from cockpit import crs
from layouts.staff_map import MapIds
from tests.access_support import signed_in_client
from tests.conftest import build_services, make_settings
from tests.factories import incident_fields
from tests.test_volunteers_page import body_of, call, response_of, text_of
from tests.waste_factories import ingest

IN_SCOPE = "330110006002"  # 新街社区
OTHER = "330110006201"
# a point of 新街社区 given in WGS-84, and one given in GCJ-02 (as Gaode's pickers give it)
WGS_POINT = (120.2819, 30.3518)
GCJ_POINT = (120.2905, 30.3480)


def _ingest(services, entries) -> None:
    ingest(services, entries, stream="incidents")


def _plant(services) -> datetime:
    now = datetime.now(UTC).replace(microsecond=0)
    _ingest(services, [
        incident_fields("MAP-W", at=now - timedelta(hours=2), village=IN_SCOPE,
                        lon=WGS_POINT[0], lat=WGS_POINT[1], crs="wgs84",
                        reporter_name="周杰伦", reporter_phone="13812341234"),
        incident_fields("MAP-G", at=now - timedelta(hours=1), village=IN_SCOPE,
                        lon=GCJ_POINT[0], lat=GCJ_POINT[1], crs="gcj02", category="traffic"),
        incident_fields("MAP-O", at=now - timedelta(hours=1), village=OTHER,
                        title="别村的警情"),
    ])
    return now


@pytest.fixture
def planted(services):
    _plant(services)
    return services


def _client(app, services, role, villages=None):
    return signed_in_client(app, services, role, villages=villages)


def _points(client, query="period=7d") -> dict:
    response = client.get(f"/map/points.json?{query}", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200, response.get_data()[:300]
    body = response.get_data()
    if response.headers.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    return json.loads(body)


def _at(points: dict, incident_id: str) -> tuple[float, float]:
    i = points["ids"].index(incident_id)
    return points["lon"][i], points["lat"][i]


def test_points_sit_on_the_right_street_for_each_base_map(tmp_path, redis_server_url,
                                                          sqlite_url):
    """None/OSM draw WGS-84; Gaode draws GCJ-02: the same stored incidents, two positions."""
    seen = {}
    for tiles in ("none", "osm", "gaode"):
        settings = make_settings(tmp_path / tiles, redis_server_url,
                                 sqlite_url.replace(".sqlite3", f"-{tiles}.sqlite3"),
                                 map_tiles=tiles)
        services = build_services(settings)
        try:
            _plant(services)
            app = create_app(services=services)
            seen[tiles] = _points(_client(app, services, "leader"))
        finally:
            services.close()
    wgs_of_gcj = crs.to_wgs84(*GCJ_POINT, "gcj02")
    for tiles in ("none", "osm"):
        assert _at(seen[tiles], "MAP-W") == pytest.approx(WGS_POINT, abs=1e-6)
        assert _at(seen[tiles], "MAP-G") == pytest.approx(wgs_of_gcj, abs=1e-6)
    # on Gaode tiles the WGS-84 point moves to its GCJ-02 position (about 500 m away) …
    assert _at(seen["gaode"], "MAP-W") == pytest.approx(crs.from_wgs84(*WGS_POINT, "gcj02"),
                                                        abs=1e-6)
    assert abs(_at(seen["gaode"], "MAP-W")[0] - WGS_POINT[0]) > 0.003
    # … and the point given in GCJ-02 is drawn where it was given
    assert _at(seen["gaode"], "MAP-G") == pytest.approx(GCJ_POINT, abs=1e-6)


def test_the_frame_is_drawn_in_the_base_maps_crs_and_asks_no_other_origin(
        tmp_path, redis_server_url, sqlite_url):
    documents = {}
    for tiles in ("none", "gaode"):
        settings = make_settings(tmp_path / tiles, redis_server_url,
                                 sqlite_url.replace(".sqlite3", f"-{tiles}.sqlite3"),
                                 map_tiles=tiles)
        services = build_services(settings)
        try:
            app = create_app(services=services)
            response = _client(app, services, "leader").get("/map/frame?layers=villages")
            assert response.status_code == 200
            documents[tiles] = (response.get_data(as_text=True), response.headers)
        finally:
            services.close()
    plain, headers = documents["none"]
    # no tile layer, and nothing from another origin
    assert "tileLayer" not in plain
    assert re.findall(r'(?:src|href)="(https?://[^"]+)"', plain) == []
    assert headers["X-Frame-Options"] == "SAMEORIGIN"
    csp = headers["Content-Security-Policy"]
    assert "frame-ancestors 'self'" in csp
    nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
    scripts = re.findall(r"<script([^>]*)>", plain)
    assert scripts and all(f'nonce="{nonce}"' in s for s in scripts)
    gaode, headers = documents["gaode"]
    assert "webrd0{s}.is.autonavi.com" in gaode
    assert "https://webrd01.is.autonavi.com" in headers["Content-Security-Policy"]

    def first_vertex(document):
        match = re.search(r'"coordinates": \[\[\[\[?([\d.]+), ([\d.]+)\]', document)
        return float(match.group(1)), float(match.group(2))
    wgs = first_vertex(plain)
    assert first_vertex(gaode) == pytest.approx(crs.from_wgs84(*wgs, "gcj02"), abs=2e-6)


def test_the_frame_does_not_grow_with_the_incidents(planted):
    app = create_app(services=planted)
    client = _client(app, planted, "leader")
    small = len(client.get("/map/frame?period=all").get_data())
    # 300 more, about 200 m apart (no repeats among them)
    _ingest(planted, [incident_fields(f"MORE-{n}", village=IN_SCOPE,
                                      at=datetime.now(UTC) - timedelta(minutes=n),
                                      lon=round(WGS_POINT[0] - 0.03 + 0.002 * (n % 30), 6),
                                      lat=round(WGS_POINT[1] - 0.01 + 0.002 * (n // 30), 6))
                      for n in range(300)])
    document = client.get("/map/frame?period=all").get_data(as_text=True)
    # only the figures changed: nothing is drawn per incident (they are fetched as points)
    assert len(document) < small + 2000, (small, len(document))
    assert "MORE-" not in document
    assert len(_points(client, "period=all")["ids"]) == 303


def test_items_are_masked_and_scoped(planted):
    app = create_app(services=planted)
    leader = _client(app, planted, "leader")
    item = leader.get("/map/item/MAP-W").get_json()
    text = json.dumps(item, ensure_ascii=False)
    assert item["href"] == "/incidents/MAP-W"
    assert "周**" in text and "138****1234" in text
    assert "周杰伦" not in text and "13812341234" not in text
    staff = _client(app, planted, "staff", villages=IN_SCOPE)
    assert staff.get("/map/item/MAP-W").status_code == 200
    assert staff.get("/map/item/MAP-O").status_code == 404
    assert set(_points(staff)["ids"]) == {"MAP-W", "MAP-G"}
    assert set(_points(leader)["ids"]) == {"MAP-W", "MAP-G", "MAP-O"}
    landlord_or_anonymous = app.server.test_client()
    for path in ("/map/frame", "/map/points.json", "/map/item/MAP-W"):
        assert landlord_or_anonymous.get(path).status_code in (302, 401, 403), path


def test_the_page_and_its_panel_drill_from_subdistrict_to_village_grid_and_item(planted):
    app = create_app(services=planted)
    leader = _client(app, planted, "leader")
    text = body_of(leader, app, "/map", "?period=24h")
    assert "乔司街道" in text and "网格地图" in text and "/map/frame?period=24h" in text
    assert "时段内警情" in text
    village = body_of(leader, app, "/map", f"?village={IN_SCOPE}")
    assert "新街社区" in village and "边界为示意" in village and "在办" in village
    # a click in the frame sets the selection: the panel follows without a page load
    panel = response_of(call(leader, app, f"{MapIds.PANEL}.children", {
        f"{MapIds.SELECTION}.data": {"village": IN_SCOPE, "item": "MAP-W"},
        f"{MapIds.FRAME}.src": "/map/frame?period=7d", f"{MapIds.QUERY}.data": {}},
        trigger=f"{MapIds.SELECTION}.data"))
    shown = json.dumps(panel, ensure_ascii=False)
    assert "MAP-W" in shown and "周**" in shown and "/incidents/MAP-W" in shown
    # a hand-edited link: what was wrong is named, the rest still works
    odd = body_of(leader, app, "/map", "?period=forever&cat=fire,nonsense&z=99")
    assert "已忽略" in odd and "forever" in odd and "nonsense" in odd
    english = body_of(leader, app, "/map", "?lang=en")
    assert "Grid map" in english and "Qiaosi subdistrict" in english
    staff = _client(app, planted, "staff", villages=IN_SCOPE)
    other = text_of(call(staff, app, f"{MapIds.PANEL}.children", {
        f"{MapIds.SELECTION}.data": {"village": OTHER},
        f"{MapIds.FRAME}.src": "/map/frame", f"{MapIds.QUERY}.data": {}},
        trigger=f"{MapIds.SELECTION}.data"))
    assert "不在您的管辖范围内" in other


def test_names_from_files_and_events_are_text_on_the_map():
    """Leaflet's tooltips and labels are HTML: every name is escaped when the frame is built."""
    import geopandas as gpd
    import shapely

    from cockpit import geo
    from layouts.staff_map_frame import FrameModel, build_frame

    hostile = "<b onmouseover=alert(1)>恶意</b>"
    villages = geo.load_villages().assign(name=lambda v: [hostile] + list(v["name"][1:]))
    grids = gpd.GeoDataFrame({"code": ["G-1"], "name": [hostile], "village_code": [IN_SCOPE],
                              "generated": [False]},
                             geometry=[shapely.box(120.28, 30.35, 120.285, 30.355)], crs=4326)
    document = build_frame(FrameModel(
        villages=villages, grids=grids, metrics={},
        stations=[{"station_id": "S", "name": hostile, "lon": 120.28, "lat": 30.35}],
        volunteers=[{"title": hostile, "lon": 120.28, "lat": 30.35, "on_duty": 2}],
        layers_on=frozenset({"villages", "grids", "stations", "volunteers"})))
    assert "<b onmouseover" not in document and "\\u003cb onmouseover" not in document
    assert "&lt;b onmouseover=alert(1)&gt;" in document


def test_a_view_reported_in_gcj02_is_read_back_in_wgs84_and_bad_layers_fall_back():
    from callbacks.staff_map import map_state
    from cockpit.mapdata.filters import DEFAULT_LAYERS

    gcj = crs.from_wgs84(*WGS_POINT, "gcj02")
    state = map_state({"z": "15", "lon": f"{gcj[0]:.6f}", "lat": f"{gcj[1]:.6f}",
                       "vcrs": "gcj02"})
    assert (state.view.lon, state.view.lat) == pytest.approx(WGS_POINT, abs=2e-6)
    plain = map_state({"z": "15", "lon": "120.2819", "lat": "30.3518"})
    assert (plain.view.lon, plain.view.lat) == (120.2819, 30.3518)
    nonsense = map_state({"layers": "nonsense"})
    assert nonsense.view.layers == DEFAULT_LAYERS and nonsense.problems
    assert map_state({"layers": ""}).view.layers == ()


def test_an_open_map_learns_of_an_import_and_draws_the_new_layer(planted):
    from tests.test_wall_layer import SQUARES, import_villages

    app = create_app(services=planted)
    leader = _client(app, planted, "leader")
    tick = {f"{MapIds.TICK}.n_intervals": 1}
    still = call(leader, app, f"{MapIds.LAYER_VERSION}.data",
                 {**tick, f"{MapIds.LAYER_VERSION}.data": 0}, trigger=f"{MapIds.TICK}.n_intervals")
    assert response_of(still) == {}  # nothing moved: nothing sent
    version = import_villages(planted, SQUARES, clockwise=False)
    moved = response_of(call(leader, app, f"{MapIds.LAYER_VERSION}.data",
                             {**tick, f"{MapIds.LAYER_VERSION}.data": 0},
                             trigger=f"{MapIds.TICK}.n_intervals"))
    assert moved[MapIds.LAYER_VERSION]["data"] == version
    # the frame drawn then holds the imported squares, not the schematic polygons
    document = leader.get("/map/frame?layers=villages").get_data(as_text=True)
    x0, y0, x1, y1 = next(iter(SQUARES.values()))
    assert f"[{x0}, {y0}]" in document and f"[{x1}, {y1}]" in document
