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
    """A page of incidents."""

    items: list[IncidentOut]
    count: int
    limit: int
    offset: int


class StatusOut(BaseModel):
    """Liveness and freshness: what an open screen polls to know its data is current."""

    version: int
    last_commit_ms: int | None
    server_time_ms: int
    replay: dict[str, Any] | None


class ErrorOut(BaseModel):
    """A refused request: which parameter and why."""

    error: str


def _param(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema}


def openapi_document() -> dict[str, Any]:
    """Return the OpenAPI 3.1 document of ``/api/v1`` (schemas from the response models)."""
    schemas: dict[str, Any] = {}
    for model in (IncidentList, SummaryOut, StatusOut, ErrorOut):
        schema = TypeAdapter(model).json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema

    def ok(name: str) -> dict[str, Any]:
        return {"description": "OK", "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{name}"}}}}

    bad = {"description": "Invalid parameter", "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/ErrorOut"}}}}
    stages = [s.value for s in Stage] + ["open"]
    return {
        "openapi": "3.1.0",
        "info": {"title": "Qiaosi Cloud Cockpit read API", "version": __version__,
                 "description": "Read models of the cockpit's screens, as JSON."},
        "paths": {
            f"{API_PREFIX}/incidents": {"get": {
                "summary": "Incidents, latest stage change first",
                "parameters": [
                    _param("stage", "Stage code, or `open` (not closed/cancelled)",
                           {"type": "string", "enum": stages}),
                    _param("category", "Category code or Chinese label",
                           {"type": "string", "examples": [c.value for c in Category]}),
                    _param("village", "Village code or name", {"type": "string"}),
                    _param("since", "ISO-8601 or epoch ms; stage changed at or after",
                           {"type": "string"}),
                    _param("limit", "Page size (1-1000)",
                           {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}),
                    _param("offset", "Page offset", {"type": "integer", "minimum": 0}),
                ],
                "responses": {"200": ok("IncidentList"), "400": bad},
            }},
            f"{API_PREFIX}/summary": {"get": {
                "summary": "KPI strip and closed-loop funnel of the local day",
                "responses": {"200": ok("SummaryOut")},
            }},
            f"{API_PREFIX}/status": {"get": {
                "summary": "Data version, last ingest commit (epoch ms), server clock, replay",
                "responses": {"200": ok("StatusOut"),
                              "503": {"description": "Redis unreachable", "content": {
                                  "application/json": {"schema": {
                                      "$ref": "#/components/schemas/ErrorOut"}}}}},
            }},
            f"{API_PREFIX}/openapi.json": {"get": {
                "summary": "This document",
                "responses": {"200": {"description": "OpenAPI 3.1 document"}},
            }},
        },
        "components": {"schemas": schemas},
    }
