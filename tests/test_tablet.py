"""The leaders' tablet page (/tablet): its builders, its figures recounted from the events
(both databases, events through the real ingest), its live update and who may open it (its
push channels: tests/test_tablet_push.py)."""

from __future__ import annotations

import json
import statistics
import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from dash import dcc, no_update

from app import create_app
from callbacks.tablet import PARTS, tablet_update, view_of
from cockpit import queries
from cockpit import tablet_queries as tq
from cockpit.mapdata.filters import MapFilters
from cockpit.mapdata.layers import village_layer
from cockpit.mapdata.staff_panel import village_panel
from layouts import tablet as page
from layouts import tablet_figures as figures
from tests.access_support import signed_in_client
from tests.factories import incident_fields
from tests.test_volunteers_page import body_of
from tests.volunteer_factories import activity, punch, registered
from tests.waste_factories import disposal, household, ingest, station

TZ = ZoneInfo("Asia/Shanghai")
A = "330110006201"  # 胜稼村: the staff accounts' village
B = "330110006002"  # 新街社区
LANDLORD = "LL-TAB-1"
#: Incidents still open whose stage was due long before the tests' ``now``: every limit of
#: their stage (cockpit/governance.yaml) is far shorter than the time they have waited.
OVERDUE = {"TA-2", "TA-3", "TB-1"}


# -- the planted store --------------------------------------------------------------------------
def _incident_events(now: datetime) -> list[dict[str, str]]:
    def stages(iid, village, start, names, step_s, **extra):
        return [incident_fields(iid, name, start + timedelta(seconds=i * step_s),
                                **({"village": village, **extra} if name == "reported" else {}))
                for i, name in enumerate(names)]
    return [*stages("TA-1", A, now - timedelta(hours=3),
                    ["reported", "assessed", "dispatched", "arrived", "resolved", "closed"], 600,
                    title="甲村已办结"),
            *stages("TA-2", A, now - timedelta(hours=2), ["reported"], 0, title="甲村超时"),
            *stages("TA-3", A, now - timedelta(days=2), ["reported", "assessed", "dispatched"],
                    60, title="甲村前天"),
            *stages("TB-1", B, now - timedelta(hours=10), ["reported", "assessed", "dispatched"],
                    150, title="乙村派遣中"),
            *stages("TB-2", B, now - timedelta(seconds=10), ["reported"], 0, title="乙村刚报")]


def _volunteer_events(now: datetime) -> list[dict[str, str]]:
    a_start, b_start = now - timedelta(hours=4), now - timedelta(hours=1)
    return [registered("TV-1", "张三", village=A), registered("TV-2", "李四", village=B),
            activity("TACT-A", a_start, 2, village=A), activity("TACT-B", b_start, 3, village=B),
            punch("TACT-A", "TV-1", a_start + timedelta(minutes=1)),
            punch("TACT-A", "TV-1", a_start + timedelta(minutes=119), out=True),
            punch("TACT-B", "TV-2", b_start + timedelta(minutes=5))]


def _waste_events(now: datetime) -> list[dict[str, str]]:
    return [station("TST-A", village=A), station("TST-B", village=B),
            household("TH-A", village=A), household("TH-B", village=B),
            household("TH-L", village=A, kind="tenant", house_id="HS-L", landlord_id=LANDLORD),
            *[disposal("TH-A", now - timedelta(minutes=m), correct=ok, station_id="TST-A")
              for m, ok in ((300, True), (200, False), (100, True), (60 * 26, False))],
            *[disposal("TH-B", now - timedelta(minutes=m), correct=True, station_id="TST-B")
              for m in (30, 90)]]


def plant(services) -> tuple[Any, datetime, dict[str, list[dict[str, str]]]]:
    """Put the events through the ingest: ``(services, now, events by stream)``."""
    now = datetime.now(UTC).replace(microsecond=0)
    events = {"incidents": _incident_events(now), "volunteers": _volunteer_events(now),
              "waste": _waste_events(now)}
    for stream, entries in events.items():
        ingest(services, entries, stream=stream)
    return services, now, events


@pytest.fixture
def planted(services):
    """The store after the events went through the ingest; ``now`` the tests' clock."""
    return plant(services)


# -- recounts from the events -------------------------------------------------------------------
def _at(fields) -> datetime:
    return datetime.fromisoformat(fields["occurred_at"])


