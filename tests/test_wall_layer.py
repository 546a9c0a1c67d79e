"""The wall draws the store's active village layer: imported polygons at once, schematic else.

Imported villages are written as ``cockpit geodata import`` writes them (a BoundaryImport row,
BoundaryFeature rows of GeoJSON in WGS-84, then the change signal); their rings are stored
clockwise as well as counter-clockwise, since the wall must not depend on the store's winding.
Unit tests build the figures from a layer; integration tests go through the Dash callbacks
(the router's page and the wall's poll) and the real ingest, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime

import geopandas as gpd
import pytest
import shapely
from sqlalchemy import event

import callbacks.wall_parts as parts
from cockpit import geo
from cockpit.ingest import Ingestor
from cockpit.mapdata import layers
from cockpit.store.map_models import BoundaryFeature, BoundaryImport
from cockpit.store.models import Incident
from cockpit.streams import signal_change
from layouts.map_counts import CAPTION_NAMES, schematic_caption, wall_map_figure
from layouts.wall import WallIds
from layouts.wall_waste_figures import choropleth_shapes, village_rows
from tests.access_support import signed_in_client
from tests.factories import incident_fields
from tests.test_wall_waste import disposals, ingest, map_operations, poll, registry
from tests.wall_support import SEEN

NAMES = {code: info["name"] for code, info in geo.village_names().items()}
ORDER = sorted(NAMES)
WUJIA = "330110006204"  # 吴家村
QIAOSI = "330110006003"  # 乔司社区
TARGET = 0.95

#: Squares (min_lon, min_lat, max_lon, max_lat), WGS-84 degrees, each inside its village's
#: schematic polygon (so no other village's fill lies under it).
SQUARES = {WUJIA: (120.287, 30.3796, 120.299, 30.3916),
           QIAOSI: (120.2754, 30.3619, 120.2874, 30.3739)}
#: A square east of the schematic layer, 2.7 km from its nearest village: the schematic join
#: places no point in it.
FAR_SQUARE = (120.345, 30.33, 120.357, 30.342)


def ring(bounds: tuple[float, float, float, float], clockwise: bool) -> list[list[float]]:
    """The closed exterior ring of a square, in the given winding."""
    x0, y0, x1, y1 = bounds
    ccw = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    return ccw[::-1] if clockwise else ccw


def import_villages(services, squares: Mapping[str, tuple[float, float, float, float]],
                    clockwise: bool | Mapping[str, bool], signal: bool = True) -> int:
    """Store squares as imported village polygons; returns the import's id (layer version).

    ``clockwise`` gives the stored winding (per village, or one for all).
    """
    with services.sessions.begin() as session:
        run = BoundaryImport(level="village", method="imported", source="test.geojson",
                             source_crs="wgs84", encoding="utf-8", features=len(squares),
                             report={}, imported_at=datetime.now(UTC), actor="test")
        session.add(run)
        session.flush()
        for code, bounds in squares.items():
            cw = clockwise if isinstance(clockwise, bool) else clockwise[code]
            geometry = {"type": "Polygon", "coordinates": [ring(bounds, cw)]}
            session.merge(BoundaryFeature(level="village", code=code, name=NAMES[code],
                                          village_code=code, geometry=json.dumps(geometry),
                                          generated=False, method="imported",
                                          import_id=run.import_id))
        version = run.import_id
    if signal:
        signal_change(services.redis, services.settings, [])
    return version


@pytest.fixture(autouse=True)
def _shipped_layer() -> Iterator[None]:
    """Leave this process drawing and joining on the shipped layer, as other tests expect."""
    yield
    parts.use_layer(None)
    geo.use_villages(None)


def subpaths(path: str) -> list[list[tuple[float, float]]]:
    """The vertices of each ``M…Z`` subpath of an SVG path of ``M``/``L`` commands."""
    out = []
    for part in re.findall(r"M([^MZ]*)Z", path):
        out.append([tuple(float(v) for v in pair.split(","))
                    for pair in part.split("L")])
    assert "".join(f"M{p}Z" for p in re.findall(r"M([^MZ]*)Z", path)) == path
    return out


def corners(bounds: tuple[float, float, float, float]) -> set[tuple[float, float]]:
    x0, y0, x1, y1 = bounds
    return {(x0, y0), (x1, y0), (x1, y1), (x0, y1)}


def assert_only_the_square(path: str, bounds: tuple[float, float, float, float]) -> None:
    """The path is one closed ring on the square's four corners: nothing around it."""
    (only,) = subpaths(path)
    assert len(only) == 5 and only[0] == only[-1]
    assert {(round(x, 6), round(y, 6)) for x, y in only} == corners(bounds)


