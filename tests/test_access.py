"""Every route, page and callback, walked as anonymous, wall, leader, staff, admin and landlord.

A route or callback added without an access rule (or without a sample here) fails
``test_every_route_and_callback_has_a_rule``; the walk asserts what each role gets, and that a
wall screen's responses never carry a caller's name, phone or ID number from the store.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest

from app import create_app
from callbacks.policy import CALLBACK_ENDPOINT, PAGE_ENDPOINTS, PUBLIC, SIGNED_IN, Policy
from cockpit.access import GRANTS, Capability, Role
from cockpit.events import parse_event
from cockpit.ingest import resolve_villages
from cockpit.store.apply import apply_batch
from cockpit.volunteers.registry import person_id
from tests.access_support import PASSWORD, add_account, clients_by_role, csrf_of, signed_in_client
from tests.conftest import TEST_SECRETS
from tests.factories import incident_fields, lifecycle
from tests.volunteer_factories import id_number, registered, requested
from tests.waste_factories import disposal, household, station

ROLES = [None, "wall", "leader", "staff", "admin", "landlord"]
IN_SCOPE = "330110006201"  # the staff accounts' village in these tests
OUT_OF_SCOPE = "330110006002"
#: Callers stored by the fixture: what no wall response may contain.
CALLERS = [
    {"reporter_name": "周杰伦", "reporter_phone": "13812341234",
     "reporter_id_number": "11010519491231002X"},
    {"reporter_name": "Wang Xiaoming", "reporter_phone": "+86 139 8765 4321",
     "reporter_id_number": "330106198001010013"},
]
RAW = ["周杰伦", "13812341234", "11010519491231002X", "Wang Xiaoming", "8613987654321",
       "13987654321", "330106198001010013"]
#: Volunteers stored by the fixture (two records of one phone wait in the merge queue).
VOLUNTEERS = [
    registered("PD-1", "孙悟空", phone="13611112222", id_number=id_number(11), village=IN_SCOPE),
    registered("PD-2", "孙悟空", source="xihu", phone="13611112222", village=IN_SCOPE),
    registered("PD-3", "猪八戒", phone="13533334444", village=OUT_OF_SCOPE),
]
RAW += ["孙悟空", "13611112222", id_number(11), "猪八戒", "13533334444"]
#: The landlord the landlord accounts of these tests are, one tenant of theirs and its head.
LANDLORD = "LL-ACC-1"
WASTE = [
    station("ST-ACC", village=IN_SCOPE),
    household("TEN-ACC", village=IN_SCOPE, kind="tenant", house_id="HS-ACC",
              landlord_id=LANDLORD, address="胜稼村3组8号", head_name="林黛玉",
              head_phone="13700001111", landlord_name="贾宝玉", landlord_phone="13900002222"),
    disposal("TEN-ACC", datetime.now(UTC) - timedelta(hours=2), station_id="ST-ACC"),
]
RAW += ["林黛玉", "13700001111", "贾宝玉", "13900002222"]
VOLUNTEER = person_id("hongqiao", "PD-1")

#: The time machine's frames are asked for a minute before the module was loaded.
MINUTE_AGO_MS = int((datetime.now(UTC) - timedelta(minutes=1)).timestamp() * 1000)
#: One request per Flask endpoint: (method, path). A new endpoint needs a line here.
SAMPLES: dict[str, tuple[str, str]] = {
    "static": ("GET", "/static/none.css"),
    "_dash_assets.static": ("GET", "/assets/wall.css"),
    "/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>":
        ("GET", "/_dash-component-suites/dash/deps/polyfill@7.v4_4_1m1.12.1.min.js"),
    "/_dash-layout": ("GET", "/_dash-layout"),
    "/_dash-dependencies": ("GET", "/_dash-dependencies"),
    "/_reload-hash": ("GET", "/_reload-hash"),
    "/_favicon.ico": ("GET", "/_favicon.ico"),
    "/": ("GET", "/"),
    "/<path:path>": ("GET", "/incidents"),
    "api_status": ("GET", "/api/v1/status"),
    "api_incidents": ("GET", "/api/v1/incidents"),
    "api_incident": ("GET", "/api/v1/incidents/in-scope-1"),
    "api_overdue": ("GET", "/api/v1/overdue"),
    "api_teams": ("GET", "/api/v1/teams"),
    "api_repeats": ("GET", "/api/v1/repeats"),
    "api_notifications": ("GET", "/api/v1/notifications"),
    "api_alerts": ("GET", "/api/v1/alerts"),
    "api_analysis": ("GET", "/api/v1/analysis/hot"),
    "api_summary": ("GET", "/api/v1/summary"),
    "api_volunteers_deployment": ("GET", "/api/v1/volunteers/deployment"),
    "api_volunteers_mobilizations": ("GET", "/api/v1/volunteers/mobilizations?all=1"),
    "api_waste_accuracy": ("GET", "/api/v1/waste/accuracy?by=group"),
    "api_waste_followups": ("GET", "/api/v1/waste/followups?status=open"),
    "api_openapi": ("GET", "/api/v1/openapi.json"),
    "api_index": ("GET", "/api/v1"),
    "api_unknown": ("GET", "/api/v1/nothing-here"),
    "export_incidents": ("GET", "/export/incidents.csv"),
    "report_download": ("GET", "/reports/daily?format=xlsx&figures=0"),
    "waste_photo": ("GET", "/waste/photos/2026/12/01/none.png"),
    "staff_map_frame": ("GET", "/map/frame?period=all&layers=villages,repeats"),
    "staff_map_points": ("GET", "/map/points.json?period=all"),
    "staff_map_item": ("GET", "/map/item/in-scope-1"),
    "push_wall_events": ("GET", "/push/wall/events?lang=zh"),
    "push_wall_snapshot": ("GET", "/push/wall/snapshot?lang=zh"),
    # the time machine's frame of the wall, a minute before the module was loaded
    "timemachine_wall": ("GET", f"/timemachine/wall?lang=zh&at={MINUTE_AGO_MS}"),
    "timemachine_tablet": ("GET", f"/timemachine/tablet?lang=zh&period=7d&village={IN_SCOPE}"
                           f"&at={MINUTE_AGO_MS}"),
    "push_tablet_events": ("GET", f"/push/tablet/events?lang=zh&period=7d&village={IN_SCOPE}"),
    "push_tablet_snapshot": ("GET", "/push/tablet/snapshot?lang=en&period=30d"),
    "healthz": ("GET", "/healthz"),
    "readyz": ("GET", "/readyz"),
    "metrics": ("GET", "/metrics"),
    "link_status": ("GET", "/status/link"),
    "signin": ("GET", "/signin"),
    "kiosk": ("GET", "/kiosk/not-a-token"),
    "signout": ("POST", "/signout"),  # last: it ends the walking client's session
}
#: Public routes' own refusals: a forged kiosk link is a 403 of the route, not of the policy.
OWN_ANSWERS = {"kiosk": 403}
#: Pages and a path of each.
PAGES = {"/": Capability.WALL, "/wall": Capability.WALL, "/incidents": Capability.ITEMS,
         "/incidents/in-scope-1": Capability.ITEMS, "/analysis": Capability.ITEMS,
         "/admin": Capability.ADMIN, "/volunteers": Capability.ITEMS,
         f"/volunteers/{VOLUNTEER}": Capability.ITEMS, "/landlord": Capability.LANDLORD,
         "/waste": Capability.ITEMS, "/waste/households/TEN-ACC": Capability.ITEMS,
         "/map": Capability.ITEMS, "/tablet": Capability.ITEMS}
#: The volunteers page's sections (each read for the personal-data walk).
#: The waste page's tabs (each read for the personal-data walk; a leader's name search finds
#: nothing).
WASTE_SEARCHES = ["?tab=households", "?tab=households&q=林", "?tab=disposals",
                  f"?tab=landlords&landlord={LANDLORD}", "?tab=followups"]
#: The staff map's side panel on a village and on an item (its popup is the item sample).
MAP_SEARCHES = [f"?village={IN_SCOPE}&period=all", "?item=in-scope-1&period=all",
                "?item=out-scope-1"]
#: The tablet page drilled into each village (its items list) and in each period.
TABLET_SEARCHES = [f"?village={IN_SCOPE}&period=30d", f"?village={OUT_OF_SCOPE}&period=7d",
                   "?period=today"]
VOLUNTEER_SEARCHES = ["?tab=mobilization&mob=pd-mob", "?tab=assessment", "?tab=recruitment",
                      "?tab=merges"]


def _store(services) -> None:
    now = datetime.now(UTC)
    entries = [
        incident_fields("in-scope-1", village=IN_SCOPE, **CALLERS[0]),
        incident_fields("out-scope-1", village=OUT_OF_SCOPE, **CALLERS[1]),
        *lifecycle("plain-1", stages=["reported", "dispatched"]),
        *VOLUNTEERS,
        requested("pd-mob", IN_SCOPE, 2, now - timedelta(minutes=5), now + timedelta(hours=1)),
        *WASTE,
    ]
    with services.sessions.begin() as session:
        apply_batch(session, [(parse_event(f, pd_key=services.settings.secret("pd_key")),
                               f"0-{i + 1}") for i, f in enumerate(entries)], resolve_villages)


@pytest.fixture
def app(services):
    _store(services)
    return create_app(services.settings, services=services)


@pytest.fixture
def clients(app, services):
    return clients_by_role(app, services, IN_SCOPE, ROLES, LANDLORD)


def _allowed(role: str | None, rule) -> bool:
    if rule == PUBLIC:
        return True
    if rule == SIGNED_IN:
        return role is not None
    return role is not None and Capability(rule) in GRANTS[Role(role)]


def _callback_body(app, key: str, pathname: str = "/", search: str | None = None) -> dict:
    spec = app.callback_map[key]

    def values(items):
        out = []
        for item in items:
            value = None
            if (str(item["id"]), item["property"]) == ("shell-url", "pathname"):
                value = pathname
            elif (str(item["id"]), item["property"]) == ("shell-url", "search"):
                value = search
            out.append({"id": str(item["id"]), "property": item["property"], "value": value})
        return out
    if key.startswith(".."):
        outputs = [{"id": part.rsplit(".", 1)[0], "property": part.rsplit(".", 1)[1]}
                   for part in key.strip(".").split("...")]
    else:
        ident, prop = key.rsplit(".", 1)
        outputs = {"id": ident, "property": prop}
    inputs = values(spec["inputs"])
    return {"output": key, "outputs": outputs, "inputs": inputs, "state": values(spec["state"]),
            "changedPropIds": [f"{inputs[0]['id']}.{inputs[0]['property']}"] if inputs else []}


def _server_callbacks(app) -> list[str]:
    return [k for k, v in app.callback_map.items() if "callback" in v]


def test_every_route_and_callback_has_a_rule(app):
    policy = Policy.of(app)
    endpoints = {rule.endpoint for rule in app.server.url_map.iter_rules()}
    ruled = set(policy.endpoints) | PAGE_ENDPOINTS | {CALLBACK_ENDPOINT}
    assert endpoints - ruled == set(), "endpoints without an access rule"
    assert endpoints - set(SAMPLES) - {CALLBACK_ENDPOINT} == set(), \
        "endpoints this walk does not know: add a sample to SAMPLES"
    assert set(app.callback_map) - set(policy.callbacks_) == set(), \
        "callbacks without an access rule"
    for path, capability in PAGES.items():
        assert policy.page_rule(path) == capability


def test_a_route_or_callback_without_a_rule_is_refused(app, services):
    from dash import Input, Output, dcc

    @app.server.get("/unruled")
    def unruled():
        return "data"

    app.callback(Output("x-unruled", "children"), Input("x-unruled-in", "value"))(
        lambda v: "data")
    app.validation_layout.children.append(dcc.Store(id="x-unruled"))
    clients = {role: signed_in_client(app, services, role, villages=IN_SCOPE, landlord=LANDLORD)
               for role in ROLES}
    for role in ROLES:
        status = clients[role].get("/unruled").status_code
        assert status == (401 if role is None else 403), role
    response = clients["admin"].post("/_dash-update-component",
                                     json=_callback_body(app, "x-unruled.children"))
    assert response.status_code == 403


@pytest.mark.parametrize("role", ROLES)
def test_each_endpoint_answers_each_role_by_its_rule(app, clients, role):
    policy = Policy.of(app)
    client = clients[role]
    for endpoint, (method, path) in SAMPLES.items():
        response = client.open(path, method=method)
        if endpoint in PAGE_ENDPOINTS:
            allowed = role is not None and policy.allows_page(_viewer(role), path)
            if role is None:
                assert response.status_code == 302, path
                assert response.headers["Location"].startswith("/signin?next=")
                continue
            if role == "landlord" and path == "/":  # the landlord's "/" is their own page
                assert response.status_code == 302, response.status_code
                assert response.headers["Location"] == "/landlord"
                continue
        else:
            allowed = _allowed(role, policy.endpoints[endpoint])
        if allowed and endpoint in OWN_ANSWERS:
            assert response.status_code == OWN_ANSWERS[endpoint], (role, endpoint)
        elif allowed:
            assert response.status_code not in (401, 403), (role, endpoint, response.status_code)
            assert response.status_code < 500, (role, endpoint, response.get_data()[:300])
        else:
            assert response.status_code == (401 if role is None else 403), (role, endpoint)


def _viewer(role: str):
    from cockpit.access import Viewer
    return Viewer("user", "x", Role(role), (IN_SCOPE,))


@pytest.mark.parametrize("role", ROLES)
def test_each_callback_answers_each_role_by_its_rule(app, clients, role):
    policy = Policy.of(app)
    for key in _server_callbacks(app):
        response = clients[role].post("/_dash-update-component", json=_callback_body(app, key))
        if role is None:
            assert response.status_code == 401, key
        elif _allowed(role, policy.callbacks_[key]):
            assert response.status_code in (200, 204), (role, key, response.get_data()[:500])
        else:
            assert response.status_code == 403, (role, key)


@pytest.mark.parametrize("role", ROLES[1:])
def test_each_page_renders_or_says_forbidden(app, clients, role):
    for path, capability in PAGES.items():
        response = clients[role].post("/_dash-update-component",
                                      json=_callback_body(app, "shell-page.children", path))
        assert response.status_code == 200, (role, path)
        text = json.loads(response.get_data())["response"]["shell-page"]["children"]
        forbidden = "无权访问此页面" in json.dumps(text, ensure_ascii=False)
        assert forbidden == (capability not in GRANTS[Role(role)]), (role, path)


def test_a_landlord_lands_on_their_page_and_is_refused_everything_else(app, clients, services):
    landlord = clients["landlord"]
    for path in ("/", "/?lang=en"):
        response = landlord.get(path)
        assert response.status_code == 302
        assert response.headers["Location"] == "/landlord" + path[1:]
    for path in [p for p in PAGES if p not in ("/", "/landlord")] + ["/nothing-here", "/waste"]:
        assert landlord.get(path).status_code == 403, path
    for endpoint, (method, path) in SAMPLES.items():
        if endpoint.startswith(("api_", "export_", "waste_")):
            assert landlord.open(path, method=method).status_code == 403, path
    assert landlord.get("/landlord").status_code == 200
    rendered = _text(landlord.post("/_dash-update-component", json=_callback_body(
        app, "shell-page.children", "/landlord")))
    assert "TEN-ACC" in rendered and "HS-ACC" in rendered and "胜稼村3组8号" in rendered
    assert [raw for raw in RAW if raw in rendered] == []
    # sign-in sends a landlord to their page, whatever page was asked for
    for asked in ("/", "/incidents", "/wall?lang=en"):
        client = app.server.test_client()
        name = add_account(services, "landlord", landlord=LANDLORD)
        token = csrf_of(client)
        response = client.post(f"/signin?next={quote(asked, safe='')}", data={
            "username": name, "password": PASSWORD, "csrf_token": token})
        assert (response.status_code, response.headers["Location"]) == (302, "/landlord")
    # the other roles are not sent there, and may not open it
    assert clients["leader"].get("/").status_code == 200
    for role in ("wall", "leader", "staff", "admin"):
        assert clients[role].get("/landlord").status_code == 403, role


def _text(response) -> str:
    """A body as text, JSON with its \\u escapes decoded (Dash escapes every non-ASCII)."""
    data = response.get_data()
    if response.is_json:
        return json.dumps(json.loads(data), ensure_ascii=False)
    return data.decode(errors="replace")


def _every_body(app, client) -> str:
    responses = []
    for path in [*PAGES, "/incidents/out-scope-1", "/api/v1/incidents/out-scope-1",
                 f"/volunteers/{person_id('hongqiao', 'PD-3')}"]:
        if path.startswith("/api/"):
            responses += [client.get(path), client.get(path + "?reveal=1")]
            continue
        responses.append(client.post("/_dash-update-component", json=_callback_body(
            app, "shell-page.children", path)))
    for search in VOLUNTEER_SEARCHES:
        responses.append(client.post("/_dash-update-component", json=_callback_body(
            app, "shell-page.children", "/volunteers", search)))
    for search in WASTE_SEARCHES:
        responses.append(client.post("/_dash-update-component", json=_callback_body(
            app, "shell-page.children", "/waste", search)))
    for search in MAP_SEARCHES:
        responses.append(client.post("/_dash-update-component", json=_callback_body(
            app, "shell-page.children", "/map", search)))
    for search in TABLET_SEARCHES:
        responses.append(client.post("/_dash-update-component", json=_callback_body(
            app, "shell-page.children", "/tablet", search)))
    for key in _server_callbacks(app):
        responses.append(client.post("/_dash-update-component", json=_callback_body(app, key)))
    texts = []
    for method, path in SAMPLES.values():  # signout last
        response = client.open(path, method=method)
        if response.mimetype == "text/event-stream":  # endless: its first frame (a snapshot)
            frame = next(iter(response.response)).decode()
            data = json.loads(frame.split("\ndata: ", 1)[1].split("\n", 1)[0])
            texts.append(json.dumps(data, ensure_ascii=False))
            response.close()
            continue
        responses.append(response)
    return "\n".join([*(_text(r) for r in responses), *texts])


@pytest.mark.parametrize("role", ["wall", "leader", "admin", "landlord"])
def test_no_stored_personal_data_reaches_a_role_that_may_not_see_it(app, clients, role):
    text = _every_body(app, clients[role])
    for value in RAW:
        assert value not in text, (role, value)
    hashed = [word for word in text.split('"') if word.startswith("hmac-sha256:")]
    assert hashed == [], "the keyed hash of an ID number is not shown either"


def test_leader_sees_the_caller_masked_in_page_and_api(app, clients):
    body = clients["leader"].get("/api/v1/incidents/in-scope-1").get_json()
    assert body["reporter"] == {"name": "周**", "phone": "138****1234", "id_on_file": True,
                                "masked": True}
    assert clients["leader"].get("/api/v1/incidents/in-scope-1?reveal=1").status_code == 403
    page = clients["leader"].post("/_dash-update-component", json=_callback_body(
        app, "shell-page.children", "/incidents/in-scope-1"))
    assert "周**" in _text(page)


def test_staff_see_their_villages_only_and_reveal_is_audited(app, clients, services):
    from cockpit import audit

    staff = clients["staff"]
    ids = {i["incident_id"] for i in staff.get("/api/v1/incidents").get_json()["items"]}
    assert ids == {"in-scope-1"}
    assert staff.get("/api/v1/incidents/out-scope-1").status_code == 404
    masked = staff.get("/api/v1/incidents/in-scope-1").get_json()["reporter"]
    assert masked["name"] == "周**"
    with services.read() as db:
        before = audit.read(db, action="view_unmasked").total
    full = staff.get("/api/v1/incidents/in-scope-1?reveal=1").get_json()["reporter"]
    assert (full["name"], full["phone"], full["masked"]) == ("周杰伦", "13812341234", False)
    assert "11010519491231002X" not in json.dumps(full)
    with services.read() as db:
        entries = audit.read(db, action="view_unmasked")
        assert entries.total == before + 1
        assert (entries.rows[0].target, entries.rows[0].role) == ("in-scope-1", "staff")


def test_missing_secret_stops_the_app_with_its_name(services):
    settings = services.settings.model_copy(update={"secret_key": None})
    from cockpit.settings import MissingSecret
    with pytest.raises(MissingSecret, match="COCKPIT_SECRET_KEY"):
        create_app(settings, services=type(services)(settings, services.redis, services.engine,
                                                     services.sessions))
    assert TEST_SECRETS["secret_key"] not in repr(services.settings)


def test_exports_are_masked_scoped_and_audited(app, clients, services):
    import csv
    import io

    from cockpit import audit

    response = clients["staff"].get("/export/incidents.csv?stage=open")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment;")
    data = response.get_data()
    assert data.startswith("\ufeff".encode())  # Excel reads UTF-8 with a BOM
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert [r["incident_id"] for r in rows] == ["in-scope-1"]
    assert (rows[0]["caller"], rows[0]["caller_phone"]) == ("周**", "138****1234")
    everything = data.decode("utf-8-sig")
    assert all(value not in everything for value in RAW)
    leader = list(csv.DictReader(io.StringIO(
        clients["leader"].get("/export/incidents.csv").get_data().decode("utf-8-sig"))))
    assert {r["incident_id"] for r in leader} == {"in-scope-1", "out-scope-1", "plain-1"}
    assert clients["wall"].get("/export/incidents.csv").status_code == 403
    with services.read() as db:
        entries = audit.read(db, action="export").rows
        assert [(e.role, e.target) for e in entries] == [("leader", "incidents"),
                                                        ("staff", "incidents")]
        assert "stage=open" in entries[1].detail and "rows=1" in entries[1].detail


def test_export_cells_never_run_as_formulas():
    import csv
    import io

    from callbacks.export import csv_bytes

    rows = [{"incident_id": "=HYPERLINK(\"http://evil\")", "title": "@SUM(A1)", "address": "+1-2",
             "assigned_team": "=2+3", "village_code": None}]
    callers = {rows[0]["incident_id"]: ("=1+2", "+8613812341234", False)}
    text = csv_bytes(rows, callers, "zh", {}).decode("utf-8-sig")
    cells = next(csv.reader(io.StringIO(text.splitlines()[1])))
    assert all(not c or c[0] not in "=+-@" for c in cells), cells
    assert "'=HYPERLINK" in text and "'+1-2" in text and "'=**" in text and "'+86****1234" in text


def test_admin_adds_and_disables_accounts_and_kiosks_on_the_admin_page(app, clients, services):
    from cockpit import accounts, audit

    admin = clients["admin"]

    def act(output: str, trigger: str, states: dict) -> dict:
        key = next(k for k in _server_callbacks(app) if output in k)
        body = _callback_body(app, key)
        for item in body["inputs"]:
            item["value"] = 1 if item["id"] == trigger else 0
        for item in body["state"]:
            item["value"] = states.get(item["id"])
        body["changedPropIds"] = [f"{trigger}.n_clicks"]
        response = admin.post("/_dash-update-component", json=body)
        assert response.status_code == 200, response.get_data()[:300]
        return json.loads(response.get_data())["response"]

    added = act("adm-user-message", "adm-user-add", {
        "adm-user-name": "duty-1", "adm-user-role": "staff", "adm-user-villages": "胜稼村"})
    assert added["adm-user-message"]["children"].startswith("初始密码")
    refused = act("adm-user-message", "adm-user-add", {
        "adm-user-name": "duty-2", "adm-user-role": "staff", "adm-user-villages": ""})
    assert refused["adm-user-message"]["children"] == "工作人员账号须填写负责村社"
    itself = act("adm-user-message", "adm-user-disable", {"adm-user-name": admin.account})
    assert itself["adm-user-message"]["children"] == "不能停用或修改自己的账号"
    fresh = act("adm-user-message", "adm-user-password", {"adm-user-name": "duty-1"})
    assert fresh["adm-user-message"]["children"].startswith("新密码")
    act("adm-user-message", "adm-user-disable", {"adm-user-name": "duty-1"})
    link = act("adm-kiosk-message", "adm-kiosk-add", {"adm-kiosk-name": "hall-3"})
    assert "/kiosk/" in link["adm-kiosk-message"]["children"]
    again = act("adm-kiosk-message", "adm-kiosk-link", {"adm-kiosk-name": "hall-3"})
    assert again["adm-kiosk-message"]["children"] == link["adm-kiosk-message"]["children"]
    with services.read() as db:
        (duty,) = [a for a in accounts.list_users(db) if a.username == "duty-1"]
        assert duty.villages == (IN_SCOPE,) and duty.disabled
        actors = {(e.actor, e.action) for e in audit.read(db).rows}
    admin_name = admin.account
    assert {(admin_name, "user_added"), (admin_name, "user_disabled"),
            (admin_name, "user_password_set"), (admin_name, "kiosk_added")} <= actors


def test_every_audited_act_and_account_refusal_is_worded_in_both_languages():
    import inspect

    from cockpit import accounts, audit
    from layouts.i18n import t

    for action in audit.ACTIONS:
        assert t(f"audit_{action}", "zh") and t(f"audit_{action}", "en")
    from layouts.i18n import STRINGS

    codes = set(re.findall(r'AccountError\((?:f?"[^"]*"\s*|str\(exc\))+,\s*"([a-z_]+)"',
                           inspect.getsource(accounts)))
    assert codes >= {"password", "no_account", "staff_villages", "villages_staff", "village",
                     "name", "role", "exists", "kiosk_exists", "no_kiosk"}
    assert {c for c in codes if f"acc_err_{c}" not in STRINGS} == set()


def test_staff_do_not_see_other_villages_through_repeat_groups(services):
    from cockpit.store.models import Incident

    lon, lat = "120.2819", "30.3518"
    _store(services)
    key = services.settings.secret("pd_key")
    at = datetime.now(UTC) - timedelta(hours=1)  # within the repeats' 30 days, at any date
    entries = [incident_fields("rep-mine", at=at, village=IN_SCOPE, lon=lon, lat=lat),
               incident_fields("rep-other", at=at, village=OUT_OF_SCOPE, title="别村的事", lon=lon,
                               lat=lat)]
    with services.sessions.begin() as session:
        apply_batch(session, [(parse_event(f, pd_key=key), f"1-{i}")
                              for i, f in enumerate(entries)], resolve_villages)
        group = "rep-group"
        for incident_id in ("rep-mine", "rep-other"):  # one group, whatever the sweep decides
            row = session.get(Incident, incident_id)
            row.repeat_group, row.repeat_size = group, 2
    app = create_app(services.settings, services=services)
    staff = signed_in_client(app, services, "staff", villages=IN_SCOPE)
    leader = signed_in_client(app, services, "leader")
    detail = staff.get("/api/v1/incidents/rep-mine").get_json()
    assert detail["repeats"] == []
    assert [m["incident_id"] for m in leader.get("/api/v1/incidents/rep-mine")
            .get_json()["repeats"]] == ["rep-other"]
    page = _text(staff.post("/_dash-update-component", json=_callback_body(
        app, "shell-page.children", "/incidents/rep-mine")))
    assert "rep-other" not in page and "别村的事" not in page
    groups = staff.get("/api/v1/repeats").get_json()["items"]
    assert [g["incident_ids"] for g in groups if g["group"] == "rep-group"] == [["rep-mine"]]
    refresh = next(k for k in _server_callbacks(app) if "analysis-repeats" in k)
    staff_view = _text(staff.post("/_dash-update-component", json=_callback_body(app, refresh)))
    assert "rep-mine" in staff_view and "rep-other" not in staff_view
    leader_view = _text(leader.post("/_dash-update-component", json=_callback_body(app, refresh)))
    assert "rep-other" in leader_view


def test_the_capability_table_of_the_docs_is_the_grants():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "access.md").read_text("utf-8")
    table = {}
    for line in text.splitlines():
        match = re.match(r"^\| `([a-z]+)` \(.*?\) \|(.*)\|$", line)
        if match and match.group(1) in {c.value for c in Capability}:
            marks = [cell.strip() for cell in match.group(2).split("|")]
            table[Capability(match.group(1))] = {
                role for role, mark in zip((Role.WALL, Role.LEADER, Role.STAFF, Role.ADMIN,
                                            Role.LANDLORD), marks, strict=True)
                if mark.startswith("✓")}
    assert set(table) == set(Capability)
    for capability, roles in table.items():
        assert roles == {r for r in Role if capability in GRANTS[r]}, capability
    assert {r for r in Role if Capability.MOBILIZE in GRANTS[r]} == {Role.LEADER, Role.STAFF}
    assert {r for r in Role if Capability.FOLLOW_UP in GRANTS[r]} == {Role.LEADER, Role.STAFF}
    assert GRANTS[Role.LANDLORD] == {Capability.LANDLORD}
    assert {r for r in Role if Capability.LANDLORD in GRANTS[r]} == {Role.LANDLORD}
