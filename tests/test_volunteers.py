"""The volunteers module against the real Redis and both databases, through the real ingest:
one volunteer per person, the merge queue and its undo, verified hours and points, mobilisation
funnels, sign-ups, dead letters and personal data kept out of history and logs."""

from __future__ import annotations

import json
import logging
import math
import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from cockpit.ingest import Ingestor
from cockpit.store.volunteer_models import (
    Attendance,
    MergeCandidate,
    PointsEntry,
    Volunteer,
    VolunteerEventRow,
    VolunteerRecord,
)
from cockpit.volunteers import assessment, detail, queries, registry
from cockpit.volunteers.hours import close_overdue
from tests.factories import T0
from tests.store_support import count_rows, dead_letters, ingest
from tests.volunteer_factories import (
    activity,
    answer,
    id_number,
    punch,
    registered,
    requested,
    signed_up,
    updated,
)

CHAOYANG = "330110006224"


def _ingest(services, entries) -> Ingestor:
    return ingest(services, entries, stream="volunteers")


def test_same_id_number_on_two_platforms_is_one_volunteer(services):
    _ingest(services, [
        registered("HQ-1", "张三", phone="13800001111", id_number=id_number(7),
                   village="朝阳村", skills="急救"),
        registered("XH-9", "张 叁", source="xihu", id_number=id_number(7), village="朝阳村",
                   team="乔司街道青年突击队", team_kind="青年"),
    ])
    with services.read() as session:
        people = session.scalars(select(Volunteer).where(Volunteer.status != "merged")).all()
        assert len(people) == 1
        person = people[0]
        pointer = session.scalars(select(Volunteer).where(Volunteer.status == "merged")).one()
        assert pointer.merged_into == person.volunteer_id  # the merge log's link leads on
        records = session.scalars(select(VolunteerRecord)).all()
        assert {(r.platform, r.source_id) for r in records} == {("hongqiao", "HQ-1"),
                                                                  ("xihu", "XH-9")}
        assert {r.volunteer_id for r in records} == {person.volunteer_id}
        assert person.record_count == 2 and person.team_kind == "youth"
        assert person.village_code == CHAOYANG
        log = detail.merges(session, services.settings.tz, person.volunteer_id)
        assert [m["reason"] for m in log] == ["same_id_number"]
        assert log[0]["records"] == [["xihu", "XH-9"]]
    assert count_rows(services, MergeCandidate) == 0
    assert dead_letters(services) == []


def test_same_phone_without_id_waits_in_the_merge_queue_and_merges_can_be_undone(services):
    _ingest(services, [
        registered("HQ-2", "李四", phone="139-0000-2222", village="胜稼村"),
        registered("ZY-5", "李 四", source="zhiyuanhui", phone="13900002222", village="胜稼村"),
        activity("A1", T0, 2, village="胜稼村"),
        punch("A1", "ZY-5", T0, source="zhiyuanhui"),
        punch("A1", "ZY-5", T0 + timedelta(hours=2), out=True, source="zhiyuanhui"),
    ])
    tz = services.settings.tz
    now = datetime.now(UTC)
    with services.read() as session:
        assert queries.count_volunteers(session) == 2
        queue = detail.merge_queue(session, tz)
    assert len(queue) == 1 and queue[0]["reason"] == "same_phone_name"
    assert queue[0]["a"]["name"].endswith("*")  # masked by default
    a, b = queue[0]["a"]["volunteer_id"], queue[0]["b"]["volunteer_id"]
    with services.sessions.begin() as session:
        entry = registry.merge(session, a, b, "staff-1", now, queue[0]["candidate_id"])
        merge_id = entry.merge_id
    with services.read() as session:
        one = detail.volunteer_detail(session, tz, a)
        gone = detail.volunteer_detail(session, tz, b)
        assert gone == {"volunteer_id": b, "merged_into": a}
        assert {s["platform"] for s in one["sources"]} == {"hongqiao", "zhiyuanhui"}
        assert one["verified_hours"] == 2.0 and one["points_total"] == 20  # followed the record
        assert detail.merge_queue(session, tz) == []
        assert queries.count_volunteers(session) == 1
    with services.sessions.begin() as session:
        registry.undo(session, merge_id, "staff-1", now)
        with pytest.raises(registry.MergeError, match="undone already"):
            registry.undo(session, merge_id, "staff-1", now)
    with services.read() as session:
        assert queries.count_volunteers(session) == 2
        zy = session.get(VolunteerRecord, ("zhiyuanhui", "ZY-5")).volunteer_id
        hq = session.get(VolunteerRecord, ("hongqiao", "HQ-2")).volunteer_id
        assert zy != hq
        assert detail.volunteer_detail(session, tz, zy)["points_total"] == 20
        assert detail.volunteer_detail(session, tz, hq)["points_total"] == 0
        reopened = detail.merge_queue(session, tz)
        assert len(reopened) == 1
    with services.sessions.begin() as session:
        registry.reject(session, reopened[0]["candidate_id"], "staff-1", now)
    # a new registration event of either record does not bring the pair back
    _ingest(services, [updated("ZY-5", source="zhiyuanhui", phone="13900002222",
                               name="李四", at=T0 + timedelta(days=1))])
    with services.read() as session:
        assert detail.merge_queue(session, tz) == []
        assert queries.count_volunteers(session) == 2


