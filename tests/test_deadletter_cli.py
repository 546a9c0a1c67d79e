"""``cockpit deadletter list|show|redrive`` against the real Redis and both databases: an entry
the ingest dead-lettered is listed, shown redacted, fixed and re-sent, and stored exactly once."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cockpit.cli import app as cli_app
from cockpit.store.models import Incident
from tests.conftest import TEST_SECRETS
from tests.factories import incident_fields
from tests.store_support import count_rows, dead_letters, drain, ingest

NAME, PHONE = "周杰伦", "13812341234"


@pytest.fixture
def env(services, redis_server_url, tmp_path) -> dict[str, str]:
    return {"REDIS_URL": redis_server_url, "COCKPIT_STREAM_PREFIX": services.settings.stream_prefix,
            "COCKPIT_DATA_DIR": str(tmp_path / "cli"), "COCKPIT_PD_KEY": TEST_SECRETS["pd_key"],
            "COCKPIT_TIMEZONE": "Asia/Shanghai", "COLUMNS": "250"}


def _cli(env, *args: str):
    return CliRunner().invoke(cli_app, ["deadletter", *args], env=env)


def _ok(env, *args: str) -> str:
    result = _cli(env, *args)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_dead_letters_are_listed_shown_fixed_and_stored_exactly_once(services, env):
    settings, r = services.settings, services.redis
    stream = settings.stream("incidents")
    swapped = incident_fields("S1", lon="30.3518", lat="120.2819", reporter_name=NAME,
                              reporter_phone=PHONE)
    missing = incident_fields("M1")
    del missing["incident_id"]
    ingest(services, [swapped, missing])
    assert count_rows(services, Incident) == 0
    by_event = {d["event_id"]: d for d in dead_letters(services)}
    letter_id = next(i for i, f in r.xrange(settings.key("deadletter"))
                     if f["event_id"] == "S1-reported")
    missing_id = next(i for i, f in r.xrange(settings.key("deadletter"))
                      if f["event_id"] == "M1-reported")

    listed = _ok(env, "list")
    assert letter_id in listed and missing_id in listed and "swapped" in listed
    assert listed.index(missing_id) < listed.index(letter_id)  # newest first
    assert "2 dead letter(s)" in listed and "incident_id 1" in listed
    assert "by reason: incident_id 1, lat 1" in listed  # counted by the field the reason names
    only = _ok(env, "list", "--reason", "SWAPPED", "--since", "1h")
    assert letter_id in only and missing_id not in only and "1 dead letter(s)" in only
    assert "no dead letters match" in _ok(env, "list", "--type", "incident.exploded")

    shown = _ok(env, "show", letter_id)
    assert by_event["S1-reported"]["reason"] in shown
    assert f"{stream} {by_event['S1-reported']['stream_id']}" in shown
    assert "周**" in shown and NAME not in shown and PHONE not in shown
    fields = json.loads(shown[shown.index("{"):])
    assert fields["incident_id"] == "S1" and fields["lon"] == "30.3518"

    # unfixed, it would be dead-lettered again: refused, nothing sent
    refused = _cli(env, "redrive", letter_id)
    assert refused.exit_code == 1 and "would dead-letter it again" in refused.stderr
    assert r.xlen(stream) == 2
    fix = ["--set", "lon=120.2819", "--set", "lat=30.3518"]
    dry = _ok(env, "redrive", letter_id, *fix, "--dry-run")
    assert "would send 1 of 1" in dry and '"lon": "120.2819"' in dry
    assert "reporter_name is redacted" in dry and "reporter_phone is redacted" in dry
    assert r.xlen(stream) == 2 and "→" not in _ok(env, "list")

    sent = _ok(env, "redrive", letter_id, *fix)
    assert "sent 1 of 1" in sent
    new_id = r.xrevrange(stream, count=1)[0][0]
    assert f"redriven {letter_id} → {stream} {new_id}" in sent
    assert f"→ {new_id}" in _ok(env, "list")
    drain(services)
    assert count_rows(services, Incident, Incident.incident_id == "S1") == 1
    with services.read() as session:
        stored = session.get(Incident, "S1")
        # the caller's masked name and phone were left out, not stored as if real
        assert stored.reporter_name is None and stored.reporter_phone is None
    assert r.xlen(settings.key("deadletter")) == 2  # nothing new dead-lettered

    again = _cli(env, "redrive", letter_id, *fix)
    assert again.exit_code == 1 and "redriven already" in again.stderr
    assert r.xlen(stream) == 3
    forced = _ok(env, "redrive", letter_id, *fix, "--force")
    assert "sent 1 of 1" in forced
    drain(services)
    assert count_rows(services, Incident, Incident.incident_id == "S1") == 1  # idempotent


def test_unknown_ids_and_usage_errors(services, env):
    ingest(services, [{"type": "incident.exploded"}])
    (letter,) = services.redis.xrange(services.settings.key("deadletter"))
    unknown = _cli(env, "show", "1-1")
    assert unknown.exit_code == 1 and "no dead letter 1-1" in unknown.stderr
    assert _cli(env, "show", "not-an-id").exit_code == 1
    redrive = _cli(env, "redrive", letter[0], "1-1", "--dry-run")
    assert redrive.exit_code == 1 and "no dead letter 1-1" in redrive.stderr
    assert _cli(env, "redrive").exit_code == 2
    assert _cli(env, "redrive", "--all").exit_code == 2  # --all needs --reason
    assert _cli(env, "redrive", letter[0], "--set", "novalue").exit_code == 2
    assert _cli(env, "list", "--since", "yesterday-ish").exit_code == 2
    # --all with a reason: the invalid one is reported, not sent
    bulk = _cli(env, "redrive", "--all", "--reason", "exploded")
    assert bulk.exit_code == 1 and "would dead-letter it again" in bulk.stderr
    assert "sent 0 of 1" in bulk.stdout


def test_every_redaction_is_recognised_and_real_values_are_not():
    from cockpit.deadletter import redacted_fields
    from cockpit.privacy import ID_NUMBER_FIELDS, NAME_FIELDS, PHONE_FIELDS, redact_personal

    raw = {**dict.fromkeys(NAME_FIELDS, NAME), **dict.fromkeys(PHONE_FIELDS, PHONE),
           **dict.fromkeys(ID_NUMBER_FIELDS, "11010519491231002X"),
           "type": "household.registered", "address": "乔司街道三角村12号", "title": "x"}
    personal = NAME_FIELDS | PHONE_FIELDS | ID_NUMBER_FIELDS | {"address"}
    for key in (TEST_SECRETS["pd_key"].encode(), None):
        assert set(redacted_fields(redact_personal(raw, key))) == personal
    assert redacted_fields(raw) == []
    # an incident's place is no home: its address is never masked, so never left out
    assert redacted_fields({"type": "incident.reported", "address": "三角村**号"}) == []


def test_hostile_values_neither_widen_the_list_nor_steer_the_terminal(services, env):
    settings = services.settings
    long_id, rlo = "x" * 5000, "incident.\u202ereported"
    hostile = incident_fields("H1")
    hostile["event_id"], hostile["type"] = long_id, rlo
    ingest(services, [hostile])
    listed = _ok(env, "list")
    assert "\u202e" not in listed and "\\u202e" in listed
    assert max(len(line) for line in listed.splitlines()) < 400  # event_id cut, not 5,000 wide
    [letter_id] = [i for i, _ in services.redis.xrange(settings.key("deadletter"))]
    shown = _ok(env, "show", letter_id)
    assert "\u202e" not in shown and "\\u202e" in shown
    assert long_id in shown  # show keeps the whole value
