"""Read API routes under ``/api/v1``: the same read models the wall page shows, as JSON."""

from __future__ import annotations

from dash import Dash
from flask import jsonify, request

from cockpit import queries
from cockpit.api_spec import API_PREFIX, openapi_document
from cockpit.events import parse_time
from cockpit.geo import resolve_village
from cockpit.services import Services
from cockpit.vocab import Stage, parse_category


class BadParameter(ValueError):
    """A query parameter that cannot be used; the message names it."""


def _int(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadParameter(f"{name}: {raw!r} is not an integer") from None
    if not low <= value <= high:
        raise BadParameter(f"{name}: {value} is outside [{low}, {high}]")
    return value


def _filters(services: Services) -> dict:
    args = request.args
    out: dict = {}
    if stage := args.get("stage"):
        if stage != "open" and stage not in {s.value for s in Stage}:
            raise BadParameter(f"stage: {stage!r} is not a stage code or 'open'")
        out["stage"] = stage
    if category := args.get("category"):
        try:
            out["category"] = parse_category(category).value
        except ValueError as exc:
            raise BadParameter(f"category: {exc}") from None
    if village := args.get("village"):
        code = resolve_village(village)
        if code is None:
            raise BadParameter(f"village: {village!r} is not a known village code or name")
        out["village"] = code
    if since := args.get("since"):
        try:
            out["since"] = parse_time(since, services.settings.tz)
        except ValueError as exc:
            raise BadParameter(f"since: {exc}") from None
    out["limit"] = _int("limit", 100, 1, queries.MAX_LIMIT)
    out["offset"] = _int("offset", 0, 0, 10_000_000)
    return out


def register(app: Dash, services: Services) -> None:
    """Add the ``/api/v1`` routes to the app's Flask server."""
    server = app.server
    tz = services.settings.tz
    document = openapi_document()

    @server.get(f"{API_PREFIX}/incidents")
    def api_incidents():
        try:
            filters = _filters(services)
        except BadParameter as exc:
            return jsonify({"error": str(exc)}), 400
        with services.read() as session:
            items = queries.list_incidents(session, tz, **filters)
        return jsonify({"items": items, "count": len(items), "limit": filters["limit"],
                        "offset": filters["offset"]})

    @server.get(f"{API_PREFIX}/summary")
    def api_summary():
        with services.read() as session:
            return jsonify(queries.summary(session, tz))

    @server.get(f"{API_PREFIX}/openapi.json")
    def api_openapi():
        return jsonify(document)

    @server.get(API_PREFIX)
    @server.get(f"{API_PREFIX}/")
    def api_index():
        return jsonify({"openapi": f"{API_PREFIX}/openapi.json",
                        "routes": sorted(document["paths"])})

    @server.route(f"{API_PREFIX}/<path:unknown>", methods=["GET", "POST", "PUT", "PATCH",
                                                           "DELETE"])
    def api_unknown(unknown: str):
        path = f"{API_PREFIX}/{unknown}"
        if path in document["paths"]:
            return jsonify({"error": f"{request.method} is not allowed on {path}; use GET"}), 405
        return jsonify({"error": f"no such API route: {path}"}), 404
