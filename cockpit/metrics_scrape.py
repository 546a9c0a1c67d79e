"""Reading the metrics out: ``/metrics`` bodies, who may read them, the ingest's endpoint.

:class:`QueueCollector` reads the global figures from Redis at scrape time (the web app adds
it to its ``/metrics``); :func:`exposition` encodes a process's metrics (every gunicorn worker's
in multiprocess mode); :func:`scrape_allowed` is the access rule of both endpoints;
:func:`serve_ingest` is ``cockpit ingest``'s own endpoint. docs/operations.md, "Metrics".
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import socket
import threading
from collections.abc import Iterator
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import redis
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder

from cockpit.settings import Settings
from cockpit.streams import group_lag, incident_streams

log = logging.getLogger(__name__)
#: Headers that say a request came through a proxy (then loopback is no proof of a local scraper).
FORWARDING_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")

# -- global figures, read from Redis at scrape time ---------------------------------------------
class QueueCollector:
    """Streams, the ingest's consumer groups, Redis memory and the durable ingest counters.

    Read from Redis on each scrape of the web app (a few commands in two round trips); when
    Redis does not answer, ``cockpit_redis_up`` is 0 and the rest is absent.
    """

    def __init__(self, r: redis.Redis, settings: Settings):
        self.r, self.settings = r, settings

    def describe(self) -> list[Metric]:
        """Nothing to check at registration."""
        return []

    def collect(self) -> Iterator[Metric]:
        """Read the figures now."""
        up = GaugeMetricFamily("cockpit_redis_up", "1 when Redis answered this scrape.")
        try:
            families = self._read()
        except (redis.RedisError, OSError) as exc:
            log.warning("metrics: Redis unreachable (%s)", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _read(self) -> list[Metric]:
        settings = self.settings
        streams = incident_streams(settings)
        dlq = settings.key("deadletter")
        pipe = self.r.pipeline(transaction=False)
        for stream in (*streams, dlq):
            pipe.xlen(stream)
        pipe.info("memory")
        pipe.hgetall(settings.key("ingest:stats"))
        *lengths, memory, stats = pipe.execute()
        pipe = self.r.pipeline(transaction=False)
        present = [s for s, n in zip(streams, lengths, strict=False) if n or self.r.exists(s)]
        for stream in present:
            pipe.xinfo_groups(stream)
        groups = pipe.execute(raise_on_error=False)
        length = GaugeMetricFamily("cockpit_stream_entries", "Entries held by a stream "
                                   "(XLEN; the dead-letter stream included).", labels=["stream"])
        for stream, n in zip((*streams, dlq), lengths, strict=True):
            length.add_metric([stream], n)
        lag = GaugeMetricFamily("cockpit_stream_group_lag", "Entries not yet delivered to a "
                                "consumer group (XINFO GROUPS lag; on Redis < 7 counted up to "
                                "COCKPIT_READY_MAX_LAG + 1).", labels=["stream", "group"])
        pending = GaugeMetricFamily("cockpit_stream_group_pending", "Entries delivered to a "
                                    "consumer group and not yet acknowledged.",
                                    labels=["stream", "group"])
        for stream, infos in zip(present, groups, strict=True):
            if isinstance(infos, Exception):
                continue
            for info in infos:
                name = _text(info["name"])
                pending.add_metric([stream, name], info["pending"])
                # counted (up to the readiness limit + 1) where Redis does not say it (< 7)
                lag.add_metric([stream, name], group_lag(
                    self.r, stream, info, settings.ready_max_lag + 1))
        handled = CounterMetricFamily("cockpit_store_events", "Entries handled by every ingest "
                                      "process, kept in Redis (survives restarts).",
                                      labels=["outcome"])
        for outcome in ("stored", "duplicates", "deadlettered"):
            handled.add_metric([outcome], float(stats.get(outcome) or stats.get(
                outcome.encode()) or 0))
        used = GaugeMetricFamily("cockpit_redis_used_memory_bytes", "Redis used_memory.",
                                 value=memory.get("used_memory", 0))
        return [length, lag, pending, handled, used]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


# -- exposition and access ------------------------------------------------------------------------
class _Scrape:
    """One scrape's collectors, as the registry the encoders take."""

    def __init__(self, *sources: Any):
        self.sources = sources

    def collect(self) -> Iterator[Metric]:
        for source in self.sources:
            yield from source.collect()


