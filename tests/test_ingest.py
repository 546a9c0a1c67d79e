"""Ingest against the real Redis and both databases: commit-then-ack, dead letters, idempotency,
order independence and recovery of a dead consumer's pending entries."""

from __future__ import annotations

import itertools
import json
import random
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from cockpit.ingest import Ingestor
from cockpit.store.models import Incident, IncidentEventRow, MetricObservation
from tests.factories import T0, incident_fields, lifecycle


def _ingestor(services, **kw) -> Ingestor:
    worker = Ingestor(services.settings, services.redis, services.sessions, consumer="c1",
                      block_ms=50, **kw)
    worker.start()
    return worker


def _drain(worker: Ingestor) -> None:
    while worker.step():
        pass


def _xadd(services, entries, stream="incidents") -> list[str]:
    key = services.settings.stream(stream)
    return [services.redis.xadd(key, fields) for fields in entries]


def _state(services, incident_id: str) -> dict:
    with services.read() as session:
        row = session.get(Incident, incident_id)
        data = {c.key: getattr(row, c.key) for c in Incident.__table__.columns}
    data.pop("updated_at")
    return data


def _count(services, model) -> int:
    with services.read() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_lifecycle_is_stored_and_acknowledged(services):
    _xadd(services, lifecycle("A1"))
    worker = _ingestor(services)
    _drain(worker)
    state = _state(services, "A1")
    assert state["stage"] == "closed"
    assert state["category"] == "fire" and state["priority"] == "urgent"
    assert state["reported_at"] == T0 and state["closed_at"] is not None
    assert state["village_code"] is not None  # placed by the spatial join
    assert _count(services, IncidentEventRow) == 6
    pending = services.redis.xpending(services.settings.stream("incidents"),
                                      services.settings.consumer_group)
    assert pending["pending"] == 0
    assert services.version() >= 1


def test_invalid_entries_go_to_dead_letter_and_the_rest_commits(services):
    good = incident_fields("G1")
    missing = incident_fields("B1")
    del missing["incident_id"]
    swapped = incident_fields("B2", lon="30.3518", lat="120.2819")
    text_number = incident_fields("B3", lon="east", lat="30.35")
    wrong_type = {**incident_fields("B4"), "type": "incident.exploded"}
    ids = _xadd(services, [missing, good, swapped, text_number, wrong_type])
    _drain(_ingestor(services))
    assert _state(services, "G1")["stage"] == "reported"
    assert _count(services, Incident) == 1
    dead = services.redis.xrange(services.settings.key("deadletter"))
    by_source = {fields["stream_id"]: fields for _, fields in dead}
    assert set(by_source) == {ids[0], ids[2], ids[3], ids[4]}
    assert "incident_id: required field is missing" in by_source[ids[0]]["reason"]
    assert "swapped" in by_source[ids[2]]["reason"]
    assert "lon" in by_source[ids[3]]["reason"] and "number" in by_source[ids[3]]["reason"]
    assert "incident.exploded" in by_source[ids[4]]["reason"]
    original = json.loads(by_source[ids[2]]["fields"])
    assert original == swapped
    assert by_source[ids[2]]["stream"] == services.settings.stream("incidents")
    pending = services.redis.xpending(services.settings.stream("incidents"),
                                      services.settings.consumer_group)
    assert pending["pending"] == 0


def test_repeated_event_is_stored_once(services):
    entries = lifecycle("D1", stages=["reported", "dispatched"])
    _xadd(services, entries + entries + [entries[0]])
    worker = _ingestor(services)
    _drain(worker)
    _xadd(services, entries)  # a later redelivery by the producer
    _drain(worker)
    assert _count(services, IncidentEventRow) == 2
    assert _state(services, "D1")["event_count"] == 2
    assert worker.stats.duplicates == 5


