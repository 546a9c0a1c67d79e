"""The waste read API through the real app, on both databases: accuracy per grouping equal to
the stored disposals recounted here, follow-ups without anyone named, both validated against
their documented response models, scoped for staff, 400 for every parameter that cannot be
used, refused to a wall screen and to nobody signed in, and listed in the OpenAPI document."""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from app import create_app
from cockpit.api_spec_waste import AccuracyOut, FollowupList
from cockpit.store.waste_models import Household, WasteDisposal
from tests.access_support import clients_by_role
from tests.waste_factories import disposal, followup_event, household, station
from tests.waste_factories import ingest as _ingest

ACCURACY = "/api/v1/waste/accuracy"
FOLLOWUPS = "/api/v1/waste/followups"
IN_SCOPE = "330110006201"  # 胜稼村: the staff accounts' village
OUT_OF_SCOPE = "330110006002"  # 新街社区
DAY = timedelta(days=1)
#: Personal data and free text of the planted world: never in an answer.
RAW = ["王小明", "13812345678", "沈建国", "13900005678", "胜稼村5组9号", "HQ-0012345",
       "户主答应下周起破袋投放"]
GROUPINGS = ("village", "station", "group", "landlord", "day", "week", "month")




@pytest.fixture
def clients(services):
    """Two villages' households (a tenant with a landlord among them) and 200 disposals over
    the last 12 days; W-1 found weak, its follow-up assigned and visited; clients of each role
    (staff: 胜稼村)."""
    now = datetime.now(UTC).replace(microsecond=0)
    rng = random.Random(6)
    entries = [station("ST-1", village="胜稼村", at=now - 60 * DAY),
               station("ST-2", village="新街社区", at=now - 60 * DAY),
               household("T-1", village="胜稼村", kind="tenant", house_id="HS-9",
                         landlord_id="LL-9", group="5组", address="胜稼村5组9号",
                         landlord_name="沈建国", landlord_phone="13900005678",
                         at=now - 60 * DAY),
               household("L-1", village="胜稼村", group="2组", head_name="王小明",
                         head_phone="13812345678", at=now - 60 * DAY),
               household("N-1", village="新街社区", group="1组", at=now - 60 * DAY),
               household("W-1", village="胜稼村", group="2组", at=now - 60 * DAY)]
    for _ in range(200):
        who = rng.choice(["T-1", "L-1", "N-1"])
        entries.append(disposal(who, now - timedelta(minutes=rng.randint(5, 12 * 24 * 60)),
                                correct=rng.random() < 0.85,
                                station_id="ST-2" if who == "N-1" else "ST-1",
                                weight=f"{rng.uniform(0.3, 8):.2f}"))
    entries += [disposal("W-1", now - (30 - i) * DAY, correct=i % 3 == 0) for i in range(8)]
    _ingest(services, entries)
    with services.read() as session:
        from cockpit.store.waste_models import FollowUp
        (task_id,) = session.scalars(select(FollowUp.followup_id)).all()
    _ingest(services, [
        followup_event("assigned", task_id, now - 20 * DAY, assignee_id="HQ-0012345",
                       assignee_kind="volunteer"),
        followup_event("visited", task_id, now - 19 * DAY, outcome="educated",
                       note="户主答应下周起破袋投放", by="HQ-0012345")])
    app = create_app(services.settings, services=services)
    return clients_by_role(app, services, IN_SCOPE, (None, "wall", "leader", "staff", "admin"))


def _get(client, path: str, status: int = 200) -> dict:
    response = client.get(path)
    assert response.status_code == status, (path, response.get_data()[:300])
    return response.get_json()


def _recount(services, by: str, first: date, last: date, villages=None) -> dict:
    """``{key: (correct, total)}`` of the stored disposals, counted here row by row."""
    d, h = WasteDisposal, Household
    with services.read() as session:
        rows = session.execute(select(
            d.village_code, d.station_id, d.local_day, d.local_week, d.correct, h.household_id,
            h.group_name, h.landlord_id).outerjoin(h, h.household_id == d.household_id)).all()
    out: dict = {}
    for village, station_id, day, week, correct, registered, group, landlord in rows:
        if not first.isoformat() <= day <= last.isoformat():
            continue
        if villages is not None and village not in villages:
            continue
        if by in ("group", "landlord") and registered is None:
            continue
        key = {"village": village, "station": station_id, "day": day, "week": week,
               "month": day[:7], "group": f"{village or ''}|{group or ''}",
               "landlord": landlord}[by]
        if by == "landlord" and key is None:
            continue
        right, total = out.get(key, (0, 0))
        out[key] = (right + correct, total + 1)
    return out


def _today(services) -> date:
    return datetime.now(UTC).astimezone(services.settings.tz).date()


