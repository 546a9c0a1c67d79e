"""Incident governance end to end on the real Redis and both databases: life cycle in the store,
routing, due times, the overdue board, escalation, notifications and their acknowledgement,
repeat groups and local days."""

from __future__ import annotations

import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from cockpit import governance_queries as gq
from cockpit import queries
from cockpit.governance import Governor
from cockpit.ingest import Ingestor
from cockpit.services import Services
from cockpit.store.models import Escalation, Incident, Notification
from tests.conftest import _fresh_postgres, build_services, make_settings
from tests.factories import incident_fields

ROOT = Path(__file__).resolve().parents[1]


def _worker(services, **kw) -> Ingestor:
    worker = Ingestor(services.settings, services.redis, services.sessions,
                      consumer=f"c-{uuid.uuid4().hex[:6]}", block_ms=50, **kw)
    worker.start()
    return worker


def _ingest(services, entries, **kw) -> Ingestor:
    key = services.settings.stream("incidents")
    for fields in entries:
        services.redis.xadd(key, fields)
    worker = _worker(services, **kw)
    while worker.step():
        pass
    return worker


def _recent(minutes_ago: float = 1.0) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=minutes_ago)


def _notices(services, **where) -> list[SimpleNamespace]:
    """Stored notifications (as plain records, usable after the session)."""
    columns = [c.key for c in Notification.__table__.columns]
    with services.read() as session:
        query = select(Notification).order_by(Notification.created_at,
                                              Notification.notification_id)
        for name, value in where.items():
            query = query.where(getattr(Notification, name) == value)
        return [SimpleNamespace(**{c: getattr(n, c) for c in columns})
                for n in session.execute(query).scalars()]


def _screen(services, tz, now) -> dict:
    """Everything the wall and the API show that could differ between two ingests.

    A tick first: escalation follows the clock, not the events, so both stores are brought to
    the same moment.
    """
    config = services.settings.governance
    Governor(services.settings, services.redis, services.sessions).tick(datetime.now(UTC))
    with services.read() as session:
        out = {"summary": {k: v for k, v in queries.summary(session, tz, now).items()
                           if k != "as_of"},
               "overdue": gq.overdue(session, tz, now, limit=100),
               "teams": gq.team_load(session, tz, config, now),
               "timelines": {}}
        for row in session.execute(select(Incident.incident_id)).scalars():
            detail = gq.incident_detail(session, tz, row, config, now)
            out["timelines"][row] = (detail["timeline"], detail["notes"], detail["stage"],
                                     detail["assigned_team"], detail["due_at"])
    return out


def _story(prefix: str, start: datetime) -> list[dict[str, str]]:
    """Three incidents: a full fire loop with a reopening, an open one, and illegal moves."""
    m = lambda n: start + timedelta(minutes=n)  # noqa: E731
    return [
        incident_fields(f"{prefix}A", "reported", m(0)),
        incident_fields(f"{prefix}A", "assessed", m(1)),
        incident_fields(f"{prefix}A", "dispatched", m(2), team="乔司专职消防队"),
        incident_fields(f"{prefix}A", "arrived", m(9)),
        incident_fields(f"{prefix}A", "resolved", m(30)),
        incident_fields(f"{prefix}A", "closed", m(40)),
        incident_fields(f"{prefix}A", "reopened", m(50)),
        incident_fields(f"{prefix}A", "dispatched", m(52), event_id=f"{prefix}A-redispatch"),
        incident_fields(f"{prefix}B", "reported", m(3), category="public_safety",
                        priority="normal"),
        incident_fields(f"{prefix}B", "assessed", m(5)),
        incident_fields(f"{prefix}C", "reported", m(4), category="other", priority="low"),
        incident_fields(f"{prefix}C", "arrived", m(6)),
        incident_fields(f"{prefix}C", "dispatched", m(7)),
        incident_fields(f"{prefix}C", "cancelled", m(8)),
        incident_fields(f"{prefix}C", "resolved", m(20)),
    ]


@pytest.fixture
def fresh_stores(request, tmp_path, redis_server_url, database_url):
    """A factory of further empty stores of the same database kind (cleaned up after)."""
    made, closers = [], []

    def new() -> Services:
        if database_url.startswith("sqlite"):
            url = f"sqlite:///{tmp_path / f'extra{len(made)}.sqlite3'}"
        else:
            gen = _fresh_postgres(request.getfixturevalue("postgres_admin_url"))
            url = next(gen)
            closers.append(gen)
        svc = build_services(make_settings(tmp_path, redis_server_url, url))
        made.append(svc)
        return svc

    yield new
    for svc in made:
        svc.close()
    for gen in closers:
        next(gen, None)


