"""Poison entries: delivery counts, the failures of earlier attempts, and their history.

An entry whose batch fails with an unexpected error (not a connection error, not a data error
of that entry: a bug, a resolver that raised) is left pending and retried after
:data:`RETRY_S` seconds (new entries are read meanwhile). Each failure is
counted in the hash ``{prefix}ingest:failures``, field ``<stream>/<entry id>``, value JSON
``{"attempts": n, "failures": [{"at": epoch ms, "consumer", "reason"}]}`` (the last
:data:`MAX_RECORDS`); the field is deleted when the entry is acknowledged. An entry that failed
``COCKPIT_INGEST_MAX_DELIVERIES`` times is dead-lettered at its next delivery, carrying
:func:`history`: times delivered, attempts, the consumers that had it and the failures.

Failures are counted rather than deliveries: an entry re-read after a connection failure (its
batch met the database down) or claimed from a dead consumer was delivered again, but did not
fail; counting deliveries would dead-letter a whole batch after a database outage of a few
retries.

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
#: Seconds before a consumer re-reads the entries it left pending after a failure (meanwhile
#: it reads new ones), so a passing fault has time to clear.
RETRY_S = 3.0
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


def split_worn(valid: list, counts: dict[str, int], records: dict[str, dict[str, Any]],
               max_attempts: int) -> tuple[list, list[tuple[Message, str]]]:
    """Separate ``(event, message)`` pairs whose record counts ``max_attempts`` failures.

    Failures are counted, not deliveries: a delivery that met a connection failure (the
    database down while a batch was applied) or a claim by another consumer is no attempt.

    Returns
    -------
    tuple
        ``(keep, worn)``: the pairs to apply, and ``(message, reason)`` of the poison entries.
    """
    keep, worn = [], []
    for event, message in valid:
        key = entry_key(message)
        attempts = records.get(key, {}).get("attempts", 0)
        if attempts >= max_attempts:
            worn.append((message, f"poison: failed {attempts} times (delivered "
                                  f"{counts.get(key, attempts + 1)} times) without being applied"))
        else:
            keep.append((event, message))
    return keep, worn


def recorded(r: redis.Redis, settings: Settings,
             messages: Sequence[Message]) -> dict[str, dict[str, Any]]:
    """The failure records of ``messages`` (HMGET), by entry key; entries without have none.

    A record is ``{"attempts": int, "failures": [{"at": epoch ms, "consumer", "reason"}]}``
    (the last :data:`MAX_RECORDS` failures).
    """
    if not messages:
        return {}
    keys = [entry_key(m) for m in messages]
    out: dict[str, dict[str, Any]] = {}
    for key, value in zip(keys, r.hmget(failures_key(settings), keys), strict=True):
        if value:
            try:
                record = json.loads(value)
            except ValueError:
                continue  # a record we cannot read is no reason to stop the consumer
            if isinstance(record, dict) and isinstance(record.get("failures"), list):
                out[key] = record
    return out


def record_failures(pipe, settings: Settings, failed: Sequence[tuple[Message, str]],
                    consumer: str, previous: dict[str, dict[str, Any]]) -> None:
    """Count one failure per entry of ``failed`` in its record (on ``pipe``, not executed).

    ``previous`` holds the records read for the batch (:func:`recorded`); an entry is owned
    by one consumer at a time, so read-modify-write needs no lock.
    """
    if failed:  # the error's type only: its text may quote an entry's fields
        log.warning("%d entries failed to apply (%s); left pending for another attempt",
                    len(failed), failed[0][1].split(":", 1)[0])
    now = int(time.time() * 1000)
    for message, reason in failed:
        key = entry_key(message)
        record = previous.get(key, {})
        failures = [*record.get("failures", []),
                    {"at": now, "consumer": consumer, "reason": reason[:REASON_CHARS]}]
        pipe.hset(failures_key(settings), key, json.dumps(
            {"attempts": record.get("attempts", 0) + 1, "failures": failures[-MAX_RECORDS:]},
            ensure_ascii=False))


def forget(pipe, settings: Settings, messages: Sequence[Message]) -> None:
    """Delete the records of acknowledged ``messages`` (on ``pipe``, not executed)."""
    if messages:
        pipe.hdel(failures_key(settings), *[entry_key(m) for m in messages])


def history(message: Message, counts: dict[str, int],
            records: dict[str, dict[str, Any]], consumer: str) -> dict[str, Any]:
    """What a dead letter tells of an entry's earlier attempts.

    Returns
    -------
    dict
        ``{"deliveries": int, "attempts": int, "consumers": [str], "failures": [{"at": epoch
        ms, "consumer", "reason"}]}``: times delivered to the group (1 for an entry read once),
        failed attempts, the consumers that had it and the last :data:`MAX_RECORDS` failures.
    """
    key = entry_key(message)
    record = records.get(key, {})
    failures = record.get("failures", [])
    consumers = []
    for name in [*(f.get("consumer") for f in failures), consumer]:
        if name and name not in consumers:
            consumers.append(name)
    return {"deliveries": counts.get(key, 1), "attempts": record.get("attempts", 0),
            "consumers": consumers, "failures": failures}
