"""Store disposals and keep each one with the right household and village.

A disposal that names its household keeps it. One sent with only a ``house_id`` (a card bound
to the rental house) goes to the household living in the house at ``occurred_at``: moved in at
or before it, not moved out yet. When no household or several lived there, it is counted for
its station and village but no household. Whenever a house's tenancies change (a registration,
a move-out, a late event), its disposals are attributed again, so a tenant's history never
passes to the next tenant.

A disposal's village is its household's; while the household is unknown, its station's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from cockpit.store.bulk import insert_rows, update_changed
from cockpit.store.waste_models import Household, WasteDisposal, WasteStation
from cockpit.waste.events import Rating
from cockpit.waste.events import WasteDisposal as DisposalEvent

_CHUNK = 500
#: The "old" row of a forced update: differs from every value, None included.
_FORCE = {"household_id": object(), "village_code": object()}


def local_day_week(when: datetime, tz: ZoneInfo) -> tuple[str, str]:
    """``("YYYY-MM-DD", "YYYY-Www")``: the local day and ISO week of an aware time."""
    day = when.astimezone(tz).date()
    return day.isoformat(), iso_week(day)


def iso_week(day: date) -> str:
    """ISO week label of a date, e.g. ``2026-W49``."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _in_chunks(ids: Iterable[str]) -> Iterable[list[str]]:
    ids = sorted(set(ids))
    for start in range(0, len(ids), _CHUNK):
        yield ids[start:start + _CHUNK]


def tenancies(session: Session, houses: Iterable[str]
              ) -> dict[str, list[tuple[str, datetime | None, datetime | None]]]:
    """House id → ``[(household_id, moved_in_at, moved_out_at), ...]`` of its households."""
    out: dict[str, list] = {}
    for chunk in _in_chunks(houses):
        for house, household, moved_in, moved_out in session.execute(
                select(Household.house_id, Household.household_id, Household.moved_in_at,
                       Household.moved_out_at).where(Household.house_id.in_(chunk))):
            out.setdefault(house, []).append((household, moved_in, moved_out))
    return out


def resident(spans: Sequence[tuple[str, datetime | None, datetime | None]],
             when: datetime) -> str | None:
    """The one household living in a house at ``when``; None for nobody or several."""
    living = [h for h, moved_in, moved_out in spans
              if (moved_in is None or moved_in <= when) and (moved_out is None or when < moved_out)]
    return living[0] if len(living) == 1 else None


def _villages(session: Session, model, key, ids: Iterable[str]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for chunk in _in_chunks(i for i in ids if i):
        out.update(session.execute(select(key, model.village_code).where(key.in_(chunk))).all())
    return out


def insert_disposals(session: Session, items: Sequence[tuple[DisposalEvent, str]],
                     now: datetime, tz: ZoneInfo) -> tuple[int, set[str]]:
    """Insert disposals, skipping those stored already (distinct within ``items``).

    The insert skips conflicts in SQL and reads rows back only when it stored fewer than it
    was given (a redelivery): the rows this call stored are those received at ``now``.

    Returns
    -------
    (int, set of str)
        The number stored, and the household ids that received an incorrect one among them
        (the weak rule's candidates).
    """
    houses = {e.house_id for e, _ in items if e.household_id is None and e.house_id}
    spans = tenancies(session, houses) if houses else {}
    rows = []
    for event, stream_id in items:
        household = event.household_id
        via_house = household is None
        if via_house:
            household = resident(spans.get(event.house_id, ()), event.occurred_at)
        day, week = local_day_week(event.occurred_at, tz)
        rows.append({
            "source": event.source, "event_id": event.event_id,
            "occurred_at": event.occurred_at, "received_at": now, "stream_id": stream_id,
            "local_day": day, "local_week": week, "household_id": household,
            "house_id": event.house_id, "via_house": via_house,
            "station_id": event.station_id, "supervisor_id": event.supervisor_id,
            "photo": event.photo, "weight_kg": event.weight_kg,
            "declared_class": event.declared_class.value,
            "correct": event.rating is Rating.CORRECT,
            "found_class": event.found_class.value if event.found_class else None,
            "found_item": event.found_item,
        })
    known = _villages(session, Household, Household.household_id,
                      {r["household_id"] for r in rows})
    stations = _villages(session, WasteStation, WasteStation.station_id,
                         {r["station_id"] for r in rows})
    for row in rows:
        household = row["household_id"]
        row["village_code"] = (known[household] if household in known
                               else stations.get(row["station_id"]))
    stored = insert_rows(session.connection(), WasteDisposal.__table__, rows,
                         skip_conflicts=True)
    if stored < len(rows):
        mine: set[tuple[str, str]] = set()
        for chunk in _in_chunks(r["event_id"] for r in rows):
            mine.update(map(tuple, session.execute(
                select(WasteDisposal.source, WasteDisposal.event_id)
                .where(WasteDisposal.event_id.in_(chunk), WasteDisposal.received_at == now))))
        rows = [r for r in rows if (r["source"], r["event_id"]) in mine]
    return len(rows), {r["household_id"] for r in rows
                       if r["household_id"] and not r["correct"]}


def reattribute_houses(session: Session, houses: Iterable[str]) -> set[str]:
    """Give every house-card disposal of ``houses`` to the household living there then.

    Returns the household ids that gained or lost a disposal.
    """
    houses = {h for h in houses if h}
    if not houses:
        return set()
    spans = tenancies(session, houses)
    moved: list[tuple[str, str, str, str | None, str | None]] = []
    for chunk in _in_chunks(houses):
        for source, event_id, house, when, household, station in session.execute(
                select(WasteDisposal.source, WasteDisposal.event_id, WasteDisposal.house_id,
                       WasteDisposal.occurred_at, WasteDisposal.household_id,
                       WasteDisposal.station_id)
                .where(WasteDisposal.house_id.in_(chunk), WasteDisposal.via_house)):
            now_household = resident(spans.get(house, ()), when)
            if now_household != household:
                moved.append((source, event_id, station, household, now_household))
    if not moved:
        return set()
    households = _villages(session, Household, Household.household_id,
                           {m[4] for m in moved if m[4]})
    stations = _villages(session, WasteStation, WasteStation.station_id, {m[2] for m in moved})
    update_changed(session.connection(), WasteDisposal.__table__, ("source", "event_id"), [
        ({"source": source, "event_id": event_id, "household_id": new,
          "village_code": households[new] if new in households else stations.get(station)},
         _FORCE)
        for source, event_id, station, _old, new in moved])
    return {h for m in moved for h in (m[3], m[4]) if h}


def revillage_households(session: Session, household_ids: Iterable[str]) -> None:
    """Set the village of every disposal of ``household_ids`` to its household's village."""
    villages = _villages(session, Household, Household.household_id, household_ids)
    update_changed(session.connection(), WasteDisposal.__table__, "household_id",
                   [({"household_id": h, "village_code": v}, _FORCE) for h, v in villages.items()])


def revillage_stations(session: Session, station_ids: Iterable[str]) -> None:
    """Set the village of the station's disposals whose household is unknown."""
    known = select(Household.household_id)
    for station, village in _villages(session, WasteStation, WasteStation.station_id,
                                      station_ids).items():
        session.execute(
            update(WasteDisposal)
            .where(WasteDisposal.station_id == station,
                   or_(WasteDisposal.household_id.is_(None),
                       WasteDisposal.household_id.not_in(known)))
            .values(village_code=village).execution_options(synchronize_session=False))
