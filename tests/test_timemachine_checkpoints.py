"""Midnight checkpoints, the byte-bounded cache and the build bounds of the time machine.

A moment made from a checkpoint must equal a fresh build from the whole history (the same
check as for replay steps), a late event must never be hidden by a checkpoint made before it
was stored, dropped shadows must free their database, and a process must not queue builds
without bound.
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from cockpit import queries
from cockpit.asof import Shadow
from cockpit.asof_checkpoint import midnight_before
from cockpit.store.models import Incident
from cockpit.timemachine import TimeMachine, TimeMachineBusy, machine_for
from cockpit.timemachine_settings import TimeMachineSettings
from tests import store_support
from tests.factories import T0, incident_fields
from tests.test_timemachine import disposal_rows, feed_all, incident_feed, incident_rows, side_feed

#: T0 is 10:00 in Shanghai: the local midnight after it is 14 hours later.
MIDNIGHT = T0 + timedelta(hours=14)


def machine(services, tmp_path, **config) -> TimeMachine:
    """A time machine as another web process of the same store would have (its own cache)."""
    settings = TimeMachineSettings(checkpoint_dir=tmp_path / "checkpoints", **config)
    return TimeMachine(services, config=settings)


def picture(services, session, moment) -> tuple:
    return (incident_rows(session), disposal_rows(session),
            queries.summary(session, services.settings.tz, moment))


def fresh(services, moment) -> tuple:
    shadow = Shadow.build(services.sessions, services.settings, moment)
    try:
        with shadow.sessions() as session:
            return picture(services, session, moment)
    finally:
        shadow.close()


def shown(tm: TimeMachine, services, moment) -> tuple:
    shadow = tm.acquire(moment)
    try:
        with shadow.sessions() as session:
            return picture(services, session, moment)
    finally:
        shadow.lock.release()


def test_a_moment_from_a_checkpoint_equals_a_fresh_build(services, tmp_path):
    assert midnight_before(MIDNIGHT + timedelta(hours=1), services.settings.tz) == MIDNIGHT
    waste, people = side_feed()
    feed_all(services, incident_feed(80, seed=11), waste, people)  # 20 hours of incidents
    first = machine(services, tmp_path)
    moment = MIDNIGHT + timedelta(hours=1, minutes=7)
    assert shown(first, services, moment) == fresh(services, moment)
    assert first.counts == {"built": 1, "loaded": 0, "moved": 0, "saved": 1}  # its midnight
    assert first.checkpoints.moments() == [MIDNIGHT]

    other = machine(services, tmp_path)  # another process: reads the checkpoint
    later = MIDNIGHT + timedelta(hours=4, minutes=31)
    assert shown(other, services, later) == fresh(services, later)
    assert other.counts["built"] == 0 and other.counts["loaded"] == 1

    # a day on: the next midnight is crossed, saved on the way
    next_day = MIDNIGHT + timedelta(days=1, hours=2)
    third = machine(services, tmp_path)
    assert shown(third, services, next_day) == fresh(services, next_day)
    assert third.checkpoints.moments() == [MIDNIGHT, MIDNIGHT + timedelta(days=1)]
    for tm in (first, other, third):
        tm.clear()


def test_a_late_event_drops_the_checkpoints_that_lack_it(services, tmp_path):
    hour = timedelta(hours=1)
    store_support.ingest(services, [incident_fields("A", "reported", MIDNIGHT - 3 * hour),
                                    incident_fields("B", "reported", MIDNIGHT + hour)])
    moment = MIDNIGHT + timedelta(hours=2)
    first = machine(services, tmp_path)
    shown(first, services, moment)
    first.clear()
    # stored now: one that happened before the midnight checkpoint, one after it
    store_support.ingest(services, [
        incident_fields("A", "closed", MIDNIGHT - timedelta(hours=1)),
        incident_fields("C", "reported", MIDNIGHT + timedelta(minutes=30))])
    again = machine(services, tmp_path)
    got = shown(again, services, moment)
    assert got == fresh(services, moment)
    assert again.counts["loaded"] == 0 and again.counts["built"] == 1  # dropped, built anew
    stages = {i: s for i, s, *_ in got[0]}
    assert stages["A"] == "closed" and "C" in stages

    # an event after the midnight only: the checkpoint holds, the step brings it
    store_support.ingest(services, [incident_fields("D", "reported",
                                                    MIDNIGHT + timedelta(minutes=40))])
    third = machine(services, tmp_path)
    got = shown(third, services, moment)
    assert got == fresh(services, moment) and third.counts["loaded"] == 1
    assert "D" in {i for i, *_ in got[0]}
    for tm in (again, third):
        tm.clear()


def test_changed_rules_or_another_store_never_read_the_checkpoints(sqlite_services, tmp_path):
    services = sqlite_services
    store_support.ingest(services, [incident_fields("A", "reported", T0)])
    first = machine(services, tmp_path)
    shown(first, services, T0 + timedelta(hours=1))
    first.clear()
    rules = tmp_path / "governance.yaml"
    source = Path(__file__).resolve().parents[1] / "cockpit" / "governance.yaml"
    rules.write_text(source.read_text(encoding="utf-8").replace(
        "limits: {reported: 5m, assessed: 10m", "limits: {reported: 7m, assessed: 10m", 1),
        encoding="utf-8")
    changed = services.settings.model_copy(update={"governance_file": rules})
    assert changed.governance != services.settings.governance
    other = type(services)(changed, services.redis, services.engine, services.sessions)
    tm = machine(other, tmp_path)
    assert tm.checkpoints.folder != first.checkpoints.folder
    assert tm.checkpoints.moments() == []


def test_the_cache_is_bounded_in_bytes_and_dropped_shadows_free_their_database(
        sqlite_services, tmp_path):
    services = sqlite_services
    store_support.ingest(services, [incident_fields("A", "reported", T0)])
    tm = machine(services, tmp_path, checkpoint_mb=0)
    moments = [T0 + timedelta(hours=h) for h in (5, 3, 1)]  # each before every cached one
    shadows = []
    for moment in moments:
        shadow = tm.acquire(moment)
        shadow.lock.release()
        shadows.append(shadow)
    assert len(tm.shadows) == 3
    tm.cache_bytes = shadows[-1].size + 1  # room for the newest only
    shadow = tm.acquire(T0 + timedelta(minutes=30))
    shadow.lock.release()
    assert tm.shadows == [shadow]
    for dropped in shadows:
        with pytest.raises(sqlite3.ProgrammingError, match="closed"):
            dropped.engine.raw_connection().driver_connection.execute("SELECT 1")
    with shadow.sessions() as session:
        assert session.scalar(select(Incident.incident_id)) == "A"
    tm.clear()


def test_builds_are_bounded_per_process_and_per_viewer(sqlite_services, tmp_path):
    services = sqlite_services
    store_support.ingest(services, [incident_fields("A", "reported", T0)])
    tm = machine(services, tmp_path, checkpoint_mb=0, builds_waiting=1, build_wait_s=60)
    results: dict[str, object] = {}

    def ask(name, moment, who):
        try:
            tm.acquire(moment, who).lock.release()
            results[name] = "shown"
        except TimeMachineBusy as exc:
            results[name] = exc

    tm.build_lock.acquire()  # a build is running
    waiting = [threading.Thread(target=ask, args=("a1", T0 + timedelta(hours=1), "a")),
               threading.Thread(target=ask, args=("b1", T0 + timedelta(hours=2), "b"))]
    for thread in waiting:
        thread.start()
    while len(tm.building) < 2:
        threading.Event().wait(0.01)
    ask("c1", T0 + timedelta(hours=3), "c")  # a third moment: over the bound
    ask("a2", T0 + timedelta(hours=4), "a")  # a's own build still waits
    same = threading.Thread(target=ask, args=("d1", T0 + timedelta(hours=1), "d"))
    same.start()  # the moment a1 waits for: waits with it, not refused
    tm.build_lock.release()
    for thread in [*waiting, same]:
        thread.join(30)
    assert isinstance(results["c1"], TimeMachineBusy) and "other past" in str(results["c1"])
    assert isinstance(results["a2"], TimeMachineBusy) and "of yours" in str(results["a2"])
    assert results["a1"] == results["b1"] == results["d1"] == "shown"
    assert not tm.building and not tm.viewers
    tm.clear()


def test_a_busy_time_machine_is_a_503_with_retry_after(sqlite_services):
    from app import create_app
    from tests.access_support import signed_in_client
    services = sqlite_services
    store_support.ingest(services, [incident_fields("A", "reported", T0)])
    client = signed_in_client(create_app(services.settings, services=services), services,
                              "leader")
    tm = machine_for(services)
    tm.config = TimeMachineSettings(build_wait_s=0.2)
    tm.build_lock.acquire()  # another moment's build holds the process
    try:
        response = client.get("/api/v1/summary", query_string={
            "at": (T0 + timedelta(hours=1)).isoformat()})
        frame = client.get("/timemachine/wall", query_string={
            "lang": "zh", "at": str(int((T0 + timedelta(hours=1)).timestamp() * 1000))})
        document = client.get("/map/frame", query_string={
            "lang": "zh", "at": (T0 + timedelta(hours=1)).isoformat()})
    finally:
        tm.build_lock.release()
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert response.get_json()["error"].startswith("busy: ")
    assert frame.status_code == 503 and frame.get_json()["error"].startswith("busy: ")
    assert document.status_code == 503 and document.headers["Refresh"] == "5"  # loads again
    assert "回看数据正在重建" in document.get_data(as_text=True)
    assert client.get("/api/v1/summary", query_string={
        "at": (T0 + timedelta(hours=1)).isoformat()}).status_code == 200  # free again
    tm.clear()


def test_warm_checkpoints_the_last_midnights_and_then_only_checks_them(
        sqlite_services, tmp_path, monkeypatch):
    from cockpit.timemachine_cli import midnights, warm

    services = sqlite_services
    monkeypatch.setenv("COCKPIT_TM_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    hour = timedelta(hours=1)
    store_support.ingest(services, [incident_fields("A", "reported", MIDNIGHT - 2 * hour),
                                    incident_fields("B", "reported", MIDNIGHT + 3 * hour),
                                    incident_fields("A", "closed", MIDNIGHT + 26 * hour)])
    now = MIDNIGHT + timedelta(days=1, hours=5)
    assert midnights(now, 2, services.settings.tz) == [MIDNIGHT, MIDNIGHT + timedelta(days=1)]
    lines: list[str] = []
    counts = warm(services, 2, now=now, echo=lines.append)
    assert counts == {"built": 1, "loaded": 0, "moved": 1, "saved": 2}
    assert lines[0].startswith("2026-11-30 00:00 CST: built, saved")
    again = warm(services, 2, now=now, echo=lines.append)
    assert again == {"built": 0, "loaded": 2, "moved": 0, "saved": 0}
    # what a web process then shows the day after equals a fresh build
    tm = machine(services, tmp_path)
    moment = MIDNIGHT + 27 * hour
    assert shown(tm, services, moment) == fresh(services, moment)
    assert tm.counts["loaded"] == 1 and tm.counts["built"] == 0
    tm.clear()
    with pytest.raises(ValueError, match="days: 0"):
        warm(services, 0, now=now)


def test_looking_again_for_late_events_never_folds_an_event_twice(sqlite_services, tmp_path,
                                                                  monkeypatch):
    """A cached moment looks again for events stored late: those it holds are not re-folded
    (a re-fold of the same event counted it as late: late_count 1 where a fresh build has 0)."""
    monkeypatch.setattr("cockpit.timemachine.LATE_CHECK_S", 0.0)
    services = sqlite_services
    store_support.ingest(services, [incident_fields("A", "reported", T0),
                                    incident_fields("A", "dispatched", T0 + timedelta(hours=2))])
    tm = machine(services, tmp_path, checkpoint_mb=0)
    moment = T0 + timedelta(hours=1)
    for _ in range(3):
        assert shown(tm, services, moment) == fresh(services, moment)
    tm.clear()


def test_follow_warms_only_once_the_ingest_keeps_up(sqlite_services, tmp_path, monkeypatch):
    from cockpit.timemachine_cli import follow

    services = sqlite_services
    monkeypatch.setenv("COCKPIT_TM_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    monkeypatch.setattr("cockpit.timemachine_cli.POLL_S", 0.05)
    store_support.ingest(services, [incident_fields("A", "reported", T0)])  # the group exists
    stream = services.settings.stream("incidents")
    for k in range(3):  # a backlog the ingest has not read yet
        services.redis.xadd(stream, incident_fields(f"L{k}", "reported", T0))
    stop = threading.Event()
    worker = threading.Thread(target=follow, args=(services, 1, 0, stop))
    worker.start()
    try:
        stop.wait(0.6)  # a dozen looks: lagging all along
        tm = machine(services, tmp_path)
        assert tm.checkpoints.moments() == []
        store_support.drain(services, "c1")
        for _ in range(200):
            if tm.checkpoints.moments():
                break
            stop.wait(0.05)
        assert len(tm.checkpoints.moments()) == 1
    finally:
        stop.set()
        worker.join(30)
    assert not worker.is_alive()


def test_a_far_look_back_builds_its_midnight_instead_of_walking_every_day(sqlite_services,
                                                                          tmp_path):
    services = sqlite_services
    store_support.ingest(services, [incident_fields("A", "reported", T0),
                                    incident_fields("A", "closed", T0 + timedelta(days=12))])
    tm = machine(services, tmp_path)
    shown(tm, services, MIDNIGHT + timedelta(hours=1))
    far = MIDNIGHT + timedelta(days=10, hours=1)
    assert shown(tm, services, far) == fresh(services, far)
    assert tm.counts["built"] == 2 and tm.counts["saved"] == 2  # not ten midnights walked
    assert tm.checkpoints.moments() == [MIDNIGHT, MIDNIGHT + timedelta(days=10)]
    near = far + timedelta(days=2)  # within the walk: moved on, the two midnights saved
    assert shown(tm, services, near) == fresh(services, near)
    assert tm.counts["built"] == 2 and len(tm.checkpoints.moments()) == 4
    tm.clear()


def test_warm_says_when_it_could_not_save(sqlite_services, tmp_path, monkeypatch):
    from cockpit.timemachine_cli import warm

    services = sqlite_services
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("COCKPIT_TM_CHECKPOINT_DIR", str(blocker / "checkpoints"))
    store_support.ingest(services, [incident_fields("A", "reported", T0)])
    with pytest.raises(OSError, match="checkpoints not saved in"):
        warm(services, 1, now=MIDNIGHT + timedelta(hours=1), echo=lambda _: None)


def test_follow_idles_when_checkpoints_are_off(sqlite_services, monkeypatch):
    from cockpit.timemachine_cli import follow

    monkeypatch.setenv("COCKPIT_TM_CHECKPOINT_MB", "0")
    stop = threading.Event()
    worker = threading.Thread(target=follow, args=(sqlite_services, 1, 0, stop))
    worker.start()
    stop.wait(0.3)
    assert worker.is_alive()  # no exit (the demo's supervisor stops on a part's exit 2)
    stop.set()
    worker.join(10)
    assert not worker.is_alive()


def test_shadows_no_one_reads_are_dropped_and_memory_given_back(sqlite_services, tmp_path):
    services = sqlite_services
    store_support.ingest(services, [incident_fields("A", "reported", T0)])
    tm = machine(services, tmp_path, checkpoint_mb=0)
    older, newer = T0 + timedelta(hours=1), T0 + timedelta(minutes=30)
    kept = tm.acquire(older)
    kept.lock.release()
    dropped = tm.acquire(newer)
    dropped.lock.release()
    assert tm.expire(idle_s=3600) == 0 and len(tm.shadows) == 2  # both read just now
    tm.acquire(older).lock.release()  # read again
    tm.used[id(dropped)] -= 7200  # as if no one had read it for two hours
    assert tm.expire(idle_s=3600) == 1 and tm.shadows == [kept]
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        dropped.engine.raw_connection().driver_connection.execute("SELECT 1")
    assert tm.sweeper is not None and tm.sweeper.is_alive()  # expires them in a running server
    tm.clear()
