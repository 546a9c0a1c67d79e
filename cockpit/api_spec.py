"""Response models of the read API (the OpenAPI document is built from them: cockpit.api_doc).

The models mirror :mod:`cockpit.queries`' dicts; tests validate real responses against them,
so the document cannot drift from what the routes serve.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

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
    """A notice to the duty team, with its delivery and acknowledgement (alerts: no incident)."""

    notification_id: str
    incident_id: str | None
    alert_id: str | None
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


class DeploymentCounts(_Strict):
    """Volunteers (people) by state: mobilised and on duty now, available, registered, active."""

    registered: int
    active: int
    mobilised: int
    on_duty: int
    available: int


class DeploymentVillage(DeploymentCounts):
    """One home village's volunteers (``village_code`` None: no village on file)."""

    village_code: str | None


class DeploymentOut(_Strict):
    """Volunteers per village now; ``simulated`` when any comes from a simulated source."""

    as_of: str
    villages: list[DeploymentVillage]
    totals: DeploymentCounts
    simulated: bool


class MobilizationOut(_Strict):
    """One mobilisation's funnel in people (counts only, no one named); times local ISO-8601.

    ``elapsed`` is the share of the time from request to deadline gone (0-1), ``expected`` the
    accepted people the schedule expects by now, ``lag`` the re-call flag (需再动员).
    """

    mobilization_id: str
    title: str | None
    village_code: str | None
    needed: int
    asked: int
    accepted: int
    declined: int
    arrived: int
    unanswered: int
    requested_at: str
    deadline: str
    seconds_left: float
    elapsed: float
    expected: float
    lag: bool
    filled: bool
    recall_count: int
    recalled_at: str | None
    simulated: bool


class MobilizationList(_Strict):
    """Mobilisations on show (``all``: every one), open ones by deadline, then past ones."""

    as_of: str
    all: bool
    count: int
    items: list[MobilizationOut]
