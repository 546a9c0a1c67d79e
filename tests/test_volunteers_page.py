"""Tests of the volunteers pages (``/volunteers`` and ``/volunteers/<id>``): the pure builders,
and on the real Redis and both databases, through the app's own callbacks as each role: the
registry and its filters, a person's record with sources, hours and points traced to their
events, mobilisations and who has not answered, assessment, recruitment, the merge queue's
decisions and their undo, staff scope, and personal data kept masked for leaders and admins."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from app import create_app
from cockpit import audit
from cockpit.events import parse_event
from cockpit.ingest import resolve_villages
from cockpit.store.apply import apply_batch
from cockpit.store.volunteer_models import MergeCandidate, Volunteer, VolunteerRecord
from cockpit.volunteers import detail, registry
from cockpit.volunteers.registry import person_id
from layouts import volunteers_sections as sections
from layouts.volunteers import View, registry_rows
from layouts.volunteers_query import VolunteersQuery, parse_query, record_href, with_filters
from tests.access_support import clients_by_role
from tests.volunteer_factories import (
    activity,
    answer,
    id_number,
    punch,
    registered,
    requested,
    signed_up,
)

IN_SCOPE = "330110006201"  # 胜稼村: the staff accounts' village
OUT_OF_SCOPE = "330110006002"  # 新街社区
VILLAGES = {IN_SCOPE: "胜稼村", OUT_OF_SCOPE: "新街社区"}
#: The planted people's personal data: what a leader's or admin's response may never carry.
RAW = ["周杰伦", "13812341234", "王小明", "王晓明", "13987654321", "李四海", "13700001111",
       id_number(7)]
ZHOU = person_id("hongqiao", "HQ-1")
ZHOU_ZY = person_id("zhiyuanhui", "ZY-1")
WANG = person_id("hongqiao", "HQ-2")
WANG_XH = person_id("xihu", "XH-2")
LI = person_id("hongqiao", "HQ-3")


def plant(services, now: datetime | None = None) -> datetime:
    """Store five volunteers (one of two platforms joined by ID number), two pairs for review,
    a verified and an unfinished attendance, two mobilisations and a campaign; returns now."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    day = now - timedelta(days=2)
    # sign-ups on three local days; from yesterday's noon, so no run near midnight splits a day
    noon = datetime.combine(now.astimezone(services.settings.tz).date() - timedelta(days=1),
                            time(12), services.settings.tz)
    entries = [
        registered("HQ-1", "周杰伦", phone="13812341234", village="胜稼村", team="胜稼村网格队",
                   team_kind="网格", skills="急救,驾驶", at=day - timedelta(days=30)),
        registered("ZY-1", "周杰伦", source="zhiyuanhui", phone="138-1234-1234",
                   village="胜稼村", at=day - timedelta(days=20)),
        registered("HQ-2", "王小明", phone="13987654321", village="新街社区",
                   team="新街青年突击队", team_kind="青年", at=day - timedelta(days=30)),
        registered("XH-2", "王晓明", source="xihu", phone="13987654321", village="新街社区",
                   at=day - timedelta(days=10)),
        registered("HQ-3", "李四海", phone="13700001111", id_number=id_number(7),
                   village="胜稼村", team="胜稼村网格队", team_kind="网格",
                   at=day - timedelta(days=30)),
        registered("XH-3", "李四海", source="xihu", id_number=id_number(7), village="胜稼村",
                   at=day - timedelta(days=5)),
        activity("A-1", day, 2, title="垃圾分类桶边督导", village="胜稼村"),
        punch("A-1", "HQ-1", day - timedelta(minutes=5)),
        punch("A-1", "HQ-1", day + timedelta(hours=2), out=True, rating=5),
        activity("A-2", day, 2, title="防汛巡查", village="新街社区"),
        punch("A-2", "HQ-2", day),
        requested("M-1", "胜稼村", 3, now - timedelta(minutes=10), now + timedelta(minutes=50),
                  title="胜稼村防疫值守"),
        answer("M-1", "HQ-3", "accepted", now - timedelta(minutes=5)),
        requested("M-2", "新街社区", 2, now - timedelta(minutes=10), now + timedelta(hours=2),
                  title="新街社区秩序维护"),
        *[signed_up("asian-games", n, noon - timedelta(days=n % 3, minutes=n),
                    campaign="亚运城市志愿者招募", target=100) for n in range(1, 8)],
    ]
    key = services.settings.secret("pd_key")
    with services.sessions.begin() as session:
        apply_batch(session, [(parse_event(f, pd_key=key, now=now + timedelta(seconds=1)),
                               f"0-{i + 1}") for i, f in enumerate(entries)], resolve_villages,
                    now=now, tz=services.settings.tz)
    return now


