"""A 10,000-entry mixed feed of valid and hostile entries through the real ingest, on both stores.

The oracle is the generator's (tests/fuzz_feed.py, tests/fuzz_hostile.py): it built each
entry valid, or broke it in one known way, and says what must happen without asking the
validator. The ingest must not crash; every invalid entry is in ``{prefix}deadletter`` with
a reason naming the problem; every valid ``(source, event_id)`` is stored exactly once (a
repeat, with the same or other content, is counted as a duplicate and the first one stays);
nothing is left pending.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter

from sqlalchemy import event, select

from app import create_app
from cockpit.ingest import Ingestor
from cockpit.settings import SECRETS
from cockpit.store.models import IncidentEventRow, MetricObservation, NotificationReceipt
from cockpit.store.volunteer_models import SignUp, VolunteerEventRow
from cockpit.store.waste_models import WasteDisposal, WasteEventRow
from cockpit.streams import bytes_client
from tests.access_support import signed_in_client
from tests.conftest import TEST_SECRETS
from tests.fuzz_feed import HTML, SQL, STREAMS, Entry, build
from tests.store_support import drain

#: Entries of the feed.
COUNT = 10_000
SEED = 20261204
#: Tables holding one row per stored event, keyed by (source, event_id), and their text columns.
EVENT_TABLES = [IncidentEventRow, MetricObservation, NotificationReceipt, VolunteerEventRow,
                WasteEventRow, WasteDisposal]


def _send(services, entries: list[Entry]) -> None:
    """XADD the feed as bytes, in order, pipelined; each entry learns its stream id."""
    raw, settings = bytes_client(services.redis), services.settings
    for start in range(0, len(entries), 500):
        part = entries[start:start + 500]
        pipe = raw.pipeline(transaction=False)
        for entry in part:
            pipe.xadd(settings.stream(entry.stream), entry.fields)
        for entry, entry_id in zip(part, pipe.execute(), strict=True):
            entry.entry_id = entry_id.decode()


def _stored(services) -> tuple[Counter, dict[tuple[str, str], dict]]:
    """Every stored (source, event_id), counted over the event tables, and each one's texts."""
    keys: Counter = Counter()
    texts: dict[tuple[str, str], dict] = {}
    with services.read() as session:
        for model in EVENT_TABLES:
            cols = [model.source, model.event_id]
            extra = (model.payload if hasattr(model, "payload")
                     else model.unit if model is MetricObservation else None)
            for row in session.execute(select(*cols, *([extra] if extra is not None else []))):
                key = (row[0], row[1])
                keys[key] += 1
                if extra is not None:
                    value = row[2]
                    texts[key] = value if isinstance(value, dict) else {"unit": value}
        for source, event_id, campaign in session.execute(
                select(SignUp.source, SignUp.event_id, SignUp.campaign)):
            texts.setdefault((source, event_id), {})["campaign"] = campaign
    return keys, texts


def _check_fates(services, entries: list[Entry]) -> dict:
    """Check each entry's fate against the generator's; return the dead letters by origin."""
    settings = services.settings
    firsts = [e for e in entries if e.valid and e.repeat_of is None]
    repeats = [e for e in entries if e.valid and e.repeat_of is not None]
    invalid = [e for e in entries if not e.valid]

    # every invalid entry is dead-lettered once, with a reason that names its problem
    letters = {}
    for _, fields in services.redis.xrange(settings.key("deadletter")):
        where = (fields["stream"], fields["stream_id"])  # entry ids are unique per stream
        assert where not in letters
        letters[where] = fields
    wrong = []
    for entry in invalid:
        letter = letters.get((settings.stream(entry.stream), entry.entry_id))
        # a field is named first (``field: why``); a phrase anywhere in the reason
        where = letter and (letter["reason"].split(":", 1)[0]
                            if entry.expect.isidentifier() else letter["reason"])
        if letter is None or entry.expect.lower() not in where.lower():
            wrong.append((entry.case, entry.expect, letter and letter["reason"][:200]))
    assert not wrong, f"{len(wrong)} invalid entries misfiled, e.g. {wrong[:5]}"
    for entry in invalid:
        assert json.loads(letters[(settings.stream(entry.stream), entry.entry_id)]["fields"])
    spurious = set(letters) - {(settings.stream(e.stream), e.entry_id) for e in invalid}
    assert not spurious, [(letters[i]["reason"][:200], letters[i]["type"])
                          for i in sorted(spurious)[:5]]

    # every valid (source, event_id) is stored exactly once; nothing else is
    keys, texts = _stored(services)
    assert {k for k, n in keys.items() if n > 1} == set()
    missing = [e.case for e in firsts if e.key not in keys]
    assert not missing, f"{len(missing)} valid entries not stored: {Counter(missing)}"
    assert set(keys) == {e.key for e in firsts}
    assert not ({e.key for e in invalid} - {e.key for e in firsts}) & set(keys)

    # a repeat keeps the first content; hostile text is stored verbatim
    compared = Counter()
    for entry in firsts:
        stored = texts.get(entry.key, {})
        for name, text in entry.texts.items():
            if name in stored:
                assert stored[name] == text, (entry.case, name)
                compared[text] += 1
    assert compared[SQL] and compared[HTML] and sum(compared.values()) > len(firsts) // 2
    changed = [e for e in repeats if e.case == "repeat, other content"
               and e.stream == "incidents" and "note" in texts.get(e.key, {})]
    assert changed and all(texts[e.key]["note"] != "changed" for e in changed)

    # the counts add up, and nothing is left pending in the group
    counters = {k: int(v) for k, v in
                services.redis.hgetall(settings.key("ingest:stats")).items()}
    assert (counters["stored"], counters["duplicates"], counters["deadlettered"]) == (
        len(firsts), len(repeats), len(invalid))
    assert sum(counters[k] for k in ("stored", "duplicates", "deadlettered")) == len(entries)
    for stream in STREAMS:
        pending = services.redis.xpending(settings.stream(stream), settings.consumer_group)
        assert pending["pending"] == 0, stream
    return letters


