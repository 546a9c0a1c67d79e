"""Tests of the analysis screen (研判): its read models on SQLite and PostgreSQL with incidents
stored through Redis and the Ingestor, its pure figure and panel builders, and its poll
callback driven over HTTP with the Flask test client."""

from __future__ import annotations

import json
import threading
import time as clock
from collections import Counter
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import redis
from cachelib import SimpleCache
from dash import dcc, html
from sqlalchemy import text

from callbacks.analysis import OUTPUTS, build_view, clicked_village, latest_models, read_models
from cockpit import analysis, geo, governance_queries, repeats
from cockpit.services import Services
from cockpit.streams import signal_change
from layouts import ShellIds, shell
from layouts.analysis import (
    AnalysisIds,
    drill_href,
    hot_children,
    incident_href,
    layout,
    normalize_category,
    normalize_period,
    range_text,
    repeat_children,
)
from layouts.analysis_figures import count_figure, heatmap_figure, median_figure
from layouts.i18n import STRINGS
from tests.access_support import signed_in_client
from tests.store_support import ingest
from tests.test_wall_layout import texts, walk

SH = ZoneInfo("Asia/Shanghai")
#: The periods' last local day: yesterday in Beijing, so that every event is in the past.
DAY = datetime.now(SH).date() - timedelta(days=1)
NOW = datetime.combine(DAY, time(12), SH)
POINTS = geo.label_points(geo.load_villages(), with_suffix=False)
CODES = sorted(geo.village_names())


def at(day_offset: int, hour: int, minute: int = 0) -> datetime:
    """A Beijing time on the day ``DAY + day_offset``."""
    return datetime.combine(DAY + timedelta(days=day_offset), time(hour, minute), SH)


def reported(incident_id: str, category: str, when: datetime, village: int | None = None,
             ) -> dict[str, str]:
    fields = {"event_id": f"{incident_id}-reported", "type": "incident.reported",
              "occurred_at": when.isoformat(), "source": "analysis-test",
              "incident_id": incident_id, "category": category, "priority": "normal",
              "title": f"标题 {incident_id}"}
    if village is not None:
        code, _, lon, lat = POINTS[village]
        fields.update(village=code, lon=f"{lon:.6f}", lat=f"{lat:.6f}", crs="wgs84")
    return fields


def step(incident_id: str, stage: str, when: datetime) -> dict[str, str]:
    return {"event_id": f"{incident_id}-{stage}", "type": f"incident.{stage}",
            "occurred_at": when.isoformat(), "source": "analysis-test",
            "incident_id": incident_id}


def code(village: int) -> str:
    return POINTS[village][0]


def store(services: Services, events: list[dict[str, str]]) -> None:
    """XADD the events, drain an Ingestor, then bring the repeat groups up to date."""
    ingest(services, events)
    repeats.update(services.redis, services.sessions, services.settings,
                   services.settings.governance, NOW)


def scenario() -> list[dict[str, str]]:
    """Incidents over 40 days; see the assertions of test_read_models_count_and_time."""
    return [
        # today (DAY): two fires at village 0 (a repeat pair), dispatched 120 s / 240 s
        # and closed 3600 s / 1800 s after their report
        reported("A", "fire", at(0, 9, 15), 0), step("A", "dispatched", at(0, 9, 17)),
        step("A", "closed", at(0, 10, 15)),
        reported("B", "fire", at(0, 9, 40), 0), step("B", "dispatched", at(0, 9, 44)),
        step("B", "closed", at(0, 10, 10)),
        # a police call at village 1, dispatched after 60 s, still open
        reported("C", "police", at(0, 10, 5), 1), step("C", "dispatched", at(0, 10, 6)),
        # traffic at village 2: 23:50 yesterday and 00:10 today, Beijing time (the same UTC
        # day); D is dispatched after midnight, 900 s after its report
        reported("D", "traffic", at(-1, 23, 50), 2), step("D", "dispatched", at(0, 0, 5)),
        reported("E", "traffic", at(0, 0, 10), 2),
        # no position, no village
        reported("F", "medical", at(0, 11, 0)),
        # a week ago (outside 7 days, inside 30), dispatched after 300 s; and 40 days ago
        reported("G", "fire", at(-7, 9, 0), 0), step("G", "dispatched", at(-7, 9, 5)),
        reported("H", "fire", at(-40, 9, 0), 0),
    ]


