"""The staff map in headless Chromium: 50,000 incidents in the store, every layer of the layer
control toggled, a village clicked and drilled into; the view kept in the URL."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from app import create_app
from bench.incident_store import load
from cockpit import geo
from layouts.staff_map import MapIds
from layouts.staff_map_frame import LAYERS
from tests.access_support import browser_sign_in
from tests.browser_support import (
    ARTIFACTS,
    chrome,
    live_server,
    save_screenshot,
    screenshot_pixels,
    severe_errors,
    tofu_characters,
)
from tests.conftest import build_services, make_settings
from tests.test_wall_layer import QIAOSI, SQUARES, WUJIA, import_villages

pytestmark = pytest.mark.browser

INCIDENTS = 50_000


@pytest.fixture(scope="module")
def crowded(tmp_path_factory, redis_server_url):
    """A store of 50,000 incidents (SQLite), filled once for the module."""
    tmp = tmp_path_factory.mktemp("map")
    settings = make_settings(tmp, redis_server_url, f"sqlite:///{tmp / 'map.sqlite3'}")
    services = build_services(settings)
    load(services, INCIDENTS, 2_000)
    yield services
    services.close()


def _wait(driver, condition, timeout: float = 20):
    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda d: condition())


def _query(driver) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(driver.current_url).query).items()}


def _in_frame(driver):
    """Switch into the map's frame once the page (rendered by Dash's router) holds it."""
    driver.switch_to.default_content()
    frame = _wait(driver, lambda: driver.find_elements(By.ID, MapIds.FRAME))[0]
    driver.switch_to.frame(frame)


def _shown(driver) -> list[str]:
    return driver.execute_script(
        "var s = window.staffMap; return Object.keys(s.layers).filter("
        "function (k) { return s.map.hasLayer(s.layers[k]); }).sort();")


def test_map001_50000_incidents_layers_and_drill_down(crowded):
    services = crowded
    app = create_app(services=services)
    with live_server(app.server) as server, chrome(1600, 1000) as driver:
        browser_sign_in(driver, server.url, services, "leader", then="/map")
        driver.get(server.url + "/map?period=all")
        started = time.perf_counter()
        _wait(driver, lambda: driver.find_elements(By.ID, MapIds.FRAME))
        _in_frame(driver)
        _wait(driver, lambda: driver.find_element(By.TAG_NAME, "body").get_attribute(
            "data-points") == str(INCIDENTS), timeout=90)
        loaded_s = time.perf_counter() - started
        # the frame still answers a script once the points are in (its thread is not stuck)
        t0 = time.perf_counter()
        assert driver.execute_script("return window.staffMap.ready") is True
        answered_s = time.perf_counter() - t0
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "map001_timing.txt").write_text(
            f"{INCIDENTS} incidents drawn in {loaded_s:.1f} s; a script answered in "
            f"{answered_s * 1000:.0f} ms\n", encoding="utf-8")
        # clusters, not 50,000 markers, are in the page
        icons = driver.find_elements(By.CSS_SELECTOR, ".sm-cluster")
        assert 0 < len(icons) < 500
        save_screenshot(driver, "map001_50000.png")
        assert _shown(driver) == ["incidents", "villages"]

        # the layer control toggles every layer, and the page's URL follows
        labels = {label.text.strip(): label for label in driver.find_elements(
            By.CSS_SELECTOR, ".leaflet-control-layers-overlays label")}
        names = driver.execute_script("return window.staffMap.names || null")
        assert names is None or set(names) == set(LAYERS)
        assert len(labels) == len(LAYERS), list(labels)
        for text, label in labels.items():
            box = label.find_element(By.TAG_NAME, "input")
            before = box.is_selected()
            shown_before = set(_shown(driver))
            box.click()
            _wait(driver, lambda b=box, was=before: b.is_selected() != was)
            after = set(_shown(driver))
            assert after ^ shown_before, text  # exactly one layer came or went
            (changed,) = after ^ shown_before
            driver.switch_to.default_content()
            _wait(driver, lambda c=changed, on=not before: (
                c in _query(driver).get("layers", "").split(",")) == on)
            _in_frame(driver)
            box.click()  # and back
            _wait(driver, lambda b=box, was=before: b.is_selected() == was)
        assert _shown(driver) == ["incidents", "villages"]

        # incidents off, then click a village on the map: it drills down
        labels = {label.text.strip(): label for label in driver.find_elements(
            By.CSS_SELECTOR, ".leaflet-control-layers-overlays label")}
        next(lb for t, lb in labels.items() if t.startswith("警情（聚合）")).find_element(
            By.TAG_NAME, "input").click()
        _wait(driver, lambda: "incidents" not in _shown(driver))
        code, name, lon, lat = sorted(geo.label_points(geo.load_villages(),
                                                       with_suffix=False))[5]
        zoom_before = driver.execute_script("return window.staffMap.map.getZoom()")
        x, y = driver.execute_script(
            "var p = window.staffMap.map.latLngToContainerPoint([arguments[0], arguments[1]]);"
            "return [p.x, p.y];", lat, lon)
        container = driver.find_element(By.CSS_SELECTOR, ".folium-map")
        size = container.size
        ActionChains(driver).move_to_element_with_offset(
            container, int(x - size["width"] / 2), int(y - size["height"] / 2)).click().perform()
        _wait(driver, lambda: driver.execute_script(
            "return window.staffMap.map.getZoom()") > zoom_before)
        driver.switch_to.default_content()
        _wait(driver, lambda: _query(driver).get("village") == code)
        panel = driver.find_element(By.ID, MapIds.PANEL)
        _wait(driver, lambda: name in panel.text)
        assert "边界为示意" in panel.text and "在办" in panel.text
        save_screenshot(driver, "map001_village.png")
        assert tofu_characters(driver) == []  # the page's text all has glyphs …
        _in_frame(driver)
        assert tofu_characters(driver) == []  # … and the map's (labels, layer names)
        driver.switch_to.default_content()
        # the link reopens the same view: the village, its panel, the layers
        shared = driver.current_url
        driver.get(shared)
        _wait(driver, lambda: name in driver.find_element(By.ID, MapIds.PANEL).text)
        _in_frame(driver)
        _wait(driver, lambda: driver.execute_script("return !!window.staffMap"))
        assert "incidents" not in _shown(driver) and "villages" in _shown(driver)
        driver.switch_to.default_content()
        errors = severe_errors(driver)
        assert errors == [], errors
        # nothing was asked of another origin: no tiles, no CDN
        hosts = driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => new URL(e.name).host)")
        assert set(hosts) <= {urlsplit(server.url).netloc}, set(hosts)


def test_map002_a_village_square_fills_only_the_square_whatever_its_winding(sqlite_services):
    """One village's imported square is stored clockwise, another's counter-clockwise: on the
    staff map each fills its square and nothing around it (pixels of the drawn map)."""
    services = sqlite_services
    import_villages(services, SQUARES, clockwise={WUJIA: True, QIAOSI: False})
    app = create_app(services=services)
    with live_server(app.server) as server, chrome(1400, 900) as driver:
        browser_sign_in(driver, server.url, services, "staff", villages=",".join(SQUARES),
                        then="/map?layers=waste_accuracy")
        _in_frame(driver)
        _wait(driver, lambda: driver.execute_script("return !!window.staffMap"))
        assert _shown(driver) == ["waste_accuracy"]
        container = driver.find_element(By.CSS_SELECTOR, ".folium-map")
        pixels = screenshot_pixels(driver, container)
        save_screenshot(driver, "map002_windings.png")
        background = np.array([13, 27, 42])  # the frame's background, #0d1b2a

        def colour(lon: float, lat: float, dx: int = 0, dy: int = 0) -> np.ndarray:
            x, y = driver.execute_script(
                "var p = window.staffMap.map.latLngToContainerPoint([arguments[0], arguments[1]]);"
                "return [Math.round(p.x), Math.round(p.y)];", lat, lon)
            return pixels[y + dy, x + dx].astype(int)

        for code, (x0, y0, x1, y1) in SQUARES.items():
            inside = colour((x0 + x1) / 2, (y0 + y1) / 2)
            assert np.abs(inside - background).sum() > 60, (code, inside)
            outside = [colour(x0, (y0 + y1) / 2, dx=-12), colour(x1, (y0 + y1) / 2, dx=12),
                       colour((x0 + x1) / 2, y1, dy=-12), colour((x0 + x1) / 2, y0, dy=12)]
            for pixel in outside:
                assert np.abs(pixel - background).sum() < 12, (code, pixel)
        assert severe_errors(driver) == []
