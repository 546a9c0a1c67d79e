import time
from datetime import UTC, datetime, time as dtime, timedelta
from cockpit import report
from cockpit import replay as rp
from cockpit.replay_mapping import load_mapping
from cockpit.vocab import Stage
from layouts import report_files
from tests import store_support
from tests.report_support import SF, store_day

def test_measure(sqlite_services):
    services = sqlite_services
    tz = services.settings.tz
    mapping = load_mapping("sf_fire_calls")
    incidents, _ = rp.read_incidents(SF, mapping)
    first = datetime.now(UTC).astimezone(tz).date() - timedelta(days=15)
    start = datetime.combine(first, dtime(0, 0), tz).astimezone(UTC)
    events = sorted(rp.plan_events(incidents, mapping, start, 1, run_id="m"), key=lambda e: e.offset)
    t = time.time()
    store_support.ingest(services, [e.fields for e in events], "m", "incidents")
    print("incidents", len(incidents), "events", len(events), "ingest s", round(time.time() - t, 1))
    day = first + timedelta(days=7)
    for kind in ("daily", "weekly"):
        period = report.period_of(kind, day, tz)
        t = time.time(); content = report.build(report.as_of(services), services.settings, period); tb = time.time() - t
        t = time.time(); files, missing = report_files.render_files(content, "zh", ["pdf", "xlsx"], tz.key); tr = time.time() - t
        t = time.time(); files2, _ = report_files.render_files(content, "zh", ["pdf", "xlsx"], tz.key, use_browser=False); tn = time.time() - t
        print(kind, "reported", content["incidents"]["total"], "build s", round(tb, 2), "files+figures s", round(tr, 2), "files no figures s", round(tn, 2), {k: len(v) for k, v in files.items()}, missing)
    # again: cached shadows
    period = report.period_of("daily", day, tz)
    t = time.time(); report.build(report.as_of(services), services.settings, period); print("daily again s", round(time.time() - t, 2))
