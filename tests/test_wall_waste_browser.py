"""Browser tests of the wall's waste panel and the map's accuracy fills: headless Chromium.

Waste events reach the store the way production ones do: XADDed to the waste stream and
applied by the real ingest, which signals the change; the open page must pick it up by itself.
The browser signs in as a command-hall screen does, by a kiosk link (``wall``). Every test ends
with no SEVERE console error; screenshots go to tests/artifacts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

import pytest

from app import create_app
from layouts.wall import WallIds
from layouts.wall_waste import WasteIds
from tests.access_support import browser_sign_in
from tests.browser_support import chrome, live_server, save_screenshot
from tests.test_wall_browser import busy_hour
from tests.test_wall_volunteers import demo_events
from tests.test_wall_volunteers_browser import VolunteerWall, everywhere
from tests.test_wall_waste import (
    CODE_OF,
    NAMES,
    NO_DATA,
    PLAN,
    disposals,
    ingest,
    local_day,
    recomputed,
    registry,
    shown_percent,
)

pytestmark = pytest.mark.browser

#: JavaScript: what the waste panel shows: the ranked bars' names and values, the big number.
SHOWN = """
const gd = document.querySelector(`#${arguments[0]} .js-plotly-plot`);
if (!gd || !gd.data) { return null; }
const trace = (uid) => gd.data.find(t => t.uid === uid) || {text: []};
const big = document.querySelector('.ww-overall');
return {names: trace('names').text, values: trace('values').text,
        overall: big ? big.textContent : null,
        lines: ((gd.layout || {}).shapes || []).length};
"""
#: JavaScript: the map's fills (plotly's shapes in the subplot's layer under every trace) and its
#: notes.
MAP = """
const gd = document.querySelector(`#${arguments[0]} .js-plotly-plot`);
const shapes = (gd.layout.shapes || []).filter(s => (s.name || '').startsWith('waste-'));
const below = gd.querySelectorAll('.layer-subplot .shapelayer path').length;
const notes = Array.from(gd.querySelectorAll('.annotation-text'))
    .filter(e => e.textContent === arguments[1]).length;
return {fills: Object.fromEntries(shapes.map(s => [s.name.slice(6), s.fillcolor])),
        below: below, notes: notes};
"""
#: JavaScript: the boxes of every panel, the header and the ticker, px.
PANEL_BOXES = """
const out = {};
for (const sel of ['.wall-header', '.panel-kpi', '.panel-cat', '.panel-overdue', '.panel-map',
                   '.panel-waste', '.panel-funnel', '.panel-latest',
                   '.ticker-bar']) {
    const r = document.querySelector(sel).getBoundingClientRect();
    out[sel] = {x: r.left, y: r.top, w: r.width, h: r.height};
}
return out;
"""
#: JavaScript: the waste panel's box and what is in it (px), the smallest font of its texts.
WASTE = """
const box = (e) => { const r = e.getBoundingClientRect();
                     return {text: e.textContent, x: r.left, y: r.top, w: r.width, h: r.height}; };
const panel = document.querySelector('.panel-waste'), r = panel.getBoundingClientRect();
const inner = {x: r.left + panel.clientLeft, y: r.top + panel.clientTop,
               w: panel.clientWidth, h: panel.clientHeight};
const parts = Array.from(panel.querySelectorAll(
    '.ww-title, .ww-label, .ww-overall, .ww-trend, .ww-target, .ww-count, .ww-bars .main-svg'));
const texts = Array.from(panel.querySelectorAll('.ww-bars .textpoint text'));
return {inner: inner, parts: parts.map(box), clipped: panel.scrollHeight > panel.clientHeight + 1,
        fonts: Array.from(panel.querySelectorAll('.ww-label, .ww-target, .ww-count, .ww-title'))
            .map(e => parseFloat(getComputedStyle(e).fontSize)),
        bar_text: texts.map(box), scale: innerHeight / 1080};
"""
#: JavaScript: the map's village labels, volunteer badges, the 无数据 notes, the map's title,
#: its legend and key (boxes, px).
MAP_BOXES = """
const box = (e) => { const r = e.getBoundingClientRect();
                     return {text: e.textContent, x: r.left, y: r.top, w: r.width, h: r.height}; };
const map = document.getElementById(arguments[0]);
return {labels: Array.from(map.querySelectorAll('.tracelabels .textpoint text')).map(box),
        badges: Array.from(map.querySelectorAll('.tracevolunteers .textpoint text')).map(box),
        notes: Array.from(map.querySelectorAll('.annotation-text'))
            .filter(e => e.textContent === arguments[1]).map(box),
        boxes: ['.panel-map > .panel-title', '.map-legend', '.waste-key']
            .map(s => box(document.querySelector(s)))};
