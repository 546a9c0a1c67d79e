"""The event contract: pydantic models of the stream entries upstream producers write.

Each Redis stream entry is a flat map of string fields (DESIGN §4). :func:`parse_event` turns one
such map into a validated, immutable event or raises :class:`InvalidEvent` with a reason a
producer can act on. docs/events.md documents every field; ``cockpit schema`` prints the JSON
Schema generated from these models.
"""

from __future__ import annotations

import functools
import math
import re
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from cockpit.crs import CRS, to_wgs84
from cockpit.privacy import InvalidPersonalData, id_hash, normalize_phone
from cockpit.vocab import Category, Priority, Stage, parse_category, parse_priority

DEFAULT_TZ = ZoneInfo("Asia/Shanghai")
_EPOCH_MS = re.compile(r"^-?\d{10,14}$")

#: Upper bound of any free-text field, in characters.
MAX_TEXT = 2000
#: How far ahead of the cockpit's clock an ``occurred_at`` may be (producers' clock skew), s.
MAX_FUTURE_S = 300


class InvalidEvent(ValueError):
    """An entry that breaks the contract; ``reason`` says which field and why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def parse_time(value: object, tz: ZoneInfo = DEFAULT_TZ) -> datetime:
    """Parse an event time into an aware UTC datetime.

    Parameters
    ----------
    value : str, int, float or datetime
        ISO-8601 with or without offset (``2026-11-29T08:00:00+08:00``), or epoch milliseconds
        (``1764374400000``). A time without offset is local time in ``tz``.
    tz : ZoneInfo
        Zone of naive times; Asia/Shanghai unless configured.

    Returns
    -------
    datetime
        Timezone-aware, in UTC.

    Raises
    ------
    ValueError
        If the value is neither form, or lies before 2000 or after 2100.
    """
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        parsed = datetime.fromtimestamp(float(value) / 1000.0, UTC)
    else:
        text = str(value).strip()
        if _EPOCH_MS.match(text):
            parsed = datetime.fromtimestamp(int(text) / 1000.0, UTC)
        elif text.lstrip("-").isdigit():
            raise ValueError(f"{text!r} is not epoch milliseconds (13 digits) nor ISO-8601")
        else:
            try:
                parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                raise ValueError(
                    f"{text!r} is neither ISO-8601 nor epoch milliseconds"
                ) from None
    if not 2000 <= parsed.year <= 2100:
        numeric = str(value).strip().lstrip("-").isdigit()
        hint = "; epoch seconds instead of milliseconds?" if numeric else ""
        raise ValueError(f"{value!r} is outside the years 2000-2100{hint}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    parsed = parsed.astimezone(UTC)
    if not 2000 <= parsed.year <= 2100:
        numeric = str(value).strip().lstrip("-").isdigit()
        hint = "; epoch seconds instead of milliseconds?" if numeric else ""
        raise ValueError(f"{value!r} is outside the years 2000-2100{hint}")
    return parsed


def _clean(value: object, limit: int, required: bool) -> str | None:
    """Strip text; empty → None (or "is empty" when required); refuse NUL and over-long text."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        if required:
            raise ValueError("is empty")
        return None
    if "\x00" in text:
        raise ValueError("contains a NUL character")
    if len(text) > limit:
        raise ValueError(f"is {len(text)} characters long; at most {limit}")
    return text


@functools.cache
def _optional_fields(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(n for n, f in model.model_fields.items() if not f.is_required())


Text = Annotated[
    str | None,
    BeforeValidator(functools.partial(_clean, limit=MAX_TEXT, required=False)),
    Field(default=None, json_schema_extra={"maxLength": MAX_TEXT}),
]
#: Ids are checked natively by pydantic-core (no Python call per field: the ingest hot path).
Ident = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=128,
                      pattern=r"^[^\x00]*$"),
]
#: Notification ids extend incident ids (``<incident_id>/new``, ``.../overdue/...``).
NoticeId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200,
                      pattern=r"^[^\x00]*$"),
]
CategoryField = Annotated[Category, BeforeValidator(parse_category)]
PriorityField = Annotated[Priority, BeforeValidator(parse_priority)]


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


