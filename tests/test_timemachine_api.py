"""``GET /api/v1/summary?at=`` (and the other routes that take ``at``) through the real app."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app import create_app
from cockpit.api_spec import SummaryOut
from cockpit.timemachine import machine_for
from tests import store_support
from tests.access_support import signed_in_client
from tests.factories import T0, lifecycle

MINUTE = timedelta(minutes=1)


@pytest.fixture
def client(services):
    # "a" closes at T0+5 min; "b" is reported at T0+30 min and stays open
    store_support.ingest(services, lifecycle("a", start=T0) + lifecycle(
        "b", start=T0 + 30 * MINUTE, stages=["reported", "dispatched"]))
    app = create_app(services.settings, services=services)
    yield signed_in_client(app, services, "leader")
    machine_for(services).clear()


@pytest.mark.parametrize(("at", "today", "open_", "closed"), [
    (T0 + 2 * MINUTE, 1, 1, 0),        # "a" reported, not closed yet
    (T0 + 10 * MINUTE, 1, 0, 1),       # "a" closed, "b" not reported
    (T0 + 31 * MINUTE, 2, 1, 1),       # "b" open
])
def test_summary_at_a_past_moment_counts_the_events_up_to_it(client, at, today, open_, closed):
    for form in (at.isoformat(), str(int(at.timestamp() * 1000))):
        response = client.get("/api/v1/summary", query_string={"at": form})
        assert response.status_code == 200
        body = SummaryOut.model_validate(response.get_json())
        assert (body.today_total, body.open, body.closed_today) == (today, open_, closed)
        assert datetime.fromisoformat(body.as_of) == at


def test_summary_without_at_is_live(client):
    body = client.get("/api/v1/summary").get_json()
    assert body["open"] == 1
    assert datetime.fromisoformat(body["as_of"]) > datetime.now(UTC) - timedelta(minutes=1)


@pytest.mark.parametrize("at", ["yesterday", "2026-13-01T00:00", "-5", "tomorrow"])
def test_a_bad_moment_is_a_400_naming_at(client, at):
    if at == "tomorrow":  # a moment ahead of the server's clock
        at = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    response = client.get("/api/v1/summary", query_string={"at": at})
    assert response.status_code == 400
    assert response.get_json()["error"].startswith("at: ")


def test_the_document_lists_at_on_summary(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    names = [p["name"] for p in doc["paths"]["/api/v1/summary"]["get"]["parameters"]]
    assert "at" in names


def test_incidents_and_one_incident_as_of_a_moment(client):
    at = (T0 + 10 * MINUTE).isoformat()
    listed = client.get("/api/v1/incidents", query_string={"at": at}).get_json()
    assert [(i["incident_id"], i["stage"]) for i in listed["items"]] == [("a", "closed")]
    early = (T0 + 2 * MINUTE).isoformat()
    detail = client.get("/api/v1/incidents/a", query_string={"at": early}).get_json()
    assert detail["stage"] == "dispatched" and len(detail["events"]) == 3
    assert client.get("/api/v1/incidents/b", query_string={"at": at}).status_code == 404
    assert client.get("/api/v1/incidents/b").status_code == 200


@pytest.mark.parametrize("path", ["/overdue", "/teams", "/repeats", "/volunteers/deployment",
                                  "/volunteers/mobilizations", "/waste/accuracy",
                                  "/waste/followups"])
def test_the_other_routes_answer_as_of_the_moment_or_refuse_a_bad_one(client, path):
    at = T0 + 31 * MINUTE
    body = client.get(f"/api/v1{path}", query_string={"at": at.isoformat()}).get_json()
    assert datetime.fromisoformat(body["as_of"]) == at
    bad = client.get(f"/api/v1{path}", query_string={"at": "soon"})
    assert bad.status_code == 400 and bad.get_json()["error"].startswith("at: ")


def test_overdue_counts_what_was_overdue_then(client):
    # "b" was dispatched at T0+31 min; much later it is overdue, at its dispatch it is not
    now = client.get("/api/v1/overdue").get_json()
    then = client.get("/api/v1/overdue", query_string={"at": (T0 + 32 * MINUTE).isoformat()})
    assert [i["incident_id"] for i in now["items"]] == ["b"]
    assert then.get_json()["total"] == 0
