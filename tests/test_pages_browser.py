"""Browser tests over the main pages, in zh-CN and in English: every character has a glyph
(no tofu), every request stays on the app's origin (no CDN), and the English pages show no
Chinese but the stored data's. Headless Chromium against the real app, Redis and SQLite.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest
from selenium.webdriver.common.by import By

from app import create_app
from layouts import ShellIds
from layouts.i18n import lang_from_search, t
from layouts.staff_map import MapIds
from tests.access_support import browser_sign_in
from tests.browser_support import (
    chrome,
    live_server,
    requested_urls,
    save_screenshot,
    severe_errors,
    tofu_characters,
)
from tests.pages_support import MAIN_PAGES, chinese_outside, data_text, store_pages_data

pytestmark = pytest.mark.browser

#: How long a page's elements must stay the same (nothing loading) to count as drawn.
QUIET_S = 1.0
TIMEOUT_S = 25
#: JavaScript: what changes while a page is still being drawn. Not its text, nor its
#: requests: the wall's clock and data age tick, and it polls, for as long as it is open.
PROGRESS = """
const page = document.getElementById(arguments[0]);
return [document.readyState, document.getElementsByTagName('*').length,
        document.querySelectorAll('[data-dash-is-loading="true"]').length,
        page === null || page.childElementCount > 0];
"""
#: JavaScript: the text a reader sees, SVG text (figures) and the words of attributes
#: (placeholders, tooltips, image descriptions) included.
VISIBLE_TEXT = """
const parts = [document.body.innerText, document.title];
document.querySelectorAll('svg text').forEach(e => parts.push(e.textContent));
document.querySelectorAll('[placeholder],[title],[alt],[aria-label]').forEach(e => {
    for (const a of ['placeholder', 'title', 'alt', 'aria-label']) {
        if (e.getAttribute(a)) parts.push(e.getAttribute(a));
    }
});
return parts.join('\\n');
"""
#: JavaScript: the font a figure's text is drawn with (plotly styles each SVG text).
FIGURE_FONT = """
const text = document.querySelector('.js-plotly-plot .main-svg text');
return text ? getComputedStyle(text).fontFamily : null;
"""


def _settle(driver, shell: bool = True) -> None:
    """Wait until the page stops changing for :data:`QUIET_S` (its callbacks have drawn)."""
    last, since, start = None, time.monotonic(), time.monotonic()
    while time.monotonic() - start < TIMEOUT_S:
        state = driver.execute_script(PROGRESS, ShellIds.PAGE if shell else "-")
        if state != last:
            last, since = state, time.monotonic()
        elif (state[0] == "complete" and state[2] == 0 and state[3]
              and time.monotonic() - since >= QUIET_S):
            return
        time.sleep(0.1)
    raise AssertionError(f"{driver.current_url} kept changing: {last}")


def _frame(driver) -> bool:
    """Switch into the staff map's frame if the page has one (and it has drawn)."""
    frames = driver.find_elements(By.ID, MapIds.FRAME)
    if not frames:
        return False
    driver.switch_to.frame(frames[0])
    _settle(driver, shell=False)
    return True


def _foreign(urls: list[str], origin: str) -> list[str]:
    """The network URLs not on ``origin``.

    Only http(s) and ws(s) reach a host: ``data:`` and ``blob:`` are the page's own bytes, and
    ``chrome://`` the browser's own pages (its blank new tab asks for some before the test's
    first page).
    """
    network = [u for u in urls if urlsplit(u).scheme in ("http", "https", "ws", "wss")]
    own = {origin, origin.replace("http://", "ws://", 1)}
    return sorted({u for u in network if f"{urlsplit(u).scheme}://{urlsplit(u).netloc}" not in own})


def test_pages001_glyphs_origin_and_english_on_every_main_page(sqlite_services):
    services = sqlite_services
    data = data_text(store_pages_data(services))
    app = create_app(services.settings, services=services)
    problems: dict[str, object] = {}
    with live_server(app.server) as server, chrome(network=True) as driver:
        urls = []
        for search in ("", "?lang=en"):  # signed out: the sign-in page
            driver.get(f"{server.url}/signin{search}")
            _settle(driver, shell=False)
            problems[f"/signin{search} tofu"] = tofu_characters(driver)
            if search:
                problems["/signin?lang=en chinese"] = chinese_outside(
                    driver.execute_script(VISIBLE_TEXT), data)
        browser_sign_in(driver, server.url, services, "admin")
        for path in MAIN_PAGES:
            for search in ("", "?lang=en"):
                page = path + search
                driver.get(server.url + page)
                _settle(driver)
                texts = [driver.execute_script(VISIBLE_TEXT)]
                problems[f"{page} title"] = driver.title != t("title", lang_from_search(search))
                problems[f"{page} tofu"] = tofu_characters(driver)
                if path == "/analysis":
                    problems[f"{page} figure font"] = (
                        "Noto Sans CJK SC" not in (driver.execute_script(FIGURE_FONT) or ""))
                if _frame(driver):
                    problems[f"{page} frame tofu"] = tofu_characters(driver)
                    texts.append(driver.execute_script(VISIBLE_TEXT))
                    driver.switch_to.default_content()
                if search:
                    problems[f"{page} chinese"] = chinese_outside("\n".join(texts), data)
                save_screenshot(driver, f"pages001{path.replace('/', '_')}{search[1:]}.png")
                urls += requested_urls(driver)
        problems["requests elsewhere"] = _foreign(urls, server.url)
        problems["console errors"] = severe_errors(driver)
    assert {what: found for what, found in problems.items() if found} == {}
    # the records are not empty: pages loaded Dash's bundles, the stack and the map's Leaflet
    paths = {urlsplit(u).path for u in urls}
    assert "/assets/fonts.css" in paths and "/assets/vendor/leaflet/leaflet.js" in paths
    assert any(p.startswith("/_dash-component-suites/") for p in paths)
    assert _foreign(["https://cdn.example.com/a.js", "data:image/png;base64,AA",
                     "http://127.0.0.1:1/x.css", f"{server.url}/assets/fonts.css"],
                    server.url) == ["http://127.0.0.1:1/x.css", "https://cdn.example.com/a.js"]


#: Characters no font of any system draws: a private-use code point of plane 15 and an
#: unassigned one of plane 3 (past CJK Extension H).
NO_FONT_HAS = "\U000F0041\U0003FFF0"


def test_pages002_a_page_with_a_character_no_font_has_shows_tofu(sqlite_services):
    app = create_app(sqlite_services.settings, services=sqlite_services)
    with live_server(app.server) as server, chrome() as driver:
        driver.get(f"{server.url}/signin")
        _settle(driver, shell=False)
        assert tofu_characters(driver) == []
        driver.execute_script(
            "const p = document.createElement('p'); p.textContent = '乔司 ' + arguments[0];"
            "document.querySelector('main').appendChild(p);", NO_FONT_HAS)
        assert sorted(tofu_characters(driver)) == sorted(NO_FONT_HAS)
        assert "Noto Sans CJK SC" in driver.execute_script(
            "return getComputedStyle(document.body).fontFamily")
