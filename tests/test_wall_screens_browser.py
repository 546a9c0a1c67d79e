"""Browser tests of the wall's presets, kiosk mode, focus rotation and critical takeover.

Headless Chromium against the real app, Redis and SQLite; every event goes through the real
ingest (XADD, then the consumer until it is idle). At each preset (1920×1080, 3840×2160 and
the ultra-wide 5760×1080) the wall is loaded with data and must show no scrollbar, no panel
over another, nothing outside the screen, no tofu, no text under the legible minimum and no
SEVERE console error; a screenshot of each is kept (tests/artifacts/wall-<w>x<h>.png).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from app import create_app
from cockpit.services import Services
from layouts.wall import WallIds
from layouts.wall_focus import FOCUS_PANELS, FocusIds
from layouts.wall_governance import GovIds
from tests.access_support import browser_sign_in
from tests.browser_support import (
    chrome,
    live_server,
    save_screenshot,
    severe_errors,
    tofu_characters,
)
from tests.clock_support import clear_of_midnight, today_step
from tests.conftest import build_services, make_settings
from tests.test_wall_browser import _village_point, busy_hour, reported
from tests.waste_factories import disposal, household, ingest, station

pytestmark = pytest.mark.browser

TIMEOUT_S = 15
PRESETS = [(1920, 1080), (3840, 2160), (5760, 1080)]
#: Smallest text on the wall at 1920×1080, CSS px (docs/wall.md); scaled with the screen.
MIN_FONT_PX = 13
#: Smallest text of the takeover at 1920×1080 (read at 5 m).
TAKEOVER_MIN_PX = 22

#: JavaScript: the boxes of the top-level regions shown now, and the page's scroll size.
REGIONS = """
const out = {};
const shown = (e) => getComputedStyle(e).visibility === 'visible'
                     && getComputedStyle(e).display !== 'none';
const add = (name, e) => { const r = e.getBoundingClientRect();
                           out[name] = {x: r.left, y: r.top, w: r.width, h: r.height}; };
for (const sel of ['.wall-header', '.wall-col-left', '.wall-col-center', '.focus-nav',
                   '.ticker-bar']) {
    add(sel, document.querySelector(sel));
}
// the focus panel shown and those a preset fixes in a column (not one fading out)
const current = document.documentElement.dataset.focus;
for (const e of document.querySelectorAll('.focus-panel')) {
    const fixed = getComputedStyle(e).getPropertyValue('--focus-fixed').trim() === '1';
    if (shown(e) && (fixed || e.dataset.focus === current)) { add('focus:' + e.dataset.focus, e); }
}
const d = document.documentElement;
return {regions: out, scroll: [d.scrollWidth, d.scrollHeight, document.body.scrollWidth,
                               document.body.scrollHeight],
        view: [innerWidth, innerHeight]};
"""
#: JavaScript: boxes of every panel, tile and KPI tile shown, and the smallest text shown.
INSIDE = """
const shown = (e) => { const s = getComputedStyle(e);
    return s.visibility === 'visible' && s.display !== 'none' && e.getClientRects().length; };
