"""Response models of the read API and the OpenAPI document generated from them.

The models mirror :mod:`cockpit.queries`' dicts; tests validate real responses against them,
so the document cannot drift from what the routes serve.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, TypeAdapter

from cockpit import __version__
from cockpit.vocab import Category, Stage

API_PREFIX = "/api/v1"


class IncidentOut(BaseModel):
    """One incident as served by ``/api/v1/incidents``; times ISO-8601 in the local zone."""

    model_config = ConfigDict(extra="forbid")

    incident_id: str
    category: str | None
    priority: str | None
    stage: str
    stage_at: str
    title: str | None
    address: str | None
    lon: float | None
    lat: float | None
    village_code: str | None
    grid: str | None
    team: str | None
    unit: str | None
    source: str
    replay: bool
    reported_at: str | None
    assessed_at: str | None
    dispatched_at: str | None
    arrived_at: str | None
    resolved_at: str | None
    closed_at: str | None
    reopened_at: str | None
    cancelled_at: str | None
    suggested_team: str | None
    assigned_team: str | None
    limit_s: float | None
    due_at: str | None
    escalation_level: int
    repeat_group: str | None
    repeat_size: int
    reopen_count: int
    illegal_count: int


class CategoryCount(BaseModel):
    """Incidents of one category."""

    category: str
    count: int


class StageCount(BaseModel):
    """Incidents that reached one stage."""

    stage: str
    count: int


class SummaryOut(BaseModel):
    """The wall's KPI strip and closed-loop funnel for the local day."""

    model_config = ConfigDict(extra="forbid")

    as_of: str
    day_start: str
    today_total: int
    today_by_category: list[CategoryCount]
    open: int
    closed_today: int
    cancelled_today: int
    median_dispatch_s: float | None
    funnel: list[StageCount]
    last_event_at: str | None


class IncidentList(BaseModel):
    """A page of incidents: ``count`` on this page, ``total`` matching the filters."""

    model_config = ConfigDict(extra="forbid")

    items: list[IncidentOut]
    count: int
    total: int
    limit: int
    offset: int


class StatusOut(BaseModel):
    """Liveness and freshness: what an open screen polls to know its data is current."""

    version: int
    last_commit_ms: int | None
    server_time_ms: int
    replay: dict[str, Any] | None


class ErrorOut(BaseModel):
    """A refused request: which parameter and why (or which route or incident is unknown).

    A 401 adds ``reason`` (``expired``, or ``revoked`` for a kiosk link) and ``signin``.
    """

    error: str
    reason: str | None = None
    signin: str | None = None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OverdueIncident(IncidentOut):
    """An overdue incident: ``late_s`` past its stage's limit, ``stage_s`` in the stage so far."""

    late_s: float
    stage_s: float


class OverdueOut(_Strict):
    """The overdue board: the most overdue open incidents and how many there are."""

    as_of: str
    total: int
    items: list[OverdueIncident]


class StayOut(_Strict):
    """One stage entry of the timeline, with the time spent in it against its limit (s)."""

    stage: str
    entered_at: str
    left_at: str | None
    seconds: float | None
    limit_s: float | None
    over_s: float | None
    cycle: int
    current: bool


class EventOut(_Strict):
    """One stored event of an incident; ``delay_s`` from occurrence to receipt."""

    event_id: str
    source: str
    type: str
    occurred_at: str
    received_at: str
    delay_s: float
    note: str | None
    team: str | None
    unit: str | None


class NoteOut(_Strict):
    """A move the life cycle recorded: an illegal jump, a late or repeated event."""

    at: str
    event_id: str
    type: str
    kind: str
    detail: str
    illegal: bool


class NotificationOut(_Strict):
    """A notice to the duty team, with its delivery and acknowledgement."""

    notification_id: str
    incident_id: str
    kind: str
    level: str
    priority: str | None
    category: str | None
    village_code: str | None
    text_zh: str
    text_en: str
    created_at: str
    ack_due_at: str
    published_at: str | None
    delivered_at: str | None
    delivered_channel: str | None
    acked_at: str | None
    acked_by: str | None
    ack_channel: str | None
    escalated_at: str | None
    parent_id: str | None


class EscalationOut(_Strict):
    """One rung of the escalation ladder raised for an overdue stage."""

    stage: str
    level: str
    due_at: str
    raised_at: str
    notification_id: str


class TimelineOut(_Strict):
    """An incident's stage, timeline against the limits, events and life-cycle notes."""

    incident_id: str
    stage: str
    timeline: list[StayOut]
    events: list[EventOut]
    notes: list[NoteOut]


class ReporterOut(_Strict):
    """The caller: name and phone masked (周**, 138****1234) unless revealed; never the ID."""

    name: str | None
    phone: str | None
    id_on_file: bool
    masked: bool


