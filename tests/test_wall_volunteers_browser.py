"""Browser tests of the wall's volunteer panels: headless Chromium against the real app.

Volunteer events reach the store the way production ones do: XADDed to the volunteers stream
and applied by the ingest, which signals the change; the open page must pick it up by itself.
The browser signs in as a command-hall screen does, by a kiosk link (``wall``). Every test ends
with no SEVERE console error.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from selenium.webdriver.common.by import By

from app import create_app
from cockpit import geo
from layouts.wall import WallIds
from layouts.wall_volunteers import VolIds
from tests import volunteer_factories as vf
from tests.access_support import browser_sign_in
from tests.browser_support import chrome, live_server, save_screenshot
from tests.test_wall_browser import Wall, busy_hour
from tests.test_wall_volunteers import answers, demo_events, ingest, person, registrations

pytestmark = pytest.mark.browser

#: JavaScript: one mobilisation card's numbers, ``{asked, accepted, arrived}``, or null.
FUNNEL = """
const card = document.querySelector(`#${arguments[0]} [data-mobilization="${arguments[1]}"]`);
if (!card) { return null; }
const out = {};
for (const row of card.querySelectorAll('.vm-row')) {
    out[row.dataset.kind] = row.querySelector('.vm-count').textContent; }
return out;
"""
#: JavaScript: the map's village labels and volunteer badges (their SVG text), boxes in px.
MAP_TEXTS = """
const box = (e) => { const r = e.getBoundingClientRect();
                     return {text: e.textContent, x: r.left, y: r.top, w: r.width, h: r.height}; };
const map = document.getElementById(arguments[0]);
return {labels: Array.from(map.querySelectorAll('.tracelabels .textpoint text')).map(box),
        badges: Array.from(map.querySelectorAll('.tracevolunteers .textpoint text')).map(box),
        marks: Array.from(map.querySelectorAll('.tracevolunteers .points path')).map(box)};
"""
#: JavaScript: the volunteer panel's box, its content's bottom and its rows' font sizes, px.
PANEL = """
const panel = document.querySelector('.panel-vol'), r = panel.getBoundingClientRect();
const parts = Array.from(panel.querySelectorAll('.vol-totals, .vol-rows, .vm-cards'));
return {top: r.top, bottom: r.bottom, inner: r.top + panel.clientTop + panel.clientHeight,
        content: Math.max(...parts.map(p => p.getBoundingClientRect().bottom)),
        clipped: panel.scrollHeight > panel.clientHeight + 1,
        fonts: Array.from(panel.querySelectorAll('.vol-num, .vm-count, .vm-label, .vm-left'))
            .map(e => parseFloat(getComputedStyle(e).fontSize))};
"""


def everywhere(now: datetime) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Two volunteers of each village and one on duty there: a badge on every village.

    Returns the registrations, then the activities and check-ins (applied after them).
    """
    people, duty = [], []
    for n, (code, info) in enumerate(sorted(geo.village_names().items())):
        people += registrations(f"EV{n}", info["name"], 2, start=400 + 2 * n)
        duty += [vf.activity(f"ev-{code}", now - timedelta(hours=1), hours=3,
                             village=info["name"], title="平安巡逻"),
                 vf.punch(f"ev-{code}", f"EV{n}-{400 + 2 * n:03d}", now - timedelta(minutes=20))]
    return people, duty


