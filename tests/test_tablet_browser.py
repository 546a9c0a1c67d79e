"""The tablet page (/tablet) in headless Chromium, portrait 820×1180 and landscape 1180×820:
no horizontal scroll, legible text and finger-sized targets, no tofu, no console errors; a
period switch redraws the trends; a leader drills from the subdistrict to a village to an item
by clicks, and back; a new incident reaches the cards by server push, without a reload, on the
stream of the view shown. Events reach the store through the real ingest (tests/test_tablet.py
plants them)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from app import create_app
from layouts.incident_detail import DetailIds
from layouts.tablet import TabletIds, period_id, village_id
from tests.access_support import browser_sign_in
from tests.browser_support import (
    chrome,
    live_server,
    save_screenshot,
    severe_errors,
    tofu_characters,
)
from tests.conftest import _services
from tests.factories import incident_fields
from tests.test_tablet import A, plant
from tests.waste_factories import ingest

pytestmark = pytest.mark.browser

TIMEOUT_S = 20
SIZES = [(820, 1180), (1180, 820)]
#: JavaScript: the number of buckets and the title of a trend graph once plotly drew it.
TREND = """
const el = document.getElementById(arguments[0]);
const gd = el && (el.classList.contains('js-plotly-plot') ? el
                  : el.querySelector('.js-plotly-plot'));
if (!gd || !gd.data || !gd.data.length) { return null; }
return {n: gd.data[0].x.length, title: gd.layout.title.text};
"""
#: JavaScript: what scrolls sideways (the page or its scrolling box), and what is too small.
CHECKS = """
const wide = [document.documentElement, document.body,
              ...document.querySelectorAll('.inc-page')]
    .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.className || e.tagName);
const small = [...document.querySelectorAll(
        '.tab-page a, .tab-page button, .account-corner button')]
    .filter(a => a.offsetParent !== null)
    .filter(a => a.getBoundingClientRect().height < 44)
    .map(a => a.textContent.trim() + ' ' + Math.round(a.getBoundingClientRect().height));
const tiny = [...document.querySelectorAll('.tab-page *')]
    .filter(e => e.offsetParent !== null && [...e.childNodes].some(
        n => n.nodeType === 3 && n.textContent.trim()))
    .filter(e => parseFloat(getComputedStyle(e).fontSize) < 14)
    .map(e => e.textContent.trim().slice(0, 20));
return {wide, small, tiny,
        body: parseFloat(getComputedStyle(document.querySelector('.tab-page')).fontSize)};
