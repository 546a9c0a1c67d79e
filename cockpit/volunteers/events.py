"""The volunteer events of the contract (DESIGN §4): registry, activities, mobilisation, sign-ups.

These entries arrive on ``{prefix}volunteers``. A volunteer is known to a platform by its own id
(``volunteer_id``); the key of a volunteer *record* is ``(platform, volunteer_id)``, where
``platform`` defaults to the event's ``source``. Records of one person from several platforms
are joined into one volunteer by :mod:`cockpit.volunteers.registry`.

Personal data (name, phone, ID number) is carried only by ``volunteer.registered`` and
``volunteer.updated``; the ID number is replaced by its keyed hash at validation and never
stored (docs/access.md).
"""

from __future__ import annotations

import functools
import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from cockpit.event_base import BaseEvent
from cockpit.event_fields import DEFAULT_TZ, Ident, Positioned, Text, _clean, _phone, parse_time
from cockpit.privacy import InvalidPersonalData, id_hash

#: Most skills one volunteer or one request may name.
MAX_SKILLS = 20
_SPLIT = re.compile(r"[,，、;；|/\s]+")


class TeamKind(StrEnum):
    """Kind of volunteer team (队伍类别)."""

    PARTY = "party"
    UNION = "union"
    YOUTH = "youth"
    WOMEN = "women"
    GRID = "grid"
    OTHER = "other"


#: Chinese labels producers may send for a team kind, and the UI shows.
TEAM_KIND_LABELS: dict[TeamKind, tuple[str, str]] = {
    TeamKind.PARTY: ("党员先锋队", "Party members"),
    TeamKind.UNION: ("工会", "Union"),
    TeamKind.YOUTH: ("青年突击队", "Youth"),
    TeamKind.WOMEN: ("巾帼志愿队", "Women's"),
    TeamKind.GRID: ("网格队", "Grid"),
    TeamKind.OTHER: ("其他", "Other"),
}
_KIND_ALIASES = {
    "党员": TeamKind.PARTY, "党员先锋": TeamKind.PARTY, "工会": TeamKind.UNION,
    "职工": TeamKind.UNION, "青年": TeamKind.YOUTH, "团员": TeamKind.YOUTH,
    "共青团": TeamKind.YOUTH,
    "妇女": TeamKind.WOMEN, "巾帼": TeamKind.WOMEN, "妇联": TeamKind.WOMEN, "网格": TeamKind.GRID,
    "其他": TeamKind.OTHER,
}


def parse_team_kind(value: object) -> TeamKind | None:
    """Team kind from its code or a Chinese label (``youth``, ``青年突击队``, ``青年``).

    Raises ValueError naming the accepted values.
    """
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    try:
        return TeamKind(text.lower())
    except ValueError:
        pass
    for kind, (zh, _en) in TEAM_KIND_LABELS.items():
        if text == zh:
            return kind
    for alias, kind in _KIND_ALIASES.items():
        if text.startswith(alias):
            return kind
    codes = ", ".join(k.value for k in TeamKind)
    raise ValueError(f"{text!r} is not a team kind ({codes}, or 党员/工会/青年/妇女/网格)")


def parse_skills(value: object) -> tuple[str, ...] | None:
    """Skills as a tuple of distinct tags from a list or ``急救,驾驶、心理疏导`` text.

    Raises ValueError when there are more than :data:`MAX_SKILLS` or one is over 32 characters.
    """
    if value is None:
        return None
    items = value if isinstance(value, list | tuple) else _SPLIT.split(str(value))
    out: list[str] = []
    for item in items:
        tag = _clean(item, limit=32, required=False)
        if tag and tag not in out:
            out.append(tag)
    if len(out) > MAX_SKILLS:
        raise ValueError(f"names {len(out)} skills; at most {MAX_SKILLS}")
    return tuple(out) or None


def parse_ids(value: object) -> tuple[str, ...] | None:
    """Volunteer ids from a list or comma-separated text; at most 100,000, each ≤ 128 chars."""
    if value is None:
        return None
    items = value if isinstance(value, list | tuple) else re.split(r"[,，\s]+", str(value))
    out = tuple(dict.fromkeys(t for t in (str(i).strip() for i in items) if t))
    if len(out) > 100_000:
        raise ValueError(f"names {len(out)} volunteers; at most 100000")
    if any(len(t) > 128 or "\x00" in t for t in out):
        raise ValueError("an id is longer than 128 characters or contains NUL")
    return out or None


def _when(value: object, info: ValidationInfo) -> datetime:
    return parse_time(value, (info.context or {}).get("tz", DEFAULT_TZ))


Name = Annotated[str | None, BeforeValidator(functools.partial(_clean, limit=64, required=False))]
Phone = Annotated[str | None, BeforeValidator(_phone)]
Skills = Annotated[tuple[str, ...] | None, BeforeValidator(parse_skills)]
Kind = Annotated[TeamKind | None, BeforeValidator(parse_team_kind)]


