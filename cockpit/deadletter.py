"""Dead letters: reading ``{prefix}deadletter`` and sending an entry again (redrive).

A dead letter (:func:`cockpit.streams.dead_letter`) holds the reason, the origin stream and
entry id, the history of earlier attempts (:mod:`cockpit.poison`) and the entry's fields with
personal data redacted: ID numbers hashed, names and phones masked, a home's address masked and
its position rounded. A redrive XADDs the fields, fixed with ``--set``, to the origin stream;
redacted values are left out (the real ones are not kept anywhere), and the fields are checked
as the ingest will check them, so an entry that would be dead-lettered again is not sent.
``{prefix}deadletter:redriven`` maps a dead letter's id to where and when it was re-sent, so it
is not re-sent twice by mistake.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import redis

from cockpit.events import InvalidEvent, parse_event, stream_kind
from cockpit.privacy import (
    HASH_PREFIX,
    HOME_ADDRESS_TYPES,
    ID_NUMBER_FIELDS,
    NAME_FIELDS,
    PHONE_FIELDS,
)
from cockpit.settings import Settings

#: Dead letters read per round trip while filtering.
PAGE = 1_000
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


class AlreadyRedriven(RuntimeError):
    """The dead letter was re-sent before (``--force`` re-sends it all the same)."""


@dataclass(frozen=True)
class DeadLetter:
    """One entry of ``{prefix}deadletter``.

    ``failed_at`` is UTC; ``history`` is None for dead letters written before histories were
    kept; ``redriven`` is ``{"at": epoch ms, "stream_id": str, "set": [field names]}`` once the
    entry was re-sent.
    """

    id: str
    failed_at: datetime
    reason: str
    stream: str
    stream_id: str
    consumer: str
    type: str
    event_id: str
    fields: dict[str, str]
    deliveries: int | None = None
    history: dict[str, Any] | None = None
    redriven: dict[str, Any] | None = None

    @property
    def reason_head(self) -> str:
        """:func:`reason_head` of the reason."""
        return reason_head(self.reason)


def reason_head(reason: str) -> str:
    """A reason's kind: up to its first colon, numbers as ``N`` (``poison``, ``incident_id``).

    ``lat 120.2819 is outside [-90, 90]; lon and lat swapped?`` → ``lat N is outside [N, N];
    lon and lat swapped?``, so reasons that differ only in their values count together.
    """
    return _NUMBER.sub("N", reason.split(":", 1)[0].strip())[:60] or "?"


def deadletter_key(settings: Settings) -> str:
    """``{prefix}deadletter``."""
    return settings.key("deadletter")


def redriven_key(settings: Settings) -> str:
    """``{prefix}deadletter:redriven``: dead-letter id → JSON of where it was re-sent."""
    return settings.key("deadletter:redriven")


def _json(text: str | None) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def parse(entry_id: str, raw: Mapping[str, str], redriven: str | None = None) -> DeadLetter:
    """A :class:`DeadLetter` from a stream entry's id and fields (as XRANGE gives them)."""
    fields = _json(raw.get("fields"))
    deliveries = raw.get("deliveries", "")
    return DeadLetter(
        id=entry_id, reason=raw.get("reason", ""), stream=raw.get("stream", ""),
        failed_at=datetime.fromtimestamp(int(raw.get("failed_at") or entry_id.split("-")[0])
                                         / 1000, UTC),
        stream_id=raw.get("stream_id", ""), consumer=raw.get("consumer", ""),
        type=raw.get("type", ""), event_id=raw.get("event_id", ""),
        fields=fields if isinstance(fields, dict) else {},
        deliveries=int(deliveries) if deliveries.isdigit() else None,
        history=_json(raw.get("history")), redriven=_json(redriven))


@dataclass
class Listing:
    """What :func:`find` found: the newest matches and a count of every match by reason."""

    letters: list[DeadLetter] = field(default_factory=list)
    matched: int = 0
    by_reason: Counter = field(default_factory=Counter)


def find(r: redis.Redis, settings: Settings, *, reason: str | None = None,
         type_: str | None = None, since: datetime | None = None,
         limit: int | None = 50) -> Listing:
    """Dead letters newest first, filtered; every match is counted, ``limit`` are returned.

    Parameters
    ----------
    reason : str, optional
        Substring of the reason, case-insensitive.
    type_ : str, optional
        Event type, exactly.
    since : datetime, optional
        Aware; dead letters written at or after it.
    limit : int or None
        Most dead letters returned (None: all).

    Raises
    ------
    redis.RedisError
        If Redis fails.
    """
    key, out = deadletter_key(settings), Listing()
    low = f"{int(since.timestamp() * 1000)}-0" if since is not None else "-"
    high = "+"
    needle = reason.lower() if reason else None
    shown: list[tuple[str, dict[str, str]]] = []
    while True:
        page = r.xrevrange(key, max=high, min=low, count=PAGE)
        for entry_id, raw in page:
            if needle and needle not in raw.get("reason", "").lower():
                continue
            if type_ and raw.get("type") != type_:
                continue
            out.matched += 1
            out.by_reason[reason_head(raw.get("reason", ""))] += 1
            if limit is None or len(shown) < limit:
                shown.append((entry_id, raw))
        if len(page) < PAGE:
            break
        high = f"({page[-1][0]}"
    marks = r.hmget(redriven_key(settings), [i for i, _ in shown]) if shown else []
    out.letters = [parse(entry_id, raw, mark)
                   for (entry_id, raw), mark in zip(shown, marks, strict=True)]
    return out


