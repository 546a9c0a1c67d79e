"""The waste-sorting events of the contract (DESIGN §4): registry, disposals, follow-ups.

These entries arrive on ``{prefix}waste``. A household is known by its ``household_id``
(户号, unique across the subdistrict's waste system); a rental house by its ``house_id``. A
tenant household is bound to one house and its landlord from its move-in to its move-out, so a
disposal keeps its household whoever lives in the house later (docs/waste.md).

Personal data (the household head's and the landlord's names and phones) is carried only by
``household.registered``; no other event stores it. Photos travel by reference (a file or object
key), never as content: a value that looks like image data is refused.
"""

from __future__ import annotations

import functools
from datetime import datetime
from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from cockpit.event_base import BaseEvent
from cockpit.event_fields import DEFAULT_TZ, Ident, Positioned, Text, _clean, _phone, parse_time
from cockpit.waste.disposal_values import MAX_WEIGHT_KG, parse_photo_ref, parse_weight


class WasteClass(StrEnum):
    """Hangzhou's four waste classes (杭州市生活垃圾管理条例)."""

    RECYCLABLE = "recyclable"
    PERISHABLE = "perishable"
    RESIDUAL = "residual"
    HAZARDOUS = "hazardous"


#: Chinese and English labels of each class, as the UI shows them.
CLASS_LABELS: dict[WasteClass, tuple[str, str]] = {
    WasteClass.RECYCLABLE: ("可回收物", "Recyclable"),
    WasteClass.PERISHABLE: ("易腐垃圾", "Perishable"),
    WasteClass.RESIDUAL: ("其他垃圾", "Residual"),
    WasteClass.HAZARDOUS: ("有害垃圾", "Hazardous"),
}
#: Other names producers send for the four (national and other cities' terms, short forms).
_CLASS_ALIASES = {
    "可回收": WasteClass.RECYCLABLE, "可回收垃圾": WasteClass.RECYCLABLE,
    "易腐": WasteClass.PERISHABLE, "厨余垃圾": WasteClass.PERISHABLE,
    "厨余": WasteClass.PERISHABLE, "湿垃圾": WasteClass.PERISHABLE,
    "kitchen": WasteClass.PERISHABLE, "food": WasteClass.PERISHABLE,
    "其他": WasteClass.RESIDUAL, "干垃圾": WasteClass.RESIDUAL, "other": WasteClass.RESIDUAL,
    "有害": WasteClass.HAZARDOUS,
}


def parse_waste_class(value: object) -> WasteClass | None:
    """One of the four classes from its code, label or alias (``perishable``, ``易腐垃圾``).

    Aliases include ``厨余垃圾``, ``湿垃圾`` and ``干垃圾``.

    Raises ValueError naming the four.
    """
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    try:
        return WasteClass(text.lower())
    except ValueError:
        pass
    for kind, (zh, en) in CLASS_LABELS.items():
        if text in (zh, en) or text.lower() == en.lower():
            return kind
    if text in _CLASS_ALIASES or text.lower() in _CLASS_ALIASES:
        return _CLASS_ALIASES.get(text) or _CLASS_ALIASES[text.lower()]
    shown = text if len(text) <= 40 else text[:40] + "…"
    raise ValueError(f"{shown!r} is not one of Hangzhou's four classes (可回收物, 易腐垃圾, "
                     "其他垃圾, 有害垃圾 or recyclable, perishable, residual, hazardous)")


class HouseholdKind(StrEnum):
    """Whether a household lives in its own home or rents."""

    LOCAL = "local"
    TENANT = "tenant"


_KIND_ALIASES = {"本地": HouseholdKind.LOCAL, "本地户": HouseholdKind.LOCAL,
                 "户籍": HouseholdKind.LOCAL, "常住": HouseholdKind.LOCAL,
                 "租户": HouseholdKind.TENANT, "租住": HouseholdKind.TENANT,
                 "外来": HouseholdKind.TENANT, "流动": HouseholdKind.TENANT,
                 "新乔司人": HouseholdKind.TENANT}


def parse_household_kind(value: object) -> HouseholdKind | None:
    """``local``/``tenant`` or 本地/租户 (also 户籍, 外来, 流动). Raises ValueError."""
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    try:
        return HouseholdKind(text.lower())
    except ValueError:
        pass
    for alias, kind in _KIND_ALIASES.items():
        if text.startswith(alias):
            return kind
    raise ValueError(f"{text!r} is not a household kind (local or tenant, 本地 or 租户)")


class Rating(StrEnum):
    """The supervisor's rating of one disposal (三评价)."""

    CORRECT = "correct"
    INCORRECT = "incorrect"


_RATING_ALIASES = {"正确": Rating.CORRECT, "合格": Rating.CORRECT, "准确": Rating.CORRECT,
                   "ok": Rating.CORRECT, "pass": Rating.CORRECT, "1": Rating.CORRECT,
                   "错误": Rating.INCORRECT, "不合格": Rating.INCORRECT,
                   "不准确": Rating.INCORRECT, "fail": Rating.INCORRECT,
                   "0": Rating.INCORRECT}


