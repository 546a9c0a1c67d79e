"""The event contract: pydantic models of the stream entries upstream producers write.

Each Redis stream entry is a flat map of string fields (DESIGN §4). :func:`parse_event` turns one
such map into a validated, immutable event or raises :class:`InvalidEvent` with a reason a
producer can act on. docs/events.md documents every field; ``cockpit schema`` prints the JSON
Schema generated from these models.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from cockpit.event_base import BaseEvent
from cockpit.event_fields import (  # noqa: F401 - re-exported: the contract's public names
    DEFAULT_TZ,
    MAX_FUTURE_S,
    MAX_TEXT,
    Caller,
    CategoryField,
    Ident,
    InvalidEvent,
    NoticeId,
    Positioned,
    PriorityField,
    Text,
    _optional_fields,
    parse_time,
)
from cockpit.vocab import Priority, Stage
from cockpit.volunteers.events import VOLUNTEER_TYPES, AnyVolunteerEvent
from cockpit.waste.events import WASTE_TYPES, AnyWasteEvent


class IncidentEvent(BaseEvent):
    """Fields of every ``incident.*`` event."""

    incident_id: Ident = Field(
        description="Upstream incident id; all events of one incident share it."
    )
    note: Text = Field(default=None, description="Free text of this step (shown as text).")

    #: The loop stage this event type marks.
    stage: ClassVar[Stage] = Stage.REPORTED


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
    """``metric.observed``: one KPI of another module (数字+经济 ...), on its tile (docs/tiles.md).

    The wall shows it on the tile the tiles file configures for its module and key (and
    village), else on a generic tile.
    """

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
                                           **VOLUNTEER_TYPES, **WASTE_TYPES,
                                           "metric.observed": MetricObserved}

AnyEvent = Annotated[
    IncidentReported | IncidentAssessed | IncidentDispatched | IncidentArrived
    | IncidentResolved | IncidentClosed | IncidentCancelled | IncidentReopened
    | NotificationDelivered | NotificationAcknowledged | MetricObserved | AnyVolunteerEvent
    | AnyWasteEvent,
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


def stream_kind(event: BaseEvent) -> str:
    """Name the stream ``event``'s type belongs on (as :meth:`Settings.stream` takes it).

    Returns ``incidents``, ``volunteers``, ``waste`` or ``metrics``.
    """
    if isinstance(event, MetricObserved):
        return "metrics"
    if event.type in VOLUNTEER_TYPES:
        return "volunteers"
    return "waste" if event.type in WASTE_TYPES else "incidents"


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
        With a reason naming each offending field, e.g. ``lat: 120.3 is outside [-90, 90];
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
