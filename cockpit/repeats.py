"""Repeat detection (研判): incidents of one category, this close in space and time, are grouped.

Two incidents are *linked* when they share a category (one of ``repeats.categories``, all when
unset), their positions are at most ``repeats.distance_m`` apart (great-circle, WGS-84) and
their report times at most ``repeats.window`` apart. A repeat group is a connected set of linked
incidents (two or more); its id is the incident id of its earliest member by ``(reported_at,
incident_id)``, so the groups depend only on the stored incidents, not on arrival order.

:func:`update` runs in the governance tick over the incidents changed since the last run (a
watermark in Redis): it recomputes the groups those incidents and their former group mates
belong to, and writes ``repeat_group`` / ``repeat_size`` where they differ.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime, timedelta

import redis
from sqlalchemy import select
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session, sessionmaker

from cockpit.governance_config import GovernanceConfig
from cockpit.settings import Settings
from cockpit.store.models import Incident

EARTH_RADIUS_M = 6_371_008.8
M_PER_DEG_LAT = 111_320.0
#: Incidents taken per run; the rest wait for the next tick.
BATCH = 2000
#: Re-read this far before the watermark: a batch committed late by another consumer can carry
#: an ``updated_at`` just before it.
OVERLAP = timedelta(seconds=5)
#: A component larger than this is cut (a dense hotspot is flagged all the same).
MAX_COMPONENT = 500


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres between two WGS-84 points (degrees); haversine."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


_COLUMNS = (Incident.incident_id, Incident.category, Incident.lon, Incident.lat,
            Incident.reported_at, Incident.repeat_group, Incident.repeat_size)


def _eligible(config: GovernanceConfig):
    cond = [Incident.lon.is_not(None), Incident.lat.is_not(None),
            Incident.reported_at.is_not(None), Incident.category.is_not(None)]
    cats = config.repeats.categories
    if cats is not None:
        cond.append(Incident.category.in_([c.value for c in cats]))
    return cond


def neighbours(session: Session, row, config: GovernanceConfig) -> list:
    """Return the incidents linked to ``row`` (see the module docstring), itself excluded."""
    rules = config.repeats
    d = rules.distance_m
    dlat = d / M_PER_DEG_LAT
    dlon = d / (M_PER_DEG_LAT * max(0.01, math.cos(math.radians(row.lat))))
    found = session.execute(
        select(*_COLUMNS).where(
            Incident.category == row.category,
            Incident.reported_at >= row.reported_at - rules.window,
            Incident.reported_at <= row.reported_at + rules.window,
            Incident.lat.between(row.lat - dlat, row.lat + dlat),
            Incident.lon.between(row.lon - dlon, row.lon + dlon),
            Incident.incident_id != row.incident_id,
            *_eligible(config))).all()
    return [r for r in found if distance_m(row.lon, row.lat, r.lon, r.lat) <= d]


def components(session: Session, seeds: Iterable, config: GovernanceConfig) -> list[list]:
    """Return the connected sets of linked incidents that contain ``seeds`` (rows)."""
    seen: dict[str, object] = {}
    out: list[list] = []
    for seed in seeds:
        if seed.incident_id in seen:
            continue
        seen[seed.incident_id] = seed
        members, frontier = [seed], [seed]
        while frontier and len(members) < MAX_COMPONENT:
            node = frontier.pop()
            for other in neighbours(session, node, config):
                if other.incident_id not in seen:
                    seen[other.incident_id] = other
                    members.append(other)
                    frontier.append(other)
        out.append(members)
    return out


def regroup(session: Session, seeds: list, config: GovernanceConfig) -> int:
    """Recompute the groups around ``seeds`` and store them; returns incidents changed."""
    old_groups = {s.repeat_group for s in seeds if s.repeat_group}
    if old_groups:
        mates = session.execute(select(*_COLUMNS).where(
            Incident.repeat_group.in_(sorted(old_groups)))).all()
        seeds = list(seeds) + [m for m in mates if m.incident_id not in
                               {s.incident_id for s in seeds}]
    changed = 0
    for members in components(session, seeds, config):
        if len(members) > 1:
            first = min(members, key=lambda m: (m.reported_at, m.incident_id))
            group, size = first.incident_id, len(members)
        else:
            group, size = None, 0
        stale = [m.incident_id for m in members
                 if (m.repeat_group, m.repeat_size or 0) != (group, size)]
        if stale:
            session.execute(sql_update(Incident).where(Incident.incident_id.in_(stale))
                            .values(repeat_group=group, repeat_size=size))
            changed += len(stale)
    return changed


def update(r: redis.Redis, sessions: sessionmaker[Session], settings: Settings,
           config: GovernanceConfig, now: datetime | None = None) -> int:
    """Bring the repeat groups of incidents changed since the last run up to date.

    Returns the number of incidents whose group changed. The watermark (the largest
    ``updated_at`` handled, ISO-8601) lives in Redis under ``{prefix}repeats:watermark``.
    """
    key = settings.key("repeats:watermark")
    mark = r.get(key)
    since = datetime.fromisoformat(mark) - OVERLAP if mark else None
    with sessions.begin() as session:
        query = select(*_COLUMNS, Incident.updated_at).where(*_eligible(config))
        if since is not None:
            query = query.where(Incident.updated_at > since)
        seeds = session.execute(query.order_by(Incident.updated_at).limit(BATCH)).all()
        if not seeds:
            return 0
        changed = regroup(session, seeds, config)
        newest = max(s.updated_at for s in seeds)
    if mark is None or newest.isoformat() != mark:
        r.set(key, newest.isoformat())
    return changed