def series(trends: dict, category: str) -> dict:
    return next(s for s in trends["series"] if s["category"] == category)


# ------------------------------------------------------------------ read models (both stores)


def test_read_models_count_and_time(services):
    events = scenario()
    store(services, events + events[::-1])  # each sent twice, the second time backwards
    tz = services.settings.tz
    with services.read() as session:
        matrix = analysis.hot_matrix(session, tz, NOW, days=30)
        week = analysis.hot_matrix(session, tz, NOW, days=7)
        today = analysis.hot_matrix(session, tz, NOW, days=1)
        fires = analysis.hot_matrix(session, tz, NOW, days=30, category="fire")
        trends = analysis.trends(session, tz, NOW, days=30)
        fire_trends = analysis.trends(session, tz, NOW, days=7, category="fire")
        hot = analysis.hot_villages(session, tz, NOW, days=30)
        hot_fire = analysis.hot_villages(session, tz, NOW, days=30, category="fire")
        groups = governance_queries.repeat_groups(session, tz, NOW, days=30)

    # the matrix: every village in code order, then the incidents without a village
    assert matrix["villages"] == [*CODES, "unknown"] and matrix["hours"] == list(range(24))
    assert matrix["since"] == at(-29, 0).isoformat() and matrix["until"] == at(1, 0).isoformat()
    rows = dict(zip(matrix["villages"], matrix["counts"], strict=True))
    assert all(len(row) == 24 for row in rows.values())
    assert rows[code(0)][9] == 3  # A, B and G: 09:15, 09:40 and 09:00 Beijing time
    assert rows[code(1)][10] == 1
    assert rows[code(2)][23] == 1 and rows[code(2)][0] == 1  # local hours, not UTC ones
    assert rows["unknown"][11] == 1
    assert matrix["total"] == sum(map(sum, matrix["counts"])) == 7  # H is 40 days old
    assert (week["total"], today["total"], fires["total"]) == (6, 5, 3)
    assert "unknown" not in fires["villages"]

    # trends: per Beijing day, every category, medians of the day's reports
    assert len(trends["days"]) == 30 and trends["days"][-1] == DAY.isoformat()
    assert [s["category"] for s in trends["series"]] == [
        "fire", "police", "medical", "traffic", "urban_management", "public_safety", "other",
        "all"]
    fire, police, traffic = (series(trends, c) for c in ("fire", "police", "traffic"))
    assert fire["counts"][-1] == 2 and fire["counts"][-8] == 1 and fire["total"] == 3
    assert fire["median_dispatch_s"][-1] == 180.0 and fire["median_close_s"][-1] == 2700.0
    assert fire["median_dispatch_s"][-8] == 300.0 and fire["median_close_s"][-8] is None
    assert police["median_dispatch_s"][-1] == 60.0 and police["median_close_s"][-1] is None
    assert traffic["counts"][-2:] == [1, 1]  # 23:50 and 00:10: two days
    assert traffic["median_dispatch_s"][-2:] == [900.0, None]  # by the day of the report
    everything = series(trends, "all")
    assert everything["counts"][-1] == 5 and everything["total"] == 7
    assert everything["median_dispatch_s"][-1] == 120.0  # of 120, 240 and 60 s
    assert everything["median_close_s"][-1] == 2700.0
    assert series(trends, "public_safety")["counts"] == [0] * 30
    assert all(v is None for v in series(trends, "medical")["median_dispatch_s"])
    assert [s["category"] for s in fire_trends["series"]] == ["fire", "all"]
    assert fire_trends["series"][0]["counts"] == fire_trends["series"][1]["counts"] == \
        [0] * 6 + [2]

    # hot villages: most incidents first; open ones and repeat-group members among them
    assert hot == [
        {"village_code": code(0), "count": 3, "open": 1, "repeats": 2, "share": 3 / 7},
        {"village_code": code(2), "count": 2, "open": 2, "repeats": 2, "share": 2 / 7},
        {"village_code": code(1), "count": 1, "open": 1, "repeats": 0, "share": 1 / 7}]
    assert [(h["village_code"], h["count"], h["share"]) for h in hot_fire] == [(code(0), 3, 1.0)]
    assert {(g["category"], g["size"]) for g in groups} == {("fire", 2), ("traffic", 2)}


