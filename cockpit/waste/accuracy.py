"""Sorting accuracy (分类准确率), counted from the stored disposals at read time.

The rule (docs/waste.md): a disposal is accurate when the supervisor rated it ``correct``.
The accuracy of any set of disposals is ``correct / rated``: a count of disposals, not of kg
(weights are shown beside it, not mixed in). Every grouping — household, group, village,
landlord, station, supervisor, day, week, month, declared class — counts the same rows, so
the figures of every screen add up to each other and to the disposals themselves. Days and
weeks are local (``COCKPIT_TIMEZONE``) days of ``occurred_at``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Integer, cast, func, select
from sqlalchemy.orm import Session

from cockpit.store.waste_models import Household, WasteDisposal
from cockpit.waste.disposals import iso_week

#: The groupings :func:`accuracy_by` knows.
GROUPINGS = ("household", "group", "village", "landlord", "station", "supervisor", "day",
             "week", "month", "class")


@dataclass(frozen=True)
class Tally:
    """Rated disposals of one group: ``correct`` of ``total``, and their weight in kg."""

    key: str | None
    correct: int = 0
    total: int = 0
    kg: float = 0.0

    @property
    def rate(self) -> float | None:
        """Accuracy in [0, 1]; None without disposals."""
        return self.correct / self.total if self.total else None

    def meets(self, target: float) -> bool | None:
        """True when the accuracy reaches ``target``; None without disposals."""
        rate = self.rate
        return None if rate is None else rate >= target - 1e-12


def _key(by: str):
    d = WasteDisposal
    keys = {"household": d.household_id, "village": d.village_code, "station": d.station_id,
            "supervisor": d.supervisor_id, "day": d.local_day, "week": d.local_week,
            "month": func.substr(d.local_day, 1, 7), "class": d.declared_class,
            "landlord": Household.landlord_id,
            "group": func.coalesce(d.village_code, "") + "|"
            + func.coalesce(Household.group_name, "")}
    if by not in keys:
        raise ValueError(f"unknown grouping {by!r}; one of {', '.join(GROUPINGS)}")
    return keys[by]


def _filtered(query, start_day: date | None, end_day: date | None,
              villages: Sequence[str] | None, joined: bool, households=None, **where):
    d = WasteDisposal
    if households is not None:
        query = query.where(d.household_id.in_(list(households)))
    if start_day is not None:
        query = query.where(d.local_day >= start_day.isoformat())
    if end_day is not None:
        query = query.where(d.local_day <= end_day.isoformat())
    if villages is not None:
        query = query.where(d.village_code.in_(list(villages)))
    for name, value in where.items():
        if value is None:
            continue
        column = getattr(Household, name) if name in ("landlord_id", "group_name") \
            else getattr(d, name)
        query = query.where(column == value)
    if joined:
        query = query.join(Household, Household.household_id == d.household_id)
    return query


def accuracy_by(session: Session, by: str, start_day: date | None = None,
                end_day: date | None = None, villages: Sequence[str] | None = None,
                households: Sequence[str] | None = None, **where: str | None) -> list[Tally]:
    """Accuracy of the disposals of a period, per group.

    Parameters
    ----------
    by : str
        One of :data:`GROUPINGS`. ``group`` keys are ``"<village_code>|<group>"``;
        ``landlord`` and ``group`` count only disposals of registered households (``landlord``
        only of those with a landlord).
    start_day, end_day : date, optional
        Local days, both included; None for no bound.
    villages : sequence of str, optional
        Only disposals of these village codes (a staff member's scope).
    households : sequence of str, optional
        Only disposals of these households (a page of a list).
    **where : str
        Equality filters: ``village_code``, ``household_id``, ``station_id``,
        ``supervisor_id``, ``landlord_id``, ``group_name``.

    Returns
    -------
    list of Tally
        One per group with at least one disposal, sorted by key (None last).

    Raises
    ------
    ValueError
        For an unknown grouping.
    """
    d = WasteDisposal
    key = _key(by).label("key")
    joined = by in ("landlord", "group") or any(
        where.get(n) is not None for n in ("landlord_id", "group_name"))
    query = select(key, func.sum(cast(d.correct, Integer)), func.count(),
                   func.coalesce(func.sum(d.weight_kg), 0.0)).select_from(d)
    query = _filtered(query, start_day, end_day, villages, joined, households,
                      **where).group_by(key)
    if by == "landlord":
        query = query.where(Household.landlord_id.is_not(None))
    rows = [Tally(k, int(c or 0), int(n), float(kg)) for k, c, n, kg in session.execute(query)]
    return sorted(rows, key=lambda t: (t.key is None, t.key or ""))


def overall(session: Session, start_day: date | None = None, end_day: date | None = None,
            villages: Sequence[str] | None = None, **where: str | None) -> Tally:
    """Accuracy of every disposal of a period (same filters as :func:`accuracy_by`)."""
    d = WasteDisposal
    joined = any(where.get(n) is not None for n in ("landlord_id", "group_name"))
    query = select(func.sum(cast(d.correct, Integer)), func.count(),
                   func.coalesce(func.sum(d.weight_kg), 0.0)).select_from(d)
    correct, total, kg = session.execute(
        _filtered(query, start_day, end_day, villages, joined, **where)).one()
    return Tally(None, int(correct or 0), int(total), float(kg))


def days_back(today: date, days: int) -> tuple[date, date]:
    """``(first, last)`` local days of the ``days`` days ending with ``today``."""
    return today - timedelta(days=days - 1), today


def trend(session: Session, unit: str, today: date, count: int,
          villages: Sequence[str] | None = None, **where: str | None) -> list[Tally]:
    """Daily or weekly accuracy of the last ``count`` days or ISO weeks up to ``today``.

    Every period is present, a period without disposals as a zero :class:`Tally` (rate None),
    oldest first; keys are ``YYYY-MM-DD`` or ``YYYY-Www``.

    Raises
    ------
    ValueError
        When ``unit`` is not ``day`` or ``week``.
    """
    if unit == "day":
        start = today - timedelta(days=count - 1)
        labels = [(start + timedelta(days=i)).isoformat() for i in range(count)]
    elif unit == "week":
        monday = today - timedelta(days=today.weekday())
        start = monday - timedelta(weeks=count - 1)
        labels = [iso_week(start + timedelta(weeks=i)) for i in range(count)]
    else:
        raise ValueError(f"unit {unit!r}: day or week")
    found = {t.key: t for t in accuracy_by(session, unit, start, today, villages, **where)}
    return [found.get(label, Tally(label)) for label in labels]


def village_ranking(session: Session, start_day: date, end_day: date,
                    villages: Sequence[str] | None = None) -> list[Tally]:
    """Villages of a period by accuracy, best first (the wall's ranked bars); no-village last."""
    rows = accuracy_by(session, "village", start_day, end_day, villages)
    return sorted(rows, key=lambda t: (t.key is None, -(t.rate or 0.0), t.key or ""))
