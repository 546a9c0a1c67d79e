"""Alert rules end to end on the real Redis and both databases: incident counts, waste accuracy
and a metric raise when crossed and not before, once per rule and scope, clear when the
condition passes and rise again; the notice on the notifications stream, its acknowledgement
and its escalation, as an incident's."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from cockpit import alert_queries
from cockpit import governance_queries as gq
from cockpit.alerts import AlertRunner
from cockpit.alerts_config import Evaluation, load_alert_rules
from cockpit.store.alert_models import Alert
from cockpit.store.models import Notification
from tests import store_support, waste_factories
from tests.alert_support import FIRE_BURST, rules_text, write_rules
from tests.clock_support import today_step
from tests.conftest import _services
from tests.factories import incident_fields

SANJIAO = "330110006222"
CHAOYANG = "330110006224"

#: The tests evaluate when they say (the timing never comes due).
RULES = rules_text("1h", "1h", FIRE_BURST, """\
  - id: waste-week
    title: {zh: 本周垃圾分类准确率, en: Sorting accuracy this week}
    measure: {type: waste_accuracy, per: village, window: this_week, min_disposals: 10}
    compare: "<"
    threshold: 90
    clear_at: 92
    severity: normal
  - id: fire-quiet
    title: {zh: 今日火情, en: Fires today}
    measure: {type: incident_count, category: [fire], per: subdistrict, window: today}
    compare: ">="
    threshold: 100
    severity: low
  - id: queue-long
    title: {zh: 排队人数, en: People queuing}
    measure: {type: metric, module: service, key: queue, per: village, aggregate: latest,
              window: 2h}
    compare: ">="
    threshold: 30
    unit: {zh: 人, en: people}
    severity: urgent
