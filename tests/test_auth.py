"""Sign-in, rate limit, session expiry and revocation, kiosk links, SSO header, CSRF, headers."""

from __future__ import annotations

import time

import pytest

from app import create_app
from cockpit import accounts, audit
from tests.access_support import (
    PASSWORD,
    add_account,
    csrf_of,
    kiosk_link,
    sign_in,
    signed_in_client,
)

STATUS = "/api/v1/status"


@pytest.fixture
def app(sqlite_services):
    app = create_app(services=sqlite_services)
    app.server.extensions["cockpit_access"].ttl_s = 1  # revocations seen after a second
    return app


def _actions(services, action: str) -> list:
    with services.read() as db:
        return [(e.actor, e.origin) for e in audit.read(db, action=action).rows]


def test_sign_in_with_the_right_password_only(app, sqlite_services):
    name = add_account(sqlite_services, "leader")
    client = app.server.test_client()
    refused = sign_in(client, name, "not-the-password")
    assert refused.status_code == 401
    assert "账号或密码不正确" in refused.get_data(as_text=True)
    assert client.get(STATUS).status_code == 401
    unknown = sign_in(client, "nobody-here", PASSWORD)
    assert unknown.status_code == 401
    assert sign_in(client, name, PASSWORD).status_code == 302
    assert client.get(STATUS).status_code == 200
    assert [a for a, _ in _actions(sqlite_services, "signin_failed")] == ["-", name]
    assert _actions(sqlite_services, "signin")[0] == (name, "127.0.0.1")


def test_next_goes_back_to_a_local_page_only(app, sqlite_services):
    name = add_account(sqlite_services, "leader")
    for target, expected in [("/incidents?stage=open", "/incidents?stage=open"),
                             ("https://evil.example/", "/"), ("//evil.example", "/"),
                             ("/\\evil.example", "/")]:
        client = app.server.test_client()
        token = csrf_of(client)
        response = client.post("/signin", data={"username": name, "password": PASSWORD,
                                                "csrf_token": token, "next": target})
        assert response.headers["Location"] == expected, target


def test_failed_sign_ins_are_rate_limited_per_account(app, sqlite_services):
    name = add_account(sqlite_services, "staff")
    client = app.server.test_client()
    for _ in range(5):
        assert sign_in(client, name, "wrong-wrong-wrong").status_code == 401
    limited = sign_in(client, name, PASSWORD)  # even the right password, for a while
    assert limited.status_code == 429
    assert "尝试次数过多" in limited.get_data(as_text=True)
    assert client.get(STATUS).status_code == 401
    assert _actions(sqlite_services, "signin_limited")[0][0] == name


def test_a_session_ends_after_its_hours(sqlite_services):
    settings = sqlite_services.settings.model_copy(update={"session_hours": 1 / 3600})
    services = type(sqlite_services)(settings, sqlite_services.redis, sqlite_services.engine,
                                     sqlite_services.sessions)
    app = create_app(settings, services=services)
    client = signed_in_client(app, services, "leader")
    assert client.get(STATUS).status_code == 200
    time.sleep(1.2)
    expired = client.get(STATUS)
    assert expired.status_code == 401 and expired.get_json()["reason"] == "expired"
    assert client.get("/incidents").status_code == 302


def test_disabling_or_changing_an_account_ends_its_sessions(app, sqlite_services):
    name = add_account(sqlite_services, "leader")
    client = app.server.test_client()
    sign_in(client, name)
    assert client.get(STATUS).status_code == 200
    with sqlite_services.sessions.begin() as db:
        accounts.set_disabled(db, name, by="test")
    time.sleep(1.1)
    assert client.get(STATUS).status_code == 401
    assert sign_in(client, name).status_code == 401  # and it cannot sign in again
    with sqlite_services.sessions.begin() as db:
        accounts.set_disabled(db, name, False, by="test")
    assert sign_in(client, name).status_code == 302
    with sqlite_services.sessions.begin() as db:
        accounts.set_role(db, name, "admin", by="test")
    time.sleep(1.1)
    assert client.get(STATUS).status_code == 401  # a new role needs a new sign-in


def test_a_kiosk_link_opens_the_wall_and_its_revocation_closes_it(app, sqlite_services):
    link = kiosk_link(sqlite_services, "hall-1")
    client = app.server.test_client()
    opened = client.get(link)
    assert opened.status_code == 302 and opened.headers["Location"] == "/?screen=hall-1"
    assert client.get("/").status_code == 200
    assert client.get(STATUS).status_code == 200
    assert client.get("/api/v1/incidents").status_code == 403  # a wall reads the wall only
    with sqlite_services.sessions.begin() as db:
        accounts.revoke_kiosk(db, "hall-1", by="test")
    time.sleep(1.1)
    closed = client.get(STATUS)
    assert closed.status_code == 401 and closed.get_json()["reason"] == "revoked"
    assert app.server.test_client().get(link).status_code == 403  # the link is void
    with sqlite_services.sessions.begin() as db:  # the same name again: a new link
        kiosk = accounts.add_kiosk(db, "hall-1", by="test")
        token = accounts.kiosk_token(sqlite_services.settings.secret("secret_key"), kiosk)
    assert f"/kiosk/{token}" != link
    assert app.server.test_client().get(link).status_code == 403
    assert app.server.test_client().get(f"/kiosk/{token}").status_code == 302