def parse_rating(value: object) -> Rating | None:
    """``correct``/``incorrect`` or 正确/合格, 错误/不合格 (also 1/0). Raises ValueError."""
    if value is None or not str(value).strip():
        return None
    text = str(value).strip().lower()
    try:
        return Rating(text)
    except ValueError:
        pass
    if text in _RATING_ALIASES:
        return _RATING_ALIASES[text]
    raise ValueError(f"{value!r} is not a rating (correct or incorrect, 正确/合格 or 错误/不合格)")


ClassField = Annotated[WasteClass, BeforeValidator(parse_waste_class)]
OptClass = Annotated[WasteClass | None, BeforeValidator(parse_waste_class)]
Name = Annotated[str | None, BeforeValidator(functools.partial(_clean, limit=64, required=False))]
Phone = Annotated[str | None, BeforeValidator(_phone)]
def _label(value: object, limit: int = 64, required: bool = False) -> str | None:
    """A one-line label: :func:`_clean`, and no control character (ESC, CR, LF, TAB ...)."""
    text = _clean(value, limit=limit, required=required)
    if text is not None and any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise ValueError("contains a control character (one line of text expected)")
    return text


Required = Annotated[str, BeforeValidator(functools.partial(_label, required=True))]
Label = Annotated[str | None, BeforeValidator(_label)]


def _when(value: object, info: ValidationInfo) -> datetime:
    return parse_time(value, (info.context or {}).get("tz", DEFAULT_TZ))


class HouseholdRegistered(Positioned, BaseEvent):
    """``household.registered``: a household joins (or changes) the waste registry (户籍登记).

    Sent again with the same ``household_id``, the latest event's values win. A tenant
    household names its rental house and landlord; its tenancy runs from ``moved_in_at`` until
    a ``household.moved_out``. The house's position (``lon``, ``lat``, ``crs``, as for a
    station) is optional: grids (网格) count households by it, and one without a position is
    counted as 未定位 in its village. Like the address it points at a home, so it is kept only
    in the registry, never in the event history.
    """

    type: Literal["household.registered"]
    household_id: Ident = Field(description="Household id (户号), e.g. QS-CY-03-0123.")
    kind: Annotated[HouseholdKind, BeforeValidator(parse_household_kind)] = Field(
        description="local or tenant (本地 / 租户).")
    village: Required = Field(description="Village/community code or name.")
    grid: Text = Field(default=None, description="Grid (网格) code as the register names it; "
                       "kept in the history only: grids count households by their position.")
    group: Label = Field(default=None, description="Group (组) within the village, e.g. 3组.")
    house_id: Ident | None = Field(default=None, description="The house (出租房 for a tenant) "
                                   "id, e.g. CY-03-012; required for a tenant.")
    address: Text = Field(default=None, description="The house's address as text (shown to "
                          "staff only).")
    landlord_id: Ident | None = Field(default=None, description="The landlord's id; required "
                                      "for a tenant.")
    landlord_name: Name = Field(default=None, description="Landlord's name; masked (周**).")
    landlord_phone: Phone = Field(default=None, description="Landlord's mobile; masked.")
    head_name: Name = Field(default=None, description="Household head (户主); masked.")
    head_phone: Phone = Field(default=None, description="Household head's mobile; masked.")
    members: int | None = Field(default=None, ge=1, le=50, description="People in the household.")
    moved_in_at: datetime | None = Field(default=None, description="Tenant's move-in: ISO-8601 "
                                         "or epoch ms; default `occurred_at`.")

    #: Kept only in the registry (masked on screen), never in the event history.
    PERSONAL: ClassVar[frozenset[str]] = frozenset(
        {"landlord_name", "landlord_phone", "head_name", "head_phone", "address", "lon", "lat"})

    @field_validator("moved_in_at", mode="before")
    @classmethod
    def _parse_moved_in(cls, value: object, info: ValidationInfo) -> datetime | None:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return _when(value, info)

    @model_validator(mode="after")
    def _tenant_bound(self):
        if self.kind is HouseholdKind.TENANT:
            missing = [n for n in ("house_id", "landlord_id") if getattr(self, n) is None]
            if missing:
                raise ValueError(f"a tenant household needs {' and '.join(missing)}")
        if self.moved_in_at is None:
            object.__setattr__(self, "moved_in_at", self.occurred_at)
        return self


class HouseholdMovedOut(BaseEvent):
    """``household.moved_out``: a (tenant) household leaves its house; its history stays its own."""

    type: Literal["household.moved_out"]
    household_id: Ident = Field(description="The household that left.")
    reason: Text = Field(default=None, description="Why, e.g. 合同到期.")


