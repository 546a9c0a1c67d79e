"""The ingest consumer: Redis Streams → validation → one SQL transaction per batch → XACK.

At-least-once from Redis, idempotent on ``event_id``, so the store holds every event exactly
once (DESIGN §3). The loop reads with a bounded block, so a stop request (SIGTERM) ends it
within about a second; an entry is acknowledged only after its effects are committed; invalid
or unappliable entries go to ``{prefix}deadletter`` with their reason and original fields.
"""

from __future__ import annotations

import gc
import logging
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import redis
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from cockpit import geo, isolate, metrics, poison
from cockpit.alerts import AlertRunner
from cockpit.events import EVENT_TYPES, BaseEvent, InvalidEvent, parse_event, stream_kind
from cockpit.governance import Governor, publish_pending, recompute_due
from cockpit.placing import (  # noqa: F401 - resolve_villages re-exported
    VillageLayerSync,
    resolve_villages,
    service_area,
)
from cockpit.settings import Settings
from cockpit.store.apply import ApplyResult, apply_batch
from cockpit.stream_trim import StreamTrimmer
from cockpit.streams import (
    Message,
    bytes_client,
    claim_stale,
    dead_letter,
    decode,
    ensure_groups,
    incident_streams,
    signal_change,
)
from cockpit.volunteers.apply import recompute_points
from cockpit.volunteers.hours import close_overdue

log = logging.getLogger(__name__)
#: Seconds between governance ticks while a backlog drains (else the governor's interval).
BUSY_TICK_S = 5.0

#: Seconds between passes closing open check-ins whose activity is over.
AUTOCLOSE_EVERY_S = 30.0
#: Every field name some event type has; other fields are ignored (and so is their encoding).
CONTRACT_FIELDS = frozenset(name for model in EVENT_TYPES.values() for name in model.model_fields)


def default_consumer_name() -> str:
    """``<host>-ingest``: stable across restarts, so a restarted consumer re-reads its pending."""
    return f"{socket.gethostname()}-ingest"


@dataclass
class IngestStats:
    """Counters of one consumer since it started."""

    read: int = 0
    stored: int = 0
    duplicates: int = 0
    dead: int = 0
    batches: int = 0
    errors: int = 0
    last_batch_ms: float = 0.0
    reasons: dict[str, int] = field(default_factory=dict)


