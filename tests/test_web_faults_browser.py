"""The wall and a staff page in headless Chromium while Redis is killed, and when it is back.

The app runs against a redis-server of the test's own (tests/web_fault_support.py) and SQLite.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from selenium.webdriver.common.by import By

from app import create_app
from cockpit.events import parse_event
from cockpit.ingest import resolve_villages
from cockpit.services import Services
from cockpit.settings import Settings
from cockpit.store.apply import apply_batch
from cockpit.streams import client_for_url, signal_change
from layouts import ShellIds
from layouts.wall import WallIds
from tests.access_support import browser_sign_in
from tests.browser_support import PageBrowser, chrome, live_server, severe_errors
from tests.conftest import TEST_SECRETS, build_services
from tests.factories import incident_fields
from tests.pages_support import VILLAGE
from tests.web_fault_support import PrivateRedis, private_redis

pytestmark = pytest.mark.browser

#: Seconds the banner may take to follow the link's state (it asks every 5 s).
BANNER_S = 15


@pytest.fixture
def redis_server() -> Iterator[PrivateRedis]:
    with private_redis() as server:
        yield server


@pytest.fixture
def web(tmp_path, redis_server, sqlite_url) -> Iterator[Services]:
    settings = Settings(REDIS_URL=redis_server.url, DATABASE_URL=sqlite_url,
                        data_dir=tmp_path / "var", stream_prefix="faults:", web_retry_s=0.5,
                        **TEST_SECRETS)
    built = build_services(settings)
    services = Services(settings, client_for_url(settings.redis_url, 2.0), built.engine,
                        built.sessions)
    try:
        yield services
    finally:
        services.close()


def _apply(services: Services, *ids: str) -> None:
    now = datetime.now(UTC)
    with services.sessions.begin() as session:
        apply_batch(session, [(parse_event(incident_fields(i, at=now, village=VILLAGE)),
                               f"{n + 1}-1") for n, i in enumerate(ids)], resolve_villages)
    signal_change(services.redis, services.settings, list(ids))


def _no_errors_but_the_link(driver) -> None:
    """No SEVERE console entry but the 503s of the status routes while Redis was down."""
    left = [e for e in severe_errors(driver)
            if not ("/api/v1/status" in e.get("message", "") and "503" in e.get("message", ""))]
    assert left == []


def test_wall014_redis_down_keeps_the_committed_numbers_and_says_the_link_is_down(
        web, redis_server):
    _apply(web, "f-1", "f-2")
    committed = int(web.redis.get(web.settings.key("ingest:last_commit")))
    hhmm = f"{datetime.fromtimestamp(committed / 1000, web.settings.tz):%H:%M}"
    app = create_app(services=web)
    with live_server(app.server) as server, chrome() as driver:
        page = PageBrowser(server.url, driver, web)
        browser_sign_in(driver, server.url, web, "wall")
        page.wait(lambda: page.text(WallIds.KPI_TODAY) == "2")
        banner = driver.find_element(By.ID, ShellIds.FAULT)
        assert not banner.is_displayed()

        redis_server.kill()
        page.wait(lambda: banner.is_displayed(), timeout=BANNER_S)
        assert banner.text == f"实时链路中断 · 显示的是 {hhmm} 的已提交数据"
        assert page.text(WallIds.KPI_TODAY) == "2"  # the committed numbers stay
        # a screen opened now renders from the database, and says the same
        driver.refresh()
        page.wait(lambda: page.text(WallIds.KPI_TODAY) == "2")
        banner = driver.find_element(By.ID, ShellIds.FAULT)
        page.wait(lambda: banner.is_displayed(), timeout=BANNER_S)
        assert "数据源连接中断" not in page.text(WallIds.ALERT)

        redis_server.start()  # empty: no persistence
        page.wait(lambda: not banner.is_displayed(), timeout=BANNER_S)
        time.sleep(1)  # the push hub's listener subscribes again
        _apply(web, "f-3")
        page.wait(lambda: page.text(WallIds.KPI_TODAY) == "3", timeout=BANNER_S)  # live again
        _no_errors_but_the_link(driver)


def test_wall015_a_staff_page_in_english_says_the_database_is_unavailable(web, tmp_path):
    _apply(web, "g-1")
    app = create_app(services=web)
    with live_server(app.server) as server, chrome() as driver:
        page = PageBrowser(server.url, driver, web)
        browser_sign_in(driver, server.url, web, "leader", then="/incidents?lang=en")
        page.wait(lambda: "g-1" in driver.page_source or page.text("inc-total") not in ("", "—"))
        banner = driver.find_element(By.ID, ShellIds.FAULT)
        assert not banner.is_displayed()
        path = web.settings.effective_database_url.removeprefix("sqlite:///")
        away = tmp_path / "away.sqlite3"
        os.rename(path, away)
        os.mkdir(path)
        web.engine.dispose()
        try:
            page.wait(lambda: banner.is_displayed(), timeout=BANNER_S)
            assert banner.text.startswith("Database unavailable — showing data as of ")
        finally:
            os.rmdir(path)
            os.rename(away, path)
            web.engine.dispose()
        page.wait(lambda: not banner.is_displayed(), timeout=BANNER_S)
        assert "Traceback" not in driver.page_source