@pytest.fixture
def server_in_utc(monkeypatch):
    """The process's own zone is UTC (as on a server), restored afterwards."""
    monkeypatch.setenv("TZ", "UTC")
    clock.tzset()
    yield
    monkeypatch.undo()
    clock.tzset()


def test_beijing_days_whatever_the_server_zone(services, server_in_utc):
    ms = timedelta(milliseconds=1)
    store(services, [reported("D", "traffic", at(-1, 23, 50), 2),
                     reported("E", "traffic", at(0, 0, 10), 2),
                     # either side of 10:00 sharp; dispatched 1.5 s after the report
                     reported("X", "police", at(0, 10) - ms, 3),
                     step("X", "dispatched", at(0, 10) + 1499 * ms),
                     reported("Y", "police", at(0, 10), 3)])
    assert datetime.now().utcoffset() is None and clock.localtime().tm_gmtoff == 0
    tz = services.settings.tz
    with services.read() as session:
        if session.get_bind().dialect.name == "postgresql":  # the session zone plays no part
            session.execute(text("SET TIME ZONE 'America/New_York'"))
        two = analysis.trends(session, tz, NOW, days=2)
        today = analysis.trends(session, tz, NOW, days=1)
        matrix = analysis.hot_matrix(session, tz, NOW, days=2)
        today_matrix = analysis.hot_matrix(session, tz, NOW, days=1)
        hot_today = analysis.hot_villages(session, tz, NOW, days=1)
    assert two["days"] == [(DAY - timedelta(days=1)).isoformat(), DAY.isoformat()]
    assert series(two, "traffic")["counts"] == [1, 1]
    assert series(today, "traffic")["counts"] == [1] and series(today, "all")["total"] == 3
    row = matrix["counts"][matrix["villages"].index(code(2))]
    assert (row[23], row[0], sum(row)) == (1, 1, 2)
    assert today_matrix["total"] == 3 and hot_today[-1]["count"] == 1
    row = today_matrix["counts"][today_matrix["villages"].index(code(3))]
    assert (row[9], row[10]) == (1, 1)
    assert series(today, "police")["median_dispatch_s"] == [1.5]


def test_periods_follow_local_days_across_daylight_saving():
    new_york = ZoneInfo("America/New_York")
    now = datetime(2026, 11, 2, 12, tzinfo=new_york)  # the day after the clocks went back
    bounds = analysis.period_bounds(now, new_york, 3)
    assert [b.isoformat() for b in bounds] == [
        "2026-10-31T04:00:00+00:00", "2026-11-01T04:00:00+00:00", "2026-11-02T05:00:00+00:00",
        "2026-11-03T05:00:00+00:00"]  # 1 November lasts 25 hours
    assert analysis.period_bounds(NOW, SH, 1) == [at(0, 0).astimezone(UTC),
                                                  at(1, 0).astimezone(UTC)]
    with pytest.raises(ValueError, match="aware"):
        analysis.period_bounds(datetime(2026, 11, 29), SH, 1)
    with pytest.raises(ValueError, match="at least 1"):
        analysis.period_bounds(NOW, SH, 0)


def test_the_page_view_from_the_store(services):
    store(services, scenario())
    models = read_models(services, NOW.astimezone(UTC), "30d", None)
    view = build_view(models, "zh", "30d")
    heat = view["heatmap"]["data"][0]
    assert sum(map(sum, heat["z"])) == 7 and heat["y"][-1] == "未定位村社"
    links = [n.href for n in walk(html.Div(view["repeats"])) if isinstance(n, dcc.Link)]
    assert {"/incidents/A", "/incidents/B", "/incidents/D", "/incidents/E"} == set(links)
    hot_links = [n.href for n in walk(html.Div(view["hot"])) if isinstance(n, dcc.Link)]
    assert hot_links[0] == f"/incidents?village={code(0)}&period=30d"
    assert view["range"] == f"{at(-29, 0).date()} 至 {DAY} · 共 7 起"
    fires = read_models(services, NOW.astimezone(UTC), "7d", "fire")
    assert fires["matrix"]["total"] == 2
    assert [g["category"] for g in fires["repeats"]] == ["fire"]


# ------------------------------------------------------------------ pure builders

