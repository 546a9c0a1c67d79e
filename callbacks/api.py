"""Read API routes under ``/api/v1``: the same read models the pages show, as JSON.

Every route is GET only and answers JSON: a parameter that cannot be used is a 400
``{"error": "<param>: <why>"}``, an unknown route or incident a 404, another method a 405.
The routes and their response models are listed once, in :mod:`cockpit.api_spec`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from zoneinfo import ZoneInfo

from dash import Dash
from flask import jsonify, request

from callbacks.api_params import (
    category_arg,
    choice_arg,
    days_arg,
    flag_arg,
    int_arg,
    time_arg,
)
from callbacks.api_past import BadParameter, moment
from callbacks.auth import audit_view, current_viewer
from callbacks.incidents import scope_of_viewer, scoped_detail, scoped_groups
from callbacks.policy import Policy
from cockpit import alert_queries, governance_queries, queries
from cockpit.access import Capability
from cockpit.api_doc import ACCURACY_BY, FOLLOWUP_STATUSES, MAX_DAYS, PERIODS, openapi_document
from cockpit.api_spec import API_PREFIX
from cockpit.clock import period_bounds, utc_now
from cockpit.geo import resolve_village
from cockpit.notices import KINDS
from cockpit.services import Services
from cockpit.vocab import Stage
from cockpit.volunteers import queries as volunteer_queries
from cockpit.waste import accuracy, followup_board

TIMELINE = "/timeline"
MAX_TEXT = 200


def _reported(tz: ZoneInfo, now: datetime) -> dict:
    period = choice_arg("period", PERIODS)
    start, end = time_arg("from", tz), time_arg("to", tz, end=True)
    if period and (start or end):
        raise BadParameter("period: give either period or from/to, not both")
    if period:
        start, end = period_bounds(period, now, tz)
    if start and end and start >= end:
        raise BadParameter("to: must be later than from")
    return {"reported_from": start, "reported_to": end}


def _filters(services: Services, now: datetime) -> dict:
    args, tz = request.args, services.settings.tz
    out: dict = {}
    if stage := args.get("stage"):
        if stage != "open" and stage not in {s.value for s in Stage}:
            raise BadParameter(f"stage: {stage!r} is not a stage code or 'open'")
        out["stage"] = stage
    out["category"] = category_arg()
    if village := args.get("village"):
        code = resolve_village(village)
        if code is None:
            raise BadParameter(f"village: {village!r} is not a known village code or name")
        out["village"] = code
    team = args.get("team", "").strip() or None
    configured = services.settings.governance.team(team)
    out["team"] = configured.code if configured else team  # a configured team by any name
    if text := args.get("q", "").strip():
        if len(text) > MAX_TEXT:
            raise BadParameter(f"q: longer than {MAX_TEXT} characters")
        out["text"] = text
    out["since"] = time_arg("since", tz)
    out.update(_reported(tz, now))
    if flag_arg("overdue"):
        out["overdue_at"] = now
        out["stage"] = out.get("stage") or "open"
    out["repeats"] = bool(flag_arg("repeats"))
    out["sort"] = choice_arg("sort", tuple(queries.SORTS), "stage_at")
    out["descending"] = choice_arg("dir", ("asc", "desc"), "desc") == "desc"
    out["limit"] = int_arg("limit", 100, 1, queries.MAX_LIMIT)
    out["offset"] = int_arg("offset", 0, 0, 10_000_000)
    return out


def _json_errors(view: Callable) -> Callable:
    @wraps(view)
    def guarded(*args, **kwargs):
        try:
            return view(*args, **kwargs)
        except BadParameter as exc:
            return jsonify({"error": str(exc)}), 400
    return guarded


def _documented(paths) -> Callable[[str], bool]:
    """A test of whether a concrete path is one of the document's (templated) paths."""
    patterns = [re.compile(".+".join(re.escape(p) for p in re.split(r"\{[^}]+\}", path)))
                for path in paths]
    return lambda path: any(p.fullmatch(path) for p in patterns)


#: The rule of each route (callbacks.policy): data needs :attr:`Capability.ITEMS`; the index,
#: the OpenAPI document and the unknown-route answer need a session.
ROUTE_RULES = {"api_incidents": Capability.ITEMS, "api_incident": Capability.ITEMS,
               "api_overdue": Capability.ITEMS, "api_teams": Capability.ITEMS,
               "api_repeats": Capability.ITEMS, "api_notifications": Capability.ITEMS,
               "api_alerts": Capability.ITEMS,
               "api_analysis": Capability.ITEMS, "api_summary": Capability.ITEMS,
               "api_volunteers_deployment": Capability.ITEMS,
               "api_volunteers_mobilizations": Capability.ITEMS,
               "api_waste_accuracy": Capability.ITEMS, "api_waste_followups": Capability.ITEMS,
               "api_openapi": Capability.WALL, "api_index": Capability.WALL,
               "api_unknown": Capability.WALL}


