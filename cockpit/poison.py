"""Poison entries: delivery counts, the failures of earlier attempts, and their history.

An entry whose batch fails with an unexpected error (not a connection error, not a data error
of that entry: a bug, a resolver that raised) is left pending and retried. Each failure is
recorded in the hash ``{prefix}ingest:failures``, field ``<stream>/<entry id>``, value a JSON
list of the last :data:`MAX_RECORDS` attempts ``{"at": epoch ms, "consumer", "reason"}``; the
field is deleted when the entry is acknowledged. An entry delivered more than
``COCKPIT_INGEST_MAX_DELIVERIES`` times is dead-lettered without another attempt, carrying
:func:`history`: times delivered, the consumers that had it and the failures recorded.

Only re-read entries (a consumer's own pending ones, read with id 0) can have a record, so a
batch of new entries costs nothing here.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from typing import Any

import redis

from cockpit.settings import Settings
from cockpit.streams import Message

log = logging.getLogger(__name__)
#: Failures kept per entry (the latest ones).
MAX_RECORDS = 10
#: Longest reason kept per failure, characters.
REASON_CHARS = 300


def entry_key(message: Message) -> str:
    """``<stream>/<entry id>``: the field of an entry in the failures hash."""
    return f"{message.stream}/{message.id}"


def failures_key(settings: Settings) -> str:
    """The hash of failure records, ``{prefix}ingest:failures``."""
    return settings.key("ingest:failures")


def delivery_counts(r: redis.Redis, group: str, consumer: str,
                    messages: Sequence[Message]) -> dict[str, int]:
    """Times each entry of ``messages`` was delivered to the group (XPENDING), by entry key.

    Entries not pending for ``consumer`` (acknowledged meanwhile) are missing from the result.
    """
    counts: dict[str, int] = {}
    for stream in {m.stream for m in messages}:
        ids = [m.id for m in messages if m.stream == stream]
        low = min(ids, key=_id_order)
        high = max(ids, key=_id_order)
        for entry in r.xpending_range(stream, group, min=low, max=high, count=len(ids) * 4,
                                      consumername=consumer):
            entry_id = entry["message_id"]
            entry_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
            counts[f"{stream}/{entry_id}"] = int(entry["times_delivered"])
    return counts


def _id_order(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def split_worn(valid: list, counts: dict[str, int], max_deliveries: int
               ) -> tuple[list, list[tuple[Message, str]]]:
    """Separate ``(event, message)`` pairs delivered more than ``max_deliveries`` times.

    Returns
    -------
    tuple
        ``(keep, worn)``: the pairs to apply, and ``(message, reason)`` of the poison entries.
    """
    keep, worn = [], []
    for event, message in valid:
        n = counts.get(entry_key(message), 0)
        if n > max_deliveries:
            worn.append((message, f"poison: delivered {n} times without being applied"))
        else:
            keep.append((event, message))
    return keep, worn


def recorded(r: redis.Redis, settings: Settings,
             messages: Sequence[Message]) -> dict[str, list[dict[str, Any]]]:
    """The failure records of ``messages`` (HMGET), by entry key; entries without none."""
    if not messages:
        return {}
    keys = [entry_key(m) for m in messages]
    out: dict[str, list[dict[str, Any]]] = {}
    for key, value in zip(keys, r.hmget(failures_key(settings), keys), strict=True):
        if value:
            try:
                records = json.loads(value)
            except ValueError:
                continue  # a record we cannot read is no reason to stop the consumer
            if isinstance(records, list):
                out[key] = records
    return out


def record_failures(pipe, settings: Settings, failed: Sequence[tuple[Message, str]],
                    consumer: str, previous: dict[str, list[dict[str, Any]]]) -> None:
    """Append one failure per entry of ``failed`` to its record (on ``pipe``, not executed).

    ``previous`` holds the records read for the batch (:func:`recorded`); an entry is owned
    by one consumer at a time, so read-modify-write needs no lock.
    """
    if failed:  # the error's type only: its text may quote an entry's fields
        log.warning("%d entries failed to apply (%s); left pending for another attempt",
                    len(failed), failed[0][1].split(":", 1)[0])
    now = int(time.time() * 1000)
    for message, reason in failed:
        key = entry_key(message)
        records = [*previous.get(key, []),
                   {"at": now, "consumer": consumer, "reason": reason[:REASON_CHARS]}]
        pipe.hset(failures_key(settings), key, json.dumps(records[-MAX_RECORDS:],
                                                          ensure_ascii=False))


def forget(pipe, settings: Settings, messages: Sequence[Message]) -> None:
    """Delete the records of acknowledged ``messages`` (on ``pipe``, not executed)."""
    if messages:
        pipe.hdel(failures_key(settings), *[entry_key(m) for m in messages])


def history(message: Message, counts: dict[str, int],
            records: dict[str, list[dict[str, Any]]], consumer: str) -> dict[str, Any]:
    """What a dead letter tells of an entry's earlier attempts.

    Returns
    -------
    dict
        ``{"deliveries": int, "consumers": [str], "failures": [{"at": epoch ms, "consumer",
        "reason"}]}``; ``deliveries`` is 1 for an entry read once (not found pending).
    """
    key = entry_key(message)
    failures = records.get(key, [])
    consumers = []
    for name in [*(f.get("consumer") for f in failures), consumer]:
        if name and name not in consumers:
            consumers.append(name)
    return {"deliveries": counts.get(key, 1), "consumers": consumers, "failures": failures}
