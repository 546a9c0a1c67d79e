"""Field types of the event contract: times, text, ids, positions and a caller's personal data.

The building blocks of :mod:`cockpit.events` (which re-exports the public ones): each validates
and normalises one kind of field and says what is wrong without echoing personal data.
"""

from __future__ import annotations

import functools
import math
import re
from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    StringConstraints,
    ValidationInfo,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from cockpit.crs import CRS, to_wgs84
from cockpit.privacy import InvalidPersonalData, id_hash, normalize_phone
from cockpit.vocab import Category, Priority, parse_category, parse_priority

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
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not a finite number of epoch milliseconds")
        try:
            parsed = datetime.fromtimestamp(float(value) / 1000.0, UTC)
        except (ValueError, OverflowError, OSError):
            raise ValueError(f"{value!r} is outside the years 2000-2100") from None
    else:
        text = str(value).strip()
        if _EPOCH_MS.match(text):
            try:
                parsed = datetime.fromtimestamp(int(text) / 1000.0, UTC)
            except (ValueError, OverflowError, OSError):  # before year 1 or beyond the OS's range
                raise ValueError(f"{text!r} is outside the years 2000-2100") from None
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
            absent = "lat" if self.lat is None else "lon"
            raise ValueError(f"{absent}: required with {'lon' if absent == 'lat' else 'lat'}; "
                             "lon and lat must be given together")
        for name, val in (("lon", self.lon), ("lat", self.lat)):
            if not math.isfinite(val):
                raise ValueError(f"{name}: is not a finite number")
        if not -90 <= self.lat <= 90:
            hint = "; lon and lat swapped?" if -90 <= self.lon <= 90 else ""
            raise ValueError(f"lat: {self.lat} is outside [-90, 90]{hint}")
        if not -180 <= self.lon <= 180:
            raise ValueError(f"lon: {self.lon} is outside [-180, 180]")
        if self.crs is None:
            raise ValueError("crs: is required with lon/lat (wgs84, gcj02 or bd09)")
        lon, lat = to_wgs84(self.lon, self.lat, self.crs)
        area = (info.context or {}).get("area")
        if area is not None and not (area[0] <= lon <= area[2] and area[1] <= lat <= area[3]):
            raise ValueError(
                f"lon/lat: position {lon:.5f}, {lat:.5f} (WGS-84) is outside the service area "
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