def exposition(settings: Settings, *extra: Any, accept: str | None = None,
               workers: bool = True) -> tuple[bytes, str]:
    """Encode this process's metrics (every worker's, in multiprocess mode) plus ``extra``.

    Parameters
    ----------
    settings : Settings
        ``prometheus_multiproc_dir`` set: the sum of the worker files there (process metrics
        are then absent: prometheus_client cannot sum them).
    *extra : collector
        Objects with ``collect()`` read at this scrape (:class:`QueueCollector`).
    accept : str, optional
        The request's ``Accept`` header: OpenMetrics when asked for, else text 0.0.4.
    workers : bool
        False: this process's own metrics even in multiprocess mode (the ingest's endpoint).

    Returns
    -------
    tuple
        ``(body, content_type)``.
    """
    if workers and settings.prometheus_multiproc_dir is not None:
        from prometheus_client import multiprocess

        base = CollectorRegistry()
        multiprocess.MultiProcessCollector(base, path=str(settings.prometheus_multiproc_dir))
    else:
        base = REGISTRY
    encoder, content_type = choose_encoder(accept or "")
    return encoder(_Scrape(base, *extra)), content_type


def scrape_allowed(settings: Settings, client: str, authorization: str | None = None,
                   proxied: bool = False) -> bool:
    """Whether a scraper may read the metrics.

    Parameters
    ----------
    client : str
        The client's address (behind a trusted proxy, the forwarded one).
    authorization : str, optional
        The ``Authorization`` header: ``Bearer <COCKPIT_METRICS_TOKEN>`` is let in from anywhere.
    proxied : bool
        The request carries a forwarding header: then a loopback peer is a local proxy, not
        a local scraper, and loopback alone does not let it in.

    Returns
    -------
    bool
        True for the token, an address in ``COCKPIT_METRICS_ALLOW``, or loopback unproxied.
    """
    token = settings.metrics_token
    if token is not None and authorization:
        scheme, _, given = authorization.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
                given.strip().encode(), token.get_secret_value().encode()):
            return True
    try:
        ip = ipaddress.ip_address(client.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in net for net in settings.metrics_networks):
        return True
    return ip.is_loopback and not proxied


# -- the ingest's endpoint and the web app's workers -----------------------------------------------
class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        """Log nothing per scrape."""


class IngestEndpoint:
    """The ingest's metrics server (threads of its own); :meth:`close` stops it."""

    def __init__(self, server: WSGIServer):
        self.server = server
        self.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, name="ingest-metrics", daemon=True).start()

    def close(self) -> None:
        """Stop serving and release the port."""
        self.server.shutdown()
        self.server.server_close()


def serve_ingest(settings: Settings) -> IngestEndpoint | None:
    """Serve this process's metrics on ``COCKPIT_INGEST_METRICS_HOST:PORT``.

    Same access rules as the web app's ``/metrics`` (:func:`scrape_allowed`); always this
    process's own metrics (``PROMETHEUS_MULTIPROC_DIR`` is the web workers'). A port in use is
    logged and the ingest runs on without metrics: ingesting matters more than being scraped.

    Returns
    -------
    IngestEndpoint or None
        None when the port is 0 or could not be bound.
    """
    if not settings.ingest_metrics_port:
        return None

    def app(environ: dict, start_response) -> list[bytes]:
        proxied = any(f"HTTP_{h.upper().replace('-', '_')}" in environ
                      for h in FORWARDING_HEADERS)
        if not scrape_allowed(settings, environ.get("REMOTE_ADDR", ""),
                              environ.get("HTTP_AUTHORIZATION"), proxied):
            start_response("403 Forbidden", [("Content-Type", "text/plain")])
            return [b"not permitted\n"]
        body, content_type = exposition(settings, accept=environ.get("HTTP_ACCEPT"),
                                        workers=False)
        start_response("200 OK", [("Content-Type", content_type),
                                  ("Cache-Control", "no-store")])
        return [body]

    host, port = settings.ingest_metrics_host, settings.ingest_metrics_port
    server_class = _Server
    if ":" in host:  # an IPv6 address
        server_class = type("_Server6", (_Server,), {"address_family": socket.AF_INET6})
    try:
        server = make_server(host, port, app, server_class=server_class, handler_class=_Quiet)
    except OSError as exc:
        log.warning("ingest metrics: cannot listen on %s:%d (%s); set "
                    "COCKPIT_INGEST_METRICS_PORT to a free port (0: off)", host, port,
                    exc.strerror or type(exc).__name__)
        return None
    log.info("ingest metrics on http://%s:%d/metrics", host, port)
    return IngestEndpoint(server)


def reset_multiprocess(settings: Settings) -> None:
    """Empty ``PROMETHEUS_MULTIPROC_DIR`` of the last run (gunicorn ``on_starting``).

    Removes prometheus_client's files only (``*.db``) and makes the directory if needed.
    """
    path = settings.prometheus_multiproc_dir
    if path is None:
        return
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("*.db"):  # prometheus_client's files only, whatever else is there
        old.unlink()


def worker_exited(settings: Settings, pid: int) -> None:
    """Drop a dead worker's live gauges (gunicorn ``child_exit``)."""
    if settings.prometheus_multiproc_dir is not None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid, str(settings.prometheus_multiproc_dir))
