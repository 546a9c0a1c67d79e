"""Browser tests of the incidents pages: headless Chromium against the real app, Redis and
SQLite, signed in as a leader. Events reach the store through the stream and the ingest worker,
the pages pick them up by themselves. Every test ends with no SEVERE console error."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from app import create_app
from layouts.incident_detail import DetailIds
from layouts.incidents import IncidentsIds
from tests.access_support import browser_sign_in
from tests.browser_support import PageBrowser, chrome, live_server, save_screenshot
from tests.clock_support import clear_of_midnight, on_today
from tests.factories import incident_fields
from tests.store_support import ingest

pytestmark = pytest.mark.browser

#: JavaScript: the number of traces plotly drew in the timeline graph (None until drawn).
TIMELINE_TRACES = """
const gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');
return gd && gd.data ? gd.data.length : null;
"""
#: JavaScript: the incident ids of the table's rows, in order (one call: rows are re-rendered).
#: JavaScript: the words of the element at a CSS selector and its class (one call).
CARD = """
const el = document.querySelector(arguments[0]);
return el ? [el.innerText.split(/\\s+/).filter(Boolean), el.className] : null;
"""
ROW_IDS = """
return Array.from(document.querySelectorAll('#' + arguments[0] + ' tr[data-incident]'))
    .map(r => r.dataset.incident);