def _apart(a: dict, b: dict) -> bool:
    return not (a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"]
                and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"])


class VolunteerWall(Wall):
    """The wall page with what these tests read of the volunteer panels."""

    def ingest(self, entries: Sequence[dict[str, str]]) -> None:
        ingest(self.services, entries)

    def funnel(self, mobilization_id: str) -> dict[str, str] | None:
        return self.js(FUNNEL, VolIds.MOBS, mobilization_id)

    def assert_no_scrollbar(self) -> None:
        page = self.js("const e = document.documentElement; return [e.scrollHeight, innerHeight,"
                       " e.scrollWidth, innerWidth]")
        assert page[0] <= page[1] and page[2] <= page[3], page

    def assert_volunteers_fit(self) -> None:
        """The volunteer panel shows all its content (nothing clipped), legible from afar."""
        panel = self.js(PANEL)
        assert not panel["clipped"] and panel["content"] <= panel["inner"] + 0.5, panel
        scale = self.js("return innerHeight") / 1080
        assert min(panel["fonts"]) >= 13 * scale, panel

    def assert_badges_apart(self) -> None:
        """No volunteer badge lies over a village's label on the map."""
        texts = self.js(MAP_TEXTS, WallIds.MAP)
        assert texts["badges"], texts
        clashes = [(label["text"], badge["text"]) for label in texts["labels"]
                   for badge in texts["marks"] + texts["badges"] if not _apart(label, badge)]
        assert clashes == []


@pytest.fixture
def wall(sqlite_services):
    """A command-hall screen signed in by its kiosk link."""
    app = create_app(services=sqlite_services)
    with live_server(app.server) as server, chrome() as driver:
        browser_sign_in(driver, server.url, sqlite_services, "wall")
        yield VolunteerWall(server.url, driver, sqlite_services)


def test_wall101_a_mobilisation_of_140_in_chaoyang_updates_live(wall):
    now = datetime.now(UTC)
    wall.ingest(registrations("CY", "朝阳村", 200))
    wall.ingest([vf.requested("cy-140", "朝阳村", 140, now - timedelta(minutes=15),
                              now + timedelta(minutes=45), title="封控区值守"),
                 *answers("cy-140", "CY", "accepted", range(40), now)])
    wall.open("/?focus=volunteers")
    wall.wait(lambda d: wall.funnel("cy-140") == {"asked": "200", "accepted": "40",
                                                   "arrived": "0"})
    card = wall.driver.find_element(By.CSS_SELECTOR, "[data-mobilization=cy-140]")
    assert "封控区值守" in card.text and "朝阳村" in card.text and "需 140 人" in card.text
    assert "剩余 45分" in card.text or "剩余 44分" in card.text
    forces = wall.text(VolIds.FORCES)
    assert "已动员\n40" in forces and "可调用\n160" in forces and "注册\n200" in forces
    assert wall.text(VolIds.FORCES_NOTE) == ""  # real data: no 模拟数据
    wall.wait(lambda d: (wall.traces() or {}).get("volunteers") == 1)  # 朝阳村's badge
    wall.js("window.sameDocument = true")
    # more answers arrive through the stream: the open page follows, without a reload
    for accepted, arrived in ((90, 30), (140, 100)):
        wall.ingest([*answers("cy-140", "CY", "accepted", range(accepted), datetime.now(UTC)),
                     *answers("cy-140", "CY", "arrived", range(arrived), datetime.now(UTC))])
        wall.wait(lambda d, a=accepted, b=arrived: wall.funnel("cy-140") == {
            "asked": "200", "accepted": str(a), "arrived": str(b)})
        wall.wait(lambda d, a=accepted: f"已动员\n{a}" in wall.text(VolIds.FORCES))
    assert wall.js("return window.sameDocument") is True
    badge = wall.js("return document.querySelector('#wall-map .tracevolunteers text')"
                    ".textContent")
    assert badge == "140"
    wall.assert_no_scrollbar()
    wall.assert_panels_fit()
    wall.assert_volunteers_fit()
    wall.assert_badges_apart()
    # nothing personal on the page: no name or phone of the 200 registered
    body = wall.driver.find_element(By.TAG_NAME, "body").text
    assert not [n for n in range(200) if person(n)[0] in body or person(n)[1] in body]
    save_screenshot(wall.driver, "wall_volunteers_live.png")
    wall.assert_no_console_errors()


def test_wall102_simulated_volunteers_busy_wall_fits_and_flags_a_recall(wall):
    now = datetime.now(UTC)
    wall.apply(*busy_hour(now))
    entries = demo_events(now, source="sim:feed")
    people, duty = everywhere(now)
    wall.ingest([e for e in entries if e["type"] == "volunteer.registered"] + people)
    wall.ingest([e for e in entries if e["type"] != "volunteer.registered"] + duty)
    wall.open("/?focus=volunteers")
    wall.wait(lambda d: wall.text(VolIds.FORCES_NOTE) == "模拟数据")
    wall.wait(lambda d: (wall.traces() or {}).get("volunteers") == 15)  # a badge on each
    wall.wait(lambda d: "需再动员" in wall.text(VolIds.MOBS))
    lagging = wall.driver.find_element(By.CSS_SELECTOR, "[data-mobilization=wj-30]")
    assert "vm-lag" in lagging.get_attribute("class") and "防汛巡堤" in lagging.text
    # three funnels, open ones first; the fourth is counted
    shown = wall.js("return Array.from(document.querySelectorAll('.vm-card'))"
                    ".map(c => c.dataset.mobilization)")
    assert shown == ["wj-30", "cy-140", "wj-late"]
    assert wall.text(VolIds.MOBS_NOTE) == "另有 1 项"
    # 朝阳村's 200 and its two of everywhere() were asked
    assert wall.funnel("cy-140") == {"asked": "202", "accepted": "60", "arrived": "20"}
    forces = wall.text(VolIds.FORCES)
    assert "在岗\n27" in forces and "已动员\n73" in forces and "注册\n300" in forces
    wall.assert_no_scrollbar()
    wall.assert_panels_fit()
    wall.assert_volunteers_fit()
    wall.assert_badges_apart()
    save_screenshot(wall.driver, "wall_volunteers.png")
    wall.open("/wall?lang=en&focus=volunteers")
    wall.wait(lambda d: wall.text(VolIds.FORCES_NOTE) == "Simulated data")
    wall.wait(lambda d: "Re-call" in wall.text(VolIds.MOBS))
    assert "+1 more" == wall.text(VolIds.MOBS_NOTE)
    wall.assert_no_scrollbar()
    wall.assert_panels_fit()
    wall.assert_volunteers_fit()
    wall.assert_badges_apart()
    save_screenshot(wall.driver, "wall_volunteers_en.png")
    wall.assert_no_console_errors()


def test_wall103_volunteers_at_4k(sqlite_services):
    now = datetime.now(UTC)
    entries = demo_events(now, source="sim:feed")
    app = create_app(services=sqlite_services)
    with live_server(app.server) as server, chrome(3840, 2160) as driver:
        browser_sign_in(driver, server.url, sqlite_services, "wall")
        wall = VolunteerWall(server.url, driver, sqlite_services)
        wall.apply(*busy_hour(now))
        wall.ingest([e for e in entries if e["type"] == "volunteer.registered"])
        wall.ingest([e for e in entries if e["type"] != "volunteer.registered"])
        wall.open("/?focus=volunteers")
        wall.wait(lambda d: "需再动员" in wall.text(VolIds.MOBS))
        page = wall.js("const e = document.documentElement; return [e.scrollHeight,"
                       " innerHeight, e.scrollWidth, innerWidth]")
        assert page == [2160, 2160, 3840, 3840]
        wall.assert_panels_fit()
        wall.assert_volunteers_fit()
        wall.assert_badges_apart()
        save_screenshot(driver, "wall_volunteers_4k.png")
        wall.assert_no_console_errors()
