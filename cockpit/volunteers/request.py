"""Request a mobilisation from the cockpit (发起动员): the cockpit as one more producer.

A request made on the volunteers page is built as the field map any producer writes, checked
against the contract (:func:`cockpit.events.parse_event`) before anything is written, and
XADDed to ``{prefix}volunteers``; ingest applies it like any other ``mobilization.requested``
(docs/volunteers.md). One submission is one event: the form carries a token (a uuid4), the event
id and the mobilisation id are made from it, and the token is claimed in Redis before the XADD,
so a second click with the same token writes nothing.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from cockpit.events import InvalidEvent, parse_event
from cockpit.settings import Settings
from cockpit.store.volunteer_models import Volunteer
from cockpit.streams import send_once
from cockpit.volunteers.events import MobilizationRequested, parse_skills

#: The ``source`` of the events the cockpit writes.
SOURCE = "cockpit"
#: Most volunteers one request from the page may ask for.
MAX_COUNT = 10_000
#: Deadlines the form offers, minutes from now.
IN_MINUTES = (15, 30, 60, 120)
#: Longest deadline given in minutes (a week).
MAX_MINUTES = 7 * 24 * 60
#: How long a used form token is remembered (a resubmission after that is a new request).
SENT_TTL_S = 86_400
_TOKEN = re.compile(r"^[0-9a-f]{32}$")
_LOCAL = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?$")
_CLOCK = re.compile(r"^\d{1,2}:\d{2}$")


class RequestRefused(ValueError):
    """A request that is not sent; the message says why.

    ``code`` names the field: ``village``, ``count``, ``skills``, ``deadline``, or ``invalid``
    (the contract refused the event).
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def count_of(value: object) -> int:
    """The number of volunteers asked for, 1 to :data:`MAX_COUNT`.

    Raises
    ------
    RequestRefused
        ``count``: not a whole number, or outside the range.
    """
    try:
        number = int(str(value).strip())
    except ValueError:
        raise RequestRefused("count", f"count: {value!r} is not a whole number") from None
    if not 1 <= number <= MAX_COUNT:
        raise RequestRefused("count", f"count: {number} is outside [1, {MAX_COUNT}]")
    return number


def skills_of(chosen: list[str] | None, typed: str | None) -> tuple[str, ...]:
    """Skills chosen from the registry and typed (``急救，驾驶``), distinct, in that order.

    Raises
    ------
    RequestRefused
        ``skills``: more than the contract allows, or one too long.
    """
    try:
        return parse_skills(",".join([*(chosen or []), typed or ""])) or ()
    except ValueError as exc:
        raise RequestRefused("skills", f"skills: {exc}") from None


def deadline_of(minutes: object, at: str | None, now: datetime, tz: ZoneInfo) -> datetime:
    """The deadline: ``at`` when given, else ``minutes`` from ``now``.

    Parameters
    ----------
    minutes : int or str or None
        Minutes from now, 1 to :data:`MAX_MINUTES` (the form offers :data:`IN_MINUTES`).
    at : str, optional
        A local time in ``tz``: ``YYYY-MM-DDTHH:MM`` (a browser's datetime-local value), or
        ``HH:MM`` of today. A time already past is returned as it is: the contract refuses it.
    now : datetime
        Aware; the request's ``occurred_at``.

    Raises
    ------
    RequestRefused
        ``deadline``: neither given, or not readable.
    """
    text = (at or "").strip()
    if text:
        try:
            if _LOCAL.match(text):
                return datetime.fromisoformat(text.replace(" ", "T")).replace(tzinfo=tz)
            if _CLOCK.match(text):
                hour, minute = (int(p) for p in text.split(":"))
                return datetime.combine(now.astimezone(tz).date(), time(hour, minute), tz)
        except ValueError:
            pass
        raise RequestRefused("deadline", f"deadline: {text!r} is not a local date and time")
    try:
        number = int(str(minutes).strip())
    except ValueError:
        raise RequestRefused("deadline", "deadline: choose a time or minutes from now") from None
    if not 1 <= number <= MAX_MINUTES:
        raise RequestRefused("deadline", f"deadline: {number} min is outside [1, {MAX_MINUTES}]")
    return now + timedelta(minutes=number)


def mobilization_id_of(token: str, now: datetime, tz: ZoneInfo) -> str:
    """``MOB-<local date YYYYMMDD>-<first 8 hex digits of the token>``."""
    return f"MOB-{now.astimezone(tz):%Y%m%d}-{token[:8]}"


def build_fields(token: str, *, village: str, count: int, deadline: datetime, now: datetime,
                 tz: ZoneInfo, skills: tuple[str, ...] = (), title: str | None = None,
                 place: str | None = None) -> dict[str, str]:
    """The ``mobilization.requested`` field map of one form submission.

    ``event_id`` is ``cockpit:<token as uuid>``, ``source`` :data:`SOURCE`, ``occurred_at``
    ``now``; empty optional fields are left out.

    Raises
    ------
    ValueError
        If ``token`` is not 32 lower-case hex digits (a uuid4's ``hex``).
    """
    if not _TOKEN.match(token or ""):
        raise ValueError("token: expected 32 hex digits")
    uuid = f"{token[:8]}-{token[8:12]}-{token[12:16]}-{token[16:20]}-{token[20:]}"
    fields = {"event_id": f"cockpit:{uuid}", "type": "mobilization.requested",
              "occurred_at": now.isoformat(), "source": SOURCE,
              "mobilization_id": mobilization_id_of(token, now, tz), "village": village,
              "count": str(count), "deadline": deadline.isoformat()}
    optional = {"skills": ",".join(skills), "title": (title or "").strip(),
                "place": (place or "").strip()}
    fields.update({k: v for k, v in optional.items() if v})
    return fields


def validate(fields: dict[str, str], settings: Settings, now: datetime) -> MobilizationRequested:
    """Check ``fields`` as ingest will; returns the event.

    Raises
    ------
    RequestRefused
        ``invalid``, with the contract's reason (``deadline must be after occurred_at``).
    """
    try:
        event = parse_event(fields, tz=settings.tz, now=now)
    except InvalidEvent as exc:
        raise RequestRefused("invalid", str(exc)) from None
    if not isinstance(event, MobilizationRequested):  # the type is ours: cannot happen
        raise RequestRefused("invalid", f"type: {fields.get('type')!r}")
    return event


def send(r: redis.Redis, settings: Settings, token: str, fields: dict[str, str]) -> str | None:
    """XADD the request to ``{prefix}volunteers`` once per form ``token``; returns the entry id.

    None when ``token`` was sent already (:func:`cockpit.streams.send_once`); raises
    redis.RedisError if Redis fails (the token is released, the form can be sent again).
    """
    return send_once(r, settings.key(f"mobilize:sent:{token}"), settings.stream("volunteers"),
                     fields, SENT_TTL_S)


def registry_skills(session: Session, limit: int = 200) -> list[str]:
    """Skills of active volunteers, most common first (ties by name); at most ``limit``."""
    counts: Counter[str] = Counter()
    for (skills,) in session.execute(select(Volunteer.skills)
                                     .where(Volunteer.status == "active")):
        counts.update(s for s in skills or [] if s)
    return [s for s, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]]
