"""Browser test of the briefing download panel: a leader on /analysis picks a day, presses
日报 · Excel and gets the workbook of that day (headless Chromium, the real app, Redis, SQLite;
the day is a replayed one through the real ingest)."""

from __future__ import annotations

import io
import tempfile
import time
from pathlib import Path

import pytest
from openpyxl import load_workbook
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from app import create_app
from layouts.report_panel import ReportIds
from tests.access_support import browser_sign_in
from tests.browser_support import chrome, live_server, save_screenshot, severe_errors
from tests.report_support import store_day

pytestmark = pytest.mark.browser

TIMEOUT_S = 15
#: The download draws the figures in a second Chromium (kaleido): give it time.
DOWNLOAD_S = 90


def _downloaded(folder: Path, name: str) -> Path | None:
    path = folder / name
    return path if path.is_file() and path.stat().st_size else None


def test_reports001_a_leader_downloads_the_daily_workbook(sqlite_services):
    day = store_day(sqlite_services).isoformat()
    app = create_app(services=sqlite_services)
    folder = Path(tempfile.mkdtemp(prefix="cockpit-downloads-"))
    with live_server(app.server) as server, chrome(1280, 900) as driver:
        driver.execute_cdp_cmd("Browser.setDownloadBehavior",
                               {"behavior": "allow", "downloadPath": str(folder)})
        wait = WebDriverWait(driver, TIMEOUT_S, poll_frequency=0.1)
        browser_sign_in(driver, server.url, sqlite_services, "leader", then="/analysis")
        panel = wait.until(lambda d: d.find_element(By.ID, ReportIds.PANEL))
        assert "下载报告" in panel.text and "日报 · Excel" in panel.text
        field = driver.find_element(By.ID, ReportIds.DAY)
        field.send_keys(Keys.CONTROL, "a")
        field.send_keys(day)
        save_screenshot(driver, "reports-panel.png")
        driver.find_element(By.ID, "report-daily-xlsx").click()
        name = f"qiaosi-daily-{day}-zh.xlsx"
        deadline = time.monotonic() + DOWNLOAD_S
        while time.monotonic() < deadline and not _downloaded(folder, name):
            time.sleep(0.2)
        path = _downloaded(folder, name)
        assert path is not None, sorted(p.name for p in folder.iterdir())
        book = load_workbook(io.BytesIO(path.read_bytes()))
        assert book.sheetnames[0] == "关键指标" and len(book["图表"]._images) == 3
        assert driver.current_url.endswith("/analysis")  # the page stays
        assert severe_errors(driver) == []
