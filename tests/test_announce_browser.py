"""Browser tests of the wall's announcements: a new incident is spoken (zh-CN) with a tone by
priority, repeated every ``repeat_every`` until acknowledged on screen, and never after.

The whole path is real: an XADD to the incidents stream, the ingest consumer in a thread (it
stores the incident and its notice), the web app on a free port and headless Chromium. The
browser's speech API is instrumented before the page loads (CDP
``Page.addScriptToEvaluateOnNewDocument``): ``speechSynthesis.speak`` records each utterance
instead of sounding (headless Chromium has no voice), ``cancel`` counts, and the start of each
oscillator is recorded with its wave. A screen that only shows and speaks is signed in by its
kiosk link; acknowledging is a person's act, so tests that click 确认 sign in as a leader (who is
recorded as acknowledging; the screen's name says where). Every test ends with no SEVERE console
error.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select

from app import create_app
from cockpit import geo
from cockpit.ingest import Ingestor
from cockpit.services import Services
from cockpit.store.models import Notification, NotificationReceipt
from layouts.wall import WallIds
from layouts.wall_governance import GovIds
from tests.access_support import browser_sign_in
from tests.browser_support import chrome, live_server, save_screenshot, severe_errors
from tests.conftest import build_services, make_settings

pytestmark = pytest.mark.browser

#: The wall repeats an unacknowledged announcement this often in these tests, seconds.
REPEAT_S = 2.0
TIMEOUT_S = 15
ADDRESS = "乔司街道测试路1号"

#: Runs in every page before its own scripts: record speech and tones instead of sounding.
INSTRUMENT = """
window.__speech = {spoken: [], cancelled: 0, tones: [], ackAt: null};
(function () {
    const synth = window.speechSynthesis;
    synth.speak = function (u) {
        window.__speech.spoken.push({text: u.text, lang: u.lang, at: Date.now()});
    };
    synth.cancel = function () { window.__speech.cancelled += 1; };
    const start = OscillatorNode.prototype.start;
    OscillatorNode.prototype.start = function (when) {
        window.__speech.tones.push({wave: this.type, at: Date.now()});
        return start.call(this, when);
    };
    // registered before the page's own listeners: the moment an acknowledgement is clicked
    document.addEventListener("click", function (e) {
        if (e.target.closest && e.target.closest("#wall-ack, #wall-ack-all")) {
            window.__speech.ackAt = Date.now();
        }
    }, true);
})();
"""


def governance_file(tmp_path: Path, repeat_every: str = f"{REPEAT_S:g}s") -> Path:
    """The shipped governance.yaml with a short wall repeat period."""
    shipped = Path(__file__).resolve().parents[1] / "cockpit" / "governance.yaml"
    text = shipped.read_text(encoding="utf-8")
    assert "repeat_every: 30s" in text
    path = tmp_path / "governance.yaml"
    path.write_text(text.replace("repeat_every: 30s", f"repeat_every: {repeat_every}"),
                    encoding="utf-8")
    return path


class Ingest:
    """The ingest consumer in a thread; it can be paused (to hold acknowledgements back)."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.stop = threading.Event()
        worker = Ingestor(self.services.settings, self.services.redis, self.services.sessions,
                          consumer="announce", block_ms=200)
        self.thread = threading.Thread(target=worker.run, args=(self.stop,), daemon=True)
        self.thread.start()

    def pause(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout=10)
            assert not self.thread.is_alive()


@dataclass
class Hall:
    """The ingest, the web app and a browser on it."""

    services: Services
    url: str
    driver: object
    ingest: Ingest

    def sign_in(self, role: str) -> str:
        """Sign the browser in as ``role``; returns the username (or the kiosk's name)."""
        return browser_sign_in(self.driver, self.url, self.services, role)

    def open(self, path: str = "/") -> None:
        self.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument",
                                    {"source": INSTRUMENT})
        self.driver.get(self.url + path)
        self.wait(lambda d: self.text(WallIds.KPI_TODAY) not in ("", "—"))

    def wait(self, condition, timeout: float = TIMEOUT_S):
        return WebDriverWait(self.driver, timeout, poll_frequency=0.1).until(condition)

    def text(self, element_id: str) -> str:
        return self.driver.find_element(By.ID, element_id).text

    def speech(self) -> dict:
        return self.driver.execute_script("return window.__speech")

    def spoken(self) -> list[dict]:
        return self.speech()["spoken"]

    def banner_shown(self) -> bool:
        return self.driver.find_element(By.ID, GovIds.ANNOUNCE).is_displayed()

    def report(self, incident_id: str, priority: str = "critical", category: str = "fire",
               village: int = 3) -> str:
        """XADD a new incident to the incidents stream; returns its village's name."""
        code, name, lon, lat = geo.label_points(geo.load_villages(), with_suffix=False)[village]
        self.services.redis.xadd(self.services.settings.stream("incidents"), {
            "event_id": f"{incident_id}-reported", "type": "incident.reported",
            "occurred_at": datetime.now(UTC).isoformat(), "source": "announce-test",
            "incident_id": incident_id, "category": category, "priority": priority,
            "title": "测试警情", "address": ADDRESS, "lon": f"{lon:.6f}", "lat": f"{lat:.6f}",
            "crs": "wgs84"})
        return name

    def notice(self, incident_id: str) -> dict:
        """The stored new-incident notice of an incident (column -> value); {} if none."""
        table = Notification.__table__
        with self.services.read() as session:
            row = session.execute(select(table).where(
                table.c.notification_id == f"{incident_id}/new")).mappings().first()
        return dict(row or {})

    def receipts(self, incident_id: str) -> list[dict]:
        table = NotificationReceipt.__table__
        with self.services.read() as session:
            return [dict(r) for r in session.execute(select(table).where(
                table.c.notification_id == f"{incident_id}/new")).mappings()]

    def assert_no_console_errors(self) -> None:
        assert severe_errors(self.driver) == []


