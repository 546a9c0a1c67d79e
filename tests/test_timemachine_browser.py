"""The time machine in headless Chromium: the wall at a past moment during a real replay.

The must-hold of issue 10: while ``cockpit replay``'s replay function sends a recorded feed
into Redis and the real ingest stores it, a wall set to a past moment T shows the counts of
that moment — KPI strip, funnel, categories, overdue total, read from the page — equal to a
recount written here from the entries sent with ``occurred_at <= T`` (no query code of the
cockpit), later events do not appear, and "返回实时" shows the live counts.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import func, select

from app import create_app
from cockpit import replay as rp
from cockpit.ingest import Ingestor
from cockpit.store.models import IncidentEventRow
from cockpit.timemachine import machine_for
from cockpit.vocab import Category, parse_category
from layouts.timemachine import TimeIds
from layouts.wall import WallIds
from layouts.wall_governance import GovIds
from tests import store_support
from tests.access_support import browser_sign_in
from tests.browser_support import chrome, live_server, severe_errors
from tests.factories import incident_fields

pytestmark = pytest.mark.browser

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SF = DATA / "incidents" / "sf_fire_calls_2020-04-07_to_04-20.csv"
TIMEOUT_S = 20
RANK = {"reported": 0, "assessed": 1, "dispatched": 2, "arrived": 3, "resolved": 4,
        "closed": 5, "cancelled": 6}
FUNNEL = ("reported", "assessed", "dispatched", "arrived", "resolved", "closed")
#: JavaScript: what the wall shows — KPI strip, categories, funnel, overdue total.
SHOWN = """
const text = id => (document.getElementById(id) || {}).textContent || '';
const cats = {}, funnel = {};
document.querySelectorAll('#wall-categories [data-category]').forEach(row => {
    cats[row.dataset.category] = row.querySelector('.cat-count').textContent; });
document.querySelectorAll('#wall-funnel [data-stage]').forEach(row => {
    funnel[row.dataset.stage] = row.querySelector('.funnel-count').textContent; });
return {today: text(arguments[0]), open: text(arguments[1]), closed: text(arguments[2]),
        cancelled: text(arguments[3]), overdue: text(arguments[4]), cats, funnel};
"""


def _digits(value: str) -> int:
    return int("".join(ch for ch in value if ch.isdigit()) or 0)


def shown(driver) -> dict:
    raw = driver.execute_script(SHOWN, WallIds.KPI_TODAY, WallIds.KPI_OPEN,
                                WallIds.KPI_CLOSED, WallIds.KPI_CANCELLED,
                                GovIds.OVERDUE_TOTAL)
    return {"today": _digits(raw["today"]), "open": _digits(raw["open"]),
            "closed": _digits(raw["closed"]), "cancelled": _digits(raw["cancelled"]),
            "overdue": _digits(raw["overdue"]),
            "cats": {k: _digits(v) for k, v in raw["cats"].items()},
            "funnel": {k: _digits(v) for k, v in raw["funnel"].items()}}


def recount(entries: list[dict[str, str]], at: datetime, tz, config) -> dict:
    """The wall's figures at ``at`` from the sent field maps (stage order, latest carrier)."""
    per: dict[str, list] = defaultdict(list)
    for fields in entries:
        when = datetime.fromisoformat(fields["occurred_at"])
        if when <= at:
            per[fields["incident_id"]].append((when, RANK[fields["type"].split(".")[1]],
                                               fields))
    day = at.astimezone(tz).date()
    out = {"today": 0, "open": 0, "closed": 0, "cancelled": 0, "overdue": 0,
           "cats": {c.value: 0 for c in Category}, "funnel": dict.fromkeys(FUNNEL, 0)}
    for events in per.values():
        events.sort(key=lambda e: (e[0], e[1]))
        reached = {}
        attrs: dict[str, str] = {}
        for when, _, fields in events:
            reached.setdefault(fields["type"].split(".")[1], when)
            attrs.update({k: fields[k] for k in ("category", "priority") if fields.get(k)})
        stage_at, _, last = events[-1]
        stage = last["type"].split(".")[1]
        category = parse_category(attrs["category"]).value if "category" in attrs else None
        is_open = stage not in ("closed", "cancelled")
        out["open"] += is_open
        limit = config.limit(category, attrs.get("priority"), stage) if is_open else None
        out["overdue"] += limit is not None and stage_at + limit <= at
        out["closed"] += stage == "closed" and stage_at.astimezone(tz).date() == day
        reported = reached.get("reported")
        if reported is not None and reported.astimezone(tz).date() == day:
            out["today"] += 1
            out["cancelled"] += stage == "cancelled"
            out["cats"][category] += 1
            for s in FUNNEL:
                out["funnel"][s] += s in reached
    return out


