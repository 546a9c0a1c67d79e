"""A wall left open through a busy day: 100,000 pushed updates, and its JS heap stays flat.

The updates are the wall channel's own: a day of incidents (reported → … → closed, 240 of them
spread over the last 24 hours) is ingested through the real ingest in :data:`CHUNKS` steps, and
after each step the channel's producer is asked what changed, as the push hub asks it; the
frames it answers (the map's Patch of incident traces, the panels' children: 50–120 kB each)
are what a screen receives. A wall page in Chromium then receives them round-robin through its
push client (``window.cockpitPush.receive``, the path the other tabs' relay uses), 100,000 in
all. Each is a snapshot at the page's own boot and sequence number, so each is applied and the
page's live stream goes on undisturbed. Rendering coalesces to one batch per animation frame,
as it does when the stream runs fast.

After every :data:`SAMPLE_EVERY` updates the page's garbage is collected and its heap measured
(Chrome DevTools Protocol). The samples, the least-squares trend over the settled part of the
run and the growth are printed in every run (transient samples, a render's leftovers, marked
and left out); a trend or growth above :data:`TOLERANCE` fails, and a heap that runs away
stops the feed at once.
Measured results: docs/benchmarks.md, "Wall heap soak".
"""

from __future__ import annotations

import json
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

import pytest

from app import create_app
from callbacks.push import EXTENSION, encode
from layouts.wall import WallIds
from tests.access_support import browser_sign_in
from tests.browser_support import chrome, live_server, severe_errors
from tests.factories import incident_fields
from tests.test_push import _ingest
from tests.test_wall_browser import Wall

pytestmark = pytest.mark.browser

UPDATES = 100_000
SAMPLE_EVERY = 5_000
#: Updates fed per animation frame: they merge into one render, as a fast stream's do. A render
#: of the wall costs ~0.2 s here, so this keeps the run to ~100 renders.
PER_FRAME = 1_000
#: Producer calls over the day: each one gives a distinct frame.
CHUNKS = 12
#: The settled part of the run: from this fraction of the samples on (the JIT, plotly's and
#: React's caches have warmed up by then).
SETTLED_FROM = 0.4
#: Allowed trend (least squares, per 100,000 updates) and growth of the heap over the settled
#: part, bytes. Runs without a leak measure a trend of +0.8–1.0 ± 0.1 MiB (V8's optimised code
#: still growing; objects and DOM nodes stay flat) and a growth of +0.4 MiB; a push client
#: keeping one small record per update (~37 bytes) measured +4.4 MiB. See docs/benchmarks.md.
TOLERANCE = 2 * 1024 * 1024
#: A sample this far above both its neighbours is a transient (measured: 0.7–2 MiB, gone
#: a second later), bytes.
SPIKE = 512 * 1024
#: Feeding stops when the heap has grown this much (a leak: the run has failed already).
RUNAWAY = 64 * 1024 * 1024
STAGES = ("reported", "assessed", "dispatched", "arrived", "resolved", "closed")
CATEGORIES = ("fire", "police", "medical", "traffic", "urban_management", "public_safety")

#: Feed ``count`` frames from ``start`` on, ``perFrame`` per animation frame, each as a snapshot
#: at the client's current boot and seq (the frames are JSON objects without them); answer
#: once the last batch has been rendered (two animation frames and a task later).
FEED = """
const [key, frames, start, count, perFrame, done] = arguments;
let n = 0;
function step() {
  const {boot, seq} = window.cockpitPush.stats()[key];
  const envelope = ',"boot":' + JSON.stringify(boot) + ',"seq":' + seq + '}';
  for (let i = 0; i < perFrame && n < count; i++, n++) {
    const text = frames[(start + n) % frames.length];
    window.cockpitPush.receive(key, text.slice(0, -1) + envelope);
  }
  if (n < count) {
    requestAnimationFrame(step);
  } else {
    requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(() => done(n), 0)));
  }
}
step();
"""


def day_events(now: datetime) -> list[dict[str, str]]:
    """A day of 240 incidents up to ``now``, each through 1–6 stages, in time order (fields)."""
    rng = random.Random(5)
    events = []
    for n in range(240):
        start = now - timedelta(hours=24) + timedelta(minutes=6 * n)
        last = rng.randrange(1, len(STAGES) + 1)
        for k, stage in enumerate(STAGES[:last]):
            at = min(start + timedelta(minutes=4 * k), now - timedelta(seconds=1))
            extra = {"category": rng.choice(CATEGORIES),
                     "lon": f"{120.27 + rng.uniform(-0.02, 0.03):.5f}",
                     "lat": f"{30.35 + rng.uniform(-0.015, 0.02):.5f}"} if k == 0 else {}
            events.append((at, incident_fields(f"SOAK-{n:03d}", stage, at, **extra)))
    events.sort(key=lambda pair: pair[0])
    return [fields for _, fields in events]


