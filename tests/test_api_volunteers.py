"""The volunteers' read API through the real app, on both databases: deployment by village and
the mobilisation funnels, validated against their documented response models, scoped for staff,
counts only (no one's name or phone), refused to a wall screen."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from app import create_app
from cockpit.api_spec import DeploymentOut, MobilizationList
from cockpit.events import parse_event
from cockpit.ingest import resolve_villages
from cockpit.store.apply import apply_batch
from tests.access_support import clients_by_role
from tests.test_volunteers_page import IN_SCOPE, OUT_OF_SCOPE, RAW, plant
from tests.volunteer_factories import answer, requested

DEPLOYMENT = "/api/v1/volunteers/deployment"
MOBILIZATIONS = "/api/v1/volunteers/mobilizations"


@pytest.fixture
def clients(services):
    """The planted world (M-1 in 胜稼村 with one acceptance, M-2 in 新街社区), plus M-OLD of
    胜稼村, closed a day ago; clients of each role (staff: 胜稼村)."""
    now = plant(services)
    entries = [requested("M-OLD", "胜稼村", 4, now - timedelta(days=1, hours=1),
                         now - timedelta(days=1), title="昨日值守"),
               answer("M-OLD", "HQ-1", "arrived", now - timedelta(days=1, minutes=30))]
    with services.sessions.begin() as session:
        apply_batch(session, [(parse_event(f, now=now), f"9-{i}") for i, f in enumerate(entries)],
                    resolve_villages, now=now, tz=services.settings.tz)
    app = create_app(services.settings, services=services)
    return clients_by_role(app, services, IN_SCOPE, (None, "wall", "leader", "staff", "admin"))


def _get(client, path: str, status: int = 200) -> dict:
    response = client.get(path)
    assert response.status_code == status, (path, response.get_data()[:300])
    return response.get_json()


def test_deployment_by_village_validates_and_is_scoped_for_staff(clients):
    body = DeploymentOut.model_validate(_get(clients["leader"], DEPLOYMENT))
    villages = {v.village_code: v for v in body.villages}
    assert {IN_SCOPE, OUT_OF_SCOPE} <= set(villages)
    mine = villages[IN_SCOPE]
    assert (mine.registered, mine.active) == (3, 3)  # 周 on two platforms not merged yet, 李
    assert mine.mobilised == 1 and mine.available == 2  # 李 accepted M-1
    assert villages[OUT_OF_SCOPE].mobilised == 0  # nobody answered M-2 yet
    assert body.totals.registered == sum(v.registered for v in body.villages)
    assert not body.simulated
    staff = DeploymentOut.model_validate(_get(clients["staff"], DEPLOYMENT))
    assert [v.village_code for v in staff.villages] == [IN_SCOPE]
    assert staff.totals.registered == 3
    admin = DeploymentOut.model_validate(_get(clients["admin"], DEPLOYMENT))
    assert admin.villages == body.villages  # every village, as a leader


def test_mobilisations_on_show_or_all_are_counts_only(clients):
    shown = MobilizationList.model_validate(_get(clients["leader"], MOBILIZATIONS))
    assert not shown.all and shown.count == len(shown.items) == 2
    by_id = {m.mobilization_id: m for m in shown.items}
    assert set(by_id) == {"M-1", "M-2"}
    m1 = by_id["M-1"]
    assert (m1.needed, m1.asked, m1.accepted, m1.unanswered) == (3, 3, 1, 2)
    assert m1.seconds_left > 0 and m1.village_code == IN_SCOPE and m1.recall_count == 0
    every = MobilizationList.model_validate(_get(clients["leader"], f"{MOBILIZATIONS}?all=1"))
    assert every.all and {m.mobilization_id for m in every.items} == {"M-1", "M-2", "M-OLD"}
    old = next(m for m in every.items if m.mobilization_id == "M-OLD")
    assert old.arrived == 1 and old.seconds_left < 0
    assert [m.mobilization_id for m in every.items][-1] == "M-OLD"  # past ones last
    text = json.dumps([_get(clients[r], f"{MOBILIZATIONS}?all=1") for r in
                       ("leader", "staff", "admin")] + [_get(clients["staff"], DEPLOYMENT)],
                      ensure_ascii=False)
    assert all(value not in text for value in RAW)
    assert "周**" not in text  # no one is named, masked or not


def test_staff_see_the_mobilisations_of_their_villages_only(clients):
    staff = _get(clients["staff"], f"{MOBILIZATIONS}?all=1")
    assert [m["mobilization_id"] for m in staff["items"]] == ["M-1", "M-OLD"]


def test_bad_parameters_methods_and_roles_are_refused(clients):
    error = _get(clients["leader"], f"{MOBILIZATIONS}?all=yes", 400)["error"]
    assert error.startswith("all:")
    for path in (DEPLOYMENT, MOBILIZATIONS):
        assert _get(clients["wall"], path, 403)["reason"] == "forbidden"
        assert clients[None].get(path).status_code == 401
        wrong = clients["leader"].post(path)
        assert wrong.status_code in (400, 405)  # CSRF or method: never served
        assert clients["leader"].delete(path).status_code in (400, 405)


def test_the_routes_are_in_the_openapi_document(clients):
    doc = _get(clients["leader"], "/api/v1/openapi.json")
    for path in (DEPLOYMENT, MOBILIZATIONS):
        assert path in doc["paths"]
        assert "200" in doc["paths"][path]["get"]["responses"]
    schemas = doc["components"]["schemas"]
    assert {"DeploymentOut", "MobilizationList", "MobilizationOut"} <= set(schemas)
    params = doc["paths"][MOBILIZATIONS]["get"]["parameters"]
    assert [p["name"] for p in params] == ["all", "at"]
    assert DEPLOYMENT in _get(clients["leader"], "/api/v1/")["routes"]
