"""Requesting a mobilisation (发起动员) and re-calling one (再次动员) from ``/volunteers``.

The pure parts (field map, deadline, count, skills; the cards' buttons), then through the app's
own callbacks on the real Redis and both databases, as each role: a request lands on the
volunteers stream as a valid event and, after an ingest step, on the board; refusals say why and
write nothing; one form token is one event; a re-call writes one notice and one audit entry;
wall and admin are refused by the server, and staff act for their villages only.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from app import create_app
from cockpit import audit
from cockpit.events import parse_event
from cockpit.ingest import resolve_villages
from cockpit.store.apply import apply_batch
from cockpit.volunteers import queries, request
from cockpit.volunteers.events import MobilizationRequested
from layouts.i18n import t
from layouts.volunteers import View, VolunteersIds
from layouts.volunteers_mobilize import MobilizeIds, recall_button, recall_cards, with_section
from tests.access_support import clients_by_role
from tests.store_support import drain
from tests.test_volunteers_page import (
    IN_SCOPE,
    OUT_OF_SCOPE,
    VILLAGES,
    call,
    page,
    plant,
    response_of,
    text_of,
)
from tests.volunteer_factories import requested

STATE = {"lang": "zh", "params": {"tab": "mobilization"}}


@pytest.fixture
def now(services) -> datetime:
    """The planted world, plus M-9: a mobilisation of 胜稼村 past its deadline."""
    at = plant(services)
    entry = requested("M-9", "胜稼村", 2, at - timedelta(hours=1), at - timedelta(minutes=5),
                      title="已截止的动员")
    with services.sessions.begin() as session:
        apply_batch(session, [(parse_event(entry, now=at), "9-1")], resolve_villages, now=at,
                    tz=services.settings.tz)
    return at


@pytest.fixture
def app(services, now):
    return create_app(services.settings, services=services)


@pytest.fixture
def clients(app, services):
    return clients_by_role(app, services, IN_SCOPE)


def _form(**values) -> dict:
    fields = {"village": IN_SCOPE, "count": 5, "skills": ["急救"], "skills_text": "驾驶，心理疏导",
              "minutes": "30", "at": None, "what": "防汛值守", "place": "胜稼村村委会",
              "token": uuid.uuid4().hex}
    fields.update(values)
    out = {f"{ident}.value": fields[key] for key, ident in (
        ("village", MobilizeIds.VILLAGE), ("count", MobilizeIds.COUNT),
        ("skills", MobilizeIds.SKILLS), ("skills_text", MobilizeIds.SKILLS_TEXT),
        ("minutes", MobilizeIds.MINUTES), ("at", MobilizeIds.AT), ("what", MobilizeIds.WHAT),
        ("place", MobilizeIds.PLACE))}
    out[f"{MobilizeIds.TOKEN}.data"] = fields["token"]
    out[f"{MobilizeIds.SUBMIT}.n_clicks"] = 1
    out[f"{VolunteersIds.STATE}.data"] = STATE
    return out


def _submit(client, app, **values):
    return call(client, app, f"{MobilizeIds.SENT}.children", _form(**values),
                trigger=f"{MobilizeIds.SUBMIT}.n_clicks")


def _sent(response) -> str:
    return response_of(response)[MobilizeIds.SENT]["children"]


def _recall(client, app, mobilization_id: str):
    key = {"type": str(MobilizeIds.RECALL), "key": mobilization_id}
    return call(client, app, f"{MobilizeIds.CARDS}.children",
                {f"{VolunteersIds.STATE}.data": STATE}, trigger=key, items=[(key, 1)])


def _stream(services) -> list[dict]:
    return [fields for _, fields in services.redis.xrange(services.settings.stream("volunteers"))]


def _notices(services) -> list[dict]:
    return [f for _, f in services.redis.xrange(services.settings.key("notifications"))]


def _audit(services, action: str) -> list[tuple]:
    """``(actor, role, target, detail)`` of the log's rows of ``action``, newest first."""
    with services.read() as db:
        return [(e.actor, e.role, e.target, e.detail)
                for e in audit.read(db, action=action).rows]


