"""The read API through the real app: filters, errors that name the parameter, OpenAPI."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from datetime import time as dt_time
from zoneinfo import ZoneInfo

import pytest

from app import create_app
from cockpit.api_spec import IncidentList, SummaryOut
from cockpit.events import parse_event
from cockpit.ingest import resolve_villages
from cockpit.store.apply import apply_batch
from tests.access_support import signed_in_client
from tests.factories import incident_fields, lifecycle


@pytest.fixture
def client(services):
    entries = lifecycle("a", stages=["reported", "dispatched"]) + [
        incident_fields("b", category="警情", title="<script>alert(1)</script>")]
    with services.sessions.begin() as session:
        apply_batch(session, [(parse_event(f), f"0-{i + 1}") for i, f in enumerate(entries)],
                    resolve_villages)
    app = create_app(services.settings, services=services)
    return signed_in_client(app, services, "leader")


def test_incidents_validate_against_the_documented_schema(client):
    body = client.get("/api/v1/incidents").get_json()
    page = IncidentList.model_validate(body)
    assert {i.incident_id for i in page.items} == {"a", "b"}
    assert page.items[0].stage_at >= page.items[1].stage_at


@pytest.mark.parametrize(("query", "ids"), [
    ("category=police", {"b"}),
    ("category=警情", {"b"}),
    ("stage=dispatched", {"a"}),
    ("stage=open", {"a", "b"}),
    ("limit=1", None),
    ("since=2030-01-01T00:00:00%2B08:00", set()),
])
def test_incident_filters(client, query, ids):
    response = client.get(f"/api/v1/incidents?{query}")
    assert response.status_code == 200
    got = {i["incident_id"] for i in response.get_json()["items"]}
    if ids is None:
        assert len(got) == 1
    else:
        assert got == ids


def test_village_filter_accepts_code_and_name(client):
    item = client.get("/api/v1/incidents?incident=a").get_json()["items"][0]
    code = item["village_code"]
    assert client.get(f"/api/v1/incidents?village={code}").get_json()["count"] >= 1


@pytest.mark.parametrize(("query", "needle"), [
    ("stage=teleported", "stage"),
    ("category=explosion", "category"),
    ("village=atlantis", "village"),
    ("since=tomorrow", "since"),
    ("limit=0", "limit"),
    ("limit=abc", "limit"),
])
def test_bad_parameters_are_refused_with_their_name(client, query, needle):
    response = client.get(f"/api/v1/incidents?{query}")
    assert response.status_code == 400
    assert response.get_json()["error"].startswith(needle)


def test_summary_matches_its_schema(client):
    body = client.get("/api/v1/summary").get_json()
    SummaryOut.model_validate(body)
    assert body["open"] == 2


def test_openapi_document_describes_the_routes(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    assert {"/api/v1/incidents", "/api/v1/summary"} <= set(doc["paths"])
    assert "IncidentOut" in doc["components"]["schemas"]


def test_upstream_text_is_returned_as_data_not_markup(client):
    items = client.get("/api/v1/incidents?category=police").get_json()["items"]
    assert items[0]["title"] == "<script>alert(1)</script>"


def test_unknown_api_route_is_a_json_404(client):
    response = client.get("/api/v1/nonexistent")
    assert response.status_code == 404
    assert "no such API route" in response.get_json()["error"]


def test_api_index_and_wrong_method(client):
    index = client.get("/api/v1/")
    assert index.status_code == 200 and "/api/v1/incidents" in index.get_json()["routes"]
    assert client.get("/api/v1").status_code == 200
    wrong = client.post("/api/v1/incidents")
    assert wrong.status_code == 405 and "GET" in wrong.get_json()["error"]


def test_an_early_since_is_refused_not_a_crash(client):
    response = client.get("/api/v1/incidents?since=0001-01-01")
    assert response.status_code == 400 and response.get_json()["error"].startswith("since")


def test_status_matches_its_schema(client):
    from cockpit.api_spec import StatusOut

    body = client.get("/api/v1/status").get_json()
    StatusOut.model_validate(body)
    assert body["version"] >= 0


def _ids(client, query: str) -> list[str]:
    response = client.get(f"/api/v1/incidents?{query}")
    assert response.status_code == 200, response.get_json()
    return [i["incident_id"] for i in response.get_json()["items"]]


NEW_FILTERS = [
    ("q=smoke", {"a"}),                       # title "Smoke", case-insensitive
    ("q=乔司街道", {"a", "b"}),                 # address
    ("q=ALERT(", {"b"}),                      # title
    ("q=%25", set()),                         # a literal %, not a wildcard
    ("team=fire-station", {"a"}),             # suggested by the routing rules
    ("team=police-station", {"b"}),
    ("team=nobody", set()),
    ("from=2026-11-29&to=2026-11-29", {"a", "b"}),
    ("from=2026-11-30", set()),
    ("to=2026-11-28", set()),
    ("from=2026-11-29T10:00:00%2B08:00&to=2026-11-29T10:00:01%2B08:00", {"a", "b"}),
    ("repeats=1", set()),
    ("repeats=0", {"a", "b"}),
    ("overdue=0", {"a", "b"}),
]


def test_new_filters(client):
    for query, ids in NEW_FILTERS:
        assert set(_ids(client, query)) == ids, query


def test_sort_and_direction(client):
    assert _ids(client, "sort=category&dir=asc") == ["a", "b"]     # fire < police
    assert _ids(client, "sort=category&dir=desc") == ["b", "a"]
    assert _ids(client, "sort=stage_at")[0] == "a"                  # dispatched a minute later


def test_total_counts_every_match_beside_the_page(client):
    body = client.get("/api/v1/incidents?limit=1&offset=1").get_json()
    page = IncidentList.model_validate(body)
    assert (page.count, page.total, page.limit, page.offset) == (1, 2, 1, 1)
    assert client.get("/api/v1/incidents?category=fire").get_json()["total"] == 1


REFUSED = [
    ("period=yesterday", "period"),
    ("period=today&from=2026-11-29", "period"),
    ("from=2026-11-30&to=2026-11-29", "to"),
    ("from=someday", "from"),
    ("to=2026-13-01", "to"),
    ("to=9999-12-31", "to"),
    ("from=1999-12-31", "from"),
    ("overdue=yes", "overdue"),
    ("repeats=2", "repeats"),
    ("sort=colour", "sort"),
    ("dir=up", "dir"),
    ("q=" + "x" * 201, "q"),
]


def test_new_parameters_are_refused_with_their_name(client):
    for query, needle in REFUSED:
        response = client.get(f"/api/v1/incidents?{query}")
        assert response.status_code == 400, query
        assert response.get_json()["error"].startswith(f"{needle}:"), query


@pytest.fixture
def server_in_utc(monkeypatch):
    """The server's own clock zone is UTC (as on most hosts); the cockpit's stays Shanghai."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _store(services, entries):
    with services.sessions.begin() as session:
        apply_batch(session, [(parse_event(f), f"0-{i + 1}") for i, f in enumerate(entries)],
                    resolve_villages)


