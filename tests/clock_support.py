"""Test data that stays on "today" at any hour the suite runs.

The pages count "today" from midnight in the subdistrict's time zone (Asia/Shanghai). A test
that stores events "n minutes ago" and expects all of them in today's figures fails when it runs
in the first minutes of a local day; CI runs at any hour (16:00 UTC is local midnight). These
helpers keep such tests true at every hour with the real clock, no faked time:

    now = clear_of_midnight(TZ)                   # never within a test's run of midnight
    step = today_step(TZ, now, MINUTE, 21)        # 21 steps back from now, all today
    times = [now - n * step for n in range(1, 21)]
    expected = sum(on_today(t, TZ, now) for t in times)   # or count what is today
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
#: Long enough for one test's pages to be read after its data is stored.
GUARD = timedelta(seconds=90)
#: How far into a new day a test starts at the earliest (room for a few steps back).
FLOOR = timedelta(seconds=60)


def local_midnight(at: datetime, tz: tzinfo = SHANGHAI) -> datetime:
    """The start of ``at``'s local day in ``tz``, as an aware datetime in UTC."""
    local = at.astimezone(tz)
    return datetime(local.year, local.month, local.day, tzinfo=tz).astimezone(UTC)


def clear_of_midnight(tz: tzinfo = SHANGHAI, guard: timedelta = GUARD,
                      floor: timedelta = FLOOR, clock=lambda: datetime.now(UTC),
                      sleep=time.sleep) -> datetime:
    """Now (aware, UTC), after waiting out local midnight when it is near.

    Waits when the next local midnight is less than ``guard`` away (so that "today" cannot
    change while a test runs) or the day is younger than ``floor``: at most
    ``guard + floor`` (2.5 min), and only in those minutes of a day. ``clock`` and ``sleep``
    are the real ones but in this module's own tests.
    """
    now = clock()
    start = local_midnight(now, tz)
    nxt = local_midnight(start + timedelta(hours=30), tz)
    if nxt - now < guard:
        sleep((nxt - now + floor).total_seconds())
    elif now - start < floor:
        sleep((start + floor - now).total_seconds())
    return clock()


def today_step(tz: tzinfo, now: datetime, step: timedelta, count: int) -> timedelta:
    """``step``, or shorter, so that ``now - count * step`` is still on ``now``'s local day.

    A suite run early in the day squeezes the same events into the time since midnight
    (``clear_of_midnight`` leaves at least ``FLOOR`` of it). Rounded down to whole seconds.
    """
    room = now - local_midnight(now, tz) - timedelta(seconds=1)
    seconds = min(step.total_seconds(), room.total_seconds() / count)
    return timedelta(seconds=max(int(seconds), 0))


def on_today(at: datetime, tz: tzinfo = SHANGHAI, now: datetime | None = None) -> bool:
    """Whether ``at`` falls on the local day of ``now`` (default: the real now) in ``tz``."""
    now = datetime.now(UTC) if now is None else now
    return at.astimezone(tz).date() == now.astimezone(tz).date()
