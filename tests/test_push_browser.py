"""The wall's live updates in headless Chromium: many tabs, a server stopped and started,
polling when push is impossible, and no re-render of what did not change."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from app import create_app
from layouts.wall import WallIds
from tests.access_support import browser_sign_in
from tests.browser_support import chrome, live_server, severe_errors
from tests.conftest import _services
from tests.push_support import ServerProcess
from tests.test_wall_browser import Wall, reported

TIMEOUT_S = 15
STATS = "return Object.values(window.cockpitPush.stats())[0] || null"
WATERMARK = """
const mark = document.querySelector('.push-watermark');
return mark && !mark.hidden ? mark.innerText : null;"""


def wait(driver, condition, timeout: float = TIMEOUT_S):
    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition)


def latest_text(driver) -> str:
    # textContent: the latest list sits in the focus region, hidden while another panel shows
    return driver.execute_script("const e = document.getElementById(arguments[0]);"
                                 "return e ? e.textContent : '';", WallIds.LATEST)


@pytest.fixture
def short_stale(tmp_path, redis_server_url, sqlite_url) -> Iterator:
    """Services whose screens call themselves stale after 4 s of silence."""
    yield from _services(tmp_path, redis_server_url, sqlite_url, stale_s=4)


def test_push001_eight_tabs_of_one_browser_share_one_stream_and_all_stay_live(sqlite_services):
    app = create_app(services=sqlite_services)
    with live_server(app.server) as server, chrome() as driver:
        browser_sign_in(driver, server.url, sqlite_services, "leader")
        wall = Wall(server.url, driver, sqlite_services)
        wall.open("/")
        tabs = [driver.current_window_handle]
        for _ in range(7):  # more than the six connections a browser keeps per host
            driver.switch_to.new_window("tab")
            wall.open("/")
            tabs.append(driver.current_window_handle)
        wall.apply(reported("TABS-1", "fire", "八个标签页同时更新", datetime.now(UTC), village=3))
        leaders = 0
        for handle in tabs:
            driver.switch_to.window(handle)
            wait(driver, lambda d: "八个标签页同时更新" in latest_text(d))
            stats = driver.execute_script(STATS)
            leaders += stats["leader"]
            assert not stats["stale"]
        assert leaders == 1  # one tab holds the stream, the others follow it
        # the leader goes away: another tab takes the stream over and all stay live
        driver.switch_to.window(tabs[0])
        driver.close()
        wall.apply(reported("TABS-2", "traffic", "主标签页关闭之后", datetime.now(UTC), village=4))
        leaders = 0
        for handle in tabs[1:]:
            driver.switch_to.window(handle)
            wait(driver, lambda d: "主标签页关闭之后" in latest_text(d))
            leaders += driver.execute_script(STATS)["leader"]
        assert leaders == 1
        assert severe_errors(driver) == []


def test_push002_a_server_stopped_for_30_s_shows_stale_then_recovers_without_reload(
        short_stale):
    services = short_stale
    server = ServerProcess(services.settings).start()
    try:
        with chrome() as driver:
            browser_sign_in(driver, server.url, services, "wall")
            wall = Wall(server.url, driver, services)
            wall.open("/")
            driver.switch_to.new_window("tab")
            driver.get(server.url + "/?lang=en")
            wait(driver, lambda d: d.execute_script(STATS) and d.execute_script(STATS)["seq"] >= 0
                 and d.find_element(By.ID, WallIds.KPI_TODAY).text not in ("", "—"))
            tabs = driver.window_handles
            for handle in tabs:
                driver.switch_to.window(handle)
                driver.execute_script("window.__sameDocument = true")
                assert driver.execute_script(WATERMARK) is None
            server.stop()
            stopped = time.monotonic()
            for handle in tabs:  # every screen says plainly that it is not live
                driver.switch_to.window(handle)
                shown = wait(driver, lambda d: d.execute_script(WATERMARK))
                assert ("数据未实时更新" in shown or "NOT LIVE" in shown) and ":" in shown
            assert time.monotonic() - stopped < 15
            time.sleep(max(0.0, 30 - (time.monotonic() - stopped)))
            server.start()
            wall.apply(reported("BACK-1", "fire", "服务恢复之后的警情", datetime.now(UTC),
                                village=2))
            for handle in tabs:  # back on their own: no watermark, the new incident, no reload
                driver.switch_to.window(handle)
                wait(driver, lambda d: d.execute_script(WATERMARK) is None, timeout=30)
                wait(driver, lambda d: "服务恢复之后的警情" in latest_text(d))
                assert driver.execute_script("return window.__sameDocument === true")
    finally:
        server.stop()


def test_push003_without_push_the_wall_polls_and_stays_live(tmp_path, redis_server_url,
                                                            sqlite_url):
    gen = _services(tmp_path, redis_server_url, sqlite_url, push_max_clients=0)
    services = next(gen)
    try:
        app = create_app(services=services)
        with live_server(app.server) as server, chrome() as driver:
            browser_sign_in(driver, server.url, services, "wall")
            wall = Wall(server.url, driver, services)
            wall.open("/")
            wall.apply(reported("POLL-1", "fire", "轮询模式下的警情", datetime.now(UTC), village=5))
            wait(driver, lambda d: "轮询模式下的警情" in latest_text(d))
            assert driver.execute_script(STATS)["mode"] == "poll"
            assert severe_errors(driver) == []
    finally:
        gen.close()


def test_push004_an_update_keeps_the_nodes_of_what_did_not_change(wall_screen):
    """No flicker: a new incident re-renders its rows; the panels around them stay put."""
    wall, driver = wall_screen
    driver.execute_script("""
        window.__kept = [document.querySelector('.panel-funnel .panel-title'),
                         document.getElementById(arguments[0]),
                         document.querySelector('#wall-map .main-svg')];""", WallIds.KPI_OPEN)
    wall.apply(reported("FLICKER-1", "fire", "不闪烁", datetime.now(UTC), village=6))
    wait(driver, lambda d: "不闪烁" in latest_text(d))
    assert driver.execute_script("return window.__kept.every(n => n && n.isConnected)")
    assert severe_errors(driver) == []


@pytest.fixture
def wall_screen(sqlite_services):
    app = create_app(services=sqlite_services)
    with live_server(app.server) as server, chrome() as driver:
        browser_sign_in(driver, server.url, sqlite_services, "wall")
        wall = Wall(server.url, driver, sqlite_services)
        wall.open("/")
        yield wall, driver
