"""Alerts under restarts: ``cockpit ingest`` processes killed (SIGKILL) while they store fires
and evaluate the rules, then started again, raise each alert exactly once and lose none; the
notifications stream carries each alert's notice (by id) once or, at worst, again with the
same id (a kill between the XADD and its mark, which the gateway drops by id)."""

from __future__ import annotations

import random
import signal
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from cockpit.store.alert_models import Alert
from cockpit.store.models import Incident, Notification
from tests.alert_support import FIRE_BURST, rules_text, write_rules
from tests.conftest import _services
from tests.factories import incident_fields
from tests.fault_support import ingest_env, start_ingest, stop_ingest

VILLAGES = ["330110006201", "330110006204", "330110006207", "330110006213", "330110006222",
            "330110006223", "330110006224", "330110006225"]


@pytest.fixture
def world(tmp_path, redis_server_url, migrated_database_url):
    path = write_rules(tmp_path, rules_text("0s", "1s", FIRE_BURST))
    for services in _services(tmp_path, redis_server_url, migrated_database_url,
                              alerts_file=path):
        env = ingest_env(redis_server_url, migrated_database_url,
                         services.settings.stream_prefix, tmp_path / "var")
        env["COCKPIT_ALERTS_FILE"] = str(path)
        yield services, env


def _count(services, query) -> int:
    with services.read() as session:
        return session.scalar(query)


def _wait(done, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@pytest.mark.timeout(240)
def test_killed_ingests_raise_each_alert_once_and_lose_none(world, tmp_path):
    services, env = world
    rng = random.Random(7)
    now = datetime.now(UTC).replace(microsecond=0)
    fires = [incident_fields(f"K{v[-3:]}-{i}-{uuid.uuid4().hex[:4]}", category="fire",
                             village=v, at=now - timedelta(minutes=20 - i))
             for v in VILLAGES for i in range(5)]
    rng.shuffle(fires)
    log = tmp_path / "ingest.log"
    child = start_ingest(env, log=log)
    stream = services.settings.stream("incidents")
    kills = 0
    for start in range(0, len(fires), 8):
        for fields in fires[start:start + 8]:
            services.redis.xadd(stream, fields)
        time.sleep(rng.uniform(0.05, 0.6))
        if start // 8 % 2 == 1:  # now and then the process dies, wherever it is
            stop_ingest(child, signal.SIGKILL)
            kills += 1
            child = start_ingest(env, log=log)
    try:
        _wait(lambda: _count(services, select(func.count()).select_from(Incident))
              == len(fires))
        _wait(lambda: _count(services, select(func.count()).select_from(Alert))
              == len(VILLAGES) and _count(services, select(func.count()).select_from(
                  Notification).where(Notification.published_at.is_(None))) == 0)
        # an evaluation or two more changes nothing
        time.sleep(2.5)
    finally:
        assert stop_ingest(child) == 0
    assert kills >= 2
    with services.read() as session:
        alerts = session.execute(select(Alert.scope, Alert.seq, Alert.cleared_at)).all()
        notices = session.scalars(select(Notification.notification_id)
                                  .where(Notification.kind == "alert")).all()
    assert sorted(a.scope for a in alerts) == sorted(VILLAGES)  # one per village, none lost
    assert {a.seq for a in alerts} == {1} and all(a.cleared_at is None for a in alerts)
    entries = [f for _, f in services.redis.xrange(services.settings.key("notifications"))
               if f["kind"] == "alert"]
    assert {e["notification_id"] for e in entries} == set(notices)
    assert len(notices) == len(VILLAGES)
