"""The as-of store (cockpit.asof, cockpit.timemachine) on SQLite and PostgreSQL.

A past moment's state must equal what the real ingest writes from the events up to it: each
check builds a second store that ingested only those events and compares, and recounts the
wall's figures from the event field maps without the cockpit's query code.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from cockpit import queries
from cockpit.asof import Shadow
from cockpit.store.models import Incident
from cockpit.store.volunteer_models import Volunteer
from cockpit.store.waste_models import WasteDisposal
from cockpit.timemachine import machine_for, parse_at, read_at
from tests import store_support
from tests import volunteer_factories as vf
from tests import waste_factories as wf
from tests.conftest import _services
from tests.factories import T0, incident_fields

STAGES = ["reported", "assessed", "dispatched", "arrived", "resolved", "closed"]
CATEGORIES = ["fire", "police", "urban_management", "other"]


def incident_feed(n: int = 24, seed: int = 7) -> list[dict[str, str]]:
    """Incidents reported over six hours, each taken some stages further, one cancelled."""
    rng = random.Random(seed)
    feed = []
    for i in range(n):
        start = T0 + timedelta(minutes=15 * i)
        reached = rng.randint(1, len(STAGES))
        for k, stage in enumerate(STAGES[:reached]):
            extra = {"category": CATEGORIES[i % 4]} if stage == "reported" else {}
            feed.append(incident_fields(f"I{i:03d}", stage, start + timedelta(minutes=7 * k),
                                        **extra))
        if i == 5:
            feed.append(incident_fields("I005", "cancelled", start + timedelta(minutes=50)))
    rng.shuffle(feed)  # delivery order is not time order: late events re-run the fold
    return feed


def side_feed() -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Waste (two households, a station, disposals) and volunteer events over the same hours."""
    waste = [wf.station("ST-1", at=T0 - timedelta(days=1)),
             wf.household("H1", at=T0 - timedelta(days=1)),
             wf.household("H2", village="三角村", at=T0 + timedelta(hours=2))]
    waste += [wf.disposal("H1" if k % 2 else "H2", T0 + timedelta(hours=2, minutes=20 * k),
                          correct=k % 3 != 0) for k in range(9)]
    people = [vf.registered(f"V{k}", f"志愿者{k}", at=T0 + timedelta(hours=k)) for k in range(4)]
    people.append(vf.activity("A1", T0 + timedelta(hours=1), hours=2, at=T0))
    people += [vf.punch("A1", "V0", T0 + timedelta(hours=1, minutes=5)),
               vf.punch("A1", "V0", T0 + timedelta(hours=2, minutes=50), out=True)]
    return waste, people


def at_of(fields: dict[str, str]) -> datetime:
    return datetime.fromisoformat(fields["occurred_at"])


def feed_all(services, incidents, waste, people, upto: datetime | None = None) -> None:
    def keep(rows):
        return [f for f in rows if upto is None or at_of(f) <= upto]
    store_support.ingest(services, keep(incidents))
    wf.ingest(services, keep(waste))
    store_support.ingest(services, keep(people), stream="volunteers")


def recount(incidents: list[dict[str, str]], at: datetime) -> dict[str, int]:
    """Open incidents and today's reports at ``at``, from the field maps alone."""
    last: dict[str, tuple[datetime, str]] = {}
    reported: dict[str, datetime] = {}
    for f in incidents:
        when = at_of(f)
        if when > at:
            continue
        stage = f["type"].split(".")[1]
        if stage == "reported":
            reported[f["incident_id"]] = when
        if f["incident_id"] not in last or when > last[f["incident_id"]][0]:
            last[f["incident_id"]] = (when, stage)
    day = at.astimezone(queries_tz()).date()
    return {"open": sum(1 for _, s in last.values() if s not in ("closed", "cancelled")),
            "today_total": sum(1 for r in reported.values()
                               if r.astimezone(queries_tz()).date() == day)}


def queries_tz():
    from zoneinfo import ZoneInfo
    return ZoneInfo("Asia/Shanghai")


def incident_rows(session) -> list[tuple]:
    return sorted(session.execute(select(
        Incident.incident_id, Incident.stage, Incident.stage_at, Incident.category,
        Incident.village_code, Incident.due_at, Incident.reopen_count, Incident.late_count,
        Incident.reported_at, Incident.closed_at)).all())


def disposal_rows(session) -> list[tuple]:
    return sorted(session.execute(select(
        WasteDisposal.event_id, WasteDisposal.household_id, WasteDisposal.village_code,
        WasteDisposal.correct, WasteDisposal.local_day)).all())


MOMENTS = [T0 - timedelta(hours=1), T0 + timedelta(minutes=50), T0 + timedelta(hours=3, minutes=1),
           T0 + timedelta(hours=9)]