def test_out_of_order_gives_the_same_state(services):
    events = lifecycle("O1") + [incident_fields(
        "O1", "assessed", T0.replace(minute=30), event_id="O1-reassessed", category="交通事故",
        priority="特急")]
    reference = None
    rng = random.Random(7)
    orders = [list(events), list(reversed(events))] + [rng.sample(events, len(events))
                                                       for _ in range(3)]
    for n, order in enumerate(orders):
        renamed = [{**e, "incident_id": f"O{n}", "event_id": f"{e['event_id']}-{n}"}
                   for e in order]
        # one entry per batch, so each event meets the state the others left
        worker = _ingestor(services, batch_size=1)
        _xadd(services, renamed)
        _drain(worker)
        state = _state(services, f"O{n}")
        state.pop("incident_id")
        late = state.pop("late_count")  # how many arrived late: the one order-dependent count
        assert (late == 0) == (n == 0)
        state["field_times"] = {k: v[0] for k, v in state["field_times"].items()}
        state["lifecycle"] = json.loads(json.dumps(state["lifecycle"]).replace(f"-{n}\"", "\""))
        if reference is None:
            reference = state
        assert state == reference, f"order {n} differs"
    # the re-assessment came after the close: recorded as illegal, refused: the stage stays
    # closed and its corrections of category and priority are not taken either
    assert reference["category"] == "fire" and reference["priority"] == "urgent"
    assert reference["stage"] == "closed"
    assert reference["illegal_count"] == 1
    assert [n["kind"] for n in reference["lifecycle"]["notes"]] == ["after_close"]


def test_batch_split_across_transactions_matches_single_batch(services):
    for size, name in ((1, "S"), (500, "L")):
        _xadd(services, [{**e, "incident_id": f"{name}{e['incident_id']}",
                          "event_id": f"{name}{e['event_id']}"}
                         for e in itertools.chain(*(lifecycle(f"x{i}") for i in range(5)))])
        _drain(_ingestor(services, batch_size=size))
    for i in range(5):
        small, large = _state(services, f"Sx{i}"), _state(services, f"Lx{i}")
        for state, name in ((small, "S"), (large, "L")):
            state.pop("incident_id")
            state["field_times"] = {k: v[0] for k, v in state["field_times"].items()}
            state["lifecycle"] = json.loads(
                json.dumps(state["lifecycle"]).replace(f'"{name}x', '"x'))
        assert small == large


def test_pending_entries_of_a_dead_consumer_are_claimed(services):
    _xadd(services, lifecycle("P1"))
    group = services.settings.consumer_group
    dead = Ingestor(services.settings, services.redis, services.sessions, consumer="dead",
                    block_ms=50)
    dead.start()
    taken = dead.read()  # read, then "crash" before anything is committed or acknowledged
    assert len(taken) == 6
    survivor = Ingestor(services.settings, services.redis, services.sessions, consumer="alive",
                        block_ms=50, claim_idle_ms=0)
    survivor.start()
    _drain(survivor)
    assert _state(services, "P1")["stage"] == "closed"
    assert services.redis.xpending(services.settings.stream("incidents"), group)["pending"] == 0


def test_committed_but_unacknowledged_batch_is_not_applied_twice(services):
    _xadd(services, lifecycle("K1"))
    worker = _ingestor(services)
    messages = worker.read()
    # apply and commit as process() would, then die before XACK
    from cockpit.events import parse_event
    from cockpit.store.apply import apply_batch

    with services.sessions.begin() as session:
        apply_batch(session, [(parse_event(m.fields), m.id) for m in messages], worker.resolver)
    restarted = _ingestor(services)
    _drain(restarted)
    assert _count(services, IncidentEventRow) == 6
    assert restarted.stats.duplicates == 6


def test_metric_observed_is_stored(services):
    _xadd(services, [{"event_id": "m1", "type": "metric.observed", "occurred_at": "1795917600000",
                      "source": "econ", "module": "economy", "key": "enterprises_served",
                      "value": "12", "unit": "家", "village": "朝阳村"}], stream="metrics")
    _drain(_ingestor(services))
    with services.read() as session:
        row = session.get(MetricObservation, ("m1", "econ"))
        assert row.value == 12.0 and row.unit == "家" and row.village_code is not None


