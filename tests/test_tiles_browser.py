"""The must-hold of issue 10's scenario tiles, in headless Chromium on the running app.

"A new tile added to the config file appears on the wall after a reload, fed by its events":
the web app and the ingest run over the real Redis and SQLite; a new scenario and tile are
appended to the tiles file the app was started with; its ``metric.observed`` events are
XADDed to the real stream and ingested; a reload of the wall shows the tile in the rotation
(its panel and dot), with the value, the change and the threshold state computed from them.
A broken edit afterwards keeps the last good file.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from app import create_app
from cockpit.ingest import Ingestor
from cockpit.services import Services
from cockpit.store.models import MetricObservation
from cockpit.tiles import DEFAULT_FILE
from layouts.wall import WallIds
from tests.access_support import browser_sign_in
from tests.browser_support import chrome, live_server, save_screenshot, severe_errors
from tests.conftest import _services
from tests.store_support import count_rows

pytestmark = pytest.mark.browser

NEW_ENTRY = """
  - id: tourism
    title: {zh: 数字+文旅, en: Digital tourism}
""", """
  - id: tourism_visitors
    title: {zh: 景区客流, en: Visitors}
    scenario: tourism
    module: tourism
    key: visitors
    unit: 人次
    decimals: 0
    window: 24h
    thresholds: {direction: higher_is_better, warn: 500, critical: 200}
"""
PANEL = '.focus-panel[data-focus="scn-tourism-1"]'
DOT = '.focus-dot[data-focus="scn-tourism-1"]'


@pytest.fixture
def running(tmp_path, redis_server_url, sqlite_url) -> Iterator[tuple[Services, str, Path]]:
    """A copy of the shipped tiles file, the ingest in a thread, the web app on a free port."""
    tiles = tmp_path / "tiles.yaml"
    shutil.copyfile(DEFAULT_FILE, tiles)
    for services in _services(tmp_path, redis_server_url, sqlite_url, tiles_file=tiles,
                              wall_rotate_s=2):
        stop = threading.Event()
        worker = Ingestor(services.settings, services.redis, services.sessions,
                          consumer="tiles", block_ms=200)
        thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
        thread.start()
        try:
            with live_server(create_app(services.settings, services=services).server) as server:
                yield services, server.url, tiles
        finally:
            stop.set()
            thread.join(timeout=10)


def add_entry(path: Path) -> None:
    """Append a scenario and its tile to the file, as someone editing it would."""
    scenario, tile = NEW_ENTRY
    text = path.read_text(encoding="utf-8")
    head, tiles = text.split("\ntiles:\n", 1)
    path.write_text(head.rstrip("\n") + scenario + "\ntiles:\n" + tiles.rstrip("\n") + tile,
                    encoding="utf-8")


def metric(event_id: str, value: float, at: datetime) -> dict[str, str]:
    return {"event_id": event_id, "type": "metric.observed", "occurred_at": at.isoformat(),
            "source": "tourism-platform", "module": "tourism", "key": "visitors",
            "value": str(value), "unit": "人次"}


#: What the new tile's panel, dot and tile show, read in one go (the server may replace them).
SNAPSHOT = """
const [panelCss, dotCss] = arguments;
const panel = document.querySelector(panelCss), dot = document.querySelector(dotCss);
const tile = panel && panel.querySelector('[data-tile="tourism_visitors"]');
const pick = (e, sel, attr) => {
    const x = e && e.querySelector(sel);
    return x ? x.getAttribute(attr) : '';
};
return {dot: dot ? dot.textContent : '', dot_shown: dot ? dot.getAttribute('data-shown') : '',
        panel_shown: panel ? panel.getAttribute('data-shown') : '',
        visible: panel ? getComputedStyle(panel).visibility : '',
        tile: tile ? tile.innerText : '', tile_class: tile ? tile.className : '',
        value_class: pick(tile, '.tile-value', 'class'),
        spark: pick(tile, 'img.tile-spark', 'src')};
