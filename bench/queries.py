"""Server time of one wall refresh on a large store, beside the same work on an empty one.

The wall refresh is the uncached server work of one poll whose data version moved:
``callbacks.wall_feed.read_models`` + ``read_governance`` (the overdue board and the
announcement queue) + ``build_view`` + ``build_governance_view``. The flask cache is not
involved: the functions are called directly, so every sample does the whole work.

The loaded store holds ``--rows`` incidents (default 1,000,000) over the last year: report times
with a weekly and daily rhythm and a growing trend, categories, priorities and positions inside
the Qiaosi villages (a fresh point per incident, village codes by the spatial join), stage times
of the closed loop, ``--open`` (default 10,000) still open (mostly recent; some overdue, with
due times and escalation levels from governance.yaml), repeat groups, the event history (one
row per stage reached) and the notices of the last 30 days. Rows go in through the store's bulk
INSERT, not through ingest. The baseline is an empty store of the same kind, migrated the same
way, measured in the same run; samples alternate between the two stores. The refresh runs on
the store's clock (:class:`Clock`: its latest change was a second ago when the run starts).
Each query is also timed on its own, and two that are not in the refresh for comparison:
``map_incidents`` (every map incident as a full dict, what the wall read before it drew
``MAP_POINTS`` points and counted the rest per village) and ``team_load`` (the /incidents
page's team strip).

    python bench/queries.py [--rows 1000000] [--open 10000] [--samples 60]
                            [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench]

Default database: a SQLite file (WAL) in a temporary folder. A PostgreSQL database named in
``--database-url`` is created when missing (and dropped afterwards unless ``--keep``); its empty
twin is ``<name>_empty``. ``--reuse`` measures a store a ``--keep`` run left behind (its data
age with the clock). Target: whole refresh p95 <= 100 ms on the loaded store.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy.engine import make_url  # noqa: E402

from bench.incident_store import Clock, add_store_options, filled, pct, store  # noqa: E402
from callbacks import wall_feed, wall_parts  # noqa: E402
from cockpit import governance_queries, map_queries, queries  # noqa: E402
from cockpit.services import Services  # noqa: E402
from layouts.wall_governance import OVERDUE_ROWS, TICKER_ITEMS  # noqa: E402
from layouts.wall_panels import LATEST_ROWS  # noqa: E402

TARGET_MS = 100.0


# -- the measured work --------------------------------------------------------------------------
STEPS = ("summary", "map_points", "latest_changes", "map_villages", "latest_incidents",
         "notifications",
         "overdue", "pending_announcements", "map_incidents", "team_load")
#: Timed on their own for comparison; no wall refresh calls them.
NOT_ON_THE_WALL = ("map_incidents", "team_load")


def query_steps(services: Services) -> dict[str, Callable[[Any, datetime], Any]]:
    """Each query of the wall refresh with the wall's arguments, and two that are not in it."""
    tz, config = services.settings.tz, services.settings.governance
    return {
        "summary": lambda s, now: queries.summary(s, tz, now),
        "map_points": lambda s, now: map_queries.map_points(
            s, tz, now, hours=wall_feed.MAP_HOURS, limit=wall_feed.MAP_POINTS,
            bounds=wall_parts.map_bounds()),
        "latest_changes": lambda s, now: map_queries.latest_changes(
            s, tz, now, hours=wall_feed.MAP_HOURS, limit=TICKER_ITEMS),
        "map_villages": lambda s, now: map_queries.map_villages(s, now, hours=wall_feed.MAP_HOURS),
        "latest_incidents": lambda s, now: queries.latest_incidents(s, tz,
                                                                    limit=LATEST_ROWS),
        "notifications": lambda s, now: governance_queries.list_notifications(
            s, tz, limit=wall_feed.TICKER_NOTICES),
        "overdue": lambda s, now: governance_queries.overdue(s, tz, now, limit=OVERDUE_ROWS),
        "pending_announcements": lambda s, now: governance_queries.pending_announcements(
            s, tz, config, now, limit=wall_parts.ANNOUNCE_ITEMS),
        # the whole map as full dicts, as the wall read it before it drew MAP_POINTS points
        "map_incidents": lambda s, now: map_queries.map_incidents(s, tz, now,
                                                                  hours=wall_feed.MAP_HOURS),
        # the /incidents page's team strip (not on the wall)
        "team_load": lambda s, now: governance_queries.team_load(s, tz, config, now),
    }


