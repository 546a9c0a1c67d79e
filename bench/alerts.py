"""Cost of the alert rules: one evaluation on a loaded store, and the ingest with them on.

1. Evaluation. The store holds ``--rows`` incidents over the last year (bench/incident_store.py),
   ``--disposals`` rated waste disposals over the last 30 days and ``--observations``
   metric.observed values over the last 24 h (20 KPIs, per village and subdistrict-wide), all
   over the 15 villages. ``--rules`` rules (a mix: 40 % incident counts of various categories,
   priorities, stages and windows; 20 % waste accuracy; 40 % metrics of every aggregate, per
   village and subdistrict) are evaluated ``--samples`` times, each one transaction committed as
   the ingest does (the first raises the alerts, the rest update or clear them). Baseline: the
   wall refresh's KPI strip and funnel (``queries.summary``) on the same store, alternated with
   the evaluation in the same run; the result is the ratio of the medians.
2. Ingest. A backlog of ``--events`` incident events (dated more than a year back, so that the
   windows keep what they held) through the real Ingestor into the same loaded store, once
   without rules and once with the ``--rules`` rules, alternating ``--rounds`` times; the
   result is the median ratio of throughputs. Twice: with the shipped ``after_commit: 2s`` and
   with ``0s`` (while a backlog drains, evaluations after changes wait 5 s either way).

    python bench/alerts.py [--rows 200000] [--rules 100] [--samples 20] [--events 50000]
                           [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pydantic import SecretStr  # noqa: E402

from bench.incident_store import add_store_options, filled, pct, store  # noqa: E402
from bench.ingest import fill, make_events  # noqa: E402
from cockpit import geo, queries  # noqa: E402
from cockpit.alerts import evaluate  # noqa: E402
from cockpit.alerts_config import AlertRules, Evaluation  # noqa: E402
from cockpit.clock import utc_now  # noqa: E402
from cockpit.ingest import Ingestor  # noqa: E402
from cockpit.services import Services  # noqa: E402
from cockpit.store.bulk import insert_rows  # noqa: E402
from cockpit.store.models import MetricObservation  # noqa: E402
from cockpit.store.waste_models import WasteDisposal  # noqa: E402
from cockpit.streams import client_for_url  # noqa: E402

CATEGORIES = ["fire", "police", "medical", "traffic", "urban_management", "public_safety"]
WINDOWS = ["15m", "1h", "2h", "6h", "24h", "today", "this_week", "this_month"]
KPIS = [(f"module{k % 4}", f"kpi{k:02d}") for k in range(20)]


def make_rules(n: int, seed: int = 11) -> AlertRules:
    """``n`` rules of every measure type, thresholds low enough that some alerts are raised."""
    rng = random.Random(seed)
    rules = []
    for i in range(n):
        kind = rng.random()
        rule = {"id": f"r{i:03d}", "title": {"zh": f"规则{i}", "en": f"Rule {i}"},
                "severity": rng.choice(["critical", "urgent", "normal", "low"])}
        if kind < 0.4:
            measure = {"type": "incident_count", "window": rng.choice(WINDOWS),
                       "per": rng.choice(["village", "village", "subdistrict"])}
            if rng.random() < 0.7:
                measure["category"] = rng.sample(CATEGORIES, rng.randint(1, 2))
            if rng.random() < 0.3:
                measure["priority"] = ["critical", "urgent"]
            if rng.random() < 0.2:
                measure["stage"] = ["reported", "assessed"]
            rule.update(measure=measure, compare=">", threshold=rng.choice([3, 10, 50]))
        elif kind < 0.6:
            rule.update(measure={"type": "waste_accuracy", "per": rng.choice(
                ["village", "subdistrict"]), "window": rng.choice(["today", "this_week", "7d"]),
                "min_disposals": 20}, compare="<", threshold=rng.choice([85, 90, 95]))
        else:
            module, key = rng.choice(KPIS)
            rule.update(measure={"type": "metric", "module": module, "key": key,
                                 "per": rng.choice(["village", "subdistrict"]),
                                 "aggregate": rng.choice(["latest", "avg", "sum", "min", "max",
                                                          "count"]),
                                 "window": rng.choice(["1h", "6h", "24h"])},
                        compare=rng.choice([">", "<"]), threshold=rng.uniform(20, 80))
        rules.append(rule)
    return AlertRules.model_validate({"rules": rules})


def load_other(services: Services, disposals: int, observations: int, seed: int = 5) -> None:
    """Bulk-insert rated disposals (last 30 days) and metric observations (last 24 h)."""
    rng, now, tz = random.Random(seed), utc_now(), services.settings.tz
    villages = list(geo.village_names())
    rows = []
    for n in range(disposals):
        at = now - timedelta(seconds=rng.uniform(0, 30 * 86400))
        local = at.astimezone(tz)
        week = local.isocalendar()
        rows.append({"source": "bench", "event_id": f"d{n}", "occurred_at": at,
                     "received_at": at, "stream_id": f"0-{n}", "local_day": f"{local:%Y-%m-%d}",
                     "local_week": f"{week.year}-W{week.week:02d}", "household_id": f"H{n % 5000}",
                     "via_house": False, "station_id": f"S{n % 60}",
                     "village_code": rng.choice(villages), "weight_kg": 2.0,
                     "declared_class": "perishable", "correct": rng.random() < 0.9})
    for n in range(observations):
        module, key = rng.choice(KPIS)
        at = now - timedelta(seconds=rng.uniform(0, 86400))
        rows.append({"event_id": f"m{n}", "source": "bench", "module": module, "key": key,
                     "value": rng.uniform(0, 100), "unit": None, "occurred_at": at,
                     "received_at": at, "stream_id": f"0-{n}",
                     "village_code": rng.choice([*villages, None])})
    with services.engine.begin() as conn:
        insert_rows(conn, WasteDisposal.__table__, rows[:disposals])
        insert_rows(conn, MetricObservation.__table__, rows[disposals:])
    if services.engine.url.get_backend_name() == "postgresql":  # as autovacuum would
        with services.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.exec_driver_sql("VACUUM ANALYZE waste_disposals, metric_observations")


def main_parts(args: argparse.Namespace) -> None:
    url = args.database_url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'alerts.sqlite3'}"
    with store(url, args.redis_url, replace=False, keep=args.keep) as services:
        evaluation_part(args, services, url)
        if not args.skip_ingest:
            ingest_part(args, services, 2.0)  # the shipped file's after_commit
            ingest_part(args, services, 0.0)  # the worst case


def evaluation_part(args: argparse.Namespace, services: Services, url: str) -> None:
    rules = make_rules(args.rules)
    incidents, open_ = filled(services, args, url)
    if not args.reuse:
        load_other(services, args.disposals, args.observations)
    settings, config = services.settings, services.settings.governance
    ours, base, raised = [], [], 0
    for n in range(args.samples):
        started = time.perf_counter()
        with services.sessions.begin() as session:
            result = evaluate(session, rules, config, settings.tz, utc_now())
        ours.append((time.perf_counter() - started) * 1000)
        raised += result.raised if n == 0 else 0
        started = time.perf_counter()
        with services.read() as session:
            queries.summary(session, settings.tz)
        base.append((time.perf_counter() - started) * 1000)
    ratio = statistics.median(ours) / statistics.median(base)
    print(f"store: {services.engine.url.get_backend_name()}, {incidents:,} incidents "
          f"({open_:,} open), {args.disposals:,} disposals, {args.observations:,} "
          f"observations; {len(rules.rules)} rules, {raised} alerts raised at the first")
    each = statistics.median(ours) / len(rules.rules)
    print(f"evaluation of every rule: p50 {statistics.median(ours):.0f} ms, p95 "
          f"{pct(ours, 95):.0f} ms ({each:.2f} ms a rule)")
    print(f"baseline queries.summary: p50 {statistics.median(base):.1f} ms; "
          f"ratio evaluation / summary {ratio:.1f}")


def ingest_part(args: argparse.Namespace, services: Services, after_s: float) -> None:
    """Backlogs of incident events into the loaded store, without rules and with them."""
    rules = make_rules(args.rules).model_copy(update={"evaluation": Evaluation(
        after_commit=timedelta(seconds=after_s), every=timedelta(seconds=30))})
    rates: dict[str, list[float]] = {"off": [], "on": []}
    client = client_for_url(args.redis_url)  # decoded, as the ingest's (the store's is raw)
    for n in range(args.rounds):
        for mode in ("off", "on") if n % 2 == 0 else ("on", "off"):
            tag = f"{mode}{n}a{after_s:g}-{time.time_ns()}"
            settings = services.settings.model_copy(update={
                "stream_prefix": f"bench-alerts:{tag}:",
                "pd_key": SecretStr("bench-only-pd-key-0123456789")})
            round_services = Services(settings, client, services.engine, services.sessions)
            # a year and more back: the backlog leaves every rule's window as it was
            events = [{**e, "event_id": f"{tag}-{e['event_id']}",
                       "incident_id": f"{tag}-{e['incident_id']}",
                       "occurred_at": (datetime.fromisoformat(e["occurred_at"])
                                       - timedelta(days=400)).isoformat()}
                      for e in make_events(args.events)]
            try:
                fill(client, settings.stream("incidents"), events)
                seconds = _timed_ingest(round_services, rules if mode == "on" else AlertRules(),
                                        args.events)
                rates[mode].append(args.events / seconds)
            finally:
                keys = list(client.scan_iter(match=f"{settings.stream_prefix}*"))
                if keys:
                    client.delete(*keys)
        print(f"round {n + 1}: without rules {rates['off'][-1]:8,.0f} events/s   with "
              f"{args.rules} rules (after_commit {after_s:g}s) {rates['on'][-1]:8,.0f} events/s")
    ratios = [on / off for on, off in zip(rates["on"], rates["off"], strict=True)]
    print(f"ingest with rules (after_commit {after_s:g}s) / without, median of {args.rounds} "
          f"rounds: {statistics.median(ratios):.2f} ({args.events:,} incident events a run, "
          f"into the loaded store)")


def _timed_ingest(services: Services, rules: AlertRules, total: int) -> float:
    """The real Ingestor over ``total`` entries, evaluating ``rules``; returns seconds."""
    worker = Ingestor(services.settings, services.redis, services.sessions, consumer="bench",
                      batch_size=500, block_ms=100)
    worker.alerts.rules = rules
    worker.start()
    started = time.perf_counter()
    while worker.stats.stored + worker.stats.duplicates + worker.stats.dead < total:
        worker.step()
    assert worker.stats.stored == total, worker.stats
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_store_options(parser, rows=200_000, n_open=5_000, samples=20,
                      samples_help="evaluations measured")
    parser.add_argument("--rules", type=int, default=100)
    parser.add_argument("--disposals", type=int, default=100_000)
    parser.add_argument("--observations", type=int, default=50_000)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-ingest", action="store_true")
    args = parser.parse_args()
    main_parts(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