def sent(services) -> list[dict[str, str]]:
    return [f for _, f in services.redis.xrange(services.settings.stream("incidents"))]


def stored_upto(services, at: datetime) -> int:
    with services.read() as session:
        return session.scalar(select(func.count()).select_from(IncidentEventRow)
                              .where(IncidentEventRow.occurred_at <= at))


def wait(driver, condition, timeout: float = TIMEOUT_S):
    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition)


def frames(driver) -> int:
    state = driver.execute_script("return window.cockpitTimeMachine && "
                                  "window.cockpitTimeMachine.state()")
    return (state or {}).get("frames") or 0


@pytest.mark.skipif(not SF.is_file(), reason=f"recorded file not found under {DATA}")
def test_tm001_a_past_moment_during_a_replay_shows_the_counts_of_that_moment(sqlite_services):
    services, settings = sqlite_services, sqlite_services.settings
    tz, config = settings.tz, settings.governance
    stop = threading.Event()
    ingestor = Ingestor(settings, services.redis, services.sessions, consumer="tm",
                        block_ms=100)
    ingestor.start()
    threads = [threading.Thread(target=ingestor.run, args=(stop,), daemon=True),
               threading.Thread(target=lambda: rp.replay(
                   settings, services.redis, SF, "sf_fire_calls", speed=1000, limit=60,
                   stop_event=stop, progress=False), daemon=True)]
    for thread in threads:
        thread.start()
    app = create_app(services=services)
    try:
        with live_server(app.server) as server, chrome() as driver:
            browser_sign_in(driver, server.url, services, "leader")
            wait(driver, lambda d: len(sent(services)) >= 60, timeout=60)
            # a moment the feed has passed by a margin: every event due by then was sent
            moment = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=3)
            upto = [f for f in sent(services)
                    if datetime.fromisoformat(f["occurred_at"]) <= moment]
            # the ingest has stored every event sent up to the moment
            wait(driver, lambda d: stored_upto(services, moment) == len(upto))
            ms = int(moment.timestamp() * 1000)
            driver.get(f"{server.url}/?at={ms}")
            wait(driver, lambda d: frames(d) >= 1)
            band = driver.find_element(By.ID, TimeIds.TEXT).text
            assert band == f"回看 · 非实时 · {moment.astimezone(tz):%Y-%m-%d %H:%M:%S}"
            want = recount(upto, moment, tz, config)
            assert want["today"] > 0
            assert shown(driver) == want
            # the replay goes on: later events are stored, the past moment does not move
            wait(driver, lambda d: len(sent(services)) > len(upto) + 20, timeout=60)
            later = sent(services)
            assert recount(later, datetime.now(UTC), tz, config)["today"] > want["today"]
            driver.get(f"{server.url}/?at={ms}")
            wait(driver, lambda d: frames(d) >= 1)
            assert shown(driver) == recount(later, moment, tz, config) == want
            # back to live, once the feed has stopped and the ingest caught up
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
            everything = sent(services)
            now = datetime.now(UTC)
            assert stored_upto(services, now) == len(everything)
            driver.find_element(By.ID, TimeIds.BACK).click()
            wait(driver, lambda d: urlsplit(d.current_url).query == "")
            live = recount(everything, now, tz, config)
            wait(driver, lambda d: shown(d)["today"] == live["today"])
            assert not driver.find_elements(By.ID, TimeIds.BAND)
            assert {k: v for k, v in shown(driver).items() if k != "overdue"} == \
                {k: v for k, v in live.items() if k != "overdue"}
            assert severe_errors(driver) == []
    finally:
        stop.set()
        machine_for(services).clear()


def planted_hour(now: datetime) -> list[dict[str, str]]:
    """Eight incidents over the last eighty minutes, each taken some stages on."""
    entries = []
    cats = ("fire", "police", "medical", "traffic")
    for n in range(8):
        start = now - timedelta(minutes=80 - 10 * n)
        entries.append(incident_fields(f"tm-{n}", "reported", start, category=cats[n % 4],
                                       priority="urgent" if n % 2 else "normal"))
        for k, stage in enumerate(FUNNEL[1:1 + n % 6], start=1):
            entries.append(incident_fields(f"tm-{n}", stage, start + timedelta(minutes=4 * k)))
    return entries


def planted_store(services):
    """Store :func:`planted_hour` ending now; yield ``(services, entries, now)``."""
    now = datetime.now(UTC).replace(microsecond=0)
    entries = planted_hour(now)
    store_support.ingest(services, entries)
    yield services, entries, now
    machine_for(services).clear()


@pytest.fixture
def planted(sqlite_services):
    yield from planted_store(sqlite_services)


@contextmanager
def browser(services, role: str):
    app = create_app(services=services)
    with live_server(app.server) as server, chrome() as driver:
        browser_sign_in(driver, server.url, services, role)
        yield server.url, driver