def test_shadow_equals_a_store_fed_only_the_events_up_to_each_moment(services, tmp_path,
                                                                      redis_server_url):
    incidents = incident_feed()
    waste, people = side_feed()
    feed_all(services, incidents, waste, people)
    tz = services.settings.tz
    for n, moment in enumerate(MOMENTS):
        oracle_gen = _services(tmp_path / f"oracle{n}", redis_server_url,
                               f"sqlite:///{tmp_path}/oracle{n}.db")
        oracle = next(oracle_gen)
        try:
            feed_all(oracle, incidents, waste, people, upto=moment)
            with oracle.read() as want, read_at(services, moment) as got:
                assert incident_rows(got) == incident_rows(want)
                assert disposal_rows(got) == disposal_rows(want)
                past = queries.summary(got, tz, moment)
                assert past == queries.summary(want, tz, moment)
            hand = recount(incidents, moment)
            assert (past["open"], past["today_total"]) == (hand["open"], hand["today_total"])
        finally:
            oracle_gen.close()
    machine_for(services).clear()


def test_a_replay_step_gives_what_a_fresh_build_gives(services):
    incidents = incident_feed(16, seed=3)
    store_support.ingest(services, incidents)
    tz = services.settings.tz
    steps = [T0 + timedelta(minutes=m) for m in range(0, 300, 37)]
    machine = machine_for(services)
    machine.clear()
    for moment in steps:  # one shadow carried forward, as a replay does
        with read_at(services, moment) as session:
            stepped = (incident_rows(session), queries.summary(session, tz, moment))
        fresh = Shadow.build(services.sessions, services.settings, moment)
        with fresh.sessions() as session:
            assert (incident_rows(session), queries.summary(session, tz, moment)) == stepped
        fresh.close()
    assert len(machine.shadows) == 1  # moved forward, not rebuilt
    machine.clear()


def test_late_events_reach_a_cached_moment(sqlite_services, monkeypatch):
    services = sqlite_services
    monkeypatch.setattr("cockpit.timemachine.LATE_CHECK_S", 0.0)
    moment = T0 + timedelta(hours=1)
    store_support.ingest(services, [incident_fields("A", "reported", T0)])
    with read_at(services, moment) as session:
        assert queries.summary(session, services.settings.tz, moment)["open"] == 1
    # stored now, happened before the cached moment; and one after it, which must not show
    store_support.ingest(services, [incident_fields("A", "closed", T0 + timedelta(minutes=30)),
                                    incident_fields("B", "reported", moment + timedelta(1))])
    with read_at(services, moment) as session:
        past = queries.summary(session, services.settings.tz, moment)
        assert past["open"] == 0 and past["closed_today"] == 1
        assert session.scalar(select(Incident.incident_id).where(
            Incident.incident_id == "B")) is None
    machine_for(services).clear()


def test_the_past_holds_no_personal_data_the_history_does_not_keep(sqlite_services):
    services = sqlite_services
    store_support.ingest(services, [vf.registered("V1", "李四", phone="13900002222")],
                         stream="volunteers")
    with read_at(services, T0 + timedelta(hours=1)) as session:
        rows = session.execute(select(Volunteer.name, Volunteer.phone, Volunteer.id_hash)).all()
    assert [tuple(r) for r in rows] == [("*", None, None)]
    machine_for(services).clear()


@pytest.mark.parametrize("bad", [datetime(2026, 11, 29, 2, 0),  # naive
                                 datetime.now(UTC) + timedelta(hours=1)])
def test_read_at_refuses_naive_and_future_moments(sqlite_services, bad):
    with pytest.raises(ValueError, match="at: "):
        with read_at(sqlite_services, bad):
            pass


@pytest.mark.parametrize(("text", "want"), [
    ("2026-12-03T02:00:00+08:00", datetime(2026, 12, 2, 18, 0, tzinfo=UTC)),
    ("2026-12-03T02:00:00", datetime(2026, 12, 2, 18, 0, tzinfo=UTC)),  # local
    ("2026-12-03T02:00:00 08:00", datetime(2026, 12, 2, 18, 0, tzinfo=UTC)),  # + lost in a URL
    ("1764698400000", datetime(2025, 12, 2, 18, 0, tzinfo=UTC)),
])
def test_parse_at_reads_iso_and_epoch_ms(text, want):
    assert parse_at(text, queries_tz()) == want


@pytest.mark.parametrize("text", ["", "yesterday", "2026-13-01T00:00:00"])
def test_parse_at_says_what_is_wrong(text):
    with pytest.raises(ValueError, match="at: "):
        parse_at(text, queries_tz())


def test_repeat_groups_of_the_past_count_only_the_incidents_up_to_it(sqlite_services):
    services = sqlite_services
    store_support.ingest(services, [
        incident_fields(f"R{k}", "reported", T0 + timedelta(hours=k), event_id=f"R{k}")
        for k in (0, 1, 3)])
    with read_at(services, T0 + timedelta(hours=2)) as session:
        groups = {(r.incident_id, r.repeat_group, r.repeat_size) for r in session.execute(
            select(Incident.incident_id, Incident.repeat_group, Incident.repeat_size))}
    assert groups == {("R0", "R0", 2), ("R1", "R0", 2)}
    machine_for(services).clear()
