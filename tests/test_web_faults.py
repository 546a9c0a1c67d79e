"""The web side under faults (issue 9): Redis killed, the database gone, and both back.

The app runs against a redis-server of the test's own (killed with SIGKILL, restarted empty on
the same port) and a real database of each kind: SQLite (its file taken away) and PostgreSQL
(behind a TCP proxy the test cuts). No answer is a 500 or shows a traceback; with Redis down the
pages and the API answer from the database and the banner's route says the live link is down;
with the database down the API answers 503 JSON and the banner's route says so; after each
source is back, everything answers as before.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import make_url

from app import create_app
from callbacks.policy import PUBLIC, Policy
from cockpit.events import parse_event
from cockpit.ingest import resolve_villages
from cockpit.livelink import LiveLink
from cockpit.services import Services
from cockpit.store.apply import apply_batch
from cockpit.store.db import make_engine, session_factory
from cockpit.streams import client_for_url, signal_change
from layouts import LINK_STATUS_PATH
from layouts.wall import WallIds
from tests.access_support import csrf_of, signed_in_client
from tests.conftest import TEST_SECRETS, _fresh_postgres
from tests.factories import incident_fields
from tests.pages_support import VILLAGE, store_pages_data
from tests.test_access import _callback_body
from tests.wall_support import poll
from tests.web_fault_support import (
    TRACE_MARKERS,
    PrivateRedis,
    TcpProxy,
    no_trace,
    private_redis,
)

#: Seconds the web serves without asking a failed source again (short, so tests recover fast).
RETRY_S = 0.3
#: The pages each role opens (the router callback's answer is what the browser shows).
PAGES = ["/", "/wall", "/incidents", "/incidents/pg-1", "/analysis", "/map", "/volunteers",
         "/waste", "/waste/households/HH-PG", "/admin", "/tablet", f"/tablet/{VILLAGE}"]
API = ["/api/v1/summary", "/api/v1/incidents", "/api/v1/incidents/pg-1", "/api/v1/overdue",
       "/api/v1/teams", "/api/v1/repeats", "/api/v1/notifications", "/api/v1/analysis/hot",
       "/api/v1/volunteers/deployment", "/api/v1/volunteers/mobilizations",
       "/api/v1/waste/accuracy", "/api/v1/waste/followups"]
OTHER = ["/", "/wall", "/tablet", "/map", "/signin", "/healthz", "/readyz", "/api/v1/status",
         "/push/wall/snapshot", "/push/tablet/snapshot", "/map/points.json", "/map/frame",
         "/export/incidents.csv", "/_dash-layout", LINK_STATUS_PATH]


class Store:
    """A database of one kind the test can take away and give back."""

    def __init__(self, url: str, cut, mend) -> None:
        self.url, self.cut, self.mend = url, cut, mend


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request, tmp_path) -> Iterator[Store]:
    if request.param == "sqlite":
        path = tmp_path / "cockpit.sqlite3"
        away = tmp_path / "away.sqlite3"

        def cut():  # the file is gone; a directory in its place cannot be opened
            path.rename(away)
            path.mkdir()

        def mend():
            path.rmdir()
            away.rename(path)
        yield Store(f"sqlite:///{path}", cut, mend)
        return
    admin = request.getfixturevalue("postgres_admin_url")
    gen = _fresh_postgres(admin, request.getfixturevalue("postgres_template"))
    url = next(gen)
    parsed = make_url(url)
    proxy = TcpProxy(parsed.port or 5432).start()
    try:
        yield Store(parsed.set(host="127.0.0.1", port=proxy.port).render_as_string(
            hide_password=False), proxy.cut, proxy.mend)
    finally:
        proxy.stop()
        gen.close()


@pytest.fixture
def redis_server() -> Iterator[PrivateRedis]:
    with private_redis() as server:
        yield server


@pytest.fixture
def web(tmp_path, store, redis_server) -> Iterator[Services]:
    """Services as a web process has them: the short Redis timeout, a short retry."""
    from cockpit.settings import Settings
    from cockpit.store.migrate import upgrade

    settings = Settings(REDIS_URL=redis_server.url, DATABASE_URL=store.url,
                        data_dir=tmp_path / "var", stream_prefix="faults:", web_retry_s=RETRY_S,
                        **TEST_SECRETS)
    engine = make_engine(store.url)
    upgrade(engine)
    services = Services(settings, client_for_url(settings.redis_url,
                                                 settings.web_redis_timeout_s),
                        engine, session_factory(engine))
    services.store = store
    store_pages_data(services)
    signal_change(services.redis, settings, [])
    try:
        yield services
    finally:
        services.close()


def _wait(condition, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


def _answers(app, client, paths=OTHER + API, pages=PAGES) -> dict[str, tuple[int, str]]:
    """Every route's (status, body) for ``client``: GETs, then each page's router answer."""
    out = {}
    for path in paths:
        reply = client.get(path)
        out[path] = (reply.status_code, reply.get_data(as_text=True))
    for path in pages:
        reply = client.post("/_dash-update-component",
                            json=_callback_body(app, "shell-page.children", path, ""))
        out[f"page {path}"] = (reply.status_code, reply.get_data(as_text=True))
    return out


def _assert_served(answers: dict[str, tuple[int, str]]) -> None:
    """No 500 and no traceback in any answer."""
    bad = {path: (code, body[:200]) for path, (code, body) in answers.items()
           if code >= 500 and code != 503 or not no_trace(body)}
    assert bad == {}


def _alerts(body: str) -> list[str]:
    """The texts of a page's alert lines (components whose id ends in ``-alert``)."""
    found: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            props = node.get("props") if isinstance(node.get("props"), dict) else {}
            if str(props.get("id", "")).endswith("-alert"):
                found.append(json.dumps(props.get("children"), ensure_ascii=False))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    walk(json.loads(body))
    return found


