"""The wall's volunteer panels: forces by village, mobilisation funnels and the map's badges.

Unit tests build the panels from given read models; integration tests ingest volunteer events
through Redis into SQLite, as production does, and read what the wall's poll sends.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from plotly.io.json import to_json_plotly

from cockpit import geo
from layouts.map_counts import BADGE_MAX_PX, badge_px, volunteer_trace
from layouts.wall import WallIds
from layouts.wall_volunteers import (
    VolIds,
    force_rows,
    forces_children,
    forces_note,
    mobilization_card,
    mobilization_children,
    mobilization_note,
    mobilization_rows,
    time_left,
    volunteer_panel,
)
from tests import store_support
from tests import volunteer_factories as vf
from tests.access_support import signed_in_client
from tests.wall_support import SEEN
from tests.wall_support import poll as wall_poll

CHAOYANG = "330110006224"  # 朝阳村
WUJIA = "330110006204"  # 吴家村
SANJIAO = "330110006222"  # 三角村
SURNAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜"


def person(n: int) -> tuple[str, str]:
    """A volunteer's invented name and mobile number (what no wall response may carry)."""
    return f"{SURNAMES[n % len(SURNAMES)]}志愿{n:03d}", f"139{n:08d}"


def registrations(prefix: str, village: str, count: int, start: int = 0,
                  source: str = "hongqiao") -> list[dict[str, str]]:
    """``volunteer.registered`` of ``count`` people of ``village`` (name, phone, team)."""
    out = []
    for n in range(start, start + count):
        name, phone = person(n)
        out.append(vf.registered(f"{prefix}-{n:03d}", name, source=source, village=village,
                                 phone=phone, team="乔司街道青年突击队", team_kind="youth"))
    return out


def answers(mobilization_id: str, prefix: str, kind: str, numbers: Sequence[int],
            at: datetime, source: str = "hongqiao") -> list[dict[str, str]]:
    """One ``mobilization.<kind>`` per volunteer ``{prefix}-{n}``."""
    return [vf.answer(mobilization_id, f"{prefix}-{n:03d}", kind, at, source=source)
            for n in numbers]


def village_name(code: str) -> str:
    return geo.village_names()[code]["name"]


def demo_events(now: datetime, source: str = "hongqiao") -> list[dict[str, str]]:
    """A wall's worth of volunteers: 200 in 朝阳村 asked for 140, four mobilisations in all.

    * ``cy-140`` (朝阳村, 140 needed, a third of its hour gone): 60 accepted, 20 arrived;
    * ``wj-30`` (吴家村, 30 needed, three quarters gone): 5 accepted, lagging (re-call);
    * ``sj-8`` (三角村, past its deadline, filled: 8 of 8 arrived);
    * ``wj-late`` (吴家村, requested last): the fourth, counted as ``+1 more``;
    * twelve on duty at an activity in 三角村.
    """
    events = [*registrations("CY", "朝阳村", 200, source=source),
              *registrations("WJ", "吴家村", 40, start=200, source=source),
              *registrations("SJ", "三角村", 30, start=240, source=source)]
    events.append(vf.requested("cy-140", "朝阳村", 140, now - timedelta(minutes=20),
                               now + timedelta(minutes=40), title="封控区值守", source=source))
    events.append(vf.requested("wj-30", "吴家村", 30, now - timedelta(minutes=45),
                               now + timedelta(minutes=15), title="防汛巡堤", source=source))
    events.append(vf.requested("sj-8", "三角村", 8, now - timedelta(minutes=50),
                               now - timedelta(minutes=5), title="交通疏导", source=source))
    events.append(vf.requested("wj-late", "吴家村", 5, now - timedelta(minutes=1),
                               now + timedelta(hours=3), title="助老送餐", source=source))
    events += answers("cy-140", "CY", "accepted", range(60), now - timedelta(minutes=2),
                      source)
    events += answers("cy-140", "CY", "arrived", range(20), now - timedelta(minutes=1), source)
    events += answers("wj-30", "WJ", "accepted", range(200, 205), now - timedelta(minutes=30),
                      source)
    events += answers("sj-8", "SJ", "arrived", range(240, 248), now - timedelta(minutes=10),
                      source)
    events.append(vf.activity("sj-patrol", now - timedelta(hours=1), hours=3,
                              village="三角村", title="平安巡逻", source=source))
    events += [vf.punch("sj-patrol", f"SJ-{n:03d}", now - timedelta(minutes=30), source=source)
               for n in range(250, 262)]
    return events


