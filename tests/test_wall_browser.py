"""Browser tests of the wall page: headless Chromium against the real app, Redis and SQLite.

Data reach the page the way production data do: events are applied to the store with the
ingest's write path and the change is signalled through Redis; the page must pick it up by
itself. The browser signs in as a command-hall screen does, by a kiosk link (``wall``), or as a
leader where a test acknowledges notices or opens incidents from the wall. Every test ends with
no SEVERE console error.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import text

from app import create_app
from cockpit import geo
from cockpit.events import parse_event
from cockpit.ingest import resolve_villages
from cockpit.services import Services
from cockpit.store.apply import apply_batch
from cockpit.streams import signal_change
from layouts.wall import STATUS_PATH, WallIds
from layouts.wall_governance import OVERDUE_ROWS, GovIds
from tests.access_support import browser_sign_in, http_session
from tests.browser_support import (
    chrome,
    live_server,
    save_screenshot,
    severe_errors,
    tofu_characters,
)
from tests.clock_support import on_today

pytestmark = pytest.mark.browser

TIMEOUT_S = 10
#: A console entry of a liveness probe abandoned by its timeout (AbortSignal.timeout).
ABORTED_PROBE = re.compile(re.escape(STATUS_PATH) + r"\b.*(net::ERR_ABORTED|signal timed out)")
#: JavaScript: the map's plotly traces by uid -> number of points.
TRACE_SIZES = """
const graph = document.getElementById(arguments[0]);
const gd = graph && graph.querySelector('.js-plotly-plot');
if (!gd || !gd.data) { return null; }
const out = {};
for (const tr of gd.data) { out[tr.uid] = (tr.x || []).length; }
return out;
"""


#: JavaScript: the map's village labels (SVG text of the labels trace) and their boxes, px.
LABEL_BOXES = """
const texts = document.getElementById(arguments[0]).querySelectorAll('.textpoint text');
return Array.from(texts).map(e => {
    const r = e.getBoundingClientRect();
    return {text: e.textContent, x: r.left, y: r.top, w: r.width, h: r.height}; });
