"""Time of the staff map's queries on a store of 50,000 incidents, against a bare read of it.

The store is filled as ``bench/queries.py`` fills it (``bench/incident_store.py``: a year of
incidents in the Qiaosi villages, some open and overdue, repeat groups; bulk INSERT, not
ingest). The baseline is the
least any points layer must do: ``SELECT lon, lat FROM incidents``, every row fetched through
the driver's own cursor (no SQLAlchemy rows), timed in the same run on the same store,
interleaved with the measured queries. Each query's time is printed beside it as a ratio
(p50 / baseline p50), and the size of the incident columns as the page would send them
(compact JSON, and gzipped).

    python bench/staff_map.py [--rows 50000] [--open 5000] [--samples 30]
                              [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_map]

Default database: a SQLite file (WAL) in a temporary folder. A PostgreSQL database named in
``--database-url`` is created when missing and dropped afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy.engine import make_url  # noqa: E402

from bench.incident_store import Clock, add_store_options, filled, pct, store  # noqa: E402
from cockpit.mapdata.filters import MapFilters  # noqa: E402
from cockpit.mapdata.layers import village_layer  # noqa: E402
from cockpit.mapdata.staff_panel import overview, village_metrics, village_panel  # noqa: E402
from cockpit.mapdata.staff_queries import incident_points, repeat_groups  # noqa: E402
from cockpit.services import Services  # noqa: E402

BASELINE = "SELECT lon, lat FROM incidents"
SCOPE = ("330110006224", "330110006225", "330110006226")  # a staff account's three villages


def baseline(session) -> list[tuple]:
    """Every position through the driver's own cursor: no SQLAlchemy rows, no Python work."""
    cursor = session.connection().connection.dbapi_connection.cursor()
    try:
        cursor.execute(BASELINE)
        return cursor.fetchall()
    finally:
        cursor.close()


def steps(services: Services) -> dict[str, Callable[[Any, Any], Any]]:
    """The measured reads, each ``(session, now) -> result``; the baseline first."""
    tz = services.settings.tz
    every = MapFilters(period="all")
    with services.read() as session:
        layer = village_layer(session)
    return {
        "baseline: " + BASELINE: lambda s, now: baseline(s),
        "incident_points (all)": lambda s, now: incident_points(s, every, tz, now),
        "incident_points (30d)": lambda s, now: incident_points(s, MapFilters(period="30d"),
                                                                tz, now),
        "incident_points (all, police)": lambda s, now: incident_points(
            s, MapFilters(period="all", categories=("police",)), tz, now),
        "incident_points (all, 3 villages)": lambda s, now: incident_points(s, every, tz, now,
                                                                            SCOPE),
        "repeat_groups (30d)": lambda s, now: repeat_groups(s, MapFilters(period="30d"), tz,
                                                            now),
        "village_metrics (all)": lambda s, now: village_metrics(s, every, tz, now, layer),
        "overview (all)": lambda s, now: overview(s, every, tz, now),
        "village_panel (30d)": lambda s, now: village_panel(
            s, SCOPE[0], MapFilters(period="30d"), tz, now, None,
            services.settings.waste_rules.target, layer=layer),
    }


def measure(services: Services, samples: int) -> dict[str, list[float]]:
    """``samples`` rounds of every step, interleaved; ms per step (3 warm-up rounds first)."""
    clock = Clock(services)
    todo = steps(services)
    out: dict[str, list[float]] = {name: [] for name in todo}
    for round_ in range(samples + 3):
        for name, step in todo.items():
            with services.read() as session:
                started = time.perf_counter()
                step(session, clock())
                if round_ >= 3:
                    out[name].append((time.perf_counter() - started) * 1000)
    return out


def sizes(services: Services) -> tuple[int, int, int]:
    """Points, compact JSON bytes and gzipped bytes of ``incident_points`` over every period."""
    with services.read() as session:
        points = incident_points(session, MapFilters(period="all"), services.settings.tz,
                                 Clock(services)())
    body = json.dumps(points, ensure_ascii=False, separators=(",", ":")).encode()
    return len(points["ids"]), len(body), len(gzip.compress(body, compresslevel=5))


def report(times: dict[str, list[float]]) -> None:
    names = list(times)
    base = statistics.median(times[names[0]])
    print(f"{'':38} {'p50 ms':>8} {'p95 ms':>8}  {'p50 / baseline':>14}")
    for name in names:
        values = times[name]
        p50 = statistics.median(values)
        print(f"{name:38} {p50:8.1f} {pct(values, 95):8.1f}  {p50 / max(base, 0.01):13.1f}×")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_store_options(parser, rows=50_000, n_open=5_000, samples=30,
                      samples_help="rounds of every query")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cockpit-staff-map-"))
    url = args.database_url or f"sqlite:///{tmp / 'loaded.sqlite3'}"
    backend = make_url(url).get_backend_name()
    try:
        with store(url, args.redis_url, replace=False, keep=args.keep) as services:
            total, n_open = filled(services, args, url)
            print(f"incidents: {total:,}  open: {n_open:,}  database: {backend}  "
                  f"samples: {args.samples}")
            report(measure(services, args.samples))
            n, raw, packed = sizes(services)
            print(f"incident columns of {n:,} points: {raw / 1e6:.2f} MB JSON, "
                  f"{packed / 1e6:.2f} MB gzipped ({raw / max(n, 1):.0f} B a point)")
            if args.keep:
                print(f"store kept: {url}")
    finally:
        if not args.keep or not any(tmp.iterdir()):
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
