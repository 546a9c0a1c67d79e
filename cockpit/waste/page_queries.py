"""Read models of the staff page ``/waste`` (垃圾分类).

The overview, households, one household's record, recent disposals and the photo store's
scope check; the landlords tab reads :mod:`cockpit.waste.landlord_queries`.

Every accuracy figure here is a :class:`~cockpit.waste.accuracy.Tally` of
:mod:`cockpit.waste.accuracy` or :mod:`cockpit.waste.queries`, counted from the stored
disposals at read time, and handed on as :func:`tally_dict` (its ``rate`` is the tally's own).
Nothing is cached or stored. Results are JSON-ready (times as local ISO-8601 text). Personal
data (household heads', landlords' names and phones, addresses) is masked by
:mod:`cockpit.privacy` unless ``unmasked``; ``scope`` limits every read to a staff account's
villages in SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from cockpit.privacy import mask_address, mask_name, mask_phone
from cockpit.queries import contains_pattern
from cockpit.store.waste_models import FollowUp, Household, Landlord, WasteDisposal, WasteStation
from cockpit.waste import accuracy, queries
from cockpit.waste.accuracy import Tally
from cockpit.waste.config import WasteRules

#: Most rows of one list page, and of a household's disposals on its record.
MAX_LIMIT = 200
RECORD_DISPOSALS = 100
Scope = Sequence[str] | None


def tally_dict(t: Tally, target: float | None = None) -> dict[str, Any]:
    """A tally as JSON: ``key, correct, total, kg, rate`` (and ``meets`` with a target)."""
    out = {"key": t.key, "correct": t.correct, "total": t.total, "kg": round(t.kg, 3),
           "rate": t.rate}
    if target is not None:
        out["meets"] = t.meets(target)
    return out


def _iso(value: datetime | None, tz: ZoneInfo) -> str | None:
    return None if value is None else value.astimezone(tz).isoformat(timespec="seconds")


def is_simulated(source: str | None) -> bool:
    """Whether a producer is the demo's simulator (source ``sim:...``): its photos are 模拟."""
    return bool(source) and source.startswith("sim:")


# -- overview ----------------------------------------------------------------------------------
def station_names(session: Session, ids: Sequence[str | None]) -> dict[str, str | None]:
    """Station id -> name of the stations among ``ids``."""
    wanted = sorted({i for i in ids if i})
    if not wanted:
        return {}
    return dict(session.execute(select(WasteStation.station_id, WasteStation.name)
                                .where(WasteStation.station_id.in_(wanted))).all())


def overview(session: Session, rules: WasteRules, today: date, start: date, end: date,
             villages: Scope = None) -> dict[str, Any]:
    """The overview tab: KPIs, daily and weekly trends, and the period's groupings.

    Parameters
    ----------
    today : date
        The local day the KPIs and trends end with.
    start, end : date
        The chosen period (both included) of the groupings and of ``period``.
    villages : sequence of str, optional
        Village codes counted (a staff account's scope, or one village chosen).

    Returns
    -------
    dict
        ``target``; ``kpis`` {today, 7d, 30d, period} tallies; ``classes`` (declared class:
        kg and accuracy); ``daily``, ``weekly`` (every period, oldest first); ``villages``
        (best first), ``stations`` (with ``name``), ``groups`` (with ``village_code`` and
        ``group``), ``supervisors``: tallies of the period with ``meets``.
    """
    target = rules.target

    def tallies(rows: Sequence[Tally]) -> list[dict[str, Any]]:
        return [tally_dict(t, target) for t in rows]

    kpis = {"today": accuracy.overall(session, today, today, villages)}
    for days in (7, 30):
        first, last = accuracy.days_back(today, days)
        kpis[f"{days}d"] = accuracy.overall(session, first, last, villages)
    kpis["period"] = accuracy.overall(session, start, end, villages)
    stations = tallies(accuracy.accuracy_by(session, "station", start, end, villages))
    names = station_names(session, [s["key"] for s in stations])
    for row in stations:
        row["name"] = names.get(row["key"])
    groups = tallies(accuracy.accuracy_by(session, "group", start, end, villages))
    for row in groups:
        code, _, group = (row["key"] or "|").partition("|")
        row.update(village_code=code or None, group=group or None)
    return {
        "target": target, "start": start.isoformat(), "end": end.isoformat(),
        "kpis": {k: tally_dict(v, target) for k, v in kpis.items()},
        "classes": tallies(accuracy.accuracy_by(session, "class", start, end, villages)),
        "daily": tallies(accuracy.trend(session, "day", today, rules.trend.days, villages)),
        "weekly": tallies(accuracy.trend(session, "week", today, rules.trend.weeks, villages)),
        "villages": tallies(accuracy.village_ranking(session, start, end, villages)),
        "stations": stations, "groups": groups,
        "supervisors": tallies(accuracy.accuracy_by(session, "supervisor", start, end,
                                                    villages)),
    }