class IncidentEvent(BaseEvent):
    """Fields of every ``incident.*`` event."""

    incident_id: Ident = Field(
        description="Upstream incident id; all events of one incident share it."
    )
    note: Text = Field(default=None, description="Free text of this step (shown as text).")

    #: The loop stage this event type marks.
    stage: ClassVar[Stage] = Stage.REPORTED


class Positioned(BaseModel):
    """Optional position, converted to WGS-84 on the way in."""

    lon: float | None = Field(default=None, description="Longitude, degrees, in `crs`.")
    lat: float | None = Field(default=None, description="Latitude, degrees, in `crs`.")
    crs: CRS | None = Field(
        default=None, description="Datum of lon/lat: wgs84, gcj02 or bd09; required with them."
    )
    village: Text = Field(
        default=None, description="Village/community code or name; else spatial join."
    )
    grid: Text = Field(default=None, description="Grid (网格) code.")
    address: Text = Field(default=None, description="Street address as text.")

    @model_validator(mode="after")
    def _to_wgs84(self, info: ValidationInfo):
        if self.lon is None and self.lat is None:
            return self
        if self.lon is None or self.lat is None:
            raise ValueError("lon and lat must be given together")
        for name, val in (("lon", self.lon), ("lat", self.lat)):
            if not math.isfinite(val):
                raise ValueError(f"{name} is not a finite number")
        if not -90 <= self.lat <= 90:
            hint = "; lon and lat swapped?" if -90 <= self.lon <= 90 else ""
            raise ValueError(f"lat {self.lat} is outside [-90, 90]{hint}")
        if not -180 <= self.lon <= 180:
            raise ValueError(f"lon {self.lon} is outside [-180, 180]")
        if self.crs is None:
            raise ValueError("crs is required with lon/lat (wgs84, gcj02 or bd09)")
        lon, lat = to_wgs84(self.lon, self.lat, self.crs)
        area = (info.context or {}).get("area")
        if area is not None and not (area[0] <= lon <= area[2] and area[1] <= lat <= area[3]):
            raise ValueError(
                f"position lon {lon:.5f}, lat {lat:.5f} (WGS-84) is outside the service area "
                f"{tuple(round(a, 3) for a in area)}; wrong crs or swapped lon/lat?"
            )
        object.__setattr__(self, "lon", lon)
        object.__setattr__(self, "lat", lat)
        object.__setattr__(self, "crs", CRS.WGS84)
        return self


def _phone(value: object) -> str | None:
    text = _clean(value, limit=32, required=False)
    if text is None:
        return None
    try:
        return normalize_phone(text)
    except InvalidPersonalData as exc:
        raise ValueError(str(exc)) from None


class Caller(BaseModel):
    """The caller (报警人) of an incident: personal data, stored minimised (docs/access.md)."""

    reporter_name: Annotated[
        str | None, BeforeValidator(functools.partial(_clean, limit=64, required=False)),
    ] = Field(default=None, description="Caller's name; masked on screen by role (周**).")
    reporter_phone: Annotated[str | None, BeforeValidator(_phone)] = Field(
        default=None, description="Caller's phone number; digits kept, masked (138****1234).")
    reporter_id_number: str | None = Field(
        default=None, description="Caller's resident ID number (GB 11643, 18 characters). "
        "Replaced by its keyed hash at once; never stored, logged or shown.")
    #: Set by the cockpit from ``reporter_id_number``; not accepted from upstream.
    reporter_id_hash: SkipJsonSchema[str | None] = None

    @model_validator(mode="before")
    @classmethod
    def _no_upstream_hash(cls, data: Any) -> Any:
        if isinstance(data, dict) and "reporter_id_hash" in data:
            data = {k: v for k, v in data.items() if k != "reporter_id_hash"}
        return data

    @model_validator(mode="after")
    def _hash_id_number(self, info: ValidationInfo):
        raw = self.reporter_id_number
        if raw is None or not str(raw).strip():
            object.__setattr__(self, "reporter_id_number", None)
            return self
        key = (info.context or {}).get("pd_key")
        if key is None:
            raise ValueError("reporter_id_number: refused, COCKPIT_PD_KEY is not set")
        try:
            digest = id_hash(key, str(raw))
        except InvalidPersonalData as exc:
            raise ValueError(f"reporter_id_number: {exc}") from None
        object.__setattr__(self, "reporter_id_hash", digest)
        object.__setattr__(self, "reporter_id_number", None)
        return self


