"""The ingest loop in-process over faults that need no server of its own: the consumer group
lost (as after Redis restarts empty) and re-delivery after a commit whose XACK never came.
The whole-process versions are tests/test_faults.py."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from sqlalchemy import func, select

from cockpit.ingest import Ingestor
from cockpit.store.models import IncidentEventRow
from tests.factories import lifecycle


def _stored(services) -> int:
    with services.read() as session:
        return session.scalar(select(func.count()).select_from(IncidentEventRow))


def _wait(done, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        time.sleep(0.05)
    return done()


def test_a_lost_consumer_group_is_created_again_and_nothing_stops(services):
    settings, r = services.settings, services.redis
    stream = settings.stream("incidents")
    worker = Ingestor(settings, r, services.sessions, consumer="c1", block_ms=50)
    stop = threading.Event()
    runner = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    runner.start()
    try:
        first = lifecycle("before")
        for fields in first:
            r.xadd(stream, fields)
        assert _wait(lambda: _stored(services) == len(first))
        r.delete(stream)  # the stream and its group are gone, as after an empty restart
        second = lifecycle("after")
        for fields in first + second:  # the producer sends its feed again
            r.xadd(stream, fields)
        assert _wait(lambda: _stored(services) == len(first) + len(second))
        assert runner.is_alive(), "the loop must survive NOGROUP"
        assert _wait(lambda: r.xpending(stream, settings.consumer_group)["pending"] == 0)
    finally:
        stop.set()
        runner.join(10)
    assert worker.stats.duplicates == len(first)
    assert worker.stats.dead == 0


def test_a_stream_deleted_or_overwritten_under_a_blocked_read_stops_nothing(services):
    settings, r = services.settings, services.redis
    stream = settings.stream("metrics")
    worker = Ingestor(settings, r, services.sessions, consumer="c1", block_ms=3000)
    worker.retry_s = 0
    stop = threading.Event()
    runner = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    runner.start()
    try:
        assert _wait(lambda: r.exists(stream))  # started: groups made, now blocked reading
        time.sleep(0.5)
        r.delete(stream)  # the blocked read fails: "UNBLOCKED the stream key no longer exists"
        assert _wait(lambda: worker.stats.errors >= 1)
        assert _wait(lambda: r.exists(stream))  # it made its group (and the stream) again
        time.sleep(0.5)
        r.delete(stream)
        r.set(stream, "not a stream")  # WRONGTYPE until someone mends it
        assert _wait(lambda: worker.stats.errors >= 3)
        assert runner.is_alive(), "the loop must survive UNBLOCKED and WRONGTYPE"
        r.delete(stream)
        events = lifecycle("mended")
        incidents = settings.stream("incidents")
        for fields in events:
            r.xadd(incidents, fields)
        assert _wait(lambda: _stored(services) == len(events))
    finally:
        stop.set()
        runner.join(10)
    assert not runner.is_alive()


def test_entries_delivered_again_after_their_commit_are_stored_once(services):
    settings, r = services.settings, services.redis
    stream = settings.stream("incidents")
    events = lifecycle("once")
    for fields in events:
        r.xadd(stream, fields)
    worker = Ingestor(settings, r, services.sessions, consumer="c1", block_ms=50)
    worker.start()
    messages = worker.read()
    assert len(messages) == len(events)
    worker._apply([(worker._validate(m, datetime.now(UTC)), m) for m in messages], [], [])
    # committed, then killed before XACK: the restarted consumer reads its pending again
    again = Ingestor(settings, r, services.sessions, consumer="c1", block_ms=50)
    again.start()
    while again.step():
        pass
    assert _stored(services) == len(events)
    assert again.stats.duplicates == len(events) and again.stats.stored == 0
    assert r.xpending(stream, settings.consumer_group)["pending"] == 0
