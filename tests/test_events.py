"""The event contract: parsing, reasons a producer can act on, CRS conversion, the docs."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from cockpit import contract_doc
from cockpit.crs import from_wgs84, to_wgs84
from cockpit.events import EVENT_TYPES, InvalidEvent, parse_event, parse_time
from cockpit.vocab import Category, Priority, parse_category, parse_priority

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("event_type", list(EVENT_TYPES))
def test_every_documented_example_is_valid(event_type):
    event = parse_event(contract_doc.example_fields(event_type))
    assert event.type == event_type


def test_docs_events_md_is_generated_from_the_models():
    assert (ROOT / "docs" / "events.md").read_text(encoding="utf-8") == contract_doc.render()


@pytest.mark.parametrize(("value", "expected"), [
    ("2026-11-29T10:00:00+08:00", datetime(2026, 11, 29, 2, 0, tzinfo=UTC)),
    ("2026-11-29 10:00:00", datetime(2026, 11, 29, 2, 0, tzinfo=UTC)),  # naive = Shanghai
    ("2026-11-29T02:00:00Z", datetime(2026, 11, 29, 2, 0, tzinfo=UTC)),
    ("1795917600000", datetime(2026, 11, 29, 2, 0, tzinfo=UTC)),
    (1795917600000, datetime(2026, 11, 29, 2, 0, tzinfo=UTC)),
])
def test_times(value, expected):
    assert parse_time(value, ZoneInfo("Asia/Shanghai")) == expected


@pytest.mark.parametrize("value", ["yesterday", "1795917600", "29/11/2026", ""])
def test_bad_times(value):
    with pytest.raises(ValueError):
        parse_time(value)


def test_gcj02_and_bd09_are_converted_to_wgs84():
    lon, lat = to_wgs84(120.286388, 30.34937, "gcj02")
    shift_m = math.hypot((120.286388 - lon) * 96_000, (30.34937 - lat) * 111_000)
    assert 400 < shift_m < 600
    back = from_wgs84(lon, lat, "gcj02")
    assert abs(back[0] - 120.286388) < 1e-6 and abs(back[1] - 30.34937) < 1e-6
    blon, blat = from_wgs84(lon, lat, "bd09")
    again = to_wgs84(blon, blat, "bd09")
    assert abs(again[0] - lon) < 1e-5 and abs(again[1] - lat) < 1e-5


def test_event_position_is_stored_as_wgs84():
    fields = contract_doc.example_fields("incident.reported")
    event = parse_event(fields)
    assert event.crs == "wgs84"
    assert event.lon == pytest.approx(to_wgs84(120.2868, 30.3493, "gcj02")[0])


def test_categories_and_priorities_accept_code_and_chinese_label():
    assert parse_category("火情") is Category.FIRE
    assert parse_category("fire") is Category.FIRE
    assert parse_category("Urban management") is Category.URBAN_MANAGEMENT
    assert parse_priority("特急") is Priority.CRITICAL and parse_priority("2") is Priority.URGENT
    with pytest.raises(ValueError, match="火情"):
        parse_category("explosion")


@pytest.mark.parametrize(("change", "needle"), [
    ({"incident_id": None}, "incident_id: required field is missing"),
    ({"lon": "30.35", "lat": "120.28"}, "swapped"),
    ({"lon": "east"}, "lon: Input should be a valid number"),
    ({"crs": None}, "crs: is required"),
    ({"crs": "epsg:3857"}, "crs"),
    ({"category": "爆炸"}, "category: unknown value"),
    ({"occurred_at": "soon"}, "occurred_at"),
    ({"type": None}, "type: missing"),
    ({"lon": "nan"}, "finite"),
    ({"event_id": "  "}, "event_id: is empty"),
    ({"title": "x" * 2001}, "title: is 2001 characters long; at most 2000"),
    ({"title": "a\x00b"}, "NUL"),
    ({"occurred_at": "3000-01-01T00:00:00+08:00"}, "outside the years 2000-2100"),
    ({"occurred_at": "1795917600"}, "epoch seconds instead of milliseconds"),
    ({"occurred_at": "0"}, "not epoch milliseconds (13 digits)"),
    ({"occurred_at": "2099-12-31T23:00:00+08:00"}, "in the future"),
])
def test_invalid_entries_say_why(change, needle):
    fields = contract_doc.example_fields("incident.reported")
    for key, value in change.items():
        if value is None:
            fields.pop(key)
        else:
            fields[key] = value
    with pytest.raises(InvalidEvent) as info:
        parse_event(fields)
    assert needle in info.value.reason


def test_position_outside_the_service_area_is_refused():
    fields = {**contract_doc.example_fields("incident.reported"), "lon": "116.39",
              "lat": "39.91", "crs": "wgs84"}  # Beijing
    with pytest.raises(InvalidEvent, match="outside the service area"):
        parse_event(fields, area=(119.9, 30.1, 120.6, 30.6))


def test_unknown_fields_are_not_kept():
    fields = {**contract_doc.example_fields("incident.reported"), "mobile": "13812341234"}
    event = parse_event(fields)
    assert "13812341234" not in str(event.model_dump())


def test_empty_optional_text_is_treated_as_missing():
    fields = {**contract_doc.example_fields("incident.reported"), "title": "", "address": "  "}
    event = parse_event(fields)
    assert event.title is None and event.address is None