def test_undo_of_an_automatic_join_keeps_the_records_apart(services):
    _ingest(services, [
        registered("HQ-3", "王五", id_number=id_number(3)),
        registered("XH-3", "王伍", source="xihu", id_number=id_number(3)),
    ])
    now = datetime.now(UTC)
    with services.read() as session:
        merge_id = detail.merges(session, services.settings.tz)[0]["merge_id"]
    with services.sessions.begin() as session:
        registry.undo(session, merge_id, "staff-1", now)
    _ingest(services, [updated("XH-3", source="xihu", id_number=id_number(3), team="网格队",
                               at=T0 + timedelta(hours=1))])
    assert count_rows(services, Volunteer, Volunteer.status != "merged") == 2


def test_id_numbers_are_never_stored_and_history_holds_no_personal_data(services, caplog):
    raw = id_number(42)
    caplog.set_level(logging.DEBUG)
    _ingest(services, [
        registered("HQ-4", "赵六", phone="13700004444", id_number=raw),
        registered("HQ-5", "钱七", id_number="330110199001010000"),  # bad check character
    ])
    with services.read() as session:
        dump = json.dumps([list(map(str, row)) for table in (
            "volunteers", "volunteer_records", "volunteer_events")
            for row in session.execute(text(f"select * from {table}"))], ensure_ascii=False)
        payloads = json.dumps([p for (p,) in session.execute(select(VolunteerEventRow.payload))],
                              ensure_ascii=False)
    assert raw not in dump and raw[:17] not in dump
    assert "赵六" not in payloads and "13700004444" not in payloads
    dead = dead_letters(services)
    assert len(dead) == 1 and "id_number" in dead[0]["reason"]
    assert "330110199001010000" not in json.dumps(dead, ensure_ascii=False)
    assert raw not in caplog.text and "330110199001010000" not in caplog.text


def _recomputed_points(session, rules) -> dict[tuple[str, str], int]:
    """Points per record as the rules give them, from stored attendances and answers."""
    out: dict[tuple[str, str], int] = {}
    for a in session.scalars(select(Attendance).where(Attendance.verified.is_(True))):
        got = math.floor(a.minutes * rules.points.per_verified_hour / 60)
        if a.rating is not None:
            got += rules.points.rating.get(a.rating, 0)
        out[(a.platform, a.source_id)] = out.get((a.platform, a.source_id), 0) + got
    rows = session.execute(text(
        "select a.platform, a.source_id, a.arrived_at <= m.deadline from mobilization_answers a "
        "join mobilizations m on m.mobilization_id = a.mobilization_id "
        "where a.arrived_at is not null"))
    for platform, source_id, on_time in rows:
        got = rules.points.mobilization_on_time if on_time else rules.points.mobilization_late
        out[(platform, source_id)] = out.get((platform, source_id), 0) + got
    return {k: v for k, v in out.items() if v}