def _hhmm(services: Services, epoch_ms: int) -> str:
    return f"{datetime.fromtimestamp(epoch_ms / 1000, services.settings.tz):%H:%M}"


def _kpis(response: dict) -> tuple[str, str]:
    return (response[WallIds.KPI_TODAY]["children"], response[WallIds.KPI_OPEN]["children"])


def test_with_redis_killed_pages_serve_the_committed_data_and_say_the_link_is_down(
        web, redis_server):
    app = create_app(services=web)
    admin = signed_in_client(app, web, "admin")
    wall = signed_in_client(app, web, "wall")
    summary = admin.get("/api/v1/summary").get_json()
    committed = int(web.redis.get(web.settings.key("ingest:last_commit")))
    status, before = poll(wall, app)
    assert status == 200 and _kpis(before)[1] == "2"  # pg-1 and pg-2 (today's count: any)
    assert admin.get(LINK_STATUS_PATH).get_json()["redis"] == "ok"

    redis_server.kill()
    time.sleep(RETRY_S)
    answers = _answers(app, admin) | {f"wall {k}": v for k, v in _answers(app, wall).items()}
    _assert_served(answers)
    # the API and the pages answer from the database: the committed numbers, no alert
    after = json.loads(answers["/api/v1/summary"][1])
    assert answers["/api/v1/summary"][0] == 200
    assert {k: v for k, v in after.items() if k != "as_of"} == \
        {k: v for k, v in summary.items() if k != "as_of"}
    for path in PAGES:
        code, body = answers[f"page {path}"]
        assert code == 200 and not any("数据源连接中断" in a for a in _alerts(body)), path
    assert answers["/api/v1/status"][0] == 503  # the wall's probe: the live link is down
    for path in ("/push/wall/snapshot", "/push/tablet/snapshot"):  # the screens' polls
        assert answers[path][0] == 200 and "response" in json.loads(answers[path][1]), path
    assert answers["wall /push/wall/snapshot"][0] == 200
    state = json.loads(answers[LINK_STATUS_PATH][1])
    assert state["redis"] == "down" and state["database"] == "ok"
    assert state["committed_ms"] == committed
    assert state["committed_at"] == _hhmm(web, committed)
    status, fresh = poll(wall, app)  # a new screen's snapshot: the same committed numbers
    assert status == 200 and _kpis(fresh) == _kpis(before)
    assert _kpis(fresh) == (str(summary["today_total"]), str(summary["open"]))
    assert fresh[WallIds.ALERT]["children"] == ""

    # Redis back (empty: no persistence); the ingest's next commit moves the version again
    redis_server.start()
    _wait(lambda: admin.get(LINK_STATUS_PATH).get_json()["redis"] == "ok")
    assert admin.get("/api/v1/status").status_code == 200
    seen = fresh["seen"]["data"]
    with web.sessions.begin() as session:
        apply_batch(session, [(parse_event(incident_fields(
            "back-1", at=datetime.now(UTC), village=VILLAGE)), "9-1")], resolve_villages)
    signal_change(web.redis, web.settings, ["back-1"])
    status, live = poll(wall, app, seen=seen)
    assert status == 200
    assert int(_kpis(live)[0]) == int(_kpis(before)[0]) + 1  # live updates resume


def test_with_redis_down_the_banner_time_is_the_latest_commit_even_one_it_never_saw(
        web, redis_server):
    app = create_app(services=web)
    admin = signed_in_client(app, web, "admin")
    seen = admin.get(LINK_STATUS_PATH).get_json()["committed_ms"]
    time.sleep(1.1)
    # an ingest commits while no screen of this process asks: only Redis and the store know
    with web.sessions.begin() as session:
        apply_batch(session, [(parse_event(incident_fields(
            "unseen-1", at=datetime.now(UTC), village=VILLAGE)), "9-2")], resolve_villages)
    signal_change(web.redis, web.settings, ["unseen-1"])
    later = int(web.redis.get(web.settings.key("ingest:last_commit")))
    redis_server.kill()
    time.sleep(RETRY_S)
    state = admin.get(LINK_STATUS_PATH).get_json()
    assert state["redis"] == "down"
    # the store's receipt of that commit, not the older time this process had seen
    assert seen < later - 1000 < state["committed_ms"] <= later, (seen, later, state)


