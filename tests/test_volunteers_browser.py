"""Browser tests of the volunteers pages: headless Chromium against the real app, Redis and
SQLite, signed in as staff of 胜稼村. Filter the registry, open a record and reveal it (audited),
merge a pair from the queue and undo it; every section fits the screen without sideways
scrolling. Every test ends with no SEVERE console error."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from app import create_app
from cockpit import audit
from cockpit.store.volunteer_models import Volunteer
from layouts.volunteer_detail import VolunteerDetailIds
from layouts.volunteers import VolunteersIds
from layouts.volunteers_query import SECTIONS
from tests.access_support import browser_sign_in
from tests.browser_support import (
    TIMEOUT_S,
    PageBrowser,
    chrome,
    live_server,
    save_screenshot,
    severe_errors,
)
from tests.store_support import drain
from tests.test_volunteers_page import IN_SCOPE, LI, ZHOU, ZHOU_ZY, plant

pytestmark = pytest.mark.browser

#: JavaScript: how far the page (and its scrolling container) is wider than the window.
OVERFLOW = """
const page = document.querySelector('.inc-page');
const root = document.documentElement;
return [root.scrollWidth - root.clientWidth,
        page ? page.scrollWidth - page.clientWidth : null];
"""
#: JavaScript: the page is rendered and each of its figures drawn.
DRAWN = """
return !!document.querySelector('.vp-page .inc-main')
    && Array.from(document.querySelectorAll('.vp-graph')).every(g => g.querySelector('.main-svg'));
"""
ROW_IDS = """
return Array.from(document.querySelectorAll('#' + arguments[0] + ' tr[data-volunteer]'))
    .map(r => r.dataset.volunteer);