def test_days_are_beijing_days_whatever_the_server_zone(services, server_in_utc):
    beijing = ZoneInfo("Asia/Shanghai")
    _store(services, [
        incident_fields("late", at=datetime(2026, 11, 28, 23, 50, tzinfo=beijing)),
        incident_fields("early", at=datetime(2026, 11, 29, 0, 10, tzinfo=beijing))])
    client = signed_in_client(create_app(services.settings, services=services), services,
                              "leader")
    assert _ids(client, "from=2026-11-28&to=2026-11-28") == ["late"]
    assert _ids(client, "from=2026-11-29&to=2026-11-29") == ["early"]
    assert set(_ids(client, "from=2026-11-28&to=2026-11-29")) == {"late", "early"}
    assert _ids(client, "from=2026-11-29") == ["early"]   # the day's 00:00, not UTC's


def test_periods_are_local_days_and_weeks(services, server_in_utc):
    beijing = ZoneInfo("Asia/Shanghai")
    today = datetime.now(beijing).date()
    midnight = datetime.combine(today, dt_time(0), beijing)
    _store(services, [
        incident_fields("today", at=midnight),
        incident_fields("yesterday", at=midnight - timedelta(minutes=10)),
        incident_fields("week-ago", at=midnight - timedelta(days=6)),
        incident_fields("older", at=midnight - timedelta(days=6, minutes=10))])
    client = signed_in_client(create_app(services.settings, services=services), services,
                              "leader")
    assert _ids(client, "period=today") == ["today"]
    assert set(_ids(client, "period=7d")) == {"today", "yesterday", "week-ago"}
    assert set(_ids(client, "period=30d")) == {"today", "yesterday", "week-ago", "older"}
    monday = today - timedelta(days=today.weekday())
    week = {i for i, at in [("today", today), ("yesterday", today - timedelta(days=1)),
                            ("week-ago", today - timedelta(days=6))] if at >= monday}
    assert set(_ids(client, "period=week")) == week
