"""``/healthz`` and ``/readyz``: liveness and readiness for a load balancer or systemd.

Both are public (a probe has no session) and say nothing a visitor could use: states and
counts, no URLs, no error texts (:func:`cockpit.health.readiness`).
"""

from __future__ import annotations

import dash
import flask

from callbacks.policy import PUBLIC, Policy
from cockpit.health import readiness
from cockpit.services import Services

HEALTHZ, READYZ = "/healthz", "/readyz"


def register(app: dash.Dash, services: Services, policy: Policy) -> None:
    """Add the two routes to ``app``'s server."""
    server = app.server

    @server.get(HEALTHZ, endpoint="healthz")
    def healthz() -> flask.Response:
        """200 while the process answers requests."""
        return _json({"status": "ok"}, 200)

    @server.get(READYZ, endpoint="readyz")
    def readyz() -> flask.Response:
        """200 when Redis and the database answer and the ingest keeps up; 503 otherwise."""
        ready, checks = readiness(services)
        return _json({"status": "ready" if ready else "not ready", **checks},
                     200 if ready else 503)

    policy.route("healthz", PUBLIC)
    policy.route("readyz", PUBLIC)


def _json(payload: dict, status: int) -> flask.Response:
    response = flask.jsonify(payload)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response