class VolunteerEvent(BaseModel):
    """Fields of every event about one volunteer record (mixed into the contract's BaseEvent)."""

    volunteer_id: Ident = Field(description="The volunteer's id on `platform` (e.g. HQ-000123).")
    platform: Text = Field(
        default=None, description="Platform whose id `volunteer_id` is (红乔先锋, xihu-pioneer, "
        "zhiyuanhui ...); default: the event's `source`.")

    @property
    def record_key(self) -> tuple[str, str]:
        """``(platform, volunteer_id)``: the key of the volunteer record this event is about."""
        return (self.platform or self.source, self.volunteer_id)  # type: ignore[attr-defined]


class Registration(VolunteerEvent):
    """A volunteer record's attributes: the person, team, skills and home village."""

    name: Name = Field(default=None, description="Full name; masked on screen by role (周**).")
    phone: Phone = Field(default=None, description="Mobile number; masked (138****1234).")
    id_number: str | None = Field(
        default=None, description="Resident ID number (GB 11643, 18 characters), used only to "
        "recognise one person across platforms. Replaced by its keyed hash at once; never "
        "stored, logged or shown.")
    #: Set by the cockpit from ``id_number``; not accepted from upstream.
    id_hash: SkipJsonSchema[str | None] = None
    team: Text = Field(default=None, description="Team name, e.g. 乔司街道青年突击队.")
    team_kind: Kind = Field(default=None, description="party, union, youth, women, grid, other "
                            "(or 党员/工会/青年/妇女/网格).")
    skills: Skills = Field(default=None, description="Skills, comma- or 、-separated, e.g. "
                           "急救,驾驶.")
    village: Text = Field(default=None, description="Home village/community: code or name.")
    grid: Text = Field(default=None, description="Home grid (网格) code.")

    #: Attributes a record takes from its latest event that carries them.
    ATTRIBUTES: ClassVar[tuple[str, ...]] = (
        "name", "phone", "id_hash", "team", "team_kind", "skills", "village", "grid")

    @model_validator(mode="before")
    @classmethod
    def _no_upstream_hash(cls, data: Any) -> Any:
        if isinstance(data, dict) and "id_hash" in data:
            data = {k: v for k, v in data.items() if k != "id_hash"}
        return data

    @model_validator(mode="after")
    def _hash_id_number(self, info: ValidationInfo):
        raw = self.id_number
        if raw is None or not str(raw).strip():
            object.__setattr__(self, "id_number", None)
            return self
        key = (info.context or {}).get("pd_key")
        if key is None:
            raise ValueError("id_number: refused, COCKPIT_PD_KEY is not set")
        try:
            digest = id_hash(key, str(raw))
        except InvalidPersonalData as exc:
            raise ValueError(f"id_number: {exc}") from None
        object.__setattr__(self, "id_hash", digest)
        object.__setattr__(self, "id_number", None)
        return self


class VolunteerStatus(StrEnum):
    """Whether a volunteer record may be asked to serve."""

    ACTIVE = "active"
    INACTIVE = "inactive"


class ActivityRef(BaseModel):
    """The activity an attendance event belongs to."""

    activity_id: Ident = Field(description="The activity's id, as in `activity.published`.")


class MobilizationRef(BaseModel):
    """The mobilisation a response belongs to."""

    mobilization_id: Ident = Field(description="The id of its `mobilization.requested`.")


class ActivityWindow(BaseModel):
    """Start and end of an activity, local time unless an offset is given."""

    starts_at: datetime = Field(description="Start: ISO-8601 or epoch ms; naive = Asia/Shanghai.")
    ends_at: datetime = Field(description="End; after `starts_at`.")

    @field_validator("starts_at", "ends_at", mode="before")
    @classmethod
    def _parse_times(cls, value: object, info: ValidationInfo) -> datetime:
        return _when(value, info)

    @model_validator(mode="after")
    def _ordered(self):
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        if (self.ends_at - self.starts_at).total_seconds() > 7 * 86400:
            raise ValueError("the activity lasts more than 7 days; split it")
        return self


class Deadline(BaseModel):
    """The time by which a mobilisation's volunteers must be in place."""

    deadline: datetime = Field(description="In place by: ISO-8601 or epoch ms.")

    @field_validator("deadline", mode="before")
    @classmethod
    def _parse_deadline(cls, value: object, info: ValidationInfo) -> datetime:
        return _when(value, info)


class VolunteerRegistered(Registration, BaseEvent):
    """``volunteer.registered``: a platform registers a volunteer (name required)."""

    type: Literal["volunteer.registered"]
    name: Annotated[str, BeforeValidator(functools.partial(_clean, limit=64, required=True))] = \
        Field(description="Full name; masked on screen by role (周**).")


class VolunteerUpdated(Registration, BaseEvent):
    """``volunteer.updated``: changed attributes of a registered record; absent = unchanged."""

    type: Literal["volunteer.updated"]
    status: VolunteerStatus | None = Field(
        default=None, description="active, or inactive (left the team; not asked any more).")

    ATTRIBUTES: ClassVar[tuple[str, ...]] = (*Registration.ATTRIBUTES, "status")