@pytest.fixture
def app(services):
    plant(services)
    return create_app(services.settings, services=services)


@pytest.fixture
def clients(app, services):
    return clients_by_role(app, services, IN_SCOPE)


# -- posting callbacks as the browser does -------------------------------------------------------
def _id(ident: Any) -> str:
    if isinstance(ident, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{json.dumps(ident[k])}"
                              for k in sorted(ident)) + "}"
    return str(ident)


def call(client, app, output: str, values: dict[str, Any] | None = None,
         trigger: Any = None, items: list[tuple[dict, Any]] | None = None):
    """POST the callback whose output names ``output``; ``values``: ``{"id.prop": value}``.

    ``items``: the (id, value) pairs of a pattern-matching ALL input; ``trigger``: the id (or
    ``id.prop``) that changed.
    """
    key = next(k for k, v in app.callback_map.items() if output in k and "callback" in v)
    spec, values = app.callback_map[key], values or {}

    def fill(specs):
        out = []
        for item in specs:
            ident, prop = str(item["id"]), item["property"]
            if ident.startswith("{"):
                out.append([{"id": i, "property": prop, "value": v} for i, v in items or []])
            else:
                out.append({"id": ident, "property": prop,
                            "value": values.get(f"{ident}.{prop}")})
        return out
    if key.startswith(".."):
        outputs = [{"id": p.rsplit(".", 1)[0], "property": p.rsplit(".", 1)[1]}
                   for p in key.strip(".").split("...")]
    else:
        ident, prop = key.rsplit(".", 1)
        outputs = {"id": ident, "property": prop}
    if isinstance(trigger, dict):
        trigger = f"{_id(trigger)}.n_clicks"
    body = {"output": key, "outputs": outputs, "inputs": fill(spec["inputs"]),
            "state": fill(spec["state"]), "changedPropIds": [trigger] if trigger else []}
    return client.post("/_dash-update-component", json=body)


def text_of(response) -> str:
    """A response body as text (Dash escapes every non-ASCII character in JSON)."""
    data = response.get_data()
    if response.is_json:
        return json.dumps(json.loads(data), ensure_ascii=False)
    return data.decode(errors="replace")


def page(client, app, path: str, search: str = ""):
    """The router's answer for ``path`` and ``search`` (what navigating there renders)."""
    return call(client, app, "shell-page.children",
                {"shell-url.pathname": path, "shell-url.search": search},
                trigger="shell-url.pathname")


def response_of(response) -> dict:
    assert response.status_code == 200, (response.status_code, response.get_data()[:400])
    return json.loads(response.get_data())["response"]


def store(client, app, path: str, search: str, store_id: str) -> Any:
    """The data of a store of the page at ``path`` (its STATE for the callbacks)."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            props = node.get("props")
            if props is None:
                props = node
            elif props.get("id") == store_id:
                found.append(props.get("data"))
            for value in props.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)
    walk(response_of(page(client, app, path, search)))
    assert found, store_id
    return found[0]


def body_of(client, app, path: str, search: str = "") -> str:
    """The page's answer as text, checked to be a 200."""
    response = page(client, app, path, search)
    assert response.status_code == 200, (response.status_code, response.get_data()[:300])
    return text_of(response)