"""


#: JavaScript: the boxes of the wall's panels (and header, focus dots and ticker bar), px. The
#: volunteers panel takes turns with the closed loop's in the focus slot (tests of the focus
#: region: tests/test_wall_screens_browser.py).
PANEL_BOXES = """
const out = {};
for (const sel of ['.wall-header', '.panel-kpi', '.panel-cat', '.panel-overdue', '.panel-map',
                   '.panel-waste', '.panel-funnel', '.panel-latest', '.focus-nav',
                   '.ticker-bar']) {
    const r = document.querySelector(sel).getBoundingClientRect();
    out[sel] = {x: r.left, y: r.top, w: r.width, h: r.height};
}
return out;
"""
#: JavaScript: every KPI tile's box and the inner box (inside the border) of its panel, px.
TILE_BOXES = """
return Array.from(document.querySelectorAll('.panel .kpi')).map(tile => {
    const panel = tile.closest('.panel'), p = panel.getBoundingClientRect();
    const r = tile.getBoundingClientRect();
    return {label: tile.querySelector('.kpi-label').textContent,
            tile: {top: r.top, bottom: r.bottom, left: r.left, right: r.right},
            panel: {top: p.top + panel.clientTop, left: p.left + panel.clientLeft,
                    bottom: p.top + panel.clientTop + panel.clientHeight,
                    right: p.left + panel.clientLeft + panel.clientWidth}};
});
"""
#: JavaScript: every row of the overdue board and the latest list, with its panel's bottom.
ROW_BOXES = """
const out = [];
for (const id of ['wall-overdue', 'wall-latest']) {
    const list = document.getElementById(id);
    const bottom = list.closest('.panel-body').getBoundingClientRect().bottom;
    for (const li of list.children) {
        const r = li.getBoundingClientRect();
        const text = li.querySelector('.overdue-late, .latest-title, .overdue-empty') || li;
        out.push({list: id, h: r.height, bottom: r.bottom, panel_bottom: bottom + 0.5,
                  font: parseFloat(getComputedStyle(text).fontSize)});
    }
}
return out;
"""


@dataclass
class Wall:
    """A running app, a browser on it and the services behind it."""

    url: str
    driver: object
    services: Services

    def open(self, path: str = "/") -> None:
        self.driver.get(self.url + path)
        self.wait(lambda d: self.text(WallIds.KPI_TODAY) not in ("", "—"))
        self.wait(lambda d: self.traces())  # plotly.js loads lazily

    def wait(self, condition, timeout: float = TIMEOUT_S):
        return WebDriverWait(self.driver, timeout, poll_frequency=0.1).until(condition)

    def text(self, element_id: str) -> str:
        return self.driver.find_element(By.ID, element_id).text

    def reported_today(self, times: list[datetime]) -> int:
        """How many of ``times`` fall on today's local date (the wall's 今日), as of now."""
        return sum(on_today(t, self.services.settings.tz) for t in times)

    def click(self, css: str) -> None:
        """Click the element at ``css``, found afresh until the click lands (a poll may
        re-render its panel between finding and clicking)."""
        WebDriverWait(self.driver, TIMEOUT_S, poll_frequency=0.1,
                      ignored_exceptions=(StaleElementReferenceException,)).until(
            lambda d: d.find_element(By.CSS_SELECTOR, css).click() or True)

    def js(self, script: str, *args):
        return self.driver.execute_script(script, *args)

    def traces(self) -> dict[str, int] | None:
        return self.js(TRACE_SIZES, WallIds.MAP)

    def apply(self, *fields: dict[str, str]) -> None:
        """Store events through the ingest's write path, then signal the change."""
        events = [(parse_event(f), f"{i}-1") for i, f in enumerate(fields, start=1)]
        with self.services.sessions.begin() as session:
            result = apply_batch(session, events, resolve_villages)
        signal_change(self.services.redis, self.services.settings, sorted(result.incidents))

    def assert_no_console_errors(self) -> None:
        assert severe_errors(self.driver) == []

    def assert_panels_fit(self) -> None:
        """Every panel inside the 1920×1080 screen, none over another; whole rows only."""
        boxes = self.js(PANEL_BOXES)
        width, height = self.js("return [innerWidth, innerHeight]")
        for name, box in boxes.items():
            assert box["w"] > 100 and box["h"] > (20 if name == ".focus-nav" else 30), (name, box)
            assert box["x"] >= 0 and box["y"] >= 0, (name, box)
            assert box["x"] + box["w"] <= width and box["y"] + box["h"] <= height, (name, box)
        names = sorted(boxes)
        clashes = [(a, b) for i, a in enumerate(names) for b in names[i + 1:]
                   if boxes[a]["x"] < boxes[b]["x"] + boxes[b]["w"] - 1
                   and boxes[b]["x"] < boxes[a]["x"] + boxes[a]["w"] - 1
                   and boxes[a]["y"] < boxes[b]["y"] + boxes[b]["h"] - 1
                   and boxes[b]["y"] < boxes[a]["y"] + boxes[a]["h"] - 1]
        assert clashes == []
        # every KPI tile whole inside its panel (the panel clips what sticks out)
        tiles = self.js(TILE_BOXES)
        assert len(tiles) == 5
        for tile in tiles:
            box, panel = tile["tile"], tile["panel"]
            assert (panel["top"] <= box["top"] and box["bottom"] <= panel["bottom"] + 0.5
                    and panel["left"] <= box["left"] and box["right"] <= panel["right"]
                    + 0.5), tile
        # rows of the lists are shown whole or not at all, and big enough to read from afar
        rows = self.js(ROW_BOXES)
        for row in rows:
            assert row["h"] == 0 or row["bottom"] <= row["panel_bottom"], row
            assert row["font"] >= 13, row
        assert any(r["h"] > 0 for r in rows if r["list"] == GovIds.OVERDUE)

    def assert_labels_apart(self) -> None:
        """No two village labels of the map overlap (their SVG text boxes, as rendered)."""
        boxes = self.js(LABEL_BOXES, WallIds.MAP)
        assert len(boxes) == 15 and all(b["w"] > 10 and b["h"] > 10 for b in boxes), boxes
        clashes = [(a["text"], b["text"]) for i, a in enumerate(boxes) for b in boxes[i + 1:]
                   if a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"]
                   and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"]]
        assert clashes == []


class Hanging:
    """WSGI middleware: while ``hang`` is set, every request blocks (until it is cleared), and
    so does every response being sent (an open push stream stalls as in a hung process)."""

    def __init__(self, app) -> None:
        self.app, self.hang = app, threading.Event()

    def _wait(self) -> None:
        while self.hang.is_set():
            time.sleep(0.05)

    def __call__(self, environ, start_response):
        self._wait()
        return self._held(self.app(environ, start_response))

    def _held(self, result):
        try:
            for chunk in result:
                self._wait()
                yield chunk
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()


@contextmanager
def signed_in_wall(services: Services, role: str) -> Iterator[Wall]:
    """The app on a free port and a browser on it, signed in as ``role``."""
    app = create_app(services=services)
    with live_server(app.server) as server, chrome() as driver:
        browser_sign_in(driver, server.url, services, role)
        yield Wall(server.url, driver, services)


@pytest.fixture
def wall(sqlite_services) -> Iterator[Wall]:
    """A command-hall screen: signed in by its kiosk link."""
    with signed_in_wall(sqlite_services, "wall") as screen:
        yield screen


@pytest.fixture
def leader_wall(sqlite_services) -> Iterator[Wall]:
    """The wall in a leader's browser: it may acknowledge notices and open incidents."""
    with signed_in_wall(sqlite_services, "leader") as screen:
        yield screen


def _village_point(index: int = 0) -> tuple[str, str, float, float]:
    """A (code, name, lon, lat) inside a village polygon."""
    return geo.label_points(geo.load_villages(), with_suffix=False)[index]


def reported(incident_id: str, category: str, title: str, at: datetime,
             village: int = 0, priority: str = "urgent") -> dict[str, str]:
    _, _, lon, lat = _village_point(village)
    return {"event_id": f"{incident_id}-reported", "type": "incident.reported",
            "occurred_at": at.isoformat(), "source": "browser-test", "incident_id": incident_id,
            "category": category, "priority": priority, "title": title,
            "address": "乔司街道测试路1号", "lon": f"{lon:.6f}", "lat": f"{lat:.6f}",
            "crs": "wgs84"}


def step(incident_id: str, stage: str, at: datetime) -> dict[str, str]:
    return {"event_id": f"{incident_id}-{stage}", "type": f"incident.{stage}",
            "occurred_at": at.isoformat(), "source": "browser-test", "incident_id": incident_id}


BUSY = 24
CATEGORIES = ("fire", "police", "medical", "traffic", "urban_management", "public_safety",
              "other")
TITLES = ("居民楼楼道起火冒烟", "电动车充电起火", "可疑人员徘徊", "老人突发晕倒", "两车追尾",
          "占道经营", "井盖缺失", "噪音扰民", "群租房消防隐患")
STAGES = ("reported", "assessed", "dispatched", "arrived", "resolved", "closed")


def busy_hour(now: datetime) -> list[dict[str, str]]:
    """Events of BUSY incidents spread over villages, categories and loop stages."""
    events = []
    for n in range(BUSY):
        incident_id, start = f"busy-{n}", now - timedelta(minutes=55 - 2 * n)
        first = reported(incident_id, CATEGORIES[n % 7], TITLES[n % len(TITLES)], start,
                         village=n % 15, priority="critical" if n % 5 == 0 else "normal")
        first["lon"] = str(float(first["lon"]) + 0.003 * ((n % 3) - 1))
        first["lat"] = str(float(first["lat"]) - 0.002 - 0.003 * (n // 15))
        events.append(first)
        for k, stage in enumerate(STAGES[1:(n * 7) % 6 + 1], start=1):
            events.append(step(incident_id, stage, start + timedelta(seconds=70 * k)))
    return events


def test_wall001_renders(wall):
    wall.open("/")
    assert wall.text(WallIds.TITLE) == "乔网智治·云上中心驾驶舱"
    assert wall.driver.title == "乔网智治·云上中心驾驶舱"
    assert wall.text(WallIds.KPI_TODAY) == "0"
    assert wall.text(WallIds.KPI_DISPATCH) == "—"
    sizes = wall.wait(lambda d: wall.traces())
    assert sizes["outline"] > 100 and sizes["labels"] == 15
    assert sizes["open-fire"] == 0
    labels = wall.js("return Array.from(document.getElementById(arguments[0])"
                     ".querySelectorAll('.textpoint text')).map(e => e.textContent)", WallIds.MAP)
    assert "朝阳村（示意）" in labels  # the name, then its schematic marker
    assert "村社边界为示意" in wall.driver.find_element(By.ID, WallIds.MAP).text
    # one screen, no scrolling
    page = wall.js("const e = document.documentElement; return [e.scrollHeight, innerHeight,"
                   " e.scrollWidth, innerWidth]")
    assert page[0] <= page[1] and page[2] <= page[3], page
    assert page[1] == 1080 and page[3] == 1920
    wall.assert_panels_fit()
    assert wall.text(GovIds.OVERDUE) == "暂无超时警情"
    assert wall.text(GovIds.OVERDUE_TOTAL) == "共 0 起"
    assert wall.text(GovIds.TICKER) == "暂无动态"
    assert not wall.driver.find_element(By.ID, GovIds.ANNOUNCE).is_displayed()
    # Chinese text renders with a CJK font (no tofu)
    family = wall.js("return getComputedStyle(document.getElementById(arguments[0])).fontFamily",
                     WallIds.TITLE)
    assert "Noto Sans CJK SC" in family
    assert wall.js("return document.fonts.check('16px \"Noto Sans CJK SC\"', '乔司')")
    # every character on the wall has a glyph (and the check finds one that has none)
    assert tofu_characters(wall.driver) == []
    assert tofu_characters(wall.driver, "\U0010FFFE") == ["\U0010FFFE"]
    assert wall.js("return document.getElementById(arguments[0]).getBoundingClientRect().width",
                   WallIds.TITLE) > 200
    # the clock ticks in Asia/Shanghai and the data age says there is no data yet
    clock = wall.text(WallIds.CLOCK_TIME)
    expected = datetime.now(UTC).astimezone(wall.services.settings.tz).strftime("%H:%M")
    assert clock[:5] in {expected, (datetime.now(UTC).astimezone(wall.services.settings.tz)
                                    - timedelta(minutes=1)).strftime("%H:%M")}
    assert wall.text(WallIds.AGE) == "等待数据"
    # everything is served by the app itself: no CDN, no web fonts
    resources = wall.js("return performance.getEntriesByType('resource').map(e => e.name)")
    assert resources and all(r.startswith(wall.url) for r in resources), resources
    wall.assert_no_console_errors()


def test_wall002_new_incident_appears(wall):
    wall.open("/")
    assert wall.text(WallIds.KPI_OPEN) == "0"
    now = datetime.now(UTC)
    code, name, _, _ = _village_point(3)
    wall.apply(reported("bt-1", "fire", "电动车充电起火", now - timedelta(minutes=3), village=3),
               step("bt-1", "dispatched", now - timedelta(minutes=1)),
               reported("bt-2", "police", "<img src=x onerror=alert(1)>", now, village=5,
                        priority="critical"))
    wall.wait(lambda d: (wall.traces() or {}).get("open-fire") == 1)
    assert wall.traces()["open-police"] == 1
    wall.wait(lambda d: "电动车充电起火" in wall.text(WallIds.LATEST))
    latest = wall.text(WallIds.LATEST)
    assert name in latest and "火情" in latest and "已派遣" in latest
    # upstream text is shown as text, never parsed as HTML
    assert "<img src=x onerror=alert(1)>" in latest
    assert wall.driver.find_elements(By.CSS_SELECTOR, f"#{WallIds.LATEST} img") == []
    reported_at = [now - timedelta(minutes=3), now]
    assert wall.text(WallIds.KPI_TODAY) == str(wall.reported_today(reported_at))
    assert wall.text(WallIds.KPI_OPEN) == "2"
    assert wall.text(WallIds.KPI_DISPATCH) == "2分00秒"
    categories = wall.text(WallIds.CATEGORIES)
    assert "火情\n1" in categories and "警情\n1" in categories
    wall.wait(lambda d: wall.text(WallIds.AGE).startswith("数据 "))
    assert "age-ok" in wall.driver.find_element(By.ID, WallIds.AGE).get_attribute("class")

    wall.apply(step("bt-1", "resolved", now), step("bt-1", "closed", now + timedelta(seconds=1)))
    wall.wait(lambda d: wall.text(WallIds.KPI_CLOSED) == "1")
    assert wall.text(WallIds.KPI_OPEN) == "1"
    wall.wait(lambda d: wall.traces()["done-fire"] == 1 and wall.traces()["open-fire"] == 0)
    funnel = wall.text(WallIds.FUNNEL)
    assert "信息收集" in funnel and "跟踪反馈" in funnel and "已办结" in funnel

    # a busier hour, for the screenshot: every village, category and stage
    wall.apply(*busy_hour(now))
    reported_at += [now - timedelta(minutes=55 - 2 * n) for n in range(BUSY)]
    # 今日 counts from local midnight: a run just after midnight sees fewer than all of them
    wall.wait(lambda d: wall.text(WallIds.KPI_TODAY) == str(wall.reported_today(reported_at)))
    wall.wait(lambda d: sum(wall.traces()[f"open-{c}"] + wall.traces()[f"done-{c}"]
                            for c in CATEGORIES) == 2 + BUSY)
    # the overdue board: the most overdue first, each with how late it is, and the total
    wall.wait(lambda d: wall.text(GovIds.OVERDUE_TOTAL) != "共 0 起")
    total = int(re.fullmatch(r"共 (\d+) 起", wall.text(GovIds.OVERDUE_TOTAL)).group(1))
    late = [int(m) for m in re.findall(r"超时 (\d+)分", wall.text(GovIds.OVERDUE))]
    assert total >= len(late) >= 4 and late == sorted(late, reverse=True), late
    # the ticker: a long line, scrolling (its loop copy in place), and not restarted by news
    ticker = wall.driver.find_element(By.ID, GovIds.TICKER)
    assert "ticker-still" not in wall.js("return document.documentElement.className")
    moved = wall.js("return arguments[0].style.transform", ticker)
    wall.wait(lambda d: wall.js("return arguments[0].style.transform", ticker) != moved)
    assert len(ticker.find_elements(By.CSS_SELECTOR, ".ticker-copy")) == len(
        ticker.find_elements(By.CSS_SELECTOR, ".ticker-item:not(.ticker-copy)"))
    wall.assert_panels_fit()
    save_screenshot(wall.driver, "wall.png")
    wall.assert_no_console_errors()


def test_wall003_replay_badge(wall):
    wall.open("/")
    badge = wall.driver.find_element(By.ID, WallIds.REPLAY)
    assert not badge.is_displayed()
    key = wall.services.settings.key("feed:replay")
    wall.services.redis.set(key, json.dumps({"name": "sf_fire", "speed": 60, "sent": 1,
                                             "total": 10}))
    wall.wait(lambda d: badge.is_displayed() and badge.text == "回放 · sf_fire ×60 · 位置已平移")
    wall.services.redis.delete(key)
    wall.wait(lambda d: not badge.is_displayed())
    assert badge.text == ""
    wall.assert_no_console_errors()


def test_wall004_english(wall):
    wall.open("/wall?lang=en&kiosk=0")  # a kiosk screen shows its language link only so
    assert wall.text(WallIds.TITLE) == "Qiaosi Cloud Cockpit"
    wall.wait(lambda d: d.title == "Qiaosi Cloud Cockpit")
    assert "Waiting for data" == wall.text(WallIds.AGE)
    wall.apply(reported("en-1", "medical", "Fall", datetime.now(UTC)))
    wall.wait(lambda d: "Medical" in wall.text(WallIds.LATEST))
    assert "Reported" in wall.text(WallIds.LATEST)
    assert "Collection" in wall.text(WallIds.FUNNEL)
    wall.driver.find_element(By.ID, WallIds.LANG_LINK).click()
    wall.wait(lambda d: wall.text(WallIds.TITLE) == "乔网智治·云上中心驾驶舱")
    wall.wait(lambda d: "医疗急救" in wall.text(WallIds.LATEST))
    wall.driver.get(wall.url + "/no-such-page")
    wall.wait(lambda d: "页面不存在" in d.find_element(By.TAG_NAME, "body").text)
    wall.assert_no_console_errors()


def test_wall005_source_down_is_shown_not_crashed(wall):
    wall.open("/")
    alert = wall.driver.find_element(By.ID, WallIds.ALERT)
    assert not alert.is_displayed()
    with wall.services.engine.begin() as conn:
        conn.execute(text("ALTER TABLE incidents RENAME TO incidents_away"))
    signal_change(wall.services.redis, wall.services.settings, [])
    wall.wait(lambda d: alert.is_displayed() and alert.text == "数据源连接中断")
    wall.wait(lambda d: "数据源连接中断" in wall.text(WallIds.AGE))
    assert "age-bad" in wall.driver.find_element(By.ID, WallIds.AGE).get_attribute("class")
    assert wall.text(WallIds.KPI_TODAY) == "0"  # the last good picture stays
    with wall.services.engine.begin() as conn:
        conn.execute(text("ALTER TABLE incidents_away RENAME TO incidents"))
    wall.apply(reported("back-1", "traffic", "两车追尾", datetime.now(UTC)))
    wall.wait(lambda d: not alert.is_displayed())
    wall.wait(lambda d: wall.text(WallIds.KPI_TODAY) == "1")
    wall.assert_no_console_errors()


def test_wall006_data_age_turns_amber_then_red(wall):
    wall.open("/")
    key = wall.services.settings.key("ingest:last_commit")
    age = wall.driver.find_element(By.ID, WallIds.AGE)
    wall.services.redis.set(key, str(int(time.time() * 1000) - 20_000))
    wall.wait(lambda d: "age-warn" in age.get_attribute("class") and "秒前" in age.text)
    wall.services.redis.set(key, str(int(time.time() * 1000) - 125_000))
    wall.wait(lambda d: "age-bad" in age.get_attribute("class"))
    assert age.text == "数据 2 分钟前 · 数据可能已过期"
    wall.assert_no_console_errors()


def test_wall007_scales_to_4k(sqlite_services):
    app = create_app(services=sqlite_services)
    with live_server(app.server) as server, chrome(3840, 2160) as driver:
        browser_sign_in(driver, server.url, sqlite_services, "wall")
        wall = Wall(server.url, driver, sqlite_services)
        wall.open("/")
        page = wall.js("const e = document.documentElement; return [e.scrollHeight, innerHeight,"
                       " e.scrollWidth, innerWidth]")
        assert page == [2160, 2160, 3840, 3840]
        title_px = wall.js("return document.getElementById(arguments[0])"
                           ".getBoundingClientRect().height", WallIds.TITLE)
        assert title_px > 70  # twice the 1080p size
        graph = wall.js("return document.getElementById(arguments[0])"
                        ".querySelector('.main-svg').getBoundingClientRect().width", WallIds.MAP)
        assert graph > 1650  # twice its ~840 px at 1920×1080
        # the scaled map still answers the pointer: hovering a marker shows its label
        wall.apply(reported("4k-1", "fire", "悬停测试", datetime.now(UTC), village=7))
        wall.wait(lambda d: (wall.traces() or {}).get("open-fire") == 1)
        marker = wall.wait(lambda d: d.find_element(
            By.CSS_SELECTOR, f"#{WallIds.MAP} .scatterlayer .trace .points path"))
        ActionChains(driver).move_to_element(marker).perform()
        wall.wait(lambda d: "悬停测试" in " ".join(
            e.text for e in d.find_elements(By.CSS_SELECTOR, f"#{WallIds.MAP} .hovertext")))
        wall.assert_labels_apart()
        wall.assert_no_console_errors()


def test_wall008_undo_history_stays_bounded(wall):
    """dash-renderer records every Interval tick for undo; the wall must not grow with it."""
    wall.open("/")
    n_intervals = """
        const state = window.store.getState();
        let node = state.layout;
        for (const key of state.paths.strs[arguments[0]]) { node = node[key]; }
        return node.props.n_intervals || 0;"""
    # 20 clock ticks (and the pushed updates): more entries than the history keeps
    wall.wait(lambda d: wall.js(n_intervals, WallIds.CLOCK_TICK) >= 20)
    assert wall.js("return Object.values(window.cockpitPush.stats())[0].applied") >= 1
    assert wall.js("return window.store.getState().history.past.length") <= 22
    wall.assert_no_console_errors()


@pytest.mark.parametrize("path", ["/", "/wall?lang=en"])
def test_wall009_village_labels_do_not_overlap(wall, path):
    wall.open(path)
    wall.assert_labels_apart()
    wall.assert_no_console_errors()


def test_wall010_a_hung_server_is_shown_and_the_clock_keeps_ticking(sqlite_services):
    app = Hanging(create_app(services=sqlite_services).server)
    with live_server(app) as server, chrome() as driver:
        probe = http_session(server.url, sqlite_services, "wall")  # the screen's session
        with probe.open(server.url + STATUS_PATH, timeout=5) as reply:
            assert reply.headers["Cache-Control"] == "no-store"  # what the probe asks
            assert set(json.load(reply)) == {"version", "last_commit_ms", "server_time_ms",
                                             "replay"}
        browser_sign_in(driver, server.url, sqlite_services, "wall")
        wall = Wall(server.url, driver, sqlite_services)
        wall.open("/")
        key = sqlite_services.settings.key("ingest:last_commit")
        sqlite_services.redis.set(key, str(int(time.time() * 1000) - 2000))
        sqlite_services.redis.set(sqlite_services.settings.key("feed:replay"),
                                  json.dumps({"name": "sf_fire", "speed": 60}), ex=120)
        age = driver.find_element(By.ID, WallIds.AGE)
        wall.wait(lambda d: "age-ok" in age.get_attribute("class"))
        wall.wait(lambda d: "回放" in wall.text(WallIds.REPLAY))
        app.hang.set()
        try:
            clock = wall.text(WallIds.CLOCK_TIME)
            wall.wait(lambda d: "服务器无响应" in age.text)
            assert "age-bad" in age.get_attribute("class")
            assert wall.text(WallIds.CLOCK_TIME) != clock  # the clock never stopped
            silent, data = map(int, re.fullmatch(r"服务器无响应 (\d+) 秒 · 数据 (\d+) 秒前",
                                                 age.text).groups())
            assert 5 <= silent <= data  # the age grows from the last commit time known
            wall.wait(lambda d: f"数据 {data + 2} 秒前" in age.text)
            # the wider red pill squeezes the replay badge, never onto the title
            boxes = driver.execute_script(
                "return arguments[0].map(i => document.getElementById(i)"
                ".getBoundingClientRect().toJSON())",
                [WallIds.TITLE, WallIds.REPLAY, WallIds.AGE])
            title, badge, pill = boxes
            assert title["right"] <= badge["left"] and badge["right"] <= pill["left"]
        finally:
            app.hang.clear()
        wall.wait(lambda d: "服务器无响应" not in age.text)
        # the probes abandoned during the hang are expected (Chromium may log them); nothing else
        assert [e for e in severe_errors(driver) if not ABORTED_PROBE.search(e["message"])] == []


def test_wall011_overdue_board_fills_with_time_and_drills_into_the_incidents(leader_wall,
                                                                            monkeypatch):
    import callbacks.wall_feed

    wall = leader_wall
    # re-read the board each second
    monkeypatch.setattr(callbacks.wall_feed, "GOVERNANCE_EVERY_S", 1)
    wall.open("/")
    now = datetime.now(UTC)
    # fire: 2 minutes from report to assessment; this one is 10 minutes old
    wall.apply(reported("od-1", "fire", "仓库冒烟", now - timedelta(minutes=10), village=2,
                        priority="normal"))
    wall.wait(lambda d: "仓库冒烟" in wall.text(GovIds.OVERDUE))
    assert wall.text(GovIds.OVERDUE_TOTAL) == "共 1 起"
    row = wall.text(GovIds.OVERDUE)
    assert "火情" in row and "已上报" in row and re.search(r"超时 (7|8)分", row), row
    # a stage move within its limit takes it off the board
    wall.apply(step("od-1", "assessed", datetime.now(UTC)))
    wall.wait(lambda d: wall.text(GovIds.OVERDUE) == "暂无超时警情")
    # the board fills as a limit passes, with no event at all
    wall.apply(reported("od-2", "fire", "楼道堆物起火", datetime.now(UTC) - timedelta(seconds=116),
                        village=4, priority="normal"))
    wall.wait(lambda d: "楼道堆物起火" in wall.text(WallIds.LATEST))
    version = wall.services.version()
    wall.wait(lambda d: "楼道堆物起火" in wall.text(GovIds.OVERDUE))
    assert wall.services.version() == version
    assert wall.text(GovIds.OVERDUE_TOTAL) == "共 1 起"
    # drill-down: an overdue row opens its incident
    wall.click(f"#{GovIds.OVERDUE} a")
    wall.wait(lambda d: d.current_url == wall.url + "/incidents/od-2")
    # a funnel stage and a category open the list of today, filtered
    wall.open("/")
    wall.click(f"#{WallIds.FUNNEL} [data-stage=assessed]")
    wall.wait(lambda d: d.current_url == wall.url + "/incidents?stage=assessed&period=today")
    wall.open("/?lang=en")
    wall.click(f"#{WallIds.CATEGORIES} [data-category=fire]")
    wall.wait(lambda d: d.current_url
              == wall.url + "/incidents?category=fire&period=today&lang=en")
    # a map point opens its incident (once the announcement over the map is acknowledged)
    wall.open("/")
    wall.wait(lambda d: (wall.traces() or {}).get("open-fire") == 2)
    wall.wait(lambda d: d.find_element(By.ID, GovIds.ANNOUNCE).is_displayed())
    wall.driver.find_element(By.ID, GovIds.ACK_ALL).click()
    wall.wait(lambda d: not d.find_element(By.ID, GovIds.ANNOUNCE).is_displayed())
    marker = wall.driver.find_elements(
        By.CSS_SELECTOR, f"#{WallIds.MAP} .scatterlayer .trace .points path")[-1]
    ActionChains(wall.driver).move_to_element(marker).click().perform()
    wall.wait(lambda d: re.fullmatch(re.escape(wall.url) + r"/incidents/od-[12]", d.current_url))
    wall.assert_no_console_errors()


#: JavaScript: the announcement banner, its text and buttons, and the map panel, px.
BANNER_BOXES = """
const box = (sel) => { const r = document.querySelector(sel).getBoundingClientRect();
                       return {top: r.top, bottom: r.bottom, w: r.width, h: r.height}; };
const text = document.querySelector('.announce-text');
return {banner: box('.announce'), map: box('.panel-map'), text: box('.announce-text'),
        line: parseFloat(getComputedStyle(text).lineHeight),
        ack: box('.announce-ack'), ack_all: box('.announce-ack-all')};
"""


def test_wall012_a_full_overdue_board_says_how_many_more_and_the_banner_stays_compact(
        leader_wall):
    wall = leader_wall
    overdue = 7
    now = datetime.now(UTC)
    wall.open("/")
    wall.apply(*(reported(f"many-{n}", "fire", f"仓库冒烟，现场有大量浓烟，请尽快处置 {n}",
                          now - timedelta(minutes=3 + n % 6), village=n, priority="normal")
                 for n in range(overdue)))
    wall.wait(lambda d: wall.text(GovIds.OVERDUE_TOTAL) == f"共 {overdue} 起")
    board = wall.driver.find_element(By.ID, GovIds.OVERDUE)
    rows = board.find_elements(By.CSS_SELECTOR, ".overdue-item")
    assert len(rows) == OVERDUE_ROWS and all(r.is_displayed() for r in rows)
    more = board.find_element(By.CSS_SELECTOR, ".overdue-more a")
    assert more.is_displayed() and more.text == f"另有 {overdue - OVERDUE_ROWS} 起 → 查看全部"
    assert more.get_attribute("href") == wall.url + "/incidents?stage=overdue"
    wall.assert_panels_fit()  # every row and the last line whole inside the board
    # the queued announcements: a compact strip over the map, its buttons big enough to touch
    wall.wait(lambda d: d.find_element(By.ID, GovIds.ANNOUNCE).is_displayed())
    wall.wait(lambda d: wall.text(GovIds.ANNOUNCE_MORE) == f"另有 {overdue - 1} 条待确认")
    boxes = wall.js(BANNER_BOXES)
    assert boxes["banner"]["h"] <= 0.12 * boxes["map"]["h"], boxes
    assert boxes["text"]["h"] <= 2 * boxes["line"] + 1, boxes  # two lines at most
    for button in ("ack", "ack_all"):
        assert boxes[button]["h"] >= 44 and boxes[button]["w"] >= 44, boxes
    save_screenshot(wall.driver, "wall_overdue_more.png")
    wall.open("/?lang=en")
    more = wall.wait(lambda d: d.find_element(By.CSS_SELECTOR,
                                              f"#{GovIds.OVERDUE} .overdue-more a"))
    assert more.text == f"{overdue - OVERDUE_ROWS} more → see all"
    wall.wait(lambda d: d.find_element(By.ID, GovIds.ANNOUNCE).is_displayed())
    wall.assert_panels_fit()
    boxes = wall.js(BANNER_BOXES)
    assert boxes["banner"]["h"] <= 0.12 * boxes["map"]["h"], boxes
    save_screenshot(wall.driver, "wall_overdue_more_en.png")
    more.click()
    wall.wait(lambda d: d.current_url == wall.url + "/incidents?stage=overdue&lang=en")
    wall.assert_no_console_errors()


def test_wall013_beyond_its_points_the_map_counts_per_village_and_drills(leader_wall,
                                                                        monkeypatch):
    import callbacks.wall_feed

    wall = leader_wall
    monkeypatch.setattr(callbacks.wall_feed, "MAP_POINTS", 3)  # as if thousands were open
    now = datetime.now(UTC)
    code, name, _, _ = _village_point(6)
    wall.open("/")
    wall.apply(*(reported(f"many-{n}", "police", f"纠纷 {n}", now - timedelta(minutes=n + 1),
                          village=6, priority="low") for n in range(8)))
    # the newest 3 are village 2's one and two of village 6's eight: village 6, whose open
    # incidents are not all drawn, becomes one cluster of its 8
    wall.apply(reported("one-2", "fire", "楼道堆物", now, village=2, priority="low"))
    # village 6 is a cluster from the first batch on: wait for the second's point as well
    wall.wait(lambda d: (wall.traces() or {}).get("villages") == 1
              and wall.traces().get("open-fire") == 1)
    bubble_text = wall.js("""
        const gd = document.querySelector(`#${arguments[0]} .js-plotly-plot`);
        return gd.data.find(t => t.uid === 'villages').text;""", WallIds.MAP)
    assert bubble_text == ["8"]
    # village 2's one incident is still a point; none of village 6's is
    assert wall.traces()["open-fire"] == 1 and wall.traces()["open-police"] == 0
    if wall.driver.find_element(By.ID, GovIds.ANNOUNCE).is_displayed():
        wall.driver.find_element(By.ID, GovIds.ACK_ALL).click()
        wall.wait(lambda d: not d.find_element(By.ID, GovIds.ANNOUNCE).is_displayed())
    save_screenshot(wall.driver, "wall_village_counts.png")
    # the village counts' trace (plotly names a trace's group by its uid)
    bubble = wall.driver.find_elements(
        By.CSS_SELECTOR, f"#{WallIds.MAP} .scatterlayer .tracevillages .points path")[-1]
    ActionChains(wall.driver).move_to_element(bubble).click().perform()
    wall.wait(lambda d: d.current_url == wall.url + f"/incidents?stage=open&village={code}")
    # the list: that village's 8 open incidents, the cluster's number
    wall.wait(lambda d: "共 8 起" in d.find_element(By.TAG_NAME, "body").text)
    assert name in wall.driver.find_element(By.TAG_NAME, "body").text
    wall.assert_no_console_errors()