const boxes = [];
const parts = '.wall .panel, .wall .kpi, .wall .tile, .wall-header > *';
for (const e of document.querySelectorAll(parts)) {
    if (!shown(e)) { continue; }
    const r = e.getBoundingClientRect();
    boxes.push({cls: e.className, left: r.left, top: r.top, right: r.right, bottom: r.bottom});
}
let smallest = null;
const walker = document.createTreeWalker(document.querySelector('.wall'), NodeFilter.SHOW_TEXT);
while (walker.nextNode()) {
    const node = walker.currentNode, e = node.parentElement;
    if (!node.textContent.trim() || !e || e.closest('svg') || !shown(e)) { continue; }
    if (e.closest('.focus-panel') && getComputedStyle(e.closest('.focus-panel')).opacity === '0') {
        continue;
    }
    const r = e.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) { continue; }
    const size = parseFloat(getComputedStyle(e).fontSize);
    if (smallest === null || size < smallest.size) {
        smallest = {size: size, text: node.textContent.trim().slice(0, 30), cls: e.className};
    }
}
return {boxes: boxes, smallest: smallest};
"""


@dataclass
class Screen:
    """A running app, a browser on it at one size, and the services behind it."""

    url: str
    driver: object
    services: Services

    def wait(self, condition, timeout: float = TIMEOUT_S):
        return WebDriverWait(self.driver, timeout, poll_frequency=0.1).until(condition)

    def js(self, script: str, *args):
        return self.driver.execute_script(script, *args)

    def open(self, path: str = "/") -> None:
        self.driver.get(self.url + path)
        self.wait(lambda d: d.find_element(By.ID, WallIds.KPI_TODAY).text not in ("", "—"))
        self.wait(lambda d: self.js("return document.documentElement.dataset.focus"))

    def text(self, element_id: str) -> str:
        return self.driver.find_element(By.ID, element_id).text

    def focus(self) -> tuple[str | None, str | None]:
        """The focus panel shown now and the next one (``<html>`` data attributes)."""
        return tuple(self.js("const d = document.documentElement.dataset;"
                             " return [d.focus || null, d.focusNext || null];"))

    def ingest(self, stream: str, *entries: dict[str, str]) -> None:
        """XADD ``entries`` to ``stream`` and run the real ingest until it is idle."""
        ingest(self.services, entries, consumer="screens", stream=stream)

    def assert_no_console_errors(self) -> None:
        assert severe_errors(self.driver) == []


@contextmanager
def screen(services: Services, size: tuple[int, int] = (1920, 1080),
           role: str = "wall") -> Iterator[Screen]:
    app = create_app(services.settings, services=services)
    with live_server(app.server) as server, chrome(*size) as driver:
        browser_sign_in(driver, server.url, services, role)
        yield Screen(server.url, driver, services)


@pytest.fixture
def rotating_services(tmp_path, redis_server_url, sqlite_url) -> Iterator[Services]:
    """Services whose wall rotates its focus panels every second."""
    settings = make_settings(tmp_path, redis_server_url, sqlite_url, wall_rotate_s=1)
    services = build_services(settings)
    try:
        yield services
    finally:
        keys = list(services.redis.scan_iter(match=f"{settings.stream_prefix}*", count=1000))
        if keys:
            services.redis.delete(*keys)
        services.close()


def metric(event_id: str, module: str, key: str, value: float, at: datetime,
           unit: str | None = None) -> dict[str, str]:
    fields = {"event_id": event_id, "type": "metric.observed", "occurred_at": at.isoformat(),
              "source": "screens-test", "module": module, "key": key, "value": str(value)}
    if unit:
        fields["unit"] = unit
    return fields


def day_of_data(s: Screen, now: datetime) -> None:
    """A busy hour of incidents, a few KPIs of other modules and the day's disposals.

    The 20 disposals are a minute apart, or closer early in a local day, so that all are
    today's (``tests.clock_support``).
    """
    step = today_step(s.services.settings.tz, now, timedelta(minutes=1), 21)
    s.ingest("incidents", *busy_hour(now))
    s.ingest("metrics",
             metric("m-1", "economy", "enterprises_served", 30, now - timedelta(hours=25), "家"),
             metric("m-2", "economy", "enterprises_served", 37, now - timedelta(minutes=5), "家"),
             metric("m-3", "service", "satisfaction", 98.6, now - timedelta(minutes=3), "%"),
             metric("m-4", "service", "requests_handled", 1250, now - timedelta(minutes=2), "件"),
             metric("m-5", "tourism", "visitors", 5321, now - timedelta(minutes=1), "人次"))
    s.ingest("waste", household("H-1", "朝阳村"), station("ST-1", "朝阳村"),
             *(disposal("H-1", now - n * step, correct=n % 5 != 0) for n in range(1, 21)))


def assert_fits(s: Screen) -> None:
    """No scrollbar, no region over another, everything on screen, legible, no tofu."""
    width, height = s.js("return [innerWidth, innerHeight]")
    page = s.js(REGIONS)
    assert all(v <= width for v in page["scroll"][::2]), page["scroll"]
    assert all(v <= height for v in page["scroll"][1::2]), page["scroll"]
    regions = page["regions"]
    assert any(name.startswith("focus:") for name in regions), regions
    for name, box in regions.items():
        assert box["w"] > 100 and box["h"] > 15, (name, box)
        assert box["x"] >= 0 and box["y"] >= 0, (name, box)
        assert box["x"] + box["w"] <= width + 0.5 and box["y"] + box["h"] <= height + 0.5, \
            (name, box)
    names = sorted(regions)
    clashes = [(a, b) for i, a in enumerate(names) for b in names[i + 1:]
               if regions[a]["x"] < regions[b]["x"] + regions[b]["w"] - 1
               and regions[b]["x"] < regions[a]["x"] + regions[a]["w"] - 1
               and regions[a]["y"] < regions[b]["y"] + regions[b]["h"] - 1
               and regions[b]["y"] < regions[a]["y"] + regions[a]["h"] - 1]
    assert clashes == []
    inside = s.js(INSIDE)
    for box in inside["boxes"]:
        assert box["left"] >= -0.5 and box["top"] >= -0.5, box
        assert box["right"] <= width + 0.5 and box["bottom"] <= height + 0.5, box
    scale = min(width / 1920, height / 1080)
    assert inside["smallest"]["size"] >= MIN_FONT_PX * scale - 0.05, inside["smallest"]
    assert tofu_characters(s.driver) == []


@pytest.mark.parametrize("size", PRESETS, ids=lambda v: f"{v[0]}x{v[1]}")
def test_screens001_each_preset_fits_without_scrolling(sqlite_services, size):
    width, height = size
    with screen(sqlite_services, size) as s:
        s.open("/")
        now = clear_of_midnight()
        day_of_data(s, now)
        s.wait(lambda d: "居民楼楼道起火冒烟" in s.text(WallIds.LATEST))
        s.wait(lambda d: "37" in s.js(
            "return document.getElementById(arguments[0]).textContent", FocusIds.SCENARIOS))
        # the KPIs the tiles file configures are on their scenarios' panels...
        tiles = s.js("return document.getElementById(arguments[0]).textContent",
                     FocusIds.SCENARIOS)
        assert "服务企业37家较24小时前 +7" in tiles and "满意度98.6%" in tiles, tiles
        # ...the others on the generic panel, titled as sent
        s.wait(lambda d: "5,321" in s.js(
            "return document.getElementById(arguments[0]).textContent", FocusIds.METRICS))
        tiles = s.js("return document.getElementById(arguments[0]).textContent",
                     FocusIds.METRICS)
        assert "tourism · visitors" in tiles and "服务企业" not in tiles, tiles
        def waste() -> str:
            return s.js("return document.getElementById(arguments[0]).textContent",
                        FocusIds.WASTE)

        s.wait(lambda d: "80.0%" in waste())  # 16 of 20 correct
        assert "今日分类准确率" in waste() and "今日投放20次" in waste(), waste()
        # the branding: the subdistrict's name, the date and a running clock
        assert "乔司街道" in s.driver.find_element(By.CSS_SELECTOR, ".wall-subtitle").text
        assert s.text(WallIds.CLOCK_DATE) and s.text(WallIds.CLOCK_TIME)
        assert s.js("return document.documentElement.clientWidth") == width
        assert_fits(s)
        # the ultra-wide arrangement uses the width: the closed loop and the volunteers side
        # by side with the rotating focus, not a stretched 16:9 picture
        regions = s.js(REGIONS)["regions"]
        shown = {name for name in regions if name.startswith("focus:")}
        if width / height >= 4:
            assert {"focus:incidents", "focus:volunteers"} <= shown and len(shown) == 3, shown
            assert regions["focus:volunteers"]["w"] > 1200, regions
        else:
            assert len(shown) == 1, shown
        scale = min(width / 1920, height / 1080)
        title = s.js("return document.getElementById(arguments[0]).getBoundingClientRect()"
                     ".height", WallIds.TITLE)
        assert 34 * scale < title < 50 * scale, title  # the same picture, scaled
        svg = s.js("return document.getElementById(arguments[0]).querySelector('.main-svg')"
                   ".getBoundingClientRect().width", WallIds.MAP)
        assert svg > 700 * scale, svg  # the plotly map scales with the screen
        save_screenshot(s.driver, f"wall-{width}x{height}.png")
        # every panel of the rotation fits the focus slot too
        for name in rotating(s):
            s.open(f"/?focus={name}")
            s.wait(lambda d, n=name: s.js(
                "return getComputedStyle(document.querySelector("
                "`.focus-panel[data-focus=${arguments[0]}]`)).opacity", n) == "1")
            assert s.focus()[0] == name
            assert_fits(s)
            save_screenshot(s.driver, f"wall-{width}x{height}-{name}.png")
        s.assert_no_console_errors()


def rotating(s: Screen) -> list[str]:
    """The focus panels in rotation at this screen's preset (not fixed in a column)."""
    return s.js("return Array.from(document.querySelectorAll('.focus-panel')).filter(e =>"
                " getComputedStyle(e).getPropertyValue('--focus-fixed').trim() !== '1')"
                ".map(e => e.dataset.focus)")