def test_shuffled_and_repeated_delivery_give_the_same_screen(services, fresh_stores):
    tz = services.settings.tz
    start = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)
    now = start + timedelta(minutes=70)
    events = _story("S", start)
    _ingest(services, events)
    reference = _screen(services, tz, now)
    rng = random.Random(11)
    for n in range(3):
        shuffled = rng.sample(events, len(events))
        twice = shuffled + rng.sample(events, len(events))
        other = fresh_stores()
        _ingest(other, twice, batch_size=rng.choice([1, 3, 500]))
        assert _screen(other, tz, now) == reference, f"order {n} differs"
    timeline, notes, stage, team, due = reference["timelines"]["SA"]
    assert stage == "dispatched" and team == "fire-station"  # named by a dispatch
    assert [s["stage"] for s in timeline] == ["reported", "assessed", "dispatched", "arrived",
                                              "resolved", "closed", "reopened", "dispatched"]
    assert [s["seconds"] for s in timeline[:6]] == [60, 60, 420, 1260, 600, 600]
    assert due is not None  # the re-dispatched fire must arrive within its limit
    _, notes_c, stage_c, _, _ = reference["timelines"]["SC"]
    assert stage_c == "cancelled"
    assert [(n["kind"], n["illegal"]) for n in notes_c] == [
        ("skipped", False), ("backward", True), ("after_cancel", True)]
    assert reference["summary"]["today_total"] == 3


def test_routing_suggests_a_team_and_a_dispatch_overrides_it(services):
    now = _recent(0)
    _ingest(services, [
        incident_fields("R1", "reported", now, category="public_safety", priority="normal",
                        village="朝阳村"),
        incident_fields("R2", "reported", now, category="public_safety", priority="normal",
                        village="朝阳村"),
        incident_fields("R2", "dispatched", now + timedelta(seconds=5), team="综治队一中队"),
        incident_fields("R3", "reported", now, category="fire"),
    ])
    tz = services.settings.tz
    with services.read() as session:
        r1, r2, r3 = (session.get(Incident, i) for i in ("R1", "R2", "R3"))
        teams = {t["team"]: t for t in gq.team_load(session, tz, services.settings.governance,
                                                    now + timedelta(seconds=10))}
        assert (r1.suggested_team, r1.team) == ("zz-3", None)
        assert (r2.suggested_team, r2.team) == ("zz-3", "zz-1")  # named, stored by code
        assert r3.suggested_team == "fire-station"
    assert teams["zz-3"]["open"] == 1 and teams["zz-1"]["open"] == 1
    assert teams["fire-station"]["open"] == 1 and teams["duty"]["open"] == 0


def test_overdue_board_fills_escalates_and_empties(services):
    reported = _recent(1)
    _ingest(services, [incident_fields("E1", "reported", reported)])  # fire/urgent: 2 min
    governor = Governor(services.settings, services.redis, services.sessions)
    tz = services.settings.tz
    with services.read() as session:
        incident = session.get(Incident, "E1")
        assert incident.due_at == reported + timedelta(minutes=2)
        assert gq.overdue(session, tz, reported + timedelta(minutes=1))["total"] == 0
        board = gq.overdue(session, tz, reported + timedelta(minutes=5))
    assert board["total"] == 1 and board["items"][0]["late_s"] == 180
    assert governor.tick(reported + timedelta(minutes=1)).escalations == 0
    assert governor.tick(reported + timedelta(minutes=3)).escalations == 1  # duty officer
    assert governor.tick(reported + timedelta(minutes=3, seconds=1)).escalations == 0
    assert governor.tick(reported + timedelta(minutes=45)).escalations == 2  # chief, leader
    assert governor.tick(reported + timedelta(minutes=46)).escalations == 0
    overdue = _notices(services, kind="overdue")
    assert sorted(n.level for n in overdue) == ["duty_officer", "leader", "section_chief"]
    first = next(n for n in overdue if n.level == "duty_officer")
    assert first.text_zh == "超时督办（值班员）：紧急火情，新街社区，乔司街道，已上报超时1分钟"
    with services.read() as session:
        assert session.scalar(select(func.count()).select_from(Escalation)) == 3
    # dispatched: a new stage, a new limit (10 min), the ladder starts again
    _ingest(services, [incident_fields("E1", "dispatched", reported + timedelta(minutes=2))])
    with services.read() as session:
        incident = session.get(Incident, "E1")
        assert incident.escalation_level == 0
        assert incident.due_at == reported + timedelta(minutes=12)
    _ingest(services, [incident_fields("E1", "arrived", reported + timedelta(minutes=4))])
    with services.read() as session:
        assert gq.overdue(session, tz, reported + timedelta(minutes=30))["total"] == 0