def _noisy_feed(seed: int) -> list[dict]:
    rnd = random.Random(seed)
    entries = [registered(f"HQ-{i}", f"志愿者{i}", village="朝阳村") for i in range(30)]
    for n in range(8):
        start = T0 + timedelta(days=n // 3, hours=2 * n)
        entries.append(activity(f"A{n}", start, 2, village="朝阳村"))
        for i in rnd.sample(range(30), 10):
            early = timedelta(minutes=rnd.choice([-90, -30, -5, 0, 10, 100, 130]))
            entries.append(punch(f"A{n}", f"HQ-{i}", start + early))
            late = rnd.choice([None, 5, 30, 119, 121, 150, 200, 700])
            if late is not None:
                entries.append(punch(f"A{n}", f"HQ-{i}", start + timedelta(minutes=late),
                                     out=True, **({"rating": rnd.randint(1, 5)}
                                                  if rnd.random() < 0.5 else {})))
    entries.append(requested("M1", "朝阳村", 5, T0, T0 + timedelta(hours=1)))
    for i in range(8):
        entries.append(answer("M1", f"HQ-{i}", "accepted", T0 + timedelta(minutes=i)))
        entries.append(answer("M1", f"HQ-{i}", "arrived", T0 + timedelta(minutes=50 + 2 * i)))
    return entries


def test_points_equal_what_the_rules_give_for_the_verified_hours(services):
    _ingest(services, _noisy_feed(5))
    rules = services.settings.volunteer_rules
    with services.read() as session:
        ledger: dict[tuple[str, str], int] = {}
        for platform, source_id, points in session.execute(
                select(PointsEntry.platform, PointsEntry.source_id, PointsEntry.points)):
            ledger[(platform, source_id)] = ledger.get((platform, source_id), 0) + points
        assert ledger == _recomputed_points(session, rules)
        flags = dict(session.execute(select(Attendance.flag, func.count())
                                     .group_by(Attendance.flag)).all())
        # the noise produced each kind of unverified attendance as well as verified ones
        assert flags.get(None, 0) > 5
        assert {"no_checkout", "early_checkin", "late_checkout", "too_short"} <= set(flags)
        for a in session.scalars(select(Attendance).where(Attendance.verified.is_(True))):
            assert a.minutes == int((a.checked_out_at - a.checked_in_at).total_seconds() // 60)
        top = assessment.leaderboard(session, rules, month="2026-11")
        assert top and all(row["name"].endswith("*") for row in top)
        months = assessment.months(session)
        assert months == ["2026-12", "2026-11"]
        assert sum(d["points"] for m in months
                   for d in assessment.monthly(session, m).values()) == sum(ledger.values())


def test_the_fold_does_not_depend_on_order_batches_or_repeats(services, tmp_path):
    feed = _noisy_feed(11)
    shuffled = feed + random.Random(3).sample(feed, len(feed) // 3)
    random.Random(4).shuffle(shuffled)
    _ingest(services, shuffled)

    def state(session):
        return (sorted((a.activity_id, a.source_id, a.minutes, a.verified, a.flag, a.rating)
                       for a in session.scalars(select(Attendance))),
                sorted((p.entry_id, p.points) for p in session.scalars(select(PointsEntry))))

    with services.read() as session:
        shuffled_state = state(session)
    from tests.conftest import build_services, make_settings

    other = build_services(make_settings(tmp_path / "b", services.settings.redis_url,
                                         f"sqlite:///{tmp_path / 'b.sqlite3'}"))
    try:
        _ingest(other, feed)
        with other.read() as session:
            assert state(session) == shuffled_state
    finally:
        other.close()


def test_open_check_in_is_on_duty_then_closed_automatically_and_flagged(services):
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(minutes=30)
    _ingest(services, [
        registered("HQ-6", "孙八", village="朝阳村"),
        registered("HQ-7", "周九", village="朝阳村"),
        activity("LIVE", start, 1, village="朝阳村", at=start - timedelta(hours=1)),
        punch("LIVE", "HQ-6", start),
    ])
    rules = services.settings.volunteer_rules
    with services.read() as session:
        dep = queries.deployment(session, rules, now)
    chaoyang = next(v for v in dep["villages"] if v["village_code"] == CHAOYANG)
    assert (chaoyang["on_duty"], chaoyang["available"], chaoyang["active"]) == (1, 1, 2)
    later = start + timedelta(hours=1) + rules.hours.autoclose_after
    with services.sessions.begin() as session:
        assert close_overdue(session, rules, services.settings.tz, later - timedelta(seconds=1)) \
            == 0
        assert close_overdue(session, rules, services.settings.tz, later) == 1
    with services.read() as session:
        row = session.get(Attendance, ("LIVE", "hongqiao", "HQ-6"))
        assert (row.auto_closed, row.flag, row.verified, row.open) == (True, "no_checkout",
                                                                        False, False)
        assert row.minutes == 60
        assert queries.deployment(session, rules, later)["totals"]["on_duty"] == 0


def test_mobilisation_of_140_in_chaoyang_funnel_and_recall_flag(services):
    now = datetime.now(UTC).replace(microsecond=0)
    asked_at = now - timedelta(minutes=30)
    deadline = asked_at + timedelta(hours=1)
    people = [registered(f"CY-{i}", f"村民{i}", village="朝阳村",
                         skills="治安巡逻" if i % 4 else "急救") for i in range(200)]
    people += [registered(f"SJ-{i}", f"邻村{i}", village="胜稼村") for i in range(20)]
    _ingest(services, [*people, requested("LOCK", "朝阳村", 140, asked_at, deadline,
                                          title="封控区值守")])
    rules = services.settings.volunteer_rules
    tz = services.settings.tz

    def funnel(at):
        with services.read() as session:
            board = queries.mobilization_board(session, rules, tz, at)
        return next(f for f in board if f["mobilization_id"] == "LOCK")

    first = funnel(now)
    assert (first["asked"], first["accepted"], first["arrived"], first["needed"]) == (200, 0, 0,
                                                                                    140)
    assert first["lag"] is True  # half the time gone, nobody has accepted
    _ingest(services, [answer("LOCK", f"CY-{i}", "accepted", asked_at + timedelta(minutes=1))
                       for i in range(60)]
            + [answer("LOCK", f"CY-{i}", "declined", asked_at + timedelta(minutes=2))
               for i in range(60, 70)])
    second = funnel(now)
    assert (second["accepted"], second["declined"], second["unanswered"]) == (60, 10, 130)
    assert second["lag"] is False  # 60/140 = 43 % against 50 % of the time: within 20 points
    _ingest(services, [answer("LOCK", f"CY-{i}", "arrived", asked_at + timedelta(minutes=20))
                       for i in range(40)]
            + [answer("LOCK", "SJ-1", "arrived", asked_at + timedelta(minutes=25))])  # walk-in
    third = funnel(now)
    assert (third["asked"], third["arrived"], third["accepted"]) == (201, 41, 61)
    with services.read() as session:
        waiting = queries.unanswered(session, "LOCK")
        dep = queries.deployment(session, rules, now)
    assert len(waiting) == 130 and all(w["name"].endswith("*") for w in waiting)
    assert all("村民" not in json.dumps(w, ensure_ascii=False) or w["name"].endswith("*")
               for w in waiting)
    chaoyang = next(v for v in dep["villages"] if v["village_code"] == CHAOYANG)
    assert chaoyang["mobilised"] == 61 and chaoyang["available"] == 200 - 60
    assert funnel(deadline + timedelta(minutes=1))["lag"] is True  # deadline passed, not filled


def test_skills_narrow_who_is_asked(services):
    now = datetime.now(UTC)
    _ingest(services, [registered(f"CY-{i}", f"村民{i}", village="朝阳村",
                                  skills="急救" if i < 3 else "驾驶") for i in range(10)]
            + [requested("MED", "朝阳村", 2, now - timedelta(minutes=1),
                         now + timedelta(hours=1), skills="急救")])
    with services.read() as session:
        board = queries.mobilization_board(session, services.settings.volunteer_rules,
                                           services.settings.tz, now)
    assert board[0]["asked"] == 3


def test_sign_ups_count_per_campaign_and_day(services):
    day = datetime(2023, 6, 1, 2, tzinfo=UTC)
    _ingest(services, [signed_up("ag", n, day + timedelta(days=n % 3, minutes=n),
                                 campaign="亚运城市志愿者招募", target="25000")
                       for n in range(30)])
    with services.read() as session:
        rows = assessment.campaigns(session, services.settings.tz, datetime.now(UTC))
    assert rows[0]["total"] == 30 and rows[0]["target"] == 25000
    assert [d["count"] for d in rows[0]["trend"]] == [10, 10, 10]


def test_volunteer_events_on_the_incident_stream_are_dead_lettered(services):
    ingest(services, [registered("HQ-8", "吴十")])
    dead = dead_letters(services)
    assert len(dead) == 1 and "belongs on" in dead[0]["reason"]
    assert count_rows(services, VolunteerRecord) == 0


def test_changed_rules_rewrite_the_ledger_at_start(services, tmp_path):
    _ingest(services, _noisy_feed(2))
    with services.read() as session:
        before = session.scalar(select(func.sum(PointsEntry.points)))
    rules_file = tmp_path / "rules.yaml"
    shipped = (services.settings.volunteer_rules.__class__.__module__)
    assert shipped
    from cockpit.volunteers.config import DEFAULT_FILE

    rules_file.write_text(DEFAULT_FILE.read_text(encoding="utf-8").replace(
        "per_verified_hour: 10", "per_verified_hour: 20"), encoding="utf-8")
    settings = services.settings.model_copy(update={"volunteers_file": rules_file})
    worker = Ingestor(settings, services.redis, services.sessions, consumer="c1", block_ms=50)
    worker.start()
    with services.read() as session:
        after = session.scalar(select(func.sum(PointsEntry.points)))
        hours_points = session.scalar(select(func.sum(PointsEntry.points))
                                      .where(PointsEntry.rule == "verified_hours"))
        minutes = session.scalar(select(func.sum(Attendance.minutes))
                                 .where(Attendance.verified.is_(True)))
    assert after > before
    assert hours_points <= minutes * 20 / 60


def test_recall_names_the_unanswered_to_the_gateway(services):
    from cockpit.volunteers.recall import RecallError, recall

    now = datetime.now(UTC).replace(microsecond=0)
    _ingest(services, [registered(f"CY-{i}", f"村民{i}", village="朝阳村", phone=f"1380000{i:04d}")
                       for i in range(6)]
            + [requested("R1", "朝阳村", 5, now - timedelta(minutes=20),
                         now + timedelta(minutes=20), title="封控区值守"),
               answer("R1", "CY-0", "accepted", now - timedelta(minutes=10)),
               answer("R1", "CY-1", "declined", now - timedelta(minutes=10))])
    with services.sessions.begin() as session:
        assert recall(session, services.redis, services.settings, "R1", "staff-1", now) == 4
    entries = services.redis.xrange(services.settings.key("notifications"))
    assert len(entries) == 1
    notice = entries[0][1]
    assert notice["kind"] == "mobilization_recall" and notice["notification_id"] == "R1/recall/1"
    assert sorted(json.loads(notice["volunteers"])) == [["hongqiao", f"CY-{i}"]
                                                        for i in range(2, 6)]
    assert "朝阳村" in notice["text"] and "Chaoyang" in notice["text_en"]
    assert "1380000" not in json.dumps(notice)
    with services.read() as session:
        assert queries.mobilization_board(session, services.settings.volunteer_rules,
                                          services.settings.tz, now)[0]["mobilization_id"] == "R1"
    with services.sessions.begin() as session, pytest.raises(RecallError, match="deadline"):
        recall(session, services.redis, services.settings, "R1", "staff-1",
               now + timedelta(hours=1))
