"""The time machine's page parameters and band, as pure functions (no server, no browser)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from callbacks.timemachine import Past, live_url, past_of
from layouts.timemachine import TimeIds, band, band_config

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(("query", "want"), [
    ({}, None),
    ({"lang": "en", "at": ""}, None),
    ({"at": "2026-12-03T02:00:00"}, Past(datetime(2026, 12, 2, 18, 0, tzinfo=UTC),
                                          datetime(2026, 12, 2, 18, 0, tzinfo=UTC), 0.0)),
    ({"at": "2026-12-03T02:00:00", "speed": "60"},
     Past(datetime(2026, 12, 2, 18, 0, tzinfo=UTC), NOW, 60.0)),
    ({"from": "2026-12-03T01:00:00+08:00", "to": "2026-12-03T03:00:00+08:00"},
     Past(datetime(2026, 12, 2, 17, 0, tzinfo=UTC), datetime(2026, 12, 2, 19, 0, tzinfo=UTC),
          1.0)),
])
def test_past_of_reads_a_moment_or_a_period(query, want):
    assert past_of(query, TZ, NOW) == want


@pytest.mark.parametrize(("query", "needle"), [
    ({"at": "noon"}, "at: "),
    ({"at": (NOW + timedelta(hours=1)).isoformat()}, "future"),
    ({"from": "2026-12-03T03:00:00", "to": "2026-12-03T02:00:00"}, "to: before from"),
    ({"from": "2026-12-03T03:00:00", "speed": "0"}, "speed: 0"),
    ({"from": "2026-12-03T03:00:00", "speed": "99999"}, "speed: 99999"),
    ({"at": "2026-12-03T03:00:00", "speed": "fast"}, "speed: 'fast'"),
])
def test_past_of_names_what_is_wrong(query, needle):
    with pytest.raises(ValueError, match=needle):
        past_of(query, TZ, NOW)


def test_back_to_live_drops_only_the_time_machine_parameters():
    query = {"lang": "en", "screen": "hall", "at": "1", "from": "2", "to": "3", "speed": "4"}
    assert live_url("/", query) == "/?lang=en&screen=hall"
    assert live_url("/tablet", {"at": "1"}) == "/tablet"


def _ids(component) -> set[str]:
    found = set()
    stack = [component]
    while stack:
        node = stack.pop()
        if getattr(node, "id", None):
            found.add(str(node.id))
        children = getattr(node, "children", None)
        stack.extend(children if isinstance(children, list) else
                     [children] if children is not None and not isinstance(children, str)
                     else [])
    return found


def _config(still: bool) -> dict:
    return band_config("zh", url="/timemachine/wall?lang=zh", live_url="/", start_ms=0,
                       end_ms=0 if still else 1000, speed=1.0, still=still,
                       timezone="Asia/Shanghai")


def test_a_replay_band_has_its_controls_a_kiosk_and_a_still_moment_do_not():
    assert {TimeIds.PAUSE, TimeIds.SPEED, TimeIds.BACK, TimeIds.CONFIG} <= _ids(
        band("zh", _config(False), "/"))
    assert not {TimeIds.PAUSE, TimeIds.SPEED} & _ids(band("zh", _config(False), "/", kiosk=True))
    assert not {TimeIds.PAUSE, TimeIds.SPEED} & _ids(band("zh", _config(True), "/"))


def test_a_bad_moment_gives_a_red_band_with_only_the_way_back():
    bad = band("en", None, "/?lang=en")
    assert "tm-bad" in bad.className
    assert _ids(bad) == {TimeIds.BAND, TimeIds.TEXT, TimeIds.BACK}


def test_a_bad_speed_is_named_as_a_speed_not_as_a_moment(services):
    from callbacks.timemachine import page_band

    bad = page_band(services, "wall", "en", "/", {"at": "2026-12-03T03:00:00", "speed": "1e9"})
    text = str(bad.children[0].children)
    assert "speed" in text and "moment" not in text
    moment = page_band(services, "wall", "en", "/", {"at": "yesterday-ish"})
    assert "moment" in str(moment.children[0].children)
