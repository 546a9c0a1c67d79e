"""The time machine with the demo's whole history: first views, checkpoints and memory.

The store holds what ``cockpit demo`` stores at its start — the simulated volunteers' and
waste's default history (``simulate-volunteers`` and ``simulate-waste --once``, stored by the
real ingest) — and the recorded San Francisco calls planned over the last two weeks (as
``bench/timemachine.py --modules``). Then, in the same run and process:

* baseline: a past moment built from the whole history (``Shadow.build`` at 6 hours ago), what
  every first view of a moment cost before checkpoints;
* warm: ``cockpit timemachine warm --days 7`` (the midnights of the last week: the first built,
  the others moved on from the one before and saved), and a second warm (each loaded and
  checked against the stored history);
* first views: ``--moments`` random moments of the last week, each the first look of a web
  process (a new time machine per moment: nothing cached), p50 / p95 / max against the
  baseline;
* memory: the process's RSS before, after ``--moments`` different moments through one time
  machine (its cache bounded by ``COCKPIT_TM_CACHE_MB``, default 512 MiB), and after it is
  cleared (what the process gives back).

    python bench/timemachine_memory.py [--moments 12] [--database-url sqlite:///…]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.incident_store import pct, store  # noqa: E402
from bench.timemachine import add_modules, history, load  # noqa: E402
from cockpit.asof import Shadow  # noqa: E402
from cockpit.timemachine import TimeMachine  # noqa: E402
from cockpit.timemachine_cli import warm  # noqa: E402
from cockpit.timemachine_settings import TimeMachineSettings  # noqa: E402


def rss_mib() -> float:
    """This process's resident memory, MiB (Linux ``/proc/self/status``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run(services, moments: int, folder: Path) -> None:
    services = add_modules(services)
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    load(services, history(1, end))
    config = TimeMachineSettings(checkpoint_dir=folder / "checkpoints")
    start_rss = rss_mib()

    started = time.perf_counter()
    shadow = Shadow.build(services.sessions, services.settings, end - timedelta(hours=6))
    base = time.perf_counter() - started
    print(f"baseline  one moment from the whole history   {base:8.2f} s    1.0x  "
          f"({shadow.applied:,} events folded, {shadow.size / 2**20:.0f} MiB)")
    shadow.close()

    for label in ("warm      7 midnights, none saved yet      ",
                  "warm      again (each loaded and checked)  "):
        started = time.perf_counter()
        warm(services, 7, now=end, echo=lambda _: None, config=config)
        took = time.perf_counter() - started
        print(f"{label}{took:8.2f} s {took / base:6.1f}x")
    machine = TimeMachine(services, config=config)
    print(f"checkpoints on disk                          {machine.checkpoints.bytes() / 2**20:8.1f}"
          f" MiB ({len(machine.checkpoints.moments())} files)")

    rng = random.Random(7)
    asked = [end - timedelta(hours=rng.uniform(1, 7 * 24)) for _ in range(moments)]
    times = []
    for moment in asked:
        first = TimeMachine(services, config=config)  # a process that never saw it
        started = time.perf_counter()
        first.acquire(moment).lock.release()
        times.append(time.perf_counter() - started)
        first.clear()
    print(f"first     view of a moment of the last week  p50 {statistics.median(times):6.2f} s "
          f"({statistics.median(times) / base:5.2f}x)  p95 {pct(times, 95):6.2f} s  "
          f"max {max(times):6.2f} s")

    peak = rss_mib()
    for moment in asked:
        machine.acquire(moment).lock.release()
        peak = max(peak, rss_mib())
    held = sum(s.size for s in machine.shadows) / 2**20
    print(f"memory    RSS before {start_rss:7.0f} MiB; with {moments} moments {rss_mib():7.0f} MiB "
          f"(peak {peak:.0f}; {len(machine.shadows)} cached, {held:.0f} MiB of databases, "
          f"bound {config.cache_mb} MiB)")
    machine.clear()
    print(f"memory    RSS after the cache is cleared {rss_mib():7.0f} MiB "
          f"({rss_mib() / start_rss:.2f}x the start)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--moments", type=int, default=12)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-tm-memory-"))
    url = args.database_url or f"sqlite:///{folder}/tm.sqlite3"
    try:
        with store(url, args.redis_url, replace=True, keep=False) as services:
            run(services, args.moments, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