def _measure(entries: list[Entry], letters: dict, elapsed: float) -> str:
    valid = sum(e.valid for e in entries)
    repeats = sum(e.repeat_of is not None for e in entries)
    heads = Counter(r["reason"].split(":", 1)[0][:60] for r in letters.values())
    return (f"{len(entries)} entries ({valid - repeats} stored, {repeats} duplicates, "
            f"{len(entries) - valid} dead-lettered) in {elapsed:.1f} s: "
            f"{len(entries) / elapsed:.0f} entries/s\ndead letters by reason head:\n"
            + "\n".join(f"  {n:5d}  {head}" for head, n in heads.most_common()))


def test_ten_thousand_hostile_and_valid_entries(services, shown):
    entries = build(SEED, COUNT)
    firsts = [e for e in entries if e.valid and e.repeat_of is None]
    assert len({e.key for e in firsts}) == len(firsts)  # the generator's own premise
    _send(services, entries)
    started = time.perf_counter()
    worker = drain(services)  # no entry may stop it: an exception fails the test here
    elapsed = time.perf_counter() - started
    letters = _check_fates(services, entries)
    stats = worker.stats
    assert stats.read == len(entries) == stats.stored + stats.duplicates + stats.dead
    assert stats.dead == len(letters) and stats.errors == 0
    _shown_as_text(services, firsts)
    shown(_measure(entries, letters, elapsed))


def test_the_ingest_process_takes_the_feed_and_exits_cleanly(sqlite_services, shown):
    """``cockpit ingest`` as its own process, as it runs in production (SQLite only)."""
    services, settings = sqlite_services, sqlite_services.settings
    entries = build(SEED + 1, COUNT)
    _send(services, entries)
    env = {**os.environ, "REDIS_URL": settings.redis_url,
           "DATABASE_URL": settings.database_url,
           "COCKPIT_STREAM_PREFIX": settings.stream_prefix,
           "COCKPIT_DATA_DIR": str(settings.data_dir),
           **{var: TEST_SECRETS[name] for name, var in SECRETS.items()}}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "cockpit.cli", "ingest", "--idle-exit", "2"],
                          env=env, capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - started - 2
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    letters = _check_fates(services, entries)
    shown(_measure(entries, letters, elapsed).split("\n")[0] + " (a process, with its start)")


def _shown_as_text(services, firsts: list[Entry]) -> None:
    """Hostile titles come back from the API and the map's item as JSON data, never markup."""
    reported = {text: e.fields[b"incident_id"].decode() for e in firsts
                for text in (e.texts.get("title"),) if text in (HTML, SQL)
                and e.fields[b"type"] == b"incident.reported"}
    assert set(reported) == {HTML, SQL}
    client = signed_in_client(create_app(services.settings, services=services), services,
                              "leader")
    for text, incident_id in reported.items():
        response = client.get(f"/api/v1/incidents/{incident_id}")
        assert response.status_code == 200 and response.mimetype == "application/json"
        assert response.get_json()["title"] == text
        item = client.get(f"/map/item/{incident_id}")
        assert item.status_code == 200 and item.mimetype == "application/json"
        assert text in json.dumps(item.get_json(), ensure_ascii=False)
        page = client.get(f"/incidents/{incident_id}")
        assert page.status_code == 200 and HTML not in page.get_data(as_text=True)


def test_unappliable_entries_are_isolated_in_few_transactions(services):
    """Three follow-ups of no task in 1,000 entries: found by halving, the rest stored."""
    feed = [e for e in build(SEED + 2, 2500) if e.valid and e.repeat_of is None][:997]
    assert len(feed) == 997
    for at in (0, 500, 999):
        fields = {"event_id": f"nope-{at}", "type": "followup.visited", "source": "fuzz-a",
                  "occurred_at": "1795917600000", "followup_id": f"FU-NOPE-{at}",
                  "outcome": "educated"}
        feed.insert(at, Entry("waste", {k.encode(): v.encode() for k, v in fields.items()},
                              "follow-up of no task", False, "no such follow-up"))
    _send(services, feed)
    begun = []

    def count(conn) -> None:
        begun.append(1)

    event.listen(services.engine, "begin", count)
    try:
        worker = Ingestor(services.settings, services.redis, services.sessions,
                          consumer="c1", batch_size=1000, block_ms=50)
        worker.start()
        begun.clear()
        while worker.step():
            pass
    finally:
        event.remove(services.engine, "begin", count)
    letters = [f for _, f in services.redis.xrange(services.settings.key("deadletter"))]
    assert sorted(f["event_id"] for f in letters) == ["nope-0", "nope-500", "nope-999"]
    assert all("no such follow-up" in f["reason"] for f in letters)
    assert worker.stats.stored == 997 and worker.stats.dead == 3
    # one per entry would be 1,000 transactions; halving needs about 3 · 2 · log2(1000) = 60
    assert len(begun) < 120, len(begun)