def _board(services, every: bool = True) -> dict[str, dict]:
    with services.read() as session:
        items = queries.mobilization_board(session, services.settings.volunteer_rules,
                                           services.settings.tz, datetime.now(UTC), every=every)
    return {item["mobilization_id"]: item for item in items}


# -- pure parts -----------------------------------------------------------------------------
def test_the_field_map_is_a_valid_event_named_by_its_token():
    from zoneinfo import ZoneInfo

    tz, token = ZoneInfo("Asia/Shanghai"), uuid.uuid4().hex
    now = datetime(2026, 1, 31, 17, 30, tzinfo=UTC)  # 2026-02-01 01:30 in Beijing
    fields = request.build_fields(token, village=IN_SCOPE, count=5, now=now, tz=tz,
                                  deadline=now + timedelta(minutes=30), skills=("急救", "驾驶"),
                                  title=" 防汛值守 ", place="")
    assert fields["event_id"] == f"cockpit:{uuid.UUID(token)}"
    assert fields["mobilization_id"] == f"MOB-20260201-{token[:8]}"
    assert (fields["source"], fields["type"]) == ("cockpit", "mobilization.requested")
    assert "place" not in fields and fields["title"] == "防汛值守"
    event = parse_event(fields, tz=tz, now=now)
    assert isinstance(event, MobilizationRequested)
    assert (event.count, event.skills, event.deadline) == (5, ("急救", "驾驶"),
                                                          now + timedelta(minutes=30))
    with pytest.raises(ValueError, match="token"):
        request.build_fields("../../x", village=IN_SCOPE, count=1, now=now, tz=tz,
                             deadline=now + timedelta(minutes=5))


def test_deadline_count_and_skills_of_the_form():
    from zoneinfo import ZoneInfo

    tz = ZoneInfo("Asia/Shanghai")
    now = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)  # 10:00 in Beijing
    assert request.deadline_of("15", None, now, tz) == now + timedelta(minutes=15)
    assert request.deadline_of("15", "2026-03-01T11:30", now, tz) == \
        datetime(2026, 3, 1, 3, 30, tzinfo=UTC)  # a time wins over the minutes
    assert request.deadline_of(None, "09:00", now, tz) == datetime(2026, 3, 1, 1, 0, tzinfo=UTC)
    for minutes, at in ((None, None), ("0", None), ("abc", ""), (None, "tomorrow"),
                        (None, "25:00")):
        with pytest.raises(request.RequestRefused) as refused:
            request.deadline_of(minutes, at, now, tz)
        assert refused.value.code == "deadline"
    assert request.count_of(" 10000 ") == 10_000
    for bad in (0, 10_001, "2.5", None, ""):
        with pytest.raises(request.RequestRefused, match="count"):
            request.count_of(bad)
    assert request.skills_of(["急救"], "驾驶，急救、 心理疏导") == ("急救", "驾驶", "心理疏导")
    assert request.skills_of(None, "") == ()
    with pytest.raises(request.RequestRefused, match="skills"):
        request.skills_of([f"s{i}" for i in range(21)], None)


def test_the_recall_button_is_highlighted_or_disabled_with_a_reason():
    item = {"mobilization_id": "M", "seconds_left": 600, "unanswered": 3, "lag": True}
    lagging = recall_button(item, "zh")
    assert not lagging.disabled and "lag" in lagging.className and lagging.style
    assert recall_button({**item, "lag": False}, "zh").style is None
    closed = recall_button({**item, "seconds_left": -5}, "en")
    assert closed.disabled and closed.title == "Past its deadline: no re-call"
    nobody = recall_button({**item, "unanswered": 0}, "zh")
    assert nobody.disabled and "lag" not in nobody.className
    cards = recall_cards([{**item, "title": "值守", "village_code": IN_SCOPE, "needed": 5,
                           "recall_count": 2, "recalled_at": "2026-03-01T10:05:00+08:00",
                           "deadline": "2026-03-01T10:30:00+08:00"}], View("zh", VILLAGES))
    text = json.dumps(cards[0].to_plotly_json(), default=lambda c: c.to_plotly_json(),
                      ensure_ascii=False)
    assert "已再动员 2 次 · 最近 2026-03-01 10:05" in text and "胜稼村" in text
    assert recall_cards([], View("en", {}))[0].children == "No mobilisation under way"


