"""Moments given to the time machine: parsed from URLs and checked (not in the future)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from cockpit.event_fields import parse_time

#: ``…T02:00:00 08:00``: an offset whose ``+`` a URL turned into a space.
_PLUS_AS_SPACE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?) (\d\d:?\d\d)$")
#: A moment this little ahead of the server's clock is taken as now (clocks of browsers).
CLOCK_SLACK = timedelta(seconds=2)


def parse_at(value: str, tz) -> datetime:
    """Parse a moment given in a URL: ISO-8601 (with offset, or local in ``tz``) or epoch ms.

    An offset's ``+`` pasted into a URL unencoded arrives as a space
    (``2026-12-03T02:00:00 08:00``): it is read as the ``+`` it was.

    Returns
    -------
    datetime
        Aware, UTC.

    Raises
    ------
    ValueError
        With what was wrong, e.g. ``at: 'yesterday' is not ISO-8601 or epoch milliseconds``.
    """
    text = _PLUS_AS_SPACE.sub(r"\1+\2", (value or "").strip())
    if not text:
        raise ValueError("at: empty; give ISO-8601 (2026-12-03T02:00:00+08:00) or epoch ms")
    try:
        return parse_time(int(text) if text.lstrip("-").isdigit() else text, tz)
    except ValueError as exc:
        raise ValueError(f"at: {text[:64]!r} is not a moment: {exc}") from None


def check_moment(at: datetime, now: datetime | None = None, tz=None) -> datetime:
    """Return ``at`` in UTC if it is aware and not in the future; else raise ValueError.

    ``tz`` (a ZoneInfo) is the zone the error names the moments in (default: UTC).
    """
    if not isinstance(at, datetime) or at.tzinfo is None:
        raise ValueError(f"at: {at!r} has no time zone; give an aware datetime")
    now = now or datetime.now(UTC)
    if at > now + CLOCK_SLACK:
        shown = tz or UTC
        raise ValueError(f"at: {at.astimezone(shown).isoformat(timespec='seconds')} is in the "
                         f"future (now {now.astimezone(shown).isoformat(timespec='seconds')}); "
                         "the time machine shows past moments only")
    return min(at, now).astimezone(UTC)