class IncidentDetail(IncidentOut):
    """One incident with its timeline, history, notes, notices, escalations and repeats."""

    reporter: ReporterOut | None
    timeline: list[StayOut]
    events: list[EventOut]
    notes: list[NoteOut]
    late_count: int
    notifications: list[NotificationOut]
    escalations: list[EscalationOut]
    repeats: list[IncidentOut]


class TeamLoadOut(_Strict):
    """A team's open, overdue and today's incidents (``kind`` None: not configured)."""

    team: str | None
    zh: str | None
    en: str | None
    kind: str | None
    open: int
    overdue: int
    today: int


class TeamList(_Strict):
    """Every configured team, then other teams named in dispatches."""

    as_of: str
    items: list[TeamLoadOut]


class RepeatGroupOut(_Strict):
    """Incidents of one kind at one place within the repeat window; position WGS-84."""

    group: str
    size: int
    category: str | None
    village_code: str | None
    first_at: str | None
    last_at: str | None
    open: int
    lon: float | None
    lat: float | None
    incident_ids: list[str]


class RepeatList(_Strict):
    """Repeat groups with a member reported in the last ``days``, largest first."""

    as_of: str
    days: int
    count: int
    items: list[RepeatGroupOut]


class NotificationList(_Strict):
    """A page of notices, newest first."""

    items: list[NotificationOut]
    count: int
    limit: int
    offset: int


class HotOut(_Strict):
    """Incidents of the last ``days`` local days by village × local hour of day.

    ``counts[v][h]``: village ``villages[v]`` (``unknown``: without a village), hour ``h``;
    the period is ``[since, until)``, local midnights.
    """

    since: str
    until: str
    villages: list[str]
    hours: list[int]
    counts: list[list[int]]
    total: int


class TrendSeries(_Strict):
    """Per local day of one category (or ``all``): reports and median handling times (s)."""

    category: str
    counts: list[int]
    total: int
    median_dispatch_s: list[float | None]
    median_close_s: list[float | None]


class TrendsOut(_Strict):
    """Daily trends per category over ``days`` (local dates, oldest first)."""

    since: str
    until: str
    days: list[str]
    series: list[TrendSeries]


#: ``period`` values of ``/incidents`` (local days and weeks of the cockpit's zone).
PERIODS = ("today", "week", "7d", "30d")
#: Longest look-back of ``days`` parameters.
MAX_DAYS = 366


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


def _routes() -> list[tuple[str, str, str | None, list[dict[str, Any]], tuple[int, ...]]]:
    """(path, summary, response model name, parameters, error statuses) of every route."""
    from cockpit.notices import KINDS

    return [
        ("/incidents", "Incidents matching the filters, latest stage change first",
         "IncidentList", _incident_params(), (400,)),
        ("/incidents/{incident_id}", "One incident: timeline against the limits, events, "
         "notes, notifications, escalations, repeat group, caller (masked)", "IncidentDetail",
         [_ID, _query("reveal", "1: the caller unmasked (roles that may; audited)", _FLAG)],
         (400, 403, 404)),
        ("/incidents/{incident_id}/timeline", "One incident's stage timeline, events and "
         "life-cycle notes", "TimelineOut", [_ID], (404,)),
        ("/overdue", "Overdue board: open incidents past their limit, most overdue first",
         "OverdueOut", [_limit(20, 1000)], (400,)),
        ("/teams", "Load per team: open, overdue, reported today (local day)", "TeamList",
         [], ()),
        ("/repeats", "Repeat groups (same kind, same place, within the window), largest first",
         "RepeatList", [_DAYS, _limit(50, 200)], (400,)),
        ("/notifications", "Notices to the duty team, newest first", "NotificationList",
         [_query("incident", "Incident id", {"type": "string"}),
          _query("kind", "Notice kind", {"type": "string", "enum": list(KINDS)}),
          _query("acked", "1: acknowledged only, 0: not acknowledged only", _FLAG),
          _limit(100, 1000), _OFFSET], (400,)),
        ("/analysis/hot", "Village × local hour of day counts of the last `days`",
         "HotOut", [_DAYS, _CATEGORY], (400,)),
        ("/analysis/trends", "Daily counts, time to dispatch and to close, per category",
         "TrendsOut", [_DAYS, _CATEGORY], (400,)),
        ("/summary", "KPI strip and closed-loop funnel of the local day", "SummaryOut", [], ()),
        ("/status", "Data version, last ingest commit (epoch ms), server clock, replay",
         "StatusOut", [], (503,)),
        ("/openapi.json", "This document", None, [], ()),
    ]


_ERRORS = {400: "Invalid parameter", 401: "No session: sign in (or the session ended)",
           403: "The role may not", 404: "No such incident (or not in the staff scope)",
           503: "Redis unreachable"}
MODELS: tuple[type[BaseModel], ...] = (
    IncidentList, IncidentDetail, TimelineOut, OverdueOut, TeamList, RepeatList,
    NotificationList, HotOut, TrendsOut, SummaryOut, StatusOut, ErrorOut)


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
