"""Browser-test support: the app on a free port in a background thread, and headless Chromium.

Import from the tests that need a browser (``tests/test_*_browser.py``)::

    from tests.browser_support import LiveServer, chrome, severe_errors

Chromium and chromedriver come from Debian (``/usr/bin/chromium``, ``/usr/bin/chromedriver``).
Without them a test skips on a developer machine and fails on CI (``CI`` set).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from werkzeug.serving import BaseWSGIServer, make_server

from cockpit.services import Services

CHROMIUM = os.environ.get("COCKPIT_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("COCKPIT_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
WALL_SIZE = (1920, 1080)
#: How long a page browser waits for a condition, seconds.
TIMEOUT_S = 10


def require_chromium() -> None:
    """Skip (locally) or fail (on CI) when Chromium or chromedriver is missing."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    if missing:
        message = f"headless browser tests need {', '.join(missing)}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


class LiveServer:
    """A WSGI app served on 127.0.0.1 and a free port from a daemon thread.

    Parameters
    ----------
    wsgi_app : callable
        The WSGI application, e.g. ``create_app(services=...).server``.
    """

    def __init__(self, wsgi_app) -> None:
        self._server: BaseWSGIServer = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, name="live-server",
                                        kwargs={"poll_interval": 0.1}, daemon=True)

    @property
    def url(self) -> str:
        """Base URL, without a trailing slash."""
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> LiveServer:
        """Start serving; returns self."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


@contextmanager
def live_server(wsgi_app) -> Iterator[LiveServer]:
    """Serve ``wsgi_app`` for the duration of the block."""
    server = LiveServer(wsgi_app).start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def chrome(width: int = WALL_SIZE[0], height: int = WALL_SIZE[1],
           network: bool = False) -> Iterator:
    """Yield a headless Chromium driver with a fresh profile; quit it afterwards.

    The browser log (``goog:loggingPrefs``) is enabled so tests can assert that no SEVERE
    console error occurred (:func:`severe_errors`); with ``network`` the performance log too,
    so they can list every request the pages made (:func:`requested_urls`).
    """
    require_chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="cockpit-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={width},{height}", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
                "--hide-scrollbars", "--force-device-scale-factor=1",
                f"--user-data-dir={profile}"):
        options.add_argument(arg)
    logs = {"browser": "ALL", **({"performance": "ALL"} if network else {})}
    options.set_capability("goog:loggingPrefs", logs)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        # --window-size sets the outer window; make the viewport itself the wall's size.
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def severe_errors(driver) -> list[dict]:
    """Return the SEVERE entries of the browser console log since the last call."""
    return [entry for entry in driver.get_log("browser") if entry.get("level") == "SEVERE"]


def requested_urls(driver) -> list[str]:
    """The URL of every request the browser sent since the last call (needs ``network``).

    Read from Chrome's DevTools network events, so it includes what the Resource Timing API
    leaves out: failed requests, those of frames, WebSockets and event streams.
    """
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(params["request"]["url"])
        elif message.get("method") == "Network.webSocketCreated":
            urls.append(params["url"])
    return urls


def save_screenshot(driver, name: str) -> Path:
    """Save a PNG screenshot under ``tests/artifacts/`` and return its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    driver.save_screenshot(str(path))
    return path


def screenshot_pixels(driver, element=None) -> np.ndarray:
    """The viewport (or one element) as drawn: RGB, shape ``(height, width, 3)``, uint8.

    :func:`chrome` draws at device scale 1, so a pixel is a CSS pixel of the page.
    """
    from PIL import Image  # test extra (pyproject), like selenium

    png = element.screenshot_as_png if element is not None else driver.get_screenshot_as_png()
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


#: A code point no font draws (plane 16, private use): its picture is the browser's "tofu".
_NO_GLYPH = "\U0010FFFD"
_TOFU_SCRIPT = r"""
const [noGlyph, extra] = arguments;
const text = (document.body.innerText || "") + (extra || "");
const chars = [...new Set(Array.from(text).filter(c => c.codePointAt(0) > 0x7f && c.trim()))];
const family = getComputedStyle(document.body).fontFamily;
const canvas = document.createElement("canvas");
canvas.width = 48; canvas.height = 48;
const ctx = canvas.getContext("2d", {willReadFrequently: true});
function picture(c) {
    ctx.clearRect(0, 0, 48, 48);
    ctx.font = "32px " + family;
    ctx.textBaseline = "top";
    ctx.fillText(c, 4, 4);
    return Array.from(ctx.getImageData(0, 0, 48, 48).data).join(",");
}
const tofu = picture(noGlyph);
return chars.filter(c => picture(c) === tofu);
"""


def tofu_characters(driver, extra: str = "") -> list[str]:
    """The characters of the page's text (plus ``extra``) drawn as tofu (□: no font has them).

    Each non-ASCII character is drawn on a canvas in the page's own font stack and compared,
    pixel for pixel, with a code point no font draws: the same picture means the browser found
    no glyph, in the page's fonts or in the system's fallback (DESIGN: no fonts from CDNs).
    """
    return driver.execute_script(_TOFU_SCRIPT, _NO_GLYPH, extra)


@dataclass
class PageBrowser:
    """A running app, a browser on it and the services behind it: a staff page's test driver.

    ``wait``, ``click`` and ``choose`` look again when a refresh replaced an element between
    finding and using it.
    """

    url: str
    driver: object
    services: Services

    def open(self, path: str) -> None:
        """Load ``path`` of the app."""
        self.driver.get(self.url + path)

    def wait(self, condition, timeout: float = TIMEOUT_S):
        """Return ``condition()`` once it is truthy; TimeoutException after ``timeout`` s."""
        return WebDriverWait(self.driver, timeout, poll_frequency=0.1,
                             ignored_exceptions=(StaleElementReferenceException,)).until(
            lambda d: condition())

    def text(self, element_id: str) -> str:
        """Return the text of the element ``element_id`` ("" when it is not there)."""
        found = self.driver.find_elements(By.ID, element_id)
        return found[0].text if found else ""

    def location(self) -> str:
        """Return the page's path and query (``/incidents?stage=open``)."""
        parts = urlsplit(self.driver.current_url)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def click(self, css: str) -> None:
        """Click the element at ``css``, found afresh until the click lands."""
        self.wait(lambda: self.driver.find_element(By.CSS_SELECTOR, css).click() or True)

    def choose(self, dropdown_id: str, label: str) -> None:
        """Open a dcc.Dropdown and click the option with ``label``."""
        self.driver.find_element(By.ID, dropdown_id).click()
        option = self.wait(lambda: next(
            (o for o in self.driver.find_elements(By.CSS_SELECTOR, ".dash-dropdown-content "
                                                                   "[role=option]")
             if o.text.strip() == label), None))
        option.click()

    def assert_no_console_errors(self) -> None:
        """Fail if the browser's console logged a SEVERE error."""
        assert severe_errors(self.driver) == []
