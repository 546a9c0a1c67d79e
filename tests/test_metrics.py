"""Prometheus metrics: the ingest's counters, the queue gauges, ``/metrics``'s access rule, request
and callback timing, open push streams and multiprocess mode. Real Redis, both databases; the
text is read back with prometheus_client's own parser."""

from __future__ import annotations

import random
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app import create_app
from callbacks.push import events_path
from cockpit.ingest import Ingestor
from cockpit.metrics import reason_label
from cockpit.metrics_scrape import exposition, serve_ingest
from cockpit.settings import Settings
from cockpit.streams import ensure_groups, incident_streams
from tests.access_support import signed_in_client
from tests.conftest import _services, make_settings
from tests.factories import incident_fields, lifecycle

TOKEN = "scrape-token-0123456789"
REPO = Path(__file__).resolve().parents[1]


def parse(text: str) -> dict[tuple[str, tuple], float]:
    """Every sample of an exposition: (name, sorted labels) → value."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def scrape(settings) -> dict:
    body, _ = exposition(settings)
    return parse(body.decode())


def test_ingest_counters_move_by_exactly_what_was_ingested(services):
    settings, r = services.settings, services.redis
    valid = lifecycle("MX1", stages=["reported", "dispatched"])
    missing = incident_fields("MX2")
    del missing["incident_id"]
    invalid = [missing, {**incident_fields("MX3"), "type": "incident.exploded"},
               incident_fields("MX4", lon="east", lat="30.35")]
    before = scrape(settings)
    started = time.time()
    for fields in [*valid, valid[0], *invalid]:
        r.xadd(settings.stream("incidents"), fields)
    worker = Ingestor(settings, r, services.sessions, consumer="m1", block_ms=50)
    worker.start()
    while worker.step():
        pass
    elapsed = time.time() - started
    after = scrape(settings)

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("cockpit_ingest_events_total", type="incident.reported") == 2
    assert moved("cockpit_ingest_events_total", type="incident.dispatched") == 1
    assert moved("cockpit_ingest_duplicates_total") == 1
    assert moved("cockpit_ingest_dead_letters_total", reason="incident_id") == 1
    assert moved("cockpit_ingest_dead_letters_total", reason="type") == 1
    assert moved("cockpit_ingest_dead_letters_total", reason="lon") == 1
    reasons = {dict(labels)["reason"] for name, labels in after
               if name == "cockpit_ingest_dead_letters_total"}
    assert "incident.exploded" not in " ".join(reasons)  # heads only, never a value
    assert moved("cockpit_ingest_batch_entries_sum") == 6
    assert moved("cockpit_ingest_batch_duration_seconds_count") == worker.stats.batches
    assert moved("cockpit_ingest_commit_latency_seconds_count") == 3  # the applied entries
    assert 0 <= moved("cockpit_ingest_commit_latency_seconds_sum") <= 3 * elapsed
    assert value(after, "cockpit_ingest_last_batch_timestamp_seconds") >= started


def test_a_batch_of_stamps_lands_in_the_buckets_each_age_would():
    from cockpit.metrics import LATENCY_BUCKETS, _Histogram

    rng = random.Random(11)
    now = 1_800_000_000_000
    for _ in range(300):  # ages on and around bucket bounds; some stamps ahead of this clock
        stamps = [now - rng.choice([0, 5, 10, 11, 9_999, 10_000, 10_001, 250_000, 4_000_000])
                  + rng.choice([0, 0, 3_000]) for _ in range(rng.randint(0, 40))]
        batch, one_by_one = _Histogram(LATENCY_BUCKETS), _Histogram(LATENCY_BUCKETS)
        batch.add_ages(now, list(stamps))
        one_by_one.add([max(0.0, (now - s) / 1000) for s in stamps])
        assert batch.counts == one_by_one.counts, stamps
        assert batch.total == pytest.approx(one_by_one.total)


@pytest.mark.parametrize(("reason", "label"), [
    ("lat: lat 120.3 is outside [-90, 90]; lon and lat swapped?", "lat"),
    ("incident_id: required field is missing; source: is empty", "incident_id"),
    ("type: 'x'; expected one of incident.reported, ...", "type"),
    ("apply failed: IntegrityError: (sqlite3.IntegrityError) ...", "apply_failed"),
    ("unexpected validation error: KeyError: 'x'", "validation_error"),
    ("field '手机': value is not valid UTF-8 (byte 0xff at position 0)", "encoding"),
    ("not valid UTF-8", "encoding"),
    ("delivered 7 times without being applied", "redelivered"),
    ("13812341234 is not a phone: call 110", "other"),
    ("lon and lat must come together", "other"),
])
def test_a_dead_letter_reason_becomes_a_bounded_label(reason, label):
    assert reason_label(reason) == label


def test_queue_gauges_equal_xinfo(services):
    settings, r = services.settings, services.redis
    stream = settings.stream("incidents")
    ensure_groups(r, incident_streams(settings), settings.consumer_group)
    for n in range(8):
        r.xadd(stream, {"n": str(n)})
    r.xreadgroup(settings.consumer_group, "probe", {stream: ">"}, count=3)  # 3 pending, lag 5
    r.xadd(settings.key("deadletter"), {"reason": "x"})
    r.hincrby(settings.key("ingest:stats"), "stored", 4)
    client = create_app(services=services).server.test_client()
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = parse(response.get_data(as_text=True))
    [info] = [g for g in r.xinfo_groups(stream) if g["name"] == settings.consumer_group]
    group = {"stream": stream, "group": settings.consumer_group}
    assert (info["lag"], info["pending"]) == (5, 3)
    assert value(samples, "cockpit_stream_group_lag", **group) == info["lag"]
    assert value(samples, "cockpit_stream_group_pending", **group) == info["pending"]
    assert value(samples, "cockpit_stream_entries", stream=stream) == r.xlen(stream) == 8
    assert value(samples, "cockpit_stream_entries", stream=settings.key("deadletter")) == 1
    for other in set(incident_streams(settings)) - {stream}:
        assert value(samples, "cockpit_stream_group_lag", stream=other,
                     group=settings.consumer_group) == 0
    assert value(samples, "cockpit_store_events_total", outcome="stored") == 4
    assert value(samples, "cockpit_redis_up") == 1
    assert value(samples, "cockpit_redis_used_memory_bytes") > 0
    assert value(samples, "process_resident_memory_bytes") > 0  # prometheus_client's own


@pytest.fixture
def guarded(tmp_path, redis_server_url, sqlite_url):
    gen = _services(tmp_path, redis_server_url, sqlite_url, metrics_allow="203.0.113.0/24",
                    metrics_token=TOKEN, proxy_addresses="10.0.0.5")
    services = next(gen)
    yield create_app(services=services).server.test_client()
    gen.close()


@pytest.mark.parametrize(("peer", "headers", "status"), [
    ("127.0.0.1", {}, 200),                                   # a local scraper
    ("::1", {}, 200),
    ("198.51.100.9", {}, 403),                                # anyone else
    ("198.51.100.9", {"Authorization": f"Bearer {TOKEN}"}, 200),
    ("198.51.100.9", {"Authorization": "Bearer wrong-token-0123456789"}, 403),
    ("198.51.100.9", {"Authorization": TOKEN}, 403),          # not as a bearer token
    ("203.0.113.40", {}, 200),                                # COCKPIT_METRICS_ALLOW
    ("127.0.0.1", {"X-Forwarded-For": "198.51.100.9"}, 403),  # a local proxy's client
    ("10.0.0.5", {"X-Forwarded-For": "203.0.113.7"}, 200),    # trusted proxy, allowed client
    ("10.0.0.5", {"X-Forwarded-For": "198.51.100.9"}, 403),
    ("198.51.100.9", {"X-Forwarded-For": "203.0.113.7"}, 403),  # forged: untrusted peer
])
def test_metrics_answers_allowed_scrapers_only(guarded, peer, headers, status):
    response = guarded.get("/metrics", headers=headers, environ_base={"REMOTE_ADDR": peer})
    assert response.status_code == status, response.get_data(as_text=True)[:200]
    text = response.get_data(as_text=True)
    if status == 200:
        assert value(parse(text), "cockpit_redis_up") == 1
    else:
        assert "cockpit_" not in text


def test_openmetrics_when_the_scraper_asks_for_it(sqlite_services):
    client = create_app(services=sqlite_services).server.test_client()
    response = client.get("/metrics", headers={
        "Accept": "application/openmetrics-text; version=1.0.0; charset=utf-8"})
    assert response.headers["Content-Type"].startswith("application/openmetrics-text")
    assert response.get_data(as_text=True).endswith("# EOF\n")


def test_request_and_callback_durations_are_counted_by_route_and_output(sqlite_services):
    app = create_app(services=sqlite_services)
    leader = signed_in_client(app, sqlite_services, "leader")
    before = scrape(sqlite_services.settings)
    assert leader.get("/api/v1/incidents/nobody-has-this").status_code == 404
    assert leader.get("/api/v1/status").status_code == 200
    assert leader.get("/api/v1/status").status_code == 200
    assert app.server.test_client().get("/api/v1/status").status_code == 401  # refused: counted
    assert leader.open("/no/such/page.json", method="BREW").status_code == 405
    spec = app.callback_map["shell-page.children"]  # the router: the wall's page
    body = {"output": "shell-page.children",
            "outputs": {"id": "shell-page", "property": "children"},
            "inputs": [{"id": str(i["id"]), "property": i["property"],
                        "value": "/" if i["property"] == "pathname" else None}
                       for i in spec["inputs"]],
            "state": [{"id": str(i["id"]), "property": i["property"], "value": None}
                      for i in spec["state"]],
            "changedPropIds": ["shell-url.pathname"]}
    assert leader.post("/_dash-update-component", json=body).status_code == 200
    after = scrape(sqlite_services.settings)

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    status = {"route": "/api/v1/status", "method": "GET"}
    assert moved("cockpit_http_request_duration_seconds_count", **status) == 3
    assert moved("cockpit_http_requests_total", **status, status="200") == 2
    assert moved("cockpit_http_requests_total", **status, status="401") == 1
    assert moved("cockpit_http_requests_total", route="<unmatched>", method="other",
                 status="405") == 1
    one = {"route": "/api/v1/incidents/<path:tail>", "method": "GET"}
    assert moved("cockpit_http_requests_total", **one, status="404") == 1  # the rule, not the id
    assert not any("nobody-has-this" in str(labels) for _, labels in after)
    assert moved("cockpit_dash_callback_duration_seconds_count",
                 callback="shell-page.children") == 1
    assert moved("cockpit_http_request_duration_seconds_count",
                 route="/_dash-update-component", method="POST") == 1


def test_open_push_streams_are_counted_until_they_close(sqlite_services):
    app = create_app(services=sqlite_services)
    leader = signed_in_client(app, sqlite_services, "leader")
    settings = sqlite_services.settings
    base = value(scrape(settings), "cockpit_push_connections", page="wall")
    replies = [leader.get(events_path("wall") + "?lang=zh") for _ in range(2)]
    for reply in replies:
        assert reply.mimetype == "text/event-stream"
        next(iter(reply.response))  # its first frame: the stream is open
    assert value(scrape(settings), "cockpit_push_connections", page="wall") == base + 2
    replies[0].close()
    replies[0].close()  # closing twice counts once
    assert value(scrape(settings), "cockpit_push_connections", page="wall") == base + 1
    replies[1].close()
    assert value(scrape(settings), "cockpit_push_connections", page="wall") == base


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_ingest_serves_its_own_metrics_port(tmp_path):
    port = _free_port()
    # the web workers' folder: the ingest's endpoint serves its own process all the same
    settings = Settings(data_dir=tmp_path, ingest_metrics_port=port, metrics_token=TOKEN,
                        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prom"))
    assert serve_ingest(Settings(data_dir=tmp_path, ingest_metrics_port=0)) is None  # off
    endpoint = serve_ingest(settings)
    assert endpoint is not None and endpoint.port == port
    try:
        assert serve_ingest(settings) is None  # port taken: said in the log, ingest runs on
        url = f"http://127.0.0.1:{port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as reply:
            samples = parse(reply.read().decode())
        assert value(samples, "process_resident_memory_bytes") > 0
        proxied = urllib.request.Request(url, headers={"X-Forwarded-For": "198.51.100.9"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(proxied, timeout=5)
        assert refused.value.code == 403
        proxied.add_header("Authorization", f"Bearer {TOKEN}")
        with urllib.request.urlopen(proxied, timeout=5) as reply:
            assert reply.status == 200
    finally:
        endpoint.close()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)


WORKER = textwrap.dedent("""
    import os, sys
    from cockpit import metrics
    metrics.observe_request("/api/v1/status", "GET", 200, 0.02)
    metrics.push_opened("wall")
    print(os.getpid())