# ------------------------------------------------------------------ unit: the fills' paths


@pytest.mark.parametrize("clockwise", [True, False])
def test_a_village_square_fills_only_the_square_whatever_its_winding(clockwise):
    xs, ys = zip(*ring(SQUARES[WUJIA], clockwise), strict=True)
    rows = [{"code": WUJIA, "correct": 39, "total": 40}]
    (shape,) = choropleth_shapes({WUJIA: [(list(xs), list(ys))]}, rows, TARGET)
    assert shape["type"] == "path" and shape["fillrule"] == "evenodd"
    assert_only_the_square(shape["path"], SQUARES[WUJIA])


@pytest.mark.parametrize("clockwise", [True, False])
def test_the_layer_read_from_the_store_gives_the_square_as_is(sqlite_services, clockwise):
    services = sqlite_services
    import_villages(services, {WUJIA: SQUARES[WUJIA]}, clockwise, signal=False)
    layer = parts.sync_layer(services)
    assert layer.version > 0 and layer.schematic == frozenset(ORDER) - {WUJIA}
    rings = parts.village_rings()
    assert len(rings[WUJIA]) == 1  # one ring, counter-clockwise whatever was stored
    assert shapely.LinearRing(list(zip(*rings[WUJIA][0], strict=True))).is_ccw
    rows = village_rows({"villages": [{"village_code": WUJIA, "correct": 9, "total": 10}]},
                        ORDER, NAMES, TARGET)
    shapes = {s["name"]: s for s in choropleth_shapes(rings, rows, TARGET)}
    assert len(shapes) == 15
    assert_only_the_square(shapes[f"waste-{WUJIA}"]["path"], SQUARES[WUJIA])
    # the outline trace draws the square too, and the map's extent is the layer's
    base = parts.map_base("zh")
    outline = set(zip(base.outline_x, base.outline_y, strict=True))
    assert corners(SQUARES[WUJIA]) <= outline
    assert base.bounds == tuple(float(v) for v in layer.villages.total_bounds)


# ------------------------------------------------------------------ unit: the 示意 marks


def test_labels_and_caption_say_which_villages_are_schematic(sqlite_services):
    services = sqlite_services

    def base_at(squares: Mapping[str, tuple]) -> object:
        import_villages(services, squares, clockwise=True, signal=False)
        parts.sync_layer(services)
        return parts.map_base("zh")

    shipped = parts.map_base("zh")
    assert schematic_caption(shipped, "zh") == "村社边界为示意"
    assert schematic_caption(shipped, "en") == "Village boundaries are schematic"
    # one village imported: fourteen schematic, the caption points at their labels' marker
    one = base_at({WUJIA: SQUARES[WUJIA]})
    label = dict((code, text) for code, text in zip(
        [c for c, *_ in one.labels], wall_map_figure(one, "zh")["data"][3]["text"],
        strict=True))
    assert "（示意）" not in label[WUJIA] and all("（示意）" in label[c] for c in ORDER
                                                 if c != WUJIA)
    assert schematic_caption(one, "zh") == "标（示意）的村社边界为示意"
    assert parts.village_names("zh", marked=True)[WUJIA] == NAMES[WUJIA]
    assert parts.village_names("zh", marked=True)[QIAOSI] == NAMES[QIAOSI] + "（示意）"
    # all but a few imported: the caption names those few
    spread = {code: (120.40 + 0.01 * n, 30.30, 120.405 + 0.01 * n, 30.305)
              for n, code in enumerate(ORDER)}
    few = ORDER[:CAPTION_NAMES]
    some = base_at({code: spread[code] for code in ORDER[CAPTION_NAMES:]})
    assert schematic_caption(some, "zh") == "村社边界为示意：" + "、".join(
        NAMES[c] for c in few)
    english = parts.map_base("en")
    assert schematic_caption(english, "en") == "Village boundaries are schematic: " + ", ".join(
        geo.village_names()[c]["name_en"] for c in few)
    # every village imported: no caption, no marker, and the subdistrict's edge is theirs
    every = base_at(spread)
    figure = wall_map_figure(every, "zh")
    assert figure["layout"]["annotations"] == [] and every.schematic == frozenset()
    assert not any("示意" in text for text in figure["data"][3]["text"])
    union = shapely.union_all([shapely.box(*b) for b in spread.values()])
    assert set(zip(every.boundary_x, every.boundary_y, strict=True)) - {(None, None)} == {
        tuple(xy) for poly in getattr(union, "geoms", [union])
        for xy in shapely.get_coordinates(poly.exterior)}
    assert parts.map_bounds()[0] < 120.40 and parts.map_bounds()[2] > 120.545


