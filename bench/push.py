"""Push fan-out: from an upstream XADD to its receipt on each of N open screens (issue 8).

Starts the real parts as separate processes, as deployed: the web app under waitress (the
command line of ``cockpit serve``, threads sized for the streams) and ``cockpit ingest``. Then
N screens open the wall's push stream (``/push/wall/events``, each its own connection, driven by
asyncio in this process) and a producer XADDs ``incident.reported`` at ``--rate`` per second for
``--seconds``. A screen has received an incident when a frame carrying its id arrives (the map
and the latest list both name it). For each incident and screen: receipt time − XADD time (one
machine clock).

The same run is made with one screen first: the baseline, measured here and now; the ratio of
the two p95 shows what the fan-out to N screens costs.

    python bench/push.py [--clients 200] [--rate 20] [--seconds 30]

Target (DESIGN §8): with 200 screens at 20 incidents/s, p95 ≤ 1 s (aim ≤ 250 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cockpit import geo  # noqa: E402
from cockpit.services import Services  # noqa: E402
from cockpit.settings import Settings  # noqa: E402
from cockpit.store.migrate import upgrade  # noqa: E402
from tests.access_support import http_session  # noqa: E402
from tests.push_support import ServerProcess, server_env  # noqa: E402

CATEGORIES = ("fire", "police", "medical", "traffic", "urban_management", "public_safety",
              "other")
ID = re.compile(rb"BP\d{6}")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def places() -> list[tuple[float, float]]:
    """A point inside each village (WGS-84), where the bench's incidents happen."""
    villages = geo.load_villages()
    points = villages.geometry.representative_point()
    return [(p.x, p.y) for p in points]


def incident(number: int, rng: random.Random, spots: list[tuple[float, float]]) -> dict:
    lon, lat = rng.choice(spots)
    token = f"BP{number:06d}"
    return {"event_id": token, "type": "incident.reported",
            "occurred_at": str(int(time.time() * 1000)), "source": "bench",
            "incident_id": token, "category": rng.choice(CATEGORIES), "priority": "紧急",
            "title": f"压测 {token}", "address": "乔司街道",
            "lon": f"{lon + rng.uniform(-0.002, 0.002):.6f}",
            "lat": f"{lat + rng.uniform(-0.002, 0.002):.6f}", "crs": "wgs84"}


async def screen(port: int, cookie: str, seen: dict[bytes, float], ready: asyncio.Event,
                 stop: asyncio.Event) -> None:
    """One screen: read the stream, stamp the first frame naming each incident."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2 ** 26)
    writer.write((f"GET /push/wall/events?lang=zh HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n"
                  f"Cookie: {cookie}\r\nAccept: text/event-stream\r\n\r\n").encode())
    await writer.drain()
    status = await reader.readline()
    if b" 200 " not in status:
        raise RuntimeError(f"stream refused: {status!r}")
    while await reader.readline() not in (b"\r\n", b""):
        pass
    ready.set()
    try:
        while not stop.is_set():
            line = await reader.readline()
            if not line:
                break
            if line.startswith(b"data: "):
                now = time.time()
                for token in set(ID.findall(line)):
                    seen.setdefault(token, now)
    finally:
        writer.close()


async def run(port: int, cookie: str, clients: int, services: Services, settings: Settings,
              rate: float, seconds: float) -> tuple[list[float], int, int]:
    """Open ``clients`` screens, produce for ``seconds``; return latencies (ms), sent, missed."""
    stop = asyncio.Event()
    seen = [dict() for _ in range(clients)]
    ready = [asyncio.Event() for _ in range(clients)]
    tasks = []
    for n in range(clients):
        tasks.append(asyncio.create_task(screen(port, cookie, seen[n], ready[n], stop)))
        if n % 20 == 19:
            await asyncio.sleep(0.05)  # a hall full of screens coming on, not one SYN flood
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in ready)), 60)
    await asyncio.sleep(2)  # their snapshots have arrived
    rng, spots = random.Random(11), places()
    sent: dict[bytes, float] = {}
    stream = settings.stream("incidents")
    start = time.monotonic()
    n = 0
    while time.monotonic() - start < seconds:
        due = start + n / rate
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        base = time.monotonic()
        fields = incident(RUN_OFFSET + n, rng, spots)
        sent[fields["incident_id"].encode()] = time.time()
        services.redis.xadd(stream, fields)
        n += 1
        if time.monotonic() - base > 0.5:
            logging.warning("XADD took %.0f ms", (time.monotonic() - base) * 1000)
    await asyncio.sleep(3)  # the last ones arrive
    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    latencies, missed = [], 0
    for received in seen:
        for token, at in sent.items():
            if token in received:
                latencies.append((received[token] - at) * 1000)
            else:
                missed += 1
    return latencies, len(sent), missed


RUN_OFFSET = 0


def main() -> int:
    global RUN_OFFSET
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0, help="incidents per second")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cockpit-push-"))
    settings = Settings(REDIS_URL=args.redis_url, DATABASE_URL=f"sqlite:///{tmp / 'db.sqlite3'}",
                        data_dir=tmp, stream_prefix=f"push:{uuid.uuid4().hex[:8]}:",
                        secret_key=secrets.token_urlsafe(32), pd_key=secrets.token_urlsafe(32),
                        push_max_clients=args.clients + 20)
    services = Services.from_settings(settings)
    upgrade(services.engine)
    web = ServerProcess(settings).start()
    ingest = subprocess.Popen([str(Path(sys.executable).with_name("cockpit")), "ingest",
                               "--block-ms", "200"],
                              env=server_env(settings, web.port), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        opener = http_session(web.url, services, "wall")
        jar = next(h.cookiejar for h in opener.handlers if hasattr(h, "cookiejar"))
        cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
        results = {}
        for clients in (1, args.clients):
            latencies, sent, missed = asyncio.run(run(web.port, cookie, clients, services,
                                                      settings, args.rate, args.seconds))
            results[clients] = latencies
            print(f"{clients:4d} screen(s): {sent} incidents at {args.rate:g}/s, "
                  f"{len(latencies)} receipts, {missed} missed   "
                  f"p50 {statistics.median(latencies):6.0f} ms   "
                  f"p95 {pct(latencies, 95):6.0f} ms   max {max(latencies):6.0f} ms")
            RUN_OFFSET += 100_000
        one, many = pct(results[1], 95), pct(results[args.clients], 95)
        print(f"ratio p95 ({args.clients} screens / 1 screen): {many / max(one, 0.01):.2f}×   "
              f"target: p95 <= 1000 ms (aim 250 ms): {'met' if many <= 1000 else 'NOT met'}")
    finally:
        ingest.terminate()
        ingest.wait(10)
        web.stop()
        keys = list(services.redis.scan_iter(match=f"{settings.stream_prefix}*"))
        if keys:
            services.redis.delete(*keys)
        services.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
