"""The helpers that keep "today" tests true at any hour (tests/clock_support.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.clock_support import SHANGHAI, clear_of_midnight, local_midnight, on_today, today_step

MINUTE = timedelta(minutes=1)


def test_local_midnight_is_the_start_of_the_day_in_shanghai_not_in_utc():
    at = datetime(2026, 12, 4, 16, 7, tzinfo=UTC)  # 00:07 on 5 December in Hangzhou
    assert local_midnight(at) == datetime(2026, 12, 4, 16, 0, tzinfo=UTC)
    assert local_midnight(at - 8 * MINUTE) == datetime(2026, 12, 3, 16, 0, tzinfo=UTC)


def test_a_step_is_kept_late_in_the_day_and_squeezed_early_in_it():
    noon = datetime(2026, 12, 5, 4, 0, tzinfo=UTC)
    assert today_step(SHANGHAI, noon, MINUTE, 21) == MINUTE
    early = datetime(2026, 12, 4, 16, 5, tzinfo=UTC)  # 00:05 local
    step = today_step(SHANGHAI, early, MINUTE, 21)
    assert step == timedelta(seconds=14)  # 299 s of today over 21 steps, whole seconds
    assert all(on_today(early - n * step, SHANGHAI, early) for n in range(22))
    assert not on_today(early - 21 * MINUTE, SHANGHAI, early)


def test_a_test_waits_only_near_local_midnight_and_until_a_minute_into_the_day():
    def waited(at: datetime) -> list[float]:
        slept: list[float] = []
        clear_of_midnight(SHANGHAI, clock=lambda: at, sleep=slept.append)
        return slept

    assert waited(datetime(2026, 12, 5, 4, 0, tzinfo=UTC)) == []  # noon
    assert waited(datetime(2026, 12, 5, 15, 58, 29, tzinfo=UTC)) == []  # 23:58:29, 91 s left
    assert waited(datetime(2026, 12, 5, 15, 59, 30, tzinfo=UTC)) == [90.0]  # 30 s left + 60
    assert waited(datetime(2026, 12, 4, 16, 0, 20, tzinfo=UTC)) == [40.0]  # 00:00:20
    assert waited(datetime(2026, 12, 4, 16, 1, 0, tzinfo=UTC)) == []  # 00:01:00
