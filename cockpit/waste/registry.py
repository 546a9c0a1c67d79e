"""Fold the waste registry: households, landlords and stations, and who lived in which house.

Every attribute takes the value of the latest event (by ``(occurred_at, event_id, source)``)
that carries it, so a late or repeated registration changes nothing it should not; a
household's position (``lon``/``lat``, WGS-84) is one attribute, so a registration without one
keeps the last position sent. A
household's move-out is the latest ``household.moved_out`` in its history that is not before
its move-in: a household that moved back in (a later ``moved_in_at``) is active again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cockpit.store.bulk import insert_rows, update_changed
from cockpit.store.waste_models import Household, Landlord, WasteEventRow, WasteStation
from cockpit.waste.events import HouseholdMovedOut, HouseholdRegistered, StationRegistered

VillageResolver = Callable[[Sequence[float | None], Sequence[float | None],
                            Sequence[str | None]], list[str | None]]

_HOUSEHOLD_FIELDS = {
    "kind": "kind", "group": "group_name", "house_id": "house_id", "address": "address",
    "landlord_id": "landlord_id", "head_name": "head_name", "head_phone": "head_phone",
    "members": "members", "moved_in_at": "moved_in_at",
}
_CHUNK = 500


def household_subject(household_id: str) -> str:
    """The history's subject key of a household's events."""
    return f"household:{household_id}"


def _stamp(event) -> list[str]:
    return [event.occurred_at.isoformat(), event.event_id, event.source]


def _newer(stamp: list[str], old: list | None) -> bool:
    return old is None or tuple(stamp) >= tuple(old)


def _rows(session: Session, model, key, ids: Sequence[str]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    ids = sorted(set(ids))
    for start in range(0, len(ids), _CHUNK):
        for row in session.execute(select(model.__table__).where(
                key.in_(ids[start:start + _CHUNK]))).mappings():
            out[row[key.name]] = dict(row)
    return out


def _value(event, name: str):
    value = getattr(event, name)
    return value.value if hasattr(value, "value") else value


def _upsert(session: Session, table, key: str, state: dict[str, dict],
            before: dict[str, dict]) -> None:
    new = [row for k, row in state.items() if k not in before]
    changed = [(row, before[k]) for k, row in state.items() if k in before]
    insert_rows(session.connection(), table, new)
    update_changed(session.connection(), table, key, changed)


def fold_households(session: Session, registrations: Sequence[HouseholdRegistered],
                    codes: Sequence[str | None], moves: Sequence[HouseholdMovedOut],
                    now: datetime) -> tuple[set[str], set[str]]:
    """Apply registrations and move-outs to ``households`` and ``landlords``.

    Parameters
    ----------
    registrations : sequence of HouseholdRegistered
        With ``codes``, their resolved village codes (None: the text names no known village).
    moves : sequence of HouseholdMovedOut
        Move-outs; one whose household is not registered yet waits in the history and takes
        effect when the registration arrives.

    Returns
    -------
    (set of str, set of str)
        The household ids whose row changed, and the house ids whose tenancy may have.
    """
    ids = {e.household_id for e in registrations} | {e.household_id for e in moves}
    before = _rows(session, Household, Household.household_id, list(ids))
    state = {k: dict(v, field_times=dict(v.get("field_times") or {})) for k, v in before.items()}
    ordered = sorted(zip(registrations, codes, strict=True),
                     key=lambda ec: (ec[0].occurred_at, ec[0].event_id, ec[0].source))
    landlords: dict[str, list[HouseholdRegistered]] = {}
    for event, code in ordered:
        row = state.get(event.household_id)
        if row is None:
            row = state[event.household_id] = {
                "household_id": event.household_id, "kind": event.kind.value,
                "status": "active", "registered_at": event.occurred_at, "field_times": {},
                "source": event.source}
        times = row["field_times"]
        stamp = _stamp(event)
        for name, column in _HOUSEHOLD_FIELDS.items():
            value = _value(event, name)
            if value is not None and _newer(stamp, times.get(column)):
                row[column] = value
                times[column] = stamp
        if event.lon is not None and _newer(stamp, times.get("position")):
            row["lon"], row["lat"] = event.lon, event.lat  # WGS-84: converted on the way in
            times["position"] = stamp
        if _newer(stamp, times.get("village")):
            row["village_code"] = code
            row["village_text"] = None if code else event.village[:64]
            times["village"] = stamp
        row["registered_at"] = min(row.get("registered_at") or event.occurred_at,
                                   event.occurred_at)
        row["updated_at"] = now
        if event.landlord_id:
            landlords.setdefault(event.landlord_id, []).append(event)
    _set_moves(session, state)
    houses = {r.get("house_id") for k, r in state.items() if r.get("house_id")}
    houses |= {r.get("house_id") for r in before.values() if r.get("house_id")}
    _upsert(session, Household.__table__, "household_id", state, before)
    _fold_landlords(session, landlords, now)
    changed = {k for k, row in state.items() if row != before.get(k)}
    return changed, houses


def _set_moves(session: Session, state: dict[str, dict]) -> None:
    """``moved_out_at`` and ``status`` of each household from its move-outs in the history."""
    if not state:
        return
    subjects = [household_subject(k) for k in state]
    latest: dict[str, datetime] = {}
    for start in range(0, len(subjects), _CHUNK):
        for subject, when in session.execute(
                select(WasteEventRow.subject, func.max(WasteEventRow.occurred_at))
                .where(WasteEventRow.subject.in_(subjects[start:start + _CHUNK]),
                       WasteEventRow.type == "household.moved_out")
                .group_by(WasteEventRow.subject)):
            latest[subject.split(":", 1)[1]] = when
    for key, row in state.items():
        out = latest.get(key)
        moved_in = row.get("moved_in_at")
        if out is not None and (moved_in is None or out >= moved_in):
            row["moved_out_at"], row["status"] = out, "moved_out"
        else:
            row["moved_out_at"], row["status"] = None, "active"


def _fold_landlords(session: Session, events: dict[str, list[HouseholdRegistered]],
                    now: datetime) -> None:
    if not events:
        return
    before = _rows(session, Landlord, Landlord.landlord_id, list(events))
    state = {k: dict(v, field_times=dict(v.get("field_times") or {})) for k, v in before.items()}
    for landlord_id, items in events.items():
        row = state.setdefault(landlord_id, {"landlord_id": landlord_id, "field_times": {}})
        for event in sorted(items, key=lambda e: (e.occurred_at, e.event_id, e.source)):
            stamp = _stamp(event)
            for name, column in (("landlord_name", "name"), ("landlord_phone", "phone")):
                value = getattr(event, name)
                if value is not None and _newer(stamp, row["field_times"].get(column)):
                    row[column] = value
                    row["field_times"][column] = stamp
        row["updated_at"] = now
    _upsert(session, Landlord.__table__, "landlord_id", state, before)


def fold_stations(session: Session, events: Sequence[StationRegistered],
                  codes: Sequence[str | None], now: datetime) -> set[str]:
    """Apply ``station.registered`` events; returns the station ids whose village changed."""
    before = _rows(session, WasteStation, WasteStation.station_id,
                   [e.station_id for e in events])
    state = {k: dict(v, field_times=dict(v.get("field_times") or {})) for k, v in before.items()}
    ordered = sorted(zip(events, codes, strict=True),
                     key=lambda ec: (ec[0].occurred_at, ec[0].event_id, ec[0].source))
    for event, code in ordered:
        row = state.setdefault(event.station_id, {"station_id": event.station_id,
                                                  "status": "active", "field_times": {},
                                                  "source": event.source})
        stamp = _stamp(event)
        if not _newer(stamp, row["field_times"].get("station")):
            continue
        row.update(name=event.name, village_code=code,
                   village_text=None if code else event.village[:64], status=event.status,
                   updated_at=now)
        if event.lon is not None:
            row.update(lon=event.lon, lat=event.lat)
        row["field_times"]["station"] = stamp
    _upsert(session, WasteStation.__table__, "station_id", state, before)
    return {k for k, row in state.items()
            if row.get("village_code") != (before.get(k) or {}).get("village_code")}
