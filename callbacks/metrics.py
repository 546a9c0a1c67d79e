"""``/metrics`` for Prometheus, and the timing of every request and Dash callback.

The route is public to the access policy (a scraper has no session) and checks its own rule
(:func:`cockpit.metrics_scrape.scrape_allowed`): a loopback client that came through no proxy,
an address in ``COCKPIT_METRICS_ALLOW``, or ``Authorization: Bearer <COCKPIT_METRICS_TOKEN>``;
anyone else gets 403. Requests are labelled by the matched route's rule (never the raw path)
and callbacks by their output key, so the series stay bounded. docs/operations.md, "Metrics".
"""

from __future__ import annotations

import time

import dash
import flask
from flask import g, request

from callbacks.auth import client_address
from callbacks.policy import CALLBACK_ENDPOINT, PUBLIC, Policy
from cockpit import metrics
from cockpit.metrics_scrape import FORWARDING_HEADERS, QueueCollector, exposition, scrape_allowed
from cockpit.services import Services

METRICS = "/metrics"
#: The route label of a request no route matched (404, 405).
UNMATCHED = "<unmatched>"


def register(app: dash.Dash, services: Services, policy: Policy) -> None:
    """Add ``/metrics`` and the request timing to ``app``'s server (after the access check)."""
    server, settings = app.server, services.settings
    queue = QueueCollector(services.redis, settings)

    @server.get(METRICS, endpoint="metrics")
    def metrics_view() -> flask.Response:
        """The process's metrics and the queue's, in the format the scraper asks for."""
        proxied = any(h in request.headers for h in FORWARDING_HEADERS)
        if not scrape_allowed(settings, client_address(settings),
                              request.headers.get("Authorization"), proxied):
            return flask.Response("not permitted\n", status=403, mimetype="text/plain")
        body, content_type = exposition(settings, queue, accept=request.headers.get("Accept"))
        response = flask.Response(body, status=200)
        response.headers["Content-Type"] = content_type
        return response

    policy.route("metrics", PUBLIC)

    def started() -> None:
        g.metrics_started = time.perf_counter()

    def answered(response: flask.Response) -> flask.Response:
        begun = g.pop("metrics_started", None)
        if begun is not None:
            rule = request.url_rule
            metrics.observe_request(rule.rule if rule is not None else UNMATCHED,
                                    request.method, response.status_code,
                                    time.perf_counter() - begun, _callback(app))
        return response

    # first of all hooks: the access check's time (and its refusals) count too
    server.before_request_funcs.setdefault(None, []).insert(0, started)
    server.after_request(answered)


def _callback(app: dash.Dash) -> str | None:
    """The output key of a Dash callback request (``<unknown>`` if no callback has it)."""
    if request.endpoint != CALLBACK_ENDPOINT:
        return None
    body = request.get_json(silent=True)
    output = body.get("output") if isinstance(body, dict) else None
    return output if isinstance(output, str) and output in app.callback_map else "<unknown>"
