"""The production set-up of docs/deploy.md, run for real: gunicorn with the shipped settings
(two workers, each with its own push hub), the shipped nginx configuration checked by nginx
itself, and the systemd units' commands."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.access_support import http_session
from tests.conftest import build_services, make_settings
from tests.factories import incident_fields
from tests.push_support import free_port, server_env
from tests.store_support import ingest

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
GUNICORN = Path(sys.executable).with_name("gunicorn")
BOOT = re.compile(rb'"boot":"([0-9a-f]+)"')


class Gunicorn:
    """``gunicorn -c deploy/gunicorn.conf.py 'app:make_server()'`` as a process."""

    def __init__(self, settings, workers: int, **extra: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [str(GUNICORN), "-c", str(DEPLOY / "gunicorn.conf.py"), "--workers", str(workers),
             "app:make_server()"],
            cwd=ROOT, env=server_env(settings, self.port, **extra),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def wait_up(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"gunicorn exited: {self.process.stderr.read().decode()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as reply:
                    if reply.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        pytest.fail("gunicorn did not answer /healthz")

    def stop(self) -> tuple[int, str]:
        """SIGTERM (as systemd stops it); the exit code and the log."""
        self.process.send_signal(signal.SIGTERM)
        try:
            _, err = self.process.communicate(timeout=40)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, err = self.process.communicate(timeout=10)
        return self.process.returncode, err.decode()


def _frames_until(reply, pattern: bytes, within_s: float) -> bytes:
    """Read an SSE stream until ``pattern`` shows; everything read."""
    seen = b""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        chunk = reply.read1(1 << 20)
        if not chunk:
            break
        seen += chunk
        if re.search(pattern, seen):
            return seen
    pytest.fail(f"{pattern!r} not on the stream within {within_s} s "
                f"(read {len(seen)} bytes)")


@pytest.mark.skipif(not GUNICORN.exists(), reason="gunicorn is not installed (extra [deploy])")
def test_gunicorn_with_the_shipped_config_serves_pages_and_pushes_from_every_worker(
        tmp_path, redis_server_url, sqlite_url):
    settings = make_settings(tmp_path, redis_server_url, sqlite_url, push_max_clients=8)
    services = build_services(settings)
    server = Gunicorn(settings, workers=2)
    streams = []
    try:
        server.wait_up()
        with urllib.request.urlopen(server.url + "/healthz", timeout=10) as reply:
            assert json.loads(reply.read()) == {"status": "ok"}
        with urllib.request.urlopen(server.url + "/readyz", timeout=10) as reply:
            assert json.loads(reply.read())["redis"] == "ok"
        wall = http_session(server.url, services, "wall")
        with wall.open(server.url + "/", timeout=30) as reply:
            assert reply.status == 200
            assert "<div id=\"react-entry-point\">" in reply.read().decode()
        leader = http_session(server.url, services, "leader")
        with leader.open(server.url + "/api/v1/summary", timeout=30) as reply:
            assert "open" in json.loads(reply.read())
        # streams until both workers hold one: each worker's hub has its own boot id
        boots: dict[bytes, object] = {}
        for _ in range(16):
            try:
                reply = wall.open(server.url + "/push/wall/events?lang=zh", timeout=30)
            except urllib.error.HTTPError as refused:
                # a worker at its bound of streams: the ones closed here end on the server
                # only at their next write, so a busy machine can fill one worker first
                assert refused.code == 503, refused
                time.sleep(1)
                continue
            assert reply.headers["Content-Type"].startswith("text/event-stream")
            first = _frames_until(reply, rb'"boot":"[0-9a-f]+"', 30)
            boot = BOOT.search(first).group(1)
            if boot in boots:
                reply.close()
                continue
            boots[boot] = reply
            streams.append(reply)
            if len(boots) == 2:
                break
        assert len(boots) == 2, "16 tries: no stream from the second worker"
        # one commit of the ingest: its change signal reaches the hub of every worker
        incident = f"DEP{uuid.uuid4().hex[:8]}"
        ingest(services, [incident_fields(incident, at=datetime.now(UTC))])
        for reply in streams:
            _frames_until(reply, incident.encode(), 20)
    finally:
        for reply in streams:
            reply.close()
        code, log = server.stop()
        services.close()
    assert code == 0, log[-3000:]
    assert "Booting worker" in log and "Traceback" not in log, log[-3000:]


def test_redis_keys_of_one_prefix_can_share_a_cluster_slot():
    """docs/deploy.md: a ``{…}`` prefix makes every key of the cockpit one hash slot."""
    from cockpit.settings import Settings

    settings = Settings(stream_prefix="{qiaosi}:")
    keys = [settings.stream("incidents"), settings.key("deadletter"), settings.key("changes")]
    assert {re.search(r"\{([^}]*)\}", key).group(1) for key in keys} == {"qiaosi"}


def test_the_ingest_unit_names_each_instance_its_own_consumer():
    unit = (DEPLOY / "systemd" / "cockpit-ingest@.service").read_text()
    start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    assert "--consumer %H-ingest-%i" in start, start
    from typer.testing import CliRunner

    from cockpit.cli import app
    assert "--consumer" in CliRunner().invoke(app, ["ingest", "--help"]).output


NGINX = shutil.which("nginx") is not None and shutil.which("openssl") is not None


def _nginx(tmp_path: Path, upstreams: tuple[int, int] = (8050, 8051), https: int = 443,
           http: int = 80) -> Path:
    """The shipped server blocks with a throw-away certificate, in a minimal nginx.conf of their
    own (its pid, logs and temporary files under ``tmp_path``); the ports changed if asked."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=cockpit.example.gov.cn", "-keyout", str(key), "-out",
                    str(cert)], check=True, capture_output=True)
    site = (DEPLOY / "nginx.conf").read_text()
    for old, new in (("/etc/ssl/certs/cockpit.pem", str(cert)),
                     ("/etc/ssl/private/cockpit.key", str(key)),
                     ("/opt/cockpit/app/assets", str(ROOT / "assets")),
                     ("127.0.0.1:8050", f"127.0.0.1:{upstreams[0]}"),
                     ("127.0.0.1:8051", f"127.0.0.1:{upstreams[1]}"),
                     ("listen 443 ", f"listen {https} "),
                     ("listen [::]:443 ", f"listen [::]:{https} "),
                     ("listen 80;", f"listen {http};"),
                     ("listen [::]:80;", f"listen [::]:{http};")):
        assert old in site, old
        site = site.replace(old, new)
    if not Path("/proc/net/if_inet6").exists():  # a host without IPv6 cannot bind [::]
        site = "\n".join(line for line in site.splitlines() if "[::]" not in line)
    (tmp_path / "site.conf").write_text(site)
    conf = tmp_path / "nginx.conf"
    user = "user root;\n" if os.geteuid() == 0 else ""  # its workers read the test's files
    conf.write_text(
        f"{user}pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n  access_log {tmp_path}/access.log;\n"
        + "".join(f"  {kind}_temp_path {tmp_path}/{kind};\n"
                  for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        + f"  include {tmp_path}/site.conf;\n}}\n")
    return conf


@pytest.mark.skipif(not NGINX, reason="nginx or openssl is not installed")
def test_the_nginx_example_passes_nginx_t(tmp_path):
    conf = _nginx(tmp_path)
    result = subprocess.run(["nginx", "-t", "-p", str(tmp_path), "-c", str(conf)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr


@pytest.mark.skipif(not (NGINX and GUNICORN.exists() and shutil.which("curl")),
                    reason="nginx, openssl, curl or gunicorn is not installed")
def test_through_the_nginx_example_over_http2_streams_pass_and_spread_over_processes(
        tmp_path, redis_server_url, sqlite_url):
    settings = make_settings(tmp_path, redis_server_url, sqlite_url, push_max_clients=4)
    services = build_services(settings)
    servers = [Gunicorn(settings, workers=1, COCKPIT_PROXY_ADDRESSES="127.0.0.1")
               for _ in range(2)]  # two cockpit-web@PORT instances
    https = free_port()
    conf = _nginx(tmp_path, upstreams=(servers[0].port, servers[1].port), https=https,
                  http=free_port())
    proxy = subprocess.Popen(["nginx", "-p", str(tmp_path), "-c", str(conf), "-g",
                              "daemon off;"], stderr=subprocess.PIPE)
    base = f"https://cockpit.example.gov.cn:{https}"
    curl = ["curl", "-sS", "--http2", "-k", "--resolve",
            f"cockpit.example.gov.cn:{https}:127.0.0.1"]
    try:
        for server in servers:
            server.wait_up()
        wall = http_session(servers[0].url, services, "wall")
        jar = next(h.cookiejar for h in wall.handlers if hasattr(h, "cookiejar"))
        cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
        health = subprocess.run(curl + ["-w", "%{http_version} %{http_code}", "-o",
                                        os.devnull, base + "/healthz"],
                                capture_output=True, text=True, timeout=30)
        assert health.stdout == "2 200", (health.stdout, health.stderr)
        hidden = subprocess.run(curl + ["-w", "%{http_code}", "-o", os.devnull,
                                        base + "/metrics"], capture_output=True, text=True)
        assert hidden.stdout == "404"
        # two screens' streams for 8 s: the snapshot, then the beats (every 3 s, a few bytes
        # each, which a buffering proxy would hold back; the app's X-Accel-Buffering: no and
        # the example's proxy_buffering off both prevent that). least_conn gives the second
        # screen to the other process: two hubs, two boot ids.
        screens = []
        for _ in range(2):
            screens.append(subprocess.Popen(
                curl + ["-N", "--max-time", "8", "-H", f"Cookie: {cookie}",
                        base + "/push/wall/events?lang=zh"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE))
            time.sleep(1)
        boots = set()
        for screen in screens:
            out, err = screen.communicate(timeout=30)
            assert screen.returncode == 28, err  # curl's "timed out": the stream stayed open
            assert b"event: update" in out
            assert out.count(b"event: beat") >= 1, out[-500:]
            boots.add(BOOT.search(out).group(1))
        assert len(boots) == 2, "both streams went to one web process"
    finally:
        proxy.terminate()
        proxy.wait(10)
        for server in servers:
            server.stop()
        services.close()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd is not installed")
def test_the_systemd_units_pass_systemd_analyze_verify(tmp_path):
    """The shipped units, pointed at this checkout's virtualenv and user, as systemd reads them
    (unknown keys, commands that are not executable, bad dependencies fail)."""
    import getpass

    env = tmp_path / "cockpit.env"
    env.write_text("")
    user = getpass.getuser()
    names = []
    for unit in sorted((DEPLOY / "systemd").iterdir()):
        text = unit.read_text()
        text = text.replace("/opt/cockpit/app/.venv/bin/", f"{Path(sys.executable).parent}/")
        text = text.replace("/opt/cockpit/app", str(ROOT))
        text = text.replace("/etc/cockpit/cockpit.env", str(env))
        text = text.replace("User=cockpit", f"User={user}").replace("Group=cockpit", "")
        (tmp_path / unit.name).write_text(text)
        names.append(unit.name)
    # the instances the target wants, as systemd would make them of their templates
    for template, instance in (("cockpit-web@", "8050"), ("cockpit-web@", "8051"),
                               ("cockpit-ingest@", "1")):
        (tmp_path / f"{template}{instance}.service").write_text(
            (tmp_path / f"{template}.service").read_text())
    names = [name.replace("@.service", "@8050.service" if "web" in name else "@1.service")
             for name in names]
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", *names], cwd=tmp_path,
                            capture_output=True, text=True)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


ENV_LINE = re.compile(r"^#?((?:COCKPIT_|REDIS_URL|DATABASE_URL|PROMETHEUS_MULTIPROC_DIR)\w*)=(.*)$")


def test_the_env_example_names_every_setting_and_validates_once_its_secrets_are_filled(
        monkeypatch):
    from cockpit.settings import Settings

    listed, active = set(), {}
    for line in (DEPLOY / "cockpit.env.example").read_text().splitlines():
        match = ENV_LINE.match(line)
        if match:
            listed.add(match.group(1))
            if not line.startswith("#"):  # systemd strips one pair of double quotes
                value = match.group(2)
                quoted = len(value) > 1 and value[0] == value[-1] == '"'
                active[match.group(1)] = value[1:-1] if quoted else value
    from cockpit.timemachine_settings import TimeMachineSettings

    fields = {info.validation_alias or f"COCKPIT_{name.upper()}"
              for name, info in Settings.model_fields.items()}
    fields |= {f"COCKPIT_TM_{name.upper()}" for name in TimeMachineSettings.model_fields}
    assert listed == fields, f"missing: {fields - listed}, unknown: {listed - fields}"
    assert active["COCKPIT_SECRET_KEY"] == "" and active["COCKPIT_PD_KEY"] == ""
    assert active["REDIS_URL"] and active["DATABASE_URL"]  # empty would mean the embedded ones
    secrets = {"COCKPIT_SECRET_KEY": "x" * 32, "COCKPIT_PD_KEY": "y" * 32}
    for name, value in {**active, **secrets}.items():  # as systemd's EnvironmentFile gives them
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.https and settings.redis_url.startswith("redis://")
    assert settings.signin_limit == "5 per 15 minutes"
    assert settings.governance_file is None and settings.photo_dir is None
