"""The simulated waste feed through the real ingest on a real Redis and real SQLite /
PostgreSQL: what is stored, a restart, the field app and its visits, live sending, the command
and the demo part."""

from __future__ import annotations

import collections
import signal
import sys
import threading
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from typer.testing import CliRunner

from cockpit.store.waste_models import FollowUp, Household, Landlord, WasteDisposal, WasteStation
from cockpit.waste import simulate as sim
from cockpit.waste.sim_days import accuracy_at
from cockpit.waste.sim_field import FIELD_SOURCE, field_round, load_visits
from cockpit.waste.sim_items import read_items
from cockpit.waste.sim_world import COMMUNITY, World
from tests.conftest import make_settings
from tests.sim_support import cli_env, run_until_signalled
from tests.store_support import count_rows, drain, stream_entries

TZ = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 11, 20)

# -- through the real ingest ---------------------------------------------------------------------


def test_a_small_world_through_ingest_and_a_restart_stores_nothing_new(sqlite_services):
    services = sqlite_services
    config = sim.SimConfig(households=300, history_days=8, seed=7)
    now = datetime.now(TZ) - timedelta(minutes=1)
    stats = sim.simulate(services.settings, services.redis, config, once=True, now=now)
    assert stats.history > 2_000 and stats.live == 0 and stats.photos == 16
    entries = stream_entries(services, "waste")
    assert len(entries) == stats.history
    assert all(e["source"].startswith("sim:") for e in entries)
    worker = drain(services, "sim")
    assert services.redis.xlen(services.settings.key("deadletter")) == 0
    assert worker.stats.stored == stats.history and worker.stats.dead == 0

    registered = {e["household_id"] for e in entries if e["type"] == "household.registered"}
    disposals = [e for e in entries if e["type"] == "waste.disposal"]
    assert count_rows(services, Household) == len(registered)
    assert count_rows(services, Household, Household.status == "moved_out") == sum(
        e["type"] == "household.moved_out" for e in entries)
    assert count_rows(services, WasteDisposal) == len(disposals)
    assert count_rows(services, WasteDisposal, WasteDisposal.household_id.is_(None)) == 0
    assert count_rows(services, WasteDisposal, WasteDisposal.via_house.is_(True)) > 0
    assert count_rows(services, WasteStation) == sum(e["type"] == "station.registered"
                                                 for e in entries)
    assert count_rows(services, Landlord) > 10
    tally = collections.defaultdict(list)
    with services.read() as session:
        for code, correct in session.execute(select(WasteDisposal.village_code,
                                                    WasteDisposal.correct)):
            tally[code].append(correct)
    community = sum(tally[COMMUNITY]) / len(tally[COMMUNITY])
    others = [ok for code, oks in tally.items() if code != COMMUNITY for ok in oks]
    # the others lower taken together (a village of ten households may beat it by chance)
    assert community > sum(others) / len(others) + 0.01
    assert count_rows(services, FollowUp, FollowUp.status == "open") > 0  # the weak are found

    again = sim.simulate(services.settings, services.redis, config, once=True, now=now)
    assert again.history == stats.history and again.photos == 0
    assert stream_entries(services, "waste")[stats.history:] == entries
    worker = drain(services, "sim")
    assert worker.stats.stored == 0 and worker.stats.duplicates == stats.history


def test_the_field_app_assigns_and_visits_the_weak_and_they_improve(sqlite_services):
    services = sqlite_services
    config = sim.SimConfig(households=300, history_days=10, seed=7)
    # a fixed moment (the visits, 7 h later, are past too): the draws are the seed's and the
    # date's, so at the real clock a day with few follow-ups could draw mostly not-at-home
    now = datetime(2026, 11, 20, 9, 0, tzinfo=TZ)
    sim.simulate(services.settings, services.redis, config, once=True, now=now)
    drain(services, "sim")
    world = World(7, 300, TZ, read_items())
    opened = count_rows(services, FollowUp, FollowUp.status == "open")
    assert opened > 0
    with services.read() as session:
        assigned, visits = field_round(session, world, now)
        assert field_round(session, world, now)[0] == assigned  # the same round, the same events
    assert visits == {} and len(assigned) == min(opened, 40)
    assert {e.fields["type"] for e in assigned} == {"followup.assigned"}
    assert all(e.fields["source"] == FIELD_SOURCE for e in assigned)
    services.redis.xadd(services.settings.stream("waste"), assigned[0].fields)
    for e in assigned[1:]:
        services.redis.xadd(services.settings.stream("waste"), e.fields)
    drain(services, "sim")
    assert services.redis.xlen(services.settings.key("deadletter")) == 0
    assert count_rows(services, FollowUp, FollowUp.status == "assigned") == len(assigned)

    later = now + timedelta(hours=7)
    with services.read() as session:
        events, visits = field_round(session, world, later)
    visited = [e for e in events if e.fields["type"] == "followup.visited"]
    assert len(visited) == len(assigned) and len(visits) == len(assigned)
    assert all(now < datetime.fromisoformat(e.fields["occurred_at"]) <= later for e in visited)
    outcomes = collections.Counter(v.outcome for v in visits.values())
    assert outcomes.most_common(1)[0][0] == "educated"
    for e in events:
        services.redis.xadd(services.settings.stream("waste"), e.fields)
    drain(services, "sim")
    assert count_rows(services, FollowUp, FollowUp.status == "visited") == len(visited)
    educated = [h for h, v in visits.items() if v.outcome == "educated"]
    residents = {h.household_id: h for h in world.residents(now - timedelta(days=10), now)}
    household = residents[educated[0]]
    after = later + timedelta(days=1)
    assert accuracy_at(household, after, visits) > accuracy_at(household, after, {})


