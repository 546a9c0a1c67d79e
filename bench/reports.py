"""Time to make a daily and a weekly briefing of a past day of the replayed SF feed.

The whole recorded SF fire feed (``../shared/data/incidents``, 14 days) is replayed into a fresh
store through the real ingest, its first report at local midnight fifteen days ago (each
incident's stages at their real durations). The briefing of the day a week after that, and of
its week, is then built: its content through the time machine (the store as it was at the end
of the period: docs/reports.md), then the PDF and the workbook, with the figures drawn by
kaleido in the system's Chromium and without them. Each step is timed once per run (the first
read of a moment rebuilds the store up to it; a second read of the same moment is timed apart).

    python bench/reports.py [--redis-url redis://127.0.0.1:6379/0] [--database-url URL]

Default: an embedded Redis and a SQLite file (WAL) in a temporary folder.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cockpit import replay as rp  # noqa: E402
from cockpit import report  # noqa: E402
from cockpit.ingest import Ingestor  # noqa: E402
from cockpit.replay_mapping import load_mapping  # noqa: E402
from cockpit.services import Services  # noqa: E402
from cockpit.settings import Settings  # noqa: E402
from cockpit.store.migrate import upgrade  # noqa: E402
from layouts import report_files  # noqa: E402

SF = (Path(__file__).resolve().parents[2] / "shared" / "data" / "incidents"
      / "sf_fire_calls_2020-04-07_to_04-20.csv")


def _timed(label: str, work):
    started = time.perf_counter()
    value = work()
    print(f"{label:<48} {time.perf_counter() - started:7.2f} s")
    return value


def main() -> None:
    """Fill a store with the replayed feed and time the briefings of one of its days."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default=None)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-reports-"))
    settings = Settings(REDIS_URL=args.redis_url, DATABASE_URL=args.database_url,
                        data_dir=folder, stream_prefix="bench-reports:",
                        pd_key="bench-reports-pd-key-0123")
    services = Services.from_settings(settings)
    try:
        upgrade(services.engine)
        tz = settings.tz
        mapping = load_mapping("sf_fire_calls")
        incidents, _ = rp.read_incidents(SF, mapping)
        first = datetime.now(UTC).astimezone(tz).date() - timedelta(days=15)
        start = datetime.combine(first, dtime(0), tz).astimezone(UTC)
        events = sorted(rp.plan_events(incidents, mapping, start, 1, run_id="bench"),
                        key=lambda e: e.offset)

        def fill() -> None:
            pipe = services.redis.pipeline(transaction=False)
            for event in events:
                pipe.xadd(settings.stream("incidents"), event.fields)
            pipe.execute()
            worker = Ingestor(settings, services.redis, services.sessions, consumer="bench",
                              block_ms=50)
            worker.start()
            while worker.step():
                pass

        _timed(f"ingest {len(incidents):,} incidents, {len(events):,} events", fill)
        day = first + timedelta(days=7)
        for kind in report.KINDS:
            period = report.period_of(kind, day, tz)
            content = _timed(f"{kind}: content through the time machine",
                             lambda p=period: report.build(report.as_of(services), settings, p))
            if kind == "daily":
                _timed("daily: content again (the moment cached)",
                       lambda p=period: report.build(report.as_of(services), settings, p))
            files, missing = _timed(f"{kind}: PDF + xlsx with figures", lambda c=content:
                                    report_files.render_files(c, "zh", ["pdf", "xlsx"], tz.key))
            _timed(f"{kind}: PDF + xlsx without figures", lambda c=content:
                   report_files.render_files(c, "zh", ["pdf", "xlsx"], tz.key,
                                             use_browser=False))
            print(f"{kind}: {content['incidents']['total']:,} incidents reported; PDF "
                  f"{len(files['pdf']) / 1e3:.0f} KB, xlsx {len(files['xlsx']) / 1e3:.0f} KB; "
                  f"figures missing: {missing or 'none'}")
    finally:
        keys = list(services.redis.scan_iter(match="bench-reports:*"))
        if keys:
            services.redis.delete(*keys)
        services.close()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
