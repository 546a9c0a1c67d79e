"""Browser test of an alert on the wall: four fires in one village within the hour raise the
rule's alert, which the wall speaks in zh-CN, shows in its announcement banner and, critical,
as the takeover; 确认 acknowledges it as an incident's notice is (a receipt on the incidents
stream, applied by the ingest, with who and where).

The path is real: XADDs to the incidents stream, the ingest consumer in a thread (it stores
the incidents, evaluates the rules after its commit and writes the alert and its notice), the
web app on a free port and headless Chromium with its speech API instrumented
(tests/test_announce_browser.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from selenium.webdriver.common.by import By
from sqlalchemy import select

from cockpit import geo
from cockpit.store.alert_models import Alert
from cockpit.store.models import Incident, Notification, NotificationReceipt
from layouts.wall_focus import FocusIds
from layouts.wall_governance import GovIds
from tests.alert_support import FIRE_BURST, rules_text, write_rules
from tests.browser_support import save_screenshot
from tests.store_support import count_rows
from tests.test_announce_browser import Hall, open_hall

pytestmark = pytest.mark.browser

@pytest.fixture
def hall(tmp_path, redis_server_url, sqlite_url) -> Iterator[Hall]:
    rules = write_rules(tmp_path, rules_text("0s", "1h", FIRE_BURST))
    with open_hall(tmp_path, redis_server_url, sqlite_url, alerts_file=rules) as opened:
        yield opened


def _fire(hall: Hall, n: int, village: int, at: datetime) -> None:
    """XADD a low-priority fire (its own notice is not announced: only the alert is)."""
    _, _, lon, lat = geo.label_points(geo.load_villages(), with_suffix=False)[village]
    hall.services.redis.xadd(hall.services.settings.stream("incidents"), {
        "event_id": f"fire-{n}", "type": "incident.reported", "occurred_at": at.isoformat(),
        "source": "alert-test", "incident_id": f"fire-{n}", "category": "fire",
        "priority": "low", "title": "测试火情", "lon": f"{lon:.6f}", "lat": f"{lat:.6f}",
        "crs": "wgs84"})


def _notice(hall: Hall) -> dict:
    table = Notification.__table__
    with hall.services.read() as session:
        row = session.execute(select(table).where(table.c.kind == "alert")).mappings().first()
    return dict(row or {})


def test_alerts001_spoken_taken_over_and_acknowledged_like_an_incident(hall):
    account = hall.sign_in("leader")
    hall.open("/?screen=hall-2")
    code, village, _, _ = geo.label_points(geo.load_villages(), with_suffix=False)[5]
    now = datetime.now(UTC)
    for n in range(3):
        _fire(hall, n, 5, now - timedelta(minutes=30 - n))
    hall.wait(lambda d: count_rows(hall.services, Incident) == 3)
    time.sleep(1.0)  # the ingest evaluates the rules right after its commit
    assert count_rows(hall.services, Alert) == 0
    takeover = hall.driver.find_element(By.ID, FocusIds.TAKEOVER)
    assert hall.spoken() == [] and not takeover.is_displayed()  # three: no alert
    _fire(hall, 3, 5, now - timedelta(minutes=1))
    expected = f"告警：{village} 火情 1 小时内 4 起，超过 3 起"
    hall.wait(lambda d: hall.spoken())
    assert [(s["text"], s["lang"]) for s in hall.spoken()][:1] == [(expected, "zh-CN")]
    assert hall.banner_shown() and hall.text(GovIds.ANNOUNCE_TEXT) == expected
    assert hall.text(GovIds.ANNOUNCE_PRIORITY) == "特急"
    titles = hall.driver.find_elements(By.CSS_SELECTOR, f"#{GovIds.ANNOUNCE} .announce-title")
    assert [e.text for e in titles if e.is_displayed()] == ["告警播报"]
    hall.wait(lambda d: takeover.is_displayed())
    assert hall.text(FocusIds.TAKEOVER_HEAD) == "特急告警 · 待确认"
    assert hall.text(FocusIds.TAKEOVER_TITLE) == expected
    assert hall.text(FocusIds.TAKEOVER_CATEGORY) == "火情"  # the rule counts one category
    assert hall.text(FocusIds.TAKEOVER_VILLAGE) == village
    assert hall.text(FocusIds.TAKEOVER_AT).startswith("告警 ")
    save_screenshot(hall.driver, "wall-alert-takeover.png")

    hall.driver.find_element(By.ID, GovIds.ACK).click()
    hall.wait(lambda d: not hall.banner_shown() and not takeover.is_displayed())
    hall.wait(lambda d: _notice(hall).get("acked_at") is not None)
    notice = _notice(hall)
    assert (notice["acked_by"], notice["ack_channel"], notice["ack_from"]) == (
        account, "screen", "hall-2")
    with hall.services.read() as session:
        (receipt,) = session.scalars(select(NotificationReceipt)).all()
        assert (receipt.notification_id, receipt.type) == (
            notice["notification_id"], "notification.acknowledged")
        (alert,) = session.scalars(select(Alert)).all()
        assert (alert.scope, alert.raised_value, alert.cleared_at) == (code, 4.0, None)
    hall.assert_no_console_errors()


def test_alerts002_the_analysis_page_lists_active_then_acknowledged_alerts(hall):
    hall.sign_in("leader")
    now = datetime.now(UTC)
    code, village, _, _ = geo.label_points(geo.load_villages(), with_suffix=False)[2]
    for n in range(4):
        _fire(hall, 100 + n, 2, now - timedelta(minutes=10 - n))
    hall.wait(lambda d: _notice(hall).get("notification_id"))
    hall.driver.get(hall.url + "/analysis")
    row = "#analysis-alerts tr[data-status='{}']"
    hall.wait(lambda d: d.find_elements(By.CSS_SELECTOR, row.format("active")))
    cells = hall.driver.execute_script(  # one read: the panel may re-render meanwhile
        "return Array.from(document.querySelectorAll(arguments[0] + ' td'))"
        ".map(e => e.innerText)", row.format("active"))
    assert cells[:3] == ["未确认", "特急", f"告警：{village} 火情 1 小时内 4 起，超过 3 起"]
    assert hall.text("analysis-alerts").startswith("未确认 1 · 已确认 0 · 近 7 日已解除 0")
    # the gateway acknowledges it by phone: the page follows
    hall.services.redis.xadd(hall.services.settings.stream("incidents"), {
        "event_id": "gw-ack-1", "type": "notification.acknowledged",
        "occurred_at": datetime.now(UTC).isoformat(), "source": "gateway",
        "notification_id": _notice(hall)["notification_id"], "channel": "voice",
        "by": "duty-phone"})
    hall.wait(lambda d: d.find_elements(By.CSS_SELECTOR, row.format("acknowledged")),
              timeout=30)
    assert hall.text("analysis-alerts").startswith("未确认 0 · 已确认 1")
    save_screenshot(hall.driver, "analysis-alerts.png")
    hall.assert_no_console_errors()
