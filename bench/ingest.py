"""Ingest throughput against the raw pipeline, measured in the same run (DESIGN §8).

Baseline: XREADGROUP of the same entries, one executemany INSERT per batch into the same
database, commit, XACK. Cockpit: the real :class:`cockpit.ingest.Ingestor` (validation, CRS,
spatial join, idempotency check, incident fold, commit, XACK, change signal).

    python bench/ingest.py [--events 100000] [--batch 500] [--feed incidents|volunteers|waste]

``--feed volunteers`` measures the volunteer stream instead: a mix like a day of the
simulated feed (registrations of volunteers on three platforms, activities, check-ins and
check-outs, a mobilisation with its answers, sign-ups), through the registry, the attendance
fold and the points ledger. ``--feed waste`` measures the waste stream: stations and
households (a third tenants, some on house cards) then a month of rated disposals in time order,
through the registry, the attribution of each disposal and the weak-household rule.

Uses ``REDIS_URL`` (default redis://127.0.0.1:6379/0, else an embedded server) and
``DATABASE_URL`` (default: a fresh SQLite file in WAL mode per round). Rounds alternate the two
pipelines so that a busy moment of the machine hits both; the median ratio is the result.
Target: ratio >= 0.5.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis  # noqa: E402
from sqlalchemy import JSON, Column, MetaData, String, Table, insert  # noqa: E402

from cockpit.ingest import Ingestor  # noqa: E402
from cockpit.services import Services  # noqa: E402
from cockpit.settings import Settings  # noqa: E402
from cockpit.store.migrate import downgrade, upgrade  # noqa: E402

STAGES = ["reported", "assessed", "dispatched", "arrived", "resolved", "closed"]


def make_events(n: int) -> list[dict[str, str]]:
    # the whole backlog lies in the past: the contract refuses times ahead of the clock
    start = datetime.now(UTC) - timedelta(seconds=(n // 6 + 1) * 7 + 3600)
    out: list[dict[str, str]] = []
    i = 0
    while len(out) < n:
        t = start + timedelta(seconds=i * 7)
        lon, lat = 120.25 + (i % 97) * 0.0007, 30.32 + (i % 89) * 0.0007
        for k, stage in enumerate(STAGES):
            fields = {"event_id": f"b{i}-{stage}", "type": f"incident.{stage}",
                      "occurred_at": (t + timedelta(seconds=60 * k)).isoformat(),
                      "source": "bench", "incident_id": f"b{i}"}
            if stage == "reported":
                fields.update(category="fire" if i % 3 else "城管", priority="2",
                              title="bench call", address="乔司街道", lon=f"{lon:.6f}",
                              lat=f"{lat:.6f}", crs="gcj02" if i % 2 else "wgs84")
            out.append(fields)
            if len(out) == n:
                break
        i += 1
    return out


def make_volunteer_events(n: int) -> list[dict[str, str]]:
    """About a fifth registrations (a tenth joined by ID number, a tenth by phone), the rest
    activities with check-ins and check-outs, a mobilisation and sign-ups; all in the past."""
    from tests.volunteer_factories import (
        activity,
        answer,
        id_number,
        punch,
        registered,
        requested,
        signed_up,
    )

    now = datetime.now(UTC).replace(microsecond=0)
    villages = ["朝阳村", "胜稼村", "新街社区", "乔司社区", "永玄村", "三角村"]
    people = max(10, n // 5)
    out: list[dict[str, str]] = []
    for i in range(people):
        base = i - i % 10  # every tenth person is on three platforms
        source, extra = "hongqiao", {"id_number": id_number(i % 1000,
                                                            born=f"19{50 + i // 1000:02d}0101")}
        if i % 10 == 1:  # the same person on 西湖先锋: same ID number, joined at once
            source = "xihu"
            extra = {"id_number": id_number(base % 1000, born=f"19{50 + base // 1000:02d}0101")}
        elif i % 10 == 2:  # and on 志愿汇 without ID number, same phone: queued for review
            source, extra = "zhiyuanhui", {}
        out.append(registered(f"P{i}", f"志愿者{i}", source=source,
                              village=villages[i % len(villages)],
                              phone=f"139{base if i % 10 == 2 else i:08d}", skills="急救,巡逻",
                              team=f"网格队{i % 40}", at=now - timedelta(days=40), **extra))
    start = now - timedelta(days=30)
    a = 0
    out.append(requested("BENCH-M", "朝阳村", 140, now - timedelta(hours=2),
                         now - timedelta(hours=1)))
    while len(out) < n:
        when = start + timedelta(hours=a)
        out.append(activity(f"BA{a}", when, 2, village=villages[a % len(villages)],
                            at=when - timedelta(days=1)))
        for k in range(20):
            vid = f"P{(a * 20 + k) * 7 % people}"
            out.append(punch(f"BA{a}", vid, when - timedelta(minutes=5)))
            out.append(punch(f"BA{a}", vid, when + timedelta(minutes=118), out=True,
                             rating="5"))
        if a % 10 == 0:
            out.append(answer("BENCH-M", f"P{a % people}", "accepted",
                              now - timedelta(hours=2) + timedelta(minutes=a % 50)))
            out.append(signed_up("bench", a, when))
        a += 1
    return out[:n]


def make_waste_events(n: int) -> list[dict[str, str]]:
    """A registry of about n/15 households in six villages, then disposals (~10 % incorrect,
    a tenth by house card) over the past 30 days in time order."""
    from tests.waste_factories import disposal, household, station

    now = datetime.now(UTC).replace(microsecond=0)
    villages = ["朝阳村", "胜稼村", "新街社区", "乔司社区", "永玄村", "三角村"]
    out = [station(f"BST{v}", village=name, at=now - timedelta(days=60))
           for v, name in enumerate(villages)]
    homes = max(10, n // 15)
    for h in range(homes):
        tenant = h % 3 == 0
        extra = {"house_id": f"BH{h}", "landlord_id": f"BL{h % 97}"} if tenant else {}
        out.append(household(f"BW{h}", village=villages[h % 6],
                             kind="tenant" if tenant else "local", group=f"{h % 9 + 1}组",
                             at=now - timedelta(days=45), **extra))
    start, step = now - timedelta(days=30), timedelta(days=30) / max(1, n - len(out))
    i = 0
    while len(out) < n:
        h = (i * 7919) % homes
        card = h % 3 == 0 and i % 10 == 0
        out.append(disposal(None if card else f"BW{h}", start + i * step,
                            correct=(i * 31) % 10 != 0, station_id=f"BST{h % 6}",
                            weight=f"{0.5 + (i % 40) / 10:.1f}", event_id=f"BD{i}",
                            **({"house_id": f"BH{h}"} if card else {})))
        i += 1
    return out[:n]


def fill(r: redis.Redis, stream: str, events: list[dict[str, str]]) -> None:
    pipe = r.pipeline(transaction=False)
    for n, fields in enumerate(events, 1):
        pipe.xadd(stream, fields)
        if n % 5000 == 0:
            pipe.execute()
    pipe.execute()


def raw_pipeline(services: Services, stream: str, batch: int) -> float:
    """XREADGROUP → executemany → commit → XACK, no validation: the baseline."""
    table = Table("bench_raw_events", MetaData(), Column("event_id", String(128), primary_key=True),
                  Column("incident_id", String(128)), Column("type", String(32)),
                  Column("occurred_at", String(40)), Column("source", String(128)),
                  Column("stream_id", String(40)), Column("payload", JSON))
    table.create(services.engine, checkfirst=True)
    r = services.redis
    r.xgroup_create(stream, "raw", id="0", mkstream=True)
    started = time.perf_counter()
    while True:
        reply = r.xreadgroup("raw", "raw-1", {stream: ">"}, count=batch)
        if not reply or not reply[0][1]:
            break
        entries = reply[0][1]
        rows = [{"event_id": f["event_id"], "incident_id": f.get("incident_id"),
                 "type": f["type"],
                 "occurred_at": f["occurred_at"], "source": f["source"], "stream_id": i,
                 "payload": f} for i, f in entries]
        with services.engine.begin() as conn:
            conn.execute(insert(table), rows)
        r.xack(stream, "raw", *[i for i, _ in entries])
    elapsed = time.perf_counter() - started
    table.drop(services.engine)
    return elapsed


def cockpit_ingest(services: Services, batch: int, total: int) -> tuple[float, Ingestor]:
    worker = Ingestor(services.settings, services.redis, services.sessions, consumer="bench",
                      batch_size=batch, block_ms=100)
    worker.start()
    started = time.perf_counter()
    while worker.stats.stored + worker.stats.duplicates + worker.stats.dead < total:
        worker.step()
    return time.perf_counter() - started, worker


def one_round(redis_url: str | None, database_url: str, n_events: int,
              batch: int, tmp: Path, feed: str = "incidents") -> tuple[float, float, str]:
    """Both pipelines over the same entries into the same (fresh) database; events/s each."""
    settings = Settings(REDIS_URL=redis_url, DATABASE_URL=database_url, data_dir=tmp,
                        stream_prefix=f"bench:{uuid.uuid4().hex[:8]}:",
                        pd_key="bench-only-pd-key-0123456789")
    services = Services.from_settings(settings)
    if not database_url.startswith("sqlite"):
        downgrade(services.engine, "base")  # every round starts from empty tables
    upgrade(services.engine)
    try:
        raw_stream = settings.key("raw")
        events = {"incidents": make_events, "volunteers": make_volunteer_events,
                  "waste": make_waste_events}[feed](n_events)
        fill(services.redis, raw_stream, events)
        fill(services.redis, settings.stream(feed), events)
        del events  # neither pipeline should pay for the generator's objects in its GC
        gc.collect()
        raw_s = raw_pipeline(services, raw_stream, batch)
        if services.engine.url.get_backend_name() == "sqlite":
            with services.engine.begin() as conn:  # start both runs from an empty WAL
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        ours_s, worker = cockpit_ingest(services, batch, n_events)
        assert worker.stats.stored == n_events, worker.stats
        return n_events / raw_s, n_events / ours_s, services.engine.url.get_backend_name()
    finally:
        keys = list(services.redis.scan_iter(match=f"{settings.stream_prefix}*"))
        if keys:
            services.redis.delete(*keys)
        services.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--feed", choices=("incidents", "volunteers", "waste"), default="incidents")
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternating rounds; the median ratio is the result")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cockpit-bench-"))
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=2).ping()
    except redis.RedisError:
        redis_url = None
    ratios = []
    for n in range(args.rounds):
        database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{tmp / f'bench{n}.sqlite3'}"
        raw_rate, ours_rate, db = one_round(redis_url, database_url, args.events, args.batch,
                                            tmp, args.feed)
        ratios.append(ours_rate / raw_rate)
        print(f"round {n + 1}: baseline {raw_rate:9,.0f} events/s   cockpit {ours_rate:9,.0f} "
              f"events/s   ratio {ours_rate / raw_rate:.2f}")
    print(f"feed: {args.feed}  events: {args.events:,}  batch: {args.batch}  database: {db}  "
          f"rounds: {args.rounds}")
    print("baseline  XREADGROUP + executemany + XACK")
    print("cockpit   decode + validate + join + fold + commit + XACK + signal")
    print(f"ratio (cockpit / baseline), median of rounds: {statistics.median(ratios):.2f}   "
          f"target >= 0.50")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
