"""The landlord role: accounts (CLI, migration 0007 on both databases) and the ``/landlord`` page.

The page's figures are read as the landlord sees them, through the Flask test client, after a
tenant moved out and the next moved in (ingested through the real Ingestor), and compared with
figures recomputed here from the stored ``WasteDisposal`` rows.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import inspect, select
from typer.testing import CliRunner

from app import create_app
from callbacks.policy import SIGNED_IN, Policy
from cockpit import accounts, audit
from cockpit.access import Capability, Role, Viewer
from cockpit.cli import app as cli_app
from cockpit.events import parse_event
from cockpit.ingest import resolve_villages
from cockpit.store.apply import apply_batch
from cockpit.store.db import make_engine, session_factory
from cockpit.store.migrate import downgrade, upgrade
from cockpit.store.waste_models import Household, WasteDisposal
from tests.access_support import signed_in_client
from tests.conftest import TEST_SECRETS
from tests.waste_factories import disposal, household, moved_out, station
from tests.waste_factories import ingest as _ingest

DAY = timedelta(days=1)
#: Recent, so that the page's 30-day trend holds the disposals (whole minutes: stable ids).
NOW = datetime.now(UTC).replace(second=0, microsecond=0)
MOVE = NOW - 10 * DAY
MINE, OTHER = "LL-CY-0045", "LL-CY-0046"
HEADS = ["林黛玉", "13700001111", "薛宝钗", "13700002222", "王熙凤", "13700003333"]


# --- accounts ----------------------------------------------------------------------------

def _register_landlord(database_url: str, landlord_id: str = MINE) -> None:
    """A tenant of ``landlord_id`` in the store (the landlord exists), as ingest writes it."""
    engine = make_engine(database_url)
    upgrade(engine)
    fields = household("TEN-X", kind="tenant", house_id="HS-X", landlord_id=landlord_id,
                       at=NOW - 40 * DAY)
    with session_factory(engine).begin() as session:
        apply_batch(session, [(parse_event(fields), "0-1")], resolve_villages)
    engine.dispose()


@pytest.fixture
def env(tmp_path, database_url) -> dict[str, str | None]:
    _register_landlord(database_url)
    return {"DATABASE_URL": database_url, "COCKPIT_DATA_DIR": str(tmp_path / "var"),
            "COCKPIT_SECRET_KEY": TEST_SECRETS["secret_key"], "COCKPIT_PD_KEY": None,
            "COCKPIT_TIMEZONE": "Asia/Shanghai", "COLUMNS": "200"}


def _cli(env, *args: str):
    return CliRunner().invoke(cli_app, list(args), env=env)


def _ok(env, *args: str) -> str:
    result = _cli(env, *args)
    assert result.exit_code == 0, result.output
    return result.stdout


def _refused(env, *args: str) -> str:
    result = _cli(env, *args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cockpit: "), result.stderr
    return lines[0]


def test_landlord_accounts_are_added_refused_listed_and_audited(env, database_url):
    out = _ok(env, "users", "add", "ll-45", "--role", "landlord", "--landlord", MINE)
    assert f"added ll-45 (landlord, landlord {MINE})" in out and "password:" in out
    assert "needs its landlord id" in _refused(env, "users", "add", "x1", "--role", "landlord")
    assert "landlord accounts only, not leader" in _refused(
        env, "users", "add", "x2", "--role", "leader", "--landlord", MINE)
    assert "unknown landlord 'LL-NOPE'" in _refused(
        env, "users", "add", "x3", "--role", "landlord", "--landlord", "LL-NOPE")
    assert "villages scope staff" in _refused(
        env, "users", "add", "x4", "--role", "landlord", "--landlord", MINE, "--villages",
        "330110006201")
    _ok(env, "users", "add", "chief", "--role", "leader")
    listing = _ok(env, "users", "list")
    rows = {line.split()[0]: line.split() for line in listing.splitlines()[1:]}
    assert listing.splitlines()[0].split()[:3] == ["username", "role", "scope"]
    assert rows["ll-45"][:6] == ["ll-45", "landlord", f"landlord:{MINE}", "enabled",
                                 "password", "never"]
    assert rows["chief"][2] == "-"

    assert "needs its landlord id" in _refused(env, "users", "set-role", "chief", "landlord")
    assert f"chief is now landlord, landlord {MINE}" in _ok(
        env, "users", "set-role", "chief", "landlord", "--landlord", MINE)
    assert "ll-45 is now staff, villages 330110006201" in _ok(
        env, "users", "set-role", "ll-45", "staff", "--villages", "330110006201")
    engine = make_engine(database_url)
    with session_factory(engine).begin() as session:
        found = {a.username: a for a in accounts.list_users(session)}
        assert set(found) == {"ll-45", "chief"}  # nothing refused was stored
        assert (found["chief"].role, found["chief"].landlord_id) == (Role.LANDLORD, MINE)
        assert (found["ll-45"].role, found["ll-45"].landlord_id) == (Role.STAFF, None)
        log = audit.read(session, actor="cli", limit=50).rows
    engine.dispose()
    details = {(e.action, e.target): e.detail for e in log}
    assert details[("user_added", "ll-45")] == f"role=landlord landlord={MINE}"
    assert details[("user_role_set", "chief")] == f"role=landlord landlord={MINE}"


def test_a_landlord_account_signs_in_as_its_landlord(migrated_database_url):
    _register_landlord(migrated_database_url)
    engine = make_engine(migrated_database_url)
    with session_factory(engine).begin() as session:
        accounts.add_user(session, "ll-45", "landlord", "long-enough-pw", landlord_id=f" {MINE} ")
        user = accounts.authenticate(session, "ll-45", "long-enough-pw")
        viewer = accounts.viewer_of_user(user)
    engine.dispose()
    assert viewer == Viewer("user", "ll-45", Role.LANDLORD, (), MINE)
    assert viewer.can(Capability.LANDLORD)
    assert not any(viewer.can(c) for c in Capability if c is not Capability.LANDLORD)
    assert viewer.scoped and not viewer.in_scope("330110006224")  # no items, should one ask


def test_migration_0007_adds_and_drops_the_landlord_column(database_url):
    engine = make_engine(database_url)
    upgrade(engine, "0006")
    assert "landlord_id" not in {c["name"] for c in inspect(engine).get_columns("users")}
    upgrade(engine)
    column = {c["name"]: c for c in inspect(engine).get_columns("users")}["landlord_id"]
    assert column["nullable"] and column["type"].length == 128
    downgrade(engine, "0006")
    assert "landlord_id" not in {c["name"] for c in inspect(engine).get_columns("users")}
    upgrade(engine)
    engine.dispose()


# --- the page ----------------------------------------------------------------------------



def store_two_tenancies(services) -> None:
    """TEN-A moves out of HS-9 and TEN-B moves in (my houses); TEN-C rents from another."""
    old = household("TEN-A", kind="tenant", house_id="HS-9", landlord_id=MINE, group="5组",
                    at=NOW - 28 * DAY, address="朝阳村5组9号", head_name=HEADS[0],
                    head_phone=HEADS[1], landlord_name="贾宝玉")
    new = household("TEN-B", kind="tenant", house_id="HS-9", landlord_id=MINE, group="5组",
                    at=MOVE + timedelta(hours=2), address="朝阳村5组9号", head_name=HEADS[2],
                    head_phone=HEADS[3], moved_in_at=(MOVE + timedelta(hours=1)).isoformat())
    other = household("TEN-C", kind="tenant", house_id="HS-OTHER", landlord_id=OTHER,
                      at=NOW - 28 * DAY, address="新街社区7号", head_name=HEADS[4],
                      head_phone=HEADS[5])
    cards = [disposal(None, NOW - d * DAY, correct=d % 3 != 0, house_id="HS-9")
             for d in range(1, 26) if d != 10]
    theirs = [disposal("TEN-C", NOW - d * DAY - timedelta(hours=1), correct=False)
              for d in range(1, 6)]
    _ingest(services, [station("ST-1"), old, other, *cards, *theirs])
    _ingest(services, [moved_out("TEN-A", MOVE), new])  # late: disposals follow the tenancy


def _walk(node: Any):
    if isinstance(node, dict):
        yield node
        for value in (node.get("props") or {}).values():
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def _text(node: Any) -> str:
    if isinstance(node, str | int | float):
        return str(node)
    if isinstance(node, list):
        return "".join(_text(n) for n in node)
    if isinstance(node, dict):
        return _text((node.get("props") or {}).get("children"))
    return ""


def _page(app, client, search: str = "", path: str = "/landlord") -> tuple[dict, str]:
    """The page the router renders for ``path`` as ``client``: its tree and its text."""
    body = {"output": "shell-page.children", "outputs": {"id": "shell-page", "property":
                                                         "children"},
            "inputs": [{"id": "shell-url", "property": "pathname", "value": path},
                       {"id": "shell-url", "property": "search", "value": search}],
            "changedPropIds": ["shell-url.pathname"]}
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code == 200, response.get_data()[:300]
    tree = json.loads(response.get_data())["response"]["shell-page"]["children"]
    return tree, json.dumps(tree, ensure_ascii=False)


def _expected(services) -> tuple[dict[str, tuple[int, int]], dict[str, tuple[int, int]]]:
    """Correct and rated disposals per household and per local day, from the stored rows."""
    per_household: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    per_day: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    with services.read() as session:
        mine = set(session.scalars(select(Household.household_id)
                                   .where(Household.landlord_id == MINE)))
        for owner, day, correct in session.execute(select(
                WasteDisposal.household_id, WasteDisposal.local_day, WasteDisposal.correct)):
            if owner is None:
                continue
            per_household[owner][0] += int(correct)
            per_household[owner][1] += 1
            if owner in mine:
                per_day[day][0] += int(correct)
                per_day[day][1] += 1
    return ({k: tuple(v) for k, v in per_household.items()},
            {k: tuple(v) for k, v in per_day.items()})


def _accuracy(correct: int, total: int) -> str:
    return f"{100 * correct / total:.1f}%（{correct}/{total} 次）"


def test_the_landlord_sees_both_tenants_in_their_periods_with_their_own_figures(services):
    store_two_tenancies(services)
    app = create_app(services.settings, services=services)
    client = signed_in_client(app, services, "landlord", landlord=MINE)
    tree, text = _page(app, client, "?landlord=" + OTHER)  # the URL cannot choose a landlord
    per_household, per_day = _expected(services)
    rows = {n["props"]["data-household"]: [_text(td) for td in n["props"]["children"]]
            for n in _walk(tree) if "data-household" in (n.get("props") or {})}
    assert list(rows) == ["TEN-A", "TEN-B"]  # one house, by move-in
    tz = services.settings.tz
    moved_in_a = (NOW - 28 * DAY).astimezone(tz).strftime("%Y-%m-%d")
    moved_in_b = (MOVE + timedelta(hours=1)).astimezone(tz).strftime("%Y-%m-%d")
    moved_out_a = MOVE.astimezone(tz).strftime("%Y-%m-%d")
    assert rows["TEN-A"][:6] == ["TEN-A", "租户", "朝阳村 · 5组", moved_in_a, moved_out_a, "已搬离"]
    assert rows["TEN-B"][:6] == ["TEN-B", "租户", "朝阳村 · 5组", moved_in_b, "—", "在住"]
    for tenant in ("TEN-A", "TEN-B"):
        assert rows[tenant][6] == _accuracy(*per_household[tenant]), tenant
    assert per_household["TEN-A"][1] + per_household["TEN-B"][1] == 24  # every card but the gap
    correct = per_household["TEN-A"][0] + per_household["TEN-B"][0]
    overall = next(n for n in _walk(tree) if "ll-overall" in str(n.get("props", {})
                                                               .get("className", "")))
    assert _text(overall) == _accuracy(correct, 24)
    assert "未达标" in text and "目标 95.0%" in text
    assert "房屋 HS-9 · 朝阳村5组9号" in text

    graph = next(n for n in _walk(tree) if n.get("props", {}).get("id") == "ll-trend")
    rate = next(tr for tr in graph["props"]["figure"]["data"] if tr["uid"] == "ll-rate")
    today = datetime.now(tz).date()  # not NOW's: the module may be imported before midnight
    # (conftest's guard keeps the day from turning while the test runs)
    days = [(today - timedelta(days=29 - i)).isoformat() for i in range(30)]
    assert rate["x"] == [d[5:] for d in days]
    assert rate["y"] == [round(100 * per_day[d][0] / per_day[d][1], 1) if d in per_day
                         else None for d in days]
    assert sum(per_day.get(d, (0, 0))[1] for d in days) == 24

    for hidden in ["TEN-C", "HS-OTHER", "新街社区7号", OTHER, "贾宝玉", *HEADS]:
        assert hidden not in text, hidden


def test_another_landlord_sees_only_their_own_household(services):
    store_two_tenancies(services)
    app = create_app(services.settings, services=services)
    client = signed_in_client(app, services, "landlord", landlord=OTHER)
    tree, text = _page(app, client)
    per_household, _ = _expected(services)
    rows = [n["props"]["data-household"] for n in _walk(tree)
            if "data-household" in (n.get("props") or {})]
    assert rows == ["TEN-C"]
    assert _accuracy(*per_household["TEN-C"]) in text
    for hidden in ["TEN-A", "TEN-B", "HS-9", "朝阳村5组9号", MINE, *HEADS]:
        assert hidden not in text, hidden
    english = _page(app, client, "?lang=en")[1]
    assert "My tenants" in english and "0.0% (0 of 5)" in english


def test_a_landlord_is_refused_every_other_page_the_wall_and_the_api(services):
    store_two_tenancies(services)
    app = create_app(services.settings, services=services)
    client = signed_in_client(app, services, "landlord", landlord=MINE)
    assert client.get("/landlord").status_code == 200
    assert client.get("/").headers["Location"] == "/landlord"
    for path in ("/wall", "/waste", "/waste/households", "/volunteers", "/incidents",
                 "/incidents/x", "/analysis", "/admin", "/api/v1", "/api/v1/status",
                 "/api/v1/incidents", "/api/v1/summary", "/api/v1/volunteers/deployment",
                 "/api/v1/openapi.json", "/export/incidents.csv", "/push/wall/events",
                 "/push/wall/snapshot", "/push/tablet/events", "/push/tablet/snapshot"):
        assert client.get(path).status_code == 403, path
    policy = Policy.of(app)
    others = [k for k, v in app.callback_map.items()
              if "callback" in v and policy.callbacks_[k] != SIGNED_IN]
    # the wall's and the tablet's data come by push (refused above); the acknowledgement and
    # every other page's callbacks are refused here
    assert {policy.callbacks_[k] for k in others} >= {Capability.ACKNOWLEDGE, Capability.ITEMS}
    for key in others:
        response = client.post("/_dash-update-component", json={"output": key, "inputs": [],
                                                                 "state": []})
        assert response.status_code == 403, key
    for path in ("/", "/wall", "/volunteers", "/incidents"):  # navigating inside the app
        tree, text = _page(app, client, path=path)
        assert "无权访问此页面" in text and "TEN-A" not in text, path


def test_an_admin_adds_a_landlord_account_on_the_admin_page(services):
    store_two_tenancies(services)
    app = create_app(services.settings, services=services)
    admin = signed_in_client(app, services, "admin")
    key = next(k for k, v in app.callback_map.items() if "adm-user-message" in k)
    spec = app.callback_map[key]

    def add(states: dict[str, str]) -> dict:
        inputs = [{"id": i["id"], "property": i["property"],
                   "value": 1 if i["id"] == "adm-user-add" else 0} for i in spec["inputs"]]
        state = [{"id": s["id"], "property": s["property"], "value": states.get(s["id"])}
                 for s in spec["state"]]
        outputs = [{"id": part.rsplit(".", 1)[0], "property": part.rsplit(".", 1)[1]}
                   for part in key.strip(".").split("...")]
        response = admin.post("/_dash-update-component", json={
            "output": key, "outputs": outputs, "inputs": inputs, "state": state,
            "changedPropIds": ["adm-user-add.n_clicks"]})
        assert response.status_code == 200, response.get_data()[:300]
        return json.loads(response.get_data())["response"]

    refused = add({"adm-user-name": "ll-a", "adm-user-role": "landlord"})
    assert refused["adm-user-message"]["children"] == "房东账号须填写房东编号"
    unknown = add({"adm-user-name": "ll-a", "adm-user-role": "landlord",
                   "adm-user-landlord": "LL-NOPE"})
    assert unknown["adm-user-message"]["children"].startswith("未知房东编号：LL-NOPE")
    added = add({"adm-user-name": "ll-a", "adm-user-role": "landlord",
                 "adm-user-landlord": MINE})
    assert added["adm-user-message"]["children"].startswith("初始密码")
    assert f"房东 {MINE}" in json.dumps(added["adm-users"], ensure_ascii=False)
    with services.read() as session:
        (account,) = [a for a in accounts.list_users(session) if a.username == "ll-a"]
        assert (account.role, account.landlord_id) == (Role.LANDLORD, MINE)
        (entry,) = [(e.actor, e.detail) for e in audit.read(session, action="user_added").rows
                    if e.target == "ll-a"]
    assert entry == (admin.account, f"role=landlord landlord={MINE}")