"""


def _overlap(a: dict, b: dict) -> bool:
    return (a["x"] < b["x"] + b["w"] - 1 and b["x"] < a["x"] + a["w"] - 1
            and a["y"] < b["y"] + b["h"] - 1 and b["y"] < a["y"] + a["h"] - 1)


def _ink(box: dict) -> dict:
    """A text's box less its line box's air: CJK fonts' ascent and descent make it about
    1.4 em high for 1 em of glyph."""
    air = box["h"] * 0.15
    return {**box, "y": box["y"] + air, "h": box["h"] - 2 * air}


class WasteWall(VolunteerWall):
    """The wall page with what these tests read of the waste panel and the map's fills."""

    def ingest_waste(self, entries: Sequence[dict[str, str]]) -> None:
        ingest(self.services, entries)

    def shown(self) -> dict | None:
        return self.js(SHOWN, WasteIds.BARS)

    def bars(self) -> dict[str, str]:
        shown = self.shown() or {"names": [], "values": []}
        return dict(zip(shown["names"], shown["values"], strict=True))

    def expected(self, today: date) -> dict[str, str]:
        """Village name -> the bar's text recomputed from the stored disposals."""
        stored = recomputed(self.services, today)
        return {name: f"{shown_percent(*stored[code])} · {stored[code][1]:,}"
                if code in stored else "无数据" for code, name in NAMES.items()}

    def assert_shows_the_stored_accuracy(self, today: date) -> None:
        stored = recomputed(self.services, today)
        self.wait(lambda d: self.bars() == self.expected(today))
        correct = sum(c for c, _ in stored.values())
        total = sum(n for _, n in stored.values())
        assert self.shown()["overall"] == shown_percent(correct, total)
        assert self.shown()["lines"] == 2  # the target's dashed line in both columns

    def assert_panels_fit(self) -> None:
        """The existing checks, then the waste panel among the others: inside the screen, over
        none, its content whole and legible; the map's labels apart, its overlays (title,
        legend, key, 无数据 notes) over no label or badge."""
        super().assert_panels_fit()
        boxes = self.js(PANEL_BOXES)
        width, height = self.js("return [innerWidth, innerHeight]")
        for name, box in boxes.items():
            assert box["x"] >= 0 and box["y"] >= 0, (name, box)
            assert box["x"] + box["w"] <= width and box["y"] + box["h"] <= height, (name, box)
        names = sorted(boxes)
        assert [(a, b) for i, a in enumerate(names) for b in names[i + 1:]
                if _overlap(boxes[a], boxes[b])] == []
        waste = self.js(WASTE)
        inner = waste["inner"]
        assert not waste["clipped"], waste
        for part in waste["parts"]:
            assert part["w"] > 0 and part["h"] > 0, waste
            assert inner["y"] - 0.5 <= part["y"] and part["y"] + part["h"] <= inner["y"] \
                + inner["h"] + 0.5, (part, inner)
            assert inner["x"] - 0.5 <= part["x"] and part["x"] + part["w"] <= inner["x"] \
                + inner["w"] + 0.5, (part, inner)
        assert min(waste["fonts"]) >= 13 * waste["scale"], waste["fonts"]
        # the bars' texts: inside the graph, none over another, 13 px at 1080 (scaled)
        texts = waste["bar_text"]
        assert texts and min(t["h"] for t in texts) >= 13 * waste["scale"], texts
        assert [(a["text"], b["text"]) for i, a in enumerate(texts) for b in texts[i + 1:]
                if _overlap(_ink(a), _ink(b))] == []
        marks = self.js(MAP_BOXES, WallIds.MAP, "无数据")
        labels = marks["labels"]
        assert len(labels) == 15 and [(a["text"], b["text"]) for i, a in enumerate(labels)
                                      for b in labels[i + 1:] if _overlap(a, b)] == []
        over = labels + marks["badges"]
        assert [(o["text"], n["text"]) for n in marks["notes"] for o in over
                if _overlap(n, o)] == []
        assert [(o["text"], b) for b in marks["boxes"] for o in over if _overlap(b, o)] == []
        title, legend, key = marks["boxes"]
        assert not _overlap(legend, key) and not _overlap(title, legend)


@pytest.fixture
def wall(sqlite_services):
    """A command-hall screen signed in by its kiosk link."""
    app = create_app(services=sqlite_services)
    with live_server(app.server) as server, chrome() as driver:
        browser_sign_in(driver, server.url, sqlite_services, "wall")
        yield WasteWall(server.url, driver, sqlite_services)