# -- pure builders ----------------------------------------------------------------------------
def test_query_round_trips_and_bad_values_are_named():
    query = VolunteersQuery(tab="registry", village=IN_SCOPE, team="胜稼村网格队", kind="grid",
                            status="active", text="周", page=2)
    params = query.params()
    assert params == {"village": IN_SCOPE, "team": "胜稼村网格队", "kind": "grid",
                      "status": "active", "q": "周", "page": "2"}
    assert parse_query(params, VILLAGES) == (query, [])
    assert VolunteersQuery(tab="mobilization", mob="M-1", every=True).href("en") == \
        "/volunteers?tab=mobilization&mob=M-1&all=1&lang=en"
    parsed, bad = parse_query({"tab": "secrets", "village": "x", "kind": "ninja",
                               "month": "2026-13", "page": "0", "all": "yes"}, VILLAGES)
    assert parsed == VolunteersQuery()
    assert bad == ["tab=secrets", "village=x", "kind=ninja", "month=2026-13", "all=yes",
                   "page=0"]
    changed = with_filters(VolunteersQuery(page=3, kind="grid"), kind=None, text="  周 杰 ")
    assert changed == VolunteersQuery(text="周 杰")
    with pytest.raises(TypeError):
        with_filters(VolunteersQuery(), colour="red")
    assert record_href("V/1", "en") == "/volunteers/V%2F1?lang=en"


def test_registry_rows_link_every_cell_to_the_record():
    rows = registry_rows([{"volunteer_id": "V1", "name": "周**", "phone": "138****1234",
                           "team": "<b>队</b>", "village_code": IN_SCOPE, "skills": ["急救"],
                           "platforms": ["hongqiao", "xihu", "xihu"], "verified_hours": 2.5,
                           "points": 1234}], View("zh", VILLAGES))
    cells = rows[0].children
    assert len(cells) == 9
    assert {c.children.href for c in cells} == {"/volunteers/V1"}
    assert [c.children.children for c in cells][1:] == [
        "周**", "138****1234", "<b>队</b>", "胜稼村", "急救", "红乔先锋 · 西湖先锋", "2.5", "1,234"]
    empty = registry_rows([], View("en", {}))
    assert empty[0].children.children == "No volunteers match"


def test_every_volunteers_string_has_both_languages_and_every_flag_a_label():
    from cockpit.volunteers.hours import FLAGS
    from layouts import strings_volunteers
    from layouts.i18n import STRINGS

    assert all(zh and en for zh, en in strings_volunteers.STRINGS.values())
    assert all(STRINGS[k] == v for k, v in strings_volunteers.STRINGS.items())
    assert all(zh and en for zh, en in FLAGS.values())


def test_figures_are_plain_dicts():
    grades = [{"code": "excellent", "zh": "优秀", "en": "Excellent", "min_points": 100,
               "volunteers": 2}, {"code": "none", "zh": "未达标", "en": "Below",
                                  "min_points": 0, "volunteers": 5}]
    figure = sections.grade_figure(grades, "en")
    assert isinstance(figure, dict) and figure["data"][0]["x"] == ["Excellent", "Below"]
    assert figure["data"][0]["y"] == [2, 5]
    trend = sections.trend_figure([{"date": "2026-12-01", "count": 3}], "zh")
    assert trend["data"][0]["type"] == "bar" and trend["data"][0]["y"] == [3]
    json.dumps(figure), json.dumps(trend)  # JSON as they are: no go.Figure anywhere


# -- the registry ----------------------------------------------------------------------------
def test_registry_renders_for_each_role_staff_see_their_villages_only(app, clients):
    everyone = {ZHOU, ZHOU_ZY, WANG, WANG_XH, LI}
    for role in ("leader", "admin", "staff"):
        text = body_of(clients[role], app, "/volunteers")
        shown = {v for v in everyone if v in text}
        assert shown == (everyone if role != "staff" else {ZHOU, ZHOU_ZY, LI}), role
        assert "周**" in text and "138****1234" in text
        assert ("共 5 人" if role != "staff" else "共 3 人") in text
    assert "Total 5" in body_of(clients["leader"], app, "/volunteers", "?lang=en")
    wall = page(clients["wall"], app, "/volunteers")
    assert "无权访问此页面" in text_of(wall) and ZHOU not in text_of(wall)


