"""The wall map's read models on real databases: points for the newest, counts for the rest."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

import callbacks.wall as wall
from cockpit import geo, queries
from cockpit.events import parse_event
from cockpit.ingest import resolve_villages
from cockpit.store.apply import apply_batch
from layouts.map_counts import VILLAGE_PREFIX, bubble_px, count_trace, undrawn
from tests.factories import incident_fields

NOW = datetime(2026, 11, 30, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
VILLAGES = geo.label_points(geo.load_villages(), with_suffix=False)


def _store(services, entries):
    with services.sessions.begin() as session:
        apply_batch(session, [(parse_event(f, now=NOW), f"0-{i + 1}")
                              for i, f in enumerate(entries)], resolve_villages)


def _incident(n: int, village: int | None, minutes_ago: float, stages=("reported",),
              **extra) -> list[dict[str, str]]:
    """Events of incident ``m-<n>`` reported ``minutes_ago`` at a village's label point
    (``village`` None: no position), each later stage a minute after the one before."""
    at = NOW - timedelta(minutes=minutes_ago)
    first = incident_fields(f"m-{n}", at=at, **extra)
    if village is None:
        del first["lon"], first["lat"], first["crs"]
    else:
        _, _, lon, lat = VILLAGES[village]
        first.update(lon=f"{lon:.6f}", lat=f"{lat:.6f}")
    return [first] + [incident_fields(f"m-{n}", stage, at + timedelta(minutes=k + 1))
                      for k, stage in enumerate(stages[1:])]


def _mixed_store(services) -> None:
    """17 incidents: open and finished, recent and old, with and without a position."""
    events = []
    for n in range(12):  # open ones in three villages, one a day old
        events += _incident(n, n % 3, 5 + 2 * n if n else 60 * 30,
                            stages=("reported", "dispatched") if n % 2 else ("reported",))
    events += _incident(12, 0, 90, stages=("reported", "dispatched", "resolved", "closed"))
    events += _incident(13, 1, 60 * 30, stages=("reported", "closed"))  # finished a day ago
    events += _incident(14, 2, 30, stages=("reported", "cancelled"))
    events += _incident(15, None, 20)  # no position: counted, never drawn
    events += _incident(16, 4, 40, stages=("reported", "assessed", "dispatched", "arrived",
                                           "resolved"))
    _store(services, events)


def test_map_points_are_the_map_incidents_with_only_the_map_fields(services):
    _mixed_store(services)
    tz = services.settings.tz
    with services.read() as session:
        full = queries.map_incidents(session, tz, NOW, hours=24)
        points = queries.map_points(session, tz, NOW, hours=24)
        newest = queries.map_points(session, tz, NOW, hours=24, limit=5)
    assert len(full) == 15  # 17 less the one closed a day ago and the one without position
    assert points == [{k: row[k] for k in queries.MAP_FIELDS} for row in full]
    assert newest == points[:5]
    assert [p["stage_at"] for p in points] == sorted((p["stage_at"] for p in points),
                                                     reverse=True)


def test_map_villages_count_every_map_incident_with_or_without_a_position(services):
    _mixed_store(services)
    with services.read() as session:
        counts = queries.map_villages(session, NOW, hours=24)
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
    assert counts[""] == {"open": 1, "done": 0}  # the one without position (and village)
    assert counts[VILLAGES[0][0]] == {"open": 4, "done": 1}
    assert counts[VILLAGES[4][0]] == {"open": 1, "done": 0}  # a resolved one is still open
    assert sum(c["open"] + c["done"] for c in counts.values()) == 16


def test_the_wall_draws_the_newest_points_and_counts_the_rest_per_village(services,
                                                                         monkeypatch):
    _mixed_store(services)
    monkeypatch.setattr(wall, "MAP_POINTS", 4)
    models = wall.read_models(services, NOW)
    assert [p["incident_id"] for p in models["map"]] == ["m-1", "m-2", "m-3", "m-4"]
    view = wall.build_view(models, "zh")
    traces = view["traces"]
    assert sum(len(tr["x"]) for tr in traces[:-1]) == 4
    bubbles = traces[-1]
    assert bubbles["uid"] == "villages"
    shown = {c.removeprefix(VILLAGE_PREFIX): int(text[1:])
             for c, text in zip(bubbles["customdata"], bubbles["text"], strict=True)}
    # village 0 holds 5 map incidents (4 open, 1 closed), 1 of them (m-3) drawn; village 1:
    # 4 - 2 (m-1, m-4); village 2: 5 (4 open, 1 cancelled) - 1 (m-2); village 4: 1 resolved
    assert shown == {VILLAGES[0][0]: 4, VILLAGES[1][0]: 2, VILLAGES[2][0]: 4,
                     VILLAGES[4][0]: 1}
    # the points and the bubbles together are every map incident with a village
    assert sum(shown.values()) + 4 == 16 - 1
    hover = bubbles["hovertext"][[*shown].index(VILLAGES[0][0])]
    assert "另有 4 起未逐点显示" in hover and "本村在办 4 起" in hover and "办结/撤销 1 起" in hover
    assert VILLAGES[0][1] in hover
    # below its village's label, bigger for more
    assert bubbles["x"][0] == VILLAGES[0][2] and bubbles["y"][0] < VILLAGES[0][3]
    assert bubble_px(5) > bubble_px(1) and bubble_px(10**9) == 56


def test_no_bubbles_when_every_incident_is_drawn(services):
    _mixed_store(services)
    models = wall.read_models(services, NOW)
    view = wall.build_view(models, "en")
    assert len(models["map"]) == 15
    bubbles = view["traces"][-1]
    assert bubbles["x"] == [] and bubbles["customdata"] == []  # the trace stays, empty
    # the page's first figure has every trace a refresh patches, in the same places
    first = wall.map_figure(wall.map_base("en"), (), "en",
                            extra=[count_trace(wall.map_base("en"), {}, (), "en")])
    assert [tr["uid"] for tr in first["data"][wall.FIRST_INCIDENT_TRACE:]] == \
        [tr["uid"] for tr in view["traces"]]


def test_undrawn_never_goes_below_zero_and_skips_the_unplaced():
    counts = {"a": {"open": 2, "done": 0}, "b": {"open": 1, "done": 1}, "": {"open": 3,
                                                                              "done": 0}}
    points = [{"village_code": "a"}, {"village_code": "a"}, {"village_code": "a"},
              {"village_code": "b"}, {"village_code": None}]
    assert undrawn(counts, points) == {"b": 1}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_count_trace_keeps_its_place_when_empty(lang):
    base = wall.map_base(lang)
    trace = count_trace(base, {}, (), lang)
    assert trace["uid"] == "villages" and trace["x"] == [] and trace["hovertext"] == []
    figure = wall.map_figure(base, (), lang, extra=[trace])
    assert figure["data"][-1]["uid"] == "villages"