def test_accuracy_of_every_grouping_equals_the_stored_disposals(clients, services):
    today = _today(services)
    for by in GROUPINGS:
        body = AccuracyOut.model_validate(_get(clients["leader"], f"{ACCURACY}?by={by}"))
        assert (body.first_day, body.last_day) == ((today - 6 * DAY).isoformat(),
                                                   today.isoformat())  # the default week
        got = {i.key: (i.correct, i.total) for i in body.items}
        assert got == _recount(services, by, today - 6 * DAY, today), by
        assert body.count == len(body.items) > 0
        for item in body.items:
            assert item.rate == pytest.approx(item.correct / item.total)
        assert body.target == services.settings.waste_rules.target
    whole = AccuracyOut.model_validate(_get(clients["leader"], ACCURACY))
    assert whole.by == "village"
    assert whole.overall.total == sum(i.total for i in whole.items)
    assert whole.overall.correct == sum(i.correct for i in whole.items)
    wide = f"{ACCURACY}?by=day&from={(today - 40 * DAY).isoformat()}&to={today.isoformat()}"
    days = AccuracyOut.model_validate(_get(clients["leader"], wide))
    assert days.overall.total == 208  # every disposal: the 200 and W-1's 8
    assert {i.key: (i.correct, i.total) for i in days.items} == \
        _recount(services, "day", today - 40 * DAY, today)


def test_staff_get_the_figures_of_their_villages_only(clients, services):
    today = _today(services)
    first = (today - 40 * DAY).isoformat()
    for by in ("village", "station", "group"):
        body = AccuracyOut.model_validate(_get(clients["staff"],
                                               f"{ACCURACY}?by={by}&from={first}"))
        assert {i.key: (i.correct, i.total) for i in body.items} == \
            _recount(services, by, today - 40 * DAY, today, villages=[IN_SCOPE]), by
        assert "ST-2" not in json.dumps(body.model_dump())
    village = AccuracyOut.model_validate(_get(clients["staff"], f"{ACCURACY}?from={first}"))
    assert [i.key for i in village.items] == [IN_SCOPE]
    assert village.overall.total == village.items[0].total
    leader = AccuracyOut.model_validate(_get(clients["leader"], f"{ACCURACY}?from={first}"))
    assert {i.key for i in leader.items} == {IN_SCOPE, OUT_OF_SCOPE}


def test_followups_are_counts_without_anyone_named_and_scoped(clients, services):
    body = FollowupList.model_validate(_get(clients["leader"], FOLLOWUPS))
    (task,) = body.items
    assert (task.household_id, task.village_code, task.group) == ("W-1", IN_SCOPE, "2组")
    assert (task.reason, task.status, task.outcome, task.assigned) == \
        ("below", "visited", "educated", True)
    assert task.finding["total"] == 8 and task.finding["correct"] == 3
    assert (task.before.correct, task.before.total) == (3, 8) and task.after.total == 0
    assert not task.judged and not task.overdue
    for path in (f"{FOLLOWUPS}?status=open,assigned", f"{FOLLOWUPS}?village=新街社区"):
        assert _get(clients["leader"], path)["items"] == []
    assert _get(clients["leader"], f"{FOLLOWUPS}?status=visited&village={IN_SCOPE}")["count"] == 1
    assert _get(clients["staff"], FOLLOWUPS)["count"] == 1
    assert _get(clients["staff"], f"{FOLLOWUPS}?village={OUT_OF_SCOPE}")["items"] == []
    first = (_today(services) - 40 * DAY).isoformat()
    text = json.dumps([_get(clients[r], p) for r in ("leader", "staff", "admin")
                       for p in (FOLLOWUPS, f"{ACCURACY}?by=landlord&from={first}",
                                 f"{ACCURACY}?by=group&from={first}")], ensure_ascii=False)
    assert "LL-9" in text  # the landlord's id, as a key of counts: no name, no phone
    assert all(value not in text for value in RAW)
    assert "assignee" not in text and "note" not in text and "visited_by" not in text


@pytest.mark.parametrize(("query", "param"), [
    ("?by=household", "by"), ("?by=supervisor", "by"), ("?from=2026-13-01", "from"),
    ("?to=yesterday", "to"), ("?from=2026-05-02&to=2026-05-01", "to"),
    ("?from=2020-01-01&to=2026-01-01", "to"),
])
def test_bad_accuracy_parameters_are_400_with_their_name(clients, query, param):
    assert _get(clients["leader"], ACCURACY + query, 400)["error"].startswith(f"{param}:")


def test_bad_followup_parameters_methods_and_roles_are_refused(clients):
    for query, param in (("?status=done", "status"), ("?status=open,bogus", "status"),
                         ("?village=火星村", "village"), ("?limit=0", "limit"),
                         ("?limit=many", "limit")):
        assert _get(clients["leader"], FOLLOWUPS + query, 400)["error"].startswith(f"{param}:")
    for path in (ACCURACY, FOLLOWUPS):
        assert _get(clients["wall"], path, 403)["reason"] == "forbidden"
        assert clients[None].get(path).status_code == 401
        assert clients["leader"].post(path).status_code in (400, 405)  # CSRF or method
        assert clients["admin"].get(path).status_code == 200


def test_the_routes_are_in_the_openapi_document(clients):
    doc = _get(clients["leader"], "/api/v1/openapi.json")
    for path, names in ((ACCURACY, ["by", "from", "to", "at"]),
                        (FOLLOWUPS, ["status", "village", "limit", "at"])):
        operation = doc["paths"][path]["get"]
        assert [p["name"] for p in operation["parameters"]] == names
        assert {"200", "400", "401"} <= set(operation["responses"])
        assert path in _get(clients["leader"], "/api/v1/")["routes"]
    by = doc["paths"][ACCURACY]["get"]["parameters"][0]["schema"]["enum"]
    assert by == list(GROUPINGS)
    assert {"AccuracyOut", "AccuracyItem", "FollowupList", "FollowupOut"} <= \
        set(doc["components"]["schemas"])
