"""Sources that fail for real: a private redis-server a test may kill, a database gone away.

    with private_redis() as server:            # redis-server on a free port of its own
        ...; server.kill(); ...; server.start()   # same port, empty (no persistence)
    down = database_down(services)             # the same services, their store unreachable
    proxy = TcpProxy(5432).start(); proxy.cut(); proxy.mend()   # PostgreSQL behind a proxy

Never the shared Redis on 6379: only a server started here is stopped.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
import redis
from sqlalchemy.orm import sessionmaker

from cockpit.services import Services
from cockpit.store.db import make_engine
from tests.fault_support import wait_for_ping

#: Markers of a Python traceback in an answer's body: none may reach a browser.
TRACE_MARKERS = ("Traceback", 'File "')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateRedis:
    """A redis-server of this test's own on a free port (no persistence)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> PrivateRedis:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_ping(redis.Redis.from_url(self.url, socket_connect_timeout=0.5), 10)
        return self

    def kill(self) -> None:
        """SIGKILL the server (its data is gone: no persistence) and wait for it."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


@contextmanager
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis().start()
    try:
        yield server
    finally:
        server.kill()


def database_down(services: Services) -> None:
    """Point ``services``' sessions at a database that cannot be opened (a gone path)."""
    gone = Path("/nonexistent-cockpit-test") / "gone" / "cockpit.sqlite3"
    services.sessions = sessionmaker(make_engine(f"sqlite:///{gone}"), expire_on_commit=False)


class TcpProxy:
    """A TCP proxy on a free port to ``127.0.0.1:target``; :meth:`cut` drops every connection
    and refuses new ones until :meth:`mend` (a database that went away and came back)."""

    def __init__(self, target: int) -> None:
        self.target, self.port = target, free_port()
        self._up = threading.Event()
        self._up.set()
        self._socks: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._stop = False

    def start(self) -> TcpProxy:
        self._open()
        threading.Thread(target=self._accept, daemon=True, name="tcp-proxy").start()
        return self

    def _open(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.2)
        self._listener = listener

    def _accept(self) -> None:
        while not self._stop:
            listener = self._listener
            if listener is None or not self._up.is_set():
                time.sleep(0.05)
                continue
            try:
                client, _ = listener.accept()
            except OSError:
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=3)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._socks |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        with suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        for sock in (src, dst):
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """Drop every open connection and refuse new ones (the listener closes)."""
        self._up.clear()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            socks, self._socks = self._socks, set()
        for sock in socks:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def mend(self) -> None:
        """Listen again on the same port."""
        self._open()
        self._up.set()

    def stop(self) -> None:
        self._stop = True
        self.cut()


def no_trace(body: str) -> bool:
    """True when ``body`` shows no Python traceback nor source location."""
    return not any(marker in body for marker in TRACE_MARKERS)
