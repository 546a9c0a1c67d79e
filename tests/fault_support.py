"""Parts the fault tests control: a private Redis and PostgreSQL, an upstream producer, the
``cockpit ingest`` process, and the summary recounted from the events sent.

The shared Redis and PostgreSQL serve every other test, so the servers these tests kill,
restart and stop are their own: ``redis-server`` without persistence on a unix socket, and a
PostgreSQL cluster made with ``initdb`` in a temporary folder (run as ``postgres`` when the
tests run as root, which ``initdb`` refuses).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis
from sqlalchemy import create_engine, text

from cockpit.replay import load_mapping, plan_events, read_incidents
from cockpit.settings import SECRETS
from tests.conftest import SHARED_DATA, TEST_SECRETS, unavailable

#: Replay speed-ups of arrivals and of stages within an incident (docs/replay.md).
SPEED, STAGE_SPEED = 1000.0, 100.0
SF = SHARED_DATA / "incidents" / "sf_fire_calls_2020-04-07_to_04-20.csv"


def _tmpdir(prefix: str) -> Path:
    # unix socket paths must stay under 108 bytes: pytest's tmp_path can be longer
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))


def wait_for_ping(client: redis.Redis, seconds: float) -> None:
    """Wait until a just-started server answers ``client``'s PING, then close the client."""
    deadline = time.monotonic() + seconds
    try:
        while True:
            try:
                client.ping()
                return
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
    finally:
        client.close()


