"""The time machine in headless Chromium: a past page looks past, and a replay skips nothing.

What a new-user trial found: the wall's header clock showed the live time over a past picture,
panel titles said 实时 (live), the amber band covered the page title, and the replay's clock
(it starts with its first frame on screen, a slow frame holds it) had no browser test. A kiosk
link kept no ``?at=`` through its redirect.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from selenium.webdriver.common.by import By

from app import create_app
from cockpit.timemachine import machine_for
from layouts.timemachine import TimeIds
from layouts.wall import WallIds
from tests import store_support
from tests.access_support import kiosk_link
from tests.browser_support import chrome, live_server, severe_errors
from tests.factories import incident_fields
from tests.test_timemachine_browser import (
    FUNNEL,
    browser,
    frames,
    planted_store,
    recount,
    shown,
    wait,
)

pytestmark = pytest.mark.browser

#: JavaScript: the rectangles of the band, the page's header and its title (null if absent).
RECTS = """
const rect = sel => { const el = document.querySelector(sel);
    if (!el) return null; const r = el.getBoundingClientRect();
    return {top: r.top, bottom: r.bottom, left: r.left, right: r.right}; };
return {band: rect('#tm-band'), header: rect(arguments[0]), title: rect(arguments[1])};
"""
#: JavaScript: the text the page shows, less the band's own (which says 非实时 / not live).
PAGE_TEXT = """
const band = document.getElementById('tm-band');
const text = document.body.innerText;
return band ? text.replace(band.innerText, '') : text;
"""
#: Words that say "live" (or "now") on a page.
LIVE_WORDS = re.compile(r"实时|当前|\blive\b|\bnow\b", re.IGNORECASE)


@pytest.fixture
def planted(sqlite_services):
    """Eight incidents over the last eighty minutes (as in test_timemachine_browser)."""
    yield from planted_store(sqlite_services)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _overlaps(a: dict, b: dict) -> bool:
    return a["top"] < b["bottom"] and b["top"] < a["bottom"] and \
        a["left"] < b["right"] and b["left"] < a["right"]


def _band_clear_of(driver, header: str, title: str) -> dict:
    rects = driver.execute_script(RECTS, header, title)
    assert rects["band"] and rects["header"] and rects["title"], rects
    assert rects["band"]["bottom"] <= rects["header"]["top"] + 0.5, rects
    assert not _overlaps(rects["band"], rects["title"]), rects
    return rects


def _resize(driver, width: int, height: int) -> None:
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})


def _live_words(text: str) -> list[str]:
    return LIVE_WORDS.findall(text)


def _band_time(driver) -> str:
    """HH:MM:SS of the moment the band names (回看 · 非实时 · YYYY-MM-DD HH:MM:SS · …)."""
    text = driver.find_element(By.ID, TimeIds.TEXT).text
    return text.split(" · ")[2].split(" ")[1]


def test_tm005_a_past_wall_shows_its_moment_in_the_header_and_says_nothing_live(planted):
    services, entries, now = planted
    tz = services.settings.tz
    moment = now - timedelta(minutes=45)
    with browser(services, "leader") as (url, driver):
        driver.get(f"{url}/?at={_ms(moment)}")
        wait(driver, lambda d: frames(d) >= 1)
        local = moment.astimezone(tz)
        # the header clock shows the moment on screen, marked as such, never the live time
        wait(driver, lambda d: d.find_element(By.ID, WallIds.CLOCK_TIME).text
             == f"{local:%H:%M:%S}")
        date = driver.find_element(By.ID, WallIds.CLOCK_DATE).text
        assert date.startswith("回看时刻") and str(local.day) in date
        # no panel calls the past live
        text = driver.execute_script(PAGE_TEXT)
        assert _live_words(text) == [], text
        titles = [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".panel-title")]
        assert "警情分布" in titles and "未结" in text
        assert driver.find_element(By.CSS_SELECTOR, ".ticker-label").text == "回看动态"
        # the band lies above the header, clear of the title, on a wall and a tablet-sized one
        _band_clear_of(driver, ".wall-header", f"#{WallIds.TITLE}")
        _resize(driver, 1180, 820)
        driver.get(f"{url}/?at={_ms(moment)}")
        wait(driver, lambda d: frames(d) >= 1)
        _band_clear_of(driver, ".wall-header", f"#{WallIds.TITLE}")
        # the same in English
        driver.get(f"{url}/?at={_ms(moment)}&lang=en")
        wait(driver, lambda d: frames(d) >= 1)
        wait(driver, lambda d: d.find_element(By.ID, WallIds.CLOCK_TIME).text
             == f"{local:%H:%M:%S}")
        text = driver.execute_script(PAGE_TEXT)
        assert _live_words(text) == [], text
        assert "Incident map" in [e.text for e in
                                  driver.find_elements(By.CSS_SELECTOR, ".panel-title")]
        # the live wall says live, and its clock is the live one (the words are the past's)
        _resize(driver, 1920, 1080)
        driver.get(f"{url}/")
        wait(driver, lambda d: d.find_element(By.ID, WallIds.CLOCK_TIME).text)
        assert "实时警情分布" in driver.execute_script(PAGE_TEXT)
        assert not driver.find_elements(By.ID, TimeIds.BAND)
        assert severe_errors(driver) == []


def test_tm006_a_replayed_wall_clock_advances_with_the_moment_shown(planted):
    services, entries, now = planted
    start = now - timedelta(minutes=80)
    with browser(services, "leader") as (url, driver):
        driver.get(f"{url}/?from={_ms(start)}&speed=60")
        seen = set()

        def clock_follows_band(d) -> bool:
            clock = d.find_element(By.ID, WallIds.CLOCK_TIME).text
            if clock == _band_time(d):
                seen.add(clock)
            return len(seen) >= 3

        wait(driver, lambda d: frames(d) >= 1)
        # three moments of the replay, each shown by the band and the clock alike
        wait(driver, clock_follows_band, timeout=40)
        assert severe_errors(driver) == []


def test_tm007_tablet_and_map_bands_lie_above_their_headers(planted):
    services, entries, now = planted
    moment = now - timedelta(minutes=45)
    ms = _ms(moment)
    with browser(services, "leader") as (url, driver):
        _resize(driver, 1180, 820)
        driver.get(f"{url}/tablet?at={ms}")
        wait(driver, lambda d: frames(d) >= 1)
        _band_clear_of(driver, ".inc-header", ".inc-title")
        text = driver.execute_script(PAGE_TEXT)
        assert _live_words(text) == [], text
        # scrolled down, the sticky header stays under the band
        driver.execute_script("document.querySelector('.tab-page').scrollTop = 600")
        _band_clear_of(driver, ".inc-header", ".inc-title")
        driver.get(f"{url}/tablet?at={ms}&lang=en")
        wait(driver, lambda d: frames(d) >= 1)
        text = driver.execute_script(PAGE_TEXT)
        assert _live_words(text) == [], text
        driver.get(f"{url}/map?period=all&at={ms}")
        wait(driver, lambda d: d.find_elements(By.ID, TimeIds.BAND))
        _band_clear_of(driver, ".inc-header", ".inc-title")
        assert _live_words(driver.execute_script(PAGE_TEXT)) == []
        assert severe_errors(driver) == []


def test_tm008_a_kiosk_link_keeps_its_time_machine_through_its_redirect(planted):
    services, entries, now = planted
    moment = now - timedelta(minutes=45)
    link = kiosk_link(services, "hall-tm")
    app_url_query = f"at={_ms(moment)}&next=//evil.example/&screen=other"
    app = create_app(services=services)
    with live_server(app.server) as server, chrome() as driver:
        driver.get(f"{server.url}{link}?{app_url_query}")
        wait(driver, lambda d: frames(d) >= 1)
        # the wall, named by the kiosk (not by the link's query), at the link's moment
        assert driver.current_url == f"{server.url}/?screen=hall-tm&at={_ms(moment)}"
        assert shown(driver) == recount(entries, moment, services.settings.tz,
                                        services.settings.governance)
        assert not driver.find_elements(By.ID, TimeIds.PAUSE)
        assert not driver.find_elements(By.ID, TimeIds.OPENER)
        # a replay link: the hall plays the period (no controls to change it)
        start = now - timedelta(minutes=80)
        driver.get(f"{server.url}{link}?from={_ms(start)}&to={_ms(moment)}&speed=600")
        wait(driver, lambda d: frames(d) >= 2)
        state = driver.execute_script("return window.cockpitTimeMachine.state()")
        assert _ms(start) <= state["shownMs"] <= _ms(moment)
        assert not driver.find_elements(By.ID, TimeIds.PAUSE)
        assert severe_errors(driver) == []


def _history(now: datetime, n: int) -> list[dict[str, str]]:
    """``n`` incidents over the two hours before the last two, each through every stage."""
    entries = []
    for i in range(n):
        begun = now - timedelta(hours=4) + timedelta(seconds=i * 7200 / n)
        for k, stage in enumerate(FUNNEL):
            entries.append(incident_fields(f"h-{i}", stage, begun + timedelta(minutes=15 * k)))
    return entries


def test_tm009_a_replay_whose_first_frame_is_slow_starts_from_its_period_start(sqlite_services):
    """The first build of a past moment is slow (30,000 stored events, most of them folded
    again); the replay's clock starts when that frame is on screen, so the next frame follows
    it closely instead of jumping by the build's duration times the speed."""
    services = sqlite_services
    now = datetime.now(UTC).replace(microsecond=0)
    store_support.ingest(services, _history(now, 5000))
    start = now - timedelta(hours=2, minutes=30)
    speed = 60
    try:
        with browser(services, "leader") as (url, driver):
            driver.get(f"{url}/?from={_ms(start)}&speed={speed}")
            wait(driver, lambda d: frames(d) >= 3, timeout=60)
            log = driver.execute_script("return window.cockpitTimeMachine.state().log")
            first, second = log[0], log[1]
            took = first["tookMs"]  # the first frame built the as-of store
            # the first frame shows the start of the period: the clock stands until it is shown
            assert first["shownMs"] == _ms(start), log
            # the replay's clock started when the first frame was on screen, not when it was
            # asked: between the two asks the moment advanced by less than the time between
            # them, less that frame's fetch (a clock started at the page's start would have
            # advanced by all of it, skipping about took * speed of the period)
            advanced = second["shownMs"] - first["shownMs"]
            assert advanced <= (second["askedMs"] - first["askedMs"] - took) * speed + 1, log
            # every frame follows the one before: no stretch of the period is skipped
            for a, b in zip(log, log[1:], strict=False):
                assert b["shownMs"] >= a["shownMs"]
            assert severe_errors(driver) == []
    finally:
        machine_for(services).clear()