def months(session: Session, villages: Scope = None) -> list[str]:
    """Months (``YYYY-MM``) from the first to the last stored disposal, newest first."""
    query = select(func.min(WasteDisposal.local_day), func.max(WasteDisposal.local_day))
    if villages is not None:
        query = query.where(WasteDisposal.village_code.in_(list(villages)))
    first, last = session.execute(query).one()
    if not first:
        return []
    year, month = int(last[:4]), int(last[5:7])
    out = []
    while f"{year:04d}-{month:02d}" >= first[:7]:
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return out


# -- households --------------------------------------------------------------------------------
def _household_filters(query, *, village=None, group=None, kind=None, status=None, text=None,
                       scope: Scope = None, personal_search: bool = False):
    if scope is not None:
        query = query.where(Household.village_code.in_(list(scope)))
    for column, value in ((Household.village_code, village), (Household.group_name, group),
                          (Household.kind, kind), (Household.status, status)):
        if value:
            query = query.where(column == value)
    if text:
        pattern = contains_pattern(text)
        fields = [Household.household_id.ilike(pattern, escape="\\"),
                  Household.house_id.ilike(pattern, escape="\\")]
        if personal_search:  # only for a role that may see names: else it would confirm them
            fields += [Household.head_name.ilike(pattern, escape="\\"),
                       Household.head_phone.ilike(pattern, escape="\\")]
        query = query.where(or_(*fields))
    return query


def count_households(session: Session, **filters: Any) -> int:
    """How many households the filters of :func:`list_households` select."""
    query = _household_filters(select(func.count()).select_from(Household), **filters)
    return int(session.scalar(query) or 0)


def household_dict(h: Household, tz: ZoneInfo, unmasked: bool = False) -> dict[str, Any]:
    """One household's attributes; the head's name and phone and the address masked.

    ``unmasked`` gives them as stored (a staff member's audited reveal).
    """
    return {"household_id": h.household_id, "kind": h.kind, "village_code": h.village_code,
            "village_text": h.village_text, "group_name": h.group_name,
            "house_id": h.house_id, "landlord_id": h.landlord_id,
            "address": h.address if unmasked else mask_address(h.address),
            "head_name": h.head_name if unmasked else mask_name(h.head_name),
            "head_phone": h.head_phone if unmasked else mask_phone(h.head_phone),
            "members": h.members, "status": h.status, "source": h.source,
            "moved_in_at": _iso(h.moved_in_at, tz), "moved_out_at": _iso(h.moved_out_at, tz),
            "registered_at": _iso(h.registered_at, tz), "masked": not unmasked}