# ------------------------------------------------------------------ read models (given)

DEPLOYMENT = {
    "villages": [
        {"village_code": CHAOYANG, "registered": 200, "active": 198, "mobilised": 60,
         "on_duty": 3, "available": 135},
        {"village_code": SANJIAO, "registered": 30, "active": 30, "mobilised": 8,
         "on_duty": 12, "available": 10},
        {"village_code": None, "registered": 4, "active": 4, "mobilised": 0, "on_duty": 1,
         "available": 3},
    ],
    "totals": {"registered": 234, "active": 232, "mobilised": 68, "on_duty": 16,
               "available": 148},
    "simulated": False,
}


def funnel(mobilization_id: str = "cy-140", **extra) -> dict:
    row = {"mobilization_id": mobilization_id, "title": "封控区值守", "village_code": CHAOYANG,
           "needed": 140, "asked": 200, "accepted": 60, "declined": 4, "arrived": 20,
           "unanswered": 136, "requested_at": "2026-11-29T10:00:00+08:00",
           "deadline": "2026-11-29T11:00:00+08:00", "seconds_left": 2400.0, "elapsed": 1 / 3,
           "expected": 46.67, "lag": False, "filled": False, "simulated": False}
    row.update(extra)
    return row


def walk(component):
    """Yield every component of a Dash tree."""
    yield component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list | tuple) else [children]:
        if hasattr(child, "to_plotly_json"):
            yield from walk(child)


def texts(component) -> list[str]:
    """The strings among the children of every component of a tree (or list of trees)."""
    if isinstance(component, list | tuple):
        return [text for c in component for text in texts(c)]
    out = []
    for node in walk(component):
        children = getattr(node, "children", None)
        items = children if isinstance(children, list | tuple) else [children]
        out.extend(c for c in items if isinstance(c, str))
    return out


def having(component, css: str) -> list:
    """The components of a tree (or list of trees) whose className has the class ``css``."""
    if isinstance(component, list | tuple):
        return [node for c in component for node in having(c, css)]
    return [node for node in walk(component)
            if css in (getattr(node, "className", None) or "").split()]


NAMES = {code: info["name"] for code, info in geo.village_names().items()}
ORDER = sorted(NAMES)



# ------------------------------------------------------------------ unit: the panels


@pytest.mark.parametrize(("lang", "title", "mobs"), [("zh", "志愿者力量", "应急动员"),
                                                  ("en", "Volunteer forces", "Mobilisations")])
def test_the_panel_has_its_ids_and_titles(lang, title, mobs):
    panel = volunteer_panel(lang)
    ids = {node.id for node in walk(panel) if getattr(node, "id", None)}
    assert ids == set(VolIds)
    assert title in texts(panel) and mobs in texts(panel)


def test_forces_show_the_read_models_numbers_for_every_village():
    panel = forces_children(DEPLOYMENT, ORDER, NAMES, "zh", schematic=set(NAMES))
    totals = {node.to_plotly_json()["props"]["data-kind"]: texts(node)
              for node in having(panel, "vol-total")}
    assert totals == {"on_duty": ["在岗", "16"], "mobilised": ["已动员", "68"],
                      "available": ["可调用", "148"], "registered": ["注册", "234"]}
    rows = having(panel, "vol-row")
    # all 15 villages in code order, then the people of no village
    assert [r.to_plotly_json()["props"]["data-village"] for r in rows] == [*ORDER, ""]
    numbers = {r.to_plotly_json()["props"]["data-village"]: texts(having(r, "vol-nums"))
               for r in rows}
    assert numbers[CHAOYANG] == ["3", "60", "135"]  # on duty, mobilised, available
    assert numbers[SANJIAO] == ["12", "8", "10"]
    assert numbers[""] == ["1", "0", "3"] and numbers[WUJIA] == ["0", "0", "0"]
    chaoyang = rows[ORDER.index(CHAOYANG)]
    assert texts(having(chaoyang, "vol-name")) == ["朝阳村", "（示意）"]
    assert "未落村" in texts(rows[-1])
    # stacked bars against the busiest village (朝阳村: 198 people)
    widths = [seg.style["width"] for seg in having(chaoyang, "vol-seg")]
    assert widths == ["1.5%", "30.3%", "68.2%"]
    assert forces_note(DEPLOYMENT, [funnel()], "zh") == []