def test_a_kiosk_link_passes_on_its_time_machine_and_nothing_else(app, sqlite_services):
    link = kiosk_link(sqlite_services, "hall-2")
    client = app.server.test_client()
    asked = client.get(f"{link}?from=2026-12-03T01:30&to=1796300000000&speed=10"
                       "&next=//evil.example/x&screen=other&lang=en&extra=1")
    assert asked.status_code == 302
    assert asked.headers["Location"] == ("/?screen=hall-2&lang=en&from=2026-12-03T01%3A30"
                                         "&to=1796300000000&speed=10")
    # a hostile value stays a value of the wall's own query, cut short: never a place to go
    hostile = client.get(f"{link}?at=//evil.example/" + "x" * 100)
    location = hostile.headers["Location"]
    assert location.startswith("/?screen=hall-2&at=%2F%2Fevil.example%2Fxx")
    assert len(location.split("at=")[1]) < 80
    assert client.get(link).headers["Location"] == "/?screen=hall-2"


def test_a_forged_kiosk_token_is_refused(app):
    client = app.server.test_client()
    assert client.get("/kiosk/WzEsImFiYyJd.forged").status_code == 403
    assert client.get(STATUS).status_code == 401


def _proxied(app, services, addresses: str):
    settings = services.settings.model_copy(update={"proxy_addresses": addresses})
    services = type(services)(settings, services.redis, services.engine, services.sessions)
    return create_app(settings, services=services)


def test_the_sso_header_is_trusted_from_the_configured_proxy_only(sqlite_services):
    name = add_account(sqlite_services, "leader", password=None)
    app = _proxied(None, sqlite_services, "10.0.0.5, 10.1.0.0/24")
    header = {"X-Remote-User": name}
    trusted = app.server.test_client()
    trusted.environ_base["REMOTE_ADDR"] = "10.1.0.7"
    assert trusted.get(STATUS, headers=header).status_code == 200
    assert trusted.get(STATUS, headers=header).status_code == 200
    assert _actions(sqlite_services, "signin") == [(name, "10.1.0.7")]  # once a session
    with sqlite_services.read() as db:
        assert [a.last_sign_in_at is not None for a in accounts.list_users(db)] == [True]
    trusted.delete_cookie("cockpit_session")
    assert trusted.get(STATUS).status_code == 401  # no header, no session
    other = app.server.test_client()
    other.environ_base["REMOTE_ADDR"] = "192.168.1.9"
    assert other.get(STATUS, headers=header).status_code == 401
    unknown = trusted.get("/", headers={"X-Remote-User": "not-registered"})
    assert unknown.status_code == 403
    assert "未在本系统登记" in unknown.get_data(as_text=True)
    # an SSO-only account has no password to sign in with
    assert sign_in(app.server.test_client(), name, "").status_code in (400, 401)


def test_state_changing_requests_need_the_csrf_token(app, sqlite_services):
    client = signed_in_client(app, sqlite_services, "leader")
    client.environ_base.pop("HTTP_X_CSRFTOKEN")
    body = {"output": "wall-ack-done.data", "outputs": {"id": "wall-ack-done", "property": "data"},
            "inputs": [{"id": "wall-ack-request", "property": "data", "value": {"ids": ["x"]}}],
            "changedPropIds": ["wall-ack-request.data"], "state": []}
    refused = client.post("/_dash-update-component", json=body)
    assert refused.status_code == 400 and "CSRF" in refused.get_json()["error"]
    assert client.post("/signout").status_code == 400
    assert client.get(STATUS).status_code == 200  # still signed in
    anonymous = app.server.test_client()
    stale = anonymous.post("/signin", data={"username": "a", "password": "b"})
    assert stale.status_code == 302 and stale.headers["Location"] == "/signin?reason=stale"


def test_pages_and_api_carry_the_security_headers(app, sqlite_services):
    client = signed_in_client(app, sqlite_services, "leader")
    for path in ("/", "/signin", "/api/v1/summary", "/assets/wall.css"):
        headers = client.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, path
        assert "object-src 'none'" in csp and "'unsafe-eval'" not in csp
        assert "script-src 'self' 'sha256-" in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "same-origin"
    cookie = client.get_cookie("cockpit_session")
    assert cookie.http_only and cookie.same_site == "Lax"