@pytest.mark.parametrize("size", [(1366, 768), (2560, 1080), (1280, 1024)],
                         ids=lambda v: f"{v[0]}x{v[1]}")
def test_screens002_odd_sizes_fit_too(sqlite_services, size):
    with screen(sqlite_services, size) as s:
        s.open("/")
        day_of_data(s, clear_of_midnight())
        s.wait(lambda d: "居民楼楼道起火冒烟" in s.text(WallIds.LATEST))
        assert_fits(s)
        save_screenshot(s.driver, f"wall-{size[0]}x{size[1]}.png")
        s.assert_no_console_errors()


def test_screens003_the_focus_panels_rotate_and_the_dots_follow(rotating_services):
    with screen(rotating_services) as s:
        s.open("/")
        s.wait(lambda d: len(rotating(s)) > len(FOCUS_PANELS))
        order = rotating(s)  # the scenario pages of the tiles file between waste and metrics
        assert order == ["incidents", "volunteers", "waste", "scn-economy-1", "scn-service-1",
                         "metrics"], order
        # the page records each change of <html>'s focus itself: a poll from here could miss
        # a 1-second panel on a busy machine
        s.js("window.__focus = [[document.documentElement.dataset.focus,"
             " document.documentElement.dataset.focusNext]];"
             "new MutationObserver(() => { const d = document.documentElement.dataset;"
             " const last = window.__focus[window.__focus.length - 1];"
             " if (last[0] !== d.focus || last[1] !== d.focusNext)"
             " window.__focus.push([d.focus, d.focusNext]); })"
             ".observe(document.documentElement, {attributes: true,"
             " attributeFilter: ['data-focus', 'data-focus-next']});")
        deadline = time.monotonic() + 2 * len(order) + 8
        seen = []
        while time.monotonic() < deadline:
            # a new panel and its next one are set one after the other: keep whole steps
            seen = [tuple(x) for x in s.js("return window.__focus") if x[0]]
            seen = [step for i, step in enumerate(seen)
                    if i + 1 == len(seen) or seen[i + 1][0] != step[0]]
            if len(seen) >= len(order) + 1:
                break
            time.sleep(0.2)
        seen = seen[:len(order) + 1]
        shown = [current for current, _ in seen]
        start = order.index(shown[0])
        assert shown == [order[(start + i) % len(order)] for i in range(len(order) + 1)], seen
        # each says which comes next, and the dots light the one shown
        for current, following in seen:
            assert following == order[(order.index(current) + 1) % len(order)]
        current, _ = s.focus()
        lit = s.js("return Array.from(document.querySelectorAll('.focus-dot')).filter(e =>"
                   " getComputedStyle(e.querySelector('.focus-dot-mark')).backgroundColor"
                   " !== 'rgba(0, 0, 0, 0)').map(e => e.dataset.focus)")
        assert lit in ([current], [s.focus()[0]]), lit
        # one panel visible at a time in the focus slot, the others hidden
        visible = s.js("return Array.from(document.querySelectorAll('.focus-panel')).filter("
                       "e => getComputedStyle(e).visibility === 'visible').length")
        assert visible in (1, 2)  # 2 only during the 0.35 s crossfade
        # ?focus=NAME pins one panel: three periods later it is still the one shown
        s.open("/?focus=waste")
        s.wait(lambda d: s.focus()[0] == "waste")
        time.sleep(3)
        assert s.focus() == ("waste", None)  # pinned: no panel is next
        s.assert_no_console_errors()


