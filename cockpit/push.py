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

Channels are declared (:meth:`PushHub.add_channel`: the wall's) or made on demand by the first
screen that asks (:meth:`PushHub.subscribe` with a producer factory: the tablet's views), at
most ``max_channels``; one that nobody followed or polled for ``channel_idle_s`` is dropped.

Nothing here imports the web stack: a channel's producer and encoder are passed in. The
mailboxes and the change signal are :mod:`cockpit.push_io` (re-exported here).
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cockpit.push_io import (  # noqa: F401 - re-exported: the hub's parts
    MAX_BACKLOG,
    ChangeListener,
    Listener,
    Mailbox,
    sse_frame,
)

log = logging.getLogger(__name__)

#: A producer: given what the channel's screens were last sent (``seen``, empty for a new
#: screen), return the update's fields (None: nothing changed) and the new ``seen``.
Producer = Callable[[dict[str, Any]], tuple[dict[str, Any] | None, dict[str, Any]]]
#: Turns an update's fields (with the envelope) into one line of JSON text.
Encoder = Callable[[dict[str, Any]], str]
#: Makes the producer of a channel made on demand (called once, when the channel is new, under
#: the hub's lock: it must be cheap and read nothing).
ProducerFactory = Callable[[], Producer]


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
#: A snapshot is built at most this often per channel and reused in between (a reconnect storm
#: after a restart costs one build), seconds.
SNAPSHOT_REUSE_S = 1.0
#: Channels made on demand a hub keeps at most (``Settings.push_max_channels`` in the app).
MAX_CHANNELS = 64
#: A channel made on demand that nobody followed or polled for this long is dropped, seconds.
CHANNEL_IDLE_S = 60.0


@dataclass
class Channel:
    """One stream of updates (a page in one language, a view), its state and subscribers.

    ``used``: when a screen last subscribed, left or asked for a snapshot (monotonic s).
    """

    name: str
    produce: Producer
    on_demand: bool = False
    used: float = field(default_factory=time.monotonic)
    seen: dict[str, Any] = field(default_factory=dict)
    seq: int = 0
    mailboxes: set[Mailbox] = field(default_factory=set)
    snapshot: tuple[int, float, str, dict] | None = None  # (seq, monotonic time, text, seen)
    lock: threading.Lock = field(default_factory=threading.Lock)
    build_lock: threading.Lock = field(default_factory=threading.Lock)


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
    max_channels : int
        Channels made on demand kept at once (:data:`MAX_CHANNELS`); declared ones do not count.
    channel_idle_s : float
        An on-demand channel without subscribers, not polled for this long (seconds), is
        dropped (:data:`CHANNEL_IDLE_S`).
    """

    def __init__(self, listener: Listener, encode: Encoder, *,
                 tick_s: float = TICK_S, beat_s: float = BEAT_S,
                 max_clients: int = 200, max_backlog: int = MAX_BACKLOG,
                 min_interval_s: float = MIN_INTERVAL_S, max_channels: int = MAX_CHANNELS,
                 channel_idle_s: float = CHANNEL_IDLE_S) -> None:
        self._listener = listener
        self._encode = encode
        self.tick_s = tick_s
        self.beat_s = beat_s
        self.max_clients = max_clients
        self.max_backlog = max_backlog
        self.min_interval_s = min_interval_s
        self.max_channels = max_channels
        self.channel_idle_s = channel_idle_s
        self.boot = secrets.token_hex(4)
        self._channels: dict[str, Channel] = {}
        self._lock = threading.Lock()  # taken before a channel's lock, never after
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._clients = 0
        _HUBS.add(self)

    # ------------------------------------------------------------------ channels

    def add_channel(self, name: str, produce: Producer) -> None:
        """Declare channel ``name`` fed by ``produce`` (idempotent per name; never dropped)."""
        with self._lock:
            self._channels.setdefault(name, Channel(name, produce))

    def producer(self, name: str) -> Producer:
        """Return channel ``name``'s producer (KeyError when there is none)."""
        return self._channels[name].produce

    @property
    def clients(self) -> int:
        """Open subscriptions in this process."""
        return self._clients

    @property
    def channels(self) -> list[str]:
        """The names of the channels kept now, declared and on demand."""
        with self._lock:
            return list(self._channels)

    def _open(self, name: str, factory: ProducerFactory | None) -> Channel | None:
        """Channel ``name``, made on demand by ``factory`` when new; None past the bound.

        The caller holds the hub's lock. Marks the channel used. KeyError: unknown, no factory.
        """
        channel = self._channels.get(name)
        if channel is None:
            if factory is None:
                raise KeyError(name)
            if self._on_demand() >= self.max_channels:
                self._remove_idle(self.channel_idle_s)  # make room, if anything went quiet
                if self._on_demand() >= self.max_channels:
                    return None
            channel = self._channels[name] = Channel(name, factory(), on_demand=True)
        channel.used = time.monotonic()
        return channel

    def _on_demand(self) -> int:
        return sum(channel.on_demand for channel in self._channels.values())

    def remove_idle_channels(self, older_than_s: float) -> list[str]:
        """Drop the on-demand channels nobody follows and nobody used for ``older_than_s`` s.

        Returns the names dropped. Declared channels (:meth:`add_channel`) stay. A screen that
        asks for a dropped channel again makes it anew (its first frame is a snapshot anyway).
        """
        with self._lock:
            return self._remove_idle(older_than_s)

    def _remove_idle(self, older_than_s: float) -> list[str]:
        now, dropped = time.monotonic(), []
        for name, channel in list(self._channels.items()):
            if not channel.on_demand:
                continue
            with channel.lock:
                idle = not channel.mailboxes and now - channel.used >= older_than_s
            if idle:
                del self._channels[name]
                dropped.append(name)
        return dropped

    def subscribe(self, name: str, factory: ProducerFactory | None = None
                  ) -> tuple[Mailbox, bytes] | None:
        """Open a subscription to ``name``: its mailbox and the first frame (a snapshot).

        An unknown channel is made on demand with ``factory()`` (KeyError without one).
        Returns None when :attr:`max_clients` subscriptions are open, or when the channel is new
        and :attr:`max_channels` on-demand channels are in use. Starts the hub's thread on the
        first call. Raises whatever the producer raises.
        """
        mailbox = Mailbox(self.max_backlog)
        with self._lock:
            if self._clients >= self.max_clients:
                return None
            channel = self._open(name, factory)
            if channel is None:
                return None
            self._clients += 1
            with channel.lock:  # under the hub's lock: the channel cannot be dropped meanwhile
                channel.mailboxes.add(mailbox)
        try:
            first = self._snapshot_frame(channel, mailbox)
        except BaseException:
            self.unsubscribe(name, mailbox)
            raise
        self.start()
        return mailbox, first

    def unsubscribe(self, name: str, mailbox: Mailbox) -> None:
        """Close a subscription opened by :meth:`subscribe` (idempotent)."""
        channel = self._channels.get(name)
        if channel is None:  # a channel with subscribers is never dropped: this one left
            return
        with channel.lock:
            if mailbox not in channel.mailboxes:
                return
            channel.mailboxes.discard(mailbox)
            channel.used = time.monotonic()
            if not channel.mailboxes:
                channel.snapshot = None  # nobody follows: the next one starts afresh
        with self._lock:
            self._clients -= 1

    def snapshot(self, name: str) -> str:
        """Return :meth:`snapshot_of`'s JSON text."""
        return self.snapshot_of(name)[1]

    def snapshot_for(self, name: str, factory: ProducerFactory | None = None) -> str:
        """Return a snapshot of ``name`` as JSON text, making the channel on demand.

        Past the bound on channels, the snapshot is built by ``factory()``'s producer for this
        call alone (``seq`` 0), so a screen that polls is served all the same. KeyError: an
        unknown channel and no factory.
        """
        with self._lock:
            channel = self._open(name, factory)
        if channel is None:  # past the bound (without a factory, _open raised KeyError)
            fields, _ = factory()({})
            return self._payload(fields or {}, 0, "snapshot")
        return self._snapshot(channel)[1]

    def snapshot_of(self, name: str) -> tuple[int, str]:
        """Return ``(seq, JSON text)``: a snapshot of everything ``name``'s screens show, now.

        Built at most once per :data:`SNAPSHOT_REUSE_S` and channel sequence number; it carries
        the channel's current ``seq``, so the deltas that follow it continue the sequence.
        KeyError for an unknown channel.
        """
        return self._snapshot(self._channels[name])

    def _snapshot(self, channel: Channel, reader: Mailbox | None = None) -> tuple[int, str]:
        # Under build_lock, which step() holds for a channel too. A snapshot for a channel's
        # only reader becomes its `seen`: the next delta says what changed since (not all).
        with channel.build_lock:
            now = time.monotonic()
            channel.used = now
            with channel.lock:
                seq, cached = channel.seq, channel.snapshot
            if cached is None or cached[0] != seq or now - cached[1] >= SNAPSHOT_REUSE_S:
                fields, seen = channel.produce({})
                cached = (seq, now, self._payload(fields or {}, seq, "snapshot"), seen)
            with channel.lock:
                channel.snapshot = cached
                if reader is not None and channel.mailboxes == {reader}:
                    channel.seen = cached[3]
            return seq, cached[2]

    def snapshot_frame(self, name: str) -> bytes:
        """Return :meth:`snapshot` as an SSE ``update`` frame."""
        return self._snapshot_frame(self._channels[name])

    def _snapshot_frame(self, channel: Channel, reader: Mailbox | None = None) -> bytes:
        seq, text = self._snapshot(channel, reader)
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
        with self._lock:
            channels = list(self._channels.values())
        for channel in channels:
            with channel.lock:
                for mailbox in channel.mailboxes:
                    mailbox.close()

    def step(self) -> int:
        """Ask every followed channel for an update and publish it; return frames published."""
        published = 0
        with self._lock:
            channels = list(self._channels.values())
        for channel in channels:
            with channel.lock:
                followed = bool(channel.mailboxes)
            if followed:
                published += self._step(channel)
        return published

    def _step(self, channel: Channel) -> int:
        with channel.build_lock:  # no snapshot is built meanwhile (see _snapshot)
            try:
                fields, channel.seen = channel.produce(channel.seen)
            except Exception:  # a producer bug must not stop every screen's updates
                log.exception("push channel %s failed to produce an update", channel.name)
                return 0
            if fields is None:
                return 0
            with channel.lock:
                channel.seq += 1
                frame = sse_frame("update", self._payload(fields, channel.seq, "delta"),
                                  f"{self.boot}.{channel.seq}")
                for mailbox in channel.mailboxes:
                    mailbox.put(frame)
            return 1

    def _run(self) -> None:
        idle_since = time.monotonic()
        while not self._stop.is_set():
            self._listener.wait(self.tick_s)
            if self._stop.is_set():
                break
            published = self.step()
            self.remove_idle_channels(self.channel_idle_s)
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
