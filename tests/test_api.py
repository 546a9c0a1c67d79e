"""The read API through the real app: filters, errors that name the parameter, OpenAPI."""

from __future__ import annotations

import pytest

from app import create_app
from cockpit.api_spec import IncidentList, SummaryOut
from cockpit.events import parse_event
from cockpit.ingest import resolve_villages
from cockpit.store.apply import apply_batch
from tests.factories import incident_fields, lifecycle


@pytest.fixture
def client(services):
    entries = lifecycle("a", stages=["reported", "dispatched"]) + [
        incident_fields("b", category="警情", title="<script>alert(1)</script>")]
    with services.sessions.begin() as session:
        apply_batch(session, [(parse_event(f), f"0-{i + 1}") for i, f in enumerate(entries)],
                    resolve_villages)
    app = create_app(services.settings, services=services)
    return app.server.test_client()


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