"""


@dataclass
class Browser(PageBrowser):
    """A running app, a browser on it and the services behind it."""

    def ingest(self, *entries: dict[str, str]) -> None:
        """XADD the events and drain an ingest worker (it commits and signals the change)."""
        ingest(self.services, entries, consumer=f"c-{uuid.uuid4().hex[:6]}")


@pytest.fixture
def browser(sqlite_services) -> Iterator[Browser]:
    app = create_app(services=sqlite_services)
    with live_server(app.server) as server, chrome() as driver:
        browser_sign_in(driver, server.url, sqlite_services, "leader", then="/incidents")
        yield Browser(server.url, driver, sqlite_services)


def _story(now: datetime) -> list[dict[str, str]]:
    m = lambda n: now - timedelta(minutes=n)  # noqa: E731
    return [
        # fire: 1 min reported, 9 min assessed (limit 3), dispatched 20 min ago (limit 10)
        incident_fields("bt-fire", "reported", m(30), title="电动车充电起火"),
        incident_fields("bt-fire", "assessed", m(29)),
        incident_fields("bt-fire", "dispatched", m(20), team="乔司专职消防队"),
        incident_fields("bt-police", "reported", m(1), category="police", title="可疑人员"),
        *[incident_fields("bt-done", stage, m(50 - k)) for k, stage in enumerate(
            ("reported", "assessed", "dispatched", "arrived", "resolved", "closed"))],
    ]


def test_incidents001_filter_then_row_to_detail_and_back(browser):
    now = clear_of_midnight().replace(microsecond=0)
    browser.ingest(*_story(now))
    browser.open("/incidents")
    browser.wait(lambda: browser.text(IncidentsIds.TOTAL) == "共 3 起")
    assert "电动车充电起火" in browser.text(IncidentsIds.ROWS)

    # the team strip: the fire brigade has bt-fire open (and overdue) and two reported today
    # (bt-done is closed; in the first hour of a local day one or both were reported
    # yesterday); a click shows its incidents, a second click every team again
    card = f"#{IncidentsIds.TEAMS} [data-team=fire-station]"
    fire = browser.driver.execute_script(CARD, card)
    today = sum(on_today(now - timedelta(minutes=n), now=now) for n in (30, 50))
    assert fire == [["乔司专职消防队", "在办1", "超时1", f"今日{today}"], "inc-team has-overdue"]
    assert browser.driver.execute_script(CARD, f"{card} .inc-team-overdue")[1].endswith(" late")
    browser.click(f"{card} a")
    browser.wait(lambda: browser.location() == "/incidents?team=fire-station")
    browser.wait(lambda: browser.text(IncidentsIds.TOTAL) == "共 2 起")
    ids = lambda: browser.driver.execute_script(ROW_IDS, IncidentsIds.ROWS)  # noqa: E731
    assert sorted(ids()) == ["bt-done", "bt-fire"]
    assert browser.driver.execute_script(CARD, card)[1] == "inc-team active has-overdue"
    assert browser.text(IncidentsIds.TEAM).strip() == "乔司专职消防队"  # the dropdown agrees
    browser.click(f"{card} a")
    browser.wait(lambda: browser.location() == "/incidents")
    browser.wait(lambda: browser.text(IncidentsIds.TOTAL) == "共 3 起")

    browser.choose(IncidentsIds.STAGE, "超时未结")
    browser.wait(lambda: browser.location() == "/incidents?stage=overdue")
    browser.wait(lambda: browser.text(IncidentsIds.TOTAL) == "共 1 起")
    rows = browser.driver.find_elements(By.CSS_SELECTOR, f"#{IncidentsIds.ROWS} tr")
    assert [r.get_attribute("data-incident") for r in rows] == ["bt-fire"]
    assert "超时 10分" in rows[0].text
    save_screenshot(browser.driver, "incidents.png")

    rows[0].find_element(By.CSS_SELECTOR, "td.inc-col-village a").click()
    browser.wait(lambda: browser.location() == "/incidents/bt-fire?stage=overdue")
    browser.wait(lambda: "bt-fire" in browser.text(DetailIds.BODY))
    body = browser.text(DetailIds.BODY)
    assert "乔司专职消防队" in body and "电动车充电起火" in body
    assert "9分00秒" in body and "6分00秒" in body  # 9 min assessed, 6 min over the 3
    browser.wait(lambda: (browser.driver.execute_script(TIMELINE_TRACES, DetailIds.TIMELINE)
                          or 0) >= 3)
    save_screenshot(browser.driver, "incident_detail.png")

    browser.driver.find_element(By.CSS_SELECTOR, ".inc-main > a.incd-back").click()
    browser.wait(lambda: browser.location() == "/incidents?stage=overdue")
    browser.wait(lambda: browser.text(IncidentsIds.TOTAL) == "共 1 起")
    browser.assert_no_console_errors()


def test_incidents002_bad_query_sort_search_and_live_refresh(browser):
    now = clear_of_midnight().replace(microsecond=0)  # bt-police, 1 min ago, is today's
    browser.open("/incidents?lang=en&stage=teleported")
    browser.wait(lambda: browser.text(IncidentsIds.TOTAL) == "Total 0")
    assert browser.text(IncidentsIds.NOTICE) == "Invalid filter ignored: stage=teleported"
    assert browser.text(IncidentsIds.ROWS) == "No incidents match"

    police = f"#{IncidentsIds.TEAMS} [data-team=police-station]"
    assert browser.driver.execute_script(CARD, police)[0] == [
        "Qiaosi", "police", "station", "Open0", "Overdue0", "Today0"]
    browser.ingest(*_story(now))  # the page refreshes by itself, the team strip with it
    browser.wait(lambda: browser.text(IncidentsIds.TOTAL) == "Total 3")
    browser.wait(lambda: browser.driver.execute_script(CARD, police)[0][3:] == [
        "Open1", "Overdue0", "Today1"])
    ids = lambda: browser.driver.execute_script(ROW_IDS, IncidentsIds.ROWS)  # noqa: E731
    assert ids() == ["bt-police", "bt-fire", "bt-done"]

    browser.driver.find_element(By.CSS_SELECTOR, "th[data-sort=reported_at] a").click()
    browser.wait(lambda: browser.location() == "/incidents?sort=reported_at&dir=asc&lang=en")
    browser.wait(lambda: ids() == ["bt-done", "bt-fire", "bt-police"])

    box = browser.driver.find_element(By.ID, IncidentsIds.TEXT)
    box.send_keys("可疑", Keys.ENTER)
    browser.wait(lambda: "q=%E5%8F%AF%E7%96%91" in browser.location())
    browser.wait(lambda: ids() == ["bt-police"])
    assert "sort=reported_at&dir=asc" in browser.location()  # the sort is kept

    browser.open("/incidents/bt-late?lang=en")
    browser.wait(lambda: "No incident bt-late" in browser.text(DetailIds.BODY))
    browser.ingest(incident_fields("bt-late", "reported", now, category="medical",
                                   title="<img src=x onerror=alert(1)>"))
    browser.wait(lambda: "<img src=x onerror=alert(1)>" in browser.text(DetailIds.BODY))
    assert browser.driver.find_elements(By.CSS_SELECTOR, f"#{DetailIds.BODY} img") == []
    assert "Medical" in browser.text(DetailIds.BODY)
    browser.assert_no_console_errors()