def test_with_the_database_down_pages_answer_the_api_is_503_and_all_recovers(web):
    app = create_app(services=web)
    admin = signed_in_client(app, web, "admin")
    wall = signed_in_client(app, web, "wall")
    anonymous = app.server.test_client()
    good = _answers(app, admin)
    _assert_served(good)
    assert all(good[path][0] == 200 for path in API), {p: good[p][0] for p in API}
    ok_at = admin.get(LINK_STATUS_PATH).get_json()["database_ok_at"]

    token = csrf_of(anonymous)  # the sign-in form, shown before the outage
    web.store.cut()
    web.engine.dispose()  # pooled connections go: every new one fails
    time.sleep(RETRY_S)
    signin = anonymous.post("/signin", data={"username": "someone", "password": "x" * 12,
                                             "csrf_token": token})
    text = signin.get_data(as_text=True)  # the browser posted a form: a page, not JSON
    assert signin.status_code == 503 and "数据源连接中断" in text, (signin.status_code, text[:300])
    assert signin.mimetype == "text/html" and not any(m in text for m in TRACE_MARKERS)
    answers = _answers(app, admin)
    _assert_served(answers | {f"wall {k}": v for k, v in _answers(app, wall).items()}
                   | {f"anon {k}": v for k, v in _answers(app, anonymous, pages=[]).items()})
    for path in API:  # the API: 503 with a reason, as JSON
        code, body = answers[path]
        assert code == 503 and "error" in json.loads(body), (path, code, body[:200])
    state = json.loads(answers[LINK_STATUS_PATH][1])
    assert state["database"] == "down" and state["redis"] == "ok"
    assert state["database_ok_at"] == ok_at or state["database_ok_at"] is not None
    assert answers["/healthz"][0] == 200 and answers["/readyz"][0] == 503
    for path in ("/incidents", "/volunteers", "/waste"):
        code, body = answers[f"page {path}"]
        assert code == 200 and any("数据源连接中断" in a for a in _alerts(body)), path

    web.store.mend()
    web.engine.dispose()
    _wait(lambda: admin.get(LINK_STATUS_PATH).get_json()["database"] == "ok")
    back = _answers(app, admin)
    _assert_served(back)
    assert all(back[path][0] == 200 for path in API), {p: back[p][0] for p in API}
    assert json.loads(back["/api/v1/summary"][1])["today_total"] == \
        json.loads(good["/api/v1/summary"][1])["today_total"]


def test_a_hung_redis_is_asked_once_per_retry_period(tmp_path, sqlite_services):
    """SIGSTOP: the server accepts and never answers; the breaker keeps requests off it."""
    with private_redis() as server:
        settings = sqlite_services.settings.model_copy(update={
            "redis_url": server.url, "web_redis_timeout_s": 0.5, "web_retry_s": 60.0})
        client = client_for_url(server.url, settings.web_redis_timeout_s)
        services = Services(settings, client, sqlite_services.engine, sqlite_services.sessions)
        client.set(settings.key("version"), 7)
        link: LiveLink = services.link
        assert services.version() == 7 and not link.redis_down
        os.kill(server.process.pid, signal.SIGSTOP)
        try:
            asked = []

            def read(r):
                asked.append(1)
                return r.get(settings.key("version"))
            assert link.call(read, "fallback") == "fallback" and link.redis_down
            for _ in range(20):  # within the retry period: answered at once, Redis not asked
                assert link.call(read, "fallback") == "fallback"
            assert len(asked) == 1
            assert services.version() == 7  # the last version seen stands in
        finally:
            os.kill(server.process.pid, signal.SIGCONT)
        client.close()


def test_unhandled_errors_are_a_plain_page_or_json_never_a_traceback(sqlite_services):
    app = create_app(services=sqlite_services)

    @app.server.get("/boom-test")
    def boom():
        raise ValueError('secret detail File "x.py"')
    Policy.of(app).route("boom", PUBLIC)
    reply = app.server.test_client().get("/boom-test")
    body = reply.get_data(as_text=True)
    assert reply.status_code == 500 and no_trace(body) and "secret detail" not in body
    assert "服务器内部错误" in body
    assert Path(__file__).name not in body


def test_the_version_moves_when_redis_is_back_even_with_the_same_counter(
        tmp_path, sqlite_services):
    """Redis restarted empty counts from 0 again: a page must not take its 5 for the old 5."""
    with private_redis() as server:
        settings = sqlite_services.settings.model_copy(update={
            "redis_url": server.url, "web_retry_s": 0.0})
        client = client_for_url(server.url, 1.0)
        services = Services(settings, client, sqlite_services.engine, sqlite_services.sessions)
        client.set(settings.key("version"), 5)
        before = services.version()
        server.kill()
        assert services.version() == before and services.link.redis_down
        server.start()
        client.set(settings.key("version"), 5)
        after = services.version()
        assert not services.link.redis_down and after != before
        assert services.version() == after  # and stays put while nothing moves
        client.incr(settings.key("version"))
        assert services.version() == after + 1
        client.close()
