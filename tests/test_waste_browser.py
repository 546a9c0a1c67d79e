"""Browser tests of the waste pages: headless Chromium against the real app, Redis and SQLite,
signed in as staff of 胜稼村. The tabs switch, a household's record shows its disposals with
photo thumbnails that load from the photo route, a reveal is audited, and the landlord view
shows the tenant who moved out and the one who came next. Every test ends with no SEVERE
console error."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from app import create_app
from cockpit import audit
from layouts.waste import WasteIds
from layouts.waste_followups import FollowupIds
from layouts.waste_household import WasteHouseholdIds
from tests.access_support import browser_sign_in
from tests.browser_support import PageBrowser, chrome, live_server, save_screenshot
from tests.waste_page_support import IN_SCOPE, plant, write_photos

pytestmark = pytest.mark.browser

#: JavaScript: the page is rendered and each of its figures drawn.
DRAWN = """
return !!document.querySelector('.wp-page .inc-main')
    && Array.from(document.querySelectorAll('.wp-graph')).every(g => g.querySelector('.main-svg'));
"""
#: JavaScript: the photo thumbnails shown, each loaded (decoded with a width), as [shown, ok].
THUMBS = """
const thumbs = Array.from(document.querySelectorAll('img.wp-thumb'));
return [thumbs.length, thumbs.filter(i => i.complete && i.naturalWidth > 0).length];
"""
LINKS = """
return Array.from(document.querySelectorAll(arguments[0])).map(a => a.textContent);
"""


@dataclass
class Browser(PageBrowser):
    """A running app, a browser signed in as staff on it and the services behind it."""

    account: str

    def links(self, css: str) -> list[str]:
        return self.driver.execute_script(LINKS, css)

    def thumbs_loaded(self) -> bool:
        shown, ok = self.driver.execute_script(THUMBS)
        return shown > 0 and shown == ok


@pytest.fixture
def browser(sqlite_services) -> Iterator[Browser]:
    plant(sqlite_services)
    write_photos(sqlite_services)
    app = create_app(services=sqlite_services)
    with live_server(app.server) as server, chrome() as driver:
        name = browser_sign_in(driver, server.url, sqlite_services, "staff", villages=IN_SCOPE,
                               then="/waste")
        yield Browser(server.url, driver, sqlite_services, name)


def test_waste001_tabs_switch_and_a_record_shows_its_photos(browser):
    browser.open("/waste")
    browser.wait(lambda: browser.driver.execute_script(DRAWN)
                 and browser.driver.find_elements(By.CSS_SELECTOR, ".wp-kpi[data-kpi='30d']"))
    assert "胜稼村" in browser.text(WasteIds.BODY) and "新街社区" not in browser.text(
        WasteIds.BODY)
    save_screenshot(browser.driver, "waste_overview.png")

    browser.click("a.wp-tab-households")
    browser.wait(lambda: browser.location() == "/waste?tab=households")
    browser.wait(lambda: sorted(browser.links("#wst-rows .wp-household-link"))
                 == ["H-LOCAL", "TEN-A", "TEN-B"])
    browser.choose(WasteIds.KIND, "租户")
    browser.wait(lambda: browser.location() == "/waste?tab=households&kind=tenant")
    browser.wait(lambda: sorted(browser.links("#wst-rows .wp-household-link"))
                 == ["TEN-A", "TEN-B"])

    browser.click("#wst-rows a.wp-household-link[href='/waste/households/TEN-B']")
    browser.wait(lambda: browser.location() == "/waste/households/TEN-B")
    browser.wait(lambda: browser.thumbs_loaded())
    body = browser.text(WasteHouseholdIds.BODY)
    assert "赵**" in body and "LL-9" in body and "赵小红" not in browser.driver.page_source
    save_screenshot(browser.driver, "waste_household.png")

    browser.click(f"#{WasteHouseholdIds.REVEAL}")
    browser.wait(lambda: "赵小红" in browser.text(WasteHouseholdIds.REVEALED))
    assert "13700001111" in browser.text(WasteHouseholdIds.REVEALED)
    with browser.services.read() as db:
        rows = audit.read(db, action="view_unmasked").rows
        assert [(r.actor, r.target) for r in rows] == [(browser.account, "household:TEN-B")]
    browser.assert_no_console_errors()


def test_waste002_landlord_view_disposals_and_follow_ups(browser):
    browser.open("/waste?tab=landlords")
    browser.wait(lambda: browser.links(".wp-landlords .wp-landlord-link") == ["LL-9"])
    box = browser.driver.find_element(By.ID, WasteIds.LANDLORD)
    box.send_keys("LL-9", Keys.ENTER)
    browser.wait(lambda: browser.location() == "/waste?tab=landlords&landlord=LL-9")
    browser.wait(lambda: sorted(browser.links(".wp-tenants .wp-household-link"))
                 == ["TEN-A", "TEN-B"])
    tenants = browser.text(WasteIds.BODY)
    assert "已搬离" in tenants and "在住" in tenants and "沈**" in tenants
    save_screenshot(browser.driver, "waste_landlord.png")

    browser.click("a.wp-tab-disposals")
    browser.wait(lambda: browser.location() == "/waste?tab=disposals")
    browser.wait(lambda: browser.thumbs_loaded())
    body = browser.text(WasteIds.BODY)
    assert "模拟照片" in body and "oss://qiaosi-photos/2026/a.jpg" in body

    browser.click("a.wp-tab-followups")
    browser.wait(lambda: browser.location() == "/waste?tab=followups")
    browser.wait(lambda: browser.driver.find_elements(By.ID, FollowupIds.SECTION))
    browser.assert_no_console_errors()
