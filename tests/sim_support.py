"""The simulators' commands as child processes: their environment, and a run stopped by a signal."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from cockpit.settings import Settings
from cockpit.streams import client_for_url
from tests.conftest import TEST_SECRETS


def cli_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment that gives a ``cockpit`` command ``settings`` (the test's Redis prefix,
    store and data folder); ``extra`` adds variables."""
    return {**os.environ, "REDIS_URL": settings.redis_url, "DATABASE_URL": settings.database_url,
            "COCKPIT_STREAM_PREFIX": settings.stream_prefix,
            "COCKPIT_DATA_DIR": str(settings.data_dir),
            "COCKPIT_PD_KEY": TEST_SECRETS["pd_key"], **extra}


def run_until_signalled(settings: Settings, feed: str, args: list[str],
                        sig: int) -> tuple[int, str, str]:
    """Start ``cockpit <args>``, wait for its heartbeat ``feed:<feed>``, send ``sig``.

    Returns the exit code, stdout and stderr; asserts the heartbeat is gone afterwards, and
    deletes the test's keys however the run ends.
    """
    r = client_for_url(settings.redis_url)
    child = subprocess.Popen([sys.executable, "-m", "cockpit.cli", *args], env=cli_env(settings),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not r.exists(settings.key(f"feed:{feed}")):
            assert time.monotonic() < deadline and child.poll() is None, child.stderr.read()
            time.sleep(0.1)
        child.send_signal(sig)
        out, err = child.communicate(timeout=15)
        assert r.exists(settings.key(f"feed:{feed}")) == 0
        return child.returncode, out, err
    finally:
        if child.poll() is None:
            child.kill()
        keys = list(r.scan_iter(match=f"{settings.stream_prefix}*"))
        if keys:
            r.delete(*keys)
        r.close()
