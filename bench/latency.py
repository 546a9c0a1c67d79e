"""Latency from an upstream XADD to the change being visible on an open wall page (DESIGN §8).

Starts the real parts in this process (ingest consumer thread, the web app under waitress) and
opens the wall page in Debian's headless chromium. For each sample it XADDs an
``incident.reported`` with a unique title and waits until that title is in the page's DOM; a
MutationObserver in the page stamps the moment (same machine clock as the XADD).

Baseline, measured in the same run: the transport floor — XADD to the time a blocking XREAD of
a second client returns the entry.

    python bench/latency.py [--samples 40]

Target: p95 <= 1 s (aim 250 ms).
"""

from __future__ import annotations

import argparse
import logging
import random
import secrets
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis  # noqa: E402

from app import create_app  # noqa: E402
from cockpit.ingest import Ingestor  # noqa: E402
from cockpit.services import Services  # noqa: E402
from cockpit.settings import Settings  # noqa: E402
from cockpit.store.migrate import upgrade  # noqa: E402
from tests.access_support import kiosk_link  # noqa: E402
from tests.browser_support import chrome, live_server  # noqa: E402

OBSERVER = """
window.__seen = {};
new MutationObserver(() => {
  const text = document.body.innerText;
  for (const token of window.__want || []) {
    if (!(token in window.__seen) && text.includes(token)) window.__seen[token] = Date.now();
  }
}).observe(document.body, {childList: true, subtree: true, characterData: true});
"""


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def transport_floor(r: redis.Redis, stream: str, samples: int) -> list[float]:
    reader = redis.Redis(connection_pool=r.connection_pool)
    out = []
    for n in range(samples):
        last = r.xinfo_stream(stream)["last-generated-id"] if r.exists(stream) else "0-0"
        got: list[float] = []

        def read(after: str = last, into: list[float] = got) -> None:
            reader.xread({stream: after}, block=2000)
            into.append(time.time())

        thread = threading.Thread(target=read)
        thread.start()
        time.sleep(0.05)
        sent = time.time()
        r.xadd(stream, {"n": str(n)})
        thread.join()
        out.append((got[0] - sent) * 1000)
    return out


def incident(token: str) -> dict[str, str]:
    return {"event_id": token, "type": "incident.reported",
            "occurred_at": str(int(time.time() * 1000)),
            "source": "bench", "incident_id": token, "category": "火情", "priority": "紧急",
            "title": token, "address": "乔司街道", "lon": "120.2819", "lat": "30.3518",
            "crs": "wgs84"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    tmp = Path(tempfile.mkdtemp(prefix="cockpit-latency-"))
    settings = Settings(REDIS_URL=args.redis_url, DATABASE_URL=f"sqlite:///{tmp / 'db.sqlite3'}",
                        data_dir=tmp, stream_prefix=f"lat:{uuid.uuid4().hex[:8]}:",
                        secret_key=secrets.token_urlsafe(32), pd_key=secrets.token_urlsafe(32))
    services = Services.from_settings(settings)
    upgrade(services.engine)
    stop = threading.Event()
    worker = Ingestor(settings, services.redis, services.sessions, consumer="lat", block_ms=1000)
    ingest = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    ingest.start()
    try:
        with live_server(create_app(settings, services=services).server) as server, \
                chrome() as driver:
            driver.get(server.url + kiosk_link(services, "bench-wall"))  # a wall screen
            time.sleep(3)
            driver.execute_script(OBSERVER)
            page: list[float] = []
            rng = random.Random(7)
            for n in range(args.samples):
                token = f"LAT{n:03d}x{uuid.uuid4().hex[:6]}"
                driver.execute_script(
                    "window.__want = (window.__want || []).concat([arguments[0]])", token)
                sent = time.time()
                services.redis.xadd(settings.stream("incidents"), incident(token))
                deadline = time.time() + 10
                seen = None
                while time.time() < deadline:
                    seen = driver.execute_script("return window.__seen[arguments[0]]", token)
                    if seen:
                        break
                    time.sleep(0.02)
                page.append((seen / 1000 - sent) * 1000 if seen else 10_000.0)
                # a random pause, so samples do not lock onto the page's poll phase
                time.sleep(rng.uniform(0.1, 1.1))
        floor = transport_floor(services.redis, settings.key("floor"), args.samples)
        print(f"samples: {args.samples}  refresh interval: {settings.refresh_ms} ms")
        print(f"baseline  XADD → XREAD (transport) : p50 {statistics.median(floor):7.1f} ms   "
              f"p95 {pct(floor, 95):7.1f} ms")
        print(f"cockpit   XADD → visible on page   : p50 {statistics.median(page):7.1f} ms   "
              f"p95 {pct(page, 95):7.1f} ms")
        print(f"ratio p95 (cockpit / baseline): {pct(page, 95) / max(pct(floor, 95), 0.01):.0f}×"
              f"   target: p95 <= 1000 ms (aim 250 ms): "
              f"{'met' if pct(page, 95) <= 1000 else 'NOT met'}")
    finally:
        stop.set()
        ingest.join(timeout=5)
        keys = list(services.redis.scan_iter(match=f"{settings.stream_prefix}*"))
        if keys:
            services.redis.delete(*keys)
        services.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