def test_screens004_a_critical_incident_takes_the_screen_until_acknowledged(rotating_services):
    with screen(rotating_services) as s:
        s.open("/")
        takeover = s.driver.find_element(By.ID, FocusIds.TAKEOVER)
        assert not takeover.is_displayed()
        code, name, _, _ = _village_point(4)
        now = datetime.now(UTC)
        s.ingest("incidents", reported("tk-urgent", "traffic", "两车追尾", now, village=2,
                                       priority="urgent"))
        s.wait(lambda d: d.find_element(By.ID, GovIds.ANNOUNCE).is_displayed())
        assert not takeover.is_displayed()  # urgent is not the highest priority
        s.ingest("incidents", reported("tk-1", "fire", "化工仓库起火，现场浓烟", now, village=4,
                                       priority="critical"))
        s.wait(lambda d: takeover.is_displayed())
        assert s.text(FocusIds.TAKEOVER_HEAD) == "特急警情 · 待确认"
        assert s.text(FocusIds.TAKEOVER_CATEGORY) == "火情"
        assert s.text(FocusIds.TAKEOVER_TITLE) == "化工仓库起火，现场浓烟"
        assert s.text(FocusIds.TAKEOVER_VILLAGE) == name
        local = now.astimezone(s.services.settings.tz)
        assert s.text(FocusIds.TAKEOVER_AT) in {f"上报 {local:%H:%M}",
                                                 f"上报 {local + timedelta(minutes=1):%H:%M}"}
        s.wait(lambda d: s.text(FocusIds.TAKEOVER_WAITED).startswith("已等待确认 "))
        first = s.text(FocusIds.TAKEOVER_WAITED)
        s.wait(lambda d: s.text(FocusIds.TAKEOVER_WAITED) != first)  # it counts on
        # the rotation is paused under it: the same panel for three periods
        paused = s.focus()
        time.sleep(3)
        assert s.focus() == paused
        # big enough to read at 5 m, over the focus slot only: the map stays in view
        fonts = s.js("return Array.from(document.querySelectorAll('#wall-takeover *')).filter("
                     "e => e.textContent.trim() && !e.children.length).map(e =>"
                     " parseFloat(getComputedStyle(e).fontSize))")
        assert fonts and min(fonts) >= TAKEOVER_MIN_PX, fonts
        boxes = s.js("const b = (s) => document.querySelector(s).getBoundingClientRect();"
                     " return [b('#wall-takeover').toJSON(), b('.panel-map').toJSON()]")
        assert boxes[0]["left"] >= boxes[1]["right"], boxes
        assert_fits(s)
        save_screenshot(s.driver, "wall-takeover.png")
        # acknowledged (by anyone, here through the stream): it goes, the rotation resumes
        s.ingest("incidents", {"event_id": "tk-1-ack", "type": "notification.acknowledged",
                               "occurred_at": datetime.now(UTC).isoformat(),
                               "source": "duty-phone", "notification_id": "tk-1/new",
                               "channel": "phone", "by": "duty-officer"})
        s.wait(lambda d: not takeover.is_displayed())
        s.wait(lambda d: s.focus() != paused, timeout=4)
        assert d_banner_still(s)  # the urgent one still waits in the banner
        s.assert_no_console_errors()


