"""The web app as its own process (``cockpit serve``'s command line), to stop and start it."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from cockpit.cli import serve_argv
from cockpit.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_env(settings: Settings, port: int, **extra: str) -> dict[str, str]:
    """The environment that gives a served app ``settings`` (the test's Redis prefix, store
    and secrets) on ``port``; ``extra`` adds ``COCKPIT_*`` variables."""
    env = {**os.environ, "REDIS_URL": settings.redis_url or "",
           "DATABASE_URL": settings.effective_database_url,
           "COCKPIT_STREAM_PREFIX": settings.stream_prefix,
           "COCKPIT_DATA_DIR": str(settings.data_dir), "COCKPIT_PORT": str(port),
           "COCKPIT_SECRET_KEY": settings.secret("secret_key").decode(),
           "COCKPIT_PD_KEY": settings.secret("pd_key").decode(),
           "COCKPIT_PUSH_MAX_CLIENTS": str(settings.push_max_clients),
           "COCKPIT_PUSH_MAX_CHANNELS": str(settings.push_max_channels),
           "COCKPIT_STALE_S": str(settings.stale_s)}
    env.update(extra)
    return env


class ServerProcess:
    """``python -m waitress --call app:make_server`` on ``port``, started and stopped at will."""

    def __init__(self, settings: Settings, port: int | None = None, threads: int | None = None,
                 **extra: str) -> None:
        self.port = port or free_port()
        self.env = server_env(settings, self.port, **extra)
        self.argv = serve_argv(settings, self.port, threads)
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """Base URL, without a trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> ServerProcess:
        """Start serving and wait until the status route answers."""
        self.process = subprocess.Popen(self.argv, cwd=ROOT, env=self.env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited: {self.process.stderr.read().decode()}")
            try:
                urllib.request.urlopen(self.url + "/healthz-probe", timeout=1)
            except urllib.error.HTTPError:
                return self  # it answers (404 / 401): up
            except OSError:
                time.sleep(0.2)
                continue
            return self
        raise TimeoutError("the server did not start")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and wait for it."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None
