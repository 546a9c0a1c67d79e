"""The waste pages' test data and readers: events through the real Ingestor, photos in the
store, the disposals' own figures recomputed, and a rendered page's components.

Imported by ``tests/test_waste_page.py`` and ``tests/test_waste_browser.py``::

    now = plant(services)            # stations, households, tenants, 40 days of disposals
    write_photos(services)           # a PNG for every photo key the disposals name
    correct, total = expect(rows_of(services), first_day, last_day, village_code=IN_SCOPE)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from cockpit.store.waste_models import WasteDisposal
from cockpit.waste.sim_photos import encode_png
from tests.test_volunteers_page import call, text_of
from tests.waste_factories import disposal, household, ingest, moved_out, station

IN_SCOPE = "330110006201"  # 胜稼村: the staff accounts' village
OUT_OF_SCOPE = "330110006002"  # 新街社区
#: Personal data planted: what no leader's or admin's response may carry.
RAW = ["王小明", "13812345678", "沈建国", "13900005678", "赵小红", "13700001111", "钱多多",
       "13600002222", "孙老板", "13500003333", "胜稼村3组12号"]
DAY = timedelta(days=1)
PNG = encode_png(4, 3, lambda x, y: (40 * x, 60 * y, 120))




def plant(services, now: datetime | None = None) -> datetime:
    """Store two stations, four households (two tenants of LL-9 one after the other, one in
    another village with its own landlord) and their disposals over 40 days; returns now."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    move = now - 10 * DAY
    entries = [
        station("ST-IN", village="胜稼村", name="胜稼村3组投放点"),
        station("ST-OUT", village="新街社区", name="新街社区投放点"),
        household("H-LOCAL", village="胜稼村", group="3组", at=now - 90 * DAY,
                  head_name="王小明", head_phone="13812345678", address="胜稼村3组12号",
                  members=3),
        household("TEN-A", village="胜稼村", kind="tenant", group="5组", house_id="HS-9",
                  landlord_id="LL-9", landlord_name="沈建国", landlord_phone="13900005678",
                  at=now - 60 * DAY),
        household("H-OUT", village="新街社区", group="1组", at=now - 90 * DAY,
                  head_name="钱多多", head_phone="13600002222"),
        household("T-OUT", village="新街社区", kind="tenant", house_id="HS-X",
                  landlord_id="LL-X", landlord_name="孙老板", landlord_phone="13500003333",
                  at=now - 90 * DAY),
    ]
    for i in range(40):
        at = now - i * DAY - timedelta(hours=1)
        for who, st, ok in (("H-LOCAL", "ST-IN", i % 5 != 0), ("H-OUT", "ST-OUT", i % 3 != 0),
                            ("T-OUT", "ST-OUT", True)):
            entries.append(disposal(who, at, correct=ok, station_id=st,
                                    event_id=f"d-{who}-{i}", photo=f"{at:%Y/%m/%d}/{who}-{i}.png",
                                    weight=f"{1 + i % 4}.5", declared="易腐垃圾" if i % 2
                                    else "其他垃圾"))
        if at < move:  # the first tenant's house card, until it moved out
            entries.append(disposal(None, at, correct=i % 4 != 0, station_id="ST-IN",
                                    house_id="HS-9", event_id=f"d-HS9-{i}",
                                    photo=f"{at:%Y/%m/%d}/HS9-{i}.png"))
    entries.append(disposal("H-LOCAL", now - timedelta(hours=2), station_id="ST-IN",
                            event_id="d-oss", photo="oss://qiaosi-photos/2026/a.jpg"))
    entries.append(disposal("H-LOCAL", now - timedelta(hours=3), station_id="ST-IN",
                            event_id="d-sim", source="sim:waste",
                            photo="sim/perishable-correct-1.png"))
    ingest(services, entries)
    later = [moved_out("TEN-A", move),
             household("TEN-B", village="胜稼村", kind="tenant", group="5组", house_id="HS-9",
                       landlord_id="LL-9", head_name="赵小红", head_phone="13700001111",
                       at=move + timedelta(hours=2),
                       moved_in_at=(move + timedelta(hours=1)).isoformat())]
    later += [disposal(None, now - i * DAY - timedelta(hours=4), correct=i != 3,
                       station_id="ST-IN", house_id="HS-9", event_id=f"d-HS9b-{i}",
                       photo=f"{now - i * DAY:%Y/%m/%d}/HS9b-{i}.png") for i in range(8)]
    ingest(services, later)
    return now


def write_photos(services, skip: tuple[str, ...] = ()) -> Path:
    """Write a small PNG for every stored photo key of the store (but ``skip``)."""
    store = services.settings.photo_store
    with services.read() as session:
        keys = {k for (k,) in session.execute(select(WasteDisposal.photo)) if k}
    for key in keys:
        if "://" in key or key in skip:
            continue
        path = store / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(PNG)
    return store


def rows_of(services) -> list[WasteDisposal]:
    with services.read() as session:
        rows = session.scalars(select(WasteDisposal)).all()
        session.expunge_all()
    return rows


def expect(rows, start: date | None = None, end: date | None = None, **where) -> tuple[int, int]:
    """``(correct, total)`` recomputed from stored rows: the figure every screen must show."""
    chosen = [r for r in rows
              if (start is None or r.local_day >= start.isoformat())
              and (end is None or r.local_day <= end.isoformat())
              and all(getattr(r, k) in (v if isinstance(v, tuple) else (v,))
                      for k, v in where.items())]
    return sum(r.correct for r in chosen), len(chosen)


def components(tree: Any) -> Iterator[dict]:
    """Every component (``{"type", "props"}``) of a rendered Dash tree."""
    if isinstance(tree, dict):
        if "props" in tree and "type" in tree:
            yield tree
        for value in tree.values():
            yield from components(value)
    elif isinstance(tree, list):
        for item in tree:
            yield from components(item)


def page(client, app, path: str, search: str = "") -> tuple[Any, str]:
    """The router's answer for ``path?search``: the component tree and its text."""
    response = call(client, app, "shell-page.children",
                    {"shell-url.pathname": path, "shell-url.search": search})
    assert response.status_code == 200, response.get_data()[:300]
    return json.loads(response.get_data())["response"]["shell-page"]["children"], \
        text_of(response)


def counts(tree, prop: str, value: str | None = None) -> dict[str, tuple[int, int]]:
    """``{data-<prop>: (correct, total)}`` of the components carrying that data attribute."""
    out = {}
    for c in components(tree):
        props = c["props"]
        if f"data-{prop}" in props and "data-total" in props \
                and (value is None or props[f"data-{prop}"] == value):
            out[props[f"data-{prop}"]] = (int(props["data-correct"]), int(props["data-total"]))
    return out


def within(tree: Any, name: str) -> Any:
    """The first component whose className holds ``name``."""
    for c in components(tree):
        if name in str(c["props"].get("className") or "").split():
            return c
    raise AssertionError(f"no .{name}")


def graph_of(tree: Any, name: str) -> dict:
    return within(tree, f"wp-graph-{name}")["props"]["figure"]


def local_today(services, now: datetime) -> date:
    return now.astimezone(services.settings.tz).date()