def test_new_incident_is_notified_published_and_acknowledged_once(services):
    reported = _recent(1)
    worker = _ingest(services, [
        incident_fields("N1", "reported", reported, village="乔司社区", address="乔司农贸市场东门"),
        incident_fields("N2", "reported", reported, priority="low"),  # not notified: low
        incident_fields("N3", "reported", reported - timedelta(hours=2)),  # a backfill
    ])
    new = _notices(services, kind="new_incident")
    assert [n.incident_id for n in new] == ["N1"]
    assert new[0].text_zh == "新警情：紧急火情，乔司社区，乔司农贸市场东门"
    entries = [e for e in services.redis.xrange(services.settings.key("notifications"))
               if e[1]["kind"] == "new_incident"]  # the backfill N3 is overdue: escalated
    assert [e[1]["notification_id"] for e in entries] == ["N1/new"]
    assert entries[0][1]["text"] == new[0].text_zh and entries[0][1]["ack_within_s"] == "180"
    assert new[0].published_at is not None and new[0].stream_id == entries[0][0]
    # a second ingest of the same report notifies nothing more
    _ingest(services, [incident_fields("N1", "reported", reported, village="乔司社区")])
    assert len(_notices(services, kind="new_incident")) == 1
    ack = {"event_id": "ack-1", "type": "notification.acknowledged", "source": "wall",
           "occurred_at": datetime.now(UTC).isoformat(), "notification_id": "N1/new",
           "channel": "screen", "by": "hall-1", "origin": "10.0.0.7"}
    delivered = {"event_id": "dlv-1", "type": "notification.delivered", "source": "gateway",
                 "occurred_at": (datetime.now(UTC) - timedelta(seconds=5)).isoformat(),
                 "notification_id": "N1/new", "channel": "sms"}
    _ingest(services, [ack, delivered, ack])
    (notice,) = _notices(services, kind="new_incident")
    assert (notice.acked_by, notice.ack_channel, notice.ack_from) == ("hall-1", "screen",
                                                                      "10.0.0.7")
    assert notice.delivered_channel == "sms" and notice.delivered_at < notice.acked_at
    assert worker.stats.dead == 0


def test_unacknowledged_notice_is_raised_and_acknowledged_one_is_not(services):
    reported = _recent(0.5)
    _ingest(services, [incident_fields("U1", "reported", reported),
                       incident_fields("U2", "reported", reported)])
    _ingest(services, [{"event_id": "ack-u2", "type": "notification.acknowledged",
                        "source": "wall", "occurred_at": datetime.now(UTC).isoformat(),
                        "notification_id": "U2/new", "channel": "screen", "by": "hall-2"}])
    governor = Governor(services.settings, services.redis, services.sessions)
    created = _notices(services, notification_id="U1/new")[0].created_at
    assert governor.tick(created + timedelta(minutes=2)).raised_unacknowledged == 0
    assert governor.tick(created + timedelta(minutes=3, seconds=1)).raised_unacknowledged == 1
    assert governor.tick(created + timedelta(minutes=4)).raised_unacknowledged == 0
    raised = _notices(services, kind="unacknowledged")
    assert [(n.parent_id, n.level) for n in raised] == [("U1/new", "section_chief")]
    assert raised[0].text_zh.startswith("未确认升级（科室负责人）")
    # the raised notice is itself raised to the leader when nobody answers it either (and
    # by now the overdue notices of both incidents, unanswered, are raised too)
    governor.tick(created + timedelta(minutes=9))
    chains = {(n.parent_id, n.level) for n in _notices(services, kind="unacknowledged")}
    assert ("U1/new/unack/section_chief", "leader") in chains
    assert not any(parent.startswith("U2/new") for parent, _ in chains)
    # every raised notice reaches the gateway's stream
    stream = services.redis.xrange(services.settings.key("notifications"))
    published = {e[1]["notification_id"] for e in stream}
    assert {n.notification_id for n in _notices(services)} == published


def test_only_one_process_ticks_at_a_time(services):
    one = Governor(services.settings, services.redis, services.sessions)
    two = Governor(services.settings, services.redis, services.sessions)
    services.redis.set(services.settings.key("governance:lock"), one.token, px=5000)
    assert two.tick().ran is False
    services.redis.delete(services.settings.key("governance:lock"))
    assert two.tick().ran is True


