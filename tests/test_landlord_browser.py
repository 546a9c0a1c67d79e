"""The landlord's page in headless Chromium: sign in as a landlord, land on ``/landlord``, see
both tenants of a house in their periods and the trend, and nothing else of the cockpit."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from app import create_app
from layouts.landlord import LandlordIds
from tests.access_support import browser_sign_in
from tests.browser_support import chrome, live_server, save_screenshot, severe_errors
from tests.test_landlord import HEADS, MINE, store_two_tenancies

pytestmark = pytest.mark.browser


@pytest.fixture
def served(sqlite_services):
    store_two_tenancies(sqlite_services)
    app = create_app(services=sqlite_services)
    with live_server(app.server) as server, chrome(1280, 900) as driver:
        yield server.url, driver, sqlite_services


def _wait(driver, condition, timeout: float = 15):
    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda d: condition())


def _households(driver) -> dict[str, list[str]]:
    rows = driver.find_elements(By.CSS_SELECTOR, "tr.ll-household")
    return {r.get_attribute("data-household"): [td.text for td in r.find_elements(
        By.TAG_NAME, "td")] for r in rows}


def test_landlord001_signs_in_and_sees_both_tenants_in_their_periods(served):
    url, driver, services = served
    browser_sign_in(driver, url, services, "landlord", landlord=MINE)
    _wait(driver, lambda: len(_households(driver)) == 2)
    assert urlsplit(driver.current_url).path == "/landlord"
    rows = _households(driver)
    assert list(rows) == ["TEN-A", "TEN-B"]
    assert rows["TEN-A"][5] == "已搬离" and rows["TEN-B"][5] == "在住"
    assert rows["TEN-A"][4] != "—" and rows["TEN-B"][4] == "—"
    assert all("次）" in cells[6] for cells in rows.values())
    body = driver.find_element(By.TAG_NAME, "body").text
    assert "我的租户 · 垃圾分类" in body and "房屋 HS-9" in body
    assert not any(head in body for head in HEADS) and "TEN-C" not in body
    _wait(driver, lambda: driver.find_elements(
        By.CSS_SELECTOR, f"#{LandlordIds.TREND} .main-svg"))
    assert driver.find_elements(By.CSS_SELECTOR, ".account-bar")  # signed in, may sign out
    save_screenshot(driver, "landlord001_page.png")
    assert severe_errors(driver) == []


def test_landlord002_the_wall_and_the_staff_pages_stay_closed(served):
    url, driver, services = served
    browser_sign_in(driver, url, services, "landlord", landlord=MINE)
    _wait(driver, lambda: len(_households(driver)) == 2)
    driver.get(url + "/")  # the landlord's "/" is their own page
    _wait(driver, lambda: urlsplit(driver.current_url).path == "/landlord")
    _wait(driver, lambda: len(_households(driver)) == 2)
    driver.find_element(By.CSS_SELECTOR, ".inc-lang").click()
    _wait(driver, lambda: "My tenants" in driver.find_element(By.TAG_NAME, "body").text)
    _wait(driver, lambda: "moved out" in " ".join(sum(_households(driver).values(), [])))
    assert severe_errors(driver) == []
    for path in ("/wall", "/incidents", "/volunteers", "/api/v1/status"):
        driver.get(url + path)
        _wait(driver, lambda: driver.find_element(By.TAG_NAME, "body").text)
        text = driver.find_element(By.TAG_NAME, "body").text
        assert "无权访问此页面" in text or "not permitted" in text, (path, text[:200])
        # the only console errors: the refused request itself
        assert all("403" in e["message"] for e in severe_errors(driver)), path