def test_force_rows_fold_unknown_villages_into_the_last_row():
    rows = force_rows({"villages": [{"village_code": "nowhere", "on_duty": 2},
                                    {"village_code": None, "available": 1}]}, ["a", "b"])
    assert [(r["code"], r["on_duty"], r["available"]) for r in rows] == [
        ("a", 0, 0), ("b", 0, 0), (None, 2, 1)]
    assert [r["code"] for r in force_rows({"villages": []}, ["a"])] == ["a"]  # none: no row


def test_simulated_data_is_said_plainly():
    note = forces_note({**DEPLOYMENT, "simulated": True}, [funnel()], "zh")
    assert texts(note) == ["模拟数据"]
    board = [funnel(), funnel("sim", simulated=True)]
    assert texts(forces_note(DEPLOYMENT, board, "zh")) == ["模拟数据"]  # a funnel is enough
    rows, _ = mobilization_rows(board)
    plain, simulated = (mobilization_card(row, NAMES, "zh") for row in rows)
    assert "vm-simulated" in simulated.className.split() and "模拟" in simulated.title
    assert "vm-simulated" not in plain.className and plain.title is None
    assert texts(forces_note({**DEPLOYMENT, "simulated": True}, [], "en")) == ["Simulated data"]


def test_a_funnel_shows_asked_accepted_arrived_against_the_needed_count():
    rows, more = mobilization_rows([funnel()])
    assert more == 0
    card = mobilization_card(rows[0], NAMES, "zh", schematic=set(NAMES))
    words = texts(card)
    assert words[:4] == ["封控区值守", "需 140 人", "朝阳村", "（示意）"]
    assert texts(having(card, "vm-left")) == ["剩余 40分"]
    bars = {b.to_plotly_json()["props"]["data-kind"]: b for b in having(card, "vm-row")}
    assert {k: texts(b) for k, b in bars.items()} == {
        "asked": ["已通知", "200"], "accepted": ["接受", "60"], "arrived": ["到岗", "20"]}
    # the needed count at 80 % of the bars (room for more), the asked bar clipped at the end
    scale = 140 / 0.8
    assert [having(b, "vm-need")[0].style["left"] for b in bars.values()] == ["80.0%"] * 3
    assert having(bars["asked"], "vm-bar")[0].style["width"] == "100.0%"
    assert having(bars["accepted"], "vm-bar")[0].style["width"] == f"{60 / scale * 100:.1f}%"
    assert having(bars["arrived"], "vm-bar")[0].style["width"] == f"{20 / scale * 100:.1f}%"
    # the schedule's accepted count by now, on the accepted bar only
    assert [len(having(b, "vm-due")) for b in bars.values()] == [0, 1, 0]
    assert having(card, "vm-flag") == [] and having(card, "vm-status") == []  # on schedule
    assert "vm-lag" not in card.className


def test_a_lagging_mobilisation_is_flagged_for_a_recall():
    rows, _ = mobilization_rows([funnel(accepted=5, arrived=0, lag=True, seconds_left=600)])
    card = mobilization_card(rows[0], NAMES, "zh")
    assert "vm-lag" in card.className.split()
    flag = having(card, "vm-flag")
    assert len(flag) == 1 and flag[0].children == "需再动员" and flag[0].role == "alert"
    assert texts(having(card, "vm-left")) == ["剩余 10分"]


def test_after_the_deadline_it_says_past_deadline_and_whether_it_filled():
    rows, _ = mobilization_rows([funnel("a", seconds_left=-300, arrived=140, accepted=150,
                                       filled=True),
                                 funnel("b", seconds_left=-60, arrived=96, lag=True)])
    assert [r["id"] for r in rows] == ["b", "a"]  # the most recent deadline first
    short, filled = (mobilization_card(r, NAMES, "zh") for r in rows)
    assert texts(having(filled, "vm-foot")) == ["已超时", "已到齐"]
    assert "vm-expired" in filled.className and "vm-filled" in filled.className
    assert texts(having(short, "vm-foot")) == ["已超时", "缺 44 人", "需再动员"]  # re-call
    assert rows[0]["expected_at"] is None


def test_open_mobilisations_come_first_and_beyond_three_are_counted():
    board = [funnel("late", seconds_left=-10), funnel("later", seconds_left=7200),
             funnel("soon", seconds_left=60), funnel("next", seconds_left=600),
             funnel("last", seconds_left=9000)]
    rows, more = mobilization_rows(board, "en")
    assert [r["id"] for r in rows] == ["soon", "next", "later"] and more == 2
    assert texts(mobilization_note(more, "en")) == ["+2 more"]
    assert texts(mobilization_note(more, "zh")) == ["另有 2 项"]
    assert mobilization_note(0, "zh") == []
    assert texts(mobilization_children([], NAMES, "zh")) == ["暂无进行中的动员"]


