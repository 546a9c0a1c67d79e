"""Server push: one producer of updates per channel, fanned out to every open screen.

A web process keeps one :class:`PushHub`. Its thread waits on the ingest's change signal (the
Redis channel ``{prefix}changes``, published after every commit by
:func:`cockpit.streams.signal_change`), at most ``tick_s`` at a time; then it asks each channel
that has subscribers for an update and, when there is one, encodes it once and puts the same
bytes in every subscriber's :class:`Mailbox`. Each open screen (a server-sent-events response,
``callbacks/push.py``) drains its mailbox; so the work per update is one query and one encoding
per channel, whatever the number of screens.

Messages are Server-Sent Events frames (``event: update`` with ``id: <boot>.<seq>``, or
``event: beat``). An update's payload is a JSON object with ``boot`` (this hub's random id: a
restarted process starts a new sequence), ``seq`` (1, 2, … per channel), ``kind`` (``snapshot``:
everything the screen shows; ``delta``: what changed since ``seq - 1``) and the channel's own
fields. A subscriber starts with a snapshot; a screen that sees a gap in ``seq`` asks for a new
one. A mailbox that falls ``max_backlog`` messages behind (a slow or stalled client) is emptied
and given a fresh snapshot instead, so a slow screen costs bounded memory and catches up in one
step. Beats (every ``beat_s``) tell a screen the server is alive when nothing changes.

Nothing here imports the web stack: a channel's producer and encoder are passed in.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import redis

log = logging.getLogger(__name__)

#: A producer: given what the channel's screens were last sent (``seen``, empty for a new
#: screen), return the update's fields (None: nothing changed) and the new ``seen``.
Producer = Callable[[dict[str, Any]], tuple[dict[str, Any] | None, dict[str, Any]]]
#: Turns an update's fields (with the envelope) into one line of JSON text.
Encoder = Callable[[dict[str, Any]], str]


class Listener(Protocol):
    """What the hub waits on for changes (:class:`ChangeListener`)."""

    def wait(self, timeout: float) -> bool:
        """Return True when the data changed within ``timeout`` seconds."""

    def close(self) -> None:
        """Let go of any connection."""

#: Seconds between beats on an idle channel; a screen that hears nothing for a few of them
#: says it is stale.
BEAT_S = 3.0
#: The hub asks its channels at least this often, seconds: parts that change with time alone
#: (a limit passes, the day turns) and a data source coming back need no change signal.
TICK_S = 1.0
#: The hub's thread stops after this long without subscribers, seconds (and starts again with
#: the next one).
IDLE_EXIT_S = 30.0
#: After an update the hub waits this long before the next one, seconds: the changes that
#: arrive meanwhile go out together (at 20 commits/s, screens get 5 updates/s, not 20).
MIN_INTERVAL_S = 0.2
#: Messages a mailbox holds at most before it is replaced by one snapshot.
MAX_BACKLOG = 32
#: A snapshot is built at most this often per channel and reused in between (a reconnect storm
#: after a restart costs one build), seconds.
SNAPSHOT_REUSE_S = 1.0


def sse_frame(event: str, data: str, frame_id: str | None = None) -> bytes:
    """Return one Server-Sent Events frame (UTF-8), ``data`` on a single line.

    Raises
    ------
    ValueError
        When ``data`` holds a line break (the encoder must write JSON on one line).
    """
    if "\n" in data or "\r" in data:
        raise ValueError("an SSE data field must be one line")
    head = f"id: {frame_id}\n" if frame_id else ""
    return f"{head}event: {event}\ndata: {data}\n\n".encode()


class Mailbox:
    """One open screen's queue of encoded frames, bounded to ``limit``.

    :meth:`put` never blocks the hub: past ``limit`` frames the queue is dropped and the
    mailbox marked ``behind``; the screen's next :meth:`take` then asks for a snapshot.
    """

    def __init__(self, limit: int = MAX_BACKLOG) -> None:
        self._cond = threading.Condition()
        self._frames: deque[bytes] = deque()
        self._limit = limit
        self.behind = False
        self.closed = False

    def put(self, frame: bytes) -> None:
        """Queue ``frame`` (or mark the mailbox behind when it is full)."""
        with self._cond:
            if self.behind:
                return
            if len(self._frames) >= self._limit:
                self._frames.clear()
                self.behind = True
            else:
                self._frames.append(frame)
            self._cond.notify()

    def take(self, timeout: float) -> tuple[list[bytes], bool]:
        """Wait up to ``timeout`` s; return the queued frames and whether the screen fell behind.

        A screen that fell behind gets no frames: it must be sent a snapshot, after which the
        mailbox takes frames again.
        """
        with self._cond:
            if not self._frames and not self.behind and not self.closed:
                self._cond.wait(timeout)
            frames, behind = list(self._frames), self.behind
            self._frames.clear()
            self.behind = False
            return frames, behind

    def close(self) -> None:
        """Wake the screen's reader for good (the hub is stopping)."""
        with self._cond:
            self.closed = True
            self._cond.notify()