def test_repeat_groups_do_not_depend_on_arrival(services):
    base = datetime(2026, 11, 10, 2, 0, tzinfo=UTC)
    near = {"lon": "120.2819", "lat": "30.3518"}
    shifted = {"lon": "120.2830", "lat": "30.3518"}  # ~106 m east: linked (150 m)
    far = {"lon": "120.3000", "lat": "30.3518"}  # ~1.7 km: alone
    events = [
        incident_fields("P1", "reported", base + timedelta(hours=5), **near),
        incident_fields("P2", "reported", base, **shifted),
        incident_fields("P3", "reported", base + timedelta(hours=30), **near),
        incident_fields("P4", "reported", base + timedelta(hours=1), **far),
        incident_fields("P5", "reported", base + timedelta(hours=2), category="police", **near),
        incident_fields("P6", "reported", base + timedelta(days=9), **near),  # too late
    ]
    random.Random(5).shuffle(events)
    for chunk in (events[:2], events[2:4], events[4:]):
        _ingest(services, chunk)
        Governor(services.settings, services.redis, services.sessions).tick()
    with services.read() as session:
        groups = dict(session.execute(select(Incident.incident_id, Incident.repeat_group)).all())
        sizes = dict(session.execute(select(Incident.incident_id, Incident.repeat_size)).all())
        listed = gq.repeat_groups(session, services.settings.tz,
                                  base + timedelta(days=2), days=30)
    assert groups == {"P1": "P2", "P2": "P2", "P3": "P2", "P4": None, "P5": None, "P6": None}
    assert sizes["P1"] == 3 and sizes["P4"] == 0
    assert [(g["group"], g["size"], g["incident_ids"]) for g in listed] == [
        ("P2", 3, ["P2", "P1", "P3"])]
    # a corrected position takes P2 out: the group re-forms around the others
    _ingest(services, [incident_fields("P2", "assessed", base + timedelta(minutes=5),
                                       lon="120.2700", lat="30.3518", crs="wgs84")])
    Governor(services.settings, services.redis, services.sessions).tick()
    with services.read() as session:
        groups = dict(session.execute(select(Incident.incident_id, Incident.repeat_group)).all())
    assert groups["P1"] == groups["P3"] == "P1" and groups["P2"] is None