def register(app: Dash, services: Services, policy: Policy | None = None) -> None:
    """Add the ``/api/v1`` routes to the app's Flask server, with their access rules.

    A staff account's answers hold only its villages' items (incidents, volunteers,
    mobilisations, disposals, follow-ups); an incident outside them is a 404. The volunteers'
    and waste routes give counts only. The caller's name and phone are masked; ``?reveal=1``
    on one incident shows them in full to a role that may (staff), and the view is written to
    the audit log.
    """
    server = app.server
    policy = policy or Policy.of(app)
    for endpoint, rule in ROUTE_RULES.items():
        policy.route(endpoint, rule)
    tz = services.settings.tz
    config = services.settings.governance
    document = openapi_document()
    documented = _documented(document["paths"])

    def as_of(now: datetime) -> str:
        return now.astimezone(tz).isoformat(timespec="seconds")

    @server.get(f"{API_PREFIX}/incidents")
    @_json_errors
    def api_incidents():
        now, read = moment(services)
        filters = _filters(services, now)
        filters["scope"] = scope_of_viewer()
        with read() as session:
            items = queries.list_incidents(session, tz, **filters)
            total = queries.count_incidents(session, **filters)
        return jsonify({"items": items, "count": len(items), "total": total,
                        "limit": filters["limit"], "offset": filters["offset"]})

    # One route for both: upstream ids may contain "/", so the id is the rest of the path.
    @server.get(f"{API_PREFIX}/incidents/<path:tail>")
    @_json_errors
    def api_incident(tail: str):
        timeline = tail.endswith(TIMELINE) and len(tail) > len(TIMELINE)
        incident_id = tail[:-len(TIMELINE)] if timeline else tail
        viewer = current_viewer()
        try:
            reveal = bool(flag_arg("reveal"))
        except BadParameter as exc:
            return jsonify({"error": str(exc)}), 400
        if reveal and not viewer.can(Capability.REVEAL):
            return jsonify({"error": "reveal: not permitted for this role",
                            "reason": "forbidden"}), 403
        _, read = moment(services)
        with read() as session:
            detail = governance_queries.incident_detail(session, tz, incident_id, config,
                                                        unmasked=reveal)
        detail = scoped_detail(detail, viewer)
        if detail is None:
            return jsonify({"error": f"no such incident: {incident_id}"}), 404
        if reveal and detail.get("reporter"):
            audit_view(services, viewer, incident_id, "api")
        if timeline:
            detail = {k: detail[k] for k in ("incident_id", "stage", "timeline", "events",
                                             "notes")}
        return jsonify(detail)

    @server.get(f"{API_PREFIX}/overdue")
    @_json_errors
    def api_overdue():
        (now, read), scope = moment(services), scope_of_viewer()
        limit = int_arg("limit", 20, 1, 1000)
        with read() as session:
            if scope is None:
                return jsonify(governance_queries.overdue(session, tz, now, limit=limit))
            board = governance_queries.overdue(session, tz, now, limit=queries.MAX_LIMIT)
            board["items"] = [i for i in board["items"] if i["village_code"] in scope][:limit]
            board["total"] = queries.count_incidents(session, stage="open", overdue_at=now,
                                                     scope=scope)
            return jsonify(board)

    @server.get(f"{API_PREFIX}/teams")
    @_json_errors
    def api_teams():
        now, read = moment(services)
        with read() as session:
            items = governance_queries.team_load(session, tz, config, now=now)
        return jsonify({"as_of": as_of(now), "items": items})

    @server.get(f"{API_PREFIX}/repeats")
    @_json_errors
    def api_repeats():
        (now, read), days, limit = moment(services), int_arg("days", 30, 1, MAX_DAYS), int_arg(
            "limit", 50, 1, 200)
        with read() as session:
            items = governance_queries.repeat_groups(session, tz, now=now, days=days,
                                                     limit=limit)
        scope = scope_of_viewer()
        if scope is not None:  # members of other villages are not named to staff
            items = scoped_groups(services, items, scope)
        return jsonify({"as_of": as_of(now), "days": days, "count": len(items),
                        "items": items})

    @server.get(f"{API_PREFIX}/notifications")
    @_json_errors
    def api_notifications():
        kind = choice_arg("kind", KINDS)
        acked = flag_arg("acked")
        limit, offset = int_arg("limit", 100, 1, 1000), int_arg("offset", 0, 0, 10_000_000)
        with services.read() as session:
            items = governance_queries.list_notifications(
                session, tz, incident_id=request.args.get("incident") or None, kind=kind,
                acked=acked, limit=limit, offset=offset, scope=scope_of_viewer())
        return jsonify({"items": items, "count": len(items), "limit": limit,
                        "offset": offset})

    @server.get(f"{API_PREFIX}/alerts")
    @_json_errors
    def api_alerts():
        status = choice_arg("status", alert_queries.STATUSES)
        limit, now = int_arg("limit", 200, 1, 1000), utc_now()
        with services.read() as session:
            listed = alert_queries.list_alerts(session, tz, status=status, now=now,
                                               limit=limit, scope=scope_of_viewer())
        return jsonify({"as_of": as_of(now), **listed, "count": len(listed["items"])})

    @server.get(f"{API_PREFIX}/analysis/<any(hot, trends):view>")
    @_json_errors
    def api_analysis(view: str):
        from cockpit import analysis  # written beside this module; loaded on first use

        days, category = int_arg("days", 30, 1, MAX_DAYS), category_arg()
        build = analysis.hot_matrix if view == "hot" else analysis.trends
        with services.read() as session:
            return jsonify(build(session, tz, days=days, category=category))

    @server.get(f"{API_PREFIX}/summary")
    @_json_errors
    def api_summary():
        now, read = moment(services)
        with read() as session:
            return jsonify(queries.summary(session, tz, now))

    @server.get(f"{API_PREFIX}/volunteers/deployment")
    @_json_errors
    def api_volunteers_deployment():
        now, read = moment(services)
        with read() as session:
            board = volunteer_queries.deployment(session, services.settings.volunteer_rules,
                                                 now, scope=scope_of_viewer())
        return jsonify({"as_of": as_of(now), **board})

    @server.get(f"{API_PREFIX}/volunteers/mobilizations")
    @_json_errors
    def api_volunteers_mobilizations():
        every, (now, read) = bool(flag_arg("all")), moment(services)
        with read() as session:
            items = volunteer_queries.mobilization_board(
                session, services.settings.volunteer_rules, tz, now, scope=scope_of_viewer(),
                every=every)
        return jsonify({"as_of": as_of(now), "all": every, "count": len(items),
                        "items": items})

    @server.get(f"{API_PREFIX}/waste/accuracy")
    @_json_errors
    def api_waste_accuracy():
        by, (now, read) = choice_arg("by", ACCURACY_BY, "village"), moment(services)
        first, last = days_arg(now.astimezone(tz).date())
        scope = scope_of_viewer()
        with read() as session:
            items = accuracy.accuracy_by(session, by, first, last, scope)
            whole = accuracy.overall(session, first, last, scope)
        return jsonify({"as_of": as_of(now), "by": by, "first_day": first.isoformat(),
                        "last_day": last.isoformat(),
                        "target": services.settings.waste_rules.target,
                        "overall": followup_board.tally_dict(whole), "count": len(items),
                        "items": [{"key": t.key, **followup_board.tally_dict(t)}
                                  for t in items]})

    @server.get(f"{API_PREFIX}/waste/followups")
    @_json_errors
    def api_waste_followups():
        statuses = [s.strip() for s in request.args.get("status", "").split(",") if s.strip()]
        for status in statuses:
            if status not in FOLLOWUP_STATUSES:
                raise BadParameter(f"status: {status[:40]!r}; expected one of "
                                   f"{', '.join(FOLLOWUP_STATUSES)}")
        villages, limit, (now, read) = scope_of_viewer(), int_arg("limit", 100, 1, 500), moment(
            services)
        if village := request.args.get("village", "").strip():
            code = resolve_village(village)
            if code is None:
                raise BadParameter(f"village: {village[:40]!r} is not a known village")
            villages = [code] if villages is None or code in villages else []
        with read() as session:
            rows = followup_board.followup_rows(session, services.settings.waste_rules, tz,
                                                now, villages, statuses or None, limit)
        items = [followup_board.api_item(row) for row in rows]
        return jsonify({"as_of": as_of(now), "count": len(items), "items": items})

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
        if documented(path):
            return jsonify({"error": f"{request.method} is not allowed on {path}; use GET"}), 405
        return jsonify({"error": f"no such API route: {path}"}), 404