class Ingestor:
    """One consumer of the ``cockpit-ingest`` group over the incident and metric streams.

    Parameters
    ----------
    settings : Settings
    r : redis.Redis
        Text-mode client (``decode_responses=True``).
    sessions : sessionmaker
        Session factory of the store; each batch runs in one transaction.
    consumer : str, optional
        Consumer name; stable across restarts (default :func:`default_consumer_name`).
    batch_size : int
        Entries per XREADGROUP call and per transaction.
    block_ms : int
        Longest wait of one read, ms; bounds how long a stop request takes.
    claim_idle_ms : int
        Entries pending this long for another consumer are claimed (XAUTOCLAIM).
    max_deliveries : int, optional
        An entry that failed this often (not for its data, not for a connection) is
        dead-lettered (default ``COCKPIT_INGEST_MAX_DELIVERIES``; :mod:`cockpit.poison`).
    """

    def __init__(self, settings: Settings, r: redis.Redis, sessions: sessionmaker[Session],
                 consumer: str | None = None, batch_size: int = 500, block_ms: int = 1000,
                 claim_idle_ms: int = 60_000, max_deliveries: int | None = None,
                 resolver: Callable = resolve_villages,
                 area: tuple[float, float, float, float] | None = None):
        self.settings = settings
        self.r = r
        self.raw = bytes_client(r)  # entries are decoded by us, so bad UTF-8 cannot crash a read
        self.sessions = sessions
        self.consumer = consumer or default_consumer_name()
        self.batch_size = batch_size
        self.block_ms = block_ms
        self.claim_idle_ms = claim_idle_ms
        self.max_deliveries = max_deliveries or settings.ingest_max_deliveries
        self.resolver = resolver
        self.area = area if area is not None else service_area()
        self._pd_key = settings.pd_key.get_secret_value().encode() if settings.pd_key else None
        self.streams = incident_streams(settings)
        self.config = settings.governance
        self.rules = settings.volunteer_rules
        self.waste_rules = settings.waste_rules
        self.governor = Governor(settings, r, sessions, self.config)
        self.alerts = AlertRunner(settings, r, sessions)  # alert rules (cockpit.alerts)
        self.stats = IngestStats()
        self.trimmer = StreamTrimmer(settings, r, self.streams)
        self._backlog = True  # re-read own pending entries (id 0) before new ones
        self.retry_s, self._retry_at, self._reread = poison.RETRY_S, 0.0, False
        self._last_claim = 0.0
        self._last_autoclose = 0.0
        #: joins positions on the store's village layer: an import is used within seconds
        self.layer = VillageLayerSync(sessions)

    # -- reading ---------------------------------------------------------------------------
    def start(self) -> None:
        """Create the groups and claim entries left pending by dead consumers.

        Also moves everything alive at start (modules, geodata, schemas) out of the cyclic
        garbage collector's reach (``gc.freeze``): a long-running consumer allocates many
        short-lived objects per batch, and every full collection would otherwise walk them.
        """
        self.layer.check(force=True)  # the store's village layer, imported or schematic
        geo.prepare()  # the first batch should not pay for loading the village layer
        gc.collect()
        gc.freeze()
        ensure_groups(self.r, self.streams, self.settings.consumer_group)
        self._apply_changed_rules()
        self._claim()

    def _apply_changed_rules(self) -> None:
        """Recompute what depends on rules that changed since the last start.

        The points ledger (volunteers rules), open incidents' due times and teams (governance).
        """
        key = self.settings.key("volunteers:fingerprint")
        if self.r.get(key) != self.rules.fingerprint:
            with self.sessions.begin() as session:
                written = recompute_points(session, self.rules, self.settings.tz,
                                           datetime.now(UTC))
            self.r.set(key, self.rules.fingerprint)
            log.info("volunteer rules %s: points ledger rewritten (%d entries)",
                     self.rules.fingerprint, written)
        key = self.settings.key("governance:fingerprint")
        if self.r.get(key) == self.config.fingerprint:
            return
        with self.sessions.begin() as session:
            changed = recompute_due(session, self.config)
        self.r.set(key, self.config.fingerprint)
        if changed:
            log.info("governance rules %s: %d open incident(s) re-timed",
                     self.config.fingerprint, changed)
            signal_change(self.r, self.settings, [])

    def _claim(self) -> None:
        claim_stale(self.r, self.streams, self.settings.consumer_group, self.consumer,
                    self.claim_idle_ms)
        self._last_claim = time.monotonic()
        self._backlog = True

    def read(self) -> list[Message]:
        """Read one batch: own pending entries first, then new ones (blocking ≤ block_ms)."""
        group = self.settings.consumer_group
        self._reread = self._backlog and time.monotonic() >= self._retry_at
        if self._reread:
            reply = self.raw.xreadgroup(group, self.consumer, {s: "0" for s in self.streams},
                                        count=self.batch_size)
            messages = decode(reply, CONTRACT_FIELDS)
            if messages:
                return messages
            self._backlog = self._reread = False
        reply = self.raw.xreadgroup(group, self.consumer, {s: ">" for s in self.streams},
                                    count=self.batch_size, block=self.block_ms)
        return decode(reply, CONTRACT_FIELDS)

    # -- processing ------------------------------------------------------------------------
    def process(self, messages: Sequence[Message]) -> ApplyResult:
        """Validate, apply in one transaction, commit, then dead-letter and XACK the batch.

        Raises
        ------
        sqlalchemy.exc.OperationalError, redis.ConnectionError
            When the database or Redis is unreachable; nothing is acknowledged, the entries
            stay pending and are read again.
        """
        started = time.perf_counter()
        valid: list[tuple[BaseEvent, Message]] = []
        dead: list[tuple[Message, str]] = []
        now = datetime.now(UTC)
        for message in messages:
            try:
                valid.append((self._validate(message, now), message))
            except InvalidEvent as exc:
                dead.append((message, exc.reason))
        reread, counts, records = self._reread, {}, {}
        if reread:  # own pending entries: they may have failed before (cockpit.poison)
            counts = poison.delivery_counts(self.r, self.settings.consumer_group, self.consumer,
                                            messages)
            records = poison.recorded(self.r, self.settings, messages)
            valid, worn = poison.split_worn(valid, counts, records, self.max_deliveries)
            dead.extend(worn)
        held: list[tuple[Message, str]] = []  # failed unexpectedly: left pending, retried
        result = self._apply(valid, dead, held)
        pipe = self.r.pipeline(transaction=False)
        for message, reason in dead:
            dead_letter(self.r, self.settings, message, reason, self.consumer, pipe=pipe,
                        history=poison.history(message, counts, records, self.consumer))
        kept = {poison.entry_key(m) for m, _ in held}
        acked = [m for m in messages if poison.entry_key(m) not in kept]
        if held:
            poison.record_failures(pipe, self.settings, held, self.consumer, records)
            self._backlog, self._retry_at = True, time.monotonic() + self.retry_s
        if reread:
            poison.forget(pipe, self.settings, acked)
        by_stream: dict[str, list[str]] = {}
        for message in acked:
            by_stream.setdefault(message.stream, []).append(message.id)
        for stream, ids in by_stream.items():
            pipe.xack(stream, self.settings.consumer_group, *ids)
        stats_key = self.settings.key("ingest:stats")
        pipe.hincrby(stats_key, "stored", result.stored)
        pipe.hincrby(stats_key, "duplicates", result.duplicates)
        pipe.hincrby(stats_key, "deadlettered", len(dead))
        pipe.execute()
        if result.stored:
            signal_change(self.r, self.settings, sorted(result.incidents))
            self.alerts.changed()
        if result.notifications:
            # the duty team hears of a new incident now, not at the next tick
            publish_pending(self.r, self.sessions, self.settings)
        self._count(messages, result, dead, started)
        return result

    def _validate(self, message: Message, now: datetime) -> BaseEvent:
        """Parse one entry and check it came on its type's stream; raises InvalidEvent."""
        if message.error:
            raise InvalidEvent(message.error)
        try:
            event = parse_event(message.fields, self.settings.tz, self.area, now, self._pd_key)
        except InvalidEvent:
            raise
        except Exception as exc:  # noqa: BLE001 - no entry may stop the consumer
            raise InvalidEvent(f"unexpected validation error: {type(exc).__name__}: {exc}") \
                from None
        expected = self.settings.stream(stream_kind(event))
        if message.stream != expected:
            raise InvalidEvent(f"type: {event.type} belongs on {expected}, not {message.stream}")
        return event

    def _apply(self, valid, dead, held) -> ApplyResult:
        items = [(event, message.id) for event, message in valid]
        for attempt in range(3):
            try:
                return self._apply_items(items)
            except IntegrityError:
                # another consumer stored an event or incident of this batch meanwhile: retry,
                # the duplicate check then sees it
                if attempt == 2:
                    break
            except OperationalError:
                raise
            except DBAPIError as exc:
                if exc.connection_invalidated:
                    raise
                break
            except Exception:  # noqa: BLE001 - isolated entry by entry below
                break
        return self._apply_one_by_one(valid, dead, held)

    def _apply_one_by_one(self, valid, dead, held) -> ApplyResult:
        """Isolate the entries that cannot be applied (:func:`isolate.apply_isolating`)."""
        return isolate.apply_isolating(valid, dead, held, self._apply_items)

    def _apply_items(self, items) -> ApplyResult:
        """Apply ``[(event, entry_id), ...]`` in one transaction."""
        with self.sessions.begin() as session:
            return apply_batch(session, items, self.resolver, config=self.config,
                               rules=self.rules, tz=self.settings.tz,
                               waste_rules=self.waste_rules)

    def _count(self, messages, result, dead, started) -> None:
        s = self.stats
        s.read += len(messages)
        s.stored += result.stored
        s.duplicates += result.duplicates
        s.dead += len(dead)
        s.batches += 1
        s.last_batch_ms = (time.perf_counter() - started) * 1000
        metrics.INGEST.observe_batch(messages, result, dead, started)
        for _, reason in dead:
            head = reason.split(":", 1)[0]
            s.reasons[head] = s.reasons.get(head, 0) + 1
        if dead:
            log.warning("dead-lettered %d of %d entries (first reason: %s)", len(dead),
                        len(messages), dead[0][1][:200])

    # -- the loop --------------------------------------------------------------------------
    def step(self) -> int:
        """Read and process one batch; returns the number of entries handled (0 on timeout)."""
        if time.monotonic() - self._last_claim > self.claim_idle_ms / 1000:
            self._claim()
        self.layer.check()
        messages = self.read()
        if messages:
            self.process(messages)
        # while a backlog drains (full batches) the clock-driven work waits a little longer
        busy = len(messages) >= self.batch_size
        if self.governor.due(BUSY_TICK_S if busy else None):
            self.governor.tick(busy=busy)
        if self.alerts.due(busy):
            self.alerts.run()
        if time.monotonic() - self._last_autoclose >= AUTOCLOSE_EVERY_S:
            self.close_attendances()
        self.trimmer.maybe_trim()
        return len(messages)

    def close_attendances(self, now: datetime | None = None) -> int:
        """Close open check-ins past their activity's end (+ grace); signals when any closed."""
        self._last_autoclose = time.monotonic()
        with self.sessions.begin() as session:
            closed = close_overdue(session, self.rules, self.settings.tz,
                                   now or datetime.now(UTC))
        if closed:
            log.info("closed %d open check-in(s) past their activity's end", closed)
            signal_change(self.r, self.settings, [])
        return closed

    def run(self, stop: threading.Event, idle_exit: float | None = None) -> IngestStats:
        """Run until ``stop`` is set (or after ``idle_exit`` seconds without entries).

        Connection errors to Redis or the database are logged and retried with backoff; the
        entries of a failed batch stay pending and are read again (a lost group is recreated).
        """
        backoff = 0.5
        idle_since = time.monotonic()
        started = False
        while not stop.is_set():
            try:
                if not started:
                    self.start()
                    started = True
                handled = self.step()
                backoff = 0.5
            except (redis.ConnectionError, redis.TimeoutError, OperationalError,
                    redis.ResponseError) as exc:
                # a ResponseError is Redis's state, not ours: NOGROUP (it came back empty),
                # UNBLOCKED (a stream deleted under a blocked read), READONLY (a failover made
                # it a replica), WRONGTYPE (a key overwritten): start again (groups recreated)
                if stop.is_set():
                    break
                started = started and not isinstance(exc, redis.ResponseError)
                self.stats.errors += 1
                self._backlog = True
                log.warning("ingest paused: %s: %s; retrying in %.1fs", type(exc).__name__,
                            str(exc).splitlines()[0][:200], backoff)
                stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            if handled:
                idle_since = time.monotonic()
            elif idle_exit is not None and time.monotonic() - idle_since > idle_exit:
                break
        log.info("ingest stopped: %d stored, %d duplicates, %d dead-lettered", self.stats.stored,
                 self.stats.duplicates, self.stats.dead)
        return self.stats