def d_banner_still(s: Screen) -> bool:
    return "两车追尾" in s.js("return document.getElementById(arguments[0]).textContent",
                          GovIds.ANNOUNCE_TEXT) or s.driver.find_element(
        By.ID, GovIds.ANNOUNCE).is_displayed()


def visible_controls(s: Screen) -> list[str]:
    """Buttons, inputs and active links shown on the page (a link kiosk mode made inert
    does not count)."""
    return s.js("""
        return Array.from(document.querySelectorAll('button, input, select, a[href]')).filter(
            e => e.getClientRects().length && getComputedStyle(e).visibility === 'visible'
                 && (e.tagName !== 'A' || getComputedStyle(e).pointerEvents !== 'none'))
            .map(e => e.outerHTML.slice(0, 80));""")


def test_screens005_kiosk_mode_shows_no_control_and_hides_the_pointer(sqlite_services):
    with screen(sqlite_services) as s:  # a screen signed in by its kiosk link
        s.open("/")
        s.ingest("incidents", reported("ki-1", "fire", "仓库冒烟", datetime.now(UTC),
                                       priority="critical"))
        s.wait(lambda d: d.find_element(By.ID, GovIds.ANNOUNCE).is_displayed())
        assert "kiosk" in s.driver.find_element(By.ID, WallIds.ROOT).get_attribute("class")
        assert visible_controls(s) == []
        assert s.driver.find_elements(By.ID, WallIds.LANG_LINK) == []
        assert s.driver.find_elements(By.CSS_SELECTOR, ".account-bar") == []
        assert s.js("return getComputedStyle(document.querySelector('.latest')).userSelect") \
            == "none"
        # the pointer: shown when moved, hidden after 3 s without moving
        ActionChains(s.driver).move_by_offset(200, 200).perform()
        assert not s.js("return document.documentElement.classList.contains('cursor-idle')")
        s.wait(lambda d: s.js("return document.documentElement.classList"
                              ".contains('cursor-idle')"), timeout=6)
        assert s.js("return getComputedStyle(document.querySelector('.panel-map')).cursor") \
            == "none"
        ActionChains(s.driver).move_by_offset(10, 10).perform()
        assert not s.js("return document.documentElement.classList.contains('cursor-idle')")
        # ?kiosk=0: the controls are back, to set the screen up (mute it)
        s.open("/?kiosk=0")
        s.wait(lambda d: d.find_element(By.ID, GovIds.SOUND).is_displayed())
        assert s.driver.find_element(By.ID, WallIds.LANG_LINK).is_displayed()
        s.assert_no_console_errors()


