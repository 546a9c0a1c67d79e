"""The real ``cockpit`` programs as processes: schema, db upgrade, ingest killed with SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, select, text
from typer.testing import CliRunner

from cockpit.cli import app
from cockpit.events import EVENT_TYPES
from cockpit.store.db import make_engine
from cockpit.store.migrate import alembic_config
from cockpit.store.models import Base, IncidentEventRow
from tests.conftest import build_services, make_settings
from tests.factories import lifecycle


def _env(settings) -> dict[str, str]:
    return {**os.environ, "REDIS_URL": settings.redis_url, "DATABASE_URL": settings.database_url,
            "COCKPIT_STREAM_PREFIX": settings.stream_prefix,
            "COCKPIT_DATA_DIR": str(settings.data_dir)}


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