def test_run_stops_when_asked(services):
    worker = Ingestor(services.settings, services.redis, services.sessions, consumer="c1",
                      block_ms=200)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    _xadd(services, lifecycle("R1", stages=["reported"]))
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_hostile_entries_are_dead_lettered_and_never_stop_the_consumer(services):
    stream = services.settings.stream("incidents")
    raw = services.redis  # text client; bad bytes go through a bytes client below
    from cockpit.streams import bytes_client

    ids = {
        "empty-title": raw.xadd(stream, incident_fields("E1", title="", address=" ", note="")),
        "bad-utf8": bytes_client(raw).xadd(stream, {
            **{k: v.encode() for k, v in incident_fields("U1").items()},
            "title": b"bad\xff\xfeutf8"}).decode(),
        "future": raw.xadd(stream, incident_fields(
            "F1", at=datetime.now(UTC) + timedelta(days=30))),
        "nul": raw.xadd(stream, incident_fields("N1", title="a\x00b")),
        "metric-here": raw.xadd(stream, {
            "event_id": "m9", "type": "metric.observed", "occurred_at": "1795917600000",
            "source": "econ", "module": "economy", "key": "k", "value": "1"}),
        "good": raw.xadd(stream, incident_fields("OK1")),
    }
    worker = _ingestor(services)
    _drain(worker)
    dead = {f["stream_id"]: f for _, f in services.redis.xrange(
        services.settings.key("deadletter"))}
    assert set(dead) == {ids["bad-utf8"], ids["future"], ids["nul"], ids["metric-here"]}
    assert "not valid UTF-8" in dead[ids["bad-utf8"]]["reason"]
    assert "\\xff" in dead[ids["bad-utf8"]]["fields"]
    assert "in the future" in dead[ids["future"]]["reason"]
    assert "NUL" in dead[ids["nul"]]["reason"]
    assert "belongs on" in dead[ids["metric-here"]]["reason"]
    empty = _state(services, "E1")
    assert empty["title"] is None and empty["address"] is None
    assert _state(services, "OK1")["stage"] == "reported"
    pending = services.redis.xpending(stream, services.settings.consumer_group)
    assert pending["pending"] == 0


def test_same_event_id_from_two_producers_is_two_events(services):
    a = incident_fields("PA-1", event_id="same")
    b = {**incident_fields("PB-1", event_id="same"), "source": "other-platform"}
    _xadd(services, [a, b, a])
    _drain(_ingestor(services))
    assert _count(services, IncidentEventRow) == 2
    assert _state(services, "PB-1")["source"] == "other-platform"


def test_same_event_id_and_time_from_two_sources_folds_the_same_in_any_order(services):
    a = incident_fields("T1", event_id="dup", title="from A", category="fire")
    b = {**incident_fields("T1", event_id="dup", title="from B", category="police"),
         "source": "zz-platform"}
    _xadd(services, [a, b])
    _drain(_ingestor(services))
    first = _state(services, "T1")
    a2, b2 = ({**e, "incident_id": "T2", "event_id": "dup2"} for e in (a, b))
    _xadd(services, [b2])
    _drain(_ingestor(services))
    _xadd(services, [a2])
    _drain(_ingestor(services))
    second = _state(services, "T2")
    assert first["title"] == second["title"] == "from B"  # greatest (time, id, source) wins


def test_bad_bytes_in_an_unknown_field_are_ignored_like_the_field(services):
    from cockpit.streams import bytes_client

    fields = {k: v.encode() for k, v in incident_fields("X1").items()}
    bytes_client(services.redis).xadd(services.settings.stream("incidents"),
                                      {**fields, b"vendor_extra": b"\xff\xfe"})
    _drain(_ingestor(services))
    assert _state(services, "X1")["stage"] == "reported"
    assert services.redis.xlen(services.settings.key("deadletter")) == 0


def test_text_at_the_contract_limits_is_stored_on_every_database(services):
    long = "长" * 2000
    _xadd(services, [incident_fields("L" * 128, event_id="e" * 128, title=long, address=long,
                                     grid=long, note=long)])
    _xadd(services, [{"event_id": "m" * 128, "type": "metric.observed",
                      "occurred_at": "1795917600000", "source": "s" * 128,
                      "module": "m" * 128, "key": "k" * 128, "value": "1", "unit": long}],
          stream="metrics")
    _drain(_ingestor(services))
    assert services.redis.xlen(services.settings.key("deadletter")) == 0
    assert _state(services, "L" * 128)["grid"] == long