class PrivateRedis:
    """A ``redis-server`` of the test's own: no RDB, no AOF, so a restart comes back empty."""

    def __init__(self):
        if shutil.which("redis-server") is None:
            unavailable("redis-server (to start a private Redis)")
        self.dir = _tmpdir("ckr-")
        self.socket = self.dir / "redis.sock"
        self.url = f"unix://{self.socket}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        """Start the server and wait until it answers."""
        self.proc = subprocess.Popen(
            ["redis-server", "--port", "0", "--unixsocket", str(self.socket),
             "--unixsocketperm", "700", "--save", "", "--appendonly", "no",
             "--dir", str(self.dir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_ping(redis.Redis(unix_socket_path=str(self.socket)), 20)

    def kill(self) -> None:
        """SIGKILL the server: its data is gone (no persistence)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def close(self) -> None:
        """Kill the server and remove its folder."""
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def _pg_bindir() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit()
                   else 0)
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own, on a unix socket in a temporary folder.

    ``stop()`` is a real server stop (``pg_ctl stop -m fast``: open sessions are ended, new
    connections refused); ``start()`` brings the same cluster back.
    """

    def __init__(self):
        bindir = _pg_bindir()
        if bindir is None:
            unavailable("PostgreSQL server binaries (initdb, pg_ctl)")
        self.bin = bindir
        self.dir = _tmpdir("ckpg-")
        self.data = self.dir / "data"
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # initdb refuses root: run the cluster as postgres
            self.as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.dir, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--no-sync", "--no-instructions")
        self.url = f"postgresql+psycopg://postgres@/cockpit?host={self.dir}"
        self.start()
        admin = create_engine(f"postgresql+psycopg://postgres@/postgres?host={self.dir}",
                              isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE cockpit"))
        admin.dispose()

    def _run(self, program: str, *args: str) -> None:
        done = subprocess.run([*self.as_user, str(self.bin / program), *args],
                              capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{program} failed: {done.stderr[-2000:]}")

    def start(self) -> None:
        """Start the cluster (fsync off: a test's data need not survive a power cut)."""
        self._run("pg_ctl", "-D", str(self.data), "-w", "-t", "60", "-l",
                  str(self.dir / "server.log"), "-o",
                  f"-k {self.dir} -c listen_addresses='' -c fsync=off "
                  "-c full_page_writes=off -c synchronous_commit=off", "start")

    def stop(self) -> None:
        """Stop the server: sessions are cut, connections refused until :meth:`start`."""
        self._run("pg_ctl", "-D", str(self.data), "-w", "-m", "fast", "stop")

    def close(self) -> None:
        """Stop the server (if running) and remove the cluster."""
        subprocess.run([*self.as_user, str(self.bin / "pg_ctl"), "-D", str(self.data), "-w",
                        "-m", "immediate", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(self.dir, ignore_errors=True)


class SQLiteLock:
    """The SQLite counterpart of stopping the server: another connection holds the write
    lock (``BEGIN EXCLUSIVE``), so every write waits its busy timeout and fails "locked"."""

    def __init__(self, path: Path):
        self.path = path
        self.conn: sqlite3.Connection | None = None

    def stop(self) -> None:
        """Take the lock (waiting for a running write transaction to end)."""
        self.conn = sqlite3.connect(self.path, isolation_level=None, timeout=60)
        self.conn.execute("BEGIN EXCLUSIVE")

    def start(self) -> None:
        """Release the lock."""
        if self.conn is not None:
            self.conn.execute("ROLLBACK")
            self.conn.close()
            self.conn = None

    def close(self) -> None:
        """Release the lock if held."""
        self.start()


def replay_events(incidents: int, cut: float = 0.8) -> list[dict[str, str]]:
    """The events a replay of the first ``incidents`` SF calls has sent ``cut`` of the way in.

    The arrivals are sped up 1000 times, the stages 100 times (the first 500 incidents span
    about four minutes, an hour-long incident 36 s); the events after ``cut`` of the run are
    not sent, so the last incidents are still open at various stages. The part sent ends a
    minute before now (the validator refuses times in the future).
    """
    if not SF.is_file():
        unavailable(f"the recorded SF file {SF}")
    mapping = load_mapping("sf_fire_calls")
    plans, _ = read_incidents(SF, mapping)
    first = plan_events(plans[:incidents], mapping, datetime.now(UTC), SPEED,
                        stage_speed=STAGE_SPEED, run_id="faults")
    span = first[-1].offset * cut
    start = datetime.now(UTC) - timedelta(seconds=span + 60)
    return [p.fields for p in plan_events(plans[:incidents], mapping, start, SPEED,
                                          stage_speed=STAGE_SPEED, run_id="faults")
            if p.offset <= span]


class Producer(threading.Thread):
    """An upstream system: XADDs its feed in chunks, and re-sends the whole of it when Redis
    comes back empty (its marker key is gone), as a producer without a confirmation would.

    ``sent`` counts XADDs (re-sends included); ``resends`` the times the feed was re-sent.
    It sends no further than :meth:`allow` lets it, so the test spreads the feed over the
    faults it injects, whatever the machine's speed.
    """

    MARKER = "producer:alive"

    def __init__(self, url: str, stream: str, events: list[dict[str, str]], chunk: int,
                 pause_s: float):
        super().__init__(daemon=True)
        self.url, self.stream, self.events = url, stream, events
        self.chunk, self.pause_s = chunk, pause_s
        self.sent = self.resends = 0
        self.allowed = 0
        self._more = threading.Condition()
        self.done = threading.Event()
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def allow(self, n: int) -> None:
        """Let the producer send the feed's first ``n`` events (at least)."""
        with self._more:
            self.allowed = max(self.allowed, min(n, len(self.events)))
            self._more.notify_all()

    def _send(self, r: redis.Redis, upto: int, start: int) -> None:
        pipe = r.pipeline(transaction=False)
        pipe.exists(self.MARKER)
        for fields in self.events[start:upto]:
            pipe.xadd(self.stream, fields)
        alive = pipe.execute()[0]
        self.sent += upto - start
        if not alive:  # Redis lost its data: everything sent before may be lost too
            if start:
                self.resends += 1
                self._send_plain(r, 0, start)
            r.set(self.MARKER, "1")

    def _send_plain(self, r: redis.Redis, start: int, upto: int) -> None:
        for i in range(start, upto, 500):
            pipe = r.pipeline(transaction=False)
            for fields in self.events[i:min(upto, i + 500)]:
                pipe.xadd(self.stream, fields)
            pipe.execute()
            self.sent += min(upto, i + 500) - i

    def run(self) -> None:
        r = redis.Redis.from_url(self.url, socket_timeout=5, socket_connect_timeout=2)
        position = 0
        try:
            while position < len(self.events) and not self.stop.is_set():
                with self._more:
                    if position >= self.allowed:
                        self._more.wait(0.2)
                        continue
                upto = min(self.allowed, position + self.chunk)
                try:
                    self._send(r, upto, position)
                except redis.ConnectionError:
                    # an XADD may or may not have landed: send the chunk again (dedupe on id)
                    self.stop.wait(0.2)
                    continue
                position = upto
                self.stop.wait(self.pause_s)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
        finally:
            r.close()
            self.done.set()


def ingest_env(redis_url: str, database_url: str, prefix: str, data_dir: Path) -> dict[str, str]:
    """The environment of a ``cockpit ingest`` child on the given servers."""
    return {**os.environ, "REDIS_URL": redis_url, "DATABASE_URL": database_url,
            "COCKPIT_STREAM_PREFIX": prefix, "COCKPIT_DATA_DIR": str(data_dir),
            **{var: TEST_SECRETS[name] for name, var in SECRETS.items()}}


def start_ingest(env: dict[str, str], *args: str, log: Path | None = None) -> subprocess.Popen:
    """Start ``cockpit ingest`` (its log appended to ``log``)."""
    err = open(log, "a") if log else subprocess.DEVNULL  # noqa: SIM115 - the child owns it
    try:
        return subprocess.Popen([sys.executable, "-m", "cockpit.cli", "ingest", *args],
                                env=env, stdout=subprocess.DEVNULL, stderr=err)
    finally:
        if log:
            err.close()


def stop_ingest(child: subprocess.Popen, sig: int = signal.SIGTERM) -> int:
    """Signal the child and wait for it; returns its exit code."""
    if child.poll() is None:
        child.send_signal(sig)
    return child.wait(timeout=60)


STOPPED = re.compile(r"ingest stopped: (\d+) stored, (\d+) duplicates, (\d+) dead-lettered")


# -- the summary, recounted from the events sent --------------------------------------------
#: The closed loop's stages in order (cancelled ends it from any open stage).
LOOP = ("reported", "assessed", "dispatched", "arrived", "resolved", "closed")


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def recount_summary(events: list[dict[str, str]], day_start: datetime) -> dict:
    """The summary's figures computed from the events sent, without the cockpit's code.

    Each SF incident's events move forward through the loop (or end cancelled); this is
    checked, so a feed that broke the assumption fails here instead of passing unnoticed.
    Returns ``today_total``, ``today_by_category`` (category → count, non-zero only),
    ``open``, ``closed_today``, ``cancelled_today``, ``median_dispatch_s``, ``funnel`` (stage
    → count) and ``last_event_at`` (datetime).
    """
    day_end = day_start + timedelta(days=1)
    by_incident: dict[str, list[dict[str, str]]] = defaultdict(list)
    for fields in events:
        by_incident[fields["incident_id"]].append(fields)
    out = {"today_total": 0, "today_by_category": defaultdict(int), "open": 0,
           "closed_today": 0, "cancelled_today": 0, "funnel": dict.fromkeys(LOOP, 0)}
    waits = []
    for items in by_incident.values():
        items.sort(key=lambda f: _at(f["occurred_at"]))
        stages = [f["type"].split(".", 1)[1] for f in items]
        assert stages[0] == "reported", stages
        ranks = [LOOP.index(s) for s in stages if s != "cancelled"]
        assert ranks == sorted(set(ranks)), f"not a forward life cycle: {stages}"
        assert "cancelled" not in stages[:-1], stages
        pairs = list(zip(items, stages, strict=True))
        first = {s: _at(f["occurred_at"]) for f, s in reversed(pairs)}
        last_stage, last_at = stages[-1], _at(items[-1]["occurred_at"])
        reported = first["reported"]
        if last_stage not in ("closed", "cancelled"):
            out["open"] += 1
        if last_stage == "closed" and day_start <= last_at < day_end:
            out["closed_today"] += 1
        if not day_start <= reported < day_end:
            continue
        out["today_total"] += 1
        out["today_by_category"][items[0]["category"]] += 1
        out["cancelled_today"] += last_stage == "cancelled"
        for stage in LOOP:
            out["funnel"][stage] += stage in first
        if "dispatched" in first and first["dispatched"] >= reported:
            waits.append((first["dispatched"] - reported).total_seconds())
    out["median_dispatch_s"] = statistics.median(waits) if waits else None
    out["last_event_at"] = max(_at(f["occurred_at"]) for f in events)
    return out
