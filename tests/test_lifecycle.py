"""The incident life cycle as a pure state machine, and the governance rules file."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cockpit.governance_config import ConfigError, load_governance, parse_duration
from cockpit.lifecycle import Lifecycle, Move, run, stays
from cockpit.vocab import Stage

T = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)


def _moves(*pairs: tuple[str, int]) -> list[Move]:
    return [Move(T + timedelta(minutes=m), Stage(stage), f"e{i}-{stage}", "test",
                 f"incident.{stage}") for i, (stage, m) in enumerate(pairs)]


def test_full_loop_enters_every_stage_in_order():
    state = run(_moves(("reported", 0), ("assessed", 1), ("dispatched", 2), ("arrived", 9),
                       ("resolved", 30), ("closed", 60)), keep_steps=True)
    assert state.stage is Stage.CLOSED
    assert [s.stage.value for s in state.steps] == ["reported", "assessed", "dispatched",
                                                    "arrived", "resolved", "closed"]
    assert state.notes == [] and state.illegal_count == 0
    assert state.reached[Stage.ARRIVED] == T + timedelta(minutes=9)


def test_order_of_arrival_does_not_matter():
    moves = _moves(("reported", 0), ("dispatched", 3), ("arrived", 3), ("dispatched", 5),
                   ("resolved", 20), ("closed", 20), ("reopened", 40), ("dispatched", 41),
                   ("closed", 90), ("assessed", 95))
    reference = run(moves).to_json()
    rng = random.Random(3)
    for _ in range(20):
        shuffled = rng.sample(moves, len(moves))
        assert run(shuffled).to_json() == reference
        # stepping one by one, re-running from scratch whenever a move comes late
        state, seen = Lifecycle(), []
        for move in shuffled:
            seen.append(move)
            if state.can_extend(move):
                state.apply(move)
            else:
                state = run(seen)
        assert state.columns() == run(moves).columns()


def test_illegal_moves_are_recorded_and_change_nothing():
    state = run(_moves(("reported", 0), ("arrived", 5), ("dispatched", 6), ("closed", 30),
                       ("resolved", 31), ("cancelled", 32)))
    kinds = [(n.kind, n.illegal) for n in state.notes]
    assert kinds == [("skipped", False), ("backward", True), ("skipped", False),
                     ("after_close", True), ("after_close", True)]
    assert state.notes[0].detail == "assessed,dispatched"
    assert state.notes[2].detail == "resolved"
    assert state.stage is Stage.CLOSED and state.illegal_count == 3


def test_reopening_restarts_the_loop_and_counts():
    state = run(_moves(("reported", 0), ("resolved", 10), ("reopened", 20), ("assessed", 21),
                       ("dispatched", 22), ("resolved", 40), ("closed", 50)), keep_steps=True)
    assert state.stage is Stage.CLOSED and state.reopen_count == 1
    assert [s.cycle for s in state.steps] == [0, 0, 1, 1, 1, 1, 1]
    # first time reached is kept for the funnel; the reopening itself has its time
    assert state.reached[Stage.RESOLVED] == T + timedelta(minutes=10)
    assert state.reached[Stage.REOPENED] == T + timedelta(minutes=20)
    # reported → resolved skips three stages; after the reopening dispatched → resolved one
    assert [n.detail for n in state.notes] == ["assessed,dispatched,arrived", "arrived"]


def test_reopening_an_open_incident_and_cancelling_after_cancel_are_illegal():
    state = run(_moves(("reported", 0), ("reopened", 1), ("cancelled", 2), ("cancelled", 3)))
    assert [n.kind for n in state.notes] == ["reopen_open", "after_cancel"]
    assert state.stage is Stage.CANCELLED


def test_first_event_not_a_report_is_noted():
    state = run(_moves(("dispatched", 0), ("arrived", 4)))
    assert state.stage is Stage.ARRIVED
    assert [n.kind for n in state.notes] == ["no_report"]


def test_same_instant_ties_follow_the_loop_order():
    state = run(_moves(("closed", 5), ("resolved", 5), ("reported", 0)))
    assert state.stage is Stage.CLOSED and state.notes[0].kind == "skipped"


def test_state_survives_a_round_trip_through_the_row():
    moves = _moves(("reported", 0), ("dispatched", 2), ("arrived", 2))
    state = run(moves[:2])
    row = {"incident_id": "x", **state.columns()}
    again = Lifecycle.from_row(row)
    again.apply(moves[2])
    assert again.columns() == run(moves).columns()


def test_stays_measure_time_against_limits():
    state = run(_moves(("reported", 0), ("dispatched", 4), ("arrived", 20)), keep_steps=True)
    limits = {Stage.REPORTED: timedelta(minutes=5), Stage.DISPATCHED: timedelta(minutes=10)}
    now = T + timedelta(minutes=30)
    out = stays(state, now, limits.get)
    assert [(s.stage.value, s.seconds, s.limit_s, s.over_s) for s in out] == [
        ("reported", 240.0, 300.0, 0.0), ("dispatched", 960.0, 600.0, 360.0),
        ("arrived", 600.0, None, None)]
    assert out[-1].left_at == now


# -- the governance file ----------------------------------------------------------------------
def test_shipped_rules_pick_the_most_specific_limit():
    config = load_governance()
    assert config.limit("fire", "critical", "dispatched") == timedelta(minutes=6)
    assert config.limit("fire", "urgent", "dispatched") == timedelta(minutes=10)
    assert config.limit("other", "critical", "dispatched") == timedelta(minutes=8)
    assert config.limit("other", "normal", "dispatched") == timedelta(minutes=30)
    assert config.limit("fire", "urgent", "closed") is None


def test_shipped_routing_by_category_then_village():
    config = load_governance()
    assert config.route("fire", "330110006224", None) == "fire-station"
    assert config.route("public_safety", "330110006224", None) == "zz-3"
    assert config.route("public_safety", "330110006002", None) == "zz-1"
    assert config.route("other", None, None) == "duty"
    assert config.team("综治队三中队").code == "zz-3"


def test_ladder_levels_by_lateness():
    config = load_governance()
    assert [config.level_index(timedelta(minutes=m)) for m in (0, 9, 10, 29, 30, 300)] == \
        [1, 1, 2, 2, 3, 3]


@pytest.mark.parametrize(("text", "message"), [
    ("limits: [{limits: {arived: 5m}}]\nescalation: [{level: a, zh: a, en: a, after: 0, "
     "ack_within: 1m}]", "limits.0.limits.arived"),
    ("limits: [{limits: {closed: 5m}}]\nescalation: [{level: a, zh: a, en: a, after: 0, "
     "ack_within: 1m}]", "closed is final"),
    ("escalation: [{level: a, zh: a, en: a, after: 5 minutes, ack_within: 1m}]",
     "is not a duration"),
    ("escalation: [{level: a, zh: a, en: a, after: 0, ack_within: 1m}]\n"
     "routing: [{team: nobody}]", "routing.0.team: 'nobody' is not a code"),
    ("escalation: [{level: a, zh: a, en: a, after: 10m, ack_within: 1m}, "
     "{level: b, zh: b, en: b, after: 5m, ack_within: 1m}]", "increasing `after`"),
    ("limits: []", "escalation: required key is missing"),
    ("escalation: [{level: a, zh: a, en: a, after: 0, ack_within: 1m}]\ncolour: red",
     "colour: unknown key"),
    ("- just a list", "expected a mapping"),
    ("limits: [unclosed", "cannot read"),
    ("escalation:\n  - level: a\n   zh: b", "not valid YAML at line 3"),
])
def test_bad_rules_files_say_where_and_why(tmp_path: Path, text, message):
    path = tmp_path / "governance.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_governance(path)
    assert message in str(err.value)


def test_missing_rules_file_is_named(tmp_path: Path):
    with pytest.raises(ConfigError, match="no such governance file"):
        load_governance(tmp_path / "nope.yaml")


@pytest.mark.parametrize(("value", "seconds"), [(90, 90), ("90s", 90), ("15m", 900),
                                                 ("2h", 7200), ("1d", 86400), ("1.5h", 5400)])
def test_durations(value, seconds):
    assert parse_duration(value).total_seconds() == seconds


@pytest.mark.parametrize("value", ["-5m", "5 min", "m", True])
def test_bad_durations(value):
    with pytest.raises(ValueError):
        parse_duration(value)


def test_long_notification_ids_are_fitted_stably():
    from cockpit.notices import MAX_ID, fit_id

    long = ("x" * 128 + "/overdue/reported/1795947154000/duty_officer"
            "/unack/section_chief/unack/leader")
    fitted = fit_id(long)
    assert len(fitted) == MAX_ID and fitted == fit_id(long)
    assert fitted != fit_id(long[:-1] + "g") and fit_id("LP-1/new") == "LP-1/new"
