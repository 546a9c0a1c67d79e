"""The envelope every stream entry shares (DESIGN §4): id, type, time and source."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from cockpit.event_fields import DEFAULT_TZ, MAX_FUTURE_S, Ident, _optional_fields, parse_time


class BaseEvent(BaseModel):
    """Fields every entry carries (DESIGN §4)."""

    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)

    event_id: Ident = Field(description="Producer-unique id; a repeat is ignored (idempotent).")
    type: str = Field(description="Event type, e.g. incident.reported.")
    occurred_at: datetime = Field(
        description="When it happened: ISO-8601 with offset or epoch ms; naive = Asia/Shanghai."
    )
    source: Ident = Field(description="Producing system, e.g. linkage-platform or replay:sf_fire.")

    @model_validator(mode="before")
    @classmethod
    def _empty_is_missing(cls, data: Any) -> Any:
        """Treat an empty optional field (``priority ''``, ``lon ''``) as not sent."""
        if isinstance(data, dict):
            optional = _optional_fields(cls)
            blank = [k for k, v in data.items()
                     if k in optional and isinstance(v, str) and not v.strip()]
            if blank:
                data = {k: v for k, v in data.items() if k not in blank}
        return data

    @field_validator("occurred_at", mode="before")
    @classmethod
    def _parse_occurred_at(cls, value: object, info: ValidationInfo) -> datetime:
        context = info.context or {}
        parsed = parse_time(value, context.get("tz", DEFAULT_TZ))
        now = context.get("now") or datetime.now(UTC)
        ahead = (parsed - now).total_seconds()
        if ahead > MAX_FUTURE_S:
            raise ValueError(f"{value!r} is {ahead / 60:.0f} min in the future; the producer's "
                             "clock or time zone is wrong?")
        return parsed

    @property
    def is_replay(self) -> bool:
        """True when the producer is a replay of a recorded feed (source ``replay:...``)."""
        return self.source.startswith("replay:")