@contextmanager
def open_hall(tmp_path: Path, redis_url: str, database_url: str, **settings: object
              ) -> Iterator[Hall]:
    """Start the ingest thread, the web app and Chromium on a fresh store; stop them after.

    ``settings``: further :class:`cockpit.settings.Settings` fields (e.g. ``alerts_file``);
    the governance file repeats announcements every :data:`REPEAT_S`. The test's streams are
    deleted at the end.
    """
    config = make_settings(tmp_path, redis_url, database_url,
                           governance_file=governance_file(tmp_path), **settings)
    services = build_services(config)
    ingest = Ingest(services)
    ingest.start()
    try:
        with live_server(create_app(config, services=services).server) as server, \
                chrome() as driver:
            yield Hall(services, server.url, driver, ingest)
    finally:
        ingest.pause()
        keys = list(services.redis.scan_iter(match=f"{config.stream_prefix}*", count=1000))
        if keys:
            services.redis.delete(*keys)
        services.close()


@pytest.fixture
def hall(tmp_path, redis_server_url, sqlite_url) -> Iterator[Hall]:
    with open_hall(tmp_path, redis_server_url, sqlite_url) as opened:
        yield opened


def test_announce001_spoken_once_per_period_until_acknowledged(hall):
    account = hall.sign_in("leader")
    hall.open("/?screen=hall-1")
    assert hall.spoken() == [] and not hall.banner_shown()
    village = hall.report("an-1")
    expected = f"新警情：特急火情，{village}，{ADDRESS}"
    hall.wait(lambda d: hall.spoken())
    first = hall.spoken()
    assert [(s["text"], s["lang"]) for s in first] == [(expected, "zh-CN")]  # exactly one call
    assert hall.banner_shown()
    assert hall.text(GovIds.ANNOUNCE_TEXT) == expected
    assert hall.text(GovIds.ANNOUNCE_PRIORITY) == "特急"
    assert hall.text(GovIds.ANNOUNCE_MORE) == ""  # nothing else waiting
    # unacknowledged, it is announced again, at most once per repeat period
    hall.wait(lambda d: len(hall.spoken()) >= 3, timeout=3 * REPEAT_S + TIMEOUT_S)
    spoken = hall.spoken()
    assert {(s["text"], s["lang"]) for s in spoken} == {(expected, "zh-CN")}
    gaps = [b["at"] - a["at"] for a, b in zip(spoken, spoken[1:], strict=False)]
    assert min(gaps) >= REPEAT_S * 1000 - 50, gaps
    save_screenshot(hall.driver, "wall-announce.png")

    # the ingest lags: the acknowledgement cannot reach the store, the queue still holds it
    hall.ingest.pause()
    hall.driver.find_element(By.ID, GovIds.ACK).click()
    hall.wait(lambda d: not hall.banner_shown())
    assert hall.speech()["cancelled"] >= 1  # what was sounding stopped at once
    # the screen itself never speaks it again: more than two repeat periods later, nothing
    # after the click, and nothing after a reload either
    time.sleep(2.5 * REPEAT_S)
    speech = hall.speech()
    assert speech["ackAt"] and [s for s in speech["spoken"] if s["at"] > speech["ackAt"]] == []
    assert hall.notice("an-1")["acked_at"] is None  # still queued on the server
    hall.open("/?screen=hall-1")
    time.sleep(1.5 * REPEAT_S)
    assert hall.spoken() == [] and not hall.banner_shown()
    # the acknowledgement reaches the store through the stream and the ingest, with who and when
    hall.ingest.start()
    hall.wait(lambda d: hall.notice("an-1").get("acked_at") is not None)
    notice = hall.notice("an-1")
    assert (notice["acked_by"], notice["ack_channel"], notice["ack_from"]) == (
        account, "screen", "hall-1")
    assert abs((notice["acked_at"] - datetime.now(UTC)).total_seconds()) < 60
    (receipt,) = hall.receipts("an-1")
    assert (receipt["type"], receipt["source"], receipt["by"], receipt["origin"]) == (
        "notification.acknowledged", "wall", account, "hall-1")
    assert hall.spoken() == [] and not hall.banner_shown()
    hall.assert_no_console_errors()