@dataclass
class Channel:
    """One stream of updates (a page in one language), its state and subscribers."""

    name: str
    produce: Producer
    seen: dict[str, Any] = field(default_factory=dict)
    seq: int = 0
    mailboxes: set[Mailbox] = field(default_factory=set)
    snapshot: tuple[int, float, str] | None = None  # (seq, monotonic time, JSON text)
    lock: threading.Lock = field(default_factory=threading.Lock)
    build_lock: threading.Lock = field(default_factory=threading.Lock)


class ChangeListener:
    """Wait for the ingest's change signal on a Redis pub/sub channel.

    A lost connection is retried at the next :meth:`wait`; while Redis is unreachable
    :meth:`wait` sleeps its timeout and reports a change, so that the producers run and say the
    source is down.
    """

    def __init__(self, client: redis.Redis, channel: str) -> None:
        self._client = client
        self._channel = channel
        self._pubsub: Any = None

    def wait(self, timeout: float) -> bool:
        """Return True when a change was signalled within ``timeout`` seconds (or Redis failed)."""
        try:
            if self._pubsub is None:
                self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
                self._pubsub.subscribe(self._channel)
            message = self._pubsub.get_message(timeout=timeout)
            if message is None:
                return False
            while self._pubsub.get_message(timeout=0) is not None:
                pass  # many commits since the last look are one change
            return True
        except Exception as exc:  # noqa: BLE001 - any client failure: wait, reconnect next time
            log.debug("change signal unavailable: %s", exc)
            self.close()
            time.sleep(timeout)
            return True

    def close(self) -> None:
        """Drop the subscription (reopened by the next :meth:`wait`)."""
        if self._pubsub is not None:
            try:
                self._pubsub.close()
            except Exception:  # noqa: BLE001 - closing a broken connection may fail; it is gone
                log.debug("change signal: closing a broken subscription failed")
            self._pubsub = None


#: Every hub of this process (see :func:`stop_all`).
_HUBS: weakref.WeakSet = weakref.WeakSet()


def stop_all() -> None:
    """Stop every hub of this process (at shutdown, and between tests: a hub outlives its app)."""
    for hub in list(_HUBS):
        hub.stop()


