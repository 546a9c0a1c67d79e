"""The wall map's read models on real databases: points first for open incidents, then counts
per village when there are more than the map draws."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

import callbacks.wall_feed as feed
from callbacks import wall_parts
from cockpit import geo, map_queries, queries
from cockpit.events import parse_event
from cockpit.ingest import resolve_villages
from cockpit.store.apply import apply_batch
from layouts.figures import FIRST_INCIDENT_TRACE, map_figure
from layouts.map_counts import VILLAGE_PREFIX, bubble_px, count_trace, village_marks
from tests.factories import incident_fields

NOW = datetime(2026, 11, 30, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
VILLAGES = geo.label_points(geo.load_villages(), with_suffix=False)
CODE = [v[0] for v in VILLAGES]


def _store(services, entries):
    with services.sessions.begin() as session:
        apply_batch(session, [(parse_event(f, now=NOW), f"0-{i + 1}")
                              for i, f in enumerate(entries)], resolve_villages)


def _incident(n: int, village: int | None, minutes_ago: float, stages=("reported",),
              position: bool = True, **extra) -> list[dict[str, str]]:
    """Events of incident ``m-<n>`` reported ``minutes_ago`` at a village's label point (or
    only naming the village, ``position`` False), each later stage a minute after the last."""
    at = NOW - timedelta(minutes=minutes_ago)
    first = incident_fields(f"m-{n}", at=at, **extra)
    if village is None or not position:
        del first["lon"], first["lat"], first["crs"]
        if village is not None:
            first["village"] = CODE[village]
    else:
        _, _, lon, lat = VILLAGES[village]
        first.update(lon=f"{lon:.6f}", lat=f"{lat:.6f}")
    return [first] + [incident_fields(f"m-{n}", stage, at + timedelta(minutes=k + 1))
                      for k, stage in enumerate(stages[1:])]


def _mixed_store(services) -> None:
    """19 incidents: open and finished, recent and old, with and without a position."""
    events = []
    for n in range(12):  # open ones in villages 0-2 (n % 3), one a day old
        events += _incident(n, n % 3, 5 + 2 * n if n else 60 * 30,
                            stages=("reported", "dispatched") if n % 2 else ("reported",))
    events += _incident(12, 0, 90, stages=("reported", "dispatched", "resolved", "closed"))
    events += _incident(13, 1, 60 * 30, stages=("reported", "closed"))  # finished a day ago
    events += _incident(14, 2, 30, stages=("reported", "cancelled"))
    events += _incident(15, None, 20)  # neither position nor village
    events += _incident(16, 4, 40, stages=("reported", "assessed", "dispatched", "arrived",
                                           "resolved"))
    events += _incident(17, 5, 25, position=False)  # a village, no position
    events += _incident(18, 6, 1)  # the newest
    _store(services, events)


def test_map_points_put_open_incidents_first_within_the_bounds(services):
    _mixed_store(services)
    _store(services, [incident_fields("far", at=NOW - timedelta(minutes=2), lon="120.20",
                                      lat="30.45")])  # in Linping, off the map
    tz = services.settings.tz
    with services.read() as session:
        full = map_queries.map_incidents(session, tz, NOW, hours=24)
        points = map_queries.map_points(session, tz, NOW, hours=24, bounds=wall_parts.map_bounds())
        first = map_queries.map_points(session, tz, NOW, hours=24, limit=5,
                                       bounds=wall_parts.map_bounds())
        changes = map_queries.latest_changes(session, tz, NOW, hours=24, limit=3)
    # every incident with a position, less the one closed a day ago; newest change first
    assert [r["incident_id"] for r in full][:4] == ["m-18", "far", "m-1", "m-2"]
    assert len(full) == 17
    assert changes == [{k: row[k] for k in map_queries.MAP_FIELDS} for row in full[:3]]
    # the points: not the one off the map; open ones (resolved included) before finished
    on_map = [r for r in full if r["incident_id"] != "far"]
    finished = [r for r in on_map if r["stage"] in ("closed", "cancelled")]
    expected = [r for r in on_map if r not in finished] + finished
    assert points == [{k: row[k] for k in map_queries.MAP_FIELDS} for row in expected]
    assert [p["incident_id"] for p in points][-2:] == ["m-14", "m-12"]
    assert first == points[:5]


def test_map_villages_count_every_map_incident_with_or_without_a_position(services):
    _mixed_store(services)
    with services.read() as session:
        counts = map_queries.map_villages(session, NOW, hours=24)
        rows = queries.list_incidents(session, services.settings.tz, limit=100)
    cut = (NOW - timedelta(hours=24)).astimezone(services.settings.tz).isoformat()
    expected: dict[str, Counter] = {}
    for row in rows:
        kind = "done" if row["stage"] in ("closed", "cancelled") else "open"
        if kind == "done" and row["stage_at"] < cut:
            continue
        expected.setdefault(row["village_code"] or "", Counter())[kind] += 1
    assert counts == {code: {"open": c["open"], "done": c["done"]}
                      for code, c in expected.items()}
    assert counts[""] == {"open": 1, "done": 0}  # neither position nor village
    assert counts[CODE[0]] == {"open": 4, "done": 1}
    assert counts[CODE[4]] == {"open": 1, "done": 0}  # a resolved one is still open
    assert counts[CODE[5]] == {"open": 1, "done": 0}  # named its village, no position
    assert sum(c["open"] + c["done"] for c in counts.values()) == 18


def _bubbles(trace) -> dict[str, str]:
    return {c.removeprefix(VILLAGE_PREFIX): text
            for c, text in zip(trace["customdata"], trace["text"], strict=True)}


def test_beyond_its_points_the_wall_shows_villages_as_clusters(services, monkeypatch):
    _mixed_store(services)
    monkeypatch.setattr(feed, "MAP_POINTS", 4)
    models = feed.read_models(services, NOW)
    assert [p["incident_id"] for p in models["map"]] == ["m-18", "m-1", "m-2", "m-3"]
    view = feed.build_view(models, "zh")
    traces = view["traces"]
    drawn = [i for tr in traces[:-1] for i in tr["customdata"]]
    # villages 0-2 have open incidents the map could not draw: each is one cluster with its
    # open count, and none of its points stays; village 6 (all drawn) keeps its point
    assert drawn == ["m-18"]
    bubbles = traces[-1]
    assert bubbles["uid"] == "villages"
    assert _bubbles(bubbles) == {CODE[0]: "4", CODE[1]: "4", CODE[2]: "4", CODE[4]: "1",
                                 CODE[5]: "1"}
    hover = bubbles["hovertext"][bubbles["customdata"].index(VILLAGE_PREFIX + CODE[0])]
    assert "按村汇总" in hover and "本村在办 4 起" in hover and "办结/撤销 1 起" in hover
    assert VILLAGES[0][1] in hover
    # below its village's label, bigger for more, drawn over everything
    k = bubbles["customdata"].index(VILLAGE_PREFIX + CODE[0])
    assert bubbles["x"][k] == VILLAGES[0][2] and bubbles["y"][k] < VILLAGES[0][3]
    assert bubble_px(4) > bubble_px(1) and bubble_px(10**9) == 60
    # the ticker still has the latest changes, finished ones included
    assert [c["incident_id"] for c in models["changes"]][:3] == ["m-18", "m-1", "m-2"]


def test_when_every_point_fits_only_positionless_incidents_get_a_bubble(services):
    _mixed_store(services)
    models = feed.read_models(services, NOW)
    view = feed.build_view(models, "en")
    assert len(models["map"]) == 16
    drawn = sorted(i for tr in view["traces"][:-1] for i in tr["customdata"])
    assert drawn == sorted(p["incident_id"] for p in models["map"])
    bubbles = view["traces"][-1]
    assert _bubbles(bubbles) == {CODE[5]: "+1"}
    assert "1 more open not on the map" in bubbles["hovertext"][0]
    # the page's first figure has every trace a refresh patches, in the same places
    first = map_figure(wall_parts.map_base("en"), (), "en",
                       extra=[count_trace(wall_parts.map_base("en"), (), {}, "en")])
    assert [tr["uid"] for tr in first["data"][FIRST_INCIDENT_TRACE:]] == \
        [tr["uid"] for tr in view["traces"]]


def test_village_marks_ignore_unplaced_villages_and_finished_points():
    counts = {"a": {"open": 2, "done": 5}, "b": {"open": 1, "done": 0}, "": {"open": 3,
              "done": 0}, "zz": {"open": 9, "done": 0}}
    points = [{"village_code": "a", "stage": "reported"}, {"village_code": "a",
              "stage": "closed"}, {"village_code": "b", "stage": "resolved"}]
    marks = village_marks(points, counts, limit=2, known={"a", "b"})  # two open: the limit
    assert marks.bubbles == [("a", "cluster", 2)]
    assert [p["village_code"] for p in marks.points] == ["b"]
    assert village_marks(points, counts, 3, {"a", "b"}).bubbles == [("a", "extra", 1)]


def test_finished_incidents_filling_the_points_never_make_clusters(services, monkeypatch):
    """Many finished incidents today and a few open ones: no village is clustered."""
    _mixed_store(services)
    events = []
    for n in range(6):  # six closed in village 7: with MAP_POINTS 16 the points are full
        events += _incident(100 + n, 7, 50 + n, stages=("reported", "closed"))
    _store(services, events)
    monkeypatch.setattr(feed, "MAP_POINTS", 16)
    models = feed.read_models(services, NOW)
    assert len(models["map"]) == 16  # 14 open + 2 of the finished
    bubbles = feed.build_view(models, "zh")["traces"][-1]
    assert _bubbles(bubbles) == {CODE[5]: "+1"}  # only the positionless one, no cluster


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_count_trace_keeps_its_place_when_empty(lang):
    base = wall_parts.map_base(lang)
    trace = count_trace(base, (), {}, lang)
    assert trace["uid"] == "villages" and trace["x"] == [] and trace["hovertext"] == []
    figure = map_figure(base, (), lang, extra=[trace])
    assert figure["data"][-1]["uid"] == "villages"


def test_the_map_shows_what_lies_in_the_imported_layer(services):
    """An imported village beyond the schematic layer widens the map: its incidents show."""
    from cockpit.store.map_models import BoundaryFeature, BoundaryImport

    far = {"type": "Polygon", "coordinates": [[[120.357, 30.33], [120.357, 30.342],
                                               [120.345, 30.342], [120.345, 30.33],
                                               [120.357, 30.33]]]}  # clockwise, 2.7 km east
    _store(services, [incident_fields("east", at=NOW - timedelta(minutes=3), lon="120.351",
                                      lat="30.336")])
    try:
        wall_parts.sync_layer(services)
        models = feed.read_models(services, NOW)
        assert models["map"] == [] and wall_parts.map_bounds()[2] < 120.345
        with services.sessions.begin() as session:
            run = BoundaryImport(level="village", method="imported", source="east.geojson",
                                 features=1, report={}, imported_at=NOW)
            session.add(run)
            session.flush()
            session.add(BoundaryFeature(level="village", code=CODE[0], name=VILLAGES[0][1],
                                        village_code=CODE[0], geometry=json.dumps(far),
                                        method="imported", import_id=run.import_id))
        wall_parts.sync_layer(services)
        models = feed.read_models(services, NOW)
        assert [p["incident_id"] for p in models["map"]] == ["east"]
        assert wall_parts.map_bounds()[2] > 120.357
        base = wall_parts.map_base("zh")
        assert CODE[0] not in base.schematic and (120.357, 30.33) in set(
            zip(base.outline_x, base.outline_y, strict=True))
    finally:
        wall_parts.use_layer(None)
