"""Bounded streams without dropping unconsumed entries, and Redis's memory.

Producers no longer cap the ingest streams (an ``XADD MAXLEN`` cap drops the oldest entries
whether a consumer group read them or not). Instead the ingest trims each stream it reads,
about once a minute (:class:`StreamTrimmer`):

1. the *need* of the stream is the lowest entry id some consumer group still needs: for each
   group its oldest pending entry (delivered, not acknowledged), else the first id after its
   last-delivered id (``XINFO GROUPS``, ``XPENDING``);
2. entries below the need are acknowledged by every group; the newest
   ``COCKPIT_STREAM_RETAIN`` of them are kept (replays, debugging), older ones are removed
   with an exact ``XTRIM MAXLEN <retention + entries from the need on>``, run in a script
   that also counts the entries added since they were counted, so nothing at or above the
   need is ever removed (:func:`trim_stream`).

A stream without any consumer group is left alone (nobody said what they still need).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import redis

from cockpit.settings import Settings

log = logging.getLogger(__name__)

#: Seconds between trims of the ingest's streams.
TRIM_EVERY_S = 60.0

#: Pending entries read at most to count a group's need (more: counted another way).
SPAN_CAP = 10_000

#: XTRIM MAXLEN retention + needed + entries added after the count (ARGV[1]: first id to count
#: from, ARGV[2]: retention + needed entries counted). Atomic: nothing is added meanwhile.
_TRIM_SCRIPT = """
local newer = #redis.call('XRANGE', KEYS[1], ARGV[1], '+')
return redis.call('XTRIM', KEYS[1], 'MAXLEN', tonumber(ARGV[2]) + newer)
"""


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


def _order(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _after(entry_id: str) -> str:
    ms, seq = _order(entry_id)
    return f"{ms}-{seq + 1}"


def needed_from(r: redis.Redis, stream: str) -> tuple[str | None, int | None, str | None]:
    """The lowest entry id some consumer group of ``stream`` still needs, and that group's lag.

    Returns
    -------
    tuple
        ``(need, lag, delivered)``: ``need`` an entry id (``"<ms>-<seq>"``; it may not exist
        yet), or None when the stream has no group; for the group that needs the most, ``lag``
        its undelivered entries (Redis ≥ 7; None on older servers or when Redis cannot tell)
        and ``delivered`` its last-delivered id.
    """
    best: tuple[tuple[int, int], str, int | None, str] | None = None
    for group in r.xinfo_groups(stream):
        name = _text(group["name"])
        delivered = _text(group["last-delivered-id"])
        if group["pending"]:
            need = _text(r.xpending(stream, name)["min"])
        else:
            need = _after(delivered)
        if best is None or _order(need) < best[0]:
            best = (_order(need), need, group.get("lag"), delivered)
    return (None, None, None) if best is None else best[1:]


def trim_stream(r: redis.Redis, stream: str, retain: int) -> int:
    """Trim ``stream`` below what its groups need, keeping ``retain`` acknowledged entries.

    The entries at or above the need are counted from the group's lag (Redis ≥ 7) and its
    pending span (at most :data:`SPAN_CAP` entries read); else by reading them, up to
    ``retain`` + 1: when more, the stream is trimmed to the need, keeping no acknowledged one.

    Parameters
    ----------
    r : redis.Redis
    stream : str
        Stream key.
    retain : int
        Entries below the need kept all the same (the newest of them), ≥ 0.

    Returns
    -------
    int
        Entries removed.

    Raises
    ------
    redis.RedisError
        If Redis fails.
    """
    last = r.xrevrange(stream, count=1)  # before the groups: what comes later counts twice
    if not last:
        return 0
    need, lag, delivered = needed_from(r, stream)
    if need is None:
        return 0
    if lag is not None:
        span = 0
        if _order(need) <= _order(delivered):  # pending entries from the need on
            span = len(r.xrange(stream, min=need, max=delivered, count=SPAN_CAP + 1))
        if span <= SPAN_CAP:
            return int(r.eval(_TRIM_SCRIPT, 1, stream, f"({_text(last[0][0])}",
                              retain + span + lag))
    page = r.xrange(stream, min=need, max="+", count=retain + 1)
    if len(page) > retain:
        return int(r.xtrim(stream, minid=need, approximate=False))
    start = f"({_text(page[-1][0])}" if page else need
    return int(r.eval(_TRIM_SCRIPT, 1, stream, start, retain + len(page)))


def trim_streams(r: redis.Redis, streams: Sequence[str], retain: int) -> dict[str, int]:
    """:func:`trim_stream` on each of ``streams``; entries removed per stream."""
    return {stream: trim_stream(r, stream, retain) for stream in streams}


class StreamTrimmer:
    """Trims the ingest's streams every :data:`TRIM_EVERY_S` seconds (:func:`trim_streams`).

    Parameters
    ----------
    settings : Settings
        ``stream_retain`` is the retention.
    r : redis.Redis
    streams : sequence of str
        The streams the ingest reads.
    every_s : float
        Seconds between trims.
    """

    def __init__(self, settings: Settings, r: redis.Redis, streams: Sequence[str],
                 every_s: float = TRIM_EVERY_S):
        self.r = r
        self.streams = list(streams)
        self.retain = settings.stream_retain
        self.every_s = every_s
        self.removed = 0
        self._last = time.monotonic()  # not at start: the backlog comes first

    def maybe_trim(self) -> dict[str, int]:
        """Trim when due; entries removed per stream ({} when not due or refused).

        Raises
        ------
        redis.ConnectionError, redis.TimeoutError
            As any Redis call of the ingest; other Redis errors are logged and skipped.
        """
        if time.monotonic() - self._last < self.every_s:
            return {}
        self._last = time.monotonic()
        try:
            removed = trim_streams(self.r, self.streams, self.retain)
        except (redis.ConnectionError, redis.TimeoutError):
            raise
        except redis.RedisError as exc:
            log.warning("stream trim skipped: %s: %s", type(exc).__name__,
                        str(exc).splitlines()[0][:200])
            return {}
        total = sum(removed.values())
        self.removed += total
        if total:
            log.info("trimmed %d acknowledged stream entries", total)
        return removed


def redis_memory(r: redis.Redis) -> dict[str, Any]:
    """Redis's memory use (``INFO memory``), for operators.

    Returns
    -------
    dict
        ``{"used_bytes": int, "max_bytes": int, "policy": str}``; ``max_bytes`` 0 means no
        ``maxmemory`` limit; ``policy`` is ``maxmemory-policy`` (``noeviction`` is the one
        fit for streams: an evicting policy may drop a whole stream).
    """
    info = r.info("memory")
    return {"used_bytes": int(info.get("used_memory", 0)),
            "max_bytes": int(info.get("maxmemory", 0)),
            "policy": _text(info.get("maxmemory_policy", ""))}