@pytest.mark.parametrize(("seconds", "zh", "en"), [
    (2400, "剩余 40分", "40 min left"), (2399, "剩余 40分", "40 min left"),
    (59, "剩余 1分", "1 min left"), (3600, "剩余 1时00分", "1 h 00 min left"),
    (5461, "剩余 1时32分", "1 h 32 min left"), (0, "已超时", "Overdue"),
    (-5, "已超时", "Overdue"), (None, "已超时", "Overdue")])
def test_time_left(seconds, zh, en):
    assert time_left(seconds, "zh") == zh and time_left(seconds, "en") == en


def test_english_labels():
    panel = forces_children(DEPLOYMENT, ORDER, {c: geo.village_names()[c]["name_en"]
                                                for c in ORDER}, "en", schematic=set(NAMES))
    words = texts(panel)
    assert {"On duty", "Mobilised", "Available", "Registered", "Chaoyang Village",
            "(schematic)", "No village"} <= set(words)
    rows, _ = mobilization_rows([funnel(lag=True)], "en")
    card = texts(mobilization_card(rows[0], NAMES, "en"))
    assert {"Asked", "Accepted", "Arrived", "140 needed", "40 min left", "Re-call"} <= set(card)
    # nothing Chinese but upstream text (the title) and the names of the village map given
    assert [w for w in words + card if re.search(r"[\u4e00-\u9fff]", w)
            and w not in NAMES.values()] == ["封控区值守"]


def test_map_badges_count_on_duty_and_mobilised_above_each_label():
    from callbacks.wall_parts import map_base, village_names

    base = map_base("zh")
    trace = volunteer_trace(base, DEPLOYMENT, "zh", village_names("zh", True))
    assert trace["uid"] == "volunteers" and "customdata" not in trace  # a click drills nowhere
    places = {code: (lon, lat) for code, _, lon, lat in base.labels}
    assert trace["text"] == ["20", "63"]  # 三角村 12 + 8, 朝阳村 3 + 60 (label order)
    by_text = dict(zip(trace["text"], zip(trace["x"], trace["y"], strict=True), strict=True))
    assert by_text["63"][0] == places[CHAOYANG][0] and by_text["63"][1] > places[CHAOYANG][1]
    hover = trace["hovertext"][trace["text"].index("63")]
    assert "朝阳村（示意）" in hover and "在岗 3 · 已动员 60 · 可调用 135" in hover
    empty = volunteer_trace(base, {}, "en")
    assert empty["x"] == [] and empty["uid"] == "volunteers"
    assert badge_px(1) < badge_px(60) <= BADGE_MAX_PX == badge_px(10**9)


def test_the_map_keeps_its_volunteer_trace_last_where_the_poll_patches_it():
    from callbacks.wall_feed import VOLUNTEER_TRACE
    from callbacks.wall_parts import map_base
    from layouts.figures import map_figure
    from layouts.map_counts import count_trace

    base = map_base("zh")
    # the page's first figure, as callbacks.wall.render builds it
    first = map_figure(base, (), "zh", extra=[count_trace(base, (), {}, "zh"),
                                              volunteer_trace(base, {}, "zh")])
    assert first["data"][VOLUNTEER_TRACE]["uid"] == "volunteers"
    assert len(first["data"]) == VOLUNTEER_TRACE + 1


def test_the_view_signs_what_it_shows():
    from callbacks.wall_parts import build_volunteer_view

    models = {"deployment": DEPLOYMENT, "mobilizations": [funnel()]}
    view = build_volunteer_view(models, "zh")
    assert set(view) == {"forces", "forces_note", "mobs", "mobs_note", "trace", "sig"}
    moved = build_volunteer_view({**models, "mobilizations": [funnel(accepted=61)]}, "zh")
    assert moved["sig"]["vol_mobs"] != view["sig"]["vol_mobs"]
    assert moved["sig"]["vol_forces"] == view["sig"]["vol_forces"]


# ------------------------------------------------------------------ integration: Redis to the wall


def ingest(services, entries: Sequence[dict[str, str]]) -> None:
    """XADD ``entries`` to the volunteers stream and run the ingest until it is drained."""
    store_support.ingest(services, entries, consumer="wall-volunteers", stream="volunteers")