class ActivityPublished(ActivityWindow, Positioned, ActivityRef, BaseEvent):
    """``activity.published``: an activity with its place, time and the number of people needed.

    Published again with the same ``activity_id``, the latest event's values win.
    """

    type: Literal["activity.published"]
    title: Annotated[str, BeforeValidator(functools.partial(_clean, limit=200, required=True))] = \
        Field(description="Title, e.g. 垃圾分类桶边督导.")
    kind: Text = Field(default=None, description="Kind, e.g. 巡逻, 环境整治, 助老, 督导.")
    place: Text = Field(default=None, description="Where, as text (e.g. 朝阳村文化礼堂).")
    needed: int | None = Field(default=None, ge=0, le=100_000,
                               description="Volunteers needed.")
    team: Text = Field(default=None, description="Organising team.")


class ActivityCheckedIn(VolunteerEvent, ActivityRef, BaseEvent):
    """``activity.checked_in``: a volunteer checks in at an activity (打卡)."""

    type: Literal["activity.checked_in"]


class ActivityCheckedOut(VolunteerEvent, ActivityRef, BaseEvent):
    """``activity.checked_out``: a volunteer checks out (退卡), maybe rated by the organiser."""

    type: Literal["activity.checked_out"]
    rating: int | None = Field(default=None, ge=1, le=5,
                               description="Organiser's rating of this service, 1-5.")


class MobilizationRequested(Deadline, MobilizationRef, BaseEvent):
    """``mobilization.requested``: the centre asks for ``count`` volunteers in a village."""

    type: Literal["mobilization.requested"]
    village: Annotated[str, BeforeValidator(functools.partial(_clean, limit=64, required=True))] = \
        Field(description="Village/community code or name where they are needed.")
    count: int = Field(ge=1, le=100_000, description="Volunteers needed in place.")
    skills: Skills = Field(default=None, description="Skills asked for (any of them), e.g. 急救.")
    title: Text = Field(default=None, description="What for, e.g. 封控区值守.")
    place: Text = Field(default=None, description="Where to report, as text.")
    volunteer_ids: Annotated[tuple[str, ...] | None, BeforeValidator(parse_ids)] = Field(
        default=None, description="Ids (on the event's platform) of the volunteers asked; "
        "default: every active volunteer of the village with one of the skills.")

    @model_validator(mode="after")
    def _deadline_after_request(self):
        if self.deadline <= self.occurred_at:
            raise ValueError("deadline must be after occurred_at")
        return self


class MobilizationResponse(VolunteerEvent, MobilizationRef, BaseEvent):
    """Fields of a volunteer's answer to a mobilisation."""


class MobilizationAccepted(MobilizationResponse):
    """``mobilization.accepted``: the volunteer says they will come."""

    type: Literal["mobilization.accepted"]


class MobilizationDeclined(MobilizationResponse):
    """``mobilization.declined``: the volunteer says they cannot come."""

    type: Literal["mobilization.declined"]


class MobilizationArrived(MobilizationResponse):
    """``mobilization.arrived``: the volunteer is in place (checked in on site)."""

    type: Literal["mobilization.arrived"]


class RecruitmentSignedUp(BaseEvent):
    """``recruitment.signed_up``: one online sign-up to a recruitment campaign.

    Carries no personal data: a sign-up becomes a volunteer with its ``volunteer.registered``.
    """

    type: Literal["recruitment.signed_up"]
    campaign_id: Ident = Field(description="Campaign id, e.g. asian-games-2023.")
    campaign: Text = Field(default=None, description="Campaign title, e.g. 亚运城市志愿者招募.")
    target: int | None = Field(default=None, ge=1, le=10_000_000,
                               description="Sign-ups the campaign aims at.")
    village: Text = Field(default=None, description="Village/community of the applicant.")
    channel: Text = Field(default=None, description="Where they signed up, e.g. 浙里办, 志愿汇.")


VOLUNTEER_TYPES: dict[str, type[BaseEvent]] = {
    "volunteer.registered": VolunteerRegistered,
    "volunteer.updated": VolunteerUpdated,
    "activity.published": ActivityPublished,
    "activity.checked_in": ActivityCheckedIn,
    "activity.checked_out": ActivityCheckedOut,
    "mobilization.requested": MobilizationRequested,
    "mobilization.accepted": MobilizationAccepted,
    "mobilization.declined": MobilizationDeclined,
    "mobilization.arrived": MobilizationArrived,
    "recruitment.signed_up": RecruitmentSignedUp,
}
AnyVolunteerEvent = (
    VolunteerRegistered | VolunteerUpdated | ActivityPublished | ActivityCheckedIn
    | ActivityCheckedOut | MobilizationRequested | MobilizationAccepted | MobilizationDeclined
    | MobilizationArrived | RecruitmentSignedUp
)
