"""Tests of the incidents pages: the pure builders (query, table, pager, timeline figure,
detail sections) and, on the real Redis and both databases, the list's filters, sort and
paging and the detail's timeline numbers from incidents ingested through the stream."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import redis
from dash import dcc, html
from redis.backoff import NoBackoff
from redis.retry import Retry

from callbacks import PageRequest
from callbacks import incidents as cb
from cockpit import geo, governance_queries
from cockpit.services import Services
from layouts import incident_detail as detail_page
from layouts import incidents as list_page
from layouts.i18n import STRINGS
from layouts.incident_timeline import OVER_COLOR, timeline_figure
from layouts.incidents_query import ListQuery, parse_list_query, with_filters
from tests.factories import incident_fields
from tests.store_support import ingest
from tests.web_fault_support import database_down

TZ = ZoneInfo("Asia/Shanghai")
VILLAGES = {"330110006224": "甲村", "330110006002": "乙社区"}
#: 2026-11-29 00:20 in Shanghai (a Sunday), 16:20 UTC the day before.
NOW = datetime(2026, 11, 28, 16, 20, tzinfo=UTC)


def walk(component):
    yield component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list | tuple) else [children]:
        if hasattr(child, "to_plotly_json"):
            yield from walk(child)


def texts(component) -> str:
    out = []
    for node in walk(component):
        children = getattr(node, "children", None)
        out.extend(c for c in (children if isinstance(children, list | tuple) else [children])
                   if isinstance(c, str))
    return " | ".join(out)


def links(component) -> list[str]:
    return [n.href for n in walk(component) if isinstance(n, dcc.Link | html.A)]


def row(incident_id: str, **extra) -> dict:
    base = {"incident_id": incident_id, "category": "fire", "priority": "urgent",
            "stage": "reported", "title": "起火", "village_code": "330110006224",
            "reported_at": "2026-11-29T00:05:00+08:00", "stage_at": "2026-11-29T00:05:00+08:00",
            "due_at": "2026-11-29T00:07:00+08:00", "assigned_team": "fire-station",
            "repeat_group": None, "repeat_size": 0}
    base.update(extra)
    return base


# -- the URL query ---------------------------------------------------------------------------
def test_query_round_trips_through_the_url():
    query = ListQuery(stage="open", category="fire", village="330110006224", team="zz-3",
                      period="today", text="电动车", repeats=True, sort="due_at",
                      descending=False, page=2)
    params = query.params()
    assert params == {"stage": "open", "category": "fire", "village": "330110006224",
                      "team": "zz-3", "period": "today", "q": "电动车", "repeats": "1",
                      "sort": "due_at", "dir": "asc", "page": "2"}
    assert parse_list_query(params, VILLAGES) == (query, [])
    assert ListQuery().href("zh") == "/incidents"
    assert ListQuery(stage="overdue").href("en") == "/incidents?stage=overdue&lang=en"


def test_bad_values_are_dropped_and_named():
    query, bad = parse_list_query({"stage": "teleported", "category": "fire", "village": "x",
                                   "period": "yesterday", "sort": "title; drop", "dir": "up",
                                   "page": "-1", "repeats": "yes", "lang": "en",
                                   "q": "a" * 150}, VILLAGES)
    assert query == ListQuery(category="fire", text="a" * list_page.MAX_TEXT)
    assert bad[:4] == ["stage=teleported", "village=x", "period=yesterday", "q=aaaaaaaaaaaa…"]
    assert set(bad[4:]) == {"repeats=yes", "sort=title; drop", "dir=up", "page=-1"}


def test_filters_reset_the_page_and_sorting_toggles():
    current = ListQuery(category="fire", page=3, sort="due_at", descending=False)
    changed = with_filters(current, category=None, stage="overdue", text="  烟 ", repeats=["1"])
    assert changed == ListQuery(stage="overdue", text="烟", repeats=True, sort="due_at",
                                descending=False, page=1)
    assert with_filters(current, text="") == ListQuery(category="fire", sort="due_at",
                                                       descending=False)
    with pytest.raises(TypeError):
        with_filters(current, colour="red")
    assert current.sorted_by("due_at") == ListQuery(category="fire", sort="due_at")
    assert current.sorted_by("reported_at").descending is True
    assert current.sorted_by("stage_at").descending is False


def test_period_bounds_are_local_days_whatever_the_server_zone():
    today = cb.period_bounds("today", NOW, TZ)
    assert today == (datetime(2026, 11, 28, 16, 0, tzinfo=UTC),
                     datetime(2026, 11, 29, 16, 0, tzinfo=UTC))
    # 23:50 and 00:10 Beijing time fall on two days
    late, early = NOW - timedelta(minutes=30), NOW - timedelta(minutes=10)
    assert not today[0] <= late < today[1] and today[0] <= early < today[1]
    week = cb.period_bounds("week", NOW, TZ)
    assert week[0] == datetime(2026, 11, 22, 16, 0, tzinfo=UTC)  # Monday 23 Nov, 00:00
    assert cb.period_bounds("7d", NOW, TZ) == (datetime(2026, 11, 22, 16, 0, tzinfo=UTC),
                                               today[1])
    assert cb.period_bounds("30d", NOW, TZ)[0] == datetime(2026, 10, 30, 16, 0, tzinfo=UTC)
    with pytest.raises(ValueError):
        cb.period_bounds("fortnight", NOW, TZ)
    filters = cb.list_filters(ListQuery(stage="overdue", period="today", repeats=True), NOW, TZ)
    assert filters == {"stage": "open", "overdue_at": NOW, "reported_from": today[0],
                       "reported_to": today[1], "repeats": True}


# -- the table -------------------------------------------------------------------------------
def test_rows_show_clocks_lateness_and_link_to_the_detail():
    now = NOW.astimezone(TZ)
    rows = [row("A/1", repeat_group="A/1", repeat_size=3),
            row("B", stage="dispatched", stage_at="2026-11-29T00:15:00+08:00",
                due_at="2026-11-29T00:25:00+08:00", category="police", village_code=None,
                title="<b>x</b>", assigned_team="乔司专职消防队"),
            row("C", stage="closed", due_at=None, reported_at="2026-11-28T09:00:00+08:00")]
    query = ListQuery(stage="open", page=2)
    body = list_page.rows_children(rows, query, "zh", now, VILLAGES,
                                   {"fire-station": "乔司专职消防队"})
    first, second, third = (texts(r) for r in body)
    assert "15分00秒" in first and "超时 13分00秒" in first and "重复×3" in first
    assert "甲村" in first and "乔司专职消防队" in first and "00:05:00" in first
    assert "剩 5分00秒" in second and "<b>x</b>" in second and "—" in second
    assert "11-28 09:00" in third and "超时" not in third and "剩" not in third
    assert body[0].className == "inc-row inc-row-late"
    assert body[1].className == "inc-row"
    assert set(links(body[0])) == {"/incidents/A%2F1?stage=open&page=2"}
    assert len(body[0].children) == len(list_page.COLUMNS)
    empty = list_page.rows_children([], query, "en", now, {}, {})
    assert texts(empty[0]) == "No incidents match"
    assert texts(list_page.rows_children(None, query, "zh", now, {}, {})[0]) == "—"


def test_header_links_sort_and_pager_pages():
    query = ListQuery(category="fire", sort="due_at", descending=False, page=2)
    header = list_page.header_row(query, "zh")
    hrefs = links(header)
    assert "/incidents?category=fire&sort=due_at&dir=desc" in hrefs  # toggles the active one
    assert "/incidents?category=fire" in hrefs  # reported_at desc is the default
    assert len(hrefs) == sum(1 for *_, sort in list_page.COLUMNS if sort)
    pager = list_page.pager_children(query, 120, "zh")
    assert texts(html.Div(pager)) .split(" | ")[2] == "第 2 / 3 页"
    assert links(html.Div(pager)) == [
        "/incidents?category=fire&sort=due_at&dir=asc",
        "/incidents?category=fire&sort=due_at&dir=asc",
        "/incidents?category=fire&sort=due_at&dir=asc&page=3",
        "/incidents?category=fire&sort=due_at&dir=asc&page=3"]
    assert list_page.total_children(1234, "zh") == "共 1,234 起"
    assert list_page.page_count(0) == 1 and list_page.page_count(101) == 3


def test_list_layout_shows_the_query_and_the_notice():
    query = ListQuery(stage="overdue", team="某临时小组")
    page = list_page.layout("en", query, options=list_page.FilterOptions(
        villages=tuple(VILLAGES.items()), teams=(("zz-1", "Governance squad 1"),)),
        rows=[], total=0, now=NOW, villages=VILLAGES, teams={}, ignored=["stage=x"])
    ids = {n.id: n for n in walk(page) if getattr(n, "id", None)}
    assert set(list_page.IncidentsIds) <= set(ids)
    assert ids[list_page.IncidentsIds.STAGE].value == "overdue"
    assert ids[list_page.IncidentsIds.TEAM].options[-1] == {"value": "某临时小组",
                                                            "label": "某临时小组"}
    assert ids[list_page.IncidentsIds.NOTICE].children == "Invalid filter ignored: stage=x"
    assert ids[list_page.IncidentsIds.STATE].data == {"lang": "en", "params": query.params()}
    assert "/incidents?stage=overdue&team=%E6%9F%90%E4%B8%B4%E6%97%B6%E5%B0%8F%E7%BB%84" \
        in links(page)  # the language switch keeps the filters


LOAD = [{"team": "fire-station", "zh": "乔司专职消防队", "en": "Qiaosi fire brigade",
         "kind": "department", "open": 3, "overdue": 2, "today": 1234},
        {"team": "zz-1", "zh": "综治队一中队", "en": "Governance squad 1", "kind": "squad",
         "open": 0, "overdue": 0, "today": 0},
        {"team": "某临时小组", "zh": "某临时小组", "en": "某临时小组", "kind": None,
         "open": 1, "overdue": 0, "today": 1},
        {"team": None, "zh": None, "en": None, "kind": None, "open": 1, "overdue": 1,
         "today": 0}]


def panel_cards(component) -> dict:
    """Team code -> (label, open, overdue, today, overdue marked late, link or None)."""
    out = {}
    for node in walk(component):
        code = getattr(node, "data-team", None)
        if code is None:
            continue
        spans = {n.className: n for n in walk(node) if isinstance(n, html.Span)}
        numbers = {key: next(c.children for c in span.children if isinstance(c, html.B))
                   for key, span in spans.items() if key.startswith("inc-team-n ")}
        over_key = next(k for k in numbers if k.startswith("inc-team-n inc-team-overdue"))
        found = links(node)
        out[code] = (spans["inc-team-name"].children, numbers["inc-team-n inc-team-open"],
                     numbers[over_key], numbers["inc-team-n inc-team-today"],
                     over_key.endswith(" late"), found[0] if found else None)
    return out


def test_team_panel_labels_highlights_overdue_and_links_to_the_filtered_list():
    query = ListQuery(stage="open", sort="due_at", descending=False, page=4)
    cards = panel_cards(html.Div(list_page.team_panel_children(LOAD, query, "zh")))
    assert list(cards) == ["fire-station", "zz-1", "某临时小组", ""]  # team_load's order
    assert cards["fire-station"] == ("乔司专职消防队", "3", "2", "1,234", True,
                                     "/incidents?stage=open&team=fire-station&sort=due_at"
                                     "&dir=asc")
    assert cards["zz-1"][:5] == ("综治队一中队", "0", "0", "0", False)
    assert cards["某临时小组"][5] == ("/incidents?stage=open&team=%E6%9F%90%E4%B8%B4%E6%97%B6"
                                      "%E5%B0%8F%E7%BB%84&sort=due_at&dir=asc")
    # no team at all: shown, but the list has no filter for it
    assert cards[""] == ("未分配", "1", "1", "0", True, None)
    english = panel_cards(html.Div(list_page.team_panel_children(
        LOAD, ListQuery(team="zz-1"), "en")))
    assert english["fire-station"][0] == "Qiaosi fire brigade"
    assert english["fire-station"][5] == "/incidents?team=fire-station&lang=en"
    assert english["zz-1"][5] == "/incidents?lang=en"  # the active team clears the filter
    assert english[""][0] == "Unassigned"
    strip = html.Div(list_page.team_panel_children(LOAD, ListQuery(team="zz-1"), "en"))
    classes = {getattr(n, "data-team"): n.className for n in walk(strip)
               if getattr(n, "data-team", None) is not None}
    assert classes["zz-1"] == "inc-team active idle"
    assert classes["fire-station"] == "inc-team has-overdue"
    down = html.Div(list_page.team_panel_children(None, query, "zh"))
    assert texts(down) == "单位负荷 | —" and panel_cards(down) == {}


def test_header_links_the_list_analysis_and_wall_in_the_page_language():
    zh = list_page.page_header("zh", "警情列表", "/incidents?lang=en")
    assert links(zh) == ["/incidents", "/analysis", "/volunteers", "/waste", "/map", "/tablet",
                         "/", "/incidents?lang=en"]
    assert "研判分析" in texts(zh) and "平板" in texts(zh)
    en = list_page.page_header("en", "Incidents", "/incidents")
    assert links(en) == ["/incidents?lang=en", "/analysis?lang=en", "/volunteers?lang=en",
                         "/waste?lang=en", "/map?lang=en", "/tablet?lang=en", "/?lang=en",
                         "/incidents"]
    assert texts(en).split(" | ")[1:8] == ["Incidents", "Analysis", "Volunteers",
                                           "Waste sorting", "Map", "Tablet", "Wall"]
    detail = detail_page.layout("en", "A1", [], query=ListQuery(stage="open"))
    assert "/analysis?lang=en" in links(detail)


def test_every_incidents_string_has_both_languages():
    keys = [k for k in STRINGS if k.startswith("inc_")]
    assert len(keys) > 80
    assert all(STRINGS[k][0] and STRINGS[k][1] for k in keys)


# -- the detail ------------------------------------------------------------------------------
TIMELINE = [
    {"stage": "reported", "entered_at": "2026-11-29T10:00:00+08:00", "seconds": 60.0,
     "limit_s": 120.0, "over_s": 0.0, "cycle": 0, "current": False,
     "left_at": "2026-11-29T10:01:00+08:00"},
    {"stage": "assessed", "entered_at": "2026-11-29T10:01:00+08:00", "seconds": 300.0,
     "limit_s": 180.0, "over_s": 120.0, "cycle": 0, "current": False,
     "left_at": "2026-11-29T10:06:00+08:00"},
    {"stage": "reopened", "entered_at": "2026-11-29T10:06:00+08:00", "seconds": 30.0,
     "limit_s": None, "over_s": None, "cycle": 1, "current": True,
     "left_at": "2026-11-29T10:06:30+08:00"},
    {"stage": "closed", "entered_at": "2026-11-30T10:06:30+08:00", "seconds": None,
     "limit_s": None, "over_s": None, "cycle": 1, "current": False, "left_at": None},
]


def test_timeline_figure_has_one_bar_per_stay_coloured_by_the_limit():
    figure = timeline_figure(TIMELINE, "zh")
    traces = {tr["uid"]: tr for tr in figure["data"]}
    assert set(traces) == {"stay-within", "stay-over", "stay-nolimit", "limits"}
    assert traces["stay-within"]["x"] == [1.0] and traces["stay-within"]["y"] == ["1 已上报"]
    assert traces["stay-over"]["x"] == [5.0] and traces["stay-over"]["marker"]["color"] \
        == OVER_COLOR
    assert traces["stay-nolimit"]["y"] == ["3 已重启 · 第2轮"]
    assert traces["stay-nolimit"]["text"] == ["30秒 (进行中)"]
    assert traces["limits"]["x"] == [2.0, 3.0]
    assert figure["layout"]["xaxis"]["title"]["text"] == "用时（分钟）"
    assert figure["layout"]["yaxis"]["categoryarray"] == ["1 已上报", "2 已研判",
                                                          "3 已重启 · 第2轮"]
    assert timeline_figure(TIMELINE[:1], "en")["layout"]["xaxis"]["title"][
        "text"] == "Time (s)"
    assert timeline_figure([], "zh")["data"] == []


def detail(**extra) -> dict:
    base = row("A1", stage="assessed", limit_s=180.0, due_at="2026-11-29T10:04:00+08:00",
               stage_at="2026-11-29T10:01:00+08:00", reported_at="2026-11-29T10:00:00+08:00",
               address="乔司街道1号", suggested_team="fire-station", escalation_level=1,
               reopen_count=0, illegal_count=1, late_count=2, source="test",
               timeline=TIMELINE, events=[
                   {"type": "incident.reported", "occurred_at": "2026-11-29T10:00:00+08:00",
                    "received_at": "2026-11-29T10:00:05+08:00", "delay_s": 5.0, "note": None,
                    "team": None, "unit": None}],
               notes=[{"at": "2026-11-29T10:07:00+08:00", "type": "incident.reported",
                       "kind": "backward", "detail": "reported after assessed",
                       "illegal": True},
                      {"at": "2026-11-29T10:08:00+08:00", "type": "incident.assessed",
                       "kind": "repeat", "detail": "", "illegal": False}],
               notifications=[{"kind": "overdue", "level": "duty_officer", "text_zh": "超时督办",
                               "text_en": "Overdue", "created_at": "2026-11-29T10:04:00+08:00",
                               "delivered_at": None, "acked_at": "2026-11-29T10:05:00+08:00",
                               "acked_by": "王五", "ack_channel": "wall",
                               "escalated_at": None}],
               escalations=[{"stage": "assessed", "level": "duty_officer",
                             "due_at": "2026-11-29T10:04:00+08:00",
                             "raised_at": "2026-11-29T10:04:01+08:00"}],
               repeats=[row("A0")], repeat_group="A0", repeat_size=2)
    base.update(extra)
    return base


def test_detail_body_shows_every_section():
    now = datetime(2026, 11, 29, 10, 10, tzinfo=TZ)
    query = ListQuery(stage="open")
    body = html.Div(detail_page.body_children(
        detail(), "A1", "zh", now=now, query=query, villages=VILLAGES,
        teams={"fire-station": "乔司专职消防队"},
        levels=(("duty_officer", "值班员"), ("section_chief", "科室负责人"))))
    text = texts(body)
    for needle in ("火情", "A1", "乔司街道1号", "甲村", "超时 6分00秒", "值班员",
                   "乔司专职消防队（与建议一致）", "0 / 1 / 2", "阶段倒退", "违规",
                   "重复事件", "超时督办", "王五 · 10:05:00 · wall", "2分00秒", "本组共 2 起",
                   "2026-11-29 10:00:00"):
        assert needle in text, needle
    rows = [n for n in walk(body) if isinstance(n, html.Tr)]
    assert [getattr(r, "className", "") for r in rows
                if getattr(r, "className", "").startswith("note")] == [
        "note-illegal", "note-info"]
    assert [getattr(r, "className", "") for r in rows
                if getattr(r, "className", "").startswith("stay")] == [
        "stay-within", "stay-over", "stay-nolimit", "stay-nolimit"]
    assert "/incidents/A0?stage=open" in links(body)
    graphs = [n for n in walk(body) if isinstance(n, dcc.Graph)]
    assert len(graphs) == 1 and graphs[0].figure["data"]


def test_unknown_incident_shows_not_found_with_a_way_back():
    body = html.Div(detail_page.body_children(None, "nope", "en", now=NOW, query=ListQuery(),
                                              villages={}, teams={}, levels=()))
    assert "No incident nope" in texts(body)
    assert links(body) == ["/incidents?lang=en"]


# -- integration: ingest through Redis, read through the pages' queries ----------------------
def _point(index: int) -> tuple[str, str]:
    code, _, lon, lat = geo.label_points(geo.load_villages(), with_suffix=False)[index]
    return code, f"{lon:.6f},{lat:.6f}"


def _at(index: int) -> dict[str, str]:
    _, point = _point(index)
    lon, lat = point.split(",")
    return {"lon": lon, "lat": lat}


def _events() -> list[dict[str, str]]:
    m = lambda n: NOW - timedelta(minutes=n)  # noqa: E731
    return [
        # a full fire loop, reported yesterday (local): 1 + 5 + 9 + 15 + 5 minutes
        incident_fields("f1", "reported", m(40)),
        incident_fields("f1", "assessed", m(39)),
        incident_fields("f1", "dispatched", m(34), team="乔司专职消防队"),
        incident_fields("f1", "arrived", m(25)),
        incident_fields("f1", "resolved", m(10)),
        incident_fields("f1", "closed", m(5)),
        incident_fields("p1", "reported", m(19), category="police", priority="normal",
                        title="可疑人员"),
        incident_fields("m1", "reported", m(1), category="medical", title="老人晕倒"),
        incident_fields("d1", "reported", m(30), category="urban_management", priority="low",
                        title="占道经营", **_at(1)),
        incident_fields("d2", "reported", m(10), category="urban_management", priority="low",
                        title="占道经营", **_at(3)),
        incident_fields("r1", "reported", m(180), title="电动车起火", **_at(5)),
        incident_fields("r2", "reported", m(120), title="电动车又起火", **_at(5)),
    ]


@pytest.fixture
def stored(services) -> Services:
    worker = ingest(services, _events(), consumer=f"c-{uuid.uuid4().hex[:6]}")
    worker.governor.tick()  # repeat groups
    return services


def _ids(services, **query) -> list[str]:
    parsed, bad = parse_list_query({k: str(v) for k, v in query.items()}, cb.village_labels("zh"))
    assert bad == []
    with services.read() as session:
        _, rows, _ = cb.read_page(session, TZ, parsed, NOW)
    return [r["incident_id"] for r in rows]


def test_list_filters_sort_and_paging(stored, monkeypatch):
    everything = {"f1", "p1", "m1", "d1", "d2", "r1", "r2"}
    assert set(_ids(stored)) == everything
    assert _ids(stored)[:3] == ["m1", "d2", "p1"]  # newest report first
    assert set(_ids(stored, stage="open")) == everything - {"f1"}
    assert _ids(stored, stage="closed") == ["f1"]
    # overdue at NOW, most overdue first: r1, r2 (fire, 2 min), p1 (police, 3 min), d1
    # (urban management, 15 min); m1 and d2 have time left
    assert _ids(stored, stage="overdue", sort="due_at", dir="asc") == ["r1", "r2", "p1", "d1"]
    assert set(_ids(stored, category="urban_management")) == {"d1", "d2"}
    assert _ids(stored, village=_point(1)[0]) == ["d1"]
    assert _ids(stored, village=_point(0)[0]) == ["m1", "p1", "f1"]  # the factory's place
    assert _ids(stored, team="police-station") == ["p1"]
    # f1 dispatched by name (stored by code), r1 and r2 suggested by the routing
    assert set(_ids(stored, team="fire-station")) == {"f1", "r1", "r2"}
    assert _ids(stored, q="晕倒") == ["m1"]
    assert set(_ids(stored, repeats=1)) == {"r1", "r2"}
    # local days: d1 at 23:50 and d2 at 00:10 Beijing time are on two days
    assert set(_ids(stored, period="today")) == {"p1", "m1", "d2"}
    assert set(_ids(stored, period="week")) == everything
    assert _ids(stored, sort="reported_at", dir="asc")[:2] == ["r1", "r2"]
    monkeypatch.setattr(list_page, "PAGE_SIZE", 3)
    pages = [_ids(stored, page=n) for n in (1, 2, 3)]
    assert [len(p) for p in pages] == [3, 3, 1] and set().union(*pages) == everything
    parsed, _ = parse_list_query({"page": "99"}, {})
    with stored.read() as session:
        clamped, rows, total = cb.read_page(session, TZ, parsed, NOW)
    assert (clamped.page, total, [r["incident_id"] for r in rows]) == (3, 7, pages[2])


def test_detail_timeline_numbers(stored):
    found = cb.read_detail(stored, "f1", NOW)
    stays = [(s["stage"], s["seconds"], s["limit_s"], s["over_s"]) for s in found["timeline"]]
    assert stays == [("reported", 60.0, 120.0, 0.0), ("assessed", 300.0, 180.0, 120.0),
                     ("dispatched", 540.0, 600.0, 0.0), ("arrived", 900.0, 7200.0, 0.0),
                     ("resolved", 300.0, 43200.0, 0.0), ("closed", None, None, None)]
    figure = timeline_figure(found["timeline"], "zh")
    bars = {tr["uid"]: tr["x"] for tr in figure["data"]}  # hours: the 12 h limit sets the axis
    assert figure["layout"]["xaxis"]["title"]["text"] == "用时（小时）"
    assert bars["stay-over"] == pytest.approx([5 / 60])
    assert bars["stay-within"] == pytest.approx([1 / 60, 9 / 60, 15 / 60, 5 / 60])
    assert bars["limits"] == pytest.approx([2 / 60, 3 / 60, 10 / 60, 2.0, 12.0])
    page = cb.render_detail(stored, "zh", PageRequest("/incidents/f1", "/f1", {"stage": "open"}))
    text = texts(page)
    assert "5分00秒" in text and "2分00秒" in text and "乔司专职消防队" in text
    assert "/incidents?stage=open" in links(page)
    r2 = cb.render_detail(stored, "en", PageRequest("/incidents/r2", "/r2", {}))
    assert "/incidents/r1?lang=en" in links(r2) and "2 incidents in the group" in texts(r2)
    missing = cb.render_detail(stored, "zh", PageRequest("/incidents/x%2Fy", "/x%2Fy", {}))
    assert "警情 x/y 不存在" in texts(missing)


def test_list_page_renders_from_the_url_and_survives_bad_values(stored):
    page = cb.render_list(stored, "zh", PageRequest("/incidents", "", {
        "category": "urban_management", "stage": "teleported", "sort": "nope"}))
    ids = {n.id: n for n in walk(page) if getattr(n, "id", None)}
    assert ids[list_page.IncidentsIds.TOTAL].children == "共 2 起"
    assert ids[list_page.IncidentsIds.NOTICE].children == \
        "已忽略无效的筛选条件：stage=teleported，sort=nope"
    assert {r.key for r in ids[list_page.IncidentsIds.ROWS].children} == {"d1", "d2"}
    assert ids[list_page.IncidentsIds.SEEN].data["key"].startswith(f"{stored.version()}@")
    teams = [o["value"] for o in ids[list_page.IncidentsIds.TEAM].options]
    assert teams[:2] == ["fire-station", "police-station"]


def test_team_panel_counts_are_team_load(stored, monkeypatch):
    # one more incident, dispatched to a team the config does not know
    ingest(stored, [incident_fields("x1", "reported", NOW - timedelta(minutes=2),
                                    category="other", title="井盖缺失"),
                    incident_fields("x1", "dispatched", NOW - timedelta(minutes=1),
                                    team="某临时小组")], consumer=f"c-{uuid.uuid4().hex[:6]}")
    monkeypatch.setattr(cb, "utc_now", lambda: NOW)  # the page's clock: the fixture's now
    page = cb.render_list(stored, "zh", PageRequest("/incidents", "", {"stage": "open"}))
    with stored.read() as session:
        load = governance_queries.team_load(session, TZ, stored.settings.governance, NOW)
    cards = panel_cards(page)
    assert list(cards) == [row["team"] or "" for row in load]
    assert {code: tuple(int(n) for n in card[1:4]) for code, card in cards.items()} == {
        row["team"] or "": (row["open"], row["overdue"], row["today"]) for row in load}
    # every configured team, then the name as sent; the fixture's numbers, not only equal ones
    assert cards["某临时小组"][0] == "某临时小组" and list(cards)[-1] == "某临时小组"
    assert cards["某临时小组"][1:4] == ("1", "0", "1")
    assert cards["fire-station"][1:4] == ("2", "2", "0")  # r1, r2 (f1 closed), yesterday's
    assert cards["urban-squad"][1:4] == ("2", "1", "1")  # d1 late, d2 reported today
    assert cards["fire-station"][5] == "/incidents?stage=open&team=fire-station"
    with stored.read() as session:
        _, rows, total = cb.read_page(session, TZ, ListQuery(stage="open", team="fire-station"),
                                      NOW)
    assert total == int(cards["fire-station"][1])  # the link's list has the card's count


def test_pages_render_from_the_store_with_redis_down_and_say_when_the_store_is_down(
        sqlite_services):
    ingest(sqlite_services, [incident_fields("a", at=datetime.now(UTC) - timedelta(minutes=5))])
    redis_down = Services(sqlite_services.settings,
                          redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2,
                                      retry=Retry(NoBackoff(), 0)),  # refuses at once
                          sqlite_services.engine, sqlite_services.sessions)
    page = cb.render_list(redis_down, "zh", PageRequest("/incidents", "", {}))
    ids = {n.id: n for n in walk(page) if getattr(n, "id", None)}
    assert redis_down.link.redis_down  # the shell's banner says so (tests/test_web_faults.py)
    assert ids[list_page.IncidentsIds.ALERT].children == ""
    assert ids[list_page.IncidentsIds.TOTAL].children not in ("—", "0")
    db_down = Services(sqlite_services.settings, sqlite_services.redis,
                       sqlite_services.engine, sqlite_services.sessions)
    database_down(db_down)
    page = cb.render_list(db_down, "zh", PageRequest("/incidents", "", {}))
    ids = {n.id: n for n in walk(page) if getattr(n, "id", None)}
    assert ids[list_page.IncidentsIds.ALERT].children == "数据源连接中断"
    assert ids[list_page.IncidentsIds.TOTAL].children == "—"
    detail_down = cb.render_detail(db_down, "en", PageRequest("/incidents/a", "/a", {}))
    assert "Data source unreachable" in texts(detail_down)


def test_life_cycle_notes_read_in_the_page_language():
    from layouts.incident_detail import note_detail

    assert note_detail("assessed,dispatched", "zh") == "已研判、已派遣"
    assert note_detail("incident.dispatched after cancelled", "zh") == "已派遣晚于已撤销"
    assert note_detail("reopened while dispatched", "zh") == "未结时重启：已派遣"
    assert note_detail("assessed,arrived", "en") == "Assessed, On scene"
    assert note_detail(None, "zh") == "—"
