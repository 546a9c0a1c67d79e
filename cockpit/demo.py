"""``cockpit demo``: embedded Redis, ingest, a replay of real calls and the web app, together.

Each part runs as its own process, as in production (``cockpit ingest``, ``cockpit replay``,
``cockpit serve``); this supervisor starts them with one shared ``REDIS_URL`` and
``DATABASE_URL``, prints where to look, and stops them all on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from cockpit.settings import Settings
from cockpit.store.db import engine_for
from cockpit.store.migrate import upgrade
from cockpit.streams import EmbeddedRedis, client_for_url

log = logging.getLogger(__name__)

#: The shared data folder beside the checkout (../shared/data), where the recorded feeds are.
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DEFAULT_FEED = SHARED_DATA / "incidents" / "sf_fire_calls_2020-04-07_to_04-20.csv"
#: A part that fails this often within a minute stops the demo instead of being restarted.
MAX_RESTARTS_PER_MIN = 5


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "cockpit.cli", *args]


def _wait_http(url: str, timeout: float) -> bool:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (local URL)
                return response.status == 200
        except OSError:
            time.sleep(0.3)
    return False


def redis_cli_line(redis_url: str, cli: str, stream: str) -> str:
    """A ready-to-paste ``redis-cli XADD`` of one valid incident for the Redis at ``redis_url``."""
    if redis_url.startswith("unix://"):
        target = f"-s {redis_url.removeprefix('unix://')}"
    else:
        target = f"-u {redis_url}"
    # $(date ...) makes every paste a new incident at the current time (POSIX shells)
    return (f"{cli} {target} XADD {stream} '*' event_id \"manual-$(date +%s%N)\" "
            f"type incident.reported occurred_at \"$(date +%s)000\" source redis-cli "
            f"incident_id \"manual-$(date +%s%N)\" category 火情 priority 紧急 "
            f"title '农贸市场东门冒烟' address '乔司农贸市场' lon 120.2868 lat 30.3493 crs gcj02")


def run_demo(settings: Settings, speed: float = 60.0, feed: Path | None = None,
             mapping: str = "sf_fire_calls") -> int:
    """Run the whole cockpit until interrupted; returns the exit code.

    Raises
    ------
    FileNotFoundError
        If the feed file does not exist.
    """
    feed = feed or DEFAULT_FEED
    if not feed.exists():
        raise FileNotFoundError(f"recorded feed not found: {feed}")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    embedded = None
    if settings.redis_url:
        redis_url, cli = settings.redis_url, "redis-cli"
    else:
        embedded = EmbeddedRedis(settings.data_dir)
        redis_url, cli = embedded.url, str(embedded.cli_path)
    engine = engine_for(settings)
    upgrade(engine)
    engine.dispose()
    env = {**os.environ, "REDIS_URL": redis_url,
           "DATABASE_URL": settings.effective_database_url,
           "COCKPIT_STREAM_PREFIX": settings.stream_prefix,
           "COCKPIT_TIMEZONE": settings.timezone, "COCKPIT_HOST": settings.host,
           "COCKPIT_PORT": str(settings.port), "COCKPIT_DATA_DIR": str(settings.data_dir)}
    commands = {
        "ingest": _cli("ingest"),
        "web": _cli("serve"),
        "replay": _cli("replay", str(feed), "--mapping", mapping, "--speed", str(speed),
                       "--loop", "--resume", "--no-progress"),
    }
    children: dict[str, subprocess.Popen] = {}
    restarts: dict[str, list[float]] = {name: [] for name in commands}
    code = 0
    try:
        _check_port_free(settings.host, settings.port)
        for name, argv in commands.items():
            children[name] = subprocess.Popen(argv, env=env)
        url = f"http://{settings.host}:{settings.port}/"
        if not _wait_http(url, 60):
            log.error("the web app did not answer on %s within 60 s", url)
        client_for_url(redis_url).ping()
        sys.stdout.write(
            f"\n  乔网智治·云上中心驾驶舱 is up: {url}\n"
            f"  Redis: {redis_url}   database: {settings.effective_database_url}\n"
            f"  Replaying {feed.name} at ×{speed:g}. Add an incident by hand:\n\n"
            f"  {redis_cli_line(redis_url, cli, settings.stream('incidents'))}\n\n"
            f"  Ctrl-C stops everything.\n\n")
        sys.stdout.flush()
        while not stop.is_set():
            for name, child in list(children.items()):
                if child.poll() is None or stop.is_set():
                    continue
                recent = [t for t in restarts[name] if time.monotonic() - t < 60]
                if len(recent) >= MAX_RESTARTS_PER_MIN:
                    log.error("%s keeps failing (exit code %s, %d restarts in a minute); "
                              "stopping the demo", name, child.returncode, len(recent))
                    stop.set()
                    code = 1
                    break
                delay = 2 ** len(recent)
                log.error("%s exited with code %s; restarting it in %d s", name,
                          child.returncode, delay)
                if stop.wait(delay):
                    break
                restarts[name] = [*recent, time.monotonic()]
                children[name] = subprocess.Popen(commands[name], env=env)
            stop.wait(0.5)
    finally:
        _stop_all(children)
        if embedded is not None:
            embedded.close()
    return code


def _check_port_free(host: str, port: int) -> None:
    """Raise OSError with a plain message when the web app's port is taken."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            raise OSError(f"port {port} on {host} is in use; run `cockpit demo --port N` "
                          "with a free port") from None


def _stop_all(children: dict[str, subprocess.Popen]) -> None:
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    for name, child in children.items():
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop within 10 s; killing it", name)
            child.kill()
            child.wait()
