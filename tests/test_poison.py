"""Poison entries against the real Redis and both databases: retried, then dead-lettered with
their history after COCKPIT_INGEST_MAX_DELIVERIES deliveries; the rest of the batch is stored."""

from __future__ import annotations

import json
import time

from typer.testing import CliRunner

from cockpit.cli import app as cli_app
from cockpit.ingest import Ingestor
from cockpit.placing import resolve_villages
from cockpit.store.models import Incident
from cockpit.streams import claim_stale
from tests.factories import incident_fields
from tests.store_support import count_rows, dead_letters

#: The village hint our stand-in gazetteer cannot place (it raises, as a bug would).
BROKEN = "断链村"


def gazetteer(lons, lats, hints):
    """The real resolver, except that it raises on one village hint (not a data error)."""
    if BROKEN in hints:
        raise LookupError("gazetteer lost its index")
    return resolve_villages(lons, lats, hints)


def _worker(services, consumer: str, retry_s: float = 0.0) -> Ingestor:
    worker = Ingestor(services.settings, services.redis, services.sessions, consumer=consumer,
                      block_ms=50, resolver=gazetteer)
    worker.retry_s = retry_s
    worker.start()
    return worker


def test_a_poison_entry_is_dead_lettered_after_k_deliveries_with_its_history(services,
                                                                             redis_server_url):
    settings, r = services.settings, services.redis
    stream = settings.stream("incidents")
    k = settings.ingest_max_deliveries
    assert k == 5  # COCKPIT_INGEST_MAX_DELIVERIES' default
    ids = [r.xadd(stream, fields) for fields in (
        incident_fields("G1"), incident_fields("P1", village=BROKEN), incident_fields("G2"))]
    first = _worker(services, "c1", retry_s=0.3)
    assert first.step() == 3  # the batch: G1 and G2 stored, P1 left pending
    assert count_rows(services, Incident) == 2
    pending = r.xpending(stream, settings.consumer_group)
    assert pending["pending"] == 1 and pending["min"] == ids[1]
    record = json.loads(r.hget(settings.key("ingest:failures"), f"{stream}/{ids[1]}"))
    assert record["attempts"] == 1 and [f["consumer"] for f in record["failures"]] == ["c1"]
    assert record["failures"][0]["reason"].startswith("LookupError: gazetteer lost its index")
    assert first.step() == 0  # not tried again before retry_s: new entries are read meanwhile
    assert r.xpending_range(stream, settings.consumer_group, "-", "+", 1)[0][
        "times_delivered"] == 1
    time.sleep(0.3)
    assert first.step() == 1  # tried again, fails again
    # c1 dies; another consumer claims its pending entry and carries on until P1 is worn
    claim_stale(r, [stream], settings.consumer_group, "c2", 0)
    second = _worker(services, "c2")
    while second.step():
        pass
    assert count_rows(services, Incident) == 2
    assert count_rows(services, Incident, Incident.incident_id == "P1") == 0
    (dead,) = dead_letters(services)
    assert dead["stream_id"] == ids[1] and dead["stream"] == stream
    assert dead["reason"].startswith(
        f"poison: failed {k} times (delivered {dead['deliveries']} times)")
    history = json.loads(dead["history"])
    # K attempts; the claim and the last delivery (which dead-lettered it) were none
    assert history["attempts"] == k and history["deliveries"] == int(dead["deliveries"]) == k + 2
    assert history["consumers"] == ["c1", "c2"]
    failures = history["failures"]
    assert [f["consumer"] for f in failures] == ["c1", "c1"] + ["c2"] * (k - 2)
    assert all(f["reason"].startswith("LookupError") and f["at"] > 0 for f in failures)
    assert json.loads(dead["fields"])["incident_id"] == "P1"
    (letter_id, _), = r.xrange(settings.key("deadletter"))
    shown = CliRunner().invoke(cli_app, ["deadletter", "show", letter_id], env={
        "REDIS_URL": redis_server_url, "COCKPIT_STREAM_PREFIX": settings.stream_prefix})
    assert shown.exit_code == 0, shown.output
    assert f"attempts     {k} failed" in shown.stdout and "consumers    c1, c2" in shown.stdout
    assert shown.stdout.count("LookupError: gazetteer lost its index") == k
    # acknowledged: nothing pending, the failure record deleted
    assert r.xpending(stream, settings.consumer_group)["pending"] == 0
    assert r.hlen(settings.key("ingest:failures")) == 0


def test_invalid_entries_carry_one_delivery_and_no_failures(services):
    settings, r = services.settings, services.redis
    bad = incident_fields("B1")
    del bad["incident_id"]
    r.xadd(settings.stream("incidents"), bad)
    worker = _worker(services, "c1")
    while worker.step():
        pass
    (dead,) = dead_letters(services)
    assert dead["deliveries"] == "1"
    assert json.loads(dead["history"]) == {"deliveries": 1, "attempts": 0, "consumers": ["c1"],
                                           "failures": []}


def test_deliveries_without_failures_make_no_poison(services):
    """Re-reads after connection failures (the database down) deliver again but do not fail."""
    settings, r = services.settings, services.redis
    stream = settings.stream("incidents")
    worker = _worker(services, "c1")
    entry_id = r.xadd(stream, incident_fields("O1"))
    for _ in range(3 * settings.ingest_max_deliveries):  # as the retry loop's re-reads do
        r.xreadgroup(settings.consumer_group, "c1", {stream: "0" if _ else ">"}, count=10)
    (pending,) = r.xpending_range(stream, settings.consumer_group, "-", "+", 10)
    assert pending["message_id"] == entry_id
    assert pending["times_delivered"] > settings.ingest_max_deliveries
    while worker.step():
        pass
    assert count_rows(services, Incident, Incident.incident_id == "O1") == 1
    assert dead_letters(services) == []
