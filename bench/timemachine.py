"""What the time machine costs: building an as-of store, stepping a replay, reading the past.

The history is the recorded San Francisco fire calls the demo replays (5,292 incidents, two
weeks), planned by the replay's own code at real speed (``cockpit.replay_plan.plan_events``),
``--passes`` times one after the other (each pass two weeks later, with its own ids), and
stored through the ingest's write path (``parse_event`` + ``apply_batch``, batches of 2,000,
as the ingest does). Then, in the same run and on the same store:

* baseline: the wall's ``queries.summary`` on the live store (the work of one KPI strip);
* build: :meth:`cockpit.asof.Shadow.build` at three moments (a quarter, half and all of the
  history): the incidents settled by then copied, the others folded again;
* step: a replay moving one shadow forward by 1, 10, 60 and 600 seconds of the past per
  frame (the speeds the band offers, one frame a second), mean and p95 of ``--steps`` frames;
* read: ``queries.summary`` on the shadow (as the past wall reads it) and the whole past
  wall frame (``callbacks.wall.past_frame``).

Each figure is printed with its ratio to the baseline. ``--modules`` first adds the demo's
simulated volunteers and waste (``simulate-volunteers`` and ``simulate-waste --once``: their
default history, sent to Redis and stored by the real ingest), whose events every shadow
folds again.

    python bench/timemachine.py [--passes 1] [--steps 30] [--modules]
                                [--database-url sqlite:///bench-tm.db | postgresql+psycopg://…]

Default database: a SQLite file (WAL) in a temporary folder; a PostgreSQL database named in
``--database-url`` is created and dropped afterwards (``bench.incident_store.store``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pydantic import SecretStr  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402

from bench.incident_store import pct, store  # noqa: E402
from callbacks.timemachine import PastServices  # noqa: E402
from callbacks.wall import past_frame  # noqa: E402
from cockpit import queries  # noqa: E402
from cockpit import replay as rp  # noqa: E402
from cockpit import replay_plan as rp_plan  # noqa: E402
from cockpit.asof import Shadow  # noqa: E402
from cockpit.events import parse_event  # noqa: E402
from cockpit.ingest import Ingestor  # noqa: E402
from cockpit.placing import resolve_villages  # noqa: E402
from cockpit.replay_mapping import load_mapping  # noqa: E402
from cockpit.services import Services  # noqa: E402
from cockpit.store.apply import apply_batch  # noqa: E402
from cockpit.store.models import IncidentEventRow  # noqa: E402
from cockpit.store.volunteer_models import VolunteerEventRow  # noqa: E402
from cockpit.store.waste_models import WasteDisposal, WasteEventRow  # noqa: E402
from cockpit.timemachine import machine_for  # noqa: E402
from cockpit.volunteers import simulate as volunteer_sim  # noqa: E402
from cockpit.waste import simulate as waste_sim  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "incidents"
SF = DATA / "sf_fire_calls_2020-04-07_to_04-20.csv"
BATCH = 2000
SPEEDS = (1, 10, 60, 600)


def history(passes: int, end: datetime) -> list[dict[str, str]]:
    """The recorded file planned at real speed ``passes`` times, the last ending near ``end``."""
    mapping = load_mapping("sf_fire_calls")
    incidents, _ = rp.read_incidents(SF, mapping)
    span = timedelta(days=14)
    out: list[dict[str, str]] = []
    for n in range(passes):
        start = end - span * (passes - n) - timedelta(hours=1)
        out += [e.fields for e in rp_plan.plan_events(incidents, mapping, start, 1.0,
                                                      run_id=f"bench{n}")]
    return [f for f in out if datetime.fromisoformat(f["occurred_at"]) < end]


def load(services: Services, entries: list[dict[str, str]]) -> float:
    """Store the entries as the ingest does; return the events per second."""
    settings = services.settings
    started = time.perf_counter()
    for lo in range(0, len(entries), BATCH):
        part = entries[lo:lo + BATCH]
        events = [(parse_event(f, settings.tz), f"{lo + i + 1}-0") for i, f in enumerate(part)]
        with services.sessions.begin() as session:
            apply_batch(session, events, resolve_villages, config=settings.governance,
                        rules=settings.volunteer_rules, tz=settings.tz,
                        waste_rules=settings.waste_rules)
    return len(entries) / (time.perf_counter() - started)


def add_modules(services: Services) -> Services:
    """Store the demo's simulated volunteer and waste history through Redis and the ingest."""
    settings = services.settings.model_copy(update={
        "pd_key": SecretStr("bench-timemachine-pd-key"),
        "stream_prefix": f"bench-tm:{uuid.uuid4().hex[:8]}:"})
    services = Services(settings, services.redis, services.engine, services.sessions)
    waste_sim.simulate(settings, services.redis, once=True)
    volunteer_sim.simulate(settings, services.redis, once=True)
    worker = Ingestor(settings, services.redis, services.sessions, consumer="bench",
                      block_ms=50, batch_size=BATCH)
    worker.start()
    while worker.step():
        pass
    keys = list(services.redis.scan_iter(match=f"{settings.stream_prefix}*"))
    if keys:
        services.redis.delete(*keys)
    with services.read() as session:
        counts = {m.__tablename__: session.scalar(select(func.count()).select_from(m))
                  for m in (VolunteerEventRow, WasteEventRow, WasteDisposal)}
    print("modules: " + ", ".join(f"{n:,} {name}" for name, n in counts.items()))
    return services


