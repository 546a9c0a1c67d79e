"""Helpers of the ``import`` command tests: the environment of a run, the runner, the summary."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from pathlib import Path

import redis
from typer.testing import CliRunner

from cockpit.cli import app
from cockpit.store.db import make_engine, session_factory
from tests.conftest import TEST_SECRETS


def run_env(tmp_path: Path, database_url: str, redis_url: str) -> Iterator[dict]:
    """The environment of one CLI run (a fresh stream prefix); drops the prefix's keys after."""
    prefix = f"test:{uuid.uuid4().hex[:10]}:"
    yield {"DATABASE_URL": database_url, "REDIS_URL": redis_url,
           "COCKPIT_PD_KEY": TEST_SECRETS["pd_key"], "COCKPIT_STREAM_PREFIX": prefix,
           "COCKPIT_DATA_DIR": str(tmp_path / "var"), "COCKPIT_TIMEZONE": "Asia/Shanghai",
           "COCKPIT_SECRET_KEY": None, "COLUMNS": "200"}
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


def store_sessions(database_url: str) -> Iterator:
    """A session factory on the run's database, to check what the command stored."""
    engine = make_engine(database_url)
    yield session_factory(engine)
    engine.dispose()


class Command:
    """``cockpit <words> ARGS`` run in-process with an environment."""

    def __init__(self, *words: str):
        self.words = words

    def __call__(self, env: dict, *args: str):
        return CliRunner().invoke(app, [*self.words, *args], env=env)

    def ok(self, env: dict, *args: str) -> str:
        """Run it, expect exit 0; returns stdout."""
        result = self(env, *args)
        assert result.exit_code == 0, result.output
        return result.stdout

    def refused(self, env: dict, *args: str) -> str:
        """A refused run: exit 2, one line on stderr, no traceback; returns that line."""
        result = self(env, *args)
        assert result.exit_code == 2, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit), \
            result.exception
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("cockpit: "), result.stderr
        assert "Traceback" not in result.output
        return lines[0]


def count(label: str, out: str) -> int:
    """The number of a summary line, e.g. ``count("accepted", out)``."""
    for line in out.splitlines():
        if line.strip().startswith(label):
            return int(line[len("  ") + 22:].split()[0])
    raise AssertionError(f"no summary line {label!r} in {out}")


def write_csv(path: Path, header: list[str], rows: list[list], encoding: str = "utf-8") -> Path:
    """A CSV file of ``header`` and ``rows`` in ``encoding``."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(out.getvalue().encode(encoding))
    return path