def test_registry_filters_and_personal_search_by_role(app, clients):
    leader, staff = clients["leader"], clients["staff"]
    assert "共 2 人" in body_of(leader, app, "/volunteers", f"?village={OUT_OF_SCOPE}")
    youth = body_of(leader, app, "/volunteers", "?kind=youth")
    assert "共 1 人" in youth and WANG in youth
    team = body_of(leader, app, "/volunteers", "?team=胜稼村网格队")
    assert "共 2 人" in team and ZHOU in team and LI in team
    assert "共 1 人" in body_of(leader, app, "/volunteers", "?q=XH-2")  # a platform id
    # names and phone numbers are searched for staff only (else the search would confirm them)
    assert "共 0 人" in body_of(leader, app, "/volunteers", "?q=王小明")
    assert "共 0 人" in body_of(leader, app, "/volunteers", "?q=1381234")
    assert "共 2 人" in body_of(staff, app, "/volunteers", "?q=1381234")
    assert "共 0 人" in body_of(staff, app, "/volunteers", "?q=王小明")  # not their village
    assert "已忽略无效的筛选条件：kind=ninja" in body_of(leader, app, "/volunteers", "?kind=ninja")
    # the filter bar only navigates: the page is rendered for the new query
    state = store(staff, app, "/volunteers", "?kind=grid", "vol-state")
    nav = response_of(call(staff, app, "vol-nav.href", {
        "vol-f-village.value": IN_SCOPE, "vol-f-kind.value": "grid", "vol-state.data": state},
        trigger="vol-f-village.value"))
    assert nav["vol-nav"]["href"] == f"/volunteers?village={IN_SCOPE}&kind=grid"


def test_the_record_shows_sources_hours_and_points_with_their_events(app, clients):
    text = body_of(clients["leader"], app, f"/volunteers/{ZHOU}")
    assert "周**" in text and "138****1234" in text and "周杰伦" not in text
    assert "红乔先锋" in text and "HQ-1" in text
    assert "垃圾分类桶边督导" in text and "已核验" in text and "125" in text  # minutes
    assert "核验服务时长" in text and "服务评价" in text
    assert "hongqiao/activity.checked_in-A-1-HQ-1" in text  # the events that earned points
    assert "胜稼村防疫值守" in text  # asked to M-1
    wang = body_of(clients["leader"], app, f"/volunteers/{WANG}")
    assert "未退卡，已自动关闭" in wang  # hours.FLAGS
    li = body_of(clients["leader"], app, f"/volunteers/{LI}")
    assert "HQ-3" in li and "XH-3" in li and "同一身份证号（自动）" in li
    assert "撤销合并" not in li  # undo is staff's
    assert "撤销合并" in body_of(clients["staff"], app, f"/volunteers/{LI}")
    en = body_of(clients["leader"], app, f"/volunteers/{WANG}", "?lang=en")
    assert "no check-out; closed automatically" in en and "Volunteer record" in en


def test_staff_are_refused_a_person_outside_their_villages(app, clients, services):
    staff = clients["staff"]
    text = body_of(staff, app, f"/volunteers/{WANG}")
    assert "不存在或不在您负责的村社" in text and "王**" not in text and "新街" not in text
    assert "vold-reveal" not in text or '"hidden": true' in text
    state = {"lang": "zh", "volunteer_id": WANG}
    refused = response_of(call(staff, app, "vold-revealed.children",
                               {"vold-reveal.n_clicks": 1, "vold-state.data": state},
                               trigger="vold-reveal.n_clicks"))
    assert refused["vold-pd-note"]["children"].startswith("无权查看")
    assert "王小明" not in json.dumps(refused, ensure_ascii=False)
    with services.read() as db:
        assert audit.read(db, action="view_unmasked").total == 0
    assert "共 1 对" not in body_of(staff, app, "/volunteers", "?tab=merges")  # 王's pair: not
    with services.sessions.begin() as db:  # a merged-away id of their village is not theirs
        registry.merge(db, WANG, WANG_XH, "leader-1", datetime.now(UTC))
    assert "不存在或不在您负责的村社" in body_of(staff, app, f"/volunteers/{WANG_XH}")
    assert f"志愿者 {WANG_XH} 已合并" in body_of(clients["leader"], app, f"/volunteers/{WANG_XH}")