def test_the_section_goes_above_the_body_of_the_page():
    from layouts import volunteers as layout
    from layouts.volunteers_query import VolunteersQuery

    built = layout.layout("zh", VolunteersQuery(tab="mobilization"))
    assert with_section(built, "PART") is built
    main = next(n for n in built.children if getattr(n, "id", None) is None
                and "PART" in (getattr(n, "children", None) or []))
    ids = [getattr(c, "id", c) for c in main.children]
    assert ids.index("PART") == ids.index(VolunteersIds.MESSAGE) - 1
    assert ids.index("PART") < ids.index(VolunteersIds.BODY)


# -- the page, as each role -----------------------------------------------------------------
def test_the_form_is_shown_to_roles_that_may_mobilise_on_the_mobilisation_section(app, clients):
    for role in ("leader", "staff"):
        text = text_of(page(clients[role], app, "/volunteers", "?tab=mobilization"))
        assert "发起动员" in text and MobilizeIds.SUBMIT in text, role
        assert "胜稼村防疫值守" in text and "已截止的动员" in text
    staff = text_of(page(clients["staff"], app, "/volunteers", "?tab=mobilization"))
    assert "新街社区" not in staff  # neither its village to choose nor its mobilisation
    assert "新街社区" in text_of(page(clients["leader"], app, "/volunteers", "?tab=mobilization"))
    admin = text_of(page(clients["admin"], app, "/volunteers", "?tab=mobilization"))
    assert MobilizeIds.SUBMIT not in admin and "胜稼村防疫值守" in admin
    registry = text_of(page(clients["staff"], app, "/volunteers"))
    assert MobilizeIds.SUBMIT not in registry


@pytest.mark.parametrize("role", ["leader", "staff"])
def test_a_request_lands_on_the_stream_and_after_ingest_on_the_board(app, clients, services,
                                                                      role):
    token = uuid.uuid4().hex
    message = _sent(_submit(clients[role], app, token=token))
    assert message.startswith("已发出动员 MOB-") and "胜稼村 需要 5 人" in message
    (fields,) = _stream(services)
    event = parse_event(fields, tz=services.settings.tz)
    assert isinstance(event, MobilizationRequested)
    assert fields["event_id"] == f"cockpit:{uuid.UUID(token)}" and fields["source"] == "cockpit"
    assert (event.village, event.count, event.skills) == (IN_SCOPE, 5, ("急救", "驾驶", "心理疏导"))
    assert (event.title, event.place) == ("防汛值守", "胜稼村村委会")
    left = (event.deadline - event.occurred_at).total_seconds()
    assert left == 30 * 60
    ((actor, by_role, target, detail),) = _audit(services, "mobilization_requested")
    assert (actor, by_role, target) == (clients[role].account, role, event.mobilization_id)
    assert f"village {IN_SCOPE}, count 5" in detail

    drain(services)
    item = _board(services, every=False)[event.mobilization_id]
    assert (item["needed"], item["village_code"], item["title"]) == (5, IN_SCOPE, "防汛值守")
    cards = text_of(call(clients[role], app, f"{MobilizeIds.CARDS}.children",
                         {f"{VolunteersIds.STATE}.data": STATE},
                         trigger=f"{VolunteersIds.SEEN}.data"))
    assert event.mobilization_id in cards and "防汛值守" in cards


def test_a_leader_asks_any_village_and_one_form_is_one_event(app, clients, services):
    token = uuid.uuid4().hex
    first = _sent(_submit(clients["leader"], app, village=OUT_OF_SCOPE, token=token, skills=[],
                          skills_text=""))
    assert "新街社区 需要 5 人" in first
    again = response_of(_submit(clients["leader"], app, village=OUT_OF_SCOPE, token=token))
    assert again[MobilizeIds.SENT]["children"].startswith("该表单已提交")
    assert MobilizeIds.TOKEN not in again  # the same token stays: the same form
    (fields,) = _stream(services)
    assert "skills" not in fields
    assert len(_audit(services, "mobilization_requested")) == 1
    fresh = response_of(_submit(clients["leader"], app, village=OUT_OF_SCOPE))
    assert len(fresh[MobilizeIds.TOKEN]["data"]) == 32 and len(_stream(services)) == 2