def sample(services: Services, now: datetime, into: dict[str, list[float]]) -> None:
    """One whole refresh, then each query on its own and the two view builds; ms into ``into``.

    The whole refresh is what one poll whose data version moved does on the server:
    ``read_models`` + ``read_governance`` + ``build_view`` + ``build_governance_view``. Its
    process CPU time goes in too (``cpu``): on SQLite it includes the database's work, on
    PostgreSQL it does not.
    """
    levels = wall_parts.escalation_levels(services.settings.governance)
    started, cpu = time.perf_counter(), time.process_time()
    models = wall_feed.read_models(services, now)
    gov = wall_parts.read_governance(services, now)
    wall_feed.build_view(models, "zh")
    wall_parts.build_governance_view(gov, "zh", levels)
    into.setdefault("wall refresh (whole)", []).append((time.perf_counter() - started) * 1000)
    into.setdefault("cpu", []).append((time.process_time() - cpu) * 1000)
    for name, step in query_steps(services).items():
        with services.read() as session:
            started = time.perf_counter()
            step(session, now)
            into.setdefault(name, []).append((time.perf_counter() - started) * 1000)
    started = time.perf_counter()
    wall_feed.build_view(models, "zh")
    into.setdefault("build_view", []).append((time.perf_counter() - started) * 1000)
    started = time.perf_counter()
    wall_parts.build_governance_view(gov, "zh", levels)
    into.setdefault("build_governance_view", []).append((time.perf_counter() - started) * 1000)


def report(empty: dict[str, list[float]], loaded: dict[str, list[float]]) -> bool:
    print(f"{'':24} {'empty store (ms)':>26}   {'loaded store (ms)':>26}   ratio")
    print(f"{'':24} {'p50':>8} {'p95':>8} {'max':>8}   {'p50':>8} {'p95':>8} {'max':>8}   p95")
    for name in [*STEPS, "build_view", "build_governance_view", "wall refresh (whole)"]:
        e, v = empty[name], loaded[name]
        label = f"({name})" if name in NOT_ON_THE_WALL else name
        print(f"{label:24} {statistics.median(e):8.1f} {pct(e, 95):8.1f} {max(e):8.1f}   "
              f"{statistics.median(v):8.1f} {pct(v, 95):8.1f} {max(v):8.1f}   "
              f"{pct(v, 95) / max(pct(e, 95), 0.01):5.1f}×")
    print("(in brackets: not part of the wall refresh, timed for comparison)")
    print(f"process CPU per whole refresh, p50: empty {statistics.median(empty['cpu']):.1f} ms, "
          f"loaded {statistics.median(loaded['cpu']):.1f} ms")
    whole = pct(loaded["wall refresh (whole)"], 95)
    ok = whole <= TARGET_MS
    print(f"wall refresh p95 on the loaded store: {whole:.1f} ms   target <= {TARGET_MS:.0f} ms: "
          f"{'PASS' if ok else 'FAIL'}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_store_options(parser, rows=1_000_000, n_open=10_000, samples=60,
                      samples_help="refreshes per store")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cockpit-queries-"))
    url = args.database_url or f"sqlite:///{tmp / 'loaded.sqlite3'}"
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        empty_url = parsed.set(database=f"{parsed.database}_empty").render_as_string(False)
    else:
        empty_url = f"sqlite:///{tmp / 'empty.sqlite3'}"
    try:
        with store(url, args.redis_url, replace=False, keep=args.keep) as loaded, \
                store(empty_url, args.redis_url, replace=True, keep=False) as empty:
            total, n_open = filled(loaded, args, url)
            clock = Clock(loaded)
            print(f"incidents: {total:,}  open: {n_open:,}  database: "
                  f"{parsed.get_backend_name()}  samples: {args.samples} per store")
            results: dict[str, dict[str, list[float]]] = {"empty": {}, "loaded": {}}
            for _ in range(3):  # warm-up: caches of the process and of the database
                sample(empty, clock(), {})
                sample(loaded, clock(), {})
            for _ in range(args.samples):
                sample(empty, clock(), results["empty"])
                sample(loaded, clock(), results["loaded"])
            ok = report(results["empty"], results["loaded"])
            if args.keep:
                print(f"loaded store kept: {url}")
    finally:
        for path in tmp.glob("empty.sqlite3*"):  # --keep keeps the loaded store only
            path.unlink()
        if not args.keep or not any(tmp.iterdir()):
            shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