def _incidents(events) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for f in events["incidents"]:
        stage = f["type"].split(".", 1)[1]
        row = out.setdefault(f["incident_id"], {})
        if stage == "reported":
            row.update(reported=_at(f), village=f["village"])
        if stage == "dispatched":
            row.setdefault("dispatched", _at(f))
        row.update(stage=stage, stage_at=_at(f))
    return out


def _starts(period: str, now: datetime) -> list[datetime]:
    today = now.astimezone(TZ).date()
    if period == "today":
        return [datetime(today.year, today.month, today.day, h, tzinfo=TZ) for h in range(24)]
    days = 7 if period == "7d" else 30
    return [datetime.combine(today - timedelta(days=days - 1 - i), datetime.min.time(), TZ)
            for i in range(days)]


def _bucket(moment: datetime, period: str, now: datetime) -> int | None:
    local, today = moment.astimezone(TZ), now.astimezone(TZ).date()
    if period == "today":
        return local.hour if local.date() == today else None
    back = (today - local.date()).days
    days = 7 if period == "7d" else 30
    return days - 1 - back if 0 <= back < days else None


def _recount_kpis(events, now: datetime, scope=None) -> dict:
    today = now.astimezone(TZ).date()
    rows = [r for r in _incidents(events).values() if scope is None or r["village"] in scope]
    reported_today = [r for r in rows if r["reported"].astimezone(TZ).date() == today]
    waits = [(r["dispatched"] - r["reported"]).total_seconds() for r in reported_today
             if "dispatched" in r]
    disposals = [f for f in events["waste"] if f["type"] == "waste.disposal"
                 and _at(f).astimezone(TZ).date() == today
                 and (scope is None or {"TH-A": A, "TH-B": B}[f["household_id"]] in scope)]
    return {"today": len(reported_today),
            "open": sum(r["stage"] not in ("closed", "cancelled") for r in rows),
            "closed_today": sum(r["stage"] == "closed"
                                and r["stage_at"].astimezone(TZ).date() == today for r in rows),
            "median_dispatch_s": statistics.median(waits) if waits else None,
            "waste_total": len(disposals),
            "waste_correct": sum(f["rating"] == "correct" for f in disposals)}


