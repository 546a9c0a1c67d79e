"""Prometheus metrics of the cockpit's processes (prometheus_client; docs/operations.md).

Each process is scraped on its own: the web app on its ``/metrics`` route
(:mod:`callbacks.metrics`), ``cockpit ingest`` on its own port
(:func:`cockpit.metrics_scrape.serve_ingest`). What is global — the consumer group's lag and
pending entries, stream lengths, Redis memory, the durable counters the ingest keeps in Redis —
is read from Redis when the web app is scraped (:class:`cockpit.metrics_scrape.QueueCollector`),
so it is reported once however many ingest processes run.

The ingest's own figures are kept by :data:`INGEST` (one lock per batch, not per entry: the
ingest budget has no margin) and exposed only by a process that ingested. A web app of several
worker processes (gunicorn) sets ``PROMETHEUS_MULTIPROC_DIR``; its ``/metrics`` then sums every
worker's files (:func:`cockpit.metrics_scrape.exposition`). Metric objects are per process by
nature: they are the one module-level state of the cockpit, and hold counts only, never a name
or a value of an event.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections import Counter as Tally
from collections.abc import Iterator, Sequence
from itertools import accumulate
from typing import Any

from prometheus_client import REGISTRY, Gauge, Histogram
from prometheus_client import Counter as PromCounter
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString

from cockpit.events import EVENT_TYPES

log = logging.getLogger(__name__)

#: Request and callback durations, seconds.
REQUEST_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: XADD → committed, seconds (a backlog after an outage reaches minutes).
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
                   1800.0)
BATCH_SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                         5.0, 10.0)
BATCH_SIZE_BUCKETS = (1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
#: HTTP methods kept as label values; any other is ``other``.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# -- the web app's own (labels bounded: route rules, callback outputs, page names) -------------
HTTP_DURATION = Histogram(
    "cockpit_http_request_duration_seconds",
    "Time to answer a request (to its headers: a push stream's life is not counted), by the "
    "route's rule and method.", ["route", "method"], buckets=REQUEST_BUCKETS)
HTTP_REQUESTS = PromCounter(
    "cockpit_http_requests", "Requests answered, by route rule, method and status.",
    ["route", "method", "status"])
CALLBACK_DURATION = Histogram(
    "cockpit_dash_callback_duration_seconds",
    "Time to answer a Dash callback request, by the callback's output(s).", ["callback"],
    buckets=REQUEST_BUCKETS)
PUSH_CONNECTIONS = Gauge(
    "cockpit_push_connections", "Server-sent-event streams open, by page.", ["page"],
    multiprocess_mode="livesum")


def observe_request(route: str, method: str, status: int, seconds: float,
                    callback: str | None = None) -> None:
    """Count one answered request (and its callback, for a Dash callback request).

    Parameters
    ----------
    route : str
        The matched route's rule (``/api/v1/incidents/<incident_id>``), never the raw path.
    method : str
        HTTP method; unusual ones are counted as ``other``.
    status : int
        The answer's status code.
    seconds : float
        Time from the request's arrival to its answer, s.
    callback : str, optional
        The callback's output key (bounded by the app's callbacks).
    """
    method = method if method in METHODS else "other"
    HTTP_DURATION.labels(route, method).observe(seconds)
    HTTP_REQUESTS.labels(route, method, str(status)).inc()
    if callback is not None:
        CALLBACK_DURATION.labels(callback).observe(seconds)


def push_opened(page: str) -> None:
    """One more open push stream of ``page``."""
    PUSH_CONNECTIONS.labels(page).inc()


def push_closed(page: str) -> None:
    """One push stream of ``page`` fewer."""
    PUSH_CONNECTIONS.labels(page).dec()


# -- the ingest's -------------------------------------------------------------------------------
class _Histogram:
    """Buckets observed a batch at a time (under the owner's lock)."""

    def __init__(self, buckets: Sequence[float]):
        self.bounds = (*map(float, buckets), float("inf"))
        self.counts = [0] * len(self.bounds)
        self.total = 0.0

    def add(self, values: Sequence[float]) -> None:
        for index, n in Tally(bisect.bisect_left(self.bounds, v) for v in values).items():
            self.counts[index] += n
        self.total += sum(values)

    def add_ages(self, now_ms: int, stamps: list[int]) -> None:
        """Observe ``(now_ms - stamp) / 1000`` s for each stamp (ms), a future one as 0.

        One bisection per bucket over the sorted stamps, not one per value: a batch's ids
        come in order, so the sort is linear.
        """
        stamps.sort()
        n, below = len(stamps), 0
        for index, bound in enumerate(self.bounds):
            within = n - bisect.bisect_left(stamps, now_ms - bound * 1000)  # age ≤ bound
            self.counts[index] += within - below
            below = within
        past = bisect.bisect_right(stamps, now_ms)
        self.total += (now_ms * past - sum(stamps[:past])) / 1000

    def family(self, name: str, documentation: str) -> HistogramMetricFamily:
        return HistogramMetricFamily(name, documentation, sum_value=self.total, buckets=[
            (floatToGoString(b), c) for b, c in zip(self.bounds, accumulate(self.counts),
                                                   strict=True)])


class IngestMetrics:
    """What the ingest consumers of this process did; a collector of the default registry.

    Collects nothing until the first batch, so a process that never ingests shows none of it.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.batches = 0
        self.events: Tally[str] = Tally()
        self.dead: Tally[str] = Tally()
        self.duplicates = 0
        self.last_batch = 0.0
        self.batch_seconds = _Histogram(BATCH_SECONDS_BUCKETS)
        self.batch_size = _Histogram(BATCH_SIZE_BUCKETS)
        self.latency = _Histogram(LATENCY_BUCKETS)

    def observe_batch(self, messages: Sequence[Any], result: Any,
                      dead: Sequence[tuple[Any, str]], started: float) -> None:
        """Count one processed batch (called by the ingest once its effects are committed).

        Parameters
        ----------
        messages : sequence of cockpit.streams.Message
            Every entry of the batch (ids ``<ms>-<seq>``).
        result : cockpit.store.apply.ApplyResult
            What the transaction did (``duplicates``).
        dead : sequence of (Message, str)
            The entries dead-lettered and why.
        started : float
            ``time.perf_counter()`` when the batch's processing began.
        """
        now = time.time()
        seconds = time.perf_counter() - started
        applied: Sequence[Any] = messages
        if dead:
            gone = {(m.stream, m.id) for m, _ in dead}
            applied = [m for m in messages if (m.stream, m.id) not in gone]
        types: Tally[str] = Tally()
        for kind, n in Tally([m.fields.get("type") for m in applied]).items():
            types[_event_type(kind)] += n
        reasons = Tally(reason_label(reason) for _, reason in dead)
        stamps = [int(m.id.partition("-")[0]) for m in applied]
        with self.lock:
            self.batches += 1
            self.events.update(types)
            self.dead.update(reasons)
            self.duplicates += result.duplicates
            self.last_batch = now
            self.batch_seconds.add((seconds,))
            self.batch_size.add((len(messages),))
            self.latency.add_ages(int(now * 1000), stamps)

    def describe(self) -> list[Metric]:
        """Nothing to check at registration (names are this module's own)."""
        return []

    def collect(self) -> Iterator[Metric]:
        """The ingest's metric families (none before its first batch)."""
        with self.lock:  # built under the lock, encoded after it: a batch need not wait
            families = self._families() if self.batches else []
        yield from families

    def _families(self) -> list[Metric]:
        events = CounterMetricFamily("cockpit_ingest_events", "Valid entries applied (stored "
                                     "or duplicate), by event type.", labels=["type"])
        for kind, n in sorted(self.events.items()):
            events.add_metric([kind], n)
        dead = CounterMetricFamily("cockpit_ingest_dead_letters", "Entries dead-lettered, by "
                                   "the reason's head (a field name or a kind).",
                                   labels=["reason"])
        for reason, n in sorted(self.dead.items()):
            dead.add_metric([reason], n)
        return [
            events, dead,
            CounterMetricFamily("cockpit_ingest_duplicates", "Valid entries whose event was "
                                "stored already (skipped).", value=self.duplicates),
            GaugeMetricFamily("cockpit_ingest_last_batch_timestamp_seconds",
                              "When the last batch was committed (Unix time).",
                              value=self.last_batch),
            self.batch_seconds.family("cockpit_ingest_batch_duration_seconds",
                                      "Time to process one batch (validate, commit, "
                                      "dead-letter, XACK)."),
            self.batch_size.family("cockpit_ingest_batch_entries", "Entries per batch."),
            self.latency.family("cockpit_ingest_commit_latency_seconds",
                                "From an entry's XADD (its id's milliseconds) to its batch "
                                "committed and acknowledged; applied entries."),
        ]


def _event_type(value: object) -> str:
    text = str(value).strip()
    return text if text in EVENT_TYPES else "other"


#: Reason heads that are no field name, as label values.
_KINDS = {"apply failed": "apply_failed", "unexpected validation error": "validation_error"}
_FIELDS = frozenset(name for model in EVENT_TYPES.values() for name in model.model_fields)


def reason_label(reason: str) -> str:
    """The bounded label of a dead-letter reason: its head, a field name or a kind.

    ``lat: lat 120.3 is outside [-90, 90]`` → ``lat``; ``apply failed: …`` → ``apply_failed``;
    bad UTF-8 → ``encoding``; a poison entry → ``redelivered``; anything else → ``other`` (a
    head that is neither could carry a value of the entry).
    """
    head = reason.split(":", 1)[0].strip()
    if head in _KINDS:
        return _KINDS[head]
    if "UTF-8" in reason and (head.startswith("field ") or head == reason.strip()):
        return "encoding"
    if head.startswith("delivered ") and head.endswith("without being applied"):
        return "redelivered"
    field = head.split(".", 1)[0]
    return field if field in _FIELDS else "other"


INGEST = IngestMetrics()
REGISTRY.register(INGEST)