class PushHub:
    """A web process's channels, their subscribers and the thread that feeds them.

    Parameters
    ----------
    listener : Listener
        ``wait(timeout_s) -> bool`` blocks until the data changed (True) or the timeout passed
        (False); ``close()`` lets go of its connection (the thread stops after
        :data:`IDLE_EXIT_S` without subscribers). :class:`ChangeListener` in production.
    encode : callable
        Turns a payload dict into one line of JSON (the web layer's encoder, which knows its
        components).
    tick_s, beat_s, min_interval_s : float
        See :data:`TICK_S`, :data:`BEAT_S`, :data:`MIN_INTERVAL_S`.
    max_clients : int
        Open subscriptions allowed in this process; :meth:`subscribe` refuses more (each holds a
        server thread), and the screen falls back to polling.
    """

    def __init__(self, listener: Listener, encode: Encoder, *,
                 tick_s: float = TICK_S, beat_s: float = BEAT_S,
                 max_clients: int = 200, max_backlog: int = MAX_BACKLOG,
                 min_interval_s: float = MIN_INTERVAL_S) -> None:
        self._listener = listener
        self._encode = encode
        self.tick_s = tick_s
        self.beat_s = beat_s
        self.max_clients = max_clients
        self.max_backlog = max_backlog
        self.min_interval_s = min_interval_s
        self.boot = secrets.token_hex(4)
        self._channels: dict[str, Channel] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._clients = 0
        _HUBS.add(self)

    # ------------------------------------------------------------------ channels

    def add_channel(self, name: str, produce: Producer) -> None:
        """Declare channel ``name`` fed by ``produce`` (idempotent per name)."""
        with self._lock:
            self._channels.setdefault(name, Channel(name, produce))

    def producer(self, name: str) -> Producer:
        """Return channel ``name``'s producer (KeyError when not declared)."""
        return self._channels[name].produce

    @property
    def clients(self) -> int:
        """Open subscriptions in this process."""
        return self._clients

    def subscribe(self, name: str) -> tuple[Mailbox, bytes] | None:
        """Open a subscription to ``name``: its mailbox and the first frame (a snapshot).

        Returns None when :attr:`max_clients` subscriptions are open. Starts the hub's thread on
        the first call. Raises KeyError for an unknown channel and whatever the producer raises.
        """
        channel = self._channels[name]
        with self._lock:
            if self._clients >= self.max_clients:
                return None
            self._clients += 1
        mailbox = Mailbox(self.max_backlog)
        try:
            with channel.lock:
                channel.mailboxes.add(mailbox)
            first = self.snapshot_frame(name)
        except BaseException:
            self.unsubscribe(name, mailbox)
            raise
        self.start()
        return mailbox, first

    def unsubscribe(self, name: str, mailbox: Mailbox) -> None:
        """Close a subscription opened by :meth:`subscribe`."""
        channel = self._channels[name]
        with channel.lock:
            if mailbox not in channel.mailboxes:
                return
            channel.mailboxes.discard(mailbox)
            if not channel.mailboxes:
                channel.snapshot = None  # nobody follows: the next one starts afresh
        with self._lock:
            self._clients -= 1

    def snapshot(self, name: str) -> str:
        """Return :meth:`snapshot_of`'s JSON text."""
        return self.snapshot_of(name)[1]

    def snapshot_of(self, name: str) -> tuple[int, str]:
        """Return ``(seq, JSON text)``: a snapshot of everything ``name``'s screens show, now.

        Built at most once per :data:`SNAPSHOT_REUSE_S` and channel sequence number; it carries
        the channel's current ``seq``, so the deltas that follow it continue the sequence.
        """
        channel = self._channels[name]
        with channel.build_lock:
            now = time.monotonic()
            with channel.lock:
                seq, cached = channel.seq, channel.snapshot
            if cached is not None and cached[0] == seq and now - cached[1] < SNAPSHOT_REUSE_S:
                return seq, cached[2]
            fields, _ = channel.produce({})
            text = self._payload(fields or {}, seq, "snapshot")
            with channel.lock:
                channel.snapshot = (seq, now, text)
            return seq, text

    def snapshot_frame(self, name: str) -> bytes:
        """Return :meth:`snapshot` as an SSE ``update`` frame."""
        seq, text = self.snapshot_of(name)
        return sse_frame("update", text, f"{self.boot}.{seq}")

    def beat_frame(self) -> bytes:
        """Return a beat frame: this hub's id and the server's clock (epoch ms)."""
        return sse_frame("beat", self._encode({"boot": self.boot,
                                               "server_now_ms": int(time.time() * 1000)}))

    def _payload(self, fields: dict[str, Any], seq: int, kind: str) -> str:
        return self._encode({**fields, "boot": self.boot, "seq": seq, "kind": kind,
                             "server_now_ms": int(time.time() * 1000)})

    # ------------------------------------------------------------------ the thread

    def start(self) -> None:
        """Start the feeding thread (once)."""
        with self._lock:
            if self._thread is not None:
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="push-hub", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread and wake every open subscription's reader."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        for channel in list(self._channels.values()):
            with channel.lock:
                for mailbox in channel.mailboxes:
                    mailbox.close()

    def step(self) -> int:
        """Ask every followed channel for an update and publish it; return frames published."""
        published = 0
        for channel in list(self._channels.values()):
            with channel.lock:
                followed = bool(channel.mailboxes)
            if not followed:
                continue
            try:
                fields, seen = channel.produce(channel.seen)
            except Exception:  # a producer bug must not stop every screen's updates
                log.exception("push channel %s failed to produce an update", channel.name)
                continue
            channel.seen = seen
            if fields is None:
                continue
            with channel.lock:
                channel.seq += 1
                frame = sse_frame("update", self._payload(fields, channel.seq, "delta"),
                                  f"{self.boot}.{channel.seq}")
                for mailbox in channel.mailboxes:
                    mailbox.put(frame)
            published += 1
        return published

    def _run(self) -> None:
        idle_since = time.monotonic()
        while not self._stop.is_set():
            self._listener.wait(self.tick_s)
            if self._stop.is_set():
                break
            published = self.step()
            if published or self._clients:
                idle_since = time.monotonic()
            if published:
                self._stop.wait(self.min_interval_s)
            elif time.monotonic() - idle_since > IDLE_EXIT_S:
                with self._lock:  # the lock subscribe() counts under: no one slips in
                    if self._clients == 0:
                        self._listener.close()
                        self._thread = None
                        return
        with self._lock:
            self._listener.close()
            if self._thread is threading.current_thread():
                self._thread = None