def test_sign_out_ends_the_session_on_the_server_too(app, sqlite_services):
    client = signed_in_client(app, sqlite_services, "staff")
    other = signed_in_client(app, sqlite_services, "staff")
    copied = client.get_cookie("cockpit_session").value
    assert client.post("/signout").status_code == 302
    assert client.get(STATUS).status_code == 401
    assert _actions(sqlite_services, "signout")
    replay = app.server.test_client()
    replay.set_cookie("cockpit_session", copied)
    assert replay.get(STATUS).status_code == 401  # a copy of the cookie is void as well
    assert other.get(STATUS).status_code == 200  # other sessions go on


def test_answers_with_data_are_not_cached_and_say_why_they_are_refused(app, sqlite_services):
    client = signed_in_client(app, sqlite_services, "leader")
    for path in ("/api/v1/summary", "/", "/export/incidents.csv"):
        assert client.get(path).headers["Cache-Control"] == "no-store", path
    assert "no-store" not in client.get("/assets/wall.css").headers.get("Cache-Control", "")
    anonymous = app.server.test_client().get(STATUS).get_json()
    assert anonymous["reason"] == "anonymous"
    wall = signed_in_client(app, sqlite_services, "wall")
    assert wall.get("/api/v1/summary").get_json()["reason"] == "forbidden"


def test_failed_sign_ins_name_only_existing_accounts(app, sqlite_services):
    name = add_account(sqlite_services, "leader")
    client = app.server.test_client()
    sign_in(client, "my-secret-password-typed-here", PASSWORD)
    sign_in(client, name, "wrong-wrong-wrong")
    assert [a for a, _ in _actions(sqlite_services, "signin_failed")] == [name, "-"]


def test_after_sign_in_the_user_never_lands_on_signin_or_signout(app, sqlite_services):
    name = add_account(sqlite_services, "leader")
    for target in ("/signout", "/signin?next=/x"):
        client = app.server.test_client()
        token = csrf_of(client)
        response = client.post("/signin", data={"username": name, "password": PASSWORD,
                                                "csrf_token": token, "next": target})
        assert response.headers["Location"] == "/", target


def _database_down(services) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    dead = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none",
                         connect_args={"connect_timeout": 1})
    services.sessions = sessionmaker(dead)


def test_with_the_database_down_open_screens_go_on_and_new_sign_ins_are_told(
        app, sqlite_services):
    wall = signed_in_client(app, sqlite_services, "wall")
    assert wall.get(STATUS).status_code == 200
    link = kiosk_link(sqlite_services)
    _database_down(sqlite_services)
    time.sleep(1.1)  # past the session check's cache: the database is asked, and fails
    assert wall.get(STATUS).status_code == 200  # the last answer stands in
    fresh = app.server.test_client()
    refused = fresh.get(link)
    assert refused.status_code == 503 and "数据源连接中断" in refused.get_data(as_text=True)
    assert "Traceback" not in refused.get_data(as_text=True)
    token = csrf_of(fresh)
    down = fresh.post("/signin", data={"username": "x", "password": "y", "csrf_token": token})
    assert down.status_code == 503


def test_with_redis_down_sign_in_still_works_and_is_still_limited(app, sqlite_services):
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    name, other = add_account(sqlite_services, "leader"), add_account(sqlite_services, "leader")
    live = sqlite_services.redis
    # a Redis that refuses at once (redis-py's default retries with backoff would only make
    # the test wait ~30 s; what is checked is the app's answer once Redis has failed)
    sqlite_services.redis = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2,
                                        retry=Retry(NoBackoff(), 0))
    try:
        assert sign_in(app.server.test_client(), other, PASSWORD).status_code == 302
        client = app.server.test_client()
        for _ in range(5):
            assert sign_in(client, name, "wrong-wrong-wrong").status_code == 401
        assert sign_in(client, name, PASSWORD).status_code == 429
        # and the address is limited too: five failures came from it
        assert sign_in(app.server.test_client(), other, PASSWORD).status_code == 429
    finally:
        sqlite_services.redis = live


def test_secrets_come_from_the_environment_or_the_demo_s_kept_files(tmp_path, monkeypatch):
    from cockpit.settings import MissingSecret, Settings

    for variable in ("COCKPIT_SECRET_KEY", "COCKPIT_PD_KEY"):
        monkeypatch.delenv(variable, raising=False)
    kept = tmp_path / "secrets"
    kept.mkdir()
    (kept / "COCKPIT_SECRET_KEY").write_text("kept-secret-0123456789\n")
    (kept / "COCKPIT_PD_KEY").write_text("short")
    settings = Settings(data_dir=tmp_path)
    assert settings.secret("secret_key") == b"kept-secret-0123456789"
    with pytest.raises(MissingSecret, match="COCKPIT_PD_KEY is not set"):
        settings.require("pd_key")
    monkeypatch.setenv("COCKPIT_SECRET_KEY", "from-the-environment-012")
    assert Settings(data_dir=tmp_path).secret("secret_key") == b"from-the-environment-012"
    assert "kept-secret" not in repr(settings)
