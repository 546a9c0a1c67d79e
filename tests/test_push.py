"""Server push: the hub (sequence, snapshots, slow screens, limits) and the wall's routes.

The hub is tested with a listener of our own interface (an Event the test sets); the routes
against the real app, Redis and both databases, the stream over a real HTTP server.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime

import pytest

import cockpit.push as push_module
from callbacks.push import events_path, snapshot_path
from cockpit.ingest import Ingestor
from cockpit.push import Mailbox, PushHub, sse_frame
from tests.access_support import http_session, signed_in_client
from tests.browser_support import live_server
from tests.conftest import _services
from tests.factories import incident_fields


class SignalListener:
    """The hub's listener as a test drives it: ``changed.set()`` is a commit."""

    def __init__(self) -> None:
        self.changed = threading.Event()
        self.closed = 0

    def wait(self, timeout: float) -> bool:
        fired = self.changed.wait(timeout)
        self.changed.clear()
        return fired

    def close(self) -> None:
        self.closed += 1


class Counter:
    """A producer whose screens show one number; ``value`` moves it."""

    def __init__(self) -> None:
        self.value = 0
        self.calls = 0

    def __call__(self, seen: dict) -> tuple[dict | None, dict]:
        self.calls += 1
        if seen.get("value") == self.value:
            return None, seen
        return {"response": {"n": {"children": self.value}}}, {"value": self.value}


def frames_of(raw: bytes) -> list[tuple[str, dict]]:
    """Parse SSE frames into (event, payload)."""
    out = []
    for block in raw.decode().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in fields:
            out.append((fields["event"], json.loads(fields["data"])))
    return out


def hub_with(counter: Counter, **options) -> tuple[PushHub, SignalListener]:
    listener = SignalListener()
    hub = PushHub(listener, json.dumps, tick_s=0.05, **options)
    hub.add_channel("c", counter)
    return hub, listener


# ------------------------------------------------------------------ the hub


def test_an_sse_frame_is_one_event_and_refuses_line_breaks():
    assert sse_frame("update", '{"a":1}', "b.3") == b'id: b.3\nevent: update\ndata: {"a":1}\n\n'
    with pytest.raises(ValueError, match="one line"):
        sse_frame("update", '{"a":\n1}')


def test_a_mailbox_falls_behind_instead_of_growing():
    box = Mailbox(limit=3)
    for i in range(3):
        box.put(b"%d" % i)
    assert box.take(0) == ([b"0", b"1", b"2"], False)
    for i in range(10):
        box.put(b"%d" % i)
    frames, behind = box.take(0)
    assert frames == [] and behind  # the screen gets one snapshot instead of ten deltas
    box.put(b"x")
    assert box.take(0) == ([b"x"], False)
    started = time.monotonic()
    assert box.take(0.2) == ([], False) and time.monotonic() - started >= 0.19


def test_a_subscriber_gets_a_snapshot_then_each_change_once_in_sequence():
    counter = Counter()
    hub, listener = hub_with(counter)
    try:
        mailbox, first = hub.subscribe("c")
        [(event, snapshot)] = frames_of(first)
        assert event == "update" and snapshot["kind"] == "snapshot"
        assert snapshot["seq"] == 0 and snapshot["response"] == {"n": {"children": 0}}
        received = []
        for value in (1, 2, 3):
            counter.value = value
            listener.changed.set()
            deadline = time.monotonic() + 5
            while len(received) < value and time.monotonic() < deadline:
                frames, behind = mailbox.take(0.2)
                assert not behind
                received += [payload for raw in frames for _, payload in frames_of(raw)]
        assert [(p["kind"], p["seq"], p["response"]["n"]["children"]) for p in received] == [
            ("delta", 1, 1), ("delta", 2, 2), ("delta", 3, 3)]
        assert {p["boot"] for p in received} == {snapshot["boot"]}
        # a second screen joins at the current sequence number with everything in its snapshot
        _, later = hub.subscribe("c")
        [(_, joined)] = frames_of(later)
        assert (joined["seq"], joined["response"]) == (3, {"n": {"children": 3}})
    finally:
        hub.stop()