def test_wall201_accuracy_by_village_on_the_map_and_in_ranked_bars_updates_live(wall):
    now = datetime.now(UTC)
    today = local_day(now, wall.services.settings.timezone)
    wall.ingest_waste(registry([*PLAN, NO_DATA]) + disposals(now, PLAN))
    wall.open("/")
    wall.assert_shows_the_stored_accuracy(today)
    assert wall.bars()[NO_DATA] == "无数据"
    summary = wall.text(WasteIds.SUMMARY)
    assert "街道分类准确率 · 近7日" in summary and "目标 95%" in summary and "未达标" in summary
    assert wall.driver.find_elements("css selector", ".ww-summary .vol-sim") == []  # real
    assert wall.text(WasteIds.KEY_NOTE) == ""
    # the choropleth: every village filled, below the traces; 无数据 over the one without
    shown = wall.wait(lambda d: (m := wall.js(MAP, WallIds.MAP, "无数据"))["below"] == 15 and m)
    assert set(shown["fills"]) == set(NAMES) and shown["notes"] == 1
    assert shown["fills"][CODE_OF[NO_DATA]].startswith("rgba(127, 156, 192")
    key = wall.driver.find_element("css selector", ".waste-key").text
    assert "分类准确率（近7日）" in key and "95%" in key and "无数据" in key
    assert "村社边界为示意" in wall.text(WallIds.MAP)  # the schematic caption stays
    wall.js("window.sameDocument = true")
    # a new batch of disposals: the open page follows, without a reload
    before = wall.bars()["新街社区"]
    wall.ingest_waste(disposals(datetime.now(UTC), {"新街社区": (40, 0), NO_DATA: (19, 1)},
                                tag="b"))
    wall.wait(lambda d: wall.bars()["新街社区"] != before)
    wall.assert_shows_the_stored_accuracy(today)
    assert wall.bars()[NO_DATA] == "95.0% · 20"
    wall.wait(lambda d: wall.js(MAP, WallIds.MAP, "无数据")["notes"] == 0)
    assert wall.js("return window.sameDocument") is True
    wall.assert_no_scrollbar()
    wall.assert_panels_fit()
    save_screenshot(wall.driver, "wall_waste_live.png")
    wall.assert_no_console_errors()


def test_wall202_simulated_waste_on_a_busy_wall_fits_in_both_languages(wall):
    now = datetime.now(UTC)
    today = local_day(now, wall.services.settings.timezone)
    wall.apply(*busy_hour(now))
    entries = demo_events(now, source="sim:feed")
    people, duty = everywhere(now)
    wall.ingest([e for e in entries if e["type"] == "volunteer.registered"] + people)
    wall.ingest([e for e in entries if e["type"] != "volunteer.registered"] + duty)
    wall.ingest_waste(registry([*PLAN, NO_DATA], source="sim:waste")
                      + disposals(now, PLAN, source="sim:waste"))
    wall.open("/")
    wall.wait(lambda d: wall.text(WasteIds.KEY_NOTE) == "模拟数据")
    assert "投放 327 次\n模拟数据" in wall.text(WasteIds.SUMMARY)
    wall.wait(lambda d: (wall.traces() or {}).get("volunteers") == 15)
    wall.assert_shows_the_stored_accuracy(today)
    # the incidents, their counts and the badges are drawn over the fills
    order = wall.js("""
        const gd = document.querySelector(`#${arguments[0]} .js-plotly-plot`);
        return gd.data.map(t => t.uid);""", WallIds.MAP)
    assert order[:4] == ["outline", "boundary-glow", "boundary", "labels"]
    assert order[-1] == "volunteers"
    wall.assert_no_scrollbar()
    wall.assert_panels_fit()
    wall.assert_badges_apart()
    wall.assert_volunteers_fit()
    save_screenshot(wall.driver, "wall_waste.png")
    wall.open("/wall?lang=en")
    wall.wait(lambda d: wall.text(WasteIds.KEY_NOTE) == "Simulated")
    assert "327 disposals\nSimulated" in wall.text(WasteIds.SUMMARY)
    wall.wait(lambda d: wall.bars().get("Liangshu") == "No data")
    assert "Waste sorting" in wall.driver.find_element("css selector", ".panel-waste").text
    assert "Target 95%" in wall.text(WasteIds.SUMMARY)
    wall.assert_no_scrollbar()
    wall.assert_panels_fit()
    wall.assert_badges_apart()
    save_screenshot(wall.driver, "wall_waste_en.png")
    wall.assert_no_console_errors()


def test_wall203_waste_at_4k(sqlite_services):
    now = datetime.now(UTC)
    today = local_day(now, sqlite_services.settings.timezone)
    app = create_app(services=sqlite_services)
    with live_server(app.server) as server, chrome(3840, 2160) as driver:
        browser_sign_in(driver, server.url, sqlite_services, "wall")
        wall = WasteWall(server.url, driver, sqlite_services)
        wall.apply(*busy_hour(now))
        wall.ingest_waste(registry([*PLAN, NO_DATA]) + disposals(now, PLAN))
        wall.open("/")
        wall.assert_shows_the_stored_accuracy(today)
        page = wall.js("const e = document.documentElement; return [e.scrollHeight,"
                       " innerHeight, e.scrollWidth, innerWidth]")
        assert page == [2160, 2160, 3840, 3840]
        graph = wall.js("return document.getElementById(arguments[0])"
                        ".querySelector('.main-svg').getBoundingClientRect().width",
                        WasteIds.BARS)
        assert graph > 1200  # twice its ~620 px at 1920×1080
        wall.assert_panels_fit()
        save_screenshot(driver, "wall_waste_4k.png")
        wall.assert_no_console_errors()
