"""Load: N clients against the web app served the production way, next to one client (issue 9).

Starts the web app as deployed — gunicorn with ``deploy/gunicorn.conf.py`` (``--server
waitress``: the command line of ``cockpit serve``) — on a Redis (the machine's, under a private
key prefix removed at the end) and a fresh SQLite store holding a realistic day: ``--incidents``
incidents reported over the last 24 hours, through the real ingest, each carried through its
life cycle (reported → … → closed) with a share stopped at every stage, so the wall, the overdue
board, the map and the API have open and closed work to show.

Each client is a thread with one HTTP session per role, signed in the app's own way: a wall
screen by a kiosk link, a leader and a staff account (three villages) through the sign-in form;
sessions are shared round-robin from a pool of ``--sessions`` per role (signing in costs an
Argon2 hash). For ``--duration`` seconds a client sends request after request, each route
picked at random by its weight in :data:`ROUTES` — the pages' own router callback (a Dash
``POST /_dash-update-component``, what rendering a page costs), the push snapshots screens that
cannot keep a stream poll, the staff map's points, the read API and ``/healthz``. The run is
made with one client first (the baseline of the same run), then with ``--clients``.

Per route and phase: requests, throughput (req/s), p50 / p95 / p99 latency and errors (a status
other than 200, or no answer); then the ratio of the N-client p95 to the one-client p95.

    python bench/load.py [--clients 200] [--duration 30] [--server gunicorn|waitress] [--json]

Measure on a quiet machine: the clients run on the same cores as the server.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cockpit import geo  # noqa: E402
from cockpit.services import Services  # noqa: E402
from cockpit.settings import Settings  # noqa: E402
from cockpit.store.migrate import upgrade  # noqa: E402
from tests.access_support import PASSWORD, add_account, kiosk_link  # noqa: E402
from tests.factories import STAGE_TYPES, incident_fields  # noqa: E402
from tests.push_support import ServerProcess, free_port, server_env  # noqa: E402
from tests.store_support import ingest  # noqa: E402

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
CATEGORIES = ("fire", "police", "medical", "traffic", "urban_management", "public_safety",
              "other")


def _router(pathname: str, search: str = "?lang=zh") -> dict:
    """The body of the shell's router callback for a path: what opening a page costs."""
    inputs = [{"id": "shell-url", "property": "pathname", "value": pathname},
              {"id": "shell-url", "property": "search", "value": search}]
    return {"output": "shell-page.children",
            "outputs": {"id": "shell-page", "property": "children"},
            "inputs": inputs, "state": [], "changedPropIds": ["shell-url.pathname"]}


#: (route name, role, method, path, JSON body, weight)
ROUTES = [
    ("GET /healthz", None, "GET", "/healthz", None, 1),
    ("GET / (wall shell)", "wall", "GET", "/", None, 1),
    ("POST callback: wall page", "wall", "POST", "/_dash-update-component", _router("/"), 1),
    ("GET /push/wall/snapshot", "wall", "GET", "/push/wall/snapshot?lang=zh", None, 4),
    ("POST callback: tablet page", "leader", "POST", "/_dash-update-component",
     _router("/tablet"), 1),
    ("GET /push/tablet/snapshot", "leader", "GET", "/push/tablet/snapshot?lang=zh", None, 2),
    ("POST callback: incidents page", "staff", "POST", "/_dash-update-component",
     _router("/incidents"), 1),
    ("GET /map/points.json", "staff", "GET", "/map/points.json?period=7d", None, 1),
    ("GET /api/v1/summary", "leader", "GET", "/api/v1/summary", None, 2),
    ("GET /api/v1/incidents", "leader", "GET", "/api/v1/incidents?period=today&limit=50",
     None, 1),
    ("GET /api/v1/overdue", "leader", "GET", "/api/v1/overdue", None, 1),
]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# -- the state: a day of incidents through the real ingest -------------------------------------

def fill(services: Services, incidents: int, seed: int = 7) -> int:
    """Ingest ``incidents`` life cycles over the last 24 h; returns the events sent."""
    rng = random.Random(seed)
    villages = geo.load_villages()
    spots = [(p.x, p.y) for p in villages.geometry.representative_point()]
    now = datetime.now(UTC)
    events = []
    for n in range(incidents):
        start = now - timedelta(seconds=rng.uniform(60, 24 * 3600))
        lon, lat = rng.choice(spots)
        last = rng.choices(range(len(STAGE_TYPES)), weights=(1, 1, 1, 1, 1, 10))[0]
        at = start
        for stage in STAGE_TYPES[:last + 1]:
            if at > now:
                break
            extra = {}
            if stage == "reported":
                extra = {"category": rng.choice(CATEGORIES), "title": f"压测 {n}",
                         "lon": f"{lon + rng.uniform(-0.002, 0.002):.6f}",
                         "lat": f"{lat + rng.uniform(-0.002, 0.002):.6f}"}
            events.append(incident_fields(f"LOAD{n:06d}", stage, at, **extra))
            at += timedelta(seconds=rng.uniform(60, 1800))
    for start in range(0, len(events), 2000):
        ingest(services, events[start:start + 2000], consumer="bench-load")
    return len(events)


