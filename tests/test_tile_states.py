"""What each configured tile shows, from events through the real ingest, on SQLite and PostgreSQL.

Values, the change over the trend window, threshold states, per-village tiles, corrections,
the sparkline's buckets, and the simulated feed of the demo's KPIs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cockpit.tile_queries import SPARK_POINTS, slice_of, tile_series, with_latest
from cockpit.tiles import TilesConfig, load_tiles, tile_states
from cockpit.tiles_sim import PROFILES, series_of, simulate
from tests.store_support import drain, ingest

NOW = datetime(2026, 11, 30, 4, 0, tzinfo=UTC)  # 12:00 in Asia/Shanghai
CHAOYANG = "330110006224"


def metric(event_id: str, module: str, key: str, value: float, at: datetime,
           unit: str | None = None, **extra: str) -> dict[str, str]:
    fields = {"event_id": event_id, "type": "metric.observed", "occurred_at": at.isoformat(),
              "source": "tiles-test", "module": module, "key": key, "value": str(value)}
    if unit:
        fields["unit"] = unit
    fields.update(extra)
    return fields


def config_of(*tiles: dict) -> TilesConfig:
    return TilesConfig.model_validate({
        "scenarios": [{"id": "economy", "title": {"zh": "数字+经济", "en": "Economy"}}],
        "tiles": [{"title": {"zh": t["id"], "en": t["id"]}, "scenario": "economy",
                   "module": "economy", **t} for t in tiles]})


def states(services, config: TilesConfig, now: datetime = NOW) -> dict[str, dict]:
    with services.read() as session:
        return {s["id"]: s for s in tile_states(session, config, services.settings.tz, now)}


def test_value_change_over_the_window_and_threshold_state(services):
    hour = timedelta(hours=1)
    ingest(services, [
        metric("a-8d", "economy", "served", 50, NOW - 8 * 24 * hour, "家"),
        metric("a-7d", "economy", "served", 40, NOW - 7 * 24 * hour, "家"),  # 7d window's base
        metric("a-30h", "economy", "served", 33, NOW - 30 * hour, "家"),  # 24h window's base
        metric("a-23h", "economy", "served", 31, NOW - 23 * hour, "家"),
        metric("a-1h", "economy", "served", 28, NOW - hour, "家"),
        metric("a-later", "economy", "served", 99, NOW + hour, "家"),  # after the read
        metric("a-village", "economy", "served", 3, NOW - hour / 2, "家", village=CHAOYANG),
        metric("v-1", "economy", "vacancy", 26.5, NOW - 2 * hour, "%"),
    ], stream="metrics")
    config = config_of(
        {"id": "day", "key": "served", "window": "24h",
         "thresholds": {"direction": "higher_is_better", "warn": 30, "critical": 15}},
        {"id": "week", "key": "served", "window": "7d", "unit": "户",
         "thresholds": {"direction": "higher_is_better", "warn": 28, "critical": 20}},
        {"id": "village", "key": "served", "village": "朝阳村", "window": "24h"},
        {"id": "vacancy", "key": "vacancy", "window": "24h",
         "thresholds": {"direction": "higher_is_worse", "warn": 15, "critical": 25}},
        {"id": "none", "key": "nothing_yet",
         "thresholds": {"direction": "higher_is_worse", "warn": 1}})
    got = states(services, config)
    assert list(got) == ["day", "week", "village", "vacancy", "none"]
    day, week, village, vacancy, none = got.values()
    assert (day["value"], day["before"], day["change"], day["state"]) == (28.0, 33.0, -5.0, "warn")
    assert day["simulated"] is False and none["simulated"] is False
    assert day["unit"] == "家" and day["window_s"] == 86400
    assert day["at"] == (NOW - hour).astimezone(services.settings.tz).isoformat()
    assert day["at"].endswith("+08:00")
    assert (week["value"], week["before"], week["change"], week["state"]) == \
        (28.0, 40.0, -12.0, "warn")
    assert week["unit"] == "户"  # the tile's unit wins over the event's
    assert week["units"] == {"zh": "户", "en": "户"} and day["units"] is None
    assert (village["value"], village["before"], village["state"]) == (3.0, None, None)
    assert village["change"] is None and village["village"] == CHAOYANG
    assert (vacancy["value"], vacancy["state"], vacancy["unit"]) == (26.5, "critical", "%")
    assert none["value"] is None and none["state"] is None and none["at"] is None
    assert none["series"] == [] and none["change"] is None  # nothing faked
    # the sparkline of the 24h window: the observations inside it, oldest first
    assert [v for _, v in day["series"]] == [31.0, 28.0]
    assert [v for _, v in week["series"]] == [33.0, 31.0, 28.0]
    # later: the state follows the value
    ingest(services, [metric("a-now", "economy", "served", 14, NOW, "家")],
           stream="metrics", consumer="c2")
    assert states(services, config)["day"]["state"] == "critical"
    assert states(services, config)["day"]["change"] == -19.0


def test_a_correction_at_the_same_time_wins_and_the_sparkline_keeps_48_buckets(services):
    start = NOW - timedelta(hours=24)
    entries = [metric(f"s-{i}", "economy", "served", i, start + timedelta(minutes=10 * i + 5))
               for i in range(144)]  # every 10 minutes of the window: 3 per 30-minute bucket
    entries.append(metric("s-fix", "economy", "served", 1000,
                          start + timedelta(minutes=10 * 143 + 5)))
    ingest(services, entries, stream="metrics")
    got = states(services, config_of({"id": "day", "key": "served"}))["day"]
    assert got["value"] == 1000.0  # the later arrival at the same time
    values = [v for _, v in got["series"]]
    assert len(values) == SPARK_POINTS
    assert values[:3] == [2.0, 5.0, 8.0] and values[-1] == 1000.0  # last of each bucket
    times = [t for t, _ in got["series"]]  # each point at the end of its 30-minute slice
    tz = services.settings.tz
    assert times == [(start + timedelta(minutes=30 * (i + 1))).astimezone(tz).isoformat()
                     for i in range(SPARK_POINTS)]


def test_the_demo_feed_feeds_every_shipped_tile_it_knows(services):
    config = load_tiles()
    known = series_of(config)
    assert {(s.module, s.key) for s in known} == set(PROFILES)
    assert any(s.village == CHAOYANG for s in known)
    now = NOW.astimezone(services.settings.tz)
    stats = simulate(services.settings, services.redis, config, history_days=2, once=True,
                     now=now)
    assert stats.sent == stats.history > 0
    drain(services)
    got = states(services, config, NOW)
    assert all(s["simulated"] for s in got.values())  # sources sim:metrics: marked 模拟
    assert all(s["value"] is not None for s in got.values()), \
        [k for k, s in got.items() if s["value"] is None]
    for s in got.values():
        assert s["at"] <= now.isoformat() and len(s["series"]) >= 2
        assert s["state"] in (("ok", "warn", "critical") if s["direction"] else (None,))
    # the village's count is its own, smaller than the subdistrict's
    assert got["service_requests_chaoyang"]["value"] < got["service_requests_handled"]["value"]
    # a second run re-sends the same ids: the store keeps each value once
    again = simulate(services.settings, services.redis, config, history_days=2, once=True,
                     now=now)
    assert again.sent == stats.sent
    drain(services, consumer="c2")
    assert states(services, config, NOW) == got


def test_series_read_apart_are_the_same_and_end_with_the_latest_value(services):
    ingest(services, [metric(f"w-{i}", "economy", "served", 10 + i, NOW - timedelta(hours=i))
                      for i in range(1, 6)], stream="metrics")
    config = config_of({"id": "day", "key": "served"}, {"id": "none", "key": "nothing"})
    tz = services.settings.tz
    with services.read() as session:
        full = {s["id"]: s for s in tile_states(session, config, tz, NOW)}
        bare = {s["id"]: s for s in tile_states(session, config, tz, NOW, series=False)}
        apart = tile_series(session, config, tz, NOW)
        only = tile_series(session, config, tz, NOW, {"day"})
    assert [v for _, v in full["day"]["series"]] == [15.0, 14.0, 13.0, 12.0, 11.0]
    assert apart == {"day": full["day"]["series"], "none": []} and list(only) == ["day"]
    assert bare["day"]["series"] == [] and bare["day"]["value"] == 11.0
    # an older read of the sparkline, and the value that came after it
    newer = {**bare["day"], "at": NOW.astimezone(tz).isoformat(), "value": 9.0}
    assert with_latest(apart["day"], newer)[-1] == (newer["at"], 9.0)
    assert with_latest(apart["day"], bare["day"]) == apart["day"]  # not newer: unchanged
    tile = config.tiles[0]  # 24 h in 48 slices of 30 minutes
    assert slice_of(tile, "2026-11-30T12:29:59+08:00") == slice_of(tile, "2026-11-30T12:00+08:00")
    assert slice_of(tile, "2026-11-30T12:30+08:00") == slice_of(tile, "2026-11-30T12:00+08:00") + 1
    assert slice_of(tile, None) is None
