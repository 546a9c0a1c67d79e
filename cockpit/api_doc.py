"""The OpenAPI 3.1 document of ``/api/v1``.

Routes, parameters and errors, with the schemas of the response models of
:mod:`cockpit.api_spec`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, TypeAdapter

from cockpit import __version__
from cockpit.api_spec import (
    API_PREFIX,
    DeploymentOut,
    ErrorOut,
    HotOut,
    IncidentDetail,
    IncidentList,
    MobilizationList,
    NotificationList,
    OverdueOut,
    RepeatList,
    StatusOut,
    SummaryOut,
    TeamList,
    TimelineOut,
    TrendsOut,
)
from cockpit.api_spec_alerts import AlertList
from cockpit.api_spec_waste import AccuracyOut, FollowupList
from cockpit.vocab import Category, Stage

#: ``period`` values of ``/incidents`` (local days and weeks of the cockpit's zone).
PERIODS = ("today", "week", "7d", "30d")
#: Longest look-back of ``days`` parameters (and longest from/to span of the waste routes).
MAX_DAYS = 366
#: Groupings of ``/waste/accuracy``.
ACCURACY_BY = ("village", "station", "group", "landlord", "day", "week", "month")
#: Statuses of a weak household's follow-up.
FOLLOWUP_STATUSES = ("open", "assigned", "visited", "cancelled")


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema}


def _limit(default: int, high: int) -> dict[str, Any]:
    return _query("limit", f"Page size (1-{high})",
                  {"type": "integer", "minimum": 1, "maximum": high, "default": default})


_ID = {"name": "incident_id", "in": "path", "required": True,
       "description": "Incident id as sent upstream (may contain `/`)",
       "schema": {"type": "string"}}
_OFFSET = _query("offset", "Page offset", {"type": "integer", "minimum": 0, "default": 0})
_FLAG = {"type": "string", "enum": ["0", "1"]}
_CATEGORY = _query("category", "Category code or Chinese label",
                   {"type": "string", "examples": [c.value for c in Category]})
_DAYS = _query("days", f"Look-back in days (1-{MAX_DAYS})",
               {"type": "integer", "minimum": 1, "maximum": MAX_DAYS, "default": 30})


def _incident_params() -> list[dict[str, Any]]:
    from cockpit.queries import MAX_LIMIT, SORTS

    stages = [s.value for s in Stage] + ["open"]
    return [
        _query("stage", "Stage code, or `open` (not closed/cancelled)",
               {"type": "string", "enum": stages}),
        _CATEGORY,
        _query("village", "Village code or name", {"type": "string"}),
        _query("team", "Assigned team (sent, else suggested): team code or name as sent",
               {"type": "string"}),
        _query("q", "Text in the incident id, title or address (case-insensitive)",
               {"type": "string", "maxLength": 200}),
        _query("period", "Reported in this local period: today, this week (from Monday), "
               "the last 7 or 30 local days (today included); not with from/to",
               {"type": "string", "enum": list(PERIODS)}),
        _query("from", "Reported at or after: local date (YYYY-MM-DD: its 00:00), ISO-8601 "
               "or epoch ms", {"type": "string"}),
        _query("to", "Reported before: local date (YYYY-MM-DD: that day included), ISO-8601 "
               "or epoch ms", {"type": "string"}),
        _query("since", "ISO-8601 or epoch ms; stage changed at or after", {"type": "string"}),
        _query("overdue", "1: only open incidents past their stage's limit", _FLAG),
        _query("repeats", "1: only members of a repeat group", _FLAG),
        _query("sort", "Sort column (ties by incident id)",
               {"type": "string", "enum": list(SORTS), "default": "stage_at"}),
        _query("dir", "Sort direction", {"type": "string", "enum": ["asc", "desc"],
                                         "default": "desc"}),
        _limit(100, MAX_LIMIT), _OFFSET,
    ]

#: The time machine (docs/timemachine.md): the answer as the store was at a past moment.
_AT = _query("at", "A past moment: ISO-8601 (without offset: the cockpit's zone) or epoch "
             "ms; the answer is computed from the events up to it (time machine). "
             "Default: now", {"type": "string", "examples": ["2026-12-03T02:00:00+08:00"]})

def _waste_accuracy_params() -> list[dict[str, Any]]:
    return [
        _query("by", "Grouping (group keys: `<village_code>|<group>`)",
               {"type": "string", "enum": list(ACCURACY_BY), "default": "village"}),
        _query("from", "First local day, YYYY-MM-DD (default: 6 days before `to`, a week)",
               {"type": "string", "format": "date"}),
        _query("to", "Last local day, YYYY-MM-DD, included (default: today)",
               {"type": "string", "format": "date"}),
    ]


def _routes() -> list[tuple[str, str, str | None, list[dict[str, Any]], tuple[int, ...]]]:
    """(path, summary, response model name, parameters, error statuses) of every route."""
    from cockpit.notices import KINDS

    return [
        ("/incidents", "Incidents matching the filters, latest stage change first",
         "IncidentList", [*_incident_params(), _AT], (400,)),
        ("/incidents/{incident_id}", "One incident: timeline against the limits, events, "
         "notes, notifications, escalations, repeat group, caller (masked)", "IncidentDetail",
         [_ID, _query("reveal", "1: the caller unmasked (roles that may; audited)", _FLAG),
          _AT],
         (400, 403, 404)),
        ("/incidents/{incident_id}/timeline", "One incident's stage timeline, events and "
         "life-cycle notes", "TimelineOut", [_ID], (404,)),
        ("/overdue", "Overdue board: open incidents past their limit, most overdue first",
         "OverdueOut", [_limit(20, 1000), _AT], (400,)),
        ("/teams", "Load per team: open, overdue, reported today (local day)", "TeamList",
         [_AT], (400,)),
        ("/repeats", "Repeat groups (same kind, same place, within the window), largest first",
         "RepeatList", [_DAYS, _limit(50, 200), _AT], (400,)),
        ("/notifications", "Notices to the duty team, newest first", "NotificationList",
         [_query("incident", "Incident id", {"type": "string"}),
          _query("kind", "Notice kind", {"type": "string", "enum": list(KINDS)}),
          _query("acked", "1: acknowledged only, 0: not acknowledged only", _FLAG),
          _limit(100, 1000), _OFFSET], (400,)),
        ("/alerts", "Alerts of the alert rules (docs/alerts.md): active and acknowledged "
         "ones, then those cleared in the last 7 days, newest first", "AlertList",
         [_query("status", "Only alerts of this status", {"type": "string", "enum": [
             "active", "acknowledged", "cleared"]}), _limit(200, 1000)], (400,)),
        ("/analysis/hot", "Village × local hour of day counts of the last `days`",
         "HotOut", [_DAYS, _CATEGORY], (400,)),
        ("/analysis/trends", "Daily counts, time to dispatch and to close, per category",
         "TrendsOut", [_DAYS, _CATEGORY], (400,)),
        ("/summary", "KPI strip and closed-loop funnel of the local day", "SummaryOut", [_AT],
         (400,)),
        ("/volunteers/deployment", "Volunteers per home village now: registered, active, "
         "mobilised, on duty, available (counts only)", "DeploymentOut", [_AT], (400,)),
        ("/volunteers/mobilizations", "Mobilisation funnels (counts only): those on show, open "
         "ones by deadline, then those just past", "MobilizationList",
         [_query("all", "1: every mobilisation, past ones included", _FLAG), _AT], (400,)),
        ("/waste/accuracy", "Sorting accuracy (correct / rated disposals, counts only) per "
         "group over local days, against the target, with the overall", "AccuracyOut",
         [*_waste_accuracy_params(), _AT], (400,)),
        ("/waste/followups", "Weak households' follow-ups: reason and figures, status, due, "
         "visit outcome, accuracy before and after the visit (no one named)", "FollowupList",
         [_query("status", "Status, or several comma-separated",
                 {"type": "string", "examples": list(FOLLOWUP_STATUSES)}),
          _query("village", "Village code or name", {"type": "string"}),
          _limit(100, 500), _AT], (400,)),
        ("/status", "Data version, last ingest commit (epoch ms), server clock, replay",
         "StatusOut", [], (503,)),
        ("/openapi.json", "This document", None, [], ()),
    ]


_ERRORS = {400: "Invalid parameter", 401: "No session: sign in (or the session ended)",
           403: "The role may not", 404: "No such incident (or not in the staff scope)",
           503: "Redis unreachable"}
MODELS: tuple[type[BaseModel], ...] = (
    IncidentList, IncidentDetail, TimelineOut, OverdueOut, TeamList, RepeatList,
    NotificationList, HotOut, TrendsOut, SummaryOut, DeploymentOut, MobilizationList,
    AccuracyOut, FollowupList, AlertList, StatusOut, ErrorOut)


def openapi_document() -> dict[str, Any]:
    """Return the OpenAPI 3.1 document of ``/api/v1`` (schemas from the response models)."""
    schemas: dict[str, Any] = {}
    for model in MODELS:
        schema = TypeAdapter(model).json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema

    def body(description: str, name: str | None) -> dict[str, Any]:
        if name is None:
            return {"description": description}
        return {"description": description, "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{name}"}}}}

    paths = {}
    for path, summary, model, params, errors in _routes():
        responses = {"200": body("OK", model) if model else body("OpenAPI 3.1 document", None)}
        responses.update({str(code): body(_ERRORS[code], "ErrorOut")
                          for code in sorted({401, *errors})})
        operation: dict[str, Any] = {"summary": summary, "responses": responses}
        if params:
            operation["parameters"] = params
        paths[f"{API_PREFIX}{path}"] = {"get": operation}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Qiaosi Cloud Cockpit read API", "version": __version__,
                 "description": "Read models of the cockpit's screens, as JSON. Times are "
                                "ISO-8601 in the cockpit's zone, durations in seconds."},
        "paths": paths,
        "components": {"schemas": schemas},
    }
