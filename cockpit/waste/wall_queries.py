"""The wall's waste read model: sorting accuracy of the last days, per village and per day.

One call, :func:`wall_accuracy`, reads everything the wall shows of the waste module — each
village's accuracy over the period, the subdistrict's, and the daily trend — from the counts
of one ``GROUP BY day, village`` of the stored disposals, so the three always add up to each
other and to the disposals (the same rule as :mod:`cockpit.waste.accuracy`: ``correct /
rated``, a count of disposals). Counts only: no household, person or photo leaves this module.

The wall reads it at every data version, most of which move incidents, not disposals. So the
model keeps its per-day counts with a mark of what they were counted from, and the next read
(given the last model) counts again only the days whose mark moved: a day's number of
disposals (from the day index alone) and the number of registry events (a household or
station registered or moved re-assigns the village of stored disposals). Disposals are only
ever added, never changed or removed otherwise, so equal marks mean equal counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Integer, cast, func, select
from sqlalchemy.orm import Session

from cockpit.store.waste_models import WasteDisposal, WasteEventRow
from cockpit.waste.accuracy import days_back

#: The wall's period: the last seven local days, today included (近7日).
WALL_DAYS = 7
#: Sources of the demo's simulator start with this (``sim:waste``...).
SIM_PREFIX = "sim:"


def wall_accuracy(session: Session, today: date, days: int = WALL_DAYS,
                  previous: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Accuracy of the disposals of the ``days`` local days ending with ``today``.

    Parameters
    ----------
    session : Session
        Any session; nothing is written.
    today : date
        The local (``COCKPIT_TIMEZONE``) day the period ends with, included.
    days : int
        Length of the period in local days (:data:`WALL_DAYS`).
    previous : dict, optional
        The model this function returned last (any period): its days whose mark has not
        moved are not counted again. The result is the same with or without it.

    Returns
    -------
    dict
        JSON-ready:

        * ``first_day``, ``last_day``: the period, ``YYYY-MM-DD``, both included; ``days``;
        * ``villages``: ``[{village_code, correct, total}]`` for every village with at least
          one rated disposal in the period, by code (``village_code`` None for disposals of
          no known village: counted in ``overall``, not placed on the map);
        * ``overall``: ``{correct, total}`` of every disposal of the period;
        * ``trend``: ``[{day, correct, total}]``, one per day of the period, oldest first, a
          day without disposals with zeros;
        * ``simulated``: True when a disposal of the period comes from the demo's simulator
          (source ``sim:...``);
        * ``cells`` and ``marks``: the per-day, per-village counts and what they were
          counted from, for the next call's ``previous``.

    Raises
    ------
    ValueError
        If ``days`` is less than 1.
    """
    if days < 1:
        raise ValueError(f"days must be at least 1, not {days}")
    first, last = days_back(today, days)
    labels = [(first + timedelta(days=i)).isoformat() for i in range(days)]
    d = WasteDisposal
    registry = select(func.count()).select_from(WasteEventRow).scalar_subquery()
    # first the marks, then the counts: a commit between them is counted again next time
    marks = {day: [int(n), int(events)] for day, n, events in session.execute(
        select(d.local_day, func.count(), registry)
        .where(d.local_day >= labels[0], d.local_day <= labels[-1]).group_by(d.local_day))}
    known = (previous or {}).get("cells") or {}
    kept = {day: known[day] for day in marks
            if day in known and ((previous or {}).get("marks") or {}).get(day) == marks[day]}
    cells: dict[str, dict[str, list[int]]] = dict(kept)
    for day, code, correct, total in session.execute(
            select(d.local_day, d.village_code, func.sum(cast(d.correct, Integer)), func.count())
            .where(d.local_day.in_(sorted(set(marks) - set(kept))))
            .group_by(d.local_day, d.village_code)):
        # JSON keys are strings: the disposals of no known village are kept under ""
        cells.setdefault(day, {})[code or ""] = [int(correct or 0), int(total)]
    return {"first_day": labels[0], "last_day": labels[-1], "days": days,
            **_totals(cells, labels), "simulated": _simulated(session, labels[0], labels[-1]),
            "cells": cells, "marks": marks}


def _totals(cells: Mapping[str, Mapping[str, list[int]]], labels: list[str]) -> dict[str, Any]:
    villages: dict[str, list[int]] = {}
    for per_village in cells.values():
        for code, (correct, total) in per_village.items():
            counts = villages.setdefault(code, [0, 0])
            counts[0] += correct
            counts[1] += total
    trend = []
    for day in labels:
        per_village = cells.get(day) or {}
        trend.append({"day": day, "correct": sum(c for c, _ in per_village.values()),
                      "total": sum(n for _, n in per_village.values())})
    ordered = sorted(villages.items(), key=lambda kv: (kv[0] == "", kv[0]))
    return {"villages": [{"village_code": code or None, "correct": c, "total": n}
                         for code, (c, n) in ordered],
            "overall": {"correct": sum(c for c, _ in villages.values()),
                        "total": sum(n for _, n in villages.values())},
            "trend": trend}


def _simulated(session: Session, first: str, last: str) -> bool:
    """Whether a disposal of the period comes from the simulator (source ``sim:...``).

    First a range on the primary key's leading column (source), an index probe where LIKE
    would scan: a store without simulated disposals answers at once. Then the period's newest
    first (the day index), where a demo's simulated disposals are found at once.
    """
    d = WasteDisposal
    sim = (d.source >= SIM_PREFIX, d.source < SIM_PREFIX[:-1] + ";")
    if session.scalar(select(d.source).where(*sim).limit(1)) is None:
        return False
    return session.scalar(
        select(d.source).where(*sim, d.local_day >= first, d.local_day <= last)
        .order_by(d.local_day.desc()).limit(1)) is not None