# ------------------------------------------------------------------ integration: the wall


def router_page(client, app, path: str = "/") -> dict:
    """The page the router renders for ``path`` (what opening the wall shows), as JSON."""
    from layouts import ShellIds

    key = next(k for k in app.callback_map if k == f"{ShellIds.PAGE}.children")
    reply = client.post("/_dash-update-component", json={
        "output": key, "outputs": {"id": str(ShellIds.PAGE), "property": "children"},
        "changedPropIds": [f"{ShellIds.URL}.pathname"],
        "inputs": [{"id": str(ShellIds.URL), "property": "pathname", "value": path},
                   {"id": str(ShellIds.URL), "property": "search", "value": ""}]})
    assert reply.status_code == 200, reply.get_data()[:300]
    return reply.get_json()["response"][str(ShellIds.PAGE)]["children"]


def map_of(tree) -> dict:
    """The wall map's figure in a rendered page."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            props = node.get("props", node)
            if props.get("id") == str(WallIds.MAP):
                found.append(props["figure"])
            for value in props.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)
    walk(tree)
    assert len(found) == 1
    return found[0]


def points(trace: Mapping) -> set[tuple[float, float]]:
    return {(x, y) for x, y in zip(trace["x"], trace["y"], strict=True) if x is not None}


def test_the_first_poll_and_page_after_an_import_draw_the_imported_square(services):
    from app import create_app

    app = create_app(services=services)
    client = signed_in_client(app, services, "wall")
    now = datetime.now(UTC)
    ingest(services, registry([NAMES[WUJIA]]) + disposals(now, {NAMES[WUJIA]: (37, 3)}))
    status, first = poll(client, app)
    assert status == 200
    ops = map_operations(first)
    schematic = ops[("data", 0)]
    assert ops[("layout", "annotations")][0]["text"] == "村社边界为示意"
    seen = first[SEEN]["data"]
    assert seen["layer"] == 0

    version = import_villages(services, {WUJIA: SQUARES[WUJIA]}, clockwise=True)
    status, moved = poll(client, app, seen=seen)
    assert status == 200 and moved[SEEN]["data"]["layer"] == version
    ops = map_operations(moved)
    outline = points(ops[("data", 0)])
    assert corners(SQUARES[WUJIA]) <= outline and outline != points(schematic)
    labels = dict(zip([code for code in ORDER], ops[("data", 3)]["text"], strict=True))
    assert "示意" not in labels[WUJIA] and "（示意）" in labels[QIAOSI]
    notes = [n["text"] for n in ops[("layout", "annotations")] if n.get("xref") == "paper"]
    assert notes == ["标（示意）的村社边界为示意"]
    fills = {s["name"]: s for s in ops[("layout", "shapes")]}
    assert_only_the_square(fills[f"waste-{WUJIA}"]["path"], SQUARES[WUJIA])
    assert fills[f"waste-{WUJIA}"]["fillcolor"].startswith("rgba(255")  # 92.5 %: amber
    assert ops[("data", 0, "fillcolor")] == "rgba(0, 0, 0, 0)"  # the fills show instead
    # the screen now draws this layer: the next poll sends no outline again
    signal_change(services.redis, services.settings, [])
    status, later = poll(client, app, seen=moved[SEEN]["data"])
    assert status == 200 and ("data", 0) not in map_operations(later)

    # a wall opened now draws the square from the start
    figure = map_of(router_page(client, app))
    assert corners(SQUARES[WUJIA]) <= points(figure["data"][0])
    assert [n["text"] for n in figure["layout"]["annotations"]] == ["标（示意）的村社边界为示意"]


def test_the_layer_is_read_once_per_version_and_asked_for_once_per_data_version(
        sqlite_services):
    from app import create_app

    services = sqlite_services
    statements: list[str] = []
    event.listen(services.engine, "before_cursor_execute",
                 lambda *args: statements.append(args[2]))

    def boundary_reads() -> tuple[int, int]:
        asked = sum(1 for s in statements if re.search(r"\bFROM boundary_imports\b", s))
        read = sum(1 for s in statements if re.search(r"\bFROM boundary_features\b", s))
        statements.clear()
        return asked, read

    app = create_app(services=services)
    client = signed_in_client(app, services, "wall")
    boundary_reads()
    status, first = poll(client, app)
    assert status == 200 and boundary_reads() == (1, 0)  # nothing imported: shipped layer
    poll(client, app)  # a second screen, same data version: nothing asked
    router_page(client, app)  # nor by opening the page
    assert boundary_reads() == (0, 0)
    signal_change(services.redis, services.settings, [])  # data moved, the layer did not
    status, _ = poll(client, app, seen=first[SEEN]["data"])
    assert status == 200 and boundary_reads() == (1, 0)
    import_villages(services, {QIAOSI: SQUARES[QIAOSI]}, clockwise=False)
    boundary_reads()
    for _ in range(3):  # three screens at the import's data version: one read of the layer
        status, _ = poll(client, app, seen=first[SEEN]["data"])
        assert status == 200
    asked, read = boundary_reads()
    assert asked == 1 and read == 1


def test_a_wall_whose_source_is_down_still_opens_on_the_last_layer(sqlite_services):
    from app import create_app
    from tests.test_wall_layout import RedisDown, _like

    import_villages(sqlite_services, {WUJIA: SQUARES[WUJIA]}, clockwise=True)
    parts.sync_layer(sqlite_services)
    services = _like(RedisDown, sqlite_services)
    app = create_app(services=services)
    client = signed_in_client(app, services, "wall")
    figure = map_of(router_page(client, app))
    assert corners(SQUARES[WUJIA]) <= points(figure["data"][0])


# ------------------------------------------------------------------ integration: the ingest


def incident_at(incident_id: str, lon: float, lat: float) -> dict[str, str]:
    return incident_fields(incident_id, at=datetime.now(UTC), lon=f"{lon:.6f}",
                           lat=f"{lat:.6f}")


def run_ingest(services, entries: Sequence[dict[str, str]], worker: Ingestor | None = None,
               every_s: float | None = None) -> Ingestor:
    """XADD incident ``entries`` and step the real Ingestor until idle."""
    for fields in entries:
        services.redis.xadd(services.settings.stream("incidents"), fields)
    if worker is None:
        worker = Ingestor(services.settings, services.redis, services.sessions,
                          consumer="layer", block_ms=50)
        if every_s is not None:
            worker.layer.every_s = every_s
        worker.start()
    while worker.step():
        pass
    return worker


def village_of(services, incident_id: str) -> str | None:
    with services.read() as session:
        return session.get(Incident, incident_id).village_code


def test_ingest_joins_points_on_the_imported_polygon(services):
    x0, y0, x1, y1 = FAR_SQUARE
    inside = ((x0 + x1) / 2, (y0 + y1) / 2)
    assert geo.assign_villages([inside[0]], [inside[1]]) == [None]  # schematic: nowhere
    run_ingest(services, [incident_at("before", *inside)])
    assert village_of(services, "before") is None
    import_villages(services, {WUJIA: FAR_SQUARE}, clockwise=True)
    worker = run_ingest(services, [incident_at("after", *inside),
                                   incident_at("named", *inside) | {"village": "乔司社区"}])
    assert village_of(services, "after") == WUJIA  # the imported square, stored clockwise
    assert village_of(services, "named") == QIAOSI  # the producer's village still wins
    with services.read() as session:
        assert worker.layer.version == layers.layer_version(session)
    # the schematic polygons of the other villages still place their points
    lon, lat = next((lon, lat) for code, _, lon, lat in geo.label_points(geo.load_villages())
                    if code == QIAOSI)
    run_ingest(services, [incident_at("schematic", lon, lat)], worker)
    assert village_of(services, "schematic") == QIAOSI


def test_ingest_asks_for_the_layer_every_few_seconds_not_every_batch(sqlite_services):
    import time

    services = sqlite_services
    x0, y0, x1, y1 = FAR_SQUARE
    inside = ((x0 + x1) / 2, (y0 + y1) / 2)
    asked: list[str] = []
    event.listen(services.engine, "before_cursor_execute", lambda *args: asked.append(
        args[2]) if re.search(r"\bFROM boundary_imports\b", args[2]) else None)
    worker = run_ingest(services, [incident_at(f"b{n}", *inside) for n in range(3)],
                        every_s=1.0)
    for n in range(5):  # five more batches within the period
        run_ingest(services, [incident_at(f"c{n}", *inside)], worker)
    assert len(asked) == 1  # at start only
    import_villages(services, {WUJIA: FAR_SQUARE}, clockwise=False)
    run_ingest(services, [incident_at("soon", *inside)], worker)
    assert village_of(services, "soon") is None  # not asked again yet
    time.sleep(1.0)
    run_ingest(services, [incident_at("later", *inside)], worker)
    assert len(asked) == 2 and village_of(services, "later") == WUJIA


def test_the_shipped_layer_is_what_an_empty_store_gives():
    layer = parts.shipped_layer()
    assert layer.version == 0 and layer.schematic == frozenset(ORDER)
    assert isinstance(layer.villages, gpd.GeoDataFrame) and layer.villages.crs.to_epsg() == 4326
    assert all(poly.exterior.is_ccw for poly in layer.villages.geometry)