def test_tm010_a_replay_over_a_slow_link_goes_on(planted):
    """Every frame slower than two frame periods (a slow link: Chromium's own network
    emulation, 2.5 s a request) holds the replay's clock each time; it must still go on, a
    frame period of the period at a time, not stand at its start."""
    services, entries, now = planted
    start = now - timedelta(minutes=80)
    speed = 60
    with browser(services, "leader") as (url, driver):
        driver.get(f"{url}/?from={_ms(start)}&speed={speed}")
        wait(driver, lambda d: frames(d) >= 1)
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
            "offline": False, "latency": 2500, "downloadThroughput": -1,
            "uploadThroughput": -1})
        try:
            wait(driver, lambda d: len([f for f in d.execute_script(
                "return window.cockpitTimeMachine.state().log") if f["tookMs"] > 2000]) >= 3,
                 timeout=60)
            log = driver.execute_script("return window.cockpitTimeMachine.state().log")
        finally:
            driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
                "offline": False, "latency": 0, "downloadThroughput": -1,
                "uploadThroughput": -1})
        slow = [i for i, f in enumerate(log) if f["tookMs"] > 2000]
        # after each slow frame the next one shows a moment at least a frame period further
        for i in slow[:-1]:
            assert log[i + 1]["shownMs"] - log[i]["shownMs"] >= 1000 * speed, log
        assert severe_errors(driver) == []
