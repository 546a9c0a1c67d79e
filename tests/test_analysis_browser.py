"""Browser test of the analysis page (/analysis): headless Chromium against the real app, Redis
and SQLite. Incidents reach the store the production way (Redis stream → Ingestor); the page
must pick up a new one by itself, and a click on a heatmap cell drills to the incident list.
The browser signs in as a leader, who is sent back to /analysis.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from selenium.webdriver.common.actions.action_builder import ActionBuilder
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from app import create_app
from cockpit import geo
from layouts.analysis import AnalysisIds
from tests.access_support import browser_sign_in
from tests.browser_support import chrome, live_server, save_screenshot, severe_errors
from tests.test_analysis import code, reported, step, store

pytestmark = pytest.mark.browser

TIMEOUT_S = 15
#: JavaScript: the heatmap's trace (sum of z, village codes) once plotly has drawn it.
HEAT = """
const el = document.getElementById(arguments[0]);
const gd = el && el.querySelector('.js-plotly-plot');
if (!gd || !gd.data || !gd.data.length || !gd.data[0].z) { return null; }
const z = gd.data[0].z;
return {total: z.flat().reduce((a, b) => a + b, 0),
        villages: gd.data[0].customdata.map(r => r[0]),
        cells: el.querySelectorAll('.hm, image').length};
"""
#: JavaScript: viewport position of the heatmap cell (village code, hour).
CELL = """
const gd = document.getElementById(arguments[0]).querySelector('.js-plotly-plot');
const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
const row = gd.data[0].customdata.findIndex(r => r[0] === arguments[1]);
const box = gd.getBoundingClientRect();
return [box.left + xa._offset + xa.l2p(arguments[2]), box.top + ya._offset + ya.l2p(row)];
"""


def heatmap(driver, total: int) -> dict | None:
    """The drawn heatmap once its counts add up to ``total``, else None."""
    heat = driver.execute_script(HEAT, AnalysisIds.HEATMAP)
    return heat if heat and heat["total"] == total else None


def test_analysis001_heatmap_updates_and_drills(sqlite_services):
    now = datetime.now(UTC)
    events = []
    for n in range(8):  # village 0 gets the most, so it leads the hot villages
        start = now - timedelta(minutes=50 - 5 * n)
        events.append(reported(f"bt-{n}", ("fire", "police", "traffic")[n % 3], start,
                               village=(0, 0, 0, 1, 1, 2, 3, 4)[n]))
        events.append(step(f"bt-{n}", "dispatched", start + timedelta(seconds=90 + 30 * n)))
    store(sqlite_services, events)
    app = create_app(services=sqlite_services)
    with live_server(app.server) as server, chrome() as driver:
        wait = WebDriverWait(driver, TIMEOUT_S, poll_frequency=0.1)
        browser_sign_in(driver, server.url, sqlite_services, "leader", then="/analysis")
        heat = wait.until(lambda d: heatmap(d, 8))
        assert heat["villages"][:15] == sorted(geo.village_names()) and heat["cells"] >= 1
        name = geo.village_names()[code(0)]["name"]
        hot = driver.find_element(By.ID, AnalysisIds.HOT)
        wait.until(lambda d: hot.text.startswith(f"1\n{name}\n3"))
        assert "警情研判" in driver.find_element(By.ID, AnalysisIds.ROOT).text
        traces = ("return document.getElementById(arguments[0])"
                  ".querySelector('.js-plotly-plot').data.map(t => t.name)")
        assert driver.execute_script(traces, AnalysisIds.TREND_COUNTS) == ["火情", "警情",
                                                                           "交通事故"]
        assert driver.execute_script(traces, AnalysisIds.TREND_DISPATCH) == [
            "火情", "警情", "交通事故", "全部"]

        # a new incident shows up by itself (the data version moved)
        store(sqlite_services, [reported("bt-new", "medical", datetime.now(UTC), village=5)])
        wait.until(lambda d: heatmap(d, 9))
        save_screenshot(driver, "analysis.png")
        assert severe_errors(driver) == []

        # a click on a cell drills to that village's incidents of the period
        hour = now.astimezone(sqlite_services.settings.tz).hour
        x, y = driver.execute_script(CELL, AnalysisIds.HEATMAP, code(0), hour)
        action = ActionBuilder(driver)
        action.pointer_action.move_to_location(int(x), int(y))
        action.pointer_action.click()
        action.perform()
        wait.until(lambda d: d.current_url.endswith(
            f"/incidents?village={code(0)}&period=30d"))
        wait.until(lambda d: not d.find_elements(By.ID, AnalysisIds.ROOT))
        assert "页面不存在" not in driver.find_element(By.TAG_NAME, "body").text


#: JavaScript: the trend graphs' heights and whether the page can scroll to its last row.
LAYOUT = """
const h = id => document.getElementById(id).getBoundingClientRect().height;
const root = document.getElementById(arguments[0]);
return {trends: arguments[1].map(h), scroll: root.scrollHeight, view: root.clientHeight,
        rows: document.querySelectorAll('#' + arguments[2] + ' tbody tr').length};
"""


def test_analysis002_many_repeat_groups_leave_the_trends_whole(sqlite_services):
    now = datetime.now(UTC)
    events = []
    for n in range(40):  # 40 groups of two: same kind and place within minutes
        start = now - timedelta(hours=2 + n)
        category = ("fire", "police", "traffic", "medical")[n % 4]
        for k in range(2):
            events.append(reported(f"rg-{n}-{k}", category, start + timedelta(minutes=k),
                                   village=n % 15))
    store(sqlite_services, events)
    app = create_app(services=sqlite_services)
    trends = [AnalysisIds.TREND_COUNTS, AnalysisIds.TREND_DISPATCH, AnalysisIds.TREND_CLOSE]
    with live_server(app.server) as server, chrome() as driver:
        wait = WebDriverWait(driver, TIMEOUT_S, poll_frequency=0.1)
        browser_sign_in(driver, server.url, sqlite_services, "leader", then="/analysis")
        wait.until(lambda d: heatmap(d, 80))
        layout = wait.until(lambda d: (lambda r: r if r["rows"] >= 30 else None)(
            d.execute_script(LAYOUT, AnalysisIds.ROOT, trends, AnalysisIds.REPEATS)))
        assert min(layout["trends"]) > 150, layout  # the charts keep their height
        assert layout["scroll"] > layout["view"], layout  # the long table scrolls into view
        save_screenshot(driver, "analysis_many_repeats.png")
        assert severe_errors(driver) == []
