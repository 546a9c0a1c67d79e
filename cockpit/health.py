"""Liveness and readiness of a cockpit web process: what ``/healthz`` and ``/readyz`` answer.

:func:`readiness` checks what a request needs: Redis answers, the database answers, and the
ingest keeps up (on each stream the ingest reads, its consumer group's ``lag``: entries not yet
delivered to the group, Redis ≥ 7 ``XINFO GROUPS``, counted on older servers; ``pending``:
delivered, not acknowledged).
A load balancer takes a process out of rotation while it is not ready; liveness says only that
the process answers.
"""

from __future__ import annotations

import logging
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from cockpit.services import Services
from cockpit.stream_trim import redis_memory
from cockpit.streams import group_lag, incident_streams

log = logging.getLogger(__name__)


def ingest_groups(services: Services) -> dict[str, dict[str, int | None]]:
    """Per stream: the ingest group's ``lag`` and ``pending`` (None: no such group yet).

    The lag is counted up to ``ready_max_lag + 1`` where Redis does not say it (< 7).
    """
    settings, out = services.settings, {}
    for stream in incident_streams(settings):
        found = {"lag": None, "pending": None}
        if services.redis.exists(stream):
            for group in services.redis.xinfo_groups(stream):
                if group["name"] in (settings.consumer_group, settings.consumer_group.encode()):
                    found = {"lag": group_lag(services.redis, stream, group,
                                              settings.ready_max_lag + 1),
                             "pending": group["pending"]}
        out[stream] = found
    return out


def readiness(services: Services) -> tuple[bool, dict[str, Any]]:
    """Return ``(ready, checks)``: whether this process can serve its pages, and why.

    ``checks`` is ``{"redis": "ok" | error, "database": "ok" | error, "ingest": {stream: {"lag",
    "pending"}}, "max_lag": int, "redis_memory": {"used_bytes", "max_bytes", "policy"}}``
    (:func:`cockpit.stream_trim.redis_memory`; shown, not judged); an error is the exception's
    type name (never its text: it may carry a URL with a password). Ready when Redis and the
    database answer and no stream's lag exceeds ``Settings.ready_max_lag`` events (a stream or
    group not made yet: lag 0).
    """
    limit = services.settings.ready_max_lag
    checks: dict[str, Any] = {"max_lag": limit}
    try:
        services.redis.ping()
        checks["ingest"] = ingest_groups(services)
        checks["redis_memory"] = redis_memory(services.redis)
        checks["redis"] = "ok"
    except (RedisError, OSError) as exc:
        checks["redis"] = type(exc).__name__
    try:
        with services.read() as session:
            session.execute(text("select 1"))
        checks["database"] = "ok"
    except (SQLAlchemyError, OSError) as exc:
        checks["database"] = type(exc).__name__
    lagging = [stream for stream, group in (checks.get("ingest") or {}).items()
               if (group["lag"] or 0) > limit]
    checks["lagging"] = lagging
    ready = checks["redis"] == "ok" and checks["database"] == "ok" and not lagging
    if not ready:
        log.warning("not ready: redis %s, database %s, lagging %s", checks["redis"],
                    checks["database"], lagging)
    return ready, checks