class IncidentReported(Caller, Positioned, IncidentEvent):
    """``incident.reported``: an incident enters the loop (信息收集)."""

    type: Literal["incident.reported"]
    category: CategoryField = Field(description="Category code or Chinese label, e.g. fire / 火情.")
    priority: PriorityField = Field(
        default=Priority.NORMAL,
        description="critical/urgent/normal/low, 特急/紧急/一般/较低 or 1-4.",
    )
    title: Text = Field(default=None, description="Short title, e.g. the upstream call type.")
    stage: ClassVar[Stage] = Stage.REPORTED


class IncidentAssessed(Positioned, IncidentEvent):
    """``incident.assessed``: triage done (分析研判); may correct category and priority."""

    type: Literal["incident.assessed"]
    category: CategoryField | None = Field(default=None, description="Corrected category.")
    priority: PriorityField | None = Field(default=None, description="Corrected priority.")
    stage: ClassVar[Stage] = Stage.ASSESSED


class IncidentDispatched(IncidentEvent):
    """``incident.dispatched``: a team or unit is sent (分类处置)."""

    type: Literal["incident.dispatched"]
    team: Text = Field(default=None, description="Responsible team, e.g. 综治队一中队.")
    unit: Text = Field(default=None, description="Unit sent, e.g. E32.")
    stage: ClassVar[Stage] = Stage.DISPATCHED


class IncidentArrived(IncidentEvent):
    """``incident.arrived``: first unit on scene."""

    type: Literal["incident.arrived"]
    unit: Text = Field(default=None, description="Unit on scene.")
    stage: ClassVar[Stage] = Stage.ARRIVED


class IncidentResolved(IncidentEvent):
    """``incident.resolved``: disposal done on scene."""

    type: Literal["incident.resolved"]
    disposition: Text = Field(default=None, description="Outcome, e.g. Code 2 Transport.")
    stage: ClassVar[Stage] = Stage.RESOLVED


class IncidentClosed(IncidentEvent):
    """``incident.closed``: feedback confirmed, the loop is closed (跟踪反馈)."""

    type: Literal["incident.closed"]
    disposition: Text = Field(default=None, description="Final disposition.")
    satisfaction: int | None = Field(default=None, ge=1, le=5, description="Reporter's rating 1-5.")
    stage: ClassVar[Stage] = Stage.CLOSED


class IncidentCancelled(IncidentEvent):
    """``incident.cancelled``: withdrawn (duplicate, false alarm)."""

    type: Literal["incident.cancelled"]
    reason: Text = Field(default=None, description="Why it was cancelled.")
    stage: ClassVar[Stage] = Stage.CANCELLED


class IncidentReopened(IncidentEvent):
    """``incident.reopened``: a resolved, closed or cancelled incident is taken up again."""

    type: Literal["incident.reopened"]
    reason: Text = Field(default=None, description="Why it was reopened, e.g. 群众不满意.")
    stage: ClassVar[Stage] = Stage.REOPENED


class NotificationReceipt(BaseEvent):
    """Fields of the ``notification.*`` receipts the gateway or a wall screen sends back."""

    notification_id: NoticeId = Field(
        description="The `notification_id` of the entry read from `{prefix}notifications`."
    )
    channel: Text = Field(default=None, description="How: sms, voice, screen, app.")


class NotificationDelivered(NotificationReceipt):
    """``notification.delivered``: the gateway delivered the notice (SMS sent, call answered)."""

    type: Literal["notification.delivered"]


class NotificationAcknowledged(NotificationReceipt):
    """``notification.acknowledged``: someone on duty confirmed the notice (收到)."""

    type: Literal["notification.acknowledged"]
    by: Text = Field(default=None, description="Who acknowledged: account or screen id, no name.")
    origin: Text = Field(default=None, description="Where from: screen name or IP address.")


