"""Poison entries against the real Redis and both databases: retried, then dead-lettered with
their history after COCKPIT_INGEST_MAX_DELIVERIES deliveries; the rest of the batch is stored."""

from __future__ import annotations

import json

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


def _worker(services, consumer: str) -> Ingestor:
    worker = Ingestor(services.settings, services.redis, services.sessions, consumer=consumer,
                      block_ms=50, resolver=gazetteer)
    worker.start()
    return worker


def test_a_poison_entry_is_dead_lettered_after_k_deliveries_with_its_history(services):
    settings, r = services.settings, services.redis
    stream = settings.stream("incidents")
    k = settings.ingest_max_deliveries
    assert k == 5  # COCKPIT_INGEST_MAX_DELIVERIES' default
    ids = [r.xadd(stream, fields) for fields in (
        incident_fields("G1"), incident_fields("P1", village=BROKEN), incident_fields("G2"))]
    first = _worker(services, "c1")
    assert first.step() == 3  # the batch: G1 and G2 stored, P1 left pending
    assert count_rows(services, Incident) == 2
    pending = r.xpending(stream, settings.consumer_group)
    assert pending["pending"] == 1 and pending["min"] == ids[1]
    records = json.loads(r.hget(settings.key("ingest:failures"), f"{stream}/{ids[1]}"))
    assert [f["consumer"] for f in records] == ["c1"]
    assert records[0]["reason"].startswith("LookupError: gazetteer lost its index")
    assert first.step() == 1  # tried again at once, fails again
    # c1 dies; another consumer claims its pending entry and carries on until P1 is worn
    claim_stale(r, [stream], settings.consumer_group, "c2", 0)
    second = _worker(services, "c2")
    while second.step():
        pass
    assert count_rows(services, Incident) == 2
    assert count_rows(services, Incident, Incident.incident_id == "P1") == 0
    (dead,) = dead_letters(services)
    assert dead["stream_id"] == ids[1] and dead["stream"] == stream
    assert dead["reason"].startswith(f"poison: delivered {int(dead['deliveries'])} times")
    history = json.loads(dead["history"])
    assert history["deliveries"] == int(dead["deliveries"]) > k
    assert history["consumers"] == ["c1", "c2"]
    failures = history["failures"]
    # every delivery but the last was an attempt (the claim counts as a delivery of its own)
    assert len(failures) == history["deliveries"] - 2
    assert [f["consumer"] for f in failures][:2] == ["c1", "c1"]
    assert {f["consumer"] for f in failures[2:]} == {"c2"}
    assert all(f["reason"].startswith("LookupError") and f["at"] > 0 for f in failures)
    assert json.loads(dead["fields"])["incident_id"] == "P1"
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
    assert json.loads(dead["history"]) == {"deliveries": 1, "consumers": ["c1"], "failures": []}