"""


def _wait(driver, condition, timeout: float = TIMEOUT_S):
    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda d: condition())


def _query(driver) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(driver.current_url).query).items()}


def _trend(driver, graph: str = TabletIds.TREND_INCIDENTS) -> dict | None:
    return driver.execute_script(TREND, graph)


def _kpi(driver, key: str) -> str:
    # read in one script: a push may replace the card between finding it and reading it
    return driver.execute_script(
        "const e = document.querySelector(arguments[0]); return e ? e.textContent : '';",
        f"#tab-kpi-{key} .tab-kpi-value")


def _check_layout(driver, w: int, h: int) -> None:
    found = driver.execute_script(CHECKS)
    assert found["wide"] == [], (w, h, found["wide"])
    assert found["small"] == [], (w, h, found["small"])
    assert found["body"] >= 16 and found["tiny"] == [], (w, h, found)


@pytest.fixture
def planted(sqlite_services):
    """SQLite services with the tablet's events through the ingest."""
    return plant(sqlite_services)[0]


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_tablet001_drill_down_by_touch_in_portrait_and_landscape(planted, size):
    services = planted
    w, h = size
    app = create_app(services=services)
    with live_server(app.server) as server, chrome(w, h) as driver:
        browser_sign_in(driver, server.url, services, "leader", then="/tablet?period=7d")
        _wait(driver, lambda: driver.find_elements(By.ID, village_id(A)))
        _wait(driver, lambda: (_trend(driver) or {}).get("n") == 7)
        seven = _trend(driver)
        _check_layout(driver, w, h)
        titles = " ".join((_trend(driver, g) or {}).get("title") or "" for g in (
            TabletIds.TREND_INCIDENTS, TabletIds.TREND_VOLUNTEERS, TabletIds.TREND_WASTE))
        assert tofu_characters(driver, titles) == []
        save_screenshot(driver, f"tablet-{w}x{h}.png")
        # the period control: 今日 redraws by hour, 近30天 by day; the URL follows
        driver.find_element(By.ID, period_id("today")).click()
        _wait(driver, lambda: (_trend(driver) or {}).get("n") == 24)
        assert "period" not in _query(driver)
        driver.find_element(By.ID, period_id("30d")).click()
        _wait(driver, lambda: (_trend(driver) or {}).get("n") == 30)
        assert _query(driver)["period"] == "30d" and _trend(driver)["title"] == seven["title"]
        # subdistrict → village → item, by clicks
        driver.find_element(By.ID, village_id(A)).click()
        _wait(driver, lambda: _query(driver).get("village") == A)
        _wait(driver, lambda: driver.find_elements(By.CSS_SELECTOR, "a.tab-item"))
        crumbs = driver.find_element(By.ID, TabletIds.CRUMBS).text
        assert "乔司街道" in crumbs and "胜稼村" in crumbs
        _check_layout(driver, w, h)
        driver.execute_script("document.getElementById(arguments[0]).scrollIntoView()",
                              TabletIds.CRUMBS)
        save_screenshot(driver, f"tablet-{w}x{h}-village.png")
        items = driver.find_elements(By.CSS_SELECTOR, "a.tab-item")
        assert "甲村超时" in items[0].text and "超时" in items[0].text
        items[0].click()
        _wait(driver, lambda: urlsplit(driver.current_url).path == "/incidents/TA-2")
        _wait(driver, lambda: driver.find_elements(By.ID, DetailIds.ROOT))
        # back: the village again, from the URL; then the breadcrumb to the subdistrict
        driver.back()
        _wait(driver, lambda: driver.find_elements(By.ID, f"{TabletIds.CRUMBS}-home"))
        assert _query(driver) == {"village": A, "period": "30d"}
        driver.find_element(By.ID, f"{TabletIds.CRUMBS}-home").click()
        _wait(driver, lambda: driver.find_elements(By.ID, village_id(A)))
        assert _query(driver) == {"period": "30d"}
        # live: a new incident reaches the card of today's incidents without a reload
        before = int(_kpi(driver, "today").replace(",", ""))
        ingest(services, [incident_fields("TB-LIVE", at=datetime.now(UTC) - timedelta(
            seconds=1), village=A, category="traffic", lon="120.30", lat="30.33")],
            stream="incidents")
        _wait(driver, lambda: _kpi(driver, "today") == str(before + 1))
        assert severe_errors(driver) == []


#: JavaScript: the drawn width of a graph, px.
SVG_WIDTH = """
const svg = document.getElementById(arguments[0]).querySelector('.main-svg');
return svg ? svg.getBoundingClientRect().width : 0;
"""
#: The other tablet sizes of the brief: portrait iPad, landscape iPad and iPad Pro landscape.
OTHER_SIZES = [(768, 1024), (1024, 768), (1366, 1024)]


def test_tablet002_other_tablet_sizes_reflow_without_sideways_scroll(planted):
    services = planted
    app = create_app(services=services)
    with live_server(app.server) as server, chrome(*OTHER_SIZES[0]) as driver:
        browser_sign_in(driver, server.url, services, "leader", then="/tablet?period=7d")
        for w, h in OTHER_SIZES:
            driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                "width": w, "height": h, "deviceScaleFactor": 1, "mobile": False})
            for search in ("?period=7d", f"?period=today&village={A}", "?period=30d&lang=en"):
                driver.get(f"{server.url}/tablet{search}")
                _wait(driver, lambda: driver.find_elements(By.ID, TabletIds.CRUMBS))
                _wait(driver, lambda: _trend(driver) is not None)
                _check_layout(driver, w, h)
                # the graphs fill their column: as wide as the panel they sit in, less padding
                width = driver.execute_script(
                    "const g = document.getElementById(arguments[0]);"
                    "const p = g.querySelector('.main-svg');"
                    "return [g.clientWidth, p ? p.getBoundingClientRect().width : 0];",
                    TabletIds.TREND_INCIDENTS)
                assert width[1] >= width[0] - 24, (w, h, width)
        # turned from landscape to portrait without a reload: the graphs follow
        wide = driver.execute_script(SVG_WIDTH, TabletIds.TREND_WASTE)
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": 768, "height": 1024, "deviceScaleFactor": 1, "mobile": False})
        _wait(driver, lambda: driver.execute_script(SVG_WIDTH, TabletIds.TREND_WASTE)
              > wide + 100)  # one graph a row now, where there were three
        _check_layout(driver, 768, 1024)
        assert severe_errors(driver) == []