MATRIX = {"since": "2026-10-31T00:00:00+08:00", "until": "2026-11-30T00:00:00+08:00",
          "villages": ["v1", "v2", "unknown"], "hours": list(range(24)),
          "counts": [[0] * 9 + [4] + [0] * 14, [1] + [0] * 23, [0] * 23 + [2]], "total": 7}
NAMES = {"v1": "甲村", "v2": "乙<b>社区</b>"}
TRENDS = {"days": ["2026-11-28", "2026-11-29"], "series": [
    {"category": "fire", "counts": [1, 2], "total": 3, "median_dispatch_s": [90.0, None],
     "median_close_s": [None, None]},
    {"category": "police", "counts": [0, 0], "total": 0, "median_dispatch_s": [None, None],
     "median_close_s": [None, None]},
    {"category": "all", "counts": [1, 2], "total": 3, "median_dispatch_s": [90.0, None],
     "median_close_s": [None, None]}]}


def test_heatmap_figure():
    fig = heatmap_figure(MATRIX, NAMES, "zh")
    (trace,) = fig["data"]
    assert trace["type"] == "heatmap" and trace["z"] == MATRIX["counts"]
    assert trace["y"] == ["甲村", "乙&lt;b&gt;社区&lt;/b&gt;", "未定位村社"]  # names are text
    assert trace["customdata"][0] == ["v1"] * 24 and trace["customdata"][2][5] == "unknown"
    assert (trace["zmin"], trace["zmax"]) == (0, 4)
    assert trace["hovertemplate"] == "%{y} · %{x}时 · %{z} 起<extra></extra>"
    assert fig["layout"]["yaxis"]["autorange"] == "reversed"  # the first village on top
    empty = heatmap_figure({**MATRIX, "counts": [[0] * 24] * 3}, NAMES, "en")
    assert empty["data"][0]["zmax"] == 1 and empty["data"][0]["y"][2] == "No village"
    json.dumps(fig)  # a plain dict, never a go.Figure


def test_trend_figures():
    counts = count_figure(TRENDS, "zh")
    assert [tr["uid"] for tr in counts["data"]] == ["count-fire"]  # empty ones left out
    assert counts["data"][0]["x"] == ["11-28", "11-29"] and counts["data"][0]["y"] == [1, 2]
    assert counts["data"][0]["name"] == "火情" and counts["layout"]["barmode"] == "stack"
    assert "annotations" not in counts["layout"]
    dispatch = median_figure(TRENDS, "median_dispatch_s", "en")
    assert [tr["uid"] for tr in dispatch["data"]] == ["median_dispatch_s-fire",
                                                      "median_dispatch_s-all"]
    fire, everything = dispatch["data"]
    assert fire["y"] == [1.5, None] and fire["customdata"] == ["1 min 30 s", "—"]
    assert everything["name"] == "All" and everything["line"]["dash"] == "dash"
    close = median_figure(TRENDS, "median_close_s", "zh")
    assert close["data"] == [] and close["layout"]["annotations"][0]["text"] == "本时段暂无数据"
    with pytest.raises(ValueError, match="key"):
        median_figure(TRENDS, "median_s", "zh")
    json.dumps([counts, dispatch, close])


def test_hot_villages_and_repeat_groups_panels():
    hot = [{"village_code": "v1", "count": 4, "open": 1, "repeats": 2, "share": 4 / 7},
           {"village_code": "v9", "count": 2, "open": 0, "repeats": 0, "share": 2 / 7}]
    items = hot_children(hot, NAMES, "zh", "7d")
    links = [n for n in walk(html.Ol(items)) if isinstance(n, dcc.Link)]
    assert [n.href for n in links] == ["/incidents?village=v1&period=7d",
                                       "/incidents?village=v9&period=7d"]
    words = texts(html.Ol(items))
    assert {"甲村", "v9", "57%", "未结 1", "重复 2"} <= set(words)
    assert texts(html.Ol(hot_children([], NAMES, "en", "7d"))) == [
        "No incidents in this period"]

    ids = ["<img src=x>", *(f"R-{i}" for i in range(10))]
    groups = [{"group": "<img src=x>", "size": 11, "category": "fire", "village_code": "v2",
               "first_at": "2026-11-27T09:00:00+08:00", "last_at": "2026-11-29T10:05:00+08:00",
               "open": 3, "incident_ids": ids}]
    table = html.Div(repeat_children(groups, NAMES, "zh"))
    links = [n for n in walk(table) if isinstance(n, dcc.Link)]
    assert len(links) == 8 and links[0].children == "<img src=x>"  # shown as text
    assert links[0].href == "/incidents/%3Cimg%20src%3Dx%3E"
    words = texts(table)
    assert {"11", "火情", "乙<b>社区</b>", "11-27 09:00", "11-29 10:05", "3",
            "等 3 起"} <= set(words)
    assert texts(html.Div(repeat_children([], NAMES, "zh"))) == ["本时段暂无重复警情"]


