"""Local calendar periods ("today", "this week") in the cockpit's time zone, as UTC bounds.

The server's own clock zone never matters: every period is computed in the configured zone
(Asia/Shanghai by default) and returned as aware UTC datetimes for querying the store.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo


def utc_now() -> datetime:
    """The current time, aware, UTC."""
    return datetime.now(UTC)


def day_bounds(now: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Return ``[start, end)`` of the local day containing ``now``, as aware UTC datetimes.

    Raises
    ------
    ValueError
        If ``now`` is naive.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    local = now.astimezone(tz).date()
    start = datetime.combine(local, time(0), tz)
    end = datetime.combine(local + timedelta(days=1), time(0), tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def week_bounds(now: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Return ``[Monday 00:00, next Monday 00:00)`` of the local week of ``now``, in UTC."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    local = now.astimezone(tz).date()
    monday = local - timedelta(days=local.weekday())
    start = datetime.combine(monday, time(0), tz)
    end = datetime.combine(monday + timedelta(days=7), time(0), tz)
    return start.astimezone(UTC), end.astimezone(UTC)


#: The named periods of lists and reports: local today, this week, the last 7 / 30 local days.
PERIODS = ("today", "week", "7d", "30d")
_ROLLING_DAYS = {"today": 1, "7d": 7, "30d": 30}


def period_bounds(period: str, now: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Return ``[start, end)`` of a named period in UTC, by local days of ``tz``.

    Parameters
    ----------
    period : {"today", "week", "7d", "30d"}
        Today; this week (Monday to Sunday); the last 7 or 30 local days, today included.
    now : datetime
        Aware.
    tz : ZoneInfo
        The cockpit's zone: the server's own zone never matters.

    Raises
    ------
    ValueError
        If ``period`` is unknown or ``now`` is naive.
    """
    if period == "week":
        return week_bounds(now, tz)
    if period not in _ROLLING_DAYS:
        raise ValueError(f"period: {period!r}; expected one of {', '.join(PERIODS)}")
    _, end = day_bounds(now, tz)
    first = now.astimezone(tz).date() - timedelta(days=_ROLLING_DAYS[period] - 1)
    return datetime.combine(first, time(0), tz).astimezone(UTC), end