def test_staff_reveal_a_record_in_full_and_it_is_audited(app, clients, services):
    state = {"lang": "zh", "volunteer_id": ZHOU}
    body = {"vold-reveal.n_clicks": 1, "vold-state.data": state}
    assert call(clients["leader"], app, "vold-revealed.children", body,
                trigger="vold-reveal.n_clicks").status_code == 403
    shown = text_of(call(clients["staff"], app, "vold-revealed.children", body,
                         trigger="vold-reveal.n_clicks"))
    assert "周杰伦" in shown and "13812341234" in shown and "已显示完整信息" in shown
    with services.read() as db:
        entries = audit.read(db, action="view_unmasked")
        assert entries.total == 1
        assert (entries.rows[0].target, entries.rows[0].role, entries.rows[0].actor) == (
            ZHOU, "staff", clients["staff"].account)


# -- mobilisations, assessment, recruitment ----------------------------------------------------
def test_mobilisations_show_funnels_and_who_has_not_answered(app, clients, services):
    leader, staff = clients["leader"], clients["staff"]
    board = body_of(leader, app, "/volunteers", "?tab=mobilization")
    assert "胜稼村防疫值守" in board and "新街社区秩序维护" in board and "剩 " in board
    assert "新街社区秩序维护" not in body_of(staff, app, "/volunteers", "?tab=mobilization")
    chosen = body_of(leader, app, "/volunteers", "?tab=mobilization&mob=M-1")
    assert "未回复人员 · M-1" in chosen and "共 2 人，请电话联系" in chosen
    assert ZHOU in chosen and ZHOU_ZY in chosen and "周**" in chosen and "周杰伦" not in chosen
    # staff reveal the list to phone them; audited; leaders may not
    state = store(staff, app, "/volunteers", "?tab=mobilization&mob=M-1", "vol-state")
    body = {"vol-reveal.n_clicks": 1, "vol-state.data": state}
    assert call(leader, app, "vol-revealed.children", body,
                trigger="vol-reveal.n_clicks").status_code == 403
    shown = text_of(call(staff, app, "vol-revealed.children", body,
                         trigger="vol-reveal.n_clicks"))
    assert "周杰伦" in shown and "13812341234" in shown
    other = {"vol-reveal.n_clicks": 1, "vol-state.data": {**state, "params": {
        "tab": "mobilization", "mob": "M-2"}}}
    refused = text_of(call(staff, app, "vol-revealed.children", other,
                           trigger="vol-reveal.n_clicks"))
    assert "王小明" not in refused and "无权查看" in refused
    with services.read() as db:
        rows = audit.read(db, action="view_unmasked").rows
        assert [(r.target, r.role) for r in rows] == [("mobilization:M-1", "staff")]


def test_assessment_grades_teams_and_a_masked_leaderboard(app, clients, services):
    tz = services.settings.tz
    now = datetime.now(UTC)
    # the points were earned at a checkout two days ago less two hours (``plant``): in this
    # month, or early in a month's first days in the last one, shown when asked for it
    month = (now - timedelta(days=2, hours=-2)).astimezone(tz).strftime("%Y-%m")
    query = "?tab=assessment" + ("" if month == now.astimezone(tz).strftime("%Y-%m")
                                 else f"&month={month}")
    for role in ("leader", "staff"):
        text = body_of(clients[role], app, "/volunteers", query)
        assert f"{month} 等级分布" in text and "1 人获得积分" in text
        assert "积分排行榜" in text and "周**" in text and "周杰伦" not in text
        assert "胜稼村网格队" in text and "网格队" in text and "50%" in text
    new_month = response_of(call(clients["leader"], app, "vol-month-nav.href", {
        "vol-f-month.value": "2026-01", "vol-state.data": {"lang": "zh", "params": {
            "tab": "assessment"}}}, trigger="vol-f-month.value"))
    assert new_month["vol-month-nav"]["href"] == "/volunteers?tab=assessment&month=2026-01"


def test_recruitment_campaigns_with_totals_and_trend(app, clients):
    text = body_of(clients["leader"], app, "/volunteers", "?tab=recruitment")
    assert "亚运城市志愿者招募" in text and "7.0%" in text
    figure = json.loads(text)  # the trend: a bar figure of three days
    bars = [n["props"]["figure"] for n in _nodes(figure) if n.get("type") == "Graph"]
    assert len(bars) == 1 and sum(bars[0]["data"][0]["y"]) == 7
    assert len(bars[0]["data"][0]["x"]) == 3