def test_local_days_whatever_the_server_zone(services, monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        late = datetime(2026, 11, 20, 15, 50, tzinfo=UTC)  # 23:50 in Beijing
        early = datetime(2026, 11, 20, 16, 10, tzinfo=UTC)  # 00:10 the next day
        _ingest(services, [incident_fields("D1", "reported", late),
                           incident_fields("D2", "reported", early),
                           incident_fields("D1", "closed", early)])
        tz = services.settings.tz
        with services.read() as session:
            first = queries.summary(session, tz, late + timedelta(minutes=5))
            second = queries.summary(session, tz, early + timedelta(minutes=5))
            day_one = queries.count_incidents(
                session, reported_from=datetime(2026, 11, 19, 16, 0, tzinfo=UTC),
                reported_to=datetime(2026, 11, 20, 16, 0, tzinfo=UTC))
    finally:
        monkeypatch.undo()
        time.tzset()
    assert first["today_total"] == 1 and second["today_total"] == 1
    assert first["closed_today"] == 0 and second["closed_today"] == 1
    assert first["day_start"].startswith("2026-11-20T00:00:00+08:00")
    assert second["day_start"].startswith("2026-11-21T00:00:00+08:00")
    assert day_one == 1


@pytest.mark.parametrize("bad", [
    {"type": "notification.acknowledged"},  # no notification_id
    {"type": "incident.reopened"},  # no incident_id
])
def test_bad_governance_events_are_dead_lettered(services, bad):
    fields = {"event_id": "bad-1", "source": "gateway",
              "occurred_at": datetime.now(UTC).isoformat(), **bad}
    worker = _ingest(services, [fields])
    assert worker.stats.dead == 1
    (entry,) = services.redis.xrange(services.settings.key("deadletter"))
    assert "required field is missing" in entry[1]["reason"]


def test_changed_rules_re_time_open_incidents_at_ingest_start(services, tmp_path):
    reported = _recent(1)
    _ingest(services, [incident_fields("G1", "reported", reported)])
    rules = tmp_path / "rules.yaml"
    text = (ROOT / "cockpit" / "governance.yaml").read_text(encoding="utf-8")
    rules.write_text(text.replace("reported: 2m, assessed: 3m, dispatched: 10m",
                                  "reported: 7m, assessed: 3m, dispatched: 10m"),
                     encoding="utf-8")
    changed = services.settings.model_copy(update={"governance_file": rules})
    other = Services(changed, services.redis, services.engine, services.sessions)
    _ingest(other, [])
    with services.read() as session:
        assert session.get(Incident, "G1").due_at == reported + timedelta(minutes=7)


def test_governance_cli_checks_files(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from cockpit.cli import app

    monkeypatch.delenv("COCKPIT_GOVERNANCE_FILE", raising=False)
    ok = CliRunner().invoke(app, ["governance", "check"])
    assert ok.exit_code == 0 and "ladder 值班员" in ok.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("escalation: [{level: a, zh: a, en: a, after: soon, ack_within: 1m}]\n",
                   encoding="utf-8")
    refused = CliRunner().invoke(app, ["governance", "check", str(bad)])
    assert refused.exit_code == 1 and "escalation.0.after" in refused.output
    table = CliRunner().invoke(app, ["governance", "show"])
    assert "火情\t特急\t1m\t1m\t6m" in table.output


def test_an_acknowledgement_answers_the_whole_chain_and_moved_incidents_stop_rising(services):
    reported = _recent(0.5)
    _ingest(services, [incident_fields("C1", "reported", reported),
                       incident_fields("C2", "reported", reported)])
    governor = Governor(services.settings, services.redis, services.sessions)
    created = _notices(services, notification_id="C1/new")[0].created_at
    governor.tick(created + timedelta(minutes=3, seconds=1))  # both raised to the chief
    assert {n.notification_id for n in _notices(services, kind="unacknowledged")} >= {
        "C1/new/unack/section_chief", "C2/new/unack/section_chief"}
    # the duty officer answers C1's first notice late: its raised notice is answered too
    _ingest(services, [{"event_id": "ack-c1", "type": "notification.acknowledged",
                        "source": "gateway", "occurred_at": datetime.now(UTC).isoformat(),
                        "notification_id": "C1/new", "channel": "voice", "by": "duty-1"}])
    (child,) = _notices(services, notification_id="C1/new/unack/section_chief")
    assert child.acked_by == "duty-1"
    # C2 is dispatched: nobody needs to be told of it any more, so nothing rises further
    _ingest(services, [incident_fields("C2", "dispatched", reported + timedelta(minutes=1))])
    governor.tick(created + timedelta(minutes=20))
    leaders = [n.notification_id for n in _notices(services, kind="unacknowledged")
               if n.level == "leader"]
    assert not any(i.startswith(("C1/new", "C2/new")) for i in leaders)


def test_a_refused_move_changes_nothing_in_any_order(services):
    start = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)
    events = [incident_fields("Z1", "reported", start),
              incident_fields("Z1", "cancelled", start + timedelta(minutes=1)),
              incident_fields("Z1", "dispatched", start + timedelta(minutes=2),
                              team="乔司派出所"),
              incident_fields("Z1", "assessed", start + timedelta(minutes=3), category="police",
                              priority="critical")]
    for n, order in enumerate([events, events[::-1]]):
        _ingest(services, [{**e, "incident_id": f"Z{n}", "event_id": f"{e['event_id']}-{n}"}
                           for e in order], batch_size=1)
        with services.read() as session:
            row = session.get(Incident, f"Z{n}")
            assert (row.stage, row.category, row.priority, row.team) == (
                "cancelled", "fire", "urgent", None)
            assert row.illegal_count == 2 and row.event_count == 4
            assert row.suggested_team == "fire-station"


def test_the_announcement_queue_is_by_priority_then_newest_even_beyond_its_limit(services):
    config, tz = services.settings.governance, services.settings.tz
    # ten urgent reports after one critical, in two batches: the critical one still heads a
    # queue of one; within a priority the newest notice first (one batch's notices are as new
    # as each other, then by id)
    _ingest(services, [incident_fields("Q-crit", "reported", _recent(9), priority="critical"),
                       *(incident_fields(f"Q-urg{n}", "reported", _recent(8)) for n in range(5))])
    time.sleep(0.01)
    _ingest(services, [*(incident_fields(f"Q-urg{n}", "reported", _recent(7))
                         for n in range(5, 10)),
                       incident_fields("Q-norm", "reported", _recent(1), priority="normal")])
    with services.read() as session:
        one = gq.pending_announcements(session, tz, config, limit=1)
        everything = gq.pending_announcements(session, tz, config, limit=50)
    notified = [n.incident_id for n in _notices(services, kind="new_incident")]
    assert one["total"] == everything["total"] == len(notified) >= 11
    assert [n["incident_id"] for n in one["items"]] == ["Q-crit"]
    order = [n["incident_id"] for n in everything["items"]]
    assert order[:11] == ["Q-crit", *(f"Q-urg{n}" for n in [*range(5, 10), *range(5)])]
    assert order[11:] == (["Q-norm"] if "Q-norm" in notified else [])
