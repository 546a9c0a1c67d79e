"""The real ``cockpit`` programs as processes: schema, db upgrade, ingest killed with SIGKILL,
serve and ingest refused without their secrets, the whole demo started twice."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import uuid
from urllib.parse import urlsplit

import pytest
import redis
import requests
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, select, text
from typer.testing import CliRunner

from cockpit.cli import app
from cockpit.events import EVENT_TYPES
from cockpit.settings import SECRETS
from cockpit.store.db import make_engine
from cockpit.store.migrate import alembic_config
from cockpit.store.models import Base, IncidentEventRow
from tests.conftest import TEST_SECRETS, build_services, make_settings
from tests.factories import lifecycle

SECRET_VARS = SECRETS  # secret field → its variable


def _env(settings) -> dict[str, str]:
    return {**os.environ, "REDIS_URL": settings.redis_url, "DATABASE_URL": settings.database_url,
            "COCKPIT_STREAM_PREFIX": settings.stream_prefix,
            "COCKPIT_DATA_DIR": str(settings.data_dir),
            **{var: TEST_SECRETS[name] for name, var in SECRET_VARS.items()}}


def _without_secrets(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k not in SECRET_VARS.values()}


def test_schema_prints_every_event_type():
    result = CliRunner().invoke(app, ["schema"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert set(doc["discriminator"]["mapping"]) == set(EVENT_TYPES)
    one = CliRunner().invoke(app, ["schema", "incident.reported"])
    assert "category" in json.loads(one.output)["properties"]
    bad = CliRunner().invoke(app, ["schema", "incident.nope"])
    assert bad.exit_code != 0


def test_db_upgrade_creates_the_schema(tmp_path, database_url):
    env = {**os.environ, "DATABASE_URL": database_url, "COCKPIT_DATA_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "cockpit.cli", "db", "upgrade"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    engine = make_engine(database_url)
    with engine.connect() as conn:
        version = conn.execute(text("select version_num from alembic_version")).scalar()
        # the migrations build exactly the schema the models declare
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
    assert version == head
    assert diff == []


def _stored(services) -> int:
    with services.read() as session:
        return session.scalar(select(func.count()).select_from(IncidentEventRow))


def test_ingest_killed_with_sigkill_loses_and_repeats_nothing(tmp_path, redis_server_url,
                                                              database_url):
    settings = make_settings(tmp_path, redis_server_url, database_url)
    services = build_services(settings)
    try:
        stream = settings.stream("incidents")
        pipe = services.redis.pipeline(transaction=False)
        total = 0
        for i in range(2500):
            for fields in lifecycle(f"k{i}"):
                pipe.xadd(stream, fields)
                total += 1
        pipe.execute()
        argv = [sys.executable, "-m", "cockpit.cli", "ingest", "--consumer", "kill-me",
                "--batch", "200"]
        first = subprocess.Popen(argv, env=_env(settings), stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while _stored(services) < total // 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        first.wait()
        at_kill = _stored(services)
        assert 0 < at_kill < total, "kill must land in the middle of the backlog"
        second = subprocess.Popen(argv + ["--idle-exit", "2"], env=_env(settings),
                                  stderr=subprocess.PIPE, text=True)
        _, err = second.communicate(timeout=240)
        assert second.returncode == 0, err[-2000:]
        assert _stored(services) == total
        with services.read() as session:
            distinct = session.scalar(select(func.count(func.distinct(IncidentEventRow.event_id))))
        assert distinct == total
        pending = services.redis.xpending(stream, settings.consumer_group)
        assert pending["pending"] == 0
    finally:
        keys = list(services.redis.scan_iter(match=f"{settings.stream_prefix}*"))
        if keys:
            services.redis.delete(*keys)
        services.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_ingest_stops_cleanly_on_signal(tmp_path, redis_server_url, sqlite_url, sig):
    settings = make_settings(tmp_path, redis_server_url, sqlite_url)
    services = build_services(settings)
    try:
        child = subprocess.Popen([sys.executable, "-m", "cockpit.cli", "ingest"],
                                 env=_env(settings), stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            groups = services.redis.exists(settings.stream("incidents"))
            if groups:
                break
            time.sleep(0.1)
        child.send_signal(sig)
        _, err = child.communicate(timeout=15)
        assert child.returncode == 0, err[-2000:]
        assert "ingest stopped" in err
    finally:
        keys = list(services.redis.scan_iter(match=f"{settings.stream_prefix}*"))
        if keys:
            services.redis.delete(*keys)
        services.close()


@pytest.mark.parametrize(("command", "variable"), [("serve", "COCKPIT_SECRET_KEY"),
                                                   ("ingest", "COCKPIT_PD_KEY")])
def test_serve_and_ingest_refuse_to_start_without_their_secret(tmp_path, sqlite_url, command,
                                                               variable):
    env = {**_without_secrets(os.environ), "DATABASE_URL": sqlite_url,
           "REDIS_URL": "redis://127.0.0.1:1/0", "COCKPIT_DATA_DIR": str(tmp_path / "var"),
           "COCKPIT_PORT": str(_free_port())}
    done = subprocess.run([sys.executable, "-m", "cockpit.cli", command], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"cockpit: {variable} is not set"), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_serve_behind_a_trusted_proxy_sees_the_forwarded_client(tmp_path, redis_server_url,
                                                                 sqlite_url):
    from cockpit import accounts, audit

    settings = make_settings(tmp_path, redis_server_url, sqlite_url)
    services = build_services(settings)
    with services.sessions.begin() as db:
        accounts.add_user(db, "sso-lead", "leader", None, by="test")
    port = _free_port()
    env = {**_env(settings), "COCKPIT_PORT": str(port), "COCKPIT_PROXY_ADDRESSES": "127.0.0.1"}
    child = subprocess.Popen([sys.executable, "-m", "cockpit.cli", "serve"], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}/api/v1/status"
        headers = {"X-Remote-User": "sso-lead", "X-Forwarded-For": "10.9.9.9, 10.8.8.8"}
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = requests.get(url, headers=headers, timeout=5)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline and child.poll() is None, "serve did not start"
                time.sleep(0.3)
        assert answer.status_code == 200
        with services.read() as db:
            (entry,) = audit.read(db, action="signin").rows
            assert (entry.actor, entry.origin, entry.detail) == ("sso-lead", "10.8.8.8", "sso")
    finally:
        child.send_signal(signal.SIGTERM)
        child.communicate(timeout=15)
        services.close()


# -- the whole demo ----------------------------------------------------------------------------

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_KIOSK_LINE = re.compile(r"Wall screen \(kiosk link, no sign-in\): (http://\S+/kiosk/\S+)")
_ADMIN_LINE = re.compile(r"Sign in at (http://\S+)/signin as admin, password: (\S+)  "
                         r"\(new at every start\)")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _Demo:
    """``cockpit demo`` as a process: its stdout read line by line, its stderr to a file."""

    def __init__(self, env: dict[str, str], port: int, log_path):
        self.log_path = log_path
        self.log = open(log_path, "a", encoding="utf-8")  # closed in stop()
        self.proc = subprocess.Popen([sys.executable, "-m", "cockpit.cli", "demo", "--port",
                                      str(port)], env=env, stdout=subprocess.PIPE,
                                     stderr=self.log, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.out: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)

    def banner(self, timeout: float = 150) -> str:
        """Everything printed up to "Ctrl-C stops everything." (the demo is up then)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                if self.proc.poll() is not None:
                    pytest.fail(f"the demo exited ({self.proc.returncode}): "
                                f"{self.log_path.read_text()[-3000:]}")
                continue
            self.out.append(line)
            if "Ctrl-C stops everything." in line:
                return "".join(self.out)
        pytest.fail(f"the demo did not come up: {''.join(self.out)}"
                    f"{self.log_path.read_text()[-3000:]}")

    def wait_ready(self, base: str, timeout: float = 120) -> None:
        """Wait until the web part answers (the demo prints its banner after 60 s anyway)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if requests.get(f"{base}/signin", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        pytest.fail(f"the demo's web app did not answer: {self.log_path.read_text()[-3000:]}")

    def get(self, url: str, client=requests) -> requests.Response:
        """GET ``url`` without following redirects; a failure shows the demo's log."""
        try:
            return client.get(url, allow_redirects=False, timeout=30)
        except requests.RequestException as exc:
            pytest.fail(f"GET {url}: {exc}\n{self.log_path.read_text()[-3000:]}")

    def sign_in(self, base: str, username: str, password: str) -> requests.Response:
        """POST the sign-in form of a fresh client (CSRF token read from the form)."""
        client = requests.Session()
        token = _CSRF.search(self.get(f"{base}/signin", client).text).group(1)
        try:
            return client.post(f"{base}/signin", data={"username": username,
                                                       "password": password,
                                                       "csrf_token": token},
                               allow_redirects=False, timeout=30)
        except requests.RequestException as exc:
            pytest.fail(f"POST {base}/signin: {exc}\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()
        finally:
            self.log.close()


def _started(env, port, log_path) -> tuple[_Demo, str, str, str]:
    demo = _Demo(env, port, log_path)
    banner = demo.banner()
    kiosk = _KIOSK_LINE.search(banner)
    admin = _ADMIN_LINE.search(banner)
    assert kiosk and admin, banner
    demo.wait_ready(admin.group(1))
    return demo, admin.group(1), kiosk.group(1), admin.group(2)


def test_demo_prints_a_kiosk_link_and_a_new_admin_password_and_keeps_its_secrets(
        tmp_path, redis_server_url):
    from cockpit.demo import DEFAULT_FEED

    if not DEFAULT_FEED.is_file():
        pytest.skip(f"the demo's feed {DEFAULT_FEED} is not beside the checkout")
    prefix = f"test:{uuid.uuid4().hex[:10]}:"
    data_dir = tmp_path / "var"
    env = {**_without_secrets(os.environ), "REDIS_URL": redis_server_url,
           "COCKPIT_STREAM_PREFIX": prefix, "COCKPIT_DATA_DIR": str(data_dir)}
    env.pop("DATABASE_URL", None)
    port = _free_port()
    log_path = tmp_path / "demo.log"
    demo = None
    try:
        demo, base, link, password = _started(env, port, log_path)
        assert base == f"http://127.0.0.1:{port}" and link.startswith(f"{base}/kiosk/")
        assert len(password) >= 10

        opened = demo.get(link)
        assert opened.status_code == 302
        target = urlsplit(opened.headers["Location"])
        assert (target.path, target.query) == ("/", "screen=demo-wall")
        anonymous = demo.get(f"{base}/")
        assert anonymous.status_code == 302
        assert urlsplit(anonymous.headers["Location"]).path == "/signin"
        assert demo.sign_in(base, "admin", password).status_code == 302

        secrets_dir = data_dir / "secrets"
        kept = {var: (secrets_dir / var).read_text() for var in SECRET_VARS.values()}
        assert stat.S_IMODE(secrets_dir.stat().st_mode) == 0o700
        for var in kept:
            assert stat.S_IMODE((secrets_dir / var).stat().st_mode) == 0o600
        assert demo.stop() == 0

        # the next start reuses the secrets: the same kiosk link; the admin password is new
        demo, _, link_again, password_again = _started(env, port, log_path)
        assert link_again == link and password_again != password
        assert {var: (secrets_dir / var).read_text() for var in kept} == kept
        assert demo.get(link).status_code == 302
        assert demo.sign_in(base, "admin", password).status_code == 401
        assert demo.sign_in(base, "admin", password_again).status_code == 302
        assert demo.stop() == 0
        demo = None
        logged = log_path.read_text()
        assert password not in logged and password_again not in logged
        assert all(value.strip() not in logged for value in kept.values())
    finally:
        if demo is not None:
            demo.stop()
        client = redis.Redis.from_url(redis_server_url)
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)


def test_demo_refuses_an_unusable_kept_secret(tmp_path):
    from cockpit.demo import DemoError, kept_secret

    path = tmp_path / "secrets" / "COCKPIT_PD_KEY"
    first = kept_secret(path)
    assert len(first) >= 16 and kept_secret(path) == first
    path.chmod(0o644)
    kept_secret(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_text("short\n")
    with pytest.raises(DemoError, match="COCKPIT_PD_KEY holds no usable secret"):
        kept_secret(path)