def test_links_periods_and_range():
    assert drill_href("330110006224", "today", "en") == \
        "/incidents?village=330110006224&period=today&lang=en"
    assert drill_href("v1", "bogus") == "/incidents?village=v1&period=30d"
    assert incident_href("A/1 2", "en") == "/incidents/A%2F1%202?lang=en"
    assert [normalize_period(p) for p in ("7D", None, "week")] == ["7d", "30d", "30d"]
    assert [normalize_category(c) for c in ("fire", "all", "", "火情")] == [
        "fire", None, None, None]
    assert range_text(MATRIX, "zh") == "2026-10-31 至 2026-11-29 · 共 7 起"
    assert range_text(MATRIX, "en") == "2026-10-31 to 2026-11-29 · 7 incidents"
    assert clicked_village({"points": [{"customdata": "v1", "z": 3}]}) == "v1"
    assert clicked_village({"points": [{"customdata": "unknown"}]}) is None
    assert clicked_village(None) is None


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_layout_ids_are_unique_and_declared(lang):
    tree = html.Div([shell(), layout(lang, refresh_ms=500, period="7d", category="fire")])
    ids = [node.id for node in walk(tree) if getattr(node, "id", None) is not None]
    assert not [i for i, n in Counter(ids).items() if n > 1]
    assert set(ids) == {str(i) for i in AnalysisIds} | {str(i) for i in ShellIds}
    by_id = {node.id: node for node in walk(tree) if getattr(node, "id", None)}
    assert by_id[AnalysisIds.PERIOD].value == "7d"
    assert by_id[AnalysisIds.CATEGORY].value == "fire"
    assert by_id[AnalysisIds.TICK].interval == 2000  # never faster than MIN_REFRESH_MS
    assert ("警情研判" if lang == "zh" else "Incident analysis") in texts(tree)
    for node in walk(tree):
        assert not getattr(node, "dangerously_allow_html", False)


def test_every_analysis_string_has_both_languages():
    keys = [k for k in STRINGS if k.startswith("an_")]
    assert len(keys) > 20 and all(zh and en for zh, en in (STRINGS[k] for k in keys))


# ------------------------------------------------------------------ the poll over HTTP


def _poll(client, app, seen=None, period="30d", category="all", lang="zh"):
    key = next(k for k in app.callback_map if f"{AnalysisIds.SEEN}.data" in k)
    body = {"output": key, "changedPropIds": [f"{AnalysisIds.TICK}.n_intervals"],
            "outputs": [{"id": str(o.component_id), "property": o.component_property}
                        for o in OUTPUTS.values()],
            "inputs": [{"id": str(AnalysisIds.TICK), "property": "n_intervals", "value": 1},
                       {"id": str(AnalysisIds.PERIOD), "property": "value", "value": period},
                       {"id": str(AnalysisIds.CATEGORY), "property": "value",
                        "value": category}],
            "state": [{"id": str(AnalysisIds.SEEN), "property": "data", "value": seen},
                      {"id": str(AnalysisIds.CONFIG), "property": "data",
                       "value": {"lang": lang}}]}
    reply = client.post("/_dash-update-component", json=body)
    return reply.status_code, (reply.get_json() or {}).get("response", {})