def test_one_encoding_per_change_whatever_the_number_of_screens():
    counter, encoded = Counter(), []

    def encode(payload: dict) -> str:
        encoded.append(payload["kind"])
        return json.dumps(payload)

    hub = PushHub(SignalListener(), encode, tick_s=0.05)
    hub.add_channel("c", counter)
    boxes = [hub.subscribe("c")[0] for _ in range(50)]
    assert encoded == ["snapshot"]  # fifty screens joining at once: one snapshot built
    counter.value = 1
    assert hub.step() == 1
    assert encoded == ["snapshot", "delta"]
    received = [box.take(0)[0] for box in boxes]
    assert len(received[0]) == 1 and all(frames == received[0] for frames in received)
    hub.stop()


def test_after_its_snapshot_a_screen_gets_only_what_changed_and_never_misses_a_change():
    parts = {"a": 1, "b": 1}

    def produce(seen: dict) -> tuple[dict | None, dict]:
        changed = {k: v for k, v in parts.items() if seen.get(k) != v}
        return ({"response": changed} if changed else None), dict(parts)

    hub = PushHub(SignalListener(), json.dumps)
    hub.add_channel("p", produce)
    first, _ = hub.subscribe("p")
    assert hub.step() == 0  # its only screen holds the snapshot: nothing is sent again
    parts["b"] = 2
    assert hub.step() == 1
    assert frames_of(first.take(0)[0][0])[0][1]["response"] == {"b": 2}
    parts["b"] = 3
    second, _ = hub.subscribe("p")  # it sees b=3; the first screen still has b=2
    assert hub.step() == 1
    assert frames_of(first.take(0)[0][0])[0][1]["response"] == {"b": 3}
    assert second.take(0)[0]  # the same delta (already in its snapshot: push.js skips it)
    hub.stop()


def test_the_hub_refuses_past_its_limit_and_counts_screens_that_leave():
    hub, _ = hub_with(Counter(), max_clients=2)
    try:
        first, second = hub.subscribe("c"), hub.subscribe("c")
        assert first and second and hub.subscribe("c") is None and hub.clients == 2
        hub.unsubscribe("c", first[0])
        hub.unsubscribe("c", first[0])  # twice (a stream closed twice) counts once
        assert hub.clients == 1 and hub.subscribe("c") is not None
    finally:
        hub.stop()


def test_a_failing_producer_does_not_stop_the_other_channels(caplog):
    counter = Counter()
    hub, _ = hub_with(counter)

    calls = []

    def broken(seen):
        calls.append(seen)
        if len(calls) > 1:  # its snapshot works, its updates fail
            raise RuntimeError("bug")
        return {"response": {}}, {}

    hub.add_channel("broken", broken)
    hub.subscribe("broken")
    mailbox, _ = hub.subscribe("c")
    counter.value = 5
    assert hub.step() == 1  # the broken channel logged, the other one published
    assert "push channel broken failed" in caplog.text
    assert frames_of(mailbox.take(0)[0][0])[0][1]["response"] == {"n": {"children": 5}}
    hub.stop()


def test_the_hub_thread_stops_when_nobody_follows_and_starts_with_the_next(monkeypatch):
    monkeypatch.setattr(push_module, "IDLE_EXIT_S", 0.2)
    hub, listener = hub_with(Counter())
    mailbox, _ = hub.subscribe("c")
    assert hub._thread is not None
    hub.unsubscribe("c", mailbox)
    deadline = time.monotonic() + 5
    while hub._thread is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert hub._thread is None and listener.closed >= 1  # its Redis subscription let go
    hub.subscribe("c")
    assert hub._thread is not None
    hub.stop()