def test_screens006_a_leader_gets_kiosk_mode_by_asking(sqlite_services):
    with screen(sqlite_services, role="leader") as s:
        s.open("/")
        s.ingest("incidents", reported("kl-1", "police", "纠纷", datetime.now(UTC),
                                       priority="critical"))
        s.wait(lambda d: d.find_element(By.ID, GovIds.ACK).is_displayed())
        assert s.driver.find_element(By.CSS_SELECTOR, ".account-bar").is_displayed()
        s.open("/?kiosk=1")
        s.wait(lambda d: d.find_element(By.ID, GovIds.ANNOUNCE).is_displayed())
        assert visible_controls(s) == []
        assert s.driver.find_elements(By.CSS_SELECTOR, ".account-bar") == []
        s.assert_no_console_errors()


@pytest.mark.parametrize("size", [(1920, 1080), (5760, 1080)], ids=lambda v: f"{v[0]}x{v[1]}")
def test_screens007_english_fits_too(sqlite_services, size):
    with screen(sqlite_services, size) as s:
        s.open("/?lang=en")
        day_of_data(s, clear_of_midnight())
        s.wait(lambda d: "Enterprises served37" in s.js(
            "return document.getElementById(arguments[0]).textContent", FocusIds.SCENARIOS))
        s.wait(lambda d: "tourism · visitors" in s.js(
            "return document.getElementById(arguments[0]).textContent", FocusIds.METRICS))
        assert "Digital economy" in s.js(
            "return document.getElementById(arguments[0]).textContent", FocusIds.NAV)
        assert [e.text for e in s.driver.find_elements(By.CSS_SELECTOR, ".focus-dot")
                if e.is_displayed()][:1] in (["Incidents"], ["Waste"])
        assert_fits(s)
        for name in rotating(s):
            s.open(f"/?lang=en&focus={name}")
            s.wait(lambda d, n=name: s.focus()[0] == n)
            assert_fits(s)
        save_screenshot(s.driver, f"wall-{size[0]}x{size[1]}-en.png")
        s.assert_no_console_errors()
