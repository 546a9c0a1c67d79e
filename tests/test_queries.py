"""Read models on real databases: today's KPIs in Asia/Shanghai whatever the server clock says."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

import pytest

from cockpit import queries
from cockpit.clock import day_bounds, week_bounds
from cockpit.events import parse_event
from cockpit.ingest import resolve_villages
from cockpit.store.apply import apply_batch
from tests.factories import incident_fields, lifecycle


@pytest.fixture
def utc_server_clock():
    """Run the test with the process's local zone set to UTC, as on many servers."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if old is None:
        os.environ.pop("TZ")
    else:
        os.environ["TZ"] = old
    time.tzset()


def _store(services, entries, now=datetime(2026, 11, 30, 12, 0, tzinfo=UTC)):
    with services.sessions.begin() as session:
        apply_batch(session, [(parse_event(f, now=now), f"0-{i + 1}")
                              for i, f in enumerate(entries)], resolve_villages)


def test_day_bounds_are_shanghai_days(utc_server_clock, services):
    tz = services.settings.tz
    now = datetime(2026, 11, 29, 17, 0, tzinfo=UTC)  # 01:00 on 30 Nov in Shanghai
    start, end = day_bounds(now, tz)
    assert start == datetime(2026, 11, 29, 16, 0, tzinfo=UTC)
    assert end - start == timedelta(days=1)
    monday, _ = week_bounds(now, tz)
    assert monday == datetime(2026, 11, 29, 16, 0, tzinfo=UTC)  # 30 Nov 2026 is a Monday


def test_summary_counts_today_in_shanghai(utc_server_clock, services):
    before_midnight = datetime(2026, 11, 29, 15, 30, tzinfo=UTC)  # 23:30 Shanghai, 29 Nov
    after_midnight = datetime(2026, 11, 29, 16, 30, tzinfo=UTC)   # 00:30 Shanghai, 30 Nov
    _store(services, lifecycle("yesterday", start=before_midnight, step_s=600))
    _store(services, lifecycle("today", start=after_midnight, step_s=90,
                               stages=["reported", "assessed", "dispatched"]))
    _store(services, [incident_fields("today2", at=after_midnight + timedelta(minutes=5),
                                      category="城管")])
    now = datetime(2026, 11, 29, 17, 0, tzinfo=UTC)
    with services.read() as session:
        s = queries.summary(session, services.settings.tz, now)
    assert s["day_start"] == "2026-11-30T00:00:00+08:00"
    assert s["today_total"] == 2
    by_cat = {c["category"]: c["count"] for c in s["today_by_category"]}
    assert by_cat["fire"] == 1 and by_cat["urban_management"] == 1 and by_cat["police"] == 0
    assert s["open"] == 2  # "yesterday" is closed
    assert s["closed_today"] == 1  # yesterday's incident was closed after midnight (00:20)
    assert s["median_dispatch_s"] == 180.0
    funnel = {f["stage"]: f["count"] for f in s["funnel"]}
    assert funnel == {"reported": 2, "assessed": 1, "dispatched": 1, "arrived": 0,
                      "resolved": 0, "closed": 0}


def test_list_incidents_filters(services):
    _store(services, lifecycle("a", stages=["reported", "dispatched"]))
    _store(services, [incident_fields("b", category="police")])
    tz = services.settings.tz
    with services.read() as session:
        assert [i["incident_id"] for i in queries.list_incidents(session, tz, category="police")] \
            == ["b"]
        assert {i["incident_id"] for i in queries.list_incidents(session, tz, stage="open")} \
            == {"a", "b"}
        assert [i["incident_id"] for i in queries.list_incidents(session, tz,
                                                                 stage="dispatched")] == ["a"]
        one = queries.list_incidents(session, tz, limit=1)
        assert len(one) == 1 and one[0]["village_code"]
        village = one[0]["village_code"]
        assert queries.list_incidents(session, tz, village=village)
        assert queries.list_incidents(session, tz, village="nope") == []
