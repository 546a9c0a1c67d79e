"""An open push stream ends when its session stops holding, not only new requests.

The access check runs when a request arrives; a stream stays open for hours. A disabled
account, a staff account whose villages change and a revoked kiosk must stop receiving data on
the streams they already hold (the screen's reconnect then meets the check and signs in).
"""

from __future__ import annotations

import json
import time
import urllib.error

import pytest

from callbacks.push import events_path
from cockpit import accounts
from layouts import LINK_STATUS_PATH
from tests.access_support import http_session
from tests.browser_support import live_server

#: How long a changed session may keep its stream: the session cache's life + a beat + slack.
ENDS_WITHIN_S = 12


def open_stream(opener, url: str):
    reply = opener.open(url, timeout=10)
    assert reply.headers["Content-Type"].startswith("text/event-stream")
    assert b"event: update" in reply.read1(1 << 20)  # the first frame: a snapshot
    return reply


def read_until_end(reply, within_s: float) -> float:
    """Read the stream until the server ends it; return the seconds that took."""
    start = time.monotonic()
    while time.monotonic() - start < within_s:
        if not reply.read1(1 << 20):
            return time.monotonic() - start
    pytest.fail(f"the stream was still open after {within_s} s")


def refused(opener, url: str) -> int:
    with pytest.raises(urllib.error.HTTPError) as error:
        opener.open(url, timeout=10)
    return error.value.code


@pytest.fixture
def served(sqlite_services):
    from app import create_app

    app = create_app(services=sqlite_services)
    app.server.extensions["cockpit_access"].ttl_s = 1  # as in production, shorter
    with live_server(app.server) as server:
        yield sqlite_services, server


def only_account(services) -> str:
    with services.read() as db:
        [account] = accounts.list_users(db)
    return account.username


def test_a_disabled_accounts_open_stream_ends_and_cannot_reopen(served):
    services, server = served
    opener = http_session(server.url, services, "leader")
    url = server.url + events_path("wall") + "?lang=zh"
    reply = open_stream(opener, url)
    with services.sessions.begin() as db:
        accounts.set_disabled(db, only_account(services), by="test")
    read_until_end(reply, ENDS_WITHIN_S)
    assert refused(opener, url) == 401


def test_a_staff_accounts_tablet_stream_ends_when_its_villages_change(served):
    services, server = served
    opener = http_session(server.url, services, "staff", villages="330110006201")
    url = server.url + events_path("tablet") + "?lang=zh&period=today"
    reply = open_stream(opener, url)
    with services.sessions.begin() as db:
        accounts.set_role(db, only_account(services), "staff", villages="330110006204",
                          by="test")
    read_until_end(reply, ENDS_WITHIN_S)
    assert refused(opener, url) == 401  # its sessions ended with the change


def test_a_revoked_kiosks_wall_stream_ends(served):
    services, server = served
    opener = http_session(server.url, services, "wall")
    url = server.url + events_path("wall") + "?lang=zh"
    reply = open_stream(opener, url)
    with services.sessions.begin() as db:
        [name] = [kiosk.name for kiosk in accounts.list_kiosks(db)]
        accounts.revoke_kiosk(db, name, by="test")
    read_until_end(reply, ENDS_WITHIN_S)
    # whichever script asks first (the poll, the link status every 5 s, the map's data), the
    # page learns why, and the sign-in page says the link was revoked
    for path in (url.replace("/events", "/snapshot"), server.url + LINK_STATUS_PATH,
                 server.url + "/map/points.json"):
        with pytest.raises(urllib.error.HTTPError) as error:
            opener.open(path, timeout=10)
        assert error.value.code == 401 and json.load(error.value)["reason"] == "revoked", path


def test_an_unchanged_session_keeps_its_stream(served):
    services, server = served
    opener = http_session(server.url, services, "leader")
    reply = open_stream(opener, server.url + events_path("wall") + "?lang=zh")
    start = time.monotonic()
    while time.monotonic() - start < 5:  # beats keep coming; the stream stays open
        assert reply.read1(1 << 20)
    reply.close()