def test_channels_made_on_demand_are_bounded_and_each_screen_gets_its_own():
    made = []

    def factory(n: int):
        def make():
            made.append(n)
            return lambda seen: ({"response": {"n": {"children": n}}}, {"n": n})
        return make

    hub, _ = hub_with(Counter(), max_channels=2)
    try:
        one, two = hub.subscribe("v:1", factory(1)), hub.subscribe("v:2", factory(2))
        assert frames_of(one[1])[0][1]["response"] == {"n": {"children": 1}}
        assert frames_of(two[1])[0][1]["response"] == {"n": {"children": 2}}
        again = hub.subscribe("v:1", factory(99))  # the same view: the same channel
        assert frames_of(again[1])[0][1]["response"] == {"n": {"children": 1}}
        assert made == [1, 2] and hub.subscribe("v:3", factory(3)) is None  # past the bound
        assert hub.subscribe("c") is not None  # a declared channel does not count
        # a screen that polls a view past the bound is served, without a channel kept
        polled = json.loads(hub.snapshot_for("v:3", factory(3)))
        assert (polled["kind"], polled["seq"], polled["response"]) == (
            "snapshot", 0, {"n": {"children": 3}})
        assert sorted(hub.channels) == ["c", "v:1", "v:2"]
        with pytest.raises(KeyError):
            hub.subscribe("v:4")  # no factory: an unknown channel stays unknown
    finally:
        hub.stop()


def test_idle_channels_are_dropped_and_make_room_for_new_ones():
    hub, _ = hub_with(Counter(), max_channels=2)
    produce = lambda seen: ({"response": {}}, {})  # noqa: E731
    try:
        first = hub.subscribe("v:1", lambda: produce)
        hub.subscribe("v:2", lambda: produce)
        hub.snapshot_for("c")
        assert hub.remove_idle_channels(0) == []  # both followed
        hub.unsubscribe("v:1", first[0])
        assert hub.remove_idle_channels(3600) == []  # just left: kept a while
        assert hub.remove_idle_channels(0) == ["v:1"]  # the declared "c" is never dropped
        hub.unsubscribe("v:1", first[0])  # a screen closed twice after its channel went
        assert sorted(hub.channels) == ["c", "v:2"] and hub.clients == 1
        hub.channel_idle_s = 0
        hub.snapshot_for("v:3", lambda: produce)  # polled: kept, then nobody follows it
        assert hub.subscribe("v:4", lambda: produce) is not None  # v:3 made room
        assert sorted(hub.channels) == ["c", "v:2", "v:4"]
    finally:
        hub.stop()


def test_the_hub_thread_drops_the_channels_nobody_follows():
    hub, _ = hub_with(Counter(), channel_idle_s=0)
    try:
        hub.subscribe("c")  # keeps the thread running
        mailbox, _ = hub.subscribe("v:1", lambda: Counter())
        hub.unsubscribe("v:1", mailbox)
        deadline = time.monotonic() + 5
        while "v:1" in hub.channels and time.monotonic() < deadline:
            time.sleep(0.05)
        assert hub.channels == ["c"]
    finally:
        hub.stop()


# ------------------------------------------------------------------ the wall's routes


def _ingest(services, *entries: dict[str, str]) -> None:
    for fields in entries:
        services.redis.xadd(services.settings.stream("incidents"), fields)
    worker = Ingestor(services.settings, services.redis, services.sessions,
                      consumer=f"push-{uuid.uuid4().hex[:6]}", block_ms=50)
    worker.start()
    while worker.step():
        pass


def test_the_snapshot_route_answers_what_the_wall_shows_and_omits_it_when_unchanged(services):
    from app import create_app
    from layouts.wall import WallIds

    app = create_app(services=services)
    client = signed_in_client(app, services, "wall")
    first = client.get(snapshot_path("wall") + "?lang=zh")
    assert first.status_code == 200 and first.headers["Cache-Control"] == "no-store"
    body = first.get_json()
    assert body["kind"] == "snapshot" and body["digest"]
    assert {str(WallIds.KPI_TODAY), str(WallIds.MAP), str(WallIds.STATUS)} <= set(body["response"])
    # asked again with the digest it holds: no response. The snapshot is reused for about a
    # second; on a loaded machine the two asks can straddle that and the wall's picture be
    # composed again (its time-dependent parts moved on), so the pair is tried up to 3 times
    for _ in range(3):
        same = client.get(snapshot_path("wall") + f"?lang=zh&digest={body['digest']}"
                          ).get_json()
        if "response" not in same:
            break
        body = same
    assert "response" not in same and same["digest"] == body["digest"]
    _ingest(services, incident_fields("PUSH-1", at=datetime.now(UTC)))
    time.sleep(1.1)  # past the snapshot's reuse window
    moved = client.get(snapshot_path("wall") + f"?lang=zh&digest={body['digest']}").get_json()
    assert moved["digest"] != body["digest"] and "PUSH-1" in json.dumps(moved["response"])
    assert moved["response"][str(WallIds.KPI_TODAY)]["children"] == "1"
    english = client.get(snapshot_path("wall") + "?lang=en").get_json()
    assert "Incidents" in json.dumps(english["response"]) or english["response"]


