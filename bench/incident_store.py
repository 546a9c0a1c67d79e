"""A synthetic incident store for the benchmarks: a year of Qiaosi incidents, bulk-inserted.

:func:`load` fills a migrated store with ``rows`` incidents over the last year: report times
with a weekly and daily rhythm and a growing trend, categories, priorities and positions inside
the Qiaosi villages (a fresh point per incident, village codes by the spatial join), stage times
of the closed loop, ``n_open`` still open (mostly recent; some overdue, with due times and
escalation levels from governance.yaml), repeat groups, the event history (one row per stage
reached) and the notices of the last 30 days. Rows go in through the store's bulk INSERT, not
through ingest. :func:`store` makes (and drops) the database; :class:`Clock` measures a store
on its own time. Used by ``bench/queries.py`` and ``bench/staff_map.py``.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import redis  # noqa: E402
import shapely  # noqa: E402
from sqlalchemy import create_engine, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from cockpit import geo, queries  # noqa: E402
from cockpit.clock import utc_now  # noqa: E402
from cockpit.governance_config import GovernanceConfig  # noqa: E402
from cockpit.notices import notice_row  # noqa: E402
from cockpit.services import Services  # noqa: E402
from cockpit.settings import Settings  # noqa: E402
from cockpit.store.bulk import insert_rows  # noqa: E402
from cockpit.store.db import make_engine, session_factory  # noqa: E402
from cockpit.store.migrate import upgrade  # noqa: E402
from cockpit.store.models import Escalation, Incident, IncidentEventRow, Notification  # noqa: E402

DAYS = 365
NOTICE_DAYS = 30
CHUNK = 20_000
#: Share of reports per local hour (Asia/Shanghai): quiet nights, morning and evening peaks.
HOURLY = np.array([1.2, 0.8, 0.6, 0.5, 0.5, 0.8, 1.6, 3.0, 4.6, 5.6, 5.9, 5.6, 4.8, 4.6, 5.2,
                   5.6, 5.7, 5.8, 5.6, 5.9, 6.1, 5.0, 3.5, 2.0])
WEEKDAY = np.array([1.05, 1.0, 1.0, 1.0, 1.08, 0.93, 0.88])  # Monday first
CATEGORIES = {"police": 0.34, "urban_management": 0.28, "traffic": 0.14, "medical": 0.10,
              "public_safety": 0.06, "fire": 0.04, "other": 0.04}
PRIORITIES = {"critical": 0.04, "urgent": 0.20, "normal": 0.60, "low": 0.16}
TITLES = {"police": ["纠纷报警", "盗窃报警", "可疑人员"],
          "urban_management": ["占道经营", "违规停车", "垃圾乱倒", "违章搭建"],
          "traffic": ["两车相撞", "电动车事故"], "medical": ["老人摔倒", "突发疾病"],
          "public_safety": ["井盖缺失", "燃气泄漏"], "fire": ["电动车起火", "居民楼冒烟"],
          "other": ["求助"]}
#: Median seconds from one loop stage to the next (log-normal spread) for finished incidents.
STEP_MEDIANS = {"assessed": 90, "dispatched": 300, "arrived": 900, "resolved": 3600,
                "closed": 6 * 3600}
LOOP = ("reported", "assessed", "dispatched", "arrived", "resolved", "closed")
STAGE_COLUMNS = ("reported", "assessed", "dispatched", "arrived", "resolved", "closed",
                 "reopened", "cancelled")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# -- data ---------------------------------------------------------------------------------------
def village_points(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, list]:
    """``n`` random WGS-84 points inside the village polygons, with their village codes."""
    villages = geo.load_villages()
    x0, y0, x1, y1 = villages.total_bounds
    lons, lats = np.empty(0), np.empty(0)
    while lons.size < n:
        x, y = rng.uniform(x0, x1, 4 * n), rng.uniform(y0, y1, 4 * n)
        inside = np.zeros(x.size, dtype=bool)
        for polygon in villages.geometry:
            inside |= shapely.contains_xy(polygon, x, y)
        lons, lats = np.concatenate([lons, x[inside]]), np.concatenate([lats, y[inside]])
    lons, lats = lons[:n], lats[:n]
    return lons, lats, geo.assign_villages(lons, lats)


def report_times(rng: np.random.Generator, n: int, now: datetime, tz) -> np.ndarray:
    """``n`` sorted report times (epoch s) over the last year, none later than ``now``."""
    today = now.astimezone(tz).date()
    days = [today - timedelta(days=d) for d in range(DAYS)]
    midnight = np.array([datetime(d.year, d.month, d.day, tzinfo=tz).timestamp() for d in days])
    weight = np.array([WEEKDAY[d.weekday()] * (1.0 - 0.2 * k / DAYS)
                       * (1 + 0.1 * math.sin(2 * math.pi * d.timetuple().tm_yday / 365))
                       for k, d in enumerate(days)])
    out = np.empty(0)
    while out.size < n:
        m = int(n * 1.05) + 1000
        day = rng.choice(DAYS, m, p=weight / weight.sum())
        hour = rng.choice(24, m, p=HOURLY / HOURLY.sum())
        t = midnight[day] + hour * 3600 + rng.uniform(0, 3600, m)
        out = np.concatenate([out, t[t < now.timestamp() - 1]])
    return np.sort(rng.choice(out, n, replace=False))


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def plan(rng: np.random.Generator, n: int, n_open: int, now: datetime,
         tz) -> dict[str, np.ndarray]:
    """Column arrays of ``n`` incidents: report time, kind, place, which are open, repeats."""
    reported = report_times(rng, n, now, tz)
    category = rng.choice(list(CATEGORIES), n, p=list(CATEGORIES.values()))
    priority = rng.choice(list(PRIORITIES), n, p=list(PRIORITIES.values()))
    lon, lat, village = village_points(rng, n)
    village = np.array(village, dtype=object)
    age = now.timestamp() - reported
    # the open ones: a weighted draw favouring recent reports (Gumbel top-k), plus a tail
    key = -age / (n_open / (n / DAYS) * 86400) + rng.gumbel(size=n)
    is_open = np.zeros(n, dtype=bool)
    is_open[np.argpartition(-key, n_open)[:n_open]] = True
    # repeat groups: a seed and the next few reports become the same kind, ~80 m around it
    group = np.full(n, -1)
    for seed in np.sort(rng.choice(n - 100, n // 70, replace=False)):
        if group[seed] >= 0:
            continue
        members = seed + np.cumsum(rng.integers(1, 30, rng.integers(1, 4)))
        members = members[group[members] < 0]
        group[seed] = group[members] = seed
        category[members], village[members] = category[seed], village[seed]
        lon[members] = lon[seed] + rng.uniform(-0.0006, 0.0006, members.size)
        lat[members] = lat[seed] + rng.uniform(-0.0005, 0.0005, members.size)
    size = np.bincount(group[group >= 0], minlength=n)
    return {"reported": reported, "category": category, "priority": priority, "lon": lon,
            "lat": lat, "village": village, "open": is_open, "group": group,
            "group_size": np.where(group >= 0, size[np.maximum(group, 0)], 0)}


def _stages(rng: random.Random, r: float, is_open: bool, now: float, limit: Callable,
            overdue: bool) -> tuple[dict[str, float], str, float]:
    """Stage → entry time (epoch s) of one incident, its current stage and stage time."""
    if not is_open:
        if rng.random() < 0.03:
            t = {"reported": r, "cancelled": r + rng.lognormvariate(math.log(600), 1)}
        else:
            t, at = {"reported": r}, r
            for stage in LOOP[1:]:
                at += rng.lognormvariate(math.log(STEP_MEDIANS[stage]), 0.8)
                t[stage] = at
            if rng.random() < 0.01:  # closed, reopened, closed again
                t["reopened"] = at + rng.lognormvariate(math.log(86400), 1)
                t["closed_again"] = t["reopened"] + rng.lognormvariate(math.log(7200), 1)
        last = max(t.values())
        if last >= now:  # reported a short while ago and already finished: a quicker loop
            fit = (now - r) * rng.uniform(0.2, 0.95)
            t = {k: r + (v - r) * fit / (last - r) for k, v in t.items()}
        stage = "cancelled" if "cancelled" in t else "closed"
        return t, stage, max(t.values())
    age = now - r
    if age < 900:
        stage = rng.choices(["reported", "assessed", "dispatched"], [0.4, 0.3, 0.3])[0]
    elif age < 7200:
        stage = rng.choices(["assessed", "dispatched", "arrived"], [0.1, 0.3, 0.6])[0]
    else:
        stage = rng.choices(["arrived", "resolved", "reopened"], [0.35, 0.55, 0.10])[0]
    span = limit(stage)
    if stage == "reported":
        return {"reported": r}, stage, r
    if overdue:
        at = now - span - rng.expovariate(1 / 2400)
    else:
        at = now - rng.uniform(0.05, 0.95) * min(span, age)
    at = max(at, r + 1)
    chain = list(LOOP[:LOOP.index(stage) + 1]) if stage != "reopened" else [*LOOP, "reopened"]
    t = {s: r + (at - r) * k / (len(chain) - 1) for k, s in enumerate(chain)}
    return t, stage, at


def incidents_chunk(rng: random.Random, p: dict[str, np.ndarray], lo: int, hi: int, now: datetime,
                    config: GovernanceConfig, names: dict) -> dict[str, list[dict]]:
    """Rows of incidents ``[lo, hi)`` and of their history, notices and escalations."""
    limits: dict[tuple, float | None] = {}
    out: dict[str, list[dict]] = {"incidents": [], "events": [], "notices": [], "escalations": []}
    now_s = now.timestamp()
    notice_since = now_s - NOTICE_DAYS * 86400
    col = {name: values[lo:hi].tolist() for name, values in p.items()}  # plain Python values
    for i in range(lo, hi):
        iid, cat, pri, village = f"QS{i:07d}", col["category"][i - lo], col["priority"][i - lo], \
            col["village"][i - lo]

        def limit(stage: str, cat=cat, pri=pri) -> float:
            if (cat, pri, stage) not in limits:
                span = config.limit(cat, pri, stage)
                limits[cat, pri, stage] = None if span is None else span.total_seconds()
            return limits[cat, pri, stage] or 86400.0

        r = col["reported"][i - lo]
        times, stage, stage_at = _stages(rng, r, col["open"][i - lo], now_s, limit,
                                         overdue=rng.random() < 0.15)
        suggested = config.route(cat, village, None)
        team = (suggested if rng.random() < 0.9 else "zz-2") if "dispatched" in times else None
        title = TITLES[cat][i % len(TITLES[cat])]
        address = f"乔司街道{names.get(village, {}).get('name', '')}{i % 97 + 1}号"
        at = {k: _at(v) for k, v in times.items()}
        due = None
        if stage not in ("closed", "cancelled") and limits.get((cat, pri, stage)) is not None:
            due = at[stage] + timedelta(seconds=limits[cat, pri, stage])
        late = (now - due).total_seconds() if due and due <= now else None
        level = config.level_index(timedelta(seconds=late)) if late is not None else 0
        group = col["group"][i - lo]
        stamp = [at["reported"].isoformat(), f"{iid}-reported", "bench"]
        last_stage = "closed" if "closed_again" in at else stage
        row = {
            "incident_id": iid, "category": cat, "priority": pri, "stage": stage,
            "stage_at": _at(stage_at), "title": title, "address": address,
            "lon": col["lon"][i - lo], "lat": col["lat"][i - lo], "village_code": village,
            "grid": None, "team": team, "unit": None, "disposition": None, "source": "bench",
            **{f"{s}_at": at.get(s) for s in STAGE_COLUMNS},
            "reopen_count": int("reopened" in at), "illegal_count": 0, "late_count": 0,
            "lifecycle": {"last": [_at(stage_at).isoformat(), STAGE_COLUMNS.index(last_stage),
                                   f"{iid}-{last_stage}", "bench"], "notes": []},
            "suggested_team": suggested, "limit_s": None if due is None else
            limits[cat, pri, stage], "due_at": due, "escalation_level": level,
            "repeat_group": None if group < 0 else f"QS{group:07d}",
            "repeat_size": col["group_size"][i - lo],
            "field_times": {f: stamp for f in ("category", "priority", "title", "address",
                                               "lon", "lat", "village", "source")},
            "event_count": len(at), "updated_at": _at(stage_at + 1.5),
        }
        out["incidents"].append(row)
        for k, (s, t) in enumerate(at.items()):
            kind = "closed" if s == "closed_again" else s
            body = {"category": cat, "priority": pri, "title": title, "address": address,
                    "lon": row["lon"], "lat": row["lat"], "crs": "wgs84"} \
                if kind == "reported" else ({"team": team} if kind == "dispatched" else {})
            out["events"].append({
                "event_id": f"{iid}-{s}", "source": "bench", "incident_id": iid,
                "type": f"incident.{kind}", "occurred_at": t,
                "received_at": t + timedelta(seconds=0.4),
                "stream_id": f"{int(t.timestamp() * 1000)}-{k}", "payload": body})
        if r >= notice_since and config.notifies(pri):
            notice = notice_row(f"{iid}/new", "new_incident", row, config, 0,
                                at["reported"] + timedelta(seconds=2))
            unacked = col["open"][i - lo] and now_s - r < 1800 and rng.random() < 0.5
            notice.update(published_at=notice["created_at"], stream_id="0-1",
                          delivered_at=notice["created_at"] + timedelta(seconds=1),
                          delivered_channel="voice")
            if not unacked:
                notice.update(acked_at=notice["created_at"] + timedelta(
                    seconds=rng.uniform(5, 120)), acked_by="值班员", ack_channel="wall")
            out["notices"].append(notice)
        for k in range(level):
            lv = config.escalation[k]
            raised = min(now, due + lv.after + timedelta(seconds=20))
            nid = f"{iid}/overdue/{stage}/{lv.level}"
            out["escalations"].append({"incident_id": iid, "stage": stage,
                                       "stage_at": at[stage], "level": lv.level,
                                       "due_at": due + lv.after, "raised_at": raised,
                                       "notification_id": nid})
            out["notices"].append(notice_row(nid, "overdue", row, config, k, raised,
                                             late_s=(raised - due).total_seconds()))
    return out


def load(services: Services, rows: int, n_open: int, seed: int = 7) -> float:
    """Fill the store; returns the seconds it took."""
    started = time.perf_counter()
    rng = random.Random(seed)
    settings, now = services.settings, utc_now()
    p = plan(np.random.default_rng(seed), rows, n_open, now, settings.tz)
    names = geo.village_names()
    tables = {"incidents": Incident.__table__, "events": IncidentEventRow.__table__,
              "notices": Notification.__table__, "escalations": Escalation.__table__}
    for lo in range(0, rows, CHUNK):
        chunk = incidents_chunk(rng, p, lo, min(rows, lo + CHUNK), now, settings.governance,
                                names)
        with services.engine.begin() as conn:
            for name, table in tables.items():
                insert_rows(conn, table, chunk[name])
        print(f"\r  loaded {min(rows, lo + CHUNK):,} / {rows:,} incidents "
              f"({time.perf_counter() - started:.0f} s)", end="", flush=True)
    print()
    if services.engine.url.get_backend_name() == "postgresql":
        # what autovacuum does after a bulk load (statistics, visibility map); SQLite's planner
        # runs without statistics in the cockpit (nothing runs ANALYZE there), so none here
        with services.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    return time.perf_counter() - started


# -- stores -------------------------------------------------------------------------------------
@contextmanager
def store(url: str, redis_url: str, replace: bool, keep: bool) -> Iterator[Services]:
    """Services over ``url``, migrated. A PostgreSQL database is created when missing (with
    ``replace``: dropped and created again) and dropped on exit when created here, unless
    ``keep``."""
    parsed = make_url(url)
    postgres = parsed.get_backend_name() == "postgresql"
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT") \
        if postgres else None
    created = False
    if admin is not None:
        with admin.connect() as conn:
            exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                 {"n": parsed.database})
            if exists and replace:
                conn.execute(text(f'DROP DATABASE "{parsed.database}" WITH (FORCE)'))
            if not exists or replace:
                conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
                created = True
    settings = Settings(REDIS_URL=redis_url, DATABASE_URL=url,
                        data_dir=Path(tempfile.gettempdir()))
    engine = make_engine(url)
    upgrade(engine)
    # the refresh needs no Redis: the client connects lazily and is never used here
    services = Services(settings, redis.Redis.from_url(redis_url), engine,
                        session_factory(engine))
    try:
        yield services
    finally:
        services.close()
        if admin is not None:
            if created and not keep:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" '
                                      "WITH (FORCE)"))
            admin.dispose()


def count(services: Services) -> tuple[int, int]:
    with services.read() as session:
        return (session.scalar(select(func.count()).select_from(Incident)),
                session.scalar(select(func.count()).where(Incident.stage.in_(queries.OPEN_STAGES))))


class Clock:
    """The store's own time: its latest change was ``lag`` ago when the run started.

    A store loaded (or kept) a while ago is measured as if it were current, so "today", the
    announcement window and the overdue board hold what they would on a live wall.
    """

    def __init__(self, services: Services, lag: timedelta = timedelta(seconds=1)) -> None:
        with services.read() as session:
            latest = session.scalar(select(func.max(Incident.updated_at)))
        self.start = (latest or utc_now()) + lag
        self.started = time.perf_counter()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=time.perf_counter() - self.started)


def add_store_options(parser: argparse.ArgumentParser, rows: int, n_open: int, samples: int,
                      samples_help: str) -> None:
    """Add the options of a benchmark on a loaded store: size, database, keep and reuse."""
    parser.add_argument("--rows", type=int, default=rows, help="incidents stored")
    parser.add_argument("--open", type=int, default=n_open, help="of which still open")
    parser.add_argument("--samples", type=int, default=samples, help=samples_help)
    parser.add_argument("--database-url", help="loaded store (default: SQLite in a temp dir)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--keep", action="store_true", help="keep the loaded store")
    parser.add_argument("--reuse", action="store_true", help="measure the store as it is")


def filled(services: Services, args: argparse.Namespace, url: str) -> tuple[int, int]:
    """Load ``args.rows`` incidents unless ``args.reuse``; return (incidents, open ones).

    Raises SystemExit when the store already holds incidents and ``--reuse`` was not given.
    """
    if not args.reuse:
        if count(services)[0]:
            raise SystemExit(f"{url} holds incidents; use --reuse or another database")
        print(f"loading {args.rows:,} incidents ({args.open:,} open) into "
              f"{make_url(url).get_backend_name()} ...")
        print(f"  done in {load(services, args.rows, args.open):.0f} s")
    return count(services)