def poll(client, app, seen=None, lang="zh") -> tuple[int, dict]:
    """What the wall's live channel sends a screen last sent ``seen``: (status, response)."""
    return wall_poll(client, app, seen=seen, lang=lang)


def nodes(tree, css: str) -> list[dict]:
    """The components (as JSON) of a callback's children whose className has ``css``."""
    out = []
    if isinstance(tree, list):
        for item in tree:
            out += nodes(item, css)
    elif isinstance(tree, dict):
        props = tree.get("props") or {}
        if css in (props.get("className") or "").split():
            out.append(tree)
        out += nodes(props.get("children"), css)
    return out


def strings_of(tree) -> list[str]:
    """The strings among the children of a callback's children (as JSON)."""
    if isinstance(tree, str):
        return [tree]
    if isinstance(tree, list):
        return [s for item in tree for s in strings_of(item)]
    if isinstance(tree, dict):
        return strings_of((tree.get("props") or {}).get("children"))
    return []


def funnel_numbers(mobs, mobilization_id: str) -> dict[str, str]:
    """``{asked, accepted, arrived}`` as the wall shows them on one mobilisation's card."""
    card = next(c for c in nodes(mobs, "vm-card")
                if c["props"]["data-mobilization"] == mobilization_id)
    return {row["props"]["data-kind"]: strings_of(nodes(row, "vm-count"))[0]
            for row in nodes(card, "vm-row")}


def view_numbers(services, mobilization_id: str) -> dict[str, str]:
    """The funnel's numbers in the wall's view built from the read models now."""
    from callbacks.wall_parts import build_volunteer_view, read_volunteers

    view = build_volunteer_view(read_volunteers(services, datetime.now(UTC)), "zh")
    return funnel_numbers(json.loads(to_json_plotly(view["mobs"])), mobilization_id)


def test_a_mobilisation_of_140_in_chaoyang_moves_on_the_wall_as_events_arrive(services):
    from app import create_app
    from callbacks.wall_feed import VOLUNTEER_TRACE

    now = datetime.now(UTC)
    ingest(services, registrations("CY", "朝阳村", 200))
    ingest(services, [vf.requested("cy-140", "朝阳村", 140, now - timedelta(minutes=10),
                                   now + timedelta(minutes=50), title="封控区值守")])
    app = create_app(services=services)
    client = signed_in_client(app, services, "wall")
    status, first = poll(client, app)
    assert status == 200
    assert funnel_numbers(first[VolIds.MOBS]["children"], "cy-140") == {
        "asked": "200", "accepted": "0", "arrived": "0"}
    assert view_numbers(services, "cy-140") == {"asked": "200", "accepted": "0", "arrived": "0"}
    card = strings_of(first[VolIds.MOBS]["children"])
    assert "封控区值守" in card and "朝阳村" in card and "需 140 人" in card
    assert strings_of(first[VolIds.MOBS_NOTE]["children"]) == []
    assert strings_of(first[VolIds.FORCES_NOTE]["children"]) == []  # real data: no 模拟 chip
    totals = {n["props"]["data-kind"]: strings_of(n)[-1]
              for n in nodes(first[VolIds.FORCES]["children"], "vol-total")}
    assert totals == {"on_duty": "0", "mobilised": "0", "available": "200",
                      "registered": "200"}
    responses, mobilised = [first], "0"
    seen = first[SEEN]["data"]
    steps = [("accepted", range(0, 50), {"accepted": "50", "arrived": "0"}),
             ("arrived", range(0, 30), {"accepted": "50", "arrived": "30"}),
             ("accepted", range(50, 130), {"accepted": "130", "arrived": "30"}),
             ("arrived", range(30, 140), {"accepted": "140", "arrived": "140"})]
    for kind, numbers, expected in steps:
        ingest(services, answers("cy-140", "CY", kind, numbers, datetime.now(UTC)))
        assert view_numbers(services, "cy-140") == {"asked": "200", **expected}
        status, moved = poll(client, app, seen=seen)
        assert status == 200, kind
        assert funnel_numbers(moved[VolIds.MOBS]["children"], "cy-140") == {
            "asked": "200", **expected}
        # the map's badge over 朝阳村: everyone who accepted or arrived (mobilised); it is
        # sent only when the deployment changed (arrivals of the accepted change nothing)
        operations = moved.get(WallIds.MAP, {}).get("figure", {}).get("operations", [])
        badge = [op["params"]["value"] for op in operations
                 if op["location"] == ["data", VOLUNTEER_TRACE]]
        if expected["accepted"] != mobilised:
            assert [(t["uid"], t["text"]) for t in badge] == [
                ("volunteers", [expected["accepted"]])]
        else:
            assert badge == []
        mobilised = expected["accepted"]
        seen = moved[SEEN]["data"]
        responses.append(moved)
    final = strings_of(responses[-1][VolIds.MOBS]["children"])
    assert "已到齐" in final and "需再动员" not in final
    # nothing personal: no name, phone (whole or masked) of the 200 registered
    sent = json.dumps(responses, ensure_ascii=False)
    for n in range(200):
        name, phone = person(n)
        assert name not in sent and phone not in sent and f"{phone[:3]}****{phone[-4:]}" \
            not in sent
        assert f"{name[0]}**" not in sent
    assert "CY-0" not in sent  # nor a volunteer's id


