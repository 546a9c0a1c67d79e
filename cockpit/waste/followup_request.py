"""Assign a weak household's follow-up and record its visit from the cockpit (薄弱户跟进).

The cockpit is one more producer here: an act on the follow-ups tab of ``/waste`` is built as
the field map any producer writes (``followup.assigned`` or ``followup.visited``), checked
against the contract (:func:`cockpit.events.parse_event`) before anything is written, and
XADDed once to ``{prefix}waste``; ingest applies it like any other follow-up event
(docs/waste.md). One submission is one event: each form carries a token (a uuid4's hex), the
event id is made from it, and the token is claimed in Redis before the XADD, so a second click
with the same token writes nothing.

Form values are checked here, before the contract: a value the form cannot have produced (a
forged one) is refused with the field's name, never passed on.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import redis

from cockpit.event_fields import MAX_TEXT
from cockpit.events import InvalidEvent, parse_event
from cockpit.settings import Settings
from cockpit.streams import send_once
from cockpit.waste.events import FollowUpAssigned, FollowUpVisited

#: The ``source`` of the events the cockpit writes.
SOURCE = "cockpit"
#: Who a task may be given to.
ASSIGNEE_KINDS = ("supervisor", "volunteer")
#: How a visit ended (the contract's ``outcome``).
OUTCOMES = ("educated", "not_home", "refused", "moved_out")
#: Task statuses an assignment or a visit may still change.
ACTIONABLE = ("open", "assigned")
#: How long a used form token is remembered (a resubmission after that is a new act).
SENT_TTL_S = 86_400
#: Clock skew allowed for a visit time given as "now" by the browser.
_SLACK = timedelta(minutes=1)
_TOKEN = re.compile(r"^[0-9a-f]{32}$")
#: A supervisor's or volunteer's id (SUP-012, HQ-0012345): an id, never a name.
_PERSON_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,63}$")
_TASK_ID = re.compile(r"^[^\x00-\x1f\x7f]{1,200}$")
_LOCAL = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class FollowupRefused(ValueError):
    """An act that is not sent; the message says why.

    ``code`` names what is wrong: ``task``, ``state``, ``assignee``, ``kind``, ``due``,
    ``outcome``, ``note``, ``by``, ``at``, or ``invalid`` (the contract refused the event, or a
    forged token).
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _text(value: object, name: str) -> str:
    """A form value as stripped text; a list, dict or number the form cannot send is refused."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise FollowupRefused(name, f"{name}: not a text value")
    return value.strip()


def task_id_of(value: object) -> str:
    """The follow-up id chosen in the form.

    Raises
    ------
    FollowupRefused
        ``task``: none chosen, or not an id (control characters, over 200 characters).
    """
    text = _text(value, "task")
    if not text:
        raise FollowupRefused("task", "task: choose a follow-up")
    if not _TASK_ID.match(text):
        raise FollowupRefused("task", "task: not a follow-up id")
    return text


def person_id_of(value: object, name: str, required: bool) -> str | None:
    """A supervisor's or volunteer's id (letters, digits and ``_.:/-``; at most 64).

    Raises
    ------
    FollowupRefused
        ``name``: missing when required, or not such an id (a name is refused: the stream and
        the task keep ids only).
    """
    text = _text(value, name)
    if not text:
        if required:
            raise FollowupRefused(name, f"{name}: missing")
        return None
    if not _PERSON_ID.match(text):
        raise FollowupRefused(name, f"{name}: {text[:40]!r} is not an id such as SUP-012 or "
                                    "HQ-0012345")
    return text


def choice_of(value: object, name: str, choices: tuple[str, ...]) -> str:
    """One of ``choices``.

    Raises
    ------
    FollowupRefused
        ``name``: missing or not one of them.
    """
    text = _text(value, name)
    if text not in choices:
        raise FollowupRefused(name, f"{name}: {text[:40]!r} is not one of {', '.join(choices)}")
    return text


def note_of(value: object) -> str | None:
    """The visit's note: stripped text of at most :data:`MAX_TEXT` characters; blank → None.

    Raises
    ------
    FollowupRefused
        ``note``: too long, or a NUL character.
    """
    text = _text(value, "note")
    if len(text) > MAX_TEXT or "\x00" in text:
        raise FollowupRefused("note", f"note: at most {MAX_TEXT} characters of text")
    return text or None


def local_time_of(value: object, name: str, tz: ZoneInfo, day_end: time) -> datetime | None:
    """A local time of the form: ``YYYY-MM-DDTHH:MM`` (datetime-local) or a date (at ``day_end``).

    Raises
    ------
    FollowupRefused
        ``name``: not a local date and time.
    """
    text = _text(value, name)
    if not text:
        return None
    try:
        if _LOCAL.match(text):
            return datetime.fromisoformat(text.replace(" ", "T")).replace(tzinfo=tz)
        if _DAY.match(text):
            return datetime.combine(datetime.fromisoformat(text).date(), day_end, tz)
    except ValueError:
        pass
    raise FollowupRefused(name, f"{name}: {text[:40]!r} is not a local date and time")


def due_of(value: object, now: datetime, tz: ZoneInfo) -> datetime | None:
    """The visit deadline of an assignment: a local time later than ``now``; blank → None.

    A bare date is that day's 18:00. None lets ingest apply the rules' ``follow_up.due``.

    Raises
    ------
    FollowupRefused
        ``due``: unreadable, or not in the future.
    """
    due = local_time_of(value, "due", tz, time(18, 0))
    if due is not None and due <= now:
        raise FollowupRefused("due", "due: must be later than now")
    return due


def visited_at_of(value: object, now: datetime, tz: ZoneInfo, found_at: datetime) -> datetime:
    """When the visit was made: a local time not in the future and not before the finding.

    Blank → ``now``.

    Raises
    ------
    FollowupRefused
        ``at``: unreadable, in the future, or before the task was found.
    """
    at = local_time_of(value, "at", tz, time(12, 0))
    if at is None:
        return now
    if at > now + _SLACK:
        raise FollowupRefused("at", "at: the visit cannot be in the future")
    if at < found_at:
        raise FollowupRefused("at", "at: before the household was found weak")
    return at


def check_task(task: dict[str, Any], action: str) -> None:
    """Refuse an act on a task that is visited or cancelled already.

    Raises
    ------
    FollowupRefused
        ``state``, naming the task's status.
    """
    if task["status"] not in ACTIONABLE:
        raise FollowupRefused("state", f"{action}: the follow-up is {task['status']} already")


def _event_id(token: str) -> str:
    if not isinstance(token, str) or not _TOKEN.match(token):
        raise FollowupRefused("invalid", "token: expected 32 hex digits")
    return f"cockpit:{token[:8]}-{token[8:12]}-{token[12:16]}-{token[16:20]}-{token[20:]}"


def assigned_fields(token: str, followup_id: str, assignee_id: str, assignee_kind: str,
                    now: datetime, due: datetime | None = None) -> dict[str, str]:
    """The ``followup.assigned`` field map of one form submission (``event_id`` from the token).

    Raises
    ------
    FollowupRefused
        ``invalid``: ``token`` is not 32 lower-case hex digits (a uuid4's ``hex``).
    """
    fields = {"event_id": _event_id(token), "type": "followup.assigned",
              "occurred_at": now.isoformat(), "source": SOURCE, "followup_id": followup_id,
              "assignee_id": assignee_id, "assignee_kind": assignee_kind}
    if due is not None:
        fields["due_at"] = due.isoformat()
    return fields


def visited_fields(token: str, followup_id: str, outcome: str, at: datetime,
                   note: str | None = None, by: str | None = None) -> dict[str, str]:
    """The ``followup.visited`` field map of one form submission; ``occurred_at`` is the visit.

    Raises
    ------
    FollowupRefused
        ``invalid``: ``token`` is not 32 lower-case hex digits.
    """
    fields = {"event_id": _event_id(token), "type": "followup.visited",
              "occurred_at": at.isoformat(), "source": SOURCE, "followup_id": followup_id,
              "outcome": outcome}
    fields.update({k: v for k, v in (("note", note), ("by", by)) if v})
    return fields


def validate(fields: dict[str, str], settings: Settings,
             now: datetime) -> FollowUpAssigned | FollowUpVisited:
    """Check ``fields`` as ingest will; returns the event.

    Raises
    ------
    FollowupRefused
        ``invalid``, with the contract's reason.
    """
    try:
        event = parse_event(fields, tz=settings.tz, now=now)
    except InvalidEvent as exc:
        raise FollowupRefused("invalid", str(exc)) from None
    if not isinstance(event, FollowUpAssigned | FollowUpVisited):  # the type is ours
        raise FollowupRefused("invalid", f"type: {fields.get('type')!r}")
    return event


def send(r: redis.Redis, settings: Settings, token: str, fields: dict[str, str]) -> str | None:
    """XADD the event to ``{prefix}waste`` once per form ``token``; returns the entry id.

    None when ``token`` was sent already (:func:`cockpit.streams.send_once`); raises
    redis.RedisError if Redis fails (the token is released, the form can be sent again).
    """
    return send_once(r, settings.key(f"followup:sent:{token}"), settings.stream("waste"),
                     fields, SENT_TTL_S)
