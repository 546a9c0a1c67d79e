"""The demo's process supervision: its parts as child processes, restarted, stopped together.

:class:`Supervisor` starts each part (``cockpit ingest``, ``serve``, ``replay`` …) as a child
that gets SIGTERM when the supervisor dies, restarts one that fails with backoff, gives up on
one that keeps failing or was started wrongly, and stops them all. :func:`data_dir_lock` keeps
a second demo from attaching to the first one's data; :func:`check_port_free` says why the web
port cannot be used before anything starts. Used by :mod:`cockpit.demo`.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import logging
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

log = logging.getLogger(__name__)

#: A part that fails this often within a minute stops the demo instead of being restarted.
MAX_RESTARTS_PER_MIN = 5
#: Exit code of a part that was started wrongly (bad option or file): restarting cannot help.
USAGE_ERROR = 2


class DemoError(RuntimeError):
    """The demo cannot start or go on; the message says why and what to do."""


def _die_with_parent() -> None:
    """In a child: receive SIGTERM when the supervisor dies, even by SIGKILL (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def wait_http(url: str, timeout: float, stop: threading.Event) -> bool:
    """Return True once ``url`` answers 200; False after ``timeout`` seconds or on ``stop``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stop.is_set():
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (local URL)
                return response.status == 200
        except OSError:
            stop.wait(0.3)
    return False


def check_port_free(host: str, port: int) -> None:
    """Raise :class:`DemoError` when ``host:port`` cannot be listened on, saying why."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise DemoError(f"port {port} on {host} is in use; use --port N with a free "
                                "port") from None
            raise DemoError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; check "
                            "COCKPIT_HOST") from None


@contextlib.contextmanager
def data_dir_lock(data_dir: Path):
    """Hold an exclusive lock on ``data_dir`` for as long as the demo runs."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / "demo.lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            raise DemoError(f"another cockpit demo (pid {holder}) is using {data_dir}; stop it, "
                            "or give this one its own COCKPIT_DATA_DIR") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield


class Supervisor:
    """Starts the parts, restarts a failed one with backoff, stops them all."""

    def __init__(self, commands: dict[str, list[str]], env: dict[str, str],
                 stop: threading.Event):
        self.commands, self.env, self.stop = commands, env, stop
        self.children: dict[str, subprocess.Popen] = {}
        self.restarts: dict[str, list[float]] = {name: [] for name in commands}

    def start(self, name: str) -> None:
        """Start one part."""
        self.children[name] = subprocess.Popen(self.commands[name], env=self.env,
                                               preexec_fn=_die_with_parent)  # noqa: PLW1509

    def watch(self) -> int:
        """Watch the parts until stopped; returns the demo's exit code."""
        while not self.stop.is_set():
            for name, child in list(self.children.items()):
                if child.poll() is None or self.stop.is_set():
                    continue
                if child.returncode == USAGE_ERROR:
                    log.error("%s was started wrongly (exit code 2, see above); stopping", name)
                    return USAGE_ERROR
                recent = [t for t in self.restarts[name] if time.monotonic() - t < 60]
                if len(recent) >= MAX_RESTARTS_PER_MIN:
                    log.error("%s keeps failing (exit code %s, %d restarts in a minute); "
                              "stopping the demo", name, child.returncode, len(recent))
                    return 1
                delay = 2 ** len(recent)
                log.error("%s exited with code %s; restarting it in %d s", name,
                          child.returncode, delay)
                if self.stop.wait(delay):
                    break
                self.restarts[name] = [*recent, time.monotonic()]
                self.start(name)
            self.stop.wait(0.5)
        return 0

    def stop_all(self) -> None:
        """SIGTERM every part, wait up to 10 s, then kill what is left."""
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for name, child in self.children.items():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop within 10 s; killing it", name)
                child.kill()
                child.wait()