def test_the_push_routes_need_a_session(sqlite_services):
    from app import create_app

    client = signed_in_client(create_app(services=sqlite_services), sqlite_services, None)
    for path in (snapshot_path("wall"), events_path("wall")):
        assert client.get(path).status_code == 401, path


def _read_frames(reply, until, timeout: float = 10.0) -> list[tuple[str, dict]]:
    """Read SSE frames from an open response until ``until(frames)`` or the timeout."""
    frames, block = [], b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not until(frames):
        line = reply.readline()
        if not line:
            break
        block += line
        if line == b"\n":
            frames += frames_of(block)
            block = b""
    return frames


def test_an_open_stream_gets_a_snapshot_then_the_new_incident(services):
    from app import create_app

    app = create_app(services=services)
    with live_server(app.server) as server:
        opener = http_session(server.url, services, "wall")
        reply = opener.open(server.url + events_path("wall") + "?lang=zh", timeout=10)
        assert reply.headers["Content-Type"].startswith("text/event-stream")
        [(event, first)] = _read_frames(reply, lambda f: len(f) >= 1)
        assert event == "update" and first["kind"] == "snapshot"
        sent = time.monotonic()
        _ingest(services, incident_fields("PUSH-STREAM-1", at=datetime.now(UTC)))
        frames = _read_frames(reply, lambda f: any("PUSH-STREAM-1" in json.dumps(p)
                                                   for _, p in f))
        reply.close()
    deltas = [p for e, p in frames if e == "update"]
    assert deltas and deltas[-1]["kind"] == "delta" and "PUSH-STREAM-1" in json.dumps(deltas[-1])
    assert [p["seq"] for p in deltas] == list(range(1, len(deltas) + 1))
    assert time.monotonic() - sent < 10


def test_streams_past_the_limit_are_refused_so_the_screen_polls(tmp_path, redis_server_url,
                                                                 sqlite_url):
    from app import create_app

    gen = _services(tmp_path, redis_server_url, sqlite_url, push_max_clients=1)
    services = next(gen)
    try:
        app = create_app(services=services)
        with live_server(app.server) as server:
            opener = http_session(server.url, services, "wall")
            url = server.url + events_path("wall") + "?lang=zh"
            held = opener.open(url, timeout=10)
            assert _read_frames(held, lambda f: len(f) >= 1)
            with pytest.raises(Exception) as refused:
                opener.open(url, timeout=10)
            assert getattr(refused.value, "code", None) == 503
            assert refused.value.headers["Retry-After"] == "60"
            polled = opener.open(server.url + snapshot_path("wall") + "?lang=zh", timeout=10)
            assert json.load(polled)["kind"] == "snapshot"  # the polling screen is served
            held.close()
    finally:
        gen.close()


def test_a_stream_closed_before_its_first_frame_frees_its_place(sqlite_services):
    from app import create_app
    from callbacks.push import EXTENSION

    app = create_app(services=sqlite_services)
    client = signed_in_client(app, sqlite_services, "wall")
    hub = app.server.extensions[EXTENSION]
    for _ in range(3):
        reply = client.get(events_path("wall") + "?lang=zh")
        assert reply.status_code == 200 and hub.clients == 1
        reply.close()  # the server closes the response: the screen went away
        assert hub.clients == 0
    hub.stop()
