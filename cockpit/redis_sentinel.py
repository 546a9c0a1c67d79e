"""Redis Sentinel URLs: the current master of a monitored service, found through its sentinels.

``REDIS_URL`` may name sentinels instead of a server::

    redis+sentinel://[[username]:password@]host[:port][,host[:port]...]/service_name[/db]
                     [?sentinel_password=...]

The port of a sentinel defaults to 26379; an IPv6 address is written in brackets
(``[::1]:26379``); ``db`` defaults to 0. ``username`` and ``password`` (percent-encoded) are those
of the Redis master and replicas; the sentinels are asked without a password unless
``sentinel_password`` is given. The client (redis-py's :class:`redis.sentinel.Sentinel`) asks the
sentinels for the master at each new connection, so after a failover the next command (or the
retry of a failed one) goes to the new master.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import redis
from redis.sentinel import Sentinel, SentinelConnectionPool

SCHEME = "redis+sentinel"
DEFAULT_PORT = 26379
QUERY_OPTIONS = frozenset({"sentinel_password"})


@dataclass(frozen=True)
class SentinelURL:
    """A parsed ``redis+sentinel://`` URL (the passwords are not part of its text form)."""

    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sentinel_password: str | None = field(default=None, repr=False)


def is_sentinel_url(url: str) -> bool:
    """Whether ``url`` names sentinels (``redis+sentinel://``) rather than one server."""
    return url.lower().startswith(SCHEME + "://")


def _host_port(part: str) -> tuple[str, int]:
    if part.startswith("["):  # [IPv6]:port
        host, _, rest = part[1:].partition("]")
        port = rest.removeprefix(":")
    else:
        host, _, port = part.partition(":")
    if not host:
        raise ValueError(f"REDIS_URL: a sentinel without a host ({part!r})")
    if not port:
        return host, DEFAULT_PORT
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"REDIS_URL: sentinel {host!r} has an invalid port {port!r}")
    return host, int(port)


def parse_sentinel_url(url: str) -> SentinelURL:
    """Parse a ``redis+sentinel://`` URL.

    Parameters
    ----------
    url : str
        ``redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/service[/db]``.

    Returns
    -------
    SentinelURL
        The sentinels as ``(host, port)`` pairs, the service name, the database number and the
        credentials (percent-decoded).

    Raises
    ------
    ValueError
        If the scheme, a host, a port, the service name, the database number or a query option
        is missing or invalid. The message never contains a password.
    """
    if not is_sentinel_url(url):
        raise ValueError(f"REDIS_URL: not a {SCHEME}:// URL")
    parts = urlsplit(url)
    userinfo, at, hosts = parts.netloc.rpartition("@")
    username = password = None
    if at:
        user, colon, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon else None
    if not hosts:
        raise ValueError("REDIS_URL: no sentinel host")
    sentinels = tuple(_host_port(part.strip()) for part in hosts.split(","))
    segments = [unquote(s) for s in parts.path.split("/") if s]
    if not segments:
        raise ValueError("REDIS_URL: no service name (redis+sentinel://host:26379/mymaster/0)")
    if len(segments) > 2:
        raise ValueError("REDIS_URL: the path is /service_name[/db]")
    db = segments[1] if len(segments) == 2 else "0"
    if not db.isdigit():
        raise ValueError(f"REDIS_URL: the database must be a number, not {db!r}")
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = set(query) - QUERY_OPTIONS
    if unknown:
        raise ValueError(f"REDIS_URL: unknown option(s) {', '.join(sorted(unknown))} "
                         f"(known: {', '.join(sorted(QUERY_OPTIONS))})")
    sentinel_password = query.get("sentinel_password", [None])[-1] or None
    return SentinelURL(sentinels, segments[0], int(db), username, password, sentinel_password)


def sentinel_client(url: str, **options: Any) -> redis.Redis:
    """A client of the current master of the service a ``redis+sentinel://`` URL names.

    Parameters
    ----------
    url : str
        See :func:`parse_sentinel_url`.
    **options
        Connection options of the master's client (``decode_responses``, ``socket_timeout``,
        ``socket_connect_timeout``, ``health_check_interval``…). The sentinels are asked with
        the same connect timeout.

    Raises
    ------
    ValueError
        If the URL is invalid (:func:`parse_sentinel_url`). Nothing is connected yet: an
        unreachable sentinel or an unknown service fails at the first command
        (:class:`redis.sentinel.MasterNotFoundError`, a :class:`redis.ConnectionError`).
    """
    spec = parse_sentinel_url(url)
    timeout = options.get("socket_connect_timeout", 5)
    sentinel_kwargs: dict[str, Any] = {"socket_timeout": timeout,
                                       "socket_connect_timeout": timeout}
    if spec.sentinel_password:
        sentinel_kwargs["password"] = spec.sentinel_password
    sentinel = Sentinel(spec.sentinels, sentinel_kwargs=sentinel_kwargs)
    return sentinel.master_for(spec.service, db=spec.db, username=spec.username,
                               password=spec.password, **options)


def sentinel_bytes_client(r: redis.Redis) -> redis.Redis | None:
    """A client of the same Sentinel-managed master as ``r`` that returns bytes.

    Returns None when ``r`` is not Sentinel-managed (:func:`cockpit.streams.bytes_client`
    then copies its pool).
    """
    pool = r.connection_pool
    if not isinstance(pool, SentinelConnectionPool):
        return None
    kwargs = {k: v for k, v in pool.connection_kwargs.items()
              if k not in ("connection_pool", "connection_class")}
    kwargs["decode_responses"] = False
    return pool.sentinel_manager.master_for(pool.service_name, **kwargs)
