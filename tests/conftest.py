"""Shared fixtures: a real Redis, real SQLite and PostgreSQL databases, and Services over them.

Redis and PostgreSQL tests skip when the server is unreachable on a developer's machine, but
fail on CI (``CI`` set), where ``.ci/run`` starts both.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from argon2 import PasswordHasher
from sqlalchemy import create_engine, make_url, text

from cockpit import accounts
from cockpit.services import Services
from cockpit.settings import Settings
from cockpit.store.db import make_engine, session_factory
from cockpit.store.migrate import upgrade
from cockpit.streams import client_for_url
from tests.clock_support import clear_of_midnight

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
ON_CI = bool(os.environ.get("CI"))

# Argon2id at argon2-cffi's default cost takes about 0.4 s per account made and signed in, and
# the suite signs in several hundred times. In this test process accounts are hashed with the
# same library and algorithm at its lowest cost (as Django's test settings do); the app and
# every process the tests start keep the defaults (cockpit/accounts.py).
accounts._HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def unavailable(what: str) -> None:
    """Skip on a developer machine, fail on CI: CI must run every tier."""
    if ON_CI:
        pytest.fail(f"{what} is required on CI")
    pytest.skip(f"{what} is not reachable")


@pytest.fixture(scope="session")
def redis_server_url() -> str:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError:
        unavailable(f"Redis at {REDIS_URL}")
    return REDIS_URL


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    try:
        engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        unavailable(f"PostgreSQL at {POSTGRES_URL} ({type(exc).__name__})")
    return POSTGRES_URL


def _fresh_postgres(admin_url: str, template: str | None = None) -> Iterator[str]:
    name = f"cockpit_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        copy = f' TEMPLATE "{template}"' if template else ""
        conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path) -> Iterator[str]:
    """A fresh, empty database of each kind, migrated by the test that needs it."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'cockpit.sqlite3'}"
    else:
        yield from _fresh_postgres(request.getfixturevalue("postgres_admin_url"))


@pytest.fixture(scope="session")
def postgres_template(postgres_admin_url) -> Iterator[str]:
    """A PostgreSQL database migrated once per session, copied for each test that needs one.

    ``CREATE DATABASE ... TEMPLATE`` copies files: much cheaper than running every migration
    per test. Nothing may stay connected to it.
    """
    gen = _fresh_postgres(postgres_admin_url)
    url = next(gen)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield make_url(url).database
    gen.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A migrated SQLite file, copied for each test that needs one."""
    path = tmp_path_factory.mktemp("template") / "cockpit.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def migrated_database_url(request, tmp_path) -> Iterator[str]:
    """A fresh database of each kind already at the newest schema (a copy of a template)."""
    if request.param == "sqlite":
        path = tmp_path / "cockpit.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
    else:
        yield from _fresh_postgres(request.getfixturevalue("postgres_admin_url"),
                                   request.getfixturevalue("postgres_template"))


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'cockpit.sqlite3'}"


def _drop_prefix(client: redis.Redis, prefix: str) -> None:
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)


#: The secrets of test settings (never used outside tests).
TEST_SECRETS = {"secret_key": "test-secret-key-0123456789", "pd_key": "test-pd-key-0123456789"}


def make_settings(tmp_path: Path, redis_url: str, database_url: str, **extra) -> Settings:
    """Settings with a unique stream prefix, so tests share the server without colliding."""
    return Settings(REDIS_URL=redis_url, DATABASE_URL=database_url, data_dir=tmp_path / "var",
                    stream_prefix=f"test:{uuid.uuid4().hex[:10]}:", **{**TEST_SECRETS, **extra})


def build_services(settings: Settings) -> Services:
    engine = make_engine(settings.effective_database_url)
    upgrade(engine)
    return Services(settings, client_for_url(settings.redis_url), engine, session_factory(engine))


def _services(tmp_path: Path, redis_url: str, database_url: str,
              **extra) -> Iterator[Services]:
    settings = make_settings(tmp_path, redis_url, database_url, **extra)
    svc = build_services(settings)
    try:
        yield svc
    finally:
        _drop_prefix(svc.redis, settings.stream_prefix)
        svc.close()


@pytest.fixture
def services(tmp_path, redis_server_url, migrated_database_url) -> Iterator[Services]:
    """Services on the real Redis (unique prefix) and a migrated database of each kind."""
    yield from _services(tmp_path, redis_server_url, migrated_database_url)


@pytest.fixture
def sqlite_services(tmp_path, redis_server_url, sqlite_url) -> Iterator[Services]:
    """Services on the real Redis and a migrated SQLite database only."""
    yield from _services(tmp_path, redis_server_url, sqlite_url)


@pytest.fixture(autouse=True)
def _clear_of_local_midnight():
    """No test starts in the last ``GUARD`` of a local day or its first ``FLOOR``.

    Pages count "today" from local midnight (Asia/Shanghai); a test that stores events and then
    reads today's figures must not see the day turn in between. A suite that runs across
    midnight waits here once, at most 2.5 minutes (tests/clock_support.py).
    """
    clear_of_midnight()


@pytest.fixture(autouse=True)
def _stop_push_hubs():
    """Stop the push hubs a test started: their threads would outlive its services and app."""
    yield
    from cockpit.push import stop_all

    stop_all()


#: The user property a test's printed measure travels in (from a worker process too).
SHOWN = "shown"


@pytest.fixture
def shown(record_property):
    """``shown(text)``: print ``text`` at the end of the run, whatever the outcome.

    For tests whose measure is their product (the wall's heap soak): the text travels in the
    test's report, so it is printed by the controlling process when the tests run on workers.
    """
    def show(text: str) -> None:
        record_property(SHOWN, text)
    return show


def pytest_terminal_summary(terminalreporter) -> None:
    """Print what tests measured (:func:`shown`), after the run's summary."""
    texts = [(report.nodeid, value) for reports in terminalreporter.stats.values()
             for report in reports if getattr(report, "when", None) == "call"
             for name, value in getattr(report, "user_properties", ()) if name == SHOWN]
    if texts:
        terminalreporter.section("measured by tests")
        for nodeid, text in texts:
            terminalreporter.write_line(f"{nodeid}:\n{text}")