"""


@dataclass
class Browser(PageBrowser):
    """A running app, a browser signed in as staff on it and the services behind it."""

    account: str

    def rows(self) -> list[str]:
        return self.driver.execute_script(ROW_IDS, VolunteersIds.ROWS)


@pytest.fixture
def browser(sqlite_services) -> Iterator[Browser]:
    plant(sqlite_services)
    app = create_app(services=sqlite_services)
    with live_server(app.server) as server, chrome() as driver:
        name = browser_sign_in(driver, server.url, sqlite_services, "staff", villages=IN_SCOPE,
                               then="/volunteers")
        yield Browser(server.url, driver, sqlite_services, name)


def test_volunteers001_filter_open_a_record_and_reveal_it(browser):
    browser.open("/volunteers")
    browser.wait(lambda: browser.text(VolunteersIds.TOTAL) == "共 3 人")
    assert sorted(browser.rows()) == sorted([LI, ZHOU, ZHOU_ZY])  # their village only
    assert "周**" in browser.text(VolunteersIds.ROWS)

    browser.choose(VolunteersIds.KIND, "网格队")
    browser.wait(lambda: browser.location() == "/volunteers?kind=grid")
    browser.wait(lambda: browser.text(VolunteersIds.TOTAL) == "共 2 人")
    assert sorted(browser.rows()) == sorted([LI, ZHOU])
    box = browser.driver.find_element(By.ID, VolunteersIds.TEXT)
    box.send_keys("13812341234", Keys.ENTER)  # staff may search by phone
    browser.wait(lambda: "q=13812341234" in browser.location())
    browser.wait(lambda: browser.rows() == [ZHOU])
    assert "kind=grid" in browser.location()
    save_screenshot(browser.driver, "volunteers.png")

    browser.click(f"#{VolunteersIds.ROWS} tr[data-volunteer='{ZHOU}'] td.vp-col-village a")
    browser.wait(lambda: browser.location() == f"/volunteers/{ZHOU}")
    browser.wait(lambda: "垃圾分类桶边督导" in browser.text(VolunteerDetailIds.BODY))
    body = browser.text(VolunteerDetailIds.BODY)
    assert "已核验" in body and "核验服务时长" in body and "HQ-1" in body
    assert "周杰伦" not in browser.driver.page_source

    browser.click(f"#{VolunteerDetailIds.REVEAL}")
    browser.wait(lambda: "周杰伦" in browser.text(VolunteerDetailIds.REVEALED))
    assert "13812341234" in browser.text(VolunteerDetailIds.REVEALED)
    assert browser.text(VolunteerDetailIds.NOTE) == "已显示完整信息，本次查看已记录"
    with browser.services.read() as db:
        rows = audit.read(db, action="view_unmasked").rows
        assert [(r.actor, r.target) for r in rows] == [(browser.account, ZHOU)]
    save_screenshot(browser.driver, "volunteer_record.png")
    browser.assert_no_console_errors()


def test_volunteers002_merge_from_the_queue_then_undo_it(browser):
    browser.open("/volunteers?tab=merges")
    browser.wait(lambda: browser.text(VolunteersIds.QUEUE_COUNT) == "待审核 1 对")
    card = browser.driver.find_element(By.CSS_SELECTOR, ".vp-candidate")
    assert "同一手机号且姓名相同" in card.text
    browser.click(".vp-candidate .vp-btn-merge_into_a")
    browser.wait(lambda: browser.text(VolunteersIds.MESSAGE).startswith("已合并："))
    browser.wait(lambda: browser.text(VolunteersIds.QUEUE_COUNT) == "待审核 0 对")
    assert "暂无待审核" in browser.text(VolunteersIds.BODY)
    with browser.services.read() as db:
        # reviewed merges only: an automatic ID-number join leaves a pointer of its own
        merged = {v.volunteer_id for v in db.query(Volunteer).filter_by(status="merged")
                  if v.volunteer_id in (ZHOU, ZHOU_ZY)}
    assert merged in ({ZHOU}, {ZHOU_ZY})
    save_screenshot(browser.driver, "volunteers_merged.png")

    # the merge is listed under 最近合并 with its undo; undoing puts the pair back in the queue
    browser.click(".vp-recent .vp-merge-live .vp-btn-undo")
    browser.wait(lambda: browser.text(VolunteersIds.MESSAGE).startswith("已撤销合并"))
    browser.wait(lambda: browser.text(VolunteersIds.QUEUE_COUNT) == "待审核 1 对")
    with browser.services.read() as db:
        assert {v.volunteer_id for v in db.query(Volunteer).filter_by(status="merged")
                if v.volunteer_id in (ZHOU, ZHOU_ZY)} == set()
        assert audit.read(db, action="volunteer_merged").total == 1
        assert audit.read(db, action="volunteer_merge_undone").total == 1
    browser.assert_no_console_errors()


@pytest.mark.parametrize("size", [(1920, 1080), (1366, 768)])
def test_volunteers003_every_section_fits_without_sideways_scroll(sqlite_services, size):
    plant(sqlite_services)
    app = create_app(services=sqlite_services)
    with live_server(app.server) as server, chrome(*size) as driver:
        browser_sign_in(driver, server.url, sqlite_services, "staff", villages=IN_SCOPE,
                        then="/volunteers")
        for path in [*(f"/volunteers?tab={tab}" for tab in SECTIONS),
                     "/volunteers?tab=mobilization&mob=M-1", f"/volunteers/{LI}?lang=en"]:
            driver.get(server.url + path)
            WebDriverWait(driver, TIMEOUT_S, poll_frequency=0.1).until(
                lambda d: d.execute_script(DRAWN))
            assert driver.execute_script(OVERFLOW) == [0, 0], (size, path)
        assert severe_errors(driver) == []


def test_volunteers004_request_and_recall(browser):
    """Staff ask for 5 volunteers of their village from the page; once ingest has stored the
    request its funnel card appears, and 再次动员 on it sends the re-call (both audited)."""
    import re

    from layouts.volunteers_mobilize import MobilizeIds

    browser.open("/volunteers?tab=mobilization")
    browser.wait(lambda: browser.driver.find_elements(By.ID, MobilizeIds.SUBMIT))
    assert "胜稼村" in browser.text(MobilizeIds.SECTION)  # their only village, chosen already
    browser.driver.find_element(By.ID, MobilizeIds.COUNT).send_keys("5")
    browser.driver.find_element(By.ID, MobilizeIds.WHAT).send_keys("防汛值守")
    browser.click(f"#{MobilizeIds.SUBMIT}")
    browser.wait(lambda: browser.text(MobilizeIds.SENT).startswith("已发出动员"))
    mobilization_id = re.search(r"MOB-\d{8}-[0-9a-f]{8}", browser.text(MobilizeIds.SENT))[0]
    assert "胜稼村 需要 5 人" in browser.text(MobilizeIds.SENT)

    drain(browser.services)
    card = f".vp-mob-card[data-mob='{mobilization_id}']"
    browser.wait(lambda: browser.driver.find_elements(By.CSS_SELECTOR, card))
    assert "防汛值守" in browser.driver.find_element(By.CSS_SELECTOR, card).text
    save_screenshot(browser.driver, "volunteers_mobilize.png")

    browser.click(f"{card} .vp-btn-recall")
    browser.wait(lambda: browser.text(MobilizeIds.RECALLED) == "已向 3 人再次发出动员通知")
    browser.wait(lambda: "已再动员 1 次" in browser.driver.find_element(By.CSS_SELECTOR,
                                                                       card).text)
    with browser.services.read() as db:
        done = {(r.action, r.target) for r in audit.read(db).rows if r.actor == browser.account}
    assert {("mobilization_requested", mobilization_id),
            ("mobilization_recalled", mobilization_id)} <= done
    browser.assert_no_console_errors()