@pytest.mark.parametrize(("values", "reason"), [
    ({"count": 0}, "需要人数须为 1–10,000 的整数"),
    ({"count": 10_001}, "需要人数须为 1–10,000 的整数"),
    ({"count": None}, "需要人数须为 1–10,000 的整数"),
    ({"village": None}, "请选择村社"),
    ({"minutes": None}, "请选择截止时间（几分钟内，或指定时间）"),
    ({"at": "PAST"}, "截止时间须晚于现在"),
    ({"what": "事" * 2001}, "未发送：title: is 2001 characters long; at most 2000"),
    ({"skills_text": "x" * 33}, "技能最多 20 项，每项不超过 32 字"),
    ({"token": "not-a-token"}, "未发送：token: expected 32 hex digits"),
])
def test_an_invalid_request_is_refused_with_its_reason_and_nothing_is_written(
        app, clients, services, values, reason):
    if values.get("at") == "PAST":
        past = datetime.now(UTC) - timedelta(minutes=10)
        values = {"at": past.astimezone(services.settings.tz).strftime("%Y-%m-%dT%H:%M")}
    response = response_of(_submit(clients["staff"], app, **values))
    assert response[MobilizeIds.SENT]["children"] == reason
    assert MobilizeIds.TOKEN not in response
    assert _stream(services) == [] and _audit(services, "mobilization_requested") == []


def test_staff_cannot_ask_for_a_village_outside_their_scope(app, clients, services):
    for village in (OUT_OF_SCOPE, "330110999999", "新街社区"):
        answer = _sent(_submit(clients["staff"], app, village=village))
        assert answer == t("vol_req_err_scope", "zh"), village
    assert _stream(services) == []


@pytest.mark.parametrize("role", ["wall", "admin"])
def test_wall_and_admin_are_refused_by_the_server(app, clients, services, role):
    assert _submit(clients[role], app).status_code == 403
    assert _recall(clients[role], app, "M-1").status_code == 403
    assert _stream(services) == [] and _notices(services) == []


def test_a_recall_writes_one_notice_and_one_audit_entry(app, clients, services):
    version = services.version()
    response = response_of(_recall(clients["staff"], app, "M-1"))
    assert response[MobilizeIds.RECALLED]["children"] == "已向 2 人再次发出动员通知"
    assert "已再动员 1 次" in json.dumps(response[MobilizeIds.CARDS], ensure_ascii=False)
    (notice,) = _notices(services)
    assert (notice["kind"], notice["notification_id"]) == ("mobilization_recall", "M-1/recall/1")
    assert notice["by"] == clients["staff"].account
    assert _audit(services, "mobilization_recalled") == [
        (clients["staff"].account, "staff", "M-1", "2 volunteers")]
    assert services.version() > version
    item = _board(services)["M-1"]
    assert item["recall_count"] == 1 and item["recalled_at"]


def test_a_recall_past_the_deadline_or_elsewhere_is_refused(app, clients, services):
    past = response_of(_recall(clients["staff"], app, "M-9"))
    assert past[MobilizeIds.RECALLED]["children"] == "已过截止时间，不能再次动员"
    elsewhere = response_of(_recall(clients["staff"], app, "M-2"))
    assert elsewhere[MobilizeIds.RECALLED]["children"] == t("vol_mob_unknown", "zh")
    unknown = response_of(_recall(clients["leader"], app, "M-404"))
    assert unknown[MobilizeIds.RECALLED]["children"] == t("vol_mob_unknown", "zh")
    leader = response_of(_recall(clients["leader"], app, "M-2"))  # every village: allowed
    assert leader[MobilizeIds.RECALLED]["children"] == "已向 2 人再次发出动员通知"
    assert [n["mobilization_id"] for n in _notices(services)] == ["M-2"]
    assert [e[2] for e in _audit(services, "mobilization_recalled")] == ["M-2"]


def test_redrawn_buttons_do_not_recall(app, clients, services):
    key = {"type": str(MobilizeIds.RECALL), "key": "M-1"}
    response = call(clients["staff"], app, f"{MobilizeIds.CARDS}.children",
                    {f"{VolunteersIds.STATE}.data": STATE}, trigger=key, items=[(key, 0)])
    assert response.status_code == 204
    assert _notices(services) == []
