"""The follow-ups tab of ``/waste`` (薄弱户跟进): its pure builders, then through the app's own
callbacks on the real Redis and both databases, as each role: a weak household the rule found
is listed (staff: its villages only, filtered in SQL); 派单 and 走访登记 each XADD exactly one
valid event, which a real Ingestor applies (open → assigned → visited); after better disposals
the list shows the change; one form token is one event; forged values and acts out of scope
are refused with a message and write nothing; every act sent is audited."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from dash import html

from app import create_app
from cockpit import audit
from cockpit.access import Role, Viewer
from cockpit.events import parse_event
from cockpit.waste import followup_board
from cockpit.waste import followup_request as ask
from cockpit.waste.events import FollowUpAssigned, FollowUpVisited
from layouts.i18n import t
from layouts.volunteers import View
from layouts.waste_followups import FollowupIds as Ids
from layouts.waste_followups import effect_cell, followup_table, followups_section, reason_cell
from tests.access_support import clients_by_role
from tests.test_volunteers_page import call, response_of, text_of
from tests.waste_factories import disposal, household, station
from tests.waste_factories import ingest as _ingest

IN_SCOPE = "330110006201"  # 胜稼村: the staff accounts' village
OUT_OF_SCOPE = "330110006002"  # 新街社区
DAY = timedelta(days=1)
STATE = {"lang": "zh"}
ASSIGNEE = "请填写跟进人编号（字母、数字和 -_.:/，不超过 64 位）"




def _weak(household_id: str, first: datetime) -> list[dict]:
    """Eight disposals a day from ``first``, three of them correct (37.5 %: below 80 %)."""
    return [disposal(household_id, first + i * DAY, correct=i % 3 == 0,
                     station_id="ST-1" if household_id != "W-2" else "ST-2")
            for i in range(8)]


@pytest.fixture
def now(services) -> datetime:
    """W-1 of 胜稼村 3组 and W-2 of 新街社区 found weak 13 days ago (due 6 days ago: overdue);
    G-1 of 胜稼村 sorts well."""
    at = datetime.now(UTC).replace(microsecond=0)
    first = at - 20 * DAY
    _ingest(services, [
        station("ST-1", village="胜稼村", at=at - 60 * DAY),
        station("ST-2", village="新街社区", at=at - 60 * DAY),
        household("W-1", village="胜稼村", group="3组", at=at - 60 * DAY,
                  head_name="王小明", head_phone="13812345678"),
        household("W-2", village="新街社区", group="1组", at=at - 60 * DAY),
        household("G-1", village="胜稼村", group="2组", at=at - 60 * DAY),
        *_weak("W-1", first), *_weak("W-2", first),
        *[disposal("G-1", first + i * DAY) for i in range(8)]])
    return at


@pytest.fixture
def app(services, now):
    return create_app(services.settings, services=services)


@pytest.fixture
def clients(app, services):
    return clients_by_role(app, services, IN_SCOPE)


def _task(services, household_id: str) -> dict:
    with services.read() as session:
        rows = followup_board.followup_rows(session, services.settings.waste_rules,
                                            services.settings.tz, datetime.now(UTC))
    (row,) = [r for r in rows if r["household_id"] == household_id]
    return row


def _stream(services) -> list[dict]:
    return [f for _, f in services.redis.xrange(services.settings.stream("waste"))
            if f.get("source") == "cockpit"]


def _audit(services, action: str) -> list[tuple]:
    with services.read() as db:
        return [(e.actor, e.role, e.target, e.detail) for e in audit.read(db, action=action).rows]


def _refresh(client, app, **values):
    inputs = {f"{Ids.STATE}.data": STATE, f"{Ids.STATUS}.value": values.get("status"),
              f"{Ids.VILLAGE}.value": values.get("village")}
    return call(client, app, f"{Ids.LIST}.children", inputs, trigger=f"{Ids.STATUS}.value")


def _assign(client, app, task, **values):
    form = {"assignee": "SUP-012", "kind": "supervisor", "due": None, "token": uuid.uuid4().hex}
    form.update(values)
    inputs = {f"{Ids.TASK}.value": task, f"{Ids.ASSIGNEE}.value": form["assignee"],
              f"{Ids.KIND}.value": form["kind"], f"{Ids.DUE}.value": form["due"],
              f"{Ids.ASSIGN_TOKEN}.data": form["token"], f"{Ids.ASSIGN}.n_clicks": 1,
              f"{Ids.STATE}.data": STATE}
    return call(client, app, f"{Ids.ASSIGNED}.children", inputs, trigger=f"{Ids.ASSIGN}.n_clicks")


def _visit(client, app, task, **values):
    form = {"outcome": "educated", "note": "讲解了易腐垃圾破袋投放", "by": None, "at": None,
            "token": uuid.uuid4().hex}
    form.update(values)
    inputs = {f"{Ids.TASK}.value": task, f"{Ids.OUTCOME}.value": form["outcome"],
              f"{Ids.NOTE}.value": form["note"], f"{Ids.BY}.value": form["by"],
              f"{Ids.AT}.value": form["at"], f"{Ids.VISIT_TOKEN}.data": form["token"],
              f"{Ids.VISIT}.n_clicks": 1, f"{Ids.STATE}.data": STATE}
    return call(client, app, f"{Ids.VISITED}.children", inputs, trigger=f"{Ids.VISIT}.n_clicks")


def _said(response, ident: str) -> str:
    return response_of(response)[ident]["children"]


def _local(services, when: datetime) -> str:
    return when.astimezone(services.settings.tz).strftime("%Y-%m-%dT%H:%M")


# -- pure parts -----------------------------------------------------------------------------
def _text(component) -> str:
    return json.dumps(component.to_plotly_json(), default=lambda c: c.to_plotly_json(),
                      ensure_ascii=False)


def test_field_maps_are_valid_events_named_by_their_token():
    from zoneinfo import ZoneInfo

    tz, token, now = ZoneInfo("Asia/Shanghai"), uuid.uuid4().hex, datetime.now(UTC)
    fields = ask.assigned_fields(token, "FU-W-1-20261129", "HQ-0012345", "volunteer", now,
                                 now + 2 * DAY)
    assert fields["event_id"] == f"cockpit:{uuid.UUID(token)}" and fields["source"] == "cockpit"
    event = parse_event(fields, tz=tz, now=now)
    assert isinstance(event, FollowUpAssigned) and event.due_at == now + 2 * DAY
    visit = parse_event(ask.visited_fields(token, "FU-W-1-20261129", "not_home", now - DAY),
                        tz=tz, now=now)
    assert isinstance(visit, FollowUpVisited) and visit.note is None and visit.by is None
    for bad in ("../x", "A" * 32, None, 42):
        with pytest.raises(ask.FollowupRefused, match="token"):
            ask.assigned_fields(bad, "FU-1", "SUP-1", "supervisor", now)
    with pytest.raises(ask.FollowupRefused, match="not an id"):
        ask.person_id_of("王小明", "assignee", required=True)  # a name, not an id
    assert ask.due_of("", now, tz) is None
    assert ask.due_of("2099-01-02", now, tz) == datetime(2099, 1, 2, 10, 0, tzinfo=UTC)
    for forged in (["FU-1"], {"a": 1}, "x\x00y", "F" * 201):
        with pytest.raises(ask.FollowupRefused) as refused:
            ask.task_id_of(forged)
        assert refused.value.code == "task"
    with pytest.raises(ask.FollowupRefused, match="before the household was found"):
        ask.visited_at_of("2020-01-01T10:00", now, tz, now - DAY)


def test_the_list_cells_show_the_finding_the_overdue_and_the_effect():
    below = {"reason": "below", "finding": {"correct": 3, "total": 8, "window_days": 30.0}}
    assert "准确率偏低" in _text(reason_cell(below, "zh"))
    assert "近30天 3/8 正确（37.5%）" in _text(reason_cell(below, "zh"))
    falling = {"reason": "falling", "finding": {"correct": 5, "total": 7, "window_days": 14,
                                                "previous_correct": 7, "previous_total": 7}}
    assert "近14天 5/7（71.4%），此前 7/7（100.0%）" in _text(reason_cell(falling, "zh"))
    before = {"correct": 3, "total": 8, "rate": 3 / 8}
    waiting = effect_cell({"before": before, "after": {"correct": 2, "total": 2, "rate": 1.0},
                           "judged": False}, "zh", 4)
    assert "37.5%（3/8）" in _text(waiting) and "待观察（2/4）" in _text(waiting)
    judged = effect_cell({"before": before, "after": {"correct": 5, "total": 5, "rate": 1.0},
                          "judged": True}, "en", 4)
    assert "100.0% (5/5)" in _text(judged) and "+62.5 points" in _text(judged)
    row = {"household_id": "W-1", "village_code": IN_SCOPE, "group": "3组", **below,
           "status": "open", "overdue": True, "due_at": "2026-11-22T10:00:00+08:00",
           "before": before, "after": None}
    text = _text(followup_table([row], View("zh", {IN_SCOPE: "胜稼村"}), 4))
    assert "胜稼村" in text and "待派单" in text and "逾期" in text and "#ff4d4f" in text
    assert "暂无符合条件的跟进任务" in _text(followup_table([], View("zh"), 4))


def test_the_section_renders_every_id_and_hides_the_acts_from_roles_that_may_not():
    for role, hidden in ((Role.STAFF, False), (Role.LEADER, False), (Role.ADMIN, True)):
        section = followups_section(Viewer("user", "x", role, (IN_SCOPE,)), "zh")
        text = _text(section)
        assert all(f'"{ident}"' in text for ident in Ids), role
        acts = [c for c in section.children if getattr(c, "id", None) == Ids.ACTS]
        assert isinstance(acts[0], html.Section) and acts[0].hidden is hidden


# -- through the app ------------------------------------------------------------------------
def test_a_weak_household_found_by_the_rule_is_listed_staff_see_their_villages(
        app, clients, services, now):
    leader = text_of(_refresh(clients["leader"], app))
    assert "W-1" in leader and "W-2" in leader and "G-1" not in leader
    assert "准确率偏低" in leader and "近30天 3/8 正确（37.5%）" in leader
    assert "逾期" in leader and "共 2 户 · 逾期 2" in leader and "3组" in leader
    staff = response_of(_refresh(clients["staff"], app))
    text = json.dumps(staff, ensure_ascii=False)
    assert "W-1" in text and "W-2" not in text and "新街社区" not in text
    assert [o["value"] for o in staff[Ids.TASK]["options"]] == [_task(services, "W-1")[
        "followup_id"]]
    assert [o["value"] for o in staff[Ids.VILLAGE]["options"]] == [IN_SCOPE]
    assert len(staff[Ids.ASSIGN_TOKEN]["data"]) == 32  # the forms' first tokens
    forged = text_of(_refresh(clients["staff"], app, village=OUT_OF_SCOPE))
    assert "W-2" not in forged and "暂无符合条件的跟进任务" in forged
    visited = response_of(_refresh(clients["leader"], app, status=["visited"]))
    assert "W-1" not in json.dumps(visited[Ids.LIST]) and visited[Ids.TASK]["options"]
    assert "王小明" not in leader and "13812345678" not in leader
    with services.read() as session:  # the scope is a filter of the SQL
        rows = followup_board.followup_rows(session, services.settings.waste_rules,
                                            services.settings.tz, now, villages=[IN_SCOPE])
    assert [r["household_id"] for r in rows] == ["W-1"]


def test_assign_then_visit_each_send_one_event_and_after_better_disposals_the_change_shows(
        app, clients, services, now):
    staff = clients["staff"]
    task_id = _task(services, "W-1")["followup_id"]
    token = uuid.uuid4().hex
    message = _said(_assign(staff, app, task_id, assignee="HQ-0012345", kind="volunteer",
                            token=token), Ids.ASSIGNED)
    assert message == f"已派单 {task_id}：志愿者 HQ-0012345；入库后显示"
    (fields,) = _stream(services)
    assert fields["event_id"] == f"cockpit:{uuid.UUID(token)}"
    assert isinstance(parse_event(fields, tz=services.settings.tz), FollowUpAssigned)
    again = response_of(_assign(staff, app, task_id, token=token))  # a second click
    assert again[Ids.ASSIGNED]["children"] == "该表单已提交，未重复发送"
    assert len(_stream(services)) == 1
    assert _audit(services, "waste_followup_assigned") == [
        (staff.account, "staff", task_id, "volunteer HQ-0012345")]
    _ingest(services)
    row = _task(services, "W-1")
    assert (row["status"], row["assignee_id"], row["assignee_kind"]) == \
        ("assigned", "HQ-0012345", "volunteer")

    visit = now - 5 * DAY
    message = _said(_visit(staff, app, task_id, at=_local(services, visit)), Ids.VISITED)
    assert message == f"已登记走访 {task_id}：宣传指导到位；入库后显示"
    sent = _stream(services)
    assert len(sent) == 2 and sent[1]["type"] == "followup.visited"
    assert sent[1]["by"] == "HQ-0012345"  # the assignee, when no visitor is given
    ((_, _, target, detail),) = _audit(services, "waste_followup_visited")
    assert target == task_id and detail.startswith("outcome educated")
    _ingest(services)
    row = _task(services, "W-1")
    assert row["status"] == "visited" and row["outcome"] == "educated"
    assert (row["before"]["correct"], row["before"]["total"]) == (3, 8)
    assert row["after"]["total"] == 0 and not row["judged"]
    listed = text_of(_refresh(staff, app))
    assert "已走访" in listed and "待观察（0/4）" in listed and "讲解了易腐垃圾破袋投放" in listed

    _ingest(services, [disposal("W-1", visit + timedelta(hours=18 * (i + 1)))
                       for i in range(5)])
    listed = text_of(_refresh(staff, app))
    assert "37.5%（3/8）" in listed and "100.0%（5/5）" in listed and "+62.5 个百分点" in listed
    refused = _said(_visit(staff, app, task_id), Ids.VISITED)
    assert refused == "该任务已走访或已取消" and len(_stream(services)) == 2


#: Forged or invalid form values and the tab's answer to each.
REFUSALS = [
    ("assign", {"task": None}, "请选择跟进任务"),
    ("assign", {"task": ["FU-1"]}, "请选择跟进任务"),
    ("assign", {"assignee": "王小明"}, ASSIGNEE),
    ("assign", {"assignee": {"id": "SUP-1"}}, ASSIGNEE),
    ("assign", {"kind": "boss"}, "请选择跟进人类别（督导员或志愿者）"),
    ("assign", {"due": "2020-01-01T10:00"}, "期限须为晚于现在的日期时间"),
    ("assign", {"due": "tomorrow"}, "期限须为晚于现在的日期时间"),
    ("assign", {"token": "not-a-token"}, "未发送：token: expected 32 hex digits"),
    ("visit", {"outcome": "arrested"}, "请选择走访结果"),
    ("visit", {"note": "话" * 2001}, "情况说明不超过 2000 字"),
    ("visit", {"by": "李 四"}, "走访人编号须为字母、数字和 -_.:/，不超过 64 位"),
    ("visit", {"at": "2099-01-01T10:00"}, "走访时间须在发现之后、不晚于现在"),
    ("visit", {"at": "2001-01-01T10:00"}, "走访时间须在发现之后、不晚于现在"),
    ("visit", {"task": "FU-nobody-20261129"}, "未找到该任务，或不在您负责的村社"),
    ("visit", {"task": "FU-W-1\x00"}, "请选择跟进任务"),
]


def test_a_forged_or_invalid_value_is_refused_with_a_message_and_nothing_is_written(
        app, clients, services):
    task = _task(services, "W-1")["followup_id"]
    for act, values, reason in REFUSALS:
        values = dict(values)
        chosen = values.pop("task") if "task" in values else task
        send, said, token = (_assign, Ids.ASSIGNED, Ids.ASSIGN_TOKEN) if act == "assign" \
            else (_visit, Ids.VISITED, Ids.VISIT_TOKEN)
        response = response_of(send(clients["staff"], app, chosen, **values))
        assert response[said]["children"] == reason, (act, values)
        assert token not in response  # the same form: its token stays
    assert _stream(services) == []
    assert _audit(services, "waste_followup_assigned") == []
    assert _audit(services, "waste_followup_visited") == []


def test_staff_cannot_act_out_of_scope_and_a_leader_acts_anywhere(app, clients, services):
    elsewhere = _task(services, "W-2")["followup_id"]
    for send, said in ((_assign, Ids.ASSIGNED), (_visit, Ids.VISITED)):
        assert _said(send(clients["staff"], app, elsewhere), said) == t("wfu_err_scope", "zh")
    assert _stream(services) == []
    assert _said(_assign(clients["leader"], app, elsewhere), Ids.ASSIGNED).startswith("已派单")
    (fields,) = _stream(services)
    assert fields["followup_id"] == elsewhere
    assert [row[1] for row in _audit(services, "waste_followup_assigned")] == ["leader"]


@pytest.mark.parametrize("role", ["wall", "admin"])
def test_wall_and_admin_are_refused_by_the_server(app, clients, services, role):
    task = _task(services, "W-1")["followup_id"]
    assert _assign(clients[role], app, task).status_code == 403
    assert _visit(clients[role], app, task).status_code == 403
    assert _stream(services) == []
    listed = _refresh(clients[role], app)
    assert listed.status_code == (200 if role == "admin" else 403)