def _recount_trends(events, now: datetime, period: str, scope=None) -> dict:
    n = len(_starts(period, now))
    out = {k: [0] * n for k in ("reported", "closed", "waste_correct", "waste_total")}
    for r in _incidents(events).values():
        if scope is not None and r["village"] not in scope:
            continue
        if (i := _bucket(r["reported"], period, now)) is not None:
            out["reported"][i] += 1
        if r["stage"] == "closed" and (i := _bucket(r["stage_at"], period, now)) is not None:
            out["closed"][i] += 1
    for f in events["waste"]:
        village = {"TH-A": A, "TH-B": B}.get(f.get("household_id"))
        if f["type"] != "waste.disposal" or (scope is not None and village not in scope):
            continue
        if (i := _bucket(_at(f), period, now)) is not None:
            out["waste_total"][i] += 1
            out["waste_correct"][i] += f["rating"] == "correct"
    minutes, people = [0] * n, [set() for _ in range(n)]
    punches = [f for f in events["volunteers"] if f["type"].startswith("activity.checked")]
    villages = {f["activity_id"]: f["village"] for f in events["volunteers"]
                if f["type"] == "activity.published"}
    for f in punches:
        if f["type"] != "activity.checked_in" or (scope is not None
                                                  and villages[f["activity_id"]] not in scope):
            continue
        if (i := _bucket(_at(f), period, now)) is None:
            continue
        people[i].add(f["volunteer_id"])
        out_at = next((_at(o) for o in punches if o["type"] == "activity.checked_out"
                       and o["activity_id"] == f["activity_id"]
                       and o["volunteer_id"] == f["volunteer_id"]), None)
        if out_at is not None:
            minutes[i] += int((out_at - _at(f)).total_seconds() // 60)
    out["volunteer_hours"] = [round(m / 60.0, 1) for m in minutes]
    out["volunteers"] = [len(p) for p in people]
    return out


# -- pure builders ------------------------------------------------------------------------------
def test_buckets_are_local_hours_today_and_local_days_otherwise():
    now = datetime(2026, 12, 2, 17, 30, tzinfo=UTC)  # 01:30 on 3 Dec in Shanghai
    hours = tq.bucket_bounds("today", now, TZ)
    assert len(hours) == 25
    assert hours[0] == datetime(2026, 12, 2, 16, 0, tzinfo=UTC)  # local midnight of 3 Dec
    assert [b.astimezone(TZ).hour for b in hours[:-1]] == list(range(24))
    days = tq.bucket_bounds("7d", now, TZ)
    assert len(days) == 8 and days[-1] == hours[-1]
    assert days[0].astimezone(TZ).date().isoformat() == "2026-11-27"
    with pytest.raises(ValueError):
        tq.bucket_bounds("24h", now, TZ)


def test_the_view_comes_from_the_url_and_links_keep_it():
    assert view_of({"period": "30d", "village": A}) == {"period": "30d", "village": A}
    assert view_of({"period": "forever", "village": " "}) == {"period": "today",
                                                              "village": None}
    assert page.tablet_href("7d", A, "en") == f"/tablet?village={A}&period=7d&lang=en"
    assert page.tablet_href("today", None, "zh") == "/tablet"
    control = page.period_control("7d", A, "zh")
    links = {c.id: c for c in control.children}
    assert [c.children for c in control.children] == ["今日", "近7天", "近30天"]
    assert links[page.period_id("30d")].href == f"/tablet?village={A}&period=30d"
    assert "selected" in links[page.period_id("7d")].className
    crumbs = page.crumbs("7d", "胜稼村", "en")
    assert crumbs.children[0].href == "/tablet?period=7d&lang=en"
    assert isinstance(page.crumbs("7d", None, "zh").children[0], type(crumbs.children[-1]))


def test_kpi_cards_link_to_their_lists_and_judge_the_target():
    kpis = {"today": 4, "open": 3, "overdue": 2, "closed_today": 1, "median_dispatch_s": 75,
            "on_duty": 5, "mobilised": 2, "waste_correct": 9, "waste_total": 10}
    cards = page.kpi_children(kpis, 0.95, "zh")
    assert len(cards) == 7 and all(isinstance(c, dcc.Link) for c in cards)
    by_id = {c.id: c for c in cards}
    assert by_id["tab-kpi-overdue"].href == "/incidents?stage=overdue&sort=due_at&dir=asc"
    assert "alarm" in by_id["tab-kpi-overdue"].className
    assert "alarm" in by_id["tab-kpi-waste"].className  # 90 % < 95 %
    assert by_id["tab-kpi-waste"].children[1].children == "90.0%"
    assert by_id["tab-kpi-dispatch"].children[1].children == "1分15秒"
    met = {c.id: c for c in page.kpi_children({**kpis, "waste_correct": 19,
                                               "waste_total": 20}, 0.95, "en")}
    assert "ok" in met["tab-kpi-waste"].className
    assert met["tab-kpi-today"].href == "/incidents?period=today&lang=en"
    blank = page.kpi_children(None, 0.95, "zh")
    assert [c.children[1].children for c in blank] == ["—"] * 7


def test_figures_are_dicts_for_fingers():
    trend = {"period": "today", "starts": [f"2026-12-02T{h:02d}:00+08:00" for h in range(24)],
             "reported": [0] * 23 + [3], "closed": [1] + [0] * 23,
             "volunteer_hours": [0.0] * 10 + [2.0] + [0.0] * 13, "volunteers": [0] * 24,
             "waste_correct": [0] * 8 + [1, 2] + [0] * 14,
             "waste_total": [0] * 8 + [2, 2] + [0] * 14}
    for fig in (figures.incidents_figure(trend, "zh"), figures.volunteers_figure(trend, "en"),
                figures.waste_figure(trend, 0.95, "zh")):
        assert isinstance(fig, dict) and set(fig) == {"data", "layout"}
        json.dumps(fig)  # plain JSON
        assert fig["layout"]["hovermode"] is False and fig["layout"]["dragmode"] is False
        assert fig["layout"]["xaxis"]["fixedrange"] and fig["layout"]["yaxis"]["fixedrange"]
    assert figures.GRAPH_CONFIG["staticPlot"] and not figures.GRAPH_CONFIG["scrollZoom"]
    counts = figures.incidents_figure(trend, "zh")
    assert "上报 3 起 · 办结 1 起" in counts["layout"]["title"]["text"]
    assert counts["data"][0]["x"][23] == "23时" and counts["data"][0]["text"][23] == "3"
    waste = figures.waste_figure(trend, 0.95, "zh")
    assert waste["data"][0]["y"][8:10] == [50.0, 100.0] and waste["data"][0]["y"][0] is None
    assert waste["data"][0]["marker"]["color"][8] == figures.BELOW_COLOR
    assert "75.0%（4 次投放）" in waste["layout"]["title"]["text"]
    assert waste["layout"]["shapes"][0]["y0"] == pytest.approx(95.0)
    empty = figures.waste_figure({**trend, "waste_total": [0] * 24,
                                  "waste_correct": [0] * 24}, 0.95, "en")
    assert "No disposals" in empty["layout"]["title"]["text"]
    assert figures.bucket_labels(["2026-11-30T00:00+08:00"], "7d", "en") == ["11-30"]


# -- figures recounted from the events (both databases) -----------------------------------------
@pytest.mark.parametrize("scope", [None, (A,)])
def test_kpis_equal_a_recount_of_the_events(planted, scope):
    services, now, events = planted
    with services.read() as session:
        kpis = tq.kpis(session, TZ, now, services.settings.volunteer_rules, scope)
        summary = queries.summary(session, TZ, now)
    expected = _recount_kpis(events, now, scope)
    assert {k: kpis[k] for k in expected} == expected
    rows = _incidents(events)
    assert kpis["overdue"] == sum(1 for i in OVERDUE if scope is None or rows[i]["village"]
                                  in scope)
    assert kpis["on_duty"] == (1 if scope is None else 0)  # TV-2, at 新街社区, still in
    if scope is None:  # the wall says the same
        assert (kpis["today"], kpis["open"], kpis["closed_today"],
                kpis["median_dispatch_s"]) == (summary["today_total"], summary["open"],
                                               summary["closed_today"],
                                               summary["median_dispatch_s"])


@pytest.mark.parametrize("period", tq.PERIODS)
def test_trends_equal_a_recount_of_the_events(planted, period):
    services, now, events = planted
    with services.read() as session:
        every = tq.trends(session, TZ, now, period)
        mine = tq.trends(session, TZ, now, period, (A,))
    starts = [s.isoformat(timespec="minutes") for s in _starts(period, now)]
    assert every["starts"] == starts
    for trend, scope in ((every, None), (mine, (A,))):
        expected = _recount_trends(events, now, period, scope)
        assert {k: trend[k] for k in expected} == expected, scope
    if period != "today":  # the recount is not vacuous: everything planted is in the period
        assert (sum(every["reported"]), sum(every["waste_total"])) == (5, 6)
        assert sum(every["volunteer_hours"]) > 0 and sum(mine["volunteers"]) == 1
    if period == "today":  # the hours add up to the cards
        with services.read() as session:
            kpis = tq.kpis(session, TZ, now, services.settings.volunteer_rules)
        assert sum(every["closed"]) == kpis["closed_today"]
        assert sum(every["reported"]) == kpis["today"]
        assert sum(every["waste_total"]) == kpis["waste_total"]


@pytest.mark.parametrize("period", ["today", "7d"])
def test_village_cards_are_the_maps_figures_and_items_what_they_count(planted, period):
    services, now, events = planted
    target = services.settings.waste_rules.target
    with services.read() as session:
        layer = village_layer(session)
        model = tq.villages(session, TZ, now, period, layer)
        scoped = tq.villages(session, TZ, now, period, layer, (A,))
        panels = {code: village_panel(session, code, MapFilters(period=period), TZ, now,
                                      None, target) for code in (A, B)}
        items = tq.village_items(session, TZ, now, A, period)
        refused = tq.village_items(session, TZ, now, B, period, (A,))
    rows = {r["code"]: r for r in model["villages"]}
    assert len(rows) == 15 and [r["code"] for r in scoped["villages"]] == [A]
    for code in (A, B):
        assert (rows[code]["open"], rows[code]["overdue"]) == (panels[code]["open"],
                                                               panels[code]["overdue"])
        assert (rows[code]["waste_correct"], rows[code]["waste_total"]) == (
            panels[code]["waste_correct"], panels[code]["waste_total"])
    # recount: reported in the period, still to handle (a resolved one is handled, as on the map)
    incidents = _incidents(events)
    in_period = {i for i, r in incidents.items() if _bucket(r["reported"], period, now)
                 is not None}
    waiting = {i for i in in_period if incidents[i]["stage"] not in ("resolved", "closed")}
    for code in (A, B):
        mine = {i for i in waiting if incidents[i]["village"] == code}
        assert rows[code]["incidents"] == len({i for i in in_period
                                              if incidents[i]["village"] == code})
        assert rows[code]["overdue"] == len(mine & OVERDUE)
        assert rows[code]["open"] == len(mine - OVERDUE)
    assert model["totals"]["total"] == len(in_period)
    listed = [row["incident_id"] for row in items["items"]]
    expected = sorted((i for i in waiting if incidents[i]["village"] == A),
                      key=lambda i: (i not in OVERDUE, -incidents[i]["reported"].timestamp()))
    assert listed == expected and items["total"] == len(expected)
    assert rows[A]["open"] + rows[A]["overdue"] == items["total"]
    assert {row["status"] for row in items["items"]} <= {"open", "overdue"}
    assert refused is None


def _figures(tree) -> list[tuple[str, str]]:
    """The (label, value) of every drill-down figure (``.tab-fig``) in a component tree."""
    out, stack = [], [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, list | tuple):
            stack.extend(reversed(node))
        elif "tab-fig" in (getattr(node, "className", None) or "").split():
            label, value = node.children
            out.append((label.children, value.children))
        elif getattr(node, "children", None) is not None:
            stack.append(node.children)
    return out


def test_the_cards_open_and_the_drill_downs_to_handle_are_told_apart(planted):
    """未结 on the cards: every incident not closed or cancelled, overdue included; 待办 in
    the drill-down: open plus overdue (map statuses), the number its item list counts."""
    services, now, events = planted
    target = services.settings.waste_rules.target
    with services.read() as session:
        layer = village_layer(session)
        model = tq.villages(session, TZ, now, "7d", layer)
        items = tq.village_items(session, TZ, now, A, "7d")
        kpis = tq.kpis(session, TZ, now, services.settings.volunteer_rules)
    rows = {r["code"]: r for r in model["villages"]}
    assert rows[A]["overdue"]  # the planted store has overdue ones: 待办 is not 未超时待办
    village = dict(_figures(page.village_children(rows[A], items, "7d", target, "zh")))
    assert village["待办（含超时）"] == str(rows[A]["open"] + rows[A]["overdue"])
    assert village["待办（含超时）"] == str(items["total"])
    assert int(village["超时"]) <= int(village["待办（含超时）"])  # 超时 is a part of 待办
    top = _figures(page.subdistrict_children(model, "7d", target, "en"))
    totals = model["totals"]
    assert ("To handle (incl. overdue)", str(totals["open"] + totals["overdue"])) in top
    cards = {c.id: c for c in page.kpi_children(kpis, target, "zh")}
    card = cards["tab-kpi-open"]
    assert card.children[0].children == "未结（含超时）"
    assert card.children[1].children == str(kpis["open"])
    assert kpis["open"] >= kpis["overdue"]
    # two meanings, two words: the card's label is never the drill-down's
    for lang in ("zh", "en"):
        card_label = page.kpi_children(kpis, target, lang)[1].children[0].children
        drill = [label for label, _ in _figures(page.subdistrict_children(
            model, "7d", target, lang))]
        assert card_label not in drill


# -- the live update ----------------------------------------------------------------------------
def test_the_update_sends_only_what_changed(planted):
    services, now, _ = planted
    lock = threading.Lock()
    out, seen = tablet_update(services, None, lock, {"view": {"period": "7d", "village": A}},
                              "zh", now, None)
    assert all(out[name] is not no_update for name in PARTS) and out["alert"] == ""
    assert seen["view"] == {"period": "7d", "village": A}
    again, same = tablet_update(services, None, lock, seen, "zh", now, None)
    assert all(value is no_update for value in again.values()) and same == seen
    # a new incident in the other village: the cards and the incident trend move; the volunteer
    # and waste trends, and village A's drill-down, do not
    ingest(services, [incident_fields("TB-9", at=now - timedelta(seconds=5), village=B,
                                      category="traffic", lon="120.30", lat="30.33")],
           stream="incidents")  # elsewhere and of another kind: no repeat of A's fire
    moved, after = tablet_update(services, None, lock, seen, "zh", now, None)
    sent = {name for name in PARTS if moved[name] is not no_update}
    assert sent == {"kpis", "trend_incidents"}, sent
    assert after["key"] != seen["key"]
    # the drill-down shows A's items, newest overdue first, each linking to its detail page
    text = json.dumps(out["drill"], default=lambda c: c.to_plotly_json())
    assert "/incidents/TA-2" in text and "TB-1" not in text


def test_the_scope_is_the_viewers_not_the_browsers(planted):
    services, now, _ = planted
    out, seen = tablet_update(services, None, threading.Lock(),
                              {"view": {"period": "7d", "village": B}}, "zh", now, (A,))
    text = json.dumps(out["drill"], default=lambda c: c.to_plotly_json(), ensure_ascii=False)
    assert "不在你的辖区" in text and "乙村" not in text and "TB-" not in text
    kpis = json.dumps(out["kpis"], default=lambda c: c.to_plotly_json())
    assert '"tab-kpi-today"' in kpis
    everything, _ = tablet_update(services, None, threading.Lock(),
                                  {"view": {"period": "7d", "village": "nowhere"}}, "en", now,
                                  None)
    assert "Unknown village" in json.dumps(everything["drill"],
                                           default=lambda c: c.to_plotly_json())


def test_an_unreachable_store_says_so_once(services, monkeypatch):
    def down():
        raise OSError("redis down")
    monkeypatch.setattr(services, "version", down)
    out, seen = tablet_update(services, None, threading.Lock(), {"view": {}}, "en", datetime.now(
        UTC), None)
    assert out["alert"] == "Data source unreachable" and seen["error"] is True
    again, _ = tablet_update(services, None, threading.Lock(), seen, "en", datetime.now(UTC),
                             None)
    assert all(value is no_update for value in again.values())


# -- who may open it ----------------------------------------------------------------------------
@pytest.fixture
def app(planted):
    services, _, _ = planted
    return create_app(services.settings, services=services)


def test_leader_sees_every_village_and_staff_their_own(app, planted):
    services, _, _ = planted
    leader = body_of(signed_in_client(app, services, "leader"), app, "/tablet", "?period=7d")
    assert page.village_id(A) in leader and page.village_id(B) in leader
    assert "乔司街道全域" in leader and "tab-kpi-waste" in leader
    staff_client = signed_in_client(app, services, "staff", villages=A)
    staff = body_of(staff_client, app, "/tablet", "?period=7d")
    assert page.village_id(A) in staff and page.village_id(B) not in staff
    assert "辖区：胜稼村" in staff
    drilled = body_of(staff_client, app, "/tablet", f"?period=7d&village={A}")
    assert "甲村超时" in drilled and "/incidents/TA-2" in drilled
    other = body_of(staff_client, app, "/tablet", f"?period=7d&village={B}")
    assert "不在你的辖区" in other and "乙村" not in other
    english = body_of(signed_in_client(app, services, "admin"), app, "/tablet", "?lang=en")
    assert "Incidents today" in english and "Qiaosi Subdistrict" in english


@pytest.mark.parametrize("role", ["wall", "landlord"])
def test_a_wall_screen_and_a_landlord_are_refused(app, planted, role):
    services, _, _ = planted
    client = signed_in_client(app, services, role, landlord=LANDLORD)
    assert client.get("/tablet").status_code == 403
    if role == "wall":
        assert "无权访问此页面" in body_of(client, app, "/tablet")
    # and its push answers neither: no stream, no snapshot
    for route in ("events", "snapshot"):
        assert client.get(f"/push/tablet/{route}?lang=zh&period=7d").status_code == 403, route


def test_the_header_of_every_staff_page_links_the_tablet(app, planted):
    services, _, _ = planted
    client = signed_in_client(app, services, "leader")
    for path in ("/incidents", "/map", "/tablet"):
        assert '"href": "/tablet"' in body_of(client, app, path)


def test_a_server_push_gets_the_same_parts_as_dash_answers(planted):
    """The push adapter: one producer per (language, scope, view), Dash's answer shape."""
    from callbacks.tablet import channel_of, producer
    services, _, _ = planted
    view = view_of({"period": "7d", "village": A})
    assert channel_of("zh", (A,), view) == f"tablet:zh:{A}:7d:{A}"
    assert channel_of("en", None, view_of({})) == "tablet:en:all:today:"
    produce = producer(services, None, threading.Lock(), "zh", (A,), view)
    update, seen = produce({})
    response = update["response"]
    assert set(response) == {"tab-kpis", "tab-trend-incidents", "tab-trend-volunteers",
                             "tab-trend-waste", "tab-drill", "tab-alert"}
    assert set(response["tab-trend-waste"]) == {"figure"}
    assert "甲村超时" in json.dumps(response["tab-drill"]["children"], ensure_ascii=False,
                                   default=lambda c: c.to_plotly_json())
    assert produce(seen) == (None, seen)  # nothing moved: nothing to send