def test_live_events_are_sent_when_due_and_the_field_app_runs(sqlite_services, monkeypatch):
    services = sqlite_services
    monkeypatch.setattr(sim, "MAX_WAIT_S", 0.001)
    # yesterday 08:00 local: the five live hours lie in the stations' day whatever the hour
    # the test runs at (from 6 hours ago, a run at 05:00 fell in the night: no disposals)
    start = (datetime.now(TZ) - timedelta(days=1)).replace(hour=8, minute=0, second=0,
                                                            microsecond=0)
    config = sim.SimConfig(households=200, history_days=9, seed=11)
    sim.simulate(services.settings, services.redis, config, once=True, now=start)
    drain(services, "sim")
    assert count_rows(services, FollowUp, FollowUp.status == "open") > 0
    ticks = iter(start + timedelta(minutes=5 * k) for k in range(1, 10_000))
    stop = threading.Event()
    seen: list[datetime] = []
    beats: list[bool] = []

    def clock() -> datetime:
        seen.append(next(ticks))
        beats.append(bool(services.redis.exists(services.settings.key("feed:waste"))))
        if seen[-1] > start + timedelta(hours=5):
            stop.set()
        return seen[-1]

    before = len(stream_entries(services, "waste"))
    stats = sim.simulate(services.settings, services.redis, config, stop=stop, now=start,
                         clock=clock, sessions=services.sessions)
    assert stats.stopped and stats.live > 50 and any(beats)
    live = stream_entries(services, "waste")[before + stats.history:]
    assert any(e["type"] == "followup.assigned" for e in live)
    disposals = [e for e in live if e["type"] == "waste.disposal"]
    times = [datetime.fromisoformat(e["occurred_at"]) for e in disposals]
    assert times == sorted(times) and start < times[0] and times[-1] <= seen[-1]
    assert services.redis.exists(services.settings.key("feed:waste")) == 0
    worker = drain(services, "sim")
    assert worker.stats.dead == 0
    assert count_rows(services, FollowUp, FollowUp.status == "assigned") > 0
    assert load_visits(services.redis, services.settings, World(11, 200, TZ, read_items())) == {}


def test_a_tiny_world_on_each_database(services):
    stats = sim.simulate(services.settings, services.redis,
                         sim.SimConfig(households=40, history_days=2, seed=3), once=True,
                         now=datetime.now(TZ) - timedelta(minutes=1))
    worker = drain(services, "sim")
    assert worker.stats.dead == 0 and worker.stats.stored == stats.history
    assert count_rows(services, WasteDisposal) > 40


# -- the command -------------------------------------------------------------------------------



def test_the_command_once(sqlite_services):
    from cockpit import cli

    result = CliRunner().invoke(cli.app, ["simulate-waste", "--once", "--households", "30",
                                          "--history-days", "1", "--seed", "5"],
                                env=cli_env(sqlite_services.settings))
    assert result.exit_code == 0, result.output
    sent = len(stream_entries(sqlite_services, "waste"))
    assert f"simulated waste done: {sent} events sent" in result.output
    assert len(list((sqlite_services.settings.data_dir / "photos" / "sim").glob("*.png"))) == 16


def test_the_command_names_a_missing_item_list_and_exits_2(sqlite_services, tmp_path):
    from cockpit import cli

    missing = tmp_path / "items.csv"
    result = CliRunner().invoke(cli.app, ["simulate-waste", "--once", "--households", "30",
                                          "--items", str(missing)],
                                env=cli_env(sqlite_services.settings))
    assert result.exit_code == 2
    assert f"waste item list not found: {missing}" in result.output


def test_the_command_stops_cleanly_on_sigterm(tmp_path, redis_server_url, sqlite_url):
    settings = make_settings(tmp_path, redis_server_url, sqlite_url)
    code, out, err = run_until_signalled(settings, "waste", [
        "simulate-waste", "--households", "30", "--history-days", "1"], signal.SIGTERM)
    assert code == 0, err
    assert "simulated waste stopped:" in out and "Traceback" not in err


def test_the_demo_runs_the_simulator_as_a_part():
    from cockpit import demo

    argv = demo.part_commands(Path("feed.csv"), "sf_fire_calls", (10.0, 1.0))["waste"]
    assert argv == [sys.executable, "-m", "cockpit.cli", "simulate-waste"]


