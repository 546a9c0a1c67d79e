"""Personal data: masks, the keyed hash of ID numbers, what ingest stores and dead-letters,
what the logs hold, and the audit log that cannot be edited."""

from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from cockpit import audit, privacy
from cockpit.ingest import Ingestor
from cockpit.store.models import Incident, IncidentEventRow
from tests.factories import incident_fields

KEY = b"test-pd-key-0123456789"
ID = "11010519491231002X"
CALLER = {"reporter_name": "周杰伦", "reporter_phone": "138-1234 1234", "reporter_id_number": ID}


@pytest.mark.parametrize(("name", "masked"), [("周杰伦", "周**"), ("欧阳娜娜", "欧**"),
                                              ("Zhou Jielun", "Z**"), (None, None), ("", "")])
def test_names_keep_their_first_character(name, masked):
    assert privacy.mask_name(name) == masked


@pytest.mark.parametrize(("phone", "masked"), [("13812341234", "138****1234"),
                                               ("+8613812341234", "+86****1234"),
                                               ("88881234", "******34"), (None, None)])
def test_phones_keep_the_first_three_and_last_four_digits(phone, masked):
    assert privacy.mask_phone(phone) == masked


def test_addresses_lose_their_house_numbers():
    assert privacy.mask_address("乔司街道三角村12号3幢") == "乔司街道三角村**号**幢"


def test_id_numbers_are_checked_and_hashed_with_the_key_only():
    digest = privacy.id_hash(KEY, ID.lower() + " ")
    assert digest == privacy.id_hash(KEY, ID) and digest.startswith("hmac-sha256:")
    assert ID not in digest and privacy.id_hash(b"another-key-0123456789", ID) != digest
    for bad in ("110105194912310021", "1101051949123100", "11010519491231002Y"):
        with pytest.raises(privacy.InvalidPersonalData) as caught:
            privacy.id_hash(KEY, bad)
        assert bad not in str(caught.value)


def test_raw_fields_are_redacted_before_they_are_kept_anywhere():
    fields = {"type": "incident.reported", "reporter_id_number": ID, "reporter_name": "周杰伦"}
    redacted = privacy.redact_id_numbers(fields, KEY)
    assert redacted["reporter_id_number"] == privacy.id_hash(KEY, ID)
    assert privacy.redact_id_numbers({"reporter_id_number": "junk"}, KEY)[
        "reporter_id_number"].startswith("hmac-sha256:")
    assert privacy.redact_id_numbers(fields, None)["reporter_id_number"] == "redacted"
    assert fields["reporter_id_number"] == ID  # the caller's map is left alone


def _ingest(services, entries, settings=None):
    settings = settings or services.settings
    worker = Ingestor(settings, services.redis, services.sessions, consumer="c1", block_ms=50)
    worker.start()
    for fields in entries:
        services.redis.xadd(settings.stream("incidents"), fields)
    while worker.step():
        pass


def _dead_letters(services) -> list[dict]:
    return [fields for _, fields in services.redis.xrange(services.settings.key("deadletter"))]


def test_ingest_keeps_the_caller_minimised(services, caplog):
    caplog.set_level(logging.DEBUG)
    _ingest(services, [
        incident_fields("pd-1", **CALLER),
        incident_fields("pd-bad-id", reporter_id_number="110105194912310021"),
        incident_fields("pd-bad-other", reporter_id_number=ID, lat="999"),
        incident_fields("pd-bad-phone", reporter_phone="call me maybe"),
    ])
    with services.read() as db:
        row = db.get(Incident, "pd-1")
        assert (row.reporter_name, row.reporter_phone) == ("周杰伦", "13812341234")
        id_hash = row.reporter_id_hash
        assert id_hash == privacy.id_hash(services.settings.secret("pd_key"), ID)
        payloads = [json.dumps(p, ensure_ascii=False) for p in db.scalars(
            select(IncidentEventRow.payload))]
        dumped = " ".join(str(v) for v in db.execute(select(Incident.__table__)).all())
    assert ID not in dumped and not any(ID in p for p in payloads)
    assert any("reporter_id_hash" in p for p in payloads)
    dead = {d["event_id"]: d for d in _dead_letters(services)}
    assert set(dead) == {"pd-bad-id-reported", "pd-bad-other-reported",
                         "pd-bad-phone-reported"}
    assert "check character" in dead["pd-bad-id-reported"]["reason"]
    assert "phone number" in dead["pd-bad-phone-reported"]["reason"]
    everything = json.dumps(dead, ensure_ascii=False) + caplog.text
    assert ID not in everything and "110105194912310021" not in everything
    assert "call me maybe" not in dead["pd-bad-phone-reported"]["reason"]
    kept = json.loads(dead["pd-bad-other-reported"]["fields"])
    assert kept["reporter_id_number"] == id_hash  # still matchable, never raw
    assert "周杰伦" not in caplog.text and "13812341234" not in caplog.text


def test_without_the_pd_key_an_id_number_is_refused_not_stored(services):
    settings = services.settings.model_copy(update={"pd_key": None})
    _ingest(services, [incident_fields("no-key", **CALLER)], settings)
    with services.read() as db:
        assert db.get(Incident, "no-key") is None
    (dead,) = _dead_letters(services)
    assert "COCKPIT_PD_KEY" in dead["reason"]
    assert json.loads(dead["fields"])["reporter_id_number"] == "redacted"


def test_the_audit_log_cannot_be_edited_or_deleted(services):
    with services.sessions.begin() as db:
        audit.record(db, "someone", "export", target="incidents")
    for statement in ("UPDATE audit_log SET actor = 'other'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), services.sessions.begin() as db:
            db.execute(text(statement))
    with services.read() as db:
        rows = audit.read(db).rows
        assert [(r.actor, r.action) for r in rows] == [("someone", "export")]
    with pytest.raises(ValueError, match="unknown audit action"), \
            services.sessions.begin() as db:
        audit.record(db, "someone", "edit_history")


def test_a_mainland_number_with_its_country_code_is_the_same_number():
    from cockpit.privacy import normalize_phone

    assert normalize_phone("+86 138-1111-0021") == normalize_phone("13811110021")
    assert normalize_phone("0086 13811110021") == "13811110021"
    assert normalize_phone("+44 20 7946 0958") == "+442079460958"


def test_a_homes_position_is_kept_coarse_in_dead_letters():
    fields = {"type": "household.registered", "lon": "120.293612", "lat": "30.350987",
              "address": "朝阳村3组12号"}
    out = privacy.redact_personal(fields, b"k" * 32)
    assert (out["lon"], out["lat"]) == ("120.29", "30.35")
    assert privacy.redact_personal({**fields, "lon": "east"}, None)["lon"] == "***"
    # an incident's position is where it happened, not anyone's home: kept
    incident = {"type": "incident.reported", "lon": "120.293612", "lat": "30.350987"}
    assert privacy.redact_personal(incident, None)["lon"] == "120.293612"