# -- sessions ----------------------------------------------------------------------------------

def _csrf_header(session: requests.Session, base: str) -> None:
    """Open a page (sets Dash's ``_csrf_token`` cookie) and send it as Dash does."""
    session.get(base + "/", timeout=60)
    token = session.cookies.get("_csrf_token")
    if token:
        session.headers["X-CSRFToken"] = token


def signed_in(base: str, services: Services, role: str, villages: str) -> requests.Session:
    """A session of a new account of ``role`` (a kiosk for ``wall``)."""
    session = requests.Session()
    if role == "wall":
        reply = session.get(base + kiosk_link(services), timeout=60)
    else:
        name = add_account(services, role, villages if role == "staff" else None)
        form = CSRF.search(session.get(base + "/signin", timeout=60).text).group(1)
        reply = session.post(base + "/signin", timeout=60, data={
            "username": name, "password": PASSWORD, "csrf_token": form})
    if reply.status_code != 200 or "/signin" in reply.url:
        raise RuntimeError(f"sign-in as {role} failed: {reply.status_code} {reply.url}")
    _csrf_header(session, base)
    return session


def copy_of(template: requests.Session) -> requests.Session:
    """A new connection pool with the same cookies and headers (one browser's session)."""
    session = requests.Session()
    session.cookies.update(template.cookies)
    session.headers.update(template.headers)
    return session


# -- the run -----------------------------------------------------------------------------------

def client(base: str, sessions: dict[str | None, requests.Session], until: float,
           rng: random.Random, out: list[tuple[str, float, str]]) -> None:
    """Send weighted random requests until ``until``; append (route, seconds, outcome) to
    ``out``; the outcome is ``"200"``, another status or the exception's name."""
    weights = [route[5] for route in ROUTES]
    while time.monotonic() < until:
        name, role, method, path, body, _ = rng.choices(ROUTES, weights)[0]
        started = time.perf_counter()
        try:
            reply = sessions[role].request(method, base + path, json=body, timeout=120)
            reply.content  # noqa: B018 - the whole answer is part of the time
            outcome = str(reply.status_code)
        except requests.RequestException as exc:
            outcome = type(exc).__name__
        out.append((name, time.perf_counter() - started, outcome))


def phase(base: str, pool: dict[str | None, list[requests.Session]], clients: int,
          duration: float, seed: int) -> dict[str, dict]:
    """``clients`` threads for ``duration`` s; per route: requests, req/s, p50/p95/p99, errors."""
    results: list[list] = [[] for _ in range(clients)]
    until = time.monotonic() + duration
    threads = []
    for n in range(clients):
        sessions = {role: copy_of(templates[n % len(templates)])
                    for role, templates in pool.items()}
        thread = threading.Thread(target=client, daemon=True, args=(
            base, sessions, until, random.Random(seed + n), results[n]))
        threads.append(thread)
        thread.start()
    for thread in threads:
        thread.join(duration + 180)
    samples = [(route, s, outcome == "200", outcome)
               for route, s, outcome in itertools.chain.from_iterable(results)]
    report = {}
    for name, *_ in ROUTES:
        times = [s * 1000 for route, s, ok, _ in samples if route == name and ok]
        kinds = Counter(outcome for route, _, ok, outcome in samples if route == name and not ok)
        errors = sum(kinds.values())
        report[name] = {"requests": len(times) + errors, "rps": (len(times) + errors) / duration,
                        "errors": errors, "error_kinds": dict(kinds),
                        **({"p50_ms": statistics.median(times), "p95_ms": pct(times, 95),
                            "p99_ms": pct(times, 99)} if times else {})}
    total = len(samples)
    report["all routes"] = {"requests": total, "rps": total / duration,
                            "errors": sum(1 for *_, ok, _ in samples if not ok),
                            **({"p50_ms": statistics.median([s * 1000 for _, s, *_ in samples]),
                                "p95_ms": pct([s * 1000 for _, s, *_ in samples], 95),
                                "p99_ms": pct([s * 1000 for _, s, *_ in samples], 99)}
                               if samples else {})}
    return report