def day_of_frames(services, app) -> list[str]:
    """The wall channel's updates over a day ingested in :data:`CHUNKS` steps: JSON texts of
    ``{"response": …, "kind": "snapshot"}`` (the feed adds ``boot`` and ``seq``)."""
    produce = app.server.extensions[EXTENSION].producer("wall:zh")
    events = day_events(datetime.now(UTC))
    size = -(-len(events) // CHUNKS)
    frames, seen = [], {}
    for chunk in range(0, len(events), size):
        _ingest(services, *events[chunk:chunk + size])
        update, seen = produce(seen)
        if update is not None:
            frames.append(encode({**update, "kind": "snapshot"}))
    return frames


def heap_used(driver) -> int:
    """The page's JS heap in use after two full garbage collections, bytes (what the first
    one's finalizers and weak callbacks let go of is collected by the second)."""
    for _ in range(2):
        driver.execute_cdp_cmd("HeapProfiler.collectGarbage", {})
    return int(driver.execute_cdp_cmd("Runtime.getHeapUsage", {})["usedSize"])


def slope(samples: list[tuple[int, int]]) -> tuple[float, float]:
    """Least-squares slope of heap over updates and its standard error, bytes per update
    (the error is 0 for fewer than three samples)."""
    xs, ys = [x for x, _ in samples], [y for _, y in samples]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in samples) / sxx
    residual = sum((y - my - b * (x - mx)) ** 2 for x, y in samples)
    return b, (residual / (len(xs) - 2) / sxx) ** 0.5 if len(xs) > 2 else 0.0


def transients(samples: list[tuple[int, int]]) -> set[int]:
    """Indexes of the samples above both their neighbours by more than :data:`SPIKE`: taken
    while a render's leftovers were still alive. A leak raises every later sample as well,
    so its samples are never among them."""
    return {i for i in range(1, len(samples) - 1)
            if samples[i][1] - max(samples[i - 1][1], samples[i + 1][1]) > SPIKE}


def report(samples: list[tuple[int, int]], frames: int,
           renders: int) -> tuple[float, float, str]:
    """Return the trend and the growth of the settled part (bytes) and the text to print.

    Transient samples (:func:`transients`) are left out. The growth is the median of the
    settled part's last three samples less that of its first three (one each in a short run).
    """
    dropped = transients(samples)
    kept = [sample for i, sample in enumerate(samples) if i not in dropped]
    settled = [s for s in kept if s[0] >= samples[int(len(samples) * SETTLED_FROM)][0]]
    settled = settled if len(settled) >= 2 else kept[-2:]
    trend, error = (UPDATES * value for value in slope(settled))
    ends = min(3, len(settled) // 2)
    growth = statistics.median(y for _, y in settled[-ends:]) - statistics.median(
        y for _, y in settled[:ends])
    mib = 1024 * 1024
    lines = [f"wall heap over {samples[-1][0]:,} updates ({frames} distinct frames, "
             f"{renders:,} renders):"]
    for i, (updates, used) in enumerate(samples):
        note = "  transient: left out" if i in dropped else ""
        lines.append(f"  {updates:>7,} updates  {used / mib:7.2f} MiB{note}")
    lines.append(f"  settled (from {settled[0][0]:,} updates): trend {trend / mib:+.2f} "
                 f"± {error / mib:.2f} MiB per {UPDATES:,} updates; growth "
                 f"{growth / mib:+.2f} MiB (tolerance {TOLERANCE / mib:.0f} MiB)")
    return trend, growth, "\n".join(lines)


def test_soak001_a_day_of_updates_leaves_the_heap_flat(sqlite_services, shown):
    app = create_app(services=sqlite_services)
    frames = day_of_frames(sqlite_services, app)
    # real, sizeable updates: the map's traces in each, panels that moved with the day
    assert len(frames) >= 10 and sum(map(len, frames)) > 500_000
    assert all(str(WallIds.MAP) in f and "__dash_patch_update" in f for f in frames)
    # the today count shown at the end: the last fed frame that carries it (a frame carries
    # only the parts that changed since the one before it)
    kpi = str(WallIds.KPI_TODAY)
    last = next(response for response in (
        json.loads(frames[(UPDATES - 1 - back) % len(frames)])["response"]
        for back in range(len(frames))) if kpi in response)
    with live_server(app.server) as server, chrome() as driver:
        driver.set_script_timeout(120)
        browser_sign_in(driver, server.url, sqlite_services, "wall")
        wall = Wall(server.url, driver, sqlite_services)
        wall.open("/")
        key = driver.execute_script("return Object.keys(window.cockpitPush.stats())[0]")
        before = driver.execute_script("return window.cockpitPush.stats()[arguments[0]]", key)
        samples = [(0, heap_used(driver))]
        while samples[-1][0] < UPDATES and samples[-1][1] - samples[0][1] < RUNAWAY:
            fed = samples[-1][0]
            fed += driver.execute_async_script(FEED, key, frames, fed, SAMPLE_EVERY, PER_FRAME)
            samples.append((fed, heap_used(driver)))
        # the last sample has no later neighbour to show it transient: it is read again
        time.sleep(1)
        samples[-1] = (samples[-1][0], min(samples[-1][1], heap_used(driver)))
        stats = driver.execute_script("return window.cockpitPush.stats()[arguments[0]]", key)
        trend, growth, text = report(samples, len(frames), stats["applied"] - before["applied"])
        shown(text)  # the measure is this test's product: printed at the end of every run
        assert samples[-1][0] >= UPDATES, f"the heap grew by more than {RUNAWAY:,} bytes"
        assert stats["frames"] - before["frames"] >= UPDATES
        assert stats["applied"] - before["applied"] >= UPDATES // PER_FRAME
        assert stats["mode"] == "stream" and not stats["stale"]  # the live stream went on
        # the page shows the last update fed
        assert wall.text(WallIds.KPI_TODAY) == last[kpi]["children"]
        assert severe_errors(driver) == []
    assert trend < TOLERANCE and growth < TOLERANCE
