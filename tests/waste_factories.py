"""Valid waste-stream field maps for tests, as a producer would XADD them."""

from __future__ import annotations

import itertools
from datetime import datetime

from cockpit.ingest import Ingestor
from tests import store_support
from tests.factories import T0

_SERIAL = itertools.count(1)


def _base(kind: str, event_id: str, at: datetime, source: str) -> dict[str, str]:
    return {"event_id": event_id, "type": kind, "occurred_at": at.isoformat(), "source": source}


def household(household_id: str, village: str = "朝阳村", kind: str = "local",
              at: datetime = T0, source: str = "waste-sys", event_id: str | None = None,
              **extra) -> dict[str, str]:
    """``household.registered``; a tenant needs ``house_id`` and ``landlord_id`` in extra."""
    fields = _base("household.registered", event_id or f"hh-{household_id}-{at:%Y%m%d%H%M%S}",
                   at, source)
    fields.update(household_id=household_id, kind=kind, village=village)
    fields.update({k: str(v) for k, v in extra.items()})
    return fields


def moved_out(household_id: str, at: datetime, source: str = "waste-sys") -> dict[str, str]:
    """``household.moved_out`` at ``at``."""
    fields = _base("household.moved_out", f"out-{household_id}-{at:%Y%m%d%H%M%S}", at, source)
    fields["household_id"] = household_id
    return fields


def station(station_id: str, village: str = "朝阳村", at: datetime = T0,
            source: str = "waste-sys", **extra) -> dict[str, str]:
    """``station.registered``."""
    fields = _base("station.registered", f"st-{station_id}-{at:%Y%m%d%H%M%S}", at, source)
    fields.update(station_id=station_id, name=extra.pop("name", f"{station_id}投放点"),
                  village=village)
    fields.update({k: str(v) for k, v in extra.items()})
    return fields


def disposal(household_id: str | None, at: datetime, correct: bool = True,
             station_id: str = "ST-1", weight: object = "2.5", declared: str = "易腐垃圾",
             source: str = "station-app", event_id: str | None = None,
             **extra) -> dict[str, str]:
    """``waste.disposal``; an incorrect one finds 其他垃圾 (or 易腐垃圾 when that was declared)."""
    fields = _base("waste.disposal", event_id or f"d-{next(_SERIAL):07d}", at, source)
    if household_id is not None:
        fields["household_id"] = household_id
    fields.update(station_id=station_id, weight_kg=str(weight), declared_class=declared,
                  rating="correct" if correct else "incorrect", supervisor_id="SUP-1",
                  photo=f"{at:%Y/%m/%d}/{fields['event_id']}.jpg")
    if not correct:
        fields["found_class"] = "易腐垃圾" if declared == "其他垃圾" else "其他垃圾"
        fields["found_item"] = "塑料袋"
    fields.update({k: str(v) for k, v in extra.items()})
    return fields


def followup_event(kind: str, followup_id: str, at: datetime, **extra) -> dict[str, str]:
    """``followup.assigned`` or ``followup.visited``."""
    fields = _base(f"followup.{kind}", f"fu-{kind}-{followup_id}-{at:%Y%m%d%H%M}", at,
                   "field-app")
    fields["followup_id"] = followup_id
    fields.update({k: str(v) for k, v in extra.items()})
    return fields


def ingest(services, entries=(), consumer: str = "c1", stream: str = "waste") -> Ingestor:
    """XADD ``entries`` to a stream (the waste one unless told) and run the real Ingestor
    until it is idle."""
    return store_support.ingest(services, entries, consumer, stream)