def _nodes(node):
    if isinstance(node, dict):
        if "props" in node:
            yield node
            yield from _nodes(node["props"])
        else:
            for value in node.values():
                yield from _nodes(value)
    elif isinstance(node, list):
        for item in node:
            yield from _nodes(item)


# -- the merge queue ---------------------------------------------------------------------------
def _queue(services):
    with services.read() as db:
        return detail.merge_queue(db, services.settings.tz)


def _decide(client, app, action: str, key: object, state: dict | None = None):
    button = {"type": "vol-act", "action": action, "key": str(key)}
    return call(client, app, "vol-message.children",
                {"vol-state.data": state or {"lang": "zh", "params": {"tab": "merges"}}},
                trigger=button, items=[(button, 1)])


def test_merge_from_the_queue_then_undo_it_on_the_record(app, clients, services):
    staff = clients["staff"]
    queue = _queue(services)
    ours = next(c for c in queue if c["a"]["village_code"] == IN_SCOPE)
    assert ours["reason"] == "same_phone_name"
    text = body_of(staff, app, "/volunteers", "?tab=merges")
    assert "待审核 1 对" in text and "同一手机号且姓名相同" in text and "合并（B 并入 A）" in text
    version = services.version()
    done = response_of(_decide(staff, app, "merge_into_a", ours["candidate_id"]))
    a, b = ours["a"]["volunteer_id"], ours["b"]["volunteer_id"]
    assert done["vol-message"]["children"] == f"已合并：{b} 并入 {a}"
    assert services.version() > version  # other screens refresh
    with services.read() as db:
        one = detail.volunteer_detail(db, services.settings.tz, a)
        assert {(s["platform"], s["source_id"]) for s in one["sources"]} == {
            ("hongqiao", "HQ-1"), ("zhiyuanhui", "ZY-1")}
        assert db.get(Volunteer, b).merged_into == a
        entry = audit.read(db, action="volunteer_merged").rows[0]
        assert (entry.actor, entry.target, entry.role) == (staff.account, a, "staff")
        assert entry.detail.endswith(f": {b}")
    record = body_of(staff, app, f"/volunteers/{b}")
    assert f"志愿者 {b} 已合并" in record and a in record
    # the queue says so when the same pair is decided twice
    again = response_of(_decide(staff, app, "merge_into_a", ours["candidate_id"]))
    assert "已处理或不存在" in again["vol-message"]["children"]
    # undo on the record: two volunteers again, each with its source
    merge_id = detail.merges(services.sessions(), services.settings.tz, a)[0]["merge_id"]
    button = {"type": "vold-undo", "action": "undo", "key": str(merge_id)}
    undone = response_of(call(staff, app, "vold-message.children",
                              {"vold-state.data": {"lang": "zh", "volunteer_id": a}},
                              trigger=button, items=[(button, 1)]))
    assert undone["vold-message"]["children"].startswith(f"已撤销合并 #{merge_id}")
    with services.read() as db:
        assert db.get(Volunteer, b).status == "active"
        assert {r.volunteer_id for r in db.scalars(select(VolunteerRecord).where(
            VolunteerRecord.source_id.in_(["HQ-1", "ZY-1"])))} == {a, b}
        assert audit.read(db, action="volunteer_merge_undone").total == 1
    twice = response_of(call(staff, app, "vold-message.children",
                             {"vold-state.data": {"lang": "zh", "volunteer_id": a}},
                             trigger=button, items=[(button, 1)]))
    assert twice["vold-message"]["children"] == f"合并 #{merge_id} 已撤销过"