class StationRegistered(Positioned, BaseEvent):
    """``station.registered``: a collection station (投放点, 智能回收站) with its place."""

    type: Literal["station.registered"]
    station_id: Ident = Field(description="Station id, e.g. QS-CY-ST-01.")
    name: Required = Field(description="Station name, e.g. 朝阳村3组投放点.")
    village: Required = Field(description="Village/community code or name it serves.")
    status: Literal["active", "closed"] = Field(default="active", description="active or closed.")


class WasteDisposal(BaseEvent):
    """``waste.disposal``: one household's disposal at a station, rated by its supervisor.

    The supervisor photographs (一拍), weighs (二称) and rates (三评价) it. ``household_id``
    names the household; a card bound to a rental house may send ``house_id`` instead, and
    the disposal goes to the household living there at ``occurred_at``.
    """

    type: Literal["waste.disposal"]
    household_id: Ident | None = Field(default=None, description="Household id (户号).")
    house_id: Ident | None = Field(default=None, description="House id, when the card is the "
                                   "house's; one of the two is required.")
    station_id: Ident = Field(description="Station where it was disposed.")
    supervisor_id: Ident | None = Field(default=None,
                                        description="Supervisor (督导员) id, no name.")
    photo: Annotated[str | None, BeforeValidator(parse_photo_ref)] = Field(
        default=None, description="Photo reference: a key in the photo store (2026/11/29/x.jpg) "
        "or an object URL (oss://bucket/key); never the image itself.")
    weight_kg: Annotated[float, BeforeValidator(parse_weight)] = Field(
        description=f"Weight in kg, above 0 and at most {MAX_WEIGHT_KG:g}.")
    declared_class: ClassField = Field(
        description="Declared class: 可回收物, 易腐垃圾, 其他垃圾 or 有害垃圾 "
        "(recyclable, perishable, residual, hazardous).")
    rating: Annotated[Rating, BeforeValidator(parse_rating)] = Field(
        description="correct or incorrect (正确/合格, 错误/不合格).")
    found_class: OptClass = Field(
        default=None, description="With incorrect: the wrong class found mixed in; required.")
    found_item: Label = Field(
        default=None, description="With incorrect: what was found, e.g. 电池.")

    @model_validator(mode="after")
    def _consistent(self):
        if self.household_id is None and self.house_id is None:
            raise ValueError("household_id or house_id is required")
        if self.rating is Rating.INCORRECT:
            if self.found_class is None:
                raise ValueError("found_class: required when rating is incorrect "
                                 "(the wrong class found)")
            if self.found_class is self.declared_class:
                raise ValueError("found_class: equals declared_class; the wrong class found "
                                 "must differ")
        elif self.found_class is not None or self.found_item is not None:
            raise ValueError("found_class/found_item: only with rating incorrect")
        return self


class FollowUpRef(BaseModel):
    """The follow-up task an event is about."""

    followup_id: Ident = Field(description="The follow-up's id, as listed by the cockpit "
                               "(FU-<household_id>-<yyyymmdd>).")


class FollowUpAssigned(FollowUpRef, BaseEvent):
    """``followup.assigned``: a weak household's follow-up is given to a supervisor or volunteer."""

    type: Literal["followup.assigned"]
    assignee_id: Ident = Field(description="Supervisor id or volunteer id (no name).")
    assignee_kind: Literal["supervisor", "volunteer"] = Field(
        default="supervisor", description="supervisor or volunteer.")
    due_at: datetime | None = Field(default=None, description="Visit by (after `occurred_at`); "
                                    "default: the task's due time (its finding + the rules' "
                                    "`follow_up.due`).")

    @field_validator("due_at", mode="before")
    @classmethod
    def _parse_due(cls, value: object, info: ValidationInfo) -> datetime | None:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return _when(value, info)

    @model_validator(mode="after")
    def _due_ahead(self):
        if self.due_at is not None and self.due_at <= self.occurred_at:
            raise ValueError("due_at must be after occurred_at")
        return self


class FollowUpVisited(FollowUpRef, BaseEvent):
    """``followup.visited``: the household was visited (上门宣传指导) at ``occurred_at``."""

    type: Literal["followup.visited"]
    outcome: Literal["educated", "not_home", "refused", "moved_out"] = Field(
        description="educated (宣传指导到位), not_home (未遇), refused (拒绝), moved_out (已搬离).")
    note: Text = Field(default=None, description="What was said or agreed, as text (no names).")
    by: Ident | None = Field(default=None, description="Who visited: supervisor or volunteer id.")


WASTE_TYPES: dict[str, type[BaseEvent]] = {
    "household.registered": HouseholdRegistered,
    "household.moved_out": HouseholdMovedOut,
    "station.registered": StationRegistered,
    "waste.disposal": WasteDisposal,
    "followup.assigned": FollowUpAssigned,
    "followup.visited": FollowUpVisited,
}
AnyWasteEvent = (HouseholdRegistered | HouseholdMovedOut | StationRegistered | WasteDisposal
                 | FollowUpAssigned | FollowUpVisited)