def test_poll_reads_once_per_version_and_drills(sqlite_services):
    from app import create_app

    app = create_app(services=sqlite_services)
    client = signed_in_client(app, sqlite_services, "leader")
    status, first = _poll(client, app)
    assert status == 200 and first[AnalysisIds.ALERT]["children"] == ""
    assert first[AnalysisIds.HEATMAP]["figure"]["data"][0]["type"] == "heatmap"
    status, _ = _poll(client, app, seen=first[AnalysisIds.SEEN]["data"])
    assert status == 204  # nothing moved
    status, other = _poll(client, app, seen=first[AnalysisIds.SEEN]["data"], period="today")
    assert status == 200 and other[AnalysisIds.SEEN]["data"] != first[AnalysisIds.SEEN]["data"]
    store(sqlite_services, [reported("N1", "fire", datetime.now(UTC), 3)])
    signal_change(sqlite_services.redis, sqlite_services.settings, [])
    for backend in app.server.extensions["cache"].values():
        backend.clear()  # as when the re-read pause (latest_models) has passed
    status, moved = _poll(client, app, seen=first[AnalysisIds.SEEN]["data"])
    assert status == 200
    assert sum(map(sum, moved[AnalysisIds.HEATMAP]["figure"]["data"][0]["z"])) == 1

    key = next(k for k in app.callback_map if f"{AnalysisIds.NAV}.href" in k)
    body = {"output": key, "changedPropIds": [f"{AnalysisIds.HEATMAP}.clickData"],
            "outputs": {"id": str(AnalysisIds.NAV), "property": "href"},
            "inputs": [{"id": str(AnalysisIds.HEATMAP), "property": "clickData",
                        "value": {"points": [{"customdata": code(3), "x": 10}]}}],
            "state": [{"id": str(AnalysisIds.PERIOD), "property": "value", "value": "7d"},
                      {"id": str(AnalysisIds.CONFIG), "property": "data",
                       "value": {"lang": "en"}}]}
    reply = client.post("/_dash-update-component", json=body).get_json()
    assert reply["response"][AnalysisIds.NAV]["href"] == \
        f"/incidents?village={code(3)}&period=7d&lang=en"


def test_a_slow_read_is_reused_for_a_while_after_the_data_moved():
    cache, lock, reads = SimpleCache(), threading.Lock(), []

    def read():
        reads.append(1)
        return {"n": len(reads)}

    first = latest_models(cache, lock, "sel", 1, read)
    assert first["models"] == {"n": 1} and first["version"] == 1
    assert latest_models(cache, lock, "sel", 1, read) == first and len(reads) == 1
    cache.set("analysis:latest:sel", {**first, "cost_s": 2.0})  # a read that took 2 s
    assert latest_models(cache, lock, "sel", 2, read)["version"] == 1  # moved: still reused
    cache.set("analysis:latest:sel", {**first, "cost_s": 2.0, "at": clock.time() - 21})
    again = latest_models(cache, lock, "sel", 2, read)  # 10 × 2 s later: read again
    assert again["version"] == 2 and again["models"] == {"n": 2}
    cache.set("analysis:latest:sel", {**again, "cost_s": 600.0, "at": clock.time() - 61})
    assert latest_models(cache, lock, "sel", 3, read)["version"] == 3  # never over a minute
    assert latest_models(None, lock, "sel", 3, read)["models"] == {"n": 4}  # no cache


class RedisDown(Services):
    """Services whose data version cannot be read (sessions are in the store).

    A Redis that is down no longer gets here (the version falls back: tests/test_web_faults.py);
    the path stays for any failure of the data source.
    """

    def version(self) -> int:
        raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


def test_poll_shows_source_down_instead_of_crashing(sqlite_services):
    from app import create_app

    services = RedisDown(sqlite_services.settings, sqlite_services.redis,
                         sqlite_services.engine, sqlite_services.sessions)
    app = create_app(services=services)
    client = signed_in_client(app, services, "leader")
    status, response = _poll(client, app)
    assert status == 200 and response[AnalysisIds.ALERT]["children"] == "数据源连接中断"
    assert AnalysisIds.HEATMAP not in response  # the last picture stays
    status, _ = _poll(client, app, seen=response[AnalysisIds.SEEN]["data"])
    assert status == 204  # already shown: quiet until the source is back


def test_page_route_renders_with_its_query(sqlite_services):
    from callbacks import PageRequest
    from callbacks.analysis import render

    page = render(sqlite_services, "en", PageRequest("/analysis", "", {"period": "today",
                                                                       "category": "traffic"}))
    by_id = {node.id: node for node in walk(page) if getattr(node, "id", None)}
    assert by_id[AnalysisIds.PERIOD].value == "today"
    assert by_id[AnalysisIds.CATEGORY].value == "traffic"
    assert render(sqlite_services, "zh").lang == "zh"
