"""The push hub's two ends: the change signal it waits on, and the mailboxes it fills.

:class:`ChangeListener` waits on the ingest's Redis pub/sub channel; :class:`Mailbox` is one
open screen's bounded queue of encoded Server-Sent Events frames (:func:`sse_frame`). The hub
itself is :mod:`cockpit.push`, which re-exports these names.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Any, Protocol

import redis

log = logging.getLogger(__name__)

#: Messages a mailbox holds at most before it is replaced by one snapshot.
MAX_BACKLOG = 32


class Listener(Protocol):
    """What the hub waits on for changes (:class:`ChangeListener`)."""

    def wait(self, timeout: float) -> bool:
        """Return True when the data changed within ``timeout`` seconds."""

    def close(self) -> None:
        """Let go of any connection."""


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