def test_tm002_a_replay_advances_pauses_and_shows_the_counts_of_the_moment_shown(planted):
    services, entries, now = planted
    tz, config = services.settings.tz, services.settings.governance
    start = now - timedelta(minutes=85)
    with browser(services, "leader") as (url, driver):
        driver.get(f"{url}/?from={int(start.timestamp() * 1000)}&speed=60")
        wait(driver, lambda d: frames(d) >= 3)
        first = driver.execute_script("return window.cockpitTimeMachine.state()")
        assert first["playing"] and first["shownMs"] > start.timestamp() * 1000
        assert "60 倍速回放" in driver.find_element(By.ID, TimeIds.TEXT).text
        driver.find_element(By.ID, TimeIds.PAUSE).click()
        paused = driver.execute_script("return window.cockpitTimeMachine.state()")
        wait(driver, lambda d: "已暂停" in d.find_element(By.ID, TimeIds.TEXT).text)
        time.sleep(1.5)  # a frame asked before the pause may land: then nothing moves
        state = driver.execute_script("return window.cockpitTimeMachine.state()")
        assert not state["playing"] and state["moment"] == paused["moment"]
        moment = datetime.fromtimestamp(state["shownMs"] / 1000, UTC)
        wait(driver, lambda d: shown(d) == recount(entries, moment, tz, config))
        # urgent incidents of the last hour: live, the wall would announce them; not past ones
        banner = driver.find_element(By.ID, GovIds.ANNOUNCE).get_attribute("class")
        assert "announce-hidden" in banner
        assert severe_errors(driver) == []


def test_tm003_a_kiosk_shows_the_past_of_its_link_without_controls(planted):
    services, entries, now = planted
    moment = now - timedelta(minutes=45)
    with browser(services, "wall") as (url, driver):
        driver.get(f"{url}/?at={int(moment.timestamp() * 1000)}&screen=hall")
        wait(driver, lambda d: frames(d) >= 1)
        assert shown(driver) == recount(entries, moment, services.settings.tz,
                                        services.settings.governance)
        assert not driver.find_elements(By.ID, TimeIds.PAUSE)
        assert not driver.find_elements(By.ID, TimeIds.OPENER)
        back = driver.find_element(By.ID, TimeIds.BACK).get_attribute("href")
        assert urlsplit(back).query == "screen=hall"
    with browser(services, "leader") as (url, driver):
        driver.get(f"{url}/")
        wait(driver, lambda d: d.find_elements(By.ID, TimeIds.OPENER))
        assert not driver.find_elements(By.ID, TimeIds.BAND)


def test_tm004_tablet_and_map_at_a_past_moment(planted):
    services, entries, now = planted
    tz, config = services.settings.tz, services.settings.governance
    moment = now - timedelta(minutes=45)
    ms = int(moment.timestamp() * 1000)
    want = recount(entries, moment, tz, config)
    with browser(services, "leader") as (url, driver):
        driver.get(f"{url}/tablet?at={ms}")
        wait(driver, lambda d: frames(d) >= 1)
        kpi = ("return document.querySelector('#tab-kpi-' + arguments[0] + ' .tab-kpi-value')"
               ".textContent")
        assert [_digits(driver.execute_script(kpi, k)) for k in ("today", "open", "overdue")] \
            == [want["today"], want["open"], want["overdue"]]
        # a link to another view of the page keeps the moment
        driver.find_element(By.ID, "tab-period-30d").click()
        wait(driver, lambda d: "period=30d" in d.current_url and f"at={ms}" in d.current_url)
        wait(driver, lambda d: frames(d) >= 1)
        assert driver.find_element(By.ID, TimeIds.TEXT).text.startswith("回看 · 非实时")
        driver.get(f"{url}/map?period=all&at={ms}")
        wait(driver, lambda d: d.find_elements(By.ID, TimeIds.BAND))
        src = driver.find_element(By.ID, "map-frame").get_attribute("src")
        assert f"at={ms}" in src
        points = driver.execute_async_script(
            "fetch('/map/points.json?period=all&at=' + arguments[0]).then(r => r.json())"
            ".then(arguments[1])", ms)
        reported = {f["incident_id"] for f in entries if f["type"] == "incident.reported"
                    and datetime.fromisoformat(f["occurred_at"]) <= moment}
        assert set(points["ids"]) == reported and len(reported) < 8
        # leaving the page for another one by the app's own navigation: that one is live
        driver.find_element(By.CSS_SELECTOR, "a.inc-nav-link[href^='/incidents']").click()
        wait(driver, lambda d: urlsplit(d.current_url).path == "/incidents")
        wait(driver, lambda d: not d.execute_script(
            "return document.documentElement.classList.contains('tm-past')"))
        assert "at=" not in driver.current_url
        assert severe_errors(driver) == []