def list_households(session: Session, tz: ZoneInfo, start: date, end: date, target: float, *,
                    limit: int = 50, offset: int = 0, **filters: Any) -> list[dict[str, Any]]:
    """A page of households (by id) with their accuracy over ``start``..``end``.

    Filters: ``village, group, kind, status, text, scope, personal_search``. Each row is
    :func:`household_dict` (masked) plus ``accuracy`` (:func:`tally_dict` of
    :func:`cockpit.waste.accuracy.overall` for the household and period).
    """
    query = _household_filters(select(Household), **filters).order_by(Household.household_id)
    rows = session.scalars(query.limit(max(1, min(limit, MAX_LIMIT))).offset(max(0, offset))
                           ).all()
    tallies = {t.key: t for t in accuracy.accuracy_by(
        session, "household", start, end, households=[h.household_id for h in rows])}
    return [household_dict(h, tz) | {"accuracy": tally_dict(
        tallies.get(h.household_id, accuracy.Tally(h.household_id)), target) | {
            "key": h.household_id}} for h in rows]


def group_names(session: Session, scope: Scope = None) -> list[str]:
    """Every group name of the households of ``scope``, sorted (the households' filter)."""
    query = select(Household.group_name).where(Household.group_name.is_not(None)).distinct()
    if scope is not None:
        query = query.where(Household.village_code.in_(list(scope)))
    return sorted(g for (g,) in session.execute(query))


def _followups_of(session: Session, household_id: str, rules: WasteRules, tz: ZoneInfo
                  ) -> list[dict[str, Any]]:
    tasks = session.scalars(select(FollowUp).where(FollowUp.household_id == household_id)
                            .order_by(FollowUp.found_at.desc())).all()
    out = []
    for task in tasks:
        before, after = queries.effect(session, task, rules)
        out.append({"followup_id": task.followup_id, "reason": task.reason,
                    "status": task.status, "found_at": _iso(task.found_at, tz),
                    "due_at": _iso(task.due_at, tz), "assignee_id": task.assignee_id,
                    "assignee_kind": task.assignee_kind,
                    "visited_at": _iso(task.visited_at, tz), "outcome": task.outcome,
                    "before": tally_dict(before, rules.target),
                    "after": None if after is None else tally_dict(after, rules.target),
                    "judged": after is not None and after.total >= rules.follow_up.min_after})
    return out


def household_record(session: Session, tz: ZoneInfo, rules: WasteRules, household_id: str,
                     today: date, scope: Scope = None, unmasked: bool = False
                     ) -> dict[str, Any] | None:
    """One household's record; None when unknown or outside ``scope``.

    Returns
    -------
    dict or None
        :func:`household_dict` plus ``landlord`` (id, name, phone; masked unless
        ``unmasked``), ``accuracy`` (all time) and ``recent`` (30 days) tallies, ``months``
        (monthly tallies, newest first), ``disposals`` (newest :data:`RECORD_DISPOSALS`, as
        :func:`list_disposals`) and ``followups`` (with their before/after effect).
    """
    h = session.get(Household, household_id)
    if h is None or (scope is not None and h.village_code not in scope):
        return None
    landlord = session.get(Landlord, h.landlord_id) if h.landlord_id else None
    first, last = accuracy.days_back(today, 30)
    record = household_dict(h, tz, unmasked)
    record.update(
        landlord=None if h.landlord_id is None else {
            "landlord_id": h.landlord_id,
            "name": landlord_name(landlord, unmasked), "phone": landlord_phone(landlord,
                                                                              unmasked)},
        accuracy=tally_dict(accuracy.overall(session, household_id=household_id), rules.target),
        recent=tally_dict(accuracy.overall(session, first, last, household_id=household_id),
                          rules.target),
        months=[tally_dict(t, rules.target) for t in reversed(accuracy.accuracy_by(
            session, "month", household_id=household_id))],
        disposals=list_disposals(session, tz, limit=RECORD_DISPOSALS, household=household_id),
        followups=_followups_of(session, household_id, rules, tz))
    return record