def _raw(r: redis.Redis, settings: Settings, entry_id: str) -> dict[str, str] | None:
    found = r.xrange(deadletter_key(settings), min=entry_id, max=entry_id, count=1)
    return found[0][1] if found else None


def get(r: redis.Redis, settings: Settings, entry_id: str) -> DeadLetter | None:
    """The dead letter with id ``entry_id`` (with its redrive mark), or None if unknown."""
    try:
        raw = _raw(r, settings, entry_id)
    except redis.ResponseError:  # not an entry id at all
        return None
    if raw is None:
        return None
    return parse(entry_id, raw, r.hget(redriven_key(settings), entry_id))


def redacted_fields(fields: Mapping[str, str]) -> list[str]:
    """Fields whose value is the dead letter's redaction, not what the producer sent.

    ID numbers (their keyed hash, or ``redacted``), masked names and phones, and a home's
    masked address (:func:`cockpit.privacy.redact_personal`).
    """
    home = str(fields.get("type", "")).strip() in HOME_ADDRESS_TYPES
    out = []
    for name, value in fields.items():
        text = str(value)
        if ((name in ID_NUMBER_FIELDS and (text.startswith(HASH_PREFIX) or text == "redacted"))
                or (name in NAME_FIELDS and text.endswith("**"))
                or (name in PHONE_FIELDS and "*" in text)
                or (name == "address" and home and "**" in text)):
            out.append(name)
    return out


@dataclass
class Redrive:
    """What a redrive sends: ``fields`` to ``letter.stream``.

    ``dropped`` are redacted fields left out, ``notes`` what else the operator should know,
    ``problem`` why the ingest would dead-letter the entry again (None: it validates).
    """

    letter: DeadLetter
    fields: dict[str, str]
    dropped: list[str]
    notes: list[str]
    problem: str | None


def plan(settings: Settings, letter: DeadLetter, sets: Mapping[str, str],
         area: tuple[float, float, float, float], now: datetime | None = None) -> Redrive:
    """The fields a redrive of ``letter`` sends, with ``sets`` applied, checked as the ingest does.

    ``sets`` maps a field to its new value; an empty value removes the field. Redacted fields
    (:func:`redacted_fields`) are left out unless ``sets`` gives them.
    """
    fields = dict(letter.fields)
    dropped = [name for name in redacted_fields(fields) if name not in sets]
    for name in dropped:
        del fields[name]
    for name, value in sets.items():
        if value == "":
            fields.pop(name, None)
        else:
            fields[name] = value
    notes = []
    if str(fields.get("type", "")).strip() in HOME_ADDRESS_TYPES and {"lon", "lat"} & (
            fields.keys() - sets.keys()):
        notes.append("lon/lat of a home are rounded to about 1 km in the dead letter; "
                     "--set lon=... lat=... sends the exact position")
    return Redrive(letter, fields, dropped, notes, check(settings, letter.stream, fields, area,
                                                         now))


def check(settings: Settings, stream: str, fields: Mapping[str, str],
          area: tuple[float, float, float, float], now: datetime | None = None) -> str | None:
    """Why the ingest would refuse ``fields`` on ``stream`` (its reason); None if it would not."""
    key = settings.pd_key.get_secret_value().encode() if settings.pd_key else None
    try:
        event = parse_event(dict(fields), settings.tz, area, now or datetime.now(UTC), key)
    except InvalidEvent as exc:
        return exc.reason
    except Exception as exc:  # noqa: BLE001 - as the ingest: any validation error refuses
        return f"unexpected validation error: {type(exc).__name__}: {exc}"
    kind = stream_kind(event)
    if stream != settings.stream(kind):
        return f"type: {event.type} belongs on {settings.stream(kind)}, not {stream}"
    return None


def redrive(r: redis.Redis, settings: Settings, sending: Redrive, sets: Mapping[str, str],
            force: bool = False) -> str:
    """XADD the planned fields to the origin stream and mark the dead letter redriven.

    The mark is taken first (``HSETNX``), so two operators cannot both re-send one entry.

    Returns
    -------
    str
        The new entry's id.

    Raises
    ------
    AlreadyRedriven
        If it was re-sent before and ``force`` is False.
    redis.RedisError
        If Redis fails (the mark is released when the XADD failed).
    """
    letter, key = sending.letter, redriven_key(settings)
    mark = {"at": int(time.time() * 1000), "stream": letter.stream, "stream_id": "",
            "set": sorted(sets)}
    if force:
        r.hset(key, letter.id, json.dumps(mark))
    elif not r.hsetnx(key, letter.id, json.dumps(mark)):
        raise AlreadyRedriven(letter.id)
    try:
        new_id = r.xadd(letter.stream, sending.fields)
    except redis.RedisError:
        r.hdel(key, letter.id)
        raise
    new_id = new_id.decode() if isinstance(new_id, bytes) else str(new_id)
    r.hset(key, letter.id, json.dumps({**mark, "stream_id": new_id}))
    return new_id