def test_announce002_a_muted_screen_shows_but_does_not_speak(hall):
    hall.sign_in("wall")
    hall.open("/?kiosk=0")  # a kiosk screen shows its sound control only so (set-up)
    toggle = hall.driver.find_element(By.ID, GovIds.SOUND)
    assert toggle.text == "声音：开"
    toggle.click()
    hall.wait(lambda d: toggle.text == "本屏已静音")
    village = hall.report("mute-1", priority="urgent", category="police", village=5)
    expected = f"新警情：紧急警情，{village}，{ADDRESS}"
    hall.wait(lambda d: hall.banner_shown())
    assert hall.text(GovIds.ANNOUNCE_TEXT) == expected
    time.sleep(2.5 * REPEAT_S)  # more than two repeat periods: nothing spoken, no tone
    assert hall.spoken() == [] and hall.speech()["tones"] == []
    # the choice is kept by this screen (localStorage) across a reload
    hall.open("/?kiosk=0")
    hall.wait(lambda d: hall.banner_shown())
    toggle = hall.driver.find_element(By.ID, GovIds.SOUND)
    assert toggle.text == "本屏已静音"
    time.sleep(1.5 * REPEAT_S)
    assert hall.spoken() == []
    toggle.click()  # sound on again: the waiting notice is announced at once
    hall.wait(lambda d: hall.spoken())
    assert [(s["text"], s["lang"]) for s in hall.spoken()] == [(expected, "zh-CN")]
    hall.assert_no_console_errors()


def test_announce003_priority_first_tone_by_priority_acknowledge_all_in_english(hall):
    account = hall.sign_in("leader")
    hall.open("/?lang=en")
    hall.report("all-normal", priority="normal", category="urban_management", village=1)
    hall.wait(lambda d: hall.spoken())
    hall.report("all-critical", priority="critical", category="fire", village=2)
    # the critical one goes first in the queue and is announced next, in English
    hall.wait(lambda d: hall.text(GovIds.ANNOUNCE_PRIORITY) == "Critical")
    assert hall.text(GovIds.ANNOUNCE_TEXT).startswith("New incident: Critical fire, ")
    assert hall.text(GovIds.ANNOUNCE_MORE) == "1 more waiting"
    hall.wait(lambda d: hall.spoken()[-1]["text"].startswith("New incident: Critical fire"))
    assert {s["lang"] for s in hall.spoken()} == {"en-US"}
    # the browser refused audio without a gesture: the screen offers to enable it
    enable = hall.driver.find_element(By.ID, GovIds.SOUND_ENABLE)
    hall.wait(lambda d: enable.is_displayed())
    assert enable.text == "Click to enable sound"
    assert hall.speech()["tones"] == []
    enable.click()
    hall.wait(lambda d: hall.speech()["tones"])  # the critical pattern: six square beeps
    hall.wait(lambda d: len(hall.speech()["tones"]) >= 6)
    assert {t["wave"] for t in hall.speech()["tones"]} == {"square"}
    assert not enable.is_displayed()
    hall.driver.find_element(By.ID, GovIds.ACK_ALL).click()
    hall.wait(lambda d: not hall.banner_shown())
    hall.wait(lambda d: hall.notice("all-normal").get("acked_at") is not None
              and hall.notice("all-critical").get("acked_at") is not None)
    screen = hall.driver.execute_script("return localStorage.getItem('cockpit.wall.screen')")
    assert screen.startswith("screen-")
    assert {(hall.notice(i)["acked_by"], hall.notice(i)["ack_from"])
            for i in ("all-normal", "all-critical")} == {(account, screen)}
    time.sleep(1.5 * REPEAT_S)
    speech = hall.speech()
    assert [s for s in speech["spoken"] if s["at"] > speech["ackAt"]] == []
    hall.assert_no_console_errors()


def test_announce004_acknowledge_all_answers_notices_the_screen_was_not_sent(hall,
                                                                            monkeypatch):
    import callbacks.wall_parts

    monkeypatch.setattr(callbacks.wall_parts, "ANNOUNCE_ITEMS", 2)  # the screen holds two of five
    hall.sign_in("leader")
    hall.open("/")
    ids = [f"many-{n}" for n in range(5)]
    for n, incident_id in enumerate(ids):
        hall.report(incident_id, priority="urgent", village=n)
    hall.wait(lambda d: hall.banner_shown()
              and hall.text(GovIds.ANNOUNCE_MORE) == "另有 4 条待确认")
    hall.driver.find_element(By.ID, GovIds.ACK_ALL).click()
    hall.wait(lambda d: not hall.banner_shown())
    hall.wait(lambda d: all(hall.notice(i).get("acked_at") is not None for i in ids))
    time.sleep(1.5 * REPEAT_S)  # the queue the server sends next is empty: nothing comes back
    assert not hall.banner_shown()
    speech = hall.speech()
    assert [s for s in speech["spoken"] if s["at"] > speech["ackAt"]] == []
    hall.assert_no_console_errors()