"""


def snapshot(driver) -> dict[str, str]:
    return driver.execute_script(SNAPSHOT, PANEL, DOT)


def shown_panel(driver) -> str:
    return driver.execute_script("return document.documentElement.getAttribute('data-focus')")


def test_tiles001_a_new_tile_in_the_file_appears_after_a_reload_fed_by_its_events(running):
    services, url, tiles = running
    with chrome() as driver:
        browser_sign_in(driver, url, services, "wall")
        WebDriverWait(driver, 20).until(lambda d: d.find_element(By.ID, WallIds.MAP))
        # the shipped scenarios are in the rotation; the new one is not there yet
        WebDriverWait(driver, 10).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, '.focus-dot[data-focus="scn-economy-1"]'))
        assert not driver.find_elements(By.CSS_SELECTOR, PANEL)

        add_entry(tiles)
        now = datetime.now(UTC)
        stream = services.settings.stream("metrics")
        for fields in (metric("v-1", 900, now - timedelta(hours=25)),
                       metric("v-2", 350, now - timedelta(hours=2)),
                       metric("v-3", 420, now - timedelta(minutes=5))):
            services.redis.xadd(stream, fields)  # as any upstream producer: a flat field map
        deadline = time.monotonic() + 10
        while count_rows(services, MetricObservation) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert count_rows(services, MetricObservation) == 3

        driver.refresh()
        WebDriverWait(driver, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, PANEL))
        # its value arrives with the first update (the page itself is drawn before any read)
        WebDriverWait(driver, 10).until(lambda d: "420" in snapshot(d)["tile"])
        # the rotation reaches it (2 s per panel here), and then it is the one shown
        WebDriverWait(driver, 40, poll_frequency=0.1).until(
            lambda d: shown_panel(d) == "scn-tourism-1")
        seen = snapshot(driver)
        assert seen["dot"] == "数字+文旅" and seen["dot_shown"] == "now", seen
        assert seen["panel_shown"] == "now" and seen["visible"] == "visible", seen
        lines = seen["tile"].split("\n")
        assert lines[:4] == ["景区客流", "预警", "420", "人次"], lines
        assert lines[4] == "较24小时前 −480" and lines[5].startswith("更新于 "), lines
        assert "tile-is-warn" in seen["tile_class"].split(), seen
        assert seen["value_class"].split() == ["tile-value", "tile-warn"], seen
        assert seen["spark"].startswith("data:image/svg+xml"), seen
        save_screenshot(driver, "wall-scenario-tile.png")

        # a broken edit: refused, logged, and the last good file stays in use
        tiles.write_text(tiles.read_text(encoding="utf-8") + "  - {id: tourism_visitors}\n",
                         encoding="utf-8")
        driver.refresh()
        WebDriverWait(driver, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, PANEL))
        # the file is looked at no more than once a second: the page's next update reads it
        WebDriverWait(driver, 10, poll_frequency=0.1).until(
            lambda d: services.tiles.error is not None)
        assert "tiles[8] (id tourism_visitors): title: required field is missing" \
            in services.tiles.error
        assert severe_errors(driver) == []


#: Looks for a moment when no focus panel is marked shown (a blink of the region): after each
#: change of the region's elements (before the browser paints it) and every 5 ms.
BLINK_WATCH = """
window.__looks = 0; window.__blinks = 0;
function look() {
    window.__looks += 1;
    if (!document.querySelector('.wall .focus-panel[data-shown="now"]')) { window.__blinks += 1; }
}
new MutationObserver(look).observe(document.querySelector('.wall .wall-grid'),
                                   {childList: true, subtree: true, attributes: true});
window.setInterval(look, 5);
"""


def test_tiles002_no_observation_says_so_and_a_new_value_arrives_without_a_blink(running):
    services, url, _ = running
    tile_css = ('.focus-panel[data-focus="scn-economy-1"][data-shown="now"] '
                '[data-tile="economy_enterprises_served"]')

    def tile_text(driver) -> str:  # read in one go: the element may be replaced any time
        return driver.execute_script(
            "const e = document.querySelector(arguments[0]); return e ? e.innerText : ''",
            tile_css)

    with chrome() as driver:
        browser_sign_in(driver, url, services, "wall")
        driver.get(url + "/?focus=scn-economy-1")
        WebDriverWait(driver, 20).until(lambda d: "尚无数据" in tile_text(d))
        assert tile_text(driver).split("\n") == ["服务企业", "—", "家", "尚无数据"]
        # its first value: sent as the panel's new children while the panel is shown
        driver.execute_script(BLINK_WATCH)
        services.redis.xadd(services.settings.stream("metrics"), {
            "event_id": "e-1", "type": "metric.observed", "source": "economy-platform",
            "occurred_at": datetime.now(UTC).isoformat(), "module": "economy",
            "key": "enterprises_served", "value": "12", "unit": "家"})
        WebDriverWait(driver, 20).until(lambda d: "12" in tile_text(d))
        lines = tile_text(driver).split("\n")
        assert lines[:4] == ["服务企业", "告警", "12", "家"], lines  # at or below 15: critical
        assert lines[4] == "24小时前无数据", lines
        looks, blinks = driver.execute_script("return [window.__looks, window.__blinks]")
        assert looks > 10 and blinks == 0, (looks, blinks)
        assert severe_errors(driver) == []