class MetricObserved(BaseEvent):
    """``metric.observed``: one KPI value from another module (数字+经济, 数字+服务 ...)."""

    type: Literal["metric.observed"]
    module: Ident = Field(description="Module, e.g. economy, service.")
    key: Ident = Field(description="KPI key within the module, e.g. enterprises_served.")
    value: float = Field(description="The value, in `unit`.")
    unit: Text = Field(default=None, description="Unit of value, e.g. kg, %, 人.")
    village: Text = Field(default=None, description="Village code or name, when per village.")

    @field_validator("value")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("is not a finite number")
        return value


INCIDENT_TYPES: dict[str, type[IncidentEvent]] = {
    "incident.reported": IncidentReported,
    "incident.assessed": IncidentAssessed,
    "incident.dispatched": IncidentDispatched,
    "incident.arrived": IncidentArrived,
    "incident.resolved": IncidentResolved,
    "incident.closed": IncidentClosed,
    "incident.cancelled": IncidentCancelled,
    "incident.reopened": IncidentReopened,
}
RECEIPT_TYPES: dict[str, type[NotificationReceipt]] = {
    "notification.delivered": NotificationDelivered,
    "notification.acknowledged": NotificationAcknowledged,
}
EVENT_TYPES: dict[str, type[BaseEvent]] = {**INCIDENT_TYPES, **RECEIPT_TYPES,
                                           "metric.observed": MetricObserved}

AnyEvent = Annotated[
    IncidentReported | IncidentAssessed | IncidentDispatched | IncidentArrived
    | IncidentResolved | IncidentClosed | IncidentCancelled | IncidentReopened
    | NotificationDelivered | NotificationAcknowledged | MetricObserved,
    Field(discriminator="type"),
]


def _reason(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            msg = "required field is missing"
        elif err["type"] == "string_too_short" and err["ctx"].get("min_length") == 1:
            msg = "is empty"
        elif err["type"] == "string_pattern_mismatch":
            msg = "contains a NUL character"  # the only pattern of the contract
        parts.append(f"{where}: {msg}" if where else msg)
    return "; ".join(parts)


def parse_event(
    fields: dict[str, Any],
    tz: ZoneInfo = DEFAULT_TZ,
    area: tuple[float, float, float, float] | None = None,
    now: datetime | None = None,
    pd_key: bytes | None = None,
) -> BaseEvent:
    """Validate one stream entry and return its event.

    Parameters
    ----------
    fields : dict of str to str
        The entry's field map, already decoded to text.
    tz : ZoneInfo
        Zone of naive ``occurred_at`` values.
    area : tuple of float, optional
        Service area ``(min_lon, min_lat, max_lon, max_lat)``, degrees WGS-84; a position
        outside it is refused (it is almost always a wrong ``crs`` or swapped lon/lat).
    now : datetime, optional
        The cockpit's clock (aware); an ``occurred_at`` more than :data:`MAX_FUTURE_S` ahead
        of it is refused. Defaults to the current time.
    pd_key : bytes, optional
        ``COCKPIT_PD_KEY``: an ID number is replaced by its keyed hash; without a key an event
        carrying one is refused.

    Returns
    -------
    BaseEvent
        One of the models of :data:`EVENT_TYPES`, frozen; coordinates in WGS-84, times in UTC.

    Raises
    ------
    InvalidEvent
        With a reason naming each offending field, e.g. ``lat: lat 120.3 is outside [-90, 90];
        lon and lat swapped?``.
    """
    kind = fields.get("type")
    model = EVENT_TYPES.get(str(kind).strip()) if kind is not None else None
    if model is None:
        known = ", ".join(EVENT_TYPES)
        got = "missing" if kind is None else repr(kind)
        raise InvalidEvent(f"type: {got}; expected one of {known}")
    try:
        return model.model_validate(fields, context={"tz": tz, "area": area, "now": now,
                                                     "pd_key": pd_key})
    except ValidationError as exc:
        raise InvalidEvent(_reason(exc)) from None


def json_schema() -> dict[str, Any]:
    """Return the JSON Schema (draft 2020-12) of every event type, as one discriminated union."""
    return TypeAdapter(AnyEvent).json_schema(mode="validation")