def test_time_left_and_the_recall_flag_move_with_time_alone(sqlite_services, monkeypatch):
    import callbacks.wall_feed
    from app import create_app

    services = sqlite_services
    now = datetime.now(UTC)
    ingest(services, registrations("WJ", "吴家村", 40, source="sim:feed"))
    ingest(services, [vf.requested("wj-30", "吴家村", 30, now - timedelta(minutes=5),
                                   now + timedelta(minutes=55), title="防汛巡堤",
                                   source="sim:feed"),
                      *answers("wj-30", "WJ", "accepted", range(3), now, "sim:feed")])
    app = create_app(services=services)
    client = signed_in_client(app, services, "wall")
    status, first = poll(client, app)
    assert status == 200
    card = strings_of(first[VolIds.MOBS]["children"])
    assert "剩余 55分" in card and "需再动员" not in card
    assert strings_of(first[VolIds.FORCES_NOTE]["children"]) == ["模拟数据"]
    # no event, 25 minutes pass: 3 of 30 accepted with half the time gone lags the schedule
    version = services.version()
    monkeypatch.setattr(callbacks.wall_feed, "utc_now", lambda: now + timedelta(minutes=25))
    status, later = poll(client, app, seen=first[SEEN]["data"])
    assert status == 200 and services.version() == version
    card = strings_of(later[VolIds.MOBS]["children"])
    assert "剩余 30分" in card and "需再动员" in card
    assert nodes(later[VolIds.MOBS]["children"], "vm-lag")
    # past the deadline: 已超时, and how many are short
    monkeypatch.setattr(callbacks.wall_feed, "utc_now", lambda: now + timedelta(minutes=56))
    status, late = poll(client, app, seen=later[SEEN]["data"])
    card = strings_of(late[VolIds.MOBS]["children"])
    assert "已超时" in card and "缺 30 人" in card and "需再动员" in card
    assert nodes(late[VolIds.MOBS]["children"], "vm-expired")
    status, _ = poll(client, app, seen=late[SEEN]["data"])
    assert status == 204  # same version, same period: nothing to send


def test_english_panels_over_http(sqlite_services):
    from app import create_app

    services = sqlite_services
    now = datetime.now(UTC)
    ingest(services, registrations("CY", "朝阳村", 20))
    ingest(services, [vf.requested("cy-10", "朝阳村", 10, now - timedelta(minutes=1),
                                   now + timedelta(minutes=30), title="Road watch")])
    app = create_app(services=services)
    status, response = poll(signed_in_client(app, services, "wall"), app, lang="en")
    words = strings_of(response[VolIds.MOBS]["children"])
    assert {"Road watch", "10 needed", "Chaoyang", "(schematic)", "Asked", "Accepted",
            "Arrived", "30 min left"} <= set(words)
    forces = strings_of(response[VolIds.FORCES]["children"])
    assert {"On duty", "Mobilised", "Available", "Registered", "Chaoyang"} <= set(forces)


def test_a_large_or_lagging_mobilisation_is_not_pushed_off_by_small_ones():
    from layouts.wall_volunteers import mobilization_rows

    small = [{"mobilization_id": f"S{i}", "needed": 5, "seconds_left": 600 + i, "lag": False}
             for i in range(3)]
    big = {"mobilization_id": "LOCK", "needed": 140, "seconds_left": 3000, "lag": False}
    rows, more = mobilization_rows([*small, big])
    assert rows[0]["id"] == "LOCK" and more == 1
