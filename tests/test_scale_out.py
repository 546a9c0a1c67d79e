"""Two ``cockpit ingest`` processes in one consumer group over a backlog: the work is split,
each event is stored once, and the entries of one SIGKILLed mid-way are claimed by the other.
"""

from __future__ import annotations

import re
import signal
import time

import pytest
import redis
from sqlalchemy import select

from cockpit.store.models import IncidentEventRow
from tests.conftest import _drop_prefix, _fresh_postgres, build_services, make_settings
from tests.fault_support import STOPPED, ingest_env, replay_events, start_ingest, stop_ingest

pytestmark = pytest.mark.postgres

INCIDENTS = 600  # about 3,500 events of the SF feed
CLAIMED = re.compile(r"claimed (\d+) pending entries of other consumers")


@pytest.fixture
def backlog(tmp_path, redis_server_url, postgres_admin_url, postgres_template):
    """Services on a migrated PostgreSQL database, and the replay written as a backlog."""
    gen = _fresh_postgres(postgres_admin_url, postgres_template)
    settings = make_settings(tmp_path, redis_server_url, next(gen))
    services = build_services(settings)
    events = replay_events(INCIDENTS, cut=1.0)
    pipe = services.redis.pipeline(transaction=False)
    for fields in events:
        pipe.xadd(settings.stream("incidents"), fields)
    pipe.execute()
    try:
        yield services, events
    finally:
        _drop_prefix(services.redis, settings.stream_prefix)
        services.close()
        gen.close()


def _store(services) -> tuple[int, set[str]]:
    with services.read() as session:
        ids = session.execute(select(IncidentEventRow.event_id)).scalars().all()
    return len(ids), set(ids)


def _consumers(services) -> dict[str, dict]:
    settings = services.settings
    try:
        found = services.redis.xinfo_consumers(settings.stream("incidents"),
                                               settings.consumer_group)
    except redis.ResponseError:  # NOGROUP: no ingest has started yet
        return {}
    return {c["name"]: c for c in found}


def _stats(log) -> tuple[int, int, int]:
    found = STOPPED.findall(log.read_text())
    assert found, log.read_text()[-3000:]
    return tuple(int(n) for n in found[-1])


def _env(services):
    s = services.settings
    return ingest_env(s.redis_url, s.database_url, s.stream_prefix, s.data_dir)


def _assert_each_event_once(services, events) -> None:
    rows, ids = _store(services)
    assert rows == len(ids) == len(events)
    assert ids == {f["event_id"] for f in events}
    pending = services.redis.xpending(services.settings.stream("incidents"),
                                      services.settings.consumer_group)
    assert pending["pending"] == 0


def test_two_ingest_processes_split_a_backlog_and_store_each_event_once(tmp_path, backlog,
                                                                         shown):
    services, events = backlog
    env = _env(services)
    logs = {name: tmp_path / f"{name}.log" for name in ("east", "west")}
    began = time.monotonic()
    children = {name: start_ingest(env, "--consumer", name, "--batch", "50", "--idle-exit", "3",
                                   log=log) for name, log in logs.items()}
    try:
        for child in children.values():
            assert child.wait(timeout=240) == 0
    finally:
        for child in children.values():
            stop_ingest(child, signal.SIGKILL)
    took = time.monotonic() - began
    stored = {name: _stats(log)[0] for name, log in logs.items()}
    assert all(n > 0 for n in stored.values()), stored
    assert sum(stored.values()) == len(events), stored
    assert set(_consumers(services)) == set(logs)
    _assert_each_event_once(services, events)
    shown(f"{len(events)} events split {stored}, {took:.0f} s including start-up and 3 s idle")


def test_a_killed_ingests_pending_entries_are_claimed_by_the_other(tmp_path, backlog, shown):
    services, events = backlog
    env = _env(services)
    logs = {name: tmp_path / f"{name}.log" for name in ("doomed", "survivor")}
    args = ("--batch", "100", "--claim-idle-ms", "2000")
    doomed = start_ingest(env, "--consumer", "doomed", *args, log=logs["doomed"])
    survivor = start_ingest(env, "--consumer", "survivor", *args, "--idle-exit", "5",
                            log=logs["survivor"])
    try:
        deadline = time.monotonic() + 120
        # mid-way: a quarter of the backlog stored, and the doomed one holding a batch
        while (_store(services)[0] < len(events) // 4
               or _consumers(services).get("doomed", {}).get("pending", 0) == 0):
            assert time.monotonic() < deadline and doomed.poll() is None
            time.sleep(0.01)
        doomed.send_signal(signal.SIGKILL)
        doomed.wait()
        left = _consumers(services)["doomed"]["pending"]
        assert left > 0, "the kill must leave entries pending for the survivor to claim"
        assert survivor.wait(timeout=240) == 0
    finally:
        for child in (doomed, survivor):
            stop_ingest(child, signal.SIGKILL)
    claimed = sum(int(n) for n in CLAIMED.findall(logs["survivor"].read_text()))
    assert claimed >= left
    assert _consumers(services)["doomed"]["pending"] == 0
    _assert_each_event_once(services, events)
    shown(f"killed with {left} entries pending; the survivor claimed {claimed}, stored "
          f"{_stats(logs['survivor'])[0]} of {len(events)}")