def test_reject_removes_the_pair_from_the_queue(app, clients, services):
    staff = clients["staff"]
    ours = next(c for c in _queue(services) if c["a"]["village_code"] == IN_SCOPE)
    done = response_of(_decide(staff, app, "reject", ours["candidate_id"]))
    assert done["vol-message"]["children"].startswith("已标记为不同人")
    assert ours["candidate_id"] not in {c["candidate_id"] for c in _queue(services)}
    assert "暂无待审核" in body_of(staff, app, "/volunteers", "?tab=merges")
    with services.read() as db:
        assert audit.read(db, action="volunteer_merge_rejected").total == 1
        assert db.scalar(select(func.count()).select_from(Volunteer)
                         .where(Volunteer.status == "active")) == 5


def test_leaders_see_the_count_only_and_are_refused_every_decision(app, clients, services):
    text = body_of(clients["leader"], app, "/volunteers", "?tab=merges")
    assert "待审核 2 对" in text and "合并审核仅限工作人员" in text
    assert "合并（B 并入 A）" not in text and "撤销合并" not in text
    for role in ("leader", "admin"):
        for action, key in (("merge_into_a", 1), ("reject", 1), ("undo", 1)):
            assert _decide(clients[role], app, action, key).status_code == 403, (role, action)
    assert len(_queue(services)) == 2


def test_staff_cannot_decide_a_pair_outside_their_villages(app, clients, services):
    theirs = next(c for c in _queue(services) if c["a"]["village_code"] == OUT_OF_SCOPE)
    refused = response_of(_decide(clients["staff"], app, "merge_into_a", theirs["candidate_id"]))
    assert refused["vol-message"]["children"].startswith("无权查看或操作")
    assert len(_queue(services)) == 2
    with services.read() as db:
        assert db.scalar(select(func.count()).select_from(MergeCandidate)
                         .where(MergeCandidate.status == "open")) == 2


# -- personal data -------------------------------------------------------------------------------
def _every_answer(app, client) -> str:
    """Every page, section and callback of the volunteers pages as ``client`` gets them."""
    answers = []
    searches = ["", "?tab=mobilization&mob=M-1", "?tab=mobilization&mob=M-2&all=1",
                "?tab=assessment", "?tab=recruitment", "?tab=merges", "?q=HQ", "?lang=en"]
    for search in searches:
        answers.append(page(client, app, "/volunteers", search))
    for vid in (ZHOU, ZHOU_ZY, WANG, WANG_XH, LI):
        answers.append(page(client, app, f"/volunteers/{vid}"))
        answers.append(call(client, app, "vold-revealed.children", {
            "vold-reveal.n_clicks": 1, "vold-state.data": {"lang": "zh", "volunteer_id": vid}},
            trigger="vold-reveal.n_clicks"))
        answers.append(call(client, app, "vold-body.children", {
            "vold-state.data": {"lang": "zh", "volunteer_id": vid}}, trigger="vold-changed.data"))
    for params in ({"tab": "mobilization", "mob": "M-1"}, {"tab": "merges"}, {},
                   {"tab": "assessment"}):
        state = {"lang": "zh", "params": params}
        answers.append(call(client, app, "vol-revealed.children", {
            "vol-reveal.n_clicks": 1, "vol-state.data": state}, trigger="vol-reveal.n_clicks"))
        answers.append(call(client, app, "vol-body.children", {"vol-state.data": state},
                            trigger="vol-changed.data"))
    return "\n".join(text_of(r) for r in answers)


@pytest.mark.parametrize("role", ["leader", "admin"])
def test_no_name_phone_or_id_number_reaches_leaders_or_admins(app, clients, role):
    text = _every_answer(app, clients[role])
    assert "周**" in text and "138****1234" in text  # the pages did answer
    for value in RAW:
        assert value not in text, (role, value)
    assert "hmac-sha256:" not in text


def test_staff_get_full_names_only_from_an_audited_reveal(app, clients, services):
    text = _every_answer(app, clients["staff"])
    assert "周杰伦" in text  # the reveals
    with services.read() as db:
        targets = {r.target for r in audit.read(db, action="view_unmasked").rows}
    assert targets == {ZHOU, ZHOU_ZY, LI, "mobilization:M-1", f"merge-queue:{_our_pair(services)}"}
    assert id_number(7) not in text and "王小明" not in text and "13987654321" not in text


def _our_pair(services) -> str:
    return str(next(c["candidate_id"] for c in _queue(services)
                    if c["a"]["village_code"] == IN_SCOPE))