#: JavaScript: the push clients of the page, by channel (assets/push.js).
PUSH_STATS = "return window.cockpitPush ? window.cockpitPush.stats() : {}"


def _streams(driver) -> dict[str, str]:
    """The page's push clients that heard their first frame (a snapshot): channel → mode."""
    return {channel: stats["mode"] for channel, stats in driver.execute_script(
        PUSH_STATS).items() if stats["frames"] >= 1}


def _new_incident(services, incident_id: str) -> None:
    ingest(services, [incident_fields(incident_id, at=datetime.now(UTC) - timedelta(seconds=1),
                                      village=A, category="traffic", lon="120.30",
                                      lat="30.33")], stream="incidents")


def test_tablet003_a_new_incident_arrives_by_push_on_the_views_own_stream(planted):
    services = planted
    app = create_app(services=services)
    week, month = "qiaosi-push:tablet:zh:all:7d:", "qiaosi-push:tablet:zh:all:30d:"
    with live_server(app.server) as server, chrome(820, 1180) as driver:
        browser_sign_in(driver, server.url, services, "leader", then="/tablet?period=7d")
        _wait(driver, lambda: _streams(driver) == {week: "stream"})
        # its snapshot is the page's first paint: not drawn again (no flicker)
        assert driver.execute_script(PUSH_STATS)[week]["applied"] == 0
        driver.execute_script("window.__sameDocument = true")
        before = int(_kpi(driver, "today"))
        _new_incident(services, "TB-PUSH-1")
        _wait(driver, lambda: _kpi(driver, "today") == str(before + 1))
        stats = driver.execute_script(PUSH_STATS)[week]
        assert stats["mode"] == "stream" and stats["frames"] >= 2 and not stats["stale"]
        assert driver.execute_script("return window.__sameDocument === true")
        assert not driver.find_elements(By.CSS_SELECTOR, ".push-watermark:not([hidden])")
        # another view: its own stream; the last view's client let go (it would draw 7 days)
        driver.find_element(By.ID, period_id("30d")).click()
        _wait(driver, lambda: _streams(driver) == {month: "stream"})
        _new_incident(services, "TB-PUSH-2")
        _wait(driver, lambda: _kpi(driver, "today") == str(before + 2))
        assert _trend(driver)["n"] == 30
        assert driver.execute_script("return window.__sameDocument === true")
        assert severe_errors(driver) == []


@pytest.fixture
def no_channels(tmp_path, redis_server_url, sqlite_url):
    """Services whose hub makes no channel on demand: every tablet is refused a stream."""
    gen = _services(tmp_path, redis_server_url, sqlite_url, push_max_channels=0)
    services = next(gen)
    plant(services)
    yield services
    gen.close()


def test_tablet004_refused_a_stream_the_tablet_polls_and_stays_live(no_channels):
    services = no_channels
    app = create_app(services=services)
    with live_server(app.server) as server, chrome(1180, 820) as driver:
        browser_sign_in(driver, server.url, services, "staff", villages=A, then="/tablet")
        # refused (503), it polls; its first answer is "unchanged": the first paint is current
        _wait(driver, lambda: {k: (s["mode"], s["lastHeardMs"] is not None) for k, s in
                               driver.execute_script(PUSH_STATS).items()}
              == {f"qiaosi-push:tablet:zh:{A}:today:": ("poll", True)})
        assert driver.execute_script(PUSH_STATS)[f"qiaosi-push:tablet:zh:{A}:today:"][
            "applied"] == 0
        before = int(_kpi(driver, "today"))
        _new_incident(services, "TB-POLL-1")
        _wait(driver, lambda: _kpi(driver, "today") == str(before + 1))
        # the console names the refused stream (the browser logs a 503), and nothing else
        assert [e for e in severe_errors(driver) if "/push/tablet/events" not in e["message"]
                or "503" not in e["message"]] == []
