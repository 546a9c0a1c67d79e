"""Repeat detection (研判): incidents of one kind at one place within a window are grouped.

The rule, applied in report order ``(reported_at, incident_id)``: an incident *repeats* the
earliest earlier incident of its category that is a group's first report (an *anchor*), lies
within ``repeats.distance_m`` of it (great-circle, WGS-84) and was reported at most
``repeats.window`` before it. An incident that repeats none is an anchor itself. A repeat group
is an anchor with its repeats; its id is the anchor's incident id; a lone anchor has no group.
Groups are stars around their first report, so they cannot chain across a town, and they depend
only on the stored incidents, not on arrival order.

:func:`update` runs in the governance tick. It finds the earliest report among incidents
changed since its last run (a watermark in Redis), and sweeps every incident reported from
there on — in memory, with a grid of the open anchors — knowing the anchors of the window before
it from the store. It writes ``repeat_group`` / ``repeat_size`` where they differ.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import defaultdict
from datetime import datetime, timedelta

import redis
from sqlalchemy import bindparam, func, select
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session, sessionmaker

from cockpit.governance_config import GovernanceConfig
from cockpit.settings import Settings
from cockpit.store.models import Incident

EARTH_RADIUS_M = 6_371_008.8
M_PER_DEG_LAT = 111_320.0
#: Re-read this far before the watermark: a batch committed late by another consumer can carry
#: an ``updated_at`` just before it.
OVERLAP = timedelta(seconds=5)
#: Incidents swept per run at most (a huge backfill is swept over several ticks).
MAX_SWEEP = 200_000


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres between two WGS-84 points (degrees); haversine."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


_COLUMNS = (Incident.incident_id, Incident.category, Incident.lon, Incident.lat,
            Incident.reported_at, Incident.repeat_group, Incident.repeat_size)


def _eligible(config: GovernanceConfig) -> list:
    cond = [Incident.lon.is_not(None), Incident.lat.is_not(None),
            Incident.reported_at.is_not(None), Incident.category.is_not(None)]
    cats = config.repeats.categories
    if cats is not None:
        cond.append(Incident.category.in_([c.value for c in cats]))
    return cond


def _order(row) -> tuple:
    return (row.reported_at, row.incident_id)


class AnchorIndex:
    """Anchors per category in a grid of cells about ``distance_m`` wide (degrees).

    Each cell keeps its anchors in report order ``(reported_at, incident_id)``: anchors must be
    added in that order (:func:`sweep` does), so a lookup starts at the window's edge by
    bisection and stops at the first anchor near enough.
    """

    def __init__(self, distance_m: float, window: timedelta):
        self.d = distance_m
        self.window = window
        self.cell = distance_m / M_PER_DEG_LAT
        self.cells: dict[tuple, list] = defaultdict(list)

    def _key(self, category: str, lon: float, lat: float) -> tuple[str, int, int]:
        return (category, math.floor(lon / self.cell), math.floor(lat / self.cell))

    def add(self, row) -> None:
        """Make ``row`` (incident_id, category, lon, lat, reported_at ...) an anchor.

        Raises ValueError when ``row`` comes before the last anchor of its cell.
        """
        cell = self.cells[self._key(row.category, row.lon, row.lat)]
        if cell and _order(row) < _order(cell[-1]):
            raise ValueError("anchors must be added in report order")
        cell.append(row)

    def anchor_of(self, row):
        """Return the earliest anchor ``row`` repeats, or None."""
        category, lon, lat = row.category, row.lon, row.lat
        # the cells a point within d can lie in; a degree of longitude is shorter than one of
        # latitude (the 1 % margin covers the great circle against this flat reckoning)
        d_lat = self.d * 1.01 / M_PER_DEG_LAT
        d_lon = d_lat / max(0.01, math.cos(math.radians(min(89.0, abs(lat) + d_lat))))
        cell_deg = self.cell
        xs = range(math.floor((lon - d_lon) / cell_deg), math.floor((lon + d_lon) / cell_deg) + 1)
        ys = range(math.floor((lat - d_lat) / cell_deg), math.floor((lat + d_lat) / cell_deg) + 1)
        best = None
        oldest = row.reported_at - self.window
        cells = self.cells
        for x in xs:
            for y in ys:
                cell = cells.get((category, x, y))
                if not cell:
                    continue
                for i in range(bisect_left(cell, oldest, key=_reported_at), len(cell)):
                    anchor = cell[i]
                    # in report order: a later anchor is never better than one found
                    if anchor.reported_at > row.reported_at or (
                            best is not None and _order(anchor) >= _order(best)):
                        break
                    if distance_m(row.lon, row.lat, anchor.lon, anchor.lat) <= self.d:
                        best = anchor
                        break
        return best


def _reported_at(row) -> datetime:
    return row.reported_at


def sweep(context: list, rows: list, config: GovernanceConfig) -> dict[str, str | None]:
    """Assign each of ``rows`` (in report order) its group id, or None when alone.

    ``context`` are the anchors reported within the window before the first of ``rows``
    (known from the store). Returns incident id → group id for ``rows`` and for the context
    anchors that gained a repeat.
    """
    index = AnchorIndex(config.repeats.distance_m, config.repeats.window)
    for anchor in sorted(context, key=_order):
        index.add(anchor)
    anchor_of: dict[str, str] = {}
    followed: set[str] = set()
    # Python's order, not the database's collation: the same groups on SQLite and PostgreSQL
    for row in sorted(rows, key=_order):
        anchor = index.anchor_of(row)
        if anchor is None:
            index.add(row)
        else:
            anchor_of[row.incident_id] = anchor.incident_id
            followed.add(anchor.incident_id)
    out: dict[str, str | None] = {}
    for row in rows:
        if row.incident_id in anchor_of:
            out[row.incident_id] = anchor_of[row.incident_id]
        else:
            out[row.incident_id] = row.incident_id if row.incident_id in followed else None
    for anchor in context:
        if anchor.incident_id in followed:
            out[anchor.incident_id] = anchor.incident_id
    return out


def regroup_from(session: Session, start: datetime, config: GovernanceConfig) -> int:
    """Sweep every incident reported at or after ``start``; returns incidents changed."""
    window = config.repeats.window
    base = select(*_COLUMNS).where(*_eligible(config))
    before = session.execute(base.where(Incident.reported_at >= start - window,
                                        Incident.reported_at < start)).all()
    # an anchor is an incident that repeats nothing: alone, or the first of its group
    context = [r for r in before if r.repeat_group in (None, r.incident_id)]
    rows = session.execute(base.where(Incident.reported_at >= start)
                           .order_by(Incident.reported_at, Incident.incident_id)
                           .limit(MAX_SWEEP)).all()
    groups = sweep(context, rows, config)
    # every member of a group this sweep can touch lies in before + rows (members are within
    # the window after their anchor), so the sizes are counted here
    final = {r.incident_id: r.repeat_group for r in before}
    final.update(groups)
    sizes: dict[str, int] = defaultdict(int)
    for group in final.values():
        if group is not None:
            sizes[group] += 1
    changes = []
    for row in [*before, *rows]:
        group = final[row.incident_id]
        size = sizes[group] if group is not None else 0
        if (row.repeat_group, row.repeat_size or 0) != (group, size):
            changes.append({"b_id": row.incident_id, "b_group": group, "b_size": size})
    if changes:
        table = Incident.__table__
        session.execute(sql_update(table).where(table.c.incident_id == bindparam("b_id"))
                        .values(repeat_group=bindparam("b_group"),
                                repeat_size=bindparam("b_size")), changes)
    return len(changes)


def update(r: redis.Redis, sessions: sessionmaker[Session], settings: Settings,
           config: GovernanceConfig, now: datetime | None = None) -> int:
    """Bring the repeat groups up to date after the incidents changed since the last run.

    Returns the number of incidents whose group changed. The watermark (the largest
    ``updated_at`` handled, ISO-8601) lives in Redis under ``{prefix}repeats:watermark``.
    """
    key = settings.key("repeats:watermark")
    mark = r.get(key)
    since = datetime.fromisoformat(mark) - OVERLAP if mark else None
    with sessions.begin() as session:
        query = select(func.min(Incident.reported_at), func.max(Incident.updated_at)).where(
            *_eligible(config))
        if since is not None:
            query = query.where(Incident.updated_at > since)
        start, newest = session.execute(query).one()
        if start is None or (mark and newest.isoformat() == mark):
            return 0
        changed = regroup_from(session, start, config)
    r.set(key, newest.isoformat())
    return changed
