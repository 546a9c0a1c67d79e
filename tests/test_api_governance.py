"""The governance read API through the real app, on both databases: detail and timeline,
overdue board, team load, repeat groups, notifications and analysis, each validated against
its documented response model."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from app import create_app
from cockpit.api_spec import (
    HotOut,
    IncidentDetail,
    IncidentList,
    NotificationList,
    OverdueOut,
    RepeatList,
    TeamList,
    TimelineOut,
    TrendsOut,
)
from cockpit.clock import utc_now
from cockpit.events import parse_event
from cockpit.governance import Governor
from cockpit.ingest import resolve_villages
from cockpit.store.apply import apply_batch
from tests.access_support import signed_in_client
from tests.factories import incident_fields

BEIJING = ZoneInfo("Asia/Shanghai")
SLASHED = "SF/2026/0042"


def _store(services, entries, now):
    with services.sessions.begin() as session:
        apply_batch(session, [(parse_event(f), f"0-{i + 1}") for i, f in enumerate(entries)],
                    resolve_villages, now=now, config=services.settings.governance)


@pytest.fixture
def world(services):
    """Incidents relative to the real clock (the routes read it), then one governance tick.

    late: a fire left at ``reported`` for 20 min (limit 2 min): overdue, two ladder rungs.
    ok: police, dispatched to 乔司派出所 by name; its new-incident notice acknowledged.
    r1, r2: urban management at one place an hour apart: one repeat group.
    SF/2026/0042: an upstream id with slashes.
    """
    now = utc_now().replace(microsecond=0)
    late_at = now - timedelta(minutes=20)
    _store(services, [incident_fields("late", at=late_at, event_id="late-r")],
           now=late_at + timedelta(seconds=5))
    _store(services, [
        incident_fields("ok", at=now - timedelta(minutes=2), category="police",
                        priority="normal"),
        incident_fields("ok", "dispatched", now - timedelta(minutes=1), team="乔司派出所",
                        note="派巡逻车"),
        incident_fields("r1", at=now - timedelta(hours=2), category="urban_management",
                        priority="low", lon="120.3001", lat="30.3601"),
        incident_fields("r2", at=now - timedelta(hours=1), category="urban_management",
                        priority="low", lon="120.3002", lat="30.3601"),
        incident_fields(SLASHED, at=now - timedelta(hours=3), category="traffic"),
        incident_fields(SLASHED, "cancelled", now - timedelta(hours=3, minutes=-1)),
    ], now=now - timedelta(seconds=30))
    _store(services, [{"event_id": "ack-1", "type": "notification.acknowledged",
                       "occurred_at": (now - timedelta(seconds=20)).isoformat(),
                       "source": "wall", "notification_id": "ok/new", "by": "screen-1",
                       "channel": "screen"}], now=now - timedelta(seconds=20))
    Governor(services.settings, services.redis, services.sessions).tick(now)
    client = signed_in_client(create_app(services.settings, services=services), services,
                              "leader")
    return client, now


def _get(client, path: str, status: int = 200) -> dict:
    response = client.get(path)
    assert response.status_code == status, response.get_json()
    return response.get_json()


def test_detail_has_timeline_events_notices_escalations(world):
    client, now = world
    detail = IncidentDetail.model_validate(_get(client, "/api/v1/incidents/late"))
    assert detail.stage == "reported" and detail.escalation_level == 2
    (stay,) = detail.timeline
    assert stay.current and stay.limit_s == 120
    assert stay.seconds == pytest.approx(1200, abs=60)
    assert stay.over_s == pytest.approx(stay.seconds - 120)
    assert [e.level for e in detail.escalations] == ["duty_officer", "section_chief"]
    kinds = sorted(n.kind for n in detail.notifications)
    assert kinds == ["new_incident", "overdue", "overdue", "unacknowledged"]
    assert [e.event_id for e in detail.events] == ["late-r"]
    assert detail.events[0].delay_s == 5


def test_detail_of_a_dispatched_incident(world):
    client, _ = world
    detail = IncidentDetail.model_validate(_get(client, "/api/v1/incidents/ok"))
    assert [s.stage for s in detail.timeline] == ["reported", "dispatched"]
    assert detail.timeline[0].seconds == 60 and not detail.timeline[0].current
    # a configured team named in a dispatch is stored by its code
    assert detail.assigned_team == "police-station" and detail.suggested_team == "police-station"
    assert detail.events[1].team == "乔司派出所" and detail.events[1].note == "派巡逻车"
    (notice,) = detail.notifications
    assert (notice.acked_by, notice.ack_channel) == ("screen-1", "screen")
    assert detail.escalations == [] and detail.repeats == []


def test_timeline_is_the_detail_cut_down(world):
    client, _ = world
    full = _get(client, "/api/v1/incidents/ok")
    body = _get(client, "/api/v1/incidents/ok/timeline")
    TimelineOut.model_validate(body)
    assert set(body) == {"incident_id", "stage", "timeline", "events", "notes"}
    assert body["events"] == full["events"] and body["stage"] == "dispatched"


def test_ids_with_slashes_and_unknown_ids(world):
    client, _ = world
    detail = _get(client, f"/api/v1/incidents/{SLASHED}")
    assert detail["incident_id"] == SLASHED and detail["stage"] == "cancelled"
    timeline = _get(client, f"/api/v1/incidents/{SLASHED}/timeline")
    assert [s["stage"] for s in timeline["timeline"]] == ["reported", "cancelled"]
    assert timeline["timeline"][-1]["seconds"] is None     # a final stage has no end
    missing = _get(client, "/api/v1/incidents/nope", 404)
    assert missing["error"] == "no such incident: nope"
    assert _get(client, "/api/v1/incidents/nope/timeline", 404)["error"].endswith("nope")


def test_life_cycle_notes_are_served(services, world):
    client, now = world
    _store(services, [incident_fields("ok", "closed", now - timedelta(seconds=50)),
                      incident_fields("ok", "arrived", now - timedelta(seconds=40))], now=now)
    body = TimelineOut.model_validate(_get(client, "/api/v1/incidents/ok/timeline"))
    assert body.stage == "closed"
    assert [(n.event_id, n.kind, n.illegal) for n in body.notes] == [
        ("ok-dispatched", "skipped", False),    # assessed was skipped
        ("ok-closed", "skipped", False),
        ("ok-arrived", "after_close", True)]    # arrived after the close: kept, flagged
    assert [s.stage for s in body.timeline] == ["reported", "dispatched", "closed"]
    assert body.timeline[-1].seconds is None and not body.timeline[-1].current


def test_overdue_board(world):
    client, now = world
    board = OverdueOut.model_validate(_get(client, "/api/v1/overdue"))
    assert board.total == 3
    assert [i.incident_id for i in board.items] == ["r1", "r2", "late"]  # most overdue first
    late = board.items[-1]
    assert late.late_s == pytest.approx(18 * 60, abs=60)
    assert late.stage_s == pytest.approx(late.late_s + 120)
    one = _get(client, "/api/v1/overdue?limit=1")
    assert one["total"] == 3 and len(one["items"]) == 1
    assert _get(client, "/api/v1/overdue?limit=0", 400)["error"].startswith("limit:")
    listed = IncidentList.model_validate(_get(client, "/api/v1/incidents?overdue=1"))
    assert listed.total == 3 and {i.incident_id for i in listed.items} == {"r1", "r2", "late"}


def test_team_load(world):
    client, now = world
    body = TeamList.model_validate(_get(client, "/api/v1/teams"))
    teams = {t.team: t for t in body.items}
    assert body.items[0].team == "fire-station"                       # file order first
    assert (teams["fire-station"].open, teams["fire-station"].overdue) == (1, 1)
    assert (teams["urban-squad"].open, teams["urban-squad"].overdue) == (2, 2)
    assert teams["police-station"].open == 1                          # sent by its name
    assert teams["duty"].open == 0 and teams["duty"].kind == "squad"
    local = now.astimezone(BEIJING).date()
    reported_today = {"late": now - timedelta(minutes=20), "r1": now - timedelta(hours=2),
                      "r2": now - timedelta(hours=1)}
    today = {k for k, at in reported_today.items() if at.astimezone(BEIJING).date() == local}
    assert teams["urban-squad"].today == len(today & {"r1", "r2"})


def test_repeat_groups(world):
    client, _ = world
    body = RepeatList.model_validate(_get(client, "/api/v1/repeats"))
    (group,) = body.items
    assert (group.group, group.size, group.open) == ("r1", 2, 2)
    assert group.incident_ids == ["r1", "r2"] and group.category == "urban_management"
    assert body.days == 30 and body.count == 1
    assert _get(client, "/api/v1/repeats?days=0", 400)["error"].startswith("days:")
    members = _get(client, "/api/v1/incidents?repeats=1&sort=reported_at&dir=asc")["items"]
    assert [m["incident_id"] for m in members] == ["r1", "r2"]
    detail = _get(client, "/api/v1/incidents/r2")
    assert [m["incident_id"] for m in detail["repeats"]] == ["r1"]


# late: new notice, its unacknowledged raise, two overdue rungs; ok: new (acked); r1, r2:
# three overdue rungs each (an hour past a 15 min limit reaches the leader)
NOTICE_CASES = [
    ("", 11, None),
    ("incident=ok", 1, {"ok/new"}),
    ("kind=new_incident", 2, {"late/new", "ok/new"}),
    ("acked=1", 1, {"ok/new"}),
    ("acked=0&incident=late", 4, None),
    ("kind=unacknowledged", 1, {"late/new/unack/section_chief"}),
    ("kind=overdue&incident=r1", 3, None),
    ("limit=4&offset=8", 3, None),
    ("incident=nope", 0, set()),
]


def test_notifications(world):
    client, _ = world
    for query, count, ids in NOTICE_CASES:
        body = NotificationList.model_validate(_get(client, f"/api/v1/notifications?{query}"))
        assert body.count == len(body.items) == count, query
        if ids is not None:
            assert {n.notification_id for n in body.items} == ids, query
        assert all(a.created_at >= b.created_at for a, b in pairwise(body.items))
    for query in ("kind=sms", "acked=yes", "limit=5000", "offset=-1"):
        error = _get(client, f"/api/v1/notifications?{query}", 400)["error"]
        assert error.startswith(query.split("=")[0] + ":")


def test_analysis_hot_and_trends(world):
    client, now = world
    hot = HotOut.model_validate(_get(client, "/api/v1/analysis/hot?days=2"))
    assert hot.total == sum(map(sum, hot.counts)) and len(hot.hours) == 24
    urban = HotOut.model_validate(_get(client, "/api/v1/analysis/hot?category=urban_management"))
    assert urban.total == 2
    trends = TrendsOut.model_validate(_get(client, "/api/v1/analysis/trends?days=7"))
    assert len(trends.days) == 7 and trends.days[-1] == now.astimezone(BEIJING).date().isoformat()
    everything = trends.series[-1]
    assert everything.category == "all" and everything.total == 5
    police = TrendsOut.model_validate(_get(client, "/api/v1/analysis/trends?category=警情"))
    assert [s.category for s in police.series] == ["police", "all"]


def test_analysis_parameters_are_refused(world):
    client, _ = world
    for query in ("days=0", "days=400", "days=x", "category=weather"):
        for view in ("hot", "trends"):
            error = _get(client, f"/api/v1/analysis/{view}?{query}", 400)["error"]
            assert error.startswith(query.split("=")[0] + ":")


def test_every_new_route_is_documented_and_guarded(world):
    client, _ = world
    doc = _get(client, "/api/v1/openapi.json")
    for path in ("/incidents/{incident_id}", "/incidents/{incident_id}/timeline", "/overdue",
                 "/teams", "/repeats", "/notifications", "/analysis/hot", "/analysis/trends"):
        assert f"/api/v1{path}" in doc["paths"]
    schemas = doc["components"]["schemas"]
    assert {"IncidentDetail", "TimelineOut", "OverdueOut", "TeamList", "RepeatList",
            "NotificationList", "HotOut", "TrendsOut"} <= set(schemas)
    for path in ("/api/v1/incidents/late", "/api/v1/incidents/late/timeline",
                 "/api/v1/teams", "/api/v1/analysis/hot"):
        wrong = client.delete(path)
        assert wrong.status_code == 405 and "GET" in wrong.get_json()["error"]
    assert _get(client, "/api/v1/analysis/cold", 404)["error"].startswith("no such API route")
    assert _get(client, "/api/v1/teamz", 404)["error"].startswith("no such API route")