""")


def test_multiprocess_mode_sums_the_workers_and_forgets_a_dead_ones_streams(tmp_path):
    from cockpit.metrics_scrape import reset_multiprocess, worker_exited

    folder = tmp_path / "prom"
    settings = make_settings(tmp_path, "redis://127.0.0.1:1/0", "sqlite://",
                             PROMETHEUS_MULTIPROC_DIR=str(folder))
    reset_multiprocess(settings)
    (folder / "counter_1.db").write_bytes(b"")  # a previous run's file: removed
    reset_multiprocess(settings)
    assert list(folder.iterdir()) == []
    pids = [int(subprocess.run([sys.executable, "-c", WORKER], check=True, capture_output=True,
                               text=True, env={"PROMETHEUS_MULTIPROC_DIR": str(folder),
                                               "PATH": "/usr/bin:/bin"},
                               cwd=str(REPO)).stdout) for _ in range(2)]
    samples = scrape(settings)
    route = {"route": "/api/v1/status", "method": "GET"}
    assert value(samples, "cockpit_http_requests_total", **route, status="200") == 2
    assert value(samples, "cockpit_http_request_duration_seconds_count", **route) == 2
    assert value(samples, "cockpit_push_connections", page="wall") == 2
    assert ("process_resident_memory_bytes", ()) not in samples  # per worker: not summed
    worker_exited(settings, pids[0])
    assert value(scrape(settings), "cockpit_push_connections", page="wall") == 1


def test_cockpit_ingest_process_serves_what_it_ingested(sqlite_services):
    from tests.test_processes import _env

    settings, r = sqlite_services.settings, sqlite_services.redis
    port = _free_port()
    for fields in lifecycle("MXP", stages=["reported", "dispatched", "arrived"]):
        r.xadd(settings.stream("incidents"), fields)
    child = subprocess.Popen([sys.executable, "-m", "cockpit.cli", "ingest"],
                             env={**_env(settings), "COCKPIT_INGEST_METRICS_PORT": str(port)},
                             stderr=subprocess.PIPE, text=True)
    try:
        samples: dict = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and value(
                samples, "cockpit_ingest_events_total", type="incident.arrived") < 1:
            time.sleep(0.3)
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics",
                                            timeout=5) as reply:
                    samples = parse(reply.read().decode())
            except OSError:
                continue  # not listening yet
        for kind in ("reported", "dispatched", "arrived"):
            assert value(samples, "cockpit_ingest_events_total", type=f"incident.{kind}") == 1
        assert value(samples, "cockpit_ingest_commit_latency_seconds_count") == 3
        # the queue's gauges are the web app's (once, however many ingest processes run)
        assert not [name for name, _ in samples if name.startswith("cockpit_stream_")]
    finally:
        child.terminate()
        _, err = child.communicate(timeout=20)
    assert child.returncode == 0, err[-2000:]
    assert f"ingest metrics on http://127.0.0.1:{port}/metrics" in err


def test_cockpit_serve_process_serves_metrics_to_allowed_scrapers(sqlite_services):
    import requests

    from tests.test_processes import _env

    port = _free_port()
    env = {**_env(sqlite_services.settings), "COCKPIT_PORT": str(port),
           "COCKPIT_METRICS_TOKEN": TOKEN}
    child = subprocess.Popen([sys.executable, "-m", "cockpit.cli", "serve"], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                local = requests.get(url, timeout=5)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline and child.poll() is None, "serve did not start"
                time.sleep(0.3)
        assert local.status_code == 200
        assert value(parse(local.text), "cockpit_redis_up") == 1
        forwarded = {"X-Forwarded-For": "198.51.100.9"}  # through a local proxy: not local
        assert requests.get(url, headers=forwarded, timeout=5).status_code == 403
        with_token = requests.get(url, headers={**forwarded, "Authorization": f"Bearer {TOKEN}"},
                                  timeout=5)
        assert with_token.status_code == 200
        samples = parse(with_token.text)
        route = {"route": "/metrics", "method": "GET"}
        assert value(samples, "cockpit_http_requests_total", **route, status="200") == 1
        assert value(samples, "cockpit_http_requests_total", **route, status="403") == 1
    finally:
        child.send_signal(signal.SIGTERM)
        child.communicate(timeout=15)


def test_metrics_still_answer_while_redis_is_unreachable(tmp_path, redis_server_url, sqlite_url):
    gen = _services(tmp_path, redis_server_url, sqlite_url)
    services = next(gen)
    kwargs = services.redis.connection_pool.connection_kwargs
    port = kwargs["port"]
    try:
        client = create_app(services=services).server.test_client()
        kwargs.update(port=1, socket_connect_timeout=1)
        services.redis.connection_pool.disconnect()
        response = client.get("/metrics")
        assert response.status_code == 200
        samples = parse(response.get_data(as_text=True))
        assert value(samples, "cockpit_redis_up") == 0
        assert not [name for name, _ in samples if name.startswith("cockpit_stream_")]
        assert value(samples, "process_resident_memory_bytes") > 0
    finally:
        kwargs.update(port=port)
        services.redis.connection_pool.reset()
        gen.close()
