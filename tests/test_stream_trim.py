"""Stream trimming against the real Redis: never an entry some group has not acknowledged,
the newest COCKPIT_STREAM_RETAIN acknowledged ones kept; the ingest trims its own streams."""

from __future__ import annotations

from cockpit.health import readiness
from cockpit.stream_trim import needed_from, trim_stream
from tests.conftest import _services
from tests.factories import lifecycle
from tests.store_support import ingest


def _read(r, stream, group, count):
    reply = r.xreadgroup(group, "reader", {stream: ">"}, count=count)
    return [entry_id for _, entries in reply for entry_id, _ in entries]


def _ids(r, stream):
    return [entry_id for entry_id, _ in r.xrange(stream)]


def test_two_groups_one_lagging_nothing_unacknowledged_is_trimmed(sqlite_services):
    r = sqlite_services.redis
    stream = sqlite_services.settings.stream("metrics")
    ids = [r.xadd(stream, {"n": str(n)}) for n in range(30)]
    r.xgroup_create(stream, "fast", id="0")
    r.xgroup_create(stream, "slow", id="0")
    r.xack(stream, "fast", *_read(r, stream, "fast", 100))
    r.xack(stream, "slow", *_read(r, stream, "slow", 10)[:6])  # 6..9 pending, 10.. unread
    assert needed_from(r, stream)[0] == ids[6]
    assert trim_stream(r, stream, retain=0) == 6
    assert _ids(r, stream) == ids[6:]
    # slow reads on and acknowledges up to 24: 25..29 pending; 10 acknowledged ones are kept
    _read(r, stream, "slow", 100)
    r.xack(stream, "slow", *ids[6:25])
    assert trim_stream(r, stream, retain=10) == 9
    assert _ids(r, stream) == ids[15:]
    assert trim_stream(r, stream, retain=3) == 7
    assert _ids(r, stream) == ids[22:]
    # everything acknowledged: the newest `retain` entries stay
    r.xack(stream, "slow", *ids[25:])
    assert _key(needed_from(r, stream)[0]) > _key(ids[29])  # stream ids order as numbers
    assert trim_stream(r, stream, retain=2) == 6
    assert _ids(r, stream) == ids[28:]
    # a group that read nothing needs everything that comes
    new = [r.xadd(stream, {"n": str(n)}) for n in range(5)]
    r.xgroup_create(stream, "late", id=ids[29])
    assert needed_from(r, stream)[1:] == (5, ids[29])
    r.xdel(stream, new[2])  # a deletion after its position: Redis no longer knows its lag
    assert needed_from(r, stream)[1:] == (None, ids[29])  # so the entries are counted
    assert trim_stream(r, stream, retain=0) == 2
    assert _ids(r, stream) == new[:2] + new[3:]


def test_a_stream_without_groups_is_left_alone(sqlite_services):
    r = sqlite_services.redis
    stream = sqlite_services.settings.stream("waste")
    for n in range(5):
        r.xadd(stream, {"n": str(n)})
    assert needed_from(r, stream) == (None, None, None)
    assert trim_stream(r, stream, retain=0) == 0 and r.xlen(stream) == 5


def test_the_ingest_trims_what_every_group_acknowledged(tmp_path, redis_server_url,
                                                        migrated_database_url):
    gen = _services(tmp_path, redis_server_url, migrated_database_url, stream_retain=2)
    services = next(gen)
    try:
        settings, r = services.settings, services.redis
        stream = settings.stream("incidents")
        r.xadd(stream, {"n": "0"})
        r.xgroup_create(stream, "audit", id="0")  # a second reader that lags behind
        worker = ingest(services, lifecycle("A1"))  # 6 events (and the first, dead-lettered)
        assert r.xlen(stream) == 7
        worker.trimmer.every_s = 0
        worker.step()
        assert r.xlen(stream) == 7  # the audit group has read nothing: all kept
        reply = r.xreadgroup("audit", "a", {stream: ">"}, count=4)
        r.xack(stream, "audit", *[entry_id for _, entries in reply for entry_id, _ in entries])
        assert worker.trimmer.maybe_trim()[stream] == 2  # 4 acknowledged by both, 2 retained
        assert r.xlen(stream) == 5
        assert r.xpending(stream, settings.consumer_group)["pending"] == 0
        assert worker.trimmer.removed == 2
    finally:
        gen.close()


def test_readiness_shows_redis_memory(sqlite_services):
    _, checks = readiness(sqlite_services)
    memory = checks["redis_memory"]
    assert memory["used_bytes"] > 0 and memory["max_bytes"] >= 0
    assert isinstance(memory["policy"], str) and memory["policy"]


def _key(stream_id: str | bytes) -> tuple[int, int]:
    """A stream id as ``(milliseconds, sequence)``: ``1-10`` comes after ``1-9``."""
    text = stream_id.decode() if isinstance(stream_id, bytes) else stream_id
    ms, seq = text.split("-")
    return int(ms), int(seq)
