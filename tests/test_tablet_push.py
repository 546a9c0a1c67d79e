"""The tablet's server push: a channel per language, viewer's scope and view, made on demand,
bounded and dropped when idle; the scope always the signed-in account's. Real Redis, both
databases, events through the real ingest (tests/test_tablet.py plants them)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from app import create_app
from callbacks.push import EXTENSION, digest, events_path, snapshot_path
from callbacks.tablet import channel_of, view_of
from layouts.i18n import format_count
from layouts.tablet import TabletIds, village_id
from tests.access_support import signed_in_client
from tests.conftest import _services
from tests.test_tablet import A, B, _incident_events, _recount_kpis, plant
from tests.test_volunteers_page import body_of
from tests.waste_factories import ingest

EVENTS, SNAPSHOT = events_path("tablet"), snapshot_path("tablet")


@pytest.fixture
def planted(services):
    """The store after the tablet's events went through the ingest (both databases)."""
    return plant(services)


def _first_frame(reply) -> dict:
    """The first update of an open stream (its snapshot); the stream is closed after."""
    assert reply.status_code == 200 and reply.mimetype == "text/event-stream"
    try:
        block = next(iter(reply.response)).decode()
    finally:
        reply.close()
    return json.loads(block.split("\ndata: ", 1)[1].split("\n", 1)[0])


def _kpi(response: dict, key: str) -> str:
    """The value shown on a KPI card of an update's ``response``."""
    card = next(c for c in response[TabletIds.KPIS]["children"]
                if c["props"]["id"] == f"tab-kpi-{key}")
    return card["props"]["children"][1]["props"]["children"]


def _text(payload: dict) -> str:
    return json.dumps(payload, ensure_ascii=False)


def test_two_scopes_get_their_own_channels_and_figures(planted):
    services, _, events = planted
    app = create_app(services.settings, services=services)
    hub = app.server.extensions[EXTENSION]
    leader = signed_in_client(app, services, "leader")
    staff = signed_in_client(app, services, "staff", villages=A)
    query = "?lang=zh&period=7d"
    everyone = leader.get(SNAPSHOT + query).get_json()
    mine = staff.get(SNAPSHOT + query).get_json()
    view = view_of({"period": "7d"})
    assert {channel_of("zh", None, view), channel_of("zh", (A,), view)} <= set(hub.channels)
    assert village_id(B) in _text(everyone["response"]) and village_id(B) not in _text(
        mine["response"])
    now = datetime.now(UTC)
    for payload, scope in ((everyone, None), (mine, (A,))):
        assert _kpi(payload["response"], "today") == format_count(
            _recount_kpis(events, now, scope)["today"])
    # the staff account's stream follows its own channel: the same snapshot as its poll
    first = _first_frame(staff.get(EVENTS + query))
    assert first["kind"] == "snapshot" and digest(first["response"]) == mine["digest"]
    assert hub.clients == 0  # the closed stream let go of its place
    # the page names the view and the scope in its push config: another view, another stream
    page = body_of(staff, app, "/tablet", f"?period=30d&village={A}")
    assert f"/push/tablet/events?lang=zh&period=30d&village={A}" in page
    assert f"qiaosi-push:tablet:zh:{A}:30d:{A}" in page and "tab-tick" not in page


def test_a_staff_account_cannot_get_another_scope_by_the_query(planted):
    services, _, events = planted
    app = create_app(services.settings, services=services)
    hub = app.server.extensions[EXTENSION]
    staff = signed_in_client(app, services, "staff", villages=A)
    forged = (f"?lang=zh&period=7d&village={B}&scope=all&where=all&villages={B}"
              f"&channel=tablet:zh:all:7d:{B}")
    for payload in (staff.get(SNAPSHOT + forged).get_json(),
                    _first_frame(staff.get(EVENTS + forged))):
        text = _text(payload["response"])
        assert "不在你的辖区" in text and "乙村" not in text and "TB-" not in text
        assert _kpi(payload["response"], "today") == format_count(
            _recount_kpis(events, datetime.now(UTC), (A,))["today"])
    assert [c for c in hub.channels if c.startswith("tablet:")] == [
        channel_of("zh", (A,), view_of({"period": "7d", "village": B}))]


@pytest.fixture
def bounded(tmp_path, redis_server_url, migrated_database_url):
    """Services whose hub makes one channel on demand at most, with incidents planted."""
    gen = _services(tmp_path, redis_server_url, migrated_database_url, push_max_channels=1)
    services = next(gen)
    ingest(services, _incident_events(datetime.now(UTC).replace(microsecond=0)),
           stream="incidents")
    yield services
    gen.close()


def test_past_the_bound_a_new_view_polls_until_an_idle_channel_is_dropped(bounded):
    services = bounded
    app = create_app(services.settings, services=services)
    hub = app.server.extensions[EXTENSION]
    leader = signed_in_client(app, services, "leader")
    week, month = "?lang=zh&period=7d", "?lang=zh&period=30d"
    held = leader.get(EVENTS + week)
    assert held.status_code == 200
    refused = leader.get(EVENTS + month)
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "60"
    polled = leader.get(SNAPSHOT + month).get_json()  # the page's fallback is served
    assert (polled["kind"], polled["seq"]) == ("snapshot", 0)
    assert len(polled["response"][TabletIds.TREND_INCIDENTS]["figure"]["data"][0]["x"]) == 30
    week_channel = channel_of("zh", None, view_of({"period": "7d"}))
    assert [c for c in hub.channels if c.startswith("tablet:")] == [week_channel]
    # a second tablet of the same view shares the channel: no new one needed
    assert _first_frame(leader.get(EVENTS + week))["kind"] == "snapshot"
    held.close()
    assert hub.clients == 0
    assert hub.remove_idle_channels(0) == [week_channel]
    assert _first_frame(leader.get(EVENTS + month))["kind"] == "snapshot"
    assert channel_of("zh", None, view_of({"period": "30d"})) in hub.channels


def test_a_made_up_village_makes_no_channel_and_its_page_opens_no_stream(sqlite_services):
    services = sqlite_services
    app = create_app(services.settings, services=services)
    hub = app.server.extensions[EXTENSION]
    leader = signed_in_client(app, services, "leader")
    before = len(hub.channels)
    for n in range(5):  # what filled the bound of channels in the new-user trial
        query = f"?lang=zh&period=today&village=junk{n}"
        assert leader.get(EVENTS + query).status_code == 404
        assert leader.get(SNAPSHOT + query).status_code == 404
    assert len(hub.channels) == before
    body = body_of(leader, app, "/tablet", "?village=junk0")
    assert "junk0" in body and EVENTS not in body  # its notice, and no stream to open
    assert EVENTS in body_of(leader, app, "/tablet", f"?village={A}")  # a real one follows
