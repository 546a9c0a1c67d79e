"""``REDIS_URL=redis+sentinel://…``: the URL parsed, and a real master, replica and sentinel of
our own (redis-server on free ports) used through it — streams, consumer groups, the bytes
client of the ingest, pub/sub of the change signal, and a failover."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
import redis

from cockpit.redis_sentinel import SentinelURL, parse_sentinel_url
from cockpit.streams import bytes_client, client_for_url, ensure_groups
from tests.push_support import free_port

REDIS_SERVER = shutil.which("redis-server")
PASSWORD = "s3cret/pa:ss@word"
QUOTED = "s3cret%2Fpa%3Ass%40word"


def test_a_sentinel_url_is_parsed_with_its_hosts_service_db_and_credentials():
    spec = parse_sentinel_url(f"redis+sentinel://app:{QUOTED}@10.0.0.1:26380,sentinel-b,"
                              "[::1]:26381/cockpit/3?sentinel_password=other")
    assert spec == SentinelURL(sentinels=(("10.0.0.1", 26380), ("sentinel-b", 26379),
                                          ("::1", 26381)),
                               service="cockpit", db=3, username="app", password=PASSWORD,
                               sentinel_password="other")
    assert PASSWORD not in repr(spec) and "other" not in repr(spec)
    plain = parse_sentinel_url("redis+sentinel://h:26379/mymaster")
    assert (plain.db, plain.username, plain.password) == (0, None, None)
    only_password = parse_sentinel_url("redis+sentinel://:pw@h/mymaster/0")
    assert (only_password.username, only_password.password) == (None, "pw")


@pytest.mark.parametrize(("url", "says"), [
    ("redis://h:6379/0", "not a redis+sentinel"),
    ("redis+sentinel://:pw@/mymaster", "no sentinel host"),
    ("redis+sentinel://:pw@h:26379", "no service name"),
    ("redis+sentinel://:pw@h:26379/", "no service name"),
    ("redis+sentinel://:pw@h:port/mymaster", "invalid port"),
    ("redis+sentinel://:pw@h:70000/mymaster", "invalid port"),
    ("redis+sentinel://:pw@h,:26379/mymaster", "without a host"),
    ("redis+sentinel://:pw@h/mymaster/x", "must be a number"),
    ("redis+sentinel://:pw@h/mymaster/0/1", "/service_name[/db]"),
    ("redis+sentinel://:pw@h/mymaster?ssl=true", "unknown option(s) ssl"),
])
def test_a_bad_sentinel_url_is_refused_with_a_reason_and_without_its_password(url, says):
    with pytest.raises(ValueError, match="REDIS_URL") as caught:
        # the cockpit's own entry (a redis:// URL is valid there, so that one is parsed alone)
        client_for_url(url) if url.startswith("redis+") else parse_sentinel_url(url)
    assert says in str(caught.value)
    assert "pw" not in str(caught.value).replace("password", "")


@pytest.mark.parametrize(("url", "says"), [
    ("redis+sentinel://:pw@127.0.0.1:26399", "bad REDIS_URL: no service name"),
    ("bogus://x", "or redis+sentinel://"),
])
def test_the_cockpit_command_says_a_bad_redis_url_in_one_line(monkeypatch, capsys, url, says):
    from cockpit.cli import main

    monkeypatch.setenv("REDIS_URL", url)
    monkeypatch.setattr("sys.argv", ["cockpit", "deadletter", "list"])
    with pytest.raises(SystemExit) as ended:
        main()
    err = capsys.readouterr().err
    assert ended.value.code == 2 and err.count("\n") == 1 and says in err, err
    assert "Traceback" not in err and "pw" not in err


def _start(argv: list[str], port: int, password: str | None, timeout: float = 20):
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    probe = redis.Redis(port=port, password=password, socket_connect_timeout=1)
    deadline = time.monotonic() + timeout
    while True:
        try:
            probe.ping()
            return process
        except redis.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"{argv} did not start: {process.stderr.read().decode()[-2000:]}")
            time.sleep(0.1)


def _wait(what: str, check, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except redis.RedisError:
            pass
        time.sleep(0.2)
    pytest.fail(f"{what}: not within {timeout} s")


@pytest.fixture
def sentinel_set(tmp_path: Path):
    """A master and a replica (both with a password) and one sentinel watching ``cockpit``."""
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed")
    master_port, replica_port, sentinel_port = free_port(), free_port(), free_port()
    common = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
              "--requirepass", PASSWORD, "--masterauth", PASSWORD]
    processes = []
    try:
        processes.append(_start([REDIS_SERVER, "--port", str(master_port),
                                 "--dir", str(tmp_path), *common], master_port, PASSWORD))
        processes.append(_start([REDIS_SERVER, "--port", str(replica_port),
                                 "--dir", str(tmp_path), "--replicaof", "127.0.0.1",
                                 str(master_port), *common], replica_port, PASSWORD))
        conf = tmp_path / "sentinel.conf"
        conf.write_text(f"port {sentinel_port}\nbind 127.0.0.1\ndir {tmp_path}\n"
                        f"sentinel monitor cockpit 127.0.0.1 {master_port} 1\n"
                        f'sentinel auth-pass cockpit "{PASSWORD}"\n'
                        "sentinel down-after-milliseconds cockpit 2000\n")
        processes.append(_start([REDIS_SERVER, str(conf), "--sentinel"], sentinel_port, None))
        sentinel = redis.Redis(port=sentinel_port, decode_responses=True)
        _wait("the sentinel sees the replica", lambda: any(
            r["port"] == replica_port and "disconnected" not in r["flags"]
            and r.get("master-link-status") == "ok"
            for r in sentinel.sentinel_slaves("cockpit")))
        yield sentinel, master_port, replica_port, sentinel_port
    finally:
        for process in reversed(processes):
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


def test_streams_groups_pubsub_and_a_failover_through_a_sentinel_url(sentinel_set):
    sentinel, master_port, replica_port, sentinel_port = sentinel_set
    url = f"redis+sentinel://:{QUOTED}@127.0.0.1:{sentinel_port}/cockpit/0"
    r = client_for_url(url)
    assert r.connection_pool.connection_kwargs["decode_responses"] is True
    # the ingest's path: a consumer group, a text XADD, a bytes XADD, XREADGROUP in bytes
    ensure_groups(r, ["q:incidents"], "cockpit-ingest")
    first = r.xadd("q:incidents", {"type": "incident.reported", "title": "烟雾"})
    raw = bytes_client(r)
    assert raw.connection_pool.connection_kwargs["decode_responses"] is False
    raw.xadd("q:incidents", {b"title": b"\xff not utf-8"})
    reply = raw.xreadgroup("cockpit-ingest", "host-ingest-1", {"q:incidents": ">"}, count=10)
    entries = reply[0][1]
    assert entries[0][0].decode() == first and entries[0][1][b"title"] == "烟雾".encode()
    assert entries[1][1] == {b"title": b"\xff not utf-8"}
    # the change signal the push hubs wait on
    listener = r.pubsub(ignore_subscribe_messages=True)
    listener.subscribe("q:changes")
    r.publish("q:changes", '{"version": 1}')
    deadline, message = time.monotonic() + 5, None
    while message is None and time.monotonic() < deadline:  # None: the subscription's reply
        message = listener.get_message(timeout=1)
    assert message is not None and message["data"] == '{"version": 1}'
    listener.close()
    # a failover: the sentinel promotes the replica; the client follows on a new connection
    sentinel.execute_command("SENTINEL", "FAILOVER", "cockpit")
    _wait("the replica is the master", lambda: int(sentinel.sentinel_get_master_addr_by_name(
        "cockpit")[1]) == replica_port)
    # until the old master is told to follow (a write to it before then is lost: replication
    # is asynchronous; docs/deploy.md)
    old = redis.Redis(port=master_port, password=PASSWORD, decode_responses=True)
    _wait("the old master follows", lambda: old.info("replication")["role"] == "slave")
    written = None

    def write() -> bool:
        nonlocal written
        written = r.xadd("q:incidents", {"type": "incident.reported", "title": "after"})
        return True
    _wait("a write after the failover", write)
    promoted = redis.Redis(port=replica_port, password=PASSWORD)  # bytes: one is not UTF-8
    assert promoted.info("replication")["role"] == "master"
    assert [entry_id.decode() for entry_id, _ in promoted.xrange("q:incidents")] == [
        first, entries[1][0].decode(), written]
    assert promoted.xlen("q:incidents") == 3


def test_the_ingest_and_the_web_app_run_on_a_sentinel_url(sentinel_set, tmp_path, sqlite_url):
    from app import create_app
    from cockpit.store.models import IncidentEventRow
    from tests.conftest import build_services, make_settings
    from tests.factories import incident_fields
    from tests.store_support import count_rows, ingest

    _, _, _, sentinel_port = sentinel_set
    url = f"redis+sentinel://:{QUOTED}@127.0.0.1:{sentinel_port}/cockpit"
    services = build_services(make_settings(tmp_path, url, sqlite_url))
    try:
        ingest(services, [incident_fields("SEN-1")])
        assert count_rows(services, IncidentEventRow) == 1
        client = create_app(services=services).server.test_client()
        ready = client.get("/readyz").get_json()
        assert ready["redis"] == "ok" and ready["database"] == "ok", ready
        assert ready["ingest"][services.settings.stream("incidents")]["pending"] == 0
    finally:
        services.close()