def timed(work, samples: int) -> list[float]:
    """Milliseconds of ``samples`` runs of ``work()``."""
    out = []
    for _ in range(samples):
        started = time.perf_counter()
        work()
        out.append((time.perf_counter() - started) * 1000)
    return out


def shadow_bytes(shadow: Shadow) -> int:
    """The shadow's in-memory database size, bytes."""
    with shadow.engine.connect() as conn:
        pages = conn.execute(text("PRAGMA page_count")).scalar()
        size = conn.execute(text("PRAGMA page_size")).scalar()
    return int(pages) * int(size)


def run(services: Services, passes: int, steps: int, modules: bool = False) -> None:
    if modules:
        services = add_modules(services)
    tz = services.settings.tz
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    entries = history(passes, end)
    rate = load(services, entries)
    with services.read() as session:
        stored = session.scalar(select(func.count()).select_from(IncidentEventRow))
        first = session.scalar(select(func.min(IncidentEventRow.occurred_at)))
    print(f"history: {stored:,} incident events over {(end - first).days} days "
          f"(stored through apply_batch at {rate:,.0f} events/s)")

    def live():
        with services.read() as session:
            queries.summary(session, tz, end)
    base = statistics.median(timed(live, 30))
    print(f"baseline  live summary (main store)            {base:9.2f} ms   1.0x")

    for share in (0.25, 0.5, 1.0):
        moment = first + (end - first) * share
        started = time.perf_counter()
        shadow = Shadow.build(services.sessions, services.settings, moment)
        took = (time.perf_counter() - started) * 1000
        print(f"build     at {share:4.0%} of the history: {shadow.copied:>7,} incidents copied, "
              f"{shadow.applied:>7,} events folded {took / 1000:8.2f} s {took / base:9.0f}x  "
              f"({shadow_bytes(shadow) / 2**20:.1f} MiB, {shadow.skipped} skipped)")
        if share < 1.0:
            shadow.close()

    moment = first + (end - first) / 2
    shadow = Shadow.build(services.sessions, services.settings, moment)
    for speed in SPEEDS:
        before = shadow.applied
        times = []
        for _ in range(steps):
            moment += timedelta(seconds=speed)
            started = time.perf_counter()
            shadow.advance(services.sessions, moment, late=False)
            times.append((time.perf_counter() - started) * 1000)
        per = (shadow.applied - before) / steps
        print(f"step      x{speed:<4} ({per:6.1f} events/frame)        "
              f"mean {statistics.mean(times):8.2f} ms  p95 {pct(times, 95):8.2f} ms "
              f"{pct(times, 95) / base:6.1f}x")

    def past():
        with shadow.sessions() as session:
            queries.summary(session, tz, moment)
    read = statistics.median(timed(past, 30))
    print(f"read      summary on the shadow                {read:9.2f} ms {read / base:6.1f}x")
    shadow.close()
    at = end - timedelta(hours=6)
    machine = machine_for(services)
    machine.acquire(at).lock.release()  # built once; the frames below read the cached one
    frame = timed(lambda: past_frame(PastServices(services, at), "zh", at, {}), 10)
    print(f"frame     whole past wall frame (cached shadow) "
          f"median {statistics.median(frame):8.2f} ms {statistics.median(frame) / base:6.1f}x")
    machine.clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--passes", type=int, default=1,
                        help="times the two-week file is stored, one after the other")
    parser.add_argument("--steps", type=int, default=30, help="replay frames per speed")
    parser.add_argument("--modules", action="store_true",
                        help="add the demo's simulated volunteers and waste first")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="bench-tm-")
    os.environ["COCKPIT_TM_CHECKPOINT_DIR"] = f"{folder}/checkpoints"  # removed with the folder
    url = args.database_url or f"sqlite:///{folder}/tm.sqlite3"
    try:
        with store(url, args.redis_url, replace=True, keep=False) as services:
            run(services, args.passes, args.steps, args.modules)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
