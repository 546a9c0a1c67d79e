"""The web side under faults: the link-status route, and no stack trace to any browser.

- ``GET /status/link`` (any session): ``{redis, database, committed_at, database_ok_at, …}``,
  what the shell's banner (``assets/faults.js``) shows on every page: 实时链路中断 while Redis is
  down (the pages render from the database; :class:`cockpit.livelink.LiveLink`), 数据库不可用
  while the database is (the pages keep what they show). Always 200: the banner asks it.
- An unhandled Redis error is a 503 that says the live link is down; any other unhandled
  error a 500 with a plain page (or JSON for scripts), never the exception's text. (Database
  errors are answered by :meth:`callbacks.auth.Access.data_error`.)
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

import dash
from flask import jsonify, request
from redis.exceptions import RedisError
from werkzeug.exceptions import InternalServerError

from callbacks.policy import SIGNED_IN, Policy, for_script
from cockpit.services import Services
from layouts import LINK_STATUS_PATH
from layouts.i18n import lang_from_search, t
from layouts.signin import refusal_page

log = logging.getLogger(__name__)
ENDPOINT = "link_status"


def _local(services: Services, epoch_ms: int | None) -> str | None:
    if epoch_ms is None:
        return None
    return f"{datetime.fromtimestamp(epoch_ms / 1000, services.settings.tz):%H:%M}"


def link_state(services: Services) -> dict[str, object]:
    """The state of the sources as the banner reads it (times also as local ``HH:MM``)."""
    state = services.link.state()
    return {**state, "committed_at": _local(services, state["committed_ms"]),
            "database_ok_at": _local(services, state["database_ok_ms"]),
            "server_time_ms": int(time.time() * 1000)}


def _for_script() -> bool:
    return for_script(request)


def _answer(status: int, error: str, reason: str, text_key: str):
    if _for_script():
        return jsonify({"error": error, "reason": reason}), status
    lang = lang_from_search(request.query_string.decode(errors="replace"))
    return refusal_page(lang, t(text_key, lang), signed_in=True), status


def register(app: dash.Dash, services: Services, policy: Policy) -> None:
    """Add ``GET /status/link`` (any session) and the answers to unhandled errors."""
    server = app.server
    policy.route(ENDPOINT, SIGNED_IN)

    @server.get(LINK_STATUS_PATH, endpoint=ENDPOINT)
    def link_status():
        response = jsonify(link_state(services))
        response.headers["Cache-Control"] = "no-store"
        return response

    def redis_down(error: RedisError):
        log.warning("%s %s: Redis error: %s", request.method, request.path,
                    type(error).__name__)
        return _answer(503, "live link down", "redis", "link_down_never")

    def server_error(error: InternalServerError):
        original = error.original_exception or error
        log.error("%s %s: unhandled %s", request.method, request.path,
                  type(original).__name__)
        return _answer(500, "server error", "internal", "server_error")

    server.register_error_handler(RedisError, redis_down)
    # every unhandled exception reaches Flask's 500 handler (the app never runs in debug)
    server.register_error_handler(InternalServerError, server_error)