def _cell(row: dict) -> str:
    if "p95_ms" not in row:
        return (f"{row['requests']:6d} {row['rps']:7.1f} {'—':>6} {'—':>6} {'—':>6} "
                f"{row['errors']:4d}")
    return (f"{row['requests']:6d} {row['rps']:7.1f} {row['p50_ms']:6.0f} {row['p95_ms']:6.0f} "
            f"{row['p99_ms']:6.0f} {row['errors']:4d}")


def table(one: dict, many: dict, clients: int) -> str:
    head = f"{'req':>6} {'req/s':>7} {'p50':>6} {'p95':>6} {'p99':>6} {'err':>4}"
    lines = [f"{'':31} | {'1 client (ms)':^40} | {f'{clients} clients (ms)':^40} | p95 ×",
             f"{'route':31} | {head} | {head} |"]
    for name in [route[0] for route in ROUTES] + ["all routes"]:
        a, b = one[name], many[name]
        ratio = (f"{b['p95_ms'] / a['p95_ms']:5.1f}" if "p95_ms" in a and "p95_ms" in b
                 and a["p95_ms"] > 0 else "    —")
        lines.append(f"{name:31} | {_cell(a)} | {_cell(b)} | {ratio}")
    for label, report in (("1 client", one), (f"{clients} clients", many)):
        for name, row in report.items():
            if row.get("error_kinds"):
                kinds = ", ".join(f"{k} ×{v}" for k, v in sorted(row["error_kinds"].items()))
                lines.append(f"errors, {label}, {name}: {kinds}")
    return "\n".join(lines)


def start_server(settings: Settings, kind: str, workers: int):
    """The web app on a free port: gunicorn with the shipped config, or waitress."""
    if kind == "waitress":
        server = ServerProcess(settings).start()
        return server, server.url, server.stop
    port = free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("gunicorn")), "-c",
         str(ROOT / "deploy" / "gunicorn.conf.py"), "--workers", str(workers),
         "app:make_server()"], cwd=ROOT, env=server_env(settings, port),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            if requests.get(url + "/healthz", timeout=2).status_code == 200:
                break
        except requests.RequestException:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not start") from None
            time.sleep(0.3)

    def stop() -> None:
        process.terminate()
        process.wait(40)
    return process, url, stop


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per phase")
    parser.add_argument("--server", choices=("gunicorn", "waitress"), default="gunicorn")
    parser.add_argument("--workers", type=int, default=1,
                        help="gunicorn workers (the shipped config: 1 per instance)")
    parser.add_argument("--incidents", type=int, default=3000)
    parser.add_argument("--sessions", type=int, default=10, help="signed-in sessions per role")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cockpit-load-"))
    settings = Settings(REDIS_URL=args.redis_url, DATABASE_URL=f"sqlite:///{tmp / 'db.sqlite3'}",
                        data_dir=tmp, stream_prefix=f"load:{uuid.uuid4().hex[:8]}:",
                        secret_key=secrets.token_urlsafe(32), pd_key=secrets.token_urlsafe(32))
    services = Services.from_settings(settings)
    upgrade(services.engine)
    stop = None
    try:
        sent = fill(services, args.incidents)
        _, base, stop = start_server(settings, args.server, args.workers)
        villages = ",".join(geo.load_villages()["code"].astype(str).tolist()[:3])
        pool = {role: [signed_in(base, services, role, villages)
                       for _ in range(min(args.sessions, args.clients))]
                for role in ("wall", "leader", "staff")}
        pool[None] = [requests.Session()]
        one = phase(base, pool, 1, args.duration, seed=1)
        many = phase(base, pool, args.clients, args.duration, seed=1000)
        result = {"server": args.server, "workers": args.workers if args.server == "gunicorn"
                  else None, "clients": args.clients, "duration_s": args.duration,
                  "incidents": args.incidents, "events": sent, "one": one, "many": many}
        if args.json:
            print(json.dumps(result, indent=1, ensure_ascii=False))
        else:
            served = (f"gunicorn ({args.workers} worker{'s' if args.workers > 1 else ''})"
                      if args.server == "gunicorn" else "waitress")
            print(f"{served} · SQLite · {args.incidents} incidents ({sent} events) · "
                  f"{args.duration:g} s per phase\n")
            print(table(one, many, args.clients))
            a, b = one["all routes"], many["all routes"]
            print(f"\nthroughput: {a['rps']:.1f} req/s with 1 client, {b['rps']:.1f} req/s with "
                  f"{args.clients} ({b['rps'] / max(a['rps'], 0.01):.1f}×)")
    finally:
        if stop is not None:
            stop()
        keys = list(services.redis.scan_iter(match=f"{settings.stream_prefix}*"))
        if keys:
            services.redis.delete(*keys)
        services.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
