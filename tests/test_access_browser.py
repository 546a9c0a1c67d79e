"""Access control in headless Chromium: the kiosk link, its revocation, the audited reveal,
upstream text that must stay text, and pages that pass the content security policy."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from app import create_app
from cockpit import accounts, audit
from cockpit.events import parse_event
from cockpit.ingest import resolve_villages
from cockpit.store.apply import apply_batch
from layouts.personal import PersonalIds
from layouts.wall import WallIds
from layouts.wall_governance import GovIds
from tests.access_support import browser_sign_in, kiosk_link
from tests.browser_support import chrome, live_server, save_screenshot, severe_errors
from tests.factories import incident_fields

pytestmark = pytest.mark.browser
VILLAGE = "330110006201"
HOSTILE_TITLE = '<img src=x onerror="window.__xss=1">火情'
HOSTILE_NOTE = "javascript:window.__xss=2"


def _store(services, *entries) -> None:
    key = services.settings.secret("pd_key")
    with services.sessions.begin() as session:
        apply_batch(session, [(parse_event(f, pd_key=key), f"0-{i + 1}")
                              for i, f in enumerate(entries)], resolve_villages)


@pytest.fixture
def served(sqlite_services):
    app = create_app(services=sqlite_services)
    with live_server(app.server) as server, chrome() as driver:
        yield server.url, driver, sqlite_services


def _wait(driver, condition, timeout: float = 15):
    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda d: condition())


def test_access001_kiosk_link_opens_the_wall_and_revocation_closes_it_within_a_minute(served):
    url, driver, services = served
    link = kiosk_link(services, "hall-7")
    driver.get(url + link)
    _wait(driver, lambda: driver.find_elements(By.ID, WallIds.MAP))
    assert driver.current_url.endswith("/?screen=hall-7")
    # a wall screen: no sign-out bar, no acknowledge buttons, nothing to drill into
    assert driver.find_elements(By.CSS_SELECTOR, ".account-bar") == []
    for button in (GovIds.ACK, GovIds.ACK_ALL):
        assert not driver.find_element(By.ID, button).is_displayed()
    _wait(driver, lambda: driver.find_element(By.ID, WallIds.KPI_TODAY).text == "0")
    with services.sessions.begin() as db:
        accounts.revoke_kiosk(db, "hall-7", by="test")
    revoked = time.monotonic()
    _wait(driver, lambda: "/signin" in driver.current_url, timeout=60)
    took = time.monotonic() - revoked
    assert "reason=revoked" in driver.current_url
    assert "本大屏链接已停用" in driver.find_element(By.TAG_NAME, "body").text
    save_screenshot(driver, "access001_revoked.png")
    assert took < 60
    assert severe_errors(driver) == [] or all(
        "401" in e["message"] for e in severe_errors(driver))  # the refused poll itself


def test_access002_upstream_text_is_shown_as_text_never_run(served):
    url, driver, services = served
    now = datetime.now(UTC).replace(microsecond=0)
    _store(services, incident_fields("xss-1", at=now, title=HOSTILE_TITLE, village=VILLAGE,
                                     address='"><script>window.__xss=3</script>'),
           incident_fields("xss-1", "dispatched", at=now, note=HOSTILE_NOTE))
    browser_sign_in(driver, url, services, "leader", then="/incidents/xss-1")
    _wait(driver, lambda: HOSTILE_TITLE in driver.find_element(By.TAG_NAME, "body").text)
    body = driver.find_element(By.TAG_NAME, "body").text
    assert HOSTILE_NOTE in body and "<script>window.__xss=3</script>" in body
    driver.get(url + "/incidents")
    _wait(driver, lambda: HOSTILE_TITLE in driver.find_element(By.TAG_NAME, "body").text)
    driver.get(url + "/")
    _wait(driver, lambda: HOSTILE_TITLE in driver.find_element(By.ID, WallIds.LATEST).text)
    assert driver.execute_script("return window.__xss === undefined")
    assert driver.find_elements(By.CSS_SELECTOR, "img[src=x]") == []
    assert severe_errors(driver) == []


def test_access003_staff_reveal_the_caller_and_the_view_is_audited(served):
    url, driver, services = served
    now = datetime.now(UTC).replace(microsecond=0)
    _store(services, incident_fields("pd-7", at=now, village=VILLAGE, reporter_name="周杰伦",
                                     reporter_phone="13812341234",
                                     reporter_id_number="11010519491231002X"))
    name = browser_sign_in(driver, url, services, "staff", villages=VILLAGE,
                           then="/incidents/pd-7")
    _wait(driver, lambda: "周**" in driver.find_element(By.ID, PersonalIds.BLOCK).text)
    block = driver.find_element(By.ID, PersonalIds.BLOCK).text
    assert "138****1234" in block and "已登记（不显示）" in block and "周杰伦" not in block
    driver.find_element(By.ID, PersonalIds.REVEAL).click()
    _wait(driver, lambda: "周杰伦" in driver.find_element(By.ID, PersonalIds.BLOCK).text)
    assert "13812341234" in driver.find_element(By.ID, PersonalIds.BLOCK).text
    assert "11010519491231002X" not in driver.page_source
    assert not driver.find_element(By.ID, PersonalIds.REVEAL).is_displayed()
    time.sleep(2.5)  # a refresh of the page's body leaves the revealed block alone
    assert "周杰伦" in driver.find_element(By.ID, PersonalIds.BLOCK).text
    with services.read() as db:
        rows = audit.read(db, action="view_unmasked").rows
        assert [(r.actor, r.target) for r in rows] == [(name, "pd-7")]
    save_screenshot(driver, "access003_revealed.png")
    assert severe_errors(driver) == []


def test_access004_sign_in_page_and_admin_page_pass_the_csp(served):
    url, driver, services = served
    driver.get(url + "/incidents")
    _wait(driver, lambda: "/signin" in driver.current_url)
    assert driver.find_element(By.NAME, "csrf_token").get_attribute("value")
    browser_sign_in(driver, url, services, "admin", then="/admin")
    _wait(driver, lambda: driver.find_elements(By.ID, "adm-users"))
    driver.find_element(By.ID, "adm-kiosk-name").send_keys("hall-9")
    driver.find_element(By.ID, "adm-kiosk-add").click()
    _wait(driver, lambda: "/kiosk/" in driver.find_element(By.ID, "adm-kiosk-message").text)
    assert "hall-9" in driver.find_element(By.ID, "adm-kiosks").text
    save_screenshot(driver, "access004_admin.png")
    assert severe_errors(driver) == []