# -- disposals ---------------------------------------------------------------------------------
def _disposal_filters(query, *, village=None, station=None, rating=None, waste_class=None,
                      day=None, household=None, scope: Scope = None):
    d = WasteDisposal
    if scope is not None:
        query = query.where(d.village_code.in_(list(scope)))
    for column, value in ((d.village_code, village), (d.station_id, station),
                          (d.declared_class, waste_class), (d.local_day, day),
                          (d.household_id, household)):
        if value:
            query = query.where(column == value)
    if rating:
        query = query.where(d.correct.is_(rating == "correct"))
    return query


def count_disposals(session: Session, **filters: Any) -> int:
    """How many disposals the filters of :func:`list_disposals` select."""
    query = _disposal_filters(select(func.count()).select_from(WasteDisposal), **filters)
    return int(session.scalar(query) or 0)


def list_disposals(session: Session, tz: ZoneInfo, *, limit: int = 50, offset: int = 0,
                   **filters: Any) -> list[dict[str, Any]]:
    """Disposals, newest first, with their station's name and photo reference.

    Filters: ``village, station, rating`` (correct | incorrect), ``waste_class, day``
    (``YYYY-MM-DD``), ``household, scope``. No personal data is in a disposal.
    """
    d = WasteDisposal
    query = _disposal_filters(select(d, WasteStation.name).outerjoin(
        WasteStation, WasteStation.station_id == d.station_id), **filters)
    query = query.order_by(d.occurred_at.desc(), d.event_id.desc())
    rows = session.execute(query.limit(max(1, min(limit, MAX_LIMIT))).offset(max(0, offset)))
    return [{"event_id": r.event_id, "source": r.source, "occurred_at": _iso(r.occurred_at, tz),
             "local_day": r.local_day, "household_id": r.household_id, "house_id": r.house_id,
             "via_house": r.via_house, "station_id": r.station_id, "station_name": name,
             "village_code": r.village_code, "supervisor_id": r.supervisor_id,
             "photo": r.photo, "simulated": is_simulated(r.source),
             "weight_kg": r.weight_kg, "declared_class": r.declared_class,
             "correct": r.correct, "found_class": r.found_class, "found_item": r.found_item}
            for r, name in rows.all()]


def stations(session: Session, scope: Scope = None) -> list[dict[str, Any]]:
    """Stations of ``scope`` (id, name, village, status), by id (the disposals' filter)."""
    query = select(WasteStation).order_by(WasteStation.station_id)
    if scope is not None:
        query = query.where(WasteStation.village_code.in_(list(scope)))
    return [{"station_id": s.station_id, "name": s.name, "village_code": s.village_code,
             "status": s.status} for s in session.scalars(query)]


# -- landlords (the tab's queries: cockpit.waste.landlord_queries) -----------------------
def landlord_name(landlord: Landlord | None, unmasked: bool = False) -> str | None:
    """A landlord's name, masked unless ``unmasked``."""
    name = landlord.name if landlord is not None else None
    return name if unmasked else mask_name(name)


def landlord_phone(landlord: Landlord | None, unmasked: bool = False) -> str | None:
    """A landlord's phone, masked unless ``unmasked``."""
    phone = landlord.phone if landlord is not None else None
    return phone if unmasked else mask_phone(phone)



# -- photos ------------------------------------------------------------------------------------
def photo_in_scope(session: Session, key: str, scope: Scope = None) -> bool:
    """True when a stored disposal refers to photo ``key`` (one of ``scope``'s villages).

    A key no disposal names is not served at all: the photo store holds only disposals' photos.
    """
    query = select(WasteDisposal.event_id).where(WasteDisposal.photo == key)
    if scope is not None:
        query = query.where(WasteDisposal.village_code.in_(list(scope)))
    return session.execute(query.limit(1)).first() is not None


def today_of(now: datetime, tz: ZoneInfo) -> date:
    """The local day of ``now`` (the KPIs' "today")."""
    return now.astimezone(tz).date()


def month_span(month: str) -> tuple[date, date]:
    """First and last day of ``YYYY-MM``."""
    first = date(int(month[:4]), int(month[5:7]), 1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following - timedelta(days=1)
