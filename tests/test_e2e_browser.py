"""End to end, as the command hall meets it: an XADD from outside → ingest → the open wall page
(a screen signed in by its kiosk link) and /api/v1 (read by a leader's session); a replay of real
calls appears; a malformed entry is dead-lettered, nothing lost."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from app import create_app
from cockpit.ingest import Ingestor
from cockpit.replay import load_mapping, replay
from cockpit.services import Services
from layouts.wall import WallIds
from layouts.wall_governance import GovIds
from tests.access_support import browser_sign_in, http_session
from tests.browser_support import chrome, live_server, save_screenshot, severe_errors
from tests.conftest import SHARED_DATA

pytestmark = pytest.mark.browser


@dataclass
class Served:
    """The app on a free port and an API client signed in to it as a leader."""

    url: str
    api: urllib.request.OpenerDirector


@pytest.fixture
def running(sqlite_services) -> Iterator[tuple[Services, Served]]:
    """The ingest consumer in a thread and the web app on a free port, over real Redis."""
    services = sqlite_services
    stop = threading.Event()
    worker = Ingestor(services.settings, services.redis, services.sessions, consumer="e2e",
                      block_ms=200)
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    try:
        with live_server(create_app(services.settings, services=services).server) as server:
            yield services, Served(server.url, http_session(server.url, services, "leader"))
    finally:
        stop.set()
        thread.join(timeout=10)


def _text(driver, element_id: str) -> str:
    return driver.find_element(By.ID, element_id).text


def _ticker(driver) -> str:
    """The ticker's whole line (it scrolls: part of it is out of view at any moment)."""
    return driver.find_element(By.ID, GovIds.TICKER).get_attribute("textContent")


def _api(server: Served, path: str) -> dict:
    with server.api.open(server.url + path, timeout=5) as response:
        return json.loads(response.read())


def test_e2e001_hand_added_incident_reaches_page_and_api(running):
    services, server = running
    with chrome() as driver:
        browser_sign_in(driver, server.url, services, "wall")
        driver.get(server.url + "/")
        WebDriverWait(driver, 20).until(lambda d: d.find_element(By.ID, WallIds.MAP))
        before = _text(driver, WallIds.KPI_TODAY)
        # exactly what the demo's printed redis-cli line sends, through the real stream
        services.redis.xadd(services.settings.stream("incidents"), {
            "event_id": "manual-1", "type": "incident.reported",
            "occurred_at": str(int(time.time() * 1000)), "source": "redis-cli",
            "incident_id": "manual-1", "category": "火情", "priority": "紧急",
            "title": "农贸市场东门冒烟", "address": "乔司农贸市场", "lon": "120.2868",
            "lat": "30.3493", "crs": "gcj02"})
        WebDriverWait(driver, 10).until(
            lambda d: "农贸市场东门冒烟" in d.find_element(By.ID, WallIds.LATEST).text)
        WebDriverWait(driver, 10).until(lambda d: _text(d, WallIds.KPI_TODAY) != before)
        # the duty team hears of it: the wall announces it, and the ticker carries it
        WebDriverWait(driver, 10).until(
            lambda d: d.find_element(By.ID, GovIds.ANNOUNCE).is_displayed())
        announced = _text(driver, GovIds.ANNOUNCE_TEXT)
        assert announced.startswith("新警情：紧急火情，") and announced.endswith("乔司农贸市场")
        WebDriverWait(driver, 10).until(lambda d: "农贸市场东门冒烟" in _ticker(d))
        items = _api(server, "/api/v1/incidents")["items"]
        assert [i["incident_id"] for i in items] == ["manual-1"]
        assert items[0]["village_code"]
        assert _api(server, "/api/v1/summary")["today_total"] == 1
        assert severe_errors(driver) == []


def test_e2e002_malformed_entries_are_dead_lettered_and_nothing_else_is_lost(running):
    services, server = running
    stream = services.settings.stream("incidents")
    now = str(int(time.time() * 1000))
    base = {"type": "incident.reported", "occurred_at": now, "source": "redis-cli",
            "category": "fire", "crs": "wgs84", "lon": "120.2819", "lat": "30.3518"}
    services.redis.xadd(stream, {**base, "event_id": "bad-1"})  # missing incident_id
    services.redis.xadd(stream, {**base, "event_id": "bad-2", "incident_id": "x2",
                                 "lon": "30.3518", "lat": "120.2819"})  # swapped
    services.redis.xadd(stream, {**base, "event_id": "bad-3", "incident_id": "x3",
                                 "lat": "thirty"})  # text for a number
    services.redis.xadd(stream, {**base, "event_id": "good-1", "incident_id": "g1"})
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if services.redis.xlen(services.settings.key("deadletter")) == 3 and \
                _api(server, "/api/v1/incidents")["count"] == 1:
            break
        time.sleep(0.1)
    dead = {f["event_id"]: f["reason"]
            for _, f in services.redis.xrange(services.settings.key("deadletter"))}
    assert set(dead) == {"bad-1", "bad-2", "bad-3"}
    assert "incident_id" in dead["bad-1"]
    assert "swapped" in dead["bad-2"]
    assert "lat" in dead["bad-3"]
    assert [i["incident_id"] for i in _api(server, "/api/v1/incidents")["items"]] == ["g1"]


def test_e2e003_replayed_real_calls_appear_with_the_replay_badge(running):
    services, server = running
    mapping = load_mapping("sf_fire_calls")
    feed = SHARED_DATA / "incidents" / "sf_fire_calls_2020-04-07_to_04-20.csv"
    stop = threading.Event()
    producer = threading.Thread(target=replay, kwargs=dict(
        settings=services.settings, r=services.redis, csv_path=feed, mapping=mapping,
        speed=600.0, limit=8, progress=False, stop_event=stop), daemon=True)
    with chrome() as driver:
        browser_sign_in(driver, server.url, services, "wall")
        driver.get(server.url + "/")
        WebDriverWait(driver, 20).until(lambda d: d.find_element(By.ID, WallIds.MAP))
        producer.start()
        WebDriverWait(driver, 15).until(lambda d: "回放" in _text(d, WallIds.REPLAY))
        WebDriverWait(driver, 30).until(
            lambda d: _api(server, "/api/v1/incidents")["count"] >= 3)
        first = _api(server, "/api/v1/incidents?limit=1")["items"][0]
        assert first["replay"] and first["source"] == "replay:sf_fire"
        WebDriverWait(driver, 10).until(
            lambda d: len(d.find_element(By.ID, WallIds.LATEST).text.splitlines()) >= 3)
        assert first["title"]
        WebDriverWait(driver, 10).until(lambda d: first["title"] in _ticker(d))
        save_screenshot(driver, "wall-replay.png")
        stop.set()
        producer.join(timeout=10)
        assert severe_errors(driver) == []
