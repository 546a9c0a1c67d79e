"""``GET /api/v1/status``: the cheap liveness and freshness answer the wall page polls.

The wall's clientside probe (``assets/wall.js``) asks it every few seconds with a short
timeout, independently of the Dash callbacks, so that a hung server shows as 服务器无响应
instead of a frozen picture. It reads three Redis keys and never touches the database.
"""

from __future__ import annotations

import logging
import time

from dash import Dash
from flask import jsonify
from redis.exceptions import RedisError

from cockpit.services import Services
from layouts.wall import STATUS_PATH

log = logging.getLogger(__name__)
ENDPOINT = "api_status"


def register(app: Dash, services: Services) -> None:
    """Add ``GET /api/v1/status`` to the app's Flask server; a second call does nothing.

    The answer is ``{version, last_commit_ms, server_time_ms, replay}`` (200) or, when Redis
    is unreachable, ``{error, server_time_ms}`` (503): the web server itself is alive then, only
    its data source is not. Browsers must not cache it (``Cache-Control: no-store``).

    Parameters
    ----------
    app : dash.Dash
        The app whose Flask server gets the route.
    services : Services
        Redis, read for the data version, the last commit time and the replay heartbeat.
    """
    server = app.server
    if ENDPOINT in server.view_functions:
        return

    @server.get(STATUS_PATH, endpoint=ENDPOINT)
    def api_status():
        now_ms = int(time.time() * 1000)
        try:
            body, code = {"version": services.version(),
                          "last_commit_ms": services.last_commit_ms(),
                          "server_time_ms": now_ms, "replay": services.replay_status()}, 200
            if services.link.redis_down:  # the answers above are the last ones seen
                raise RedisError("live link down")
        except (RedisError, OSError) as exc:
            log.debug("status: data source unreachable: %s", exc)
            body, code = {"error": "data source unreachable", "reason": "redis",
                          "server_time_ms": now_ms}, 503
        response = jsonify(body)
        response.status_code = code
        response.headers["Cache-Control"] = "no-store"
        return response
