"""The read API's ``?at=`` parameter: answer as the store was at a past moment (time machine).

A route that accepts it reads through :func:`moment`: without ``at`` the live store at the
current time; with it the as-of store (:func:`cockpit.timemachine.read_at`) and ``now=at``.
docs/timemachine.md lists the routes that take it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime

from flask import request
from sqlalchemy.orm import Session

from callbacks.auth import current_viewer
from cockpit.clock import utc_now
from cockpit.services import Services
from cockpit.timemachine import check_moment, parse_at, read_at


class BadParameter(ValueError):
    """A query parameter that cannot be used; the message names it."""


Reader = Callable[[], AbstractContextManager[Session]]


def moment(services: Services) -> tuple[datetime, Reader]:
    """Return ``(now, read)`` of this request: the moment it asks for and how to read it.

    Raises
    ------
    BadParameter
        When ``at`` is not ISO-8601 or epoch ms, or lies in the future.
    """
    raw = request.args.get("at")
    if raw is None or not raw.strip():
        return utc_now(), services.read
    try:
        at = check_moment(parse_at(raw, services.settings.tz), tz=services.settings.tz)
    except ValueError as exc:
        raise BadParameter(str(exc)) from None
    who = current_viewer().name or None
    return at, lambda: read_at(services, at, who)