""")


@pytest.fixture
def alerting(tmp_path, redis_server_url, migrated_database_url):
    """Services whose settings name a rules file of four rules (fires, accuracy, a metric)."""
    yield from _services(tmp_path, redis_server_url, migrated_database_url,
                         alerts_file=write_rules(tmp_path, RULES))


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _fire(n: int, at: datetime, village: str = SANJIAO, tag: str = "") -> dict[str, str]:
    return incident_fields(f"F{tag}{n:03d}-{uuid.uuid4().hex[:4]}", at=at, village=village,
                           category="fire")


def _alerts(services, rule: str | None = None) -> list[dict]:
    with services.read() as session:
        query = select(Alert).order_by(Alert.raised_at, Alert.alert_id)
        if rule:
            query = query.where(Alert.rule_id == rule)
        return [{c.key: getattr(a, c.key) for c in Alert.__table__.columns}
                for a in session.scalars(query)]


def _alert_notices(services) -> list[Notification]:
    with services.read() as session:
        rows = session.scalars(select(Notification).where(Notification.alert_id.is_not(None))
                               .order_by(Notification.created_at)).all()
        session.expunge_all()
        return list(rows)


def _stream(services) -> list[dict[str, str]]:
    key = services.settings.key("notifications")
    return [fields for _, fields in services.redis.xrange(key)]


def test_fire_rule_raises_on_the_fourth_once_and_clears_when_the_hour_passes(alerting):
    now = _now() - timedelta(minutes=70)  # evaluated then, and an hour later (still past)
    times = [now - timedelta(minutes=m) for m in (50, 40, 30)]
    store_support.ingest(alerting, [_fire(i, t) for i, t in enumerate(times)])
    runner = AlertRunner(alerting.settings, alerting.redis, alerting.sessions)
    assert runner.run(now).raised == 0  # 3 in an hour: not more than 3
    assert _alerts(alerting, "fire-burst") == []

    store_support.ingest(alerting, [_fire(9, now - timedelta(minutes=5))])
    assert runner.run(now).raised == 1
    (alert,) = _alerts(alerting, "fire-burst")
    assert (alert["scope"], alert["seq"], alert["raised_value"]) == (SANJIAO, 1, 4.0)
    (notice,) = _alert_notices(alerting)
    assert notice.kind == "alert" and notice.priority == "critical"
    assert notice.text_zh == "告警：三角村 火情 1 小时内 4 起，超过 3 起"
    assert notice.incident_id is None and notice.category == "fire"

    store_support.ingest(alerting, [_fire(10 + i, now - timedelta(minutes=2)) for i in range(3)])
    assert runner.run(now).raised == 0  # 7 now: still the same alert
    (alert,) = _alerts(alerting, "fire-burst")
    assert alert["value"] == 7.0 and alert["cleared_at"] is None
    other = _fire(20, now - timedelta(minutes=1), village=CHAOYANG)
    store_support.ingest(alerting, [other])
    assert runner.run(now).raised == 0  # one fire in 朝阳村 is no alert

    later = now + timedelta(minutes=56)  # the first four left the hour: 3 remain
    assert runner.run(later).cleared == 1
    (alert,) = _alerts(alerting, "fire-burst")
    assert alert["cleared_value"] == 3.0
    store_support.ingest(alerting, [_fire(30, later - timedelta(minutes=1), tag="b")])
    result = runner.run(later)
    assert (result.raised, result.cleared) == (1, 0)  # raised again after it cleared
    assert [a["seq"] for a in _alerts(alerting, "fire-burst")] == [1, 2]
    assert len(_alert_notices(alerting)) == 2


def test_alert_notice_is_published_queued_acknowledged_and_escalated_like_an_incident(alerting):
    now = _now()
    worker = store_support.ingest(alerting, [_fire(i, now - timedelta(minutes=10 + i))
                                             for i in range(4)])
    worker.alerts.run(now)
    entries = [e for e in _stream(alerting) if e["kind"] == "alert"]
    assert len(entries) == 1
    entry = entries[0]
    assert entry["incident_id"] == "" and entry["alert_id"].startswith("alert/fire-burst/")
    assert entry["text"] == "告警：三角村 火情 1 小时内 4 起，超过 3 起"
    assert (entry["priority"], entry["level"], entry["village"]) == \
        ("critical", "duty_officer", SANJIAO)
    assert int(entry["ack_within_s"]) == 180

    with alerting.read() as session:
        queue = gq.pending_announcements(session, alerting.settings.tz,
                                         alerting.settings.governance, now)
    assert [i["notification_id"] for i in queue["items"]] == [entry["notification_id"]]

    # unacknowledged for the duty officer's 3 minutes: raised to the section chief
    result = worker.alerts.run(now + timedelta(minutes=3, seconds=1))
    assert result.escalated == 1
    raised = [n for n in _alert_notices(alerting) if n.kind == "unacknowledged"]
    assert [(n.level, n.parent_id) for n in raised] == \
        [("section_chief", entry["notification_id"])]
    assert raised[0].text_zh.startswith("未确认升级（科室负责人）：告警：三角村")
    assert worker.alerts.run(now + timedelta(minutes=4)).escalated == 0

    ack = {"event_id": "ack-alert-1", "type": "notification.acknowledged",
           "occurred_at": (now + timedelta(minutes=5)).isoformat(), "source": "wall",
           "notification_id": entry["notification_id"], "channel": "screen", "by": "值班员甲"}
    store_support.ingest(alerting, [ack, ack])  # twice: stored once
    notices = _alert_notices(alerting)
    assert all(n.acked_at is not None for n in notices)  # the chain is answered
    assert notices[0].acked_by == "值班员甲"
    with alerting.read() as session:
        queue = gq.pending_announcements(session, alerting.settings.tz,
                                         alerting.settings.governance, now)
        listed = alert_queries.list_alerts(session, alerting.settings.tz)
    assert queue["items"] == []
    assert [(a["status"], a["acked_by"]) for a in listed["items"]] == \
        [("acknowledged", "值班员甲")]
    assert listed["counts"] == {"active": 0, "acknowledged": 1, "cleared": 0}


def test_waste_accuracy_rule_raises_below_90_and_clears_at_92(alerting):
    now = _now()
    setup = [waste_factories.household("H1", at=now - timedelta(days=30)),
             waste_factories.station("ST-1", at=now - timedelta(days=30))]
    # this week's (from Monday 00:00 local): 30 min ago, or less early on a Monday
    at = now - today_step(alerting.settings.tz, now, timedelta(minutes=30), 1)
    nine = [waste_factories.disposal("H1", at, correct=i < 9) for i in range(10)]  # 90 %
    worker = waste_factories.ingest(alerting, setup + nine)
    assert worker.alerts.run(now).raised == 0  # 90 % is not below 90
    worker = waste_factories.ingest(alerting, [waste_factories.disposal("H1", at, False)])
    assert worker.alerts.run(now).raised == 1  # 9 of 11: 81.8 %
    (alert,) = _alerts(alerting, "waste-week")
    assert alert["scope"] == CHAOYANG and round(alert["raised_value"], 1) == 81.8
    (notice,) = _alert_notices(alerting)
    assert notice.text_zh == "告警：朝阳村 本周垃圾分类准确率 81.8%，低于 90%"
    assert notice.priority == "normal"
    good = [waste_factories.disposal("H1", at, True) for _ in range(14)]  # 23 of 25: 92 %
    worker = waste_factories.ingest(alerting, good[:10])  # 19 of 21: 90.5 %, still held
    assert worker.alerts.run(now).cleared == 0
    worker = waste_factories.ingest(alerting, good[10:])
    assert worker.alerts.run(now).cleared == 1


def _metric(value: float, at: datetime, village: str | None = CHAOYANG) -> dict[str, str]:
    fields = {"event_id": f"m-{uuid.uuid4().hex[:8]}", "type": "metric.observed",
              "occurred_at": at.isoformat(), "source": "service-hall", "module": "service",
              "key": "queue", "value": str(value), "unit": "人"}
    if village:
        fields["village"] = village
    return fields


def test_metric_rule_follows_the_latest_value_per_village(alerting):
    now = _now()
    worker = store_support.ingest(alerting, [_metric(29, now - timedelta(minutes=9)),
                                             _metric(50, now - timedelta(minutes=9), None)],
                                  stream="metrics")
    assert worker.alerts.run(now).raised == 0  # 29 < 30; the subdistrict's row is not a village
    worker = store_support.ingest(alerting, [_metric(31, now - timedelta(minutes=5))],
                                  stream="metrics")
    assert worker.alerts.run(now).raised == 1
    (notice,) = _alert_notices(alerting)
    assert notice.text_zh == "告警：朝阳村 排队人数 31 人，达到 30 人"
    assert notice.priority == "urgent"
    worker = store_support.ingest(alerting, [_metric(12, now - timedelta(minutes=1))],
                                  stream="metrics")
    assert worker.alerts.run(now).cleared == 1
    assert worker.alerts.run(now + timedelta(hours=3)).raised == 0  # no figure: nothing


def test_an_evaluation_rolled_back_raises_nothing_and_the_next_raises_once(alerting):
    now = _now()
    worker = store_support.ingest(alerting, [_fire(i, now - timedelta(minutes=3))
                                             for i in range(5)])
    from cockpit.alerts import evaluate

    settings = alerting.settings
    with alerting.sessions() as session:  # a process killed before its commit
        assert evaluate(session, settings.alert_rules, settings.governance, settings.tz,
                        now).raised == 1
        session.rollback()
    assert _alerts(alerting) == [] and _alert_notices(alerting) == []
    assert worker.alerts.run(now).raised == 1
    assert AlertRunner(settings, alerting.redis, alerting.sessions).run(now).raised == 0
    assert len(_alerts(alerting)) == 1
    assert len([e for e in _stream(alerting) if e["kind"] == "alert"]) == 1


def test_ingest_runs_alerts_after_a_commit_and_a_held_lock_skips_them(alerting):
    now = _now()
    worker = store_support.drain(alerting)
    rules = worker.alerts.rules
    worker.alerts.rules = rules.model_copy(update={"evaluation": Evaluation(
        after_commit=timedelta(0), every=timedelta(hours=1))})
    assert worker.alerts.due()  # a start counts as a change
    worker.alerts.run(now)
    assert not worker.alerts.due()
    for i in range(4):
        alerting.redis.xadd(alerting.settings.stream("incidents"),
                            _fire(i, now - timedelta(minutes=3)))
    while worker.step():
        pass
    assert len(_alerts(alerting)) == 1  # the ingest evaluated after its commit
    alerting.redis.set(alerting.settings.key("alerts:lock"), "other", px=5000)
    assert worker.alerts.run(now).ran is False


def test_a_low_alert_is_listed_but_not_notified_as_low_incidents_are_not(alerting):
    now = _now()
    store_support.ingest(alerting, [_fire(i, now - timedelta(minutes=1), tag="q")
                                    for i in range(100)])
    rules = alerting.settings.alert_rules
    only = rules.model_copy(update={"rules": [rules.rule("fire-quiet")]})
    assert evaluate_with(alerting, only, now).raised == 1
    (alert,) = _alerts(alerting, "fire-quiet")
    assert (alert["scope"], alert["severity"], alert["raised_value"]) == (
        "subdistrict", "low", 100.0)
    assert _alert_notices(alerting) == []
    with alerting.read() as session:
        listed = alert_queries.list_alerts(session, alerting.settings.tz)
    assert [i["status"] for i in listed["items"]] == ["active"]


def test_the_shipped_rules_load_and_every_rule_evaluates_on_an_empty_store(services):
    rules = load_alert_rules()
    assert {"fire-burst", "waste-accuracy-week"} <= {r.id for r in rules.rules}
    runner = AlertRunner(services.settings, services.redis, services.sessions, rules)
    result = runner.run(_now())
    assert (result.rules, result.raised) == (len(rules.active), 0)
    assert Path(services.settings.alerts_file or "").name in ("", "alert_rules.yaml")


def test_alerts_route_lists_statuses_by_role_and_scope(alerting):
    from app import create_app
    from cockpit.api_spec_alerts import AlertList
    from tests.access_support import signed_in_client

    now = _now()
    worker = store_support.ingest(alerting, [_fire(i, now - timedelta(minutes=5))
                                             for i in range(4)]
                                  + [_fire(i, now - timedelta(minutes=4), CHAOYANG, "c")
                                     for i in range(4)])
    worker.alerts.run(now)
    app = create_app(alerting.settings, services=alerting)
    leader = signed_in_client(app, alerting, "leader")
    body = leader.get("/api/v1/alerts").get_json()
    AlertList.model_validate(body)
    assert body["counts"] == {"active": 2, "acknowledged": 0, "cleared": 0}
    assert {i["scope_zh"] for i in body["items"]} == {"三角村", "朝阳村"}
    staff = signed_in_client(app, alerting, "staff", villages=CHAOYANG)
    scoped = staff.get("/api/v1/alerts?status=active").get_json()
    assert [i["scope"] for i in scoped["items"]] == [CHAOYANG]
    bad = leader.get("/api/v1/alerts?status=gone")
    assert bad.status_code == 400 and bad.get_json()["error"].startswith("status:")
    assert signed_in_client(app, alerting, None).get("/api/v1/alerts").status_code == 401
    assert leader.get("/api/v1/openapi.json").get_json()["paths"]["/api/v1/alerts"]


def test_a_rule_disabled_or_removed_clears_its_alerts_and_the_cli_lists_them(
        alerting, monkeypatch):
    from typer.testing import CliRunner

    from cockpit.cli import app

    now = _now()
    worker = store_support.ingest(alerting, [_fire(i, now - timedelta(minutes=3))
                                             for i in range(4)])
    worker.alerts.run(now)
    settings = alerting.settings
    for name, value in {"REDIS_URL": settings.redis_url, "DATABASE_URL": settings.database_url,
                        "COCKPIT_STREAM_PREFIX": settings.stream_prefix,
                        "COCKPIT_ALERTS_FILE": str(settings.alerts_file)}.items():
        monkeypatch.setenv(name, value)
    listed = CliRunner().invoke(app, ["alerts", "list", "--status", "active"])
    assert listed.exit_code == 0, listed.output
    assert "告警：三角村 火情 1 小时内 4 起，超过 3 起" in listed.output
    assert listed.output.strip().endswith("1 active, 0 acknowledged, 0 cleared")
    rules = worker.alerts.rules
    off = rules.model_copy(update={"rules": [
        r.model_copy(update={"enabled": False}) if r.id == "fire-burst" else r
        for r in rules.rules]})
    assert evaluate_with(alerting, off, now).cleared == 1
    (alert,) = _alerts(alerting)
    assert alert["cleared_at"] is not None and alert["value"] is None
    again = CliRunner().invoke(app, ["alerts", "evaluate"])  # the file's rules: raised again
    assert again.exit_code == 0 and "1 raised, 0 cleared" in again.output
    assert [a["seq"] for a in _alerts(alerting)] == [1, 2]
    bad = CliRunner().invoke(app, ["alerts", "list", "--status", "gone"])
    assert bad.exit_code == 2


def evaluate_with(services, rules, now):
    return AlertRunner(services.settings, services.redis, services.sessions, rules).run(now)


def test_migration_0009_goes_down_and_up_with_alerts_stored(alerting):
    from sqlalchemy import inspect

    from cockpit.store.migrate import downgrade, upgrade

    now = _now()
    worker = store_support.ingest(alerting, [_fire(i, now - timedelta(minutes=3))
                                             for i in range(4)])
    worker.alerts.run(now)
    engine = alerting.engine
    downgrade(engine, "0008")
    assert "alerts" not in inspect(engine).get_table_names()
    assert "alert_id" not in {c["name"] for c in inspect(engine).get_columns("notifications")}
    upgrade(engine)
    worker.alerts.run(now)
    assert len(_alerts(alerting)) == 1
