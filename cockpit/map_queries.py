"""Read models of the live map: its incidents as points, their latest changes, village counts.

The map shows every open incident and those finished in the last ``hours``. With thousands open
it cannot draw them all: :func:`map_points` returns the ones to draw first (open before
finished, newest change first) up to a limit, and :func:`map_villages` counts all of them per
village so the wall can show the rest as one number per village. Every statement reads one
stage at a time from the (stage, stage_at) or (stage, due_at, village_code) index; the OR of
"open or recent" would scan every incident.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, literal_column, select, union_all
from sqlalchemy.orm import Session

from cockpit.clock import utc_now
from cockpit.queries import (
    DICT_COLUMNS,
    OPEN_STAGES,
    TERMINAL_VALUES,
    _dict_of,
    _iso,
    merged_branches,
    run_merged,
)
from cockpit.store.models import Incident
from cockpit.vocab import Stage

#: What a map marker, its hover text and the ticker show of an incident (:func:`map_points`).
MAP_FIELDS = ("incident_id", "category", "priority", "stage", "stage_at", "reported_at",
              "title", "address", "village_code", "lon", "lat")
#: ``(min_lon, min_lat, max_lon, max_lat)``, WGS-84 degrees: no bound.
WORLD = (-180.0, -90.0, 180.0, 90.0)


def _map_statements(columns: Sequence[Any], stages: Sequence[Stage]) -> dict[bool, Any]:
    """Incidents in ``stages`` positioned within the bounds, newest stage change first.

    One branch per stage: open ones whenever they moved, finished ones since ``:since``;
    each reads the (stage, stage_at) index newest first and the branches are merged.
    """
    since = bindparam("since")
    return merged_branches([select(*columns).where(
        Incident.stage == stage.value,
        Incident.lon.between(bindparam("x0"), bindparam("x1")),
        Incident.lat.between(bindparam("y0"), bindparam("y1")),
        *(() if stage.value in OPEN_STAGES else (Incident.stage_at >= since,)))
        for stage in stages], [("stage_at", True)])


def _params(now: datetime | None, hours: float, limit: int,
            bounds: Sequence[float]) -> dict[str, Any]:
    x0, y0, x1, y1 = bounds
    return {"since": (now or utc_now()) - timedelta(hours=hours), "limit": limit,
            "x0": x0, "x1": x1, "y0": y0, "y1": y1}


_MAP_COLUMNS = tuple(getattr(Incident, name) for name in MAP_FIELDS)
_OPEN = tuple(s for s in Stage if s.value in OPEN_STAGES)
_FINISHED = tuple(s for s in Stage if s.value not in OPEN_STAGES)
_MAP_INCIDENTS = _map_statements(DICT_COLUMNS, tuple(Stage))
_CHANGES = _map_statements(_MAP_COLUMNS, tuple(Stage))
# open ones, then finished ones in what room is left: two statements, each merged in order
_OPEN_POINTS = _map_statements(_MAP_COLUMNS, _OPEN)
_FINISHED_POINTS = _map_statements(_MAP_COLUMNS, _FINISHED)


def map_incidents(session: Session, tz: ZoneInfo, now: datetime | None = None,
                  hours: float = 24.0, limit: int = 5000) -> list[dict[str, Any]]:
    """Incidents for a map: every open one plus those that changed in the last ``hours``.

    Returns the same dicts as :func:`cockpit.queries.list_incidents`, only those with a
    position, latest stage change first.
    """
    rows = run_merged(session, _MAP_INCIDENTS, _params(now, hours, limit, WORLD))
    return [_dict_of(row, tz) for row in rows]


def _points(session, statement, tz, params) -> list[dict[str, Any]]:
    out = []
    for row in run_merged(session, statement, params):
        item = dict(zip(MAP_FIELDS, row, strict=True))
        item["stage_at"] = _iso(item["stage_at"], tz)
        item["reported_at"] = _iso(item["reported_at"], tz)
        out.append(item)
    return out


def map_points(session: Session, tz: ZoneInfo, now: datetime | None = None,
               hours: float = 24.0, limit: int = 5000,
               bounds: Sequence[float] = WORLD) -> list[dict[str, Any]]:
    """The map's incidents to draw as points: open ones first, then finished; newest first.

    The incidents of :func:`map_incidents` whose position lies within ``bounds``
    (``(min_lon, min_lat, max_lon, max_lat)``, WGS-84 degrees), with only the
    :data:`MAP_FIELDS` of each: a full dict costs about three times as much to read and build
    (``bench/queries.py``). At most ``limit``: every open incident is listed before any
    finished one, so finished ones only take what room is left.

    Returns
    -------
    list of dict
        ``incident_id``, ``category``, ``priority``, ``stage``, ``stage_at`` and
        ``reported_at`` (ISO-8601, local zone), ``title``, ``address``, ``village_code``,
        ``lon``, ``lat`` (WGS-84 degrees).
    """
    params = _params(now, hours, limit, bounds)
    out = _points(session, _OPEN_POINTS, tz, params)
    if len(out) < limit:
        out += _points(session, _FINISHED_POINTS, tz, {**params, "limit": limit - len(out)})
    return out


def latest_changes(session: Session, tz: ZoneInfo, now: datetime | None = None,
                   hours: float = 24.0, limit: int = 20) -> list[dict[str, Any]]:
    """The map's latest stage changes, newest first, open or finished (the wall's ticker).

    Same fields as :func:`map_points`.
    """
    return _points(session, _CHANGES, tz, _params(now, hours, limit, WORLD))


#: Per village: incidents in the loop, and finished ones (closed, cancelled) since ``:since``;
#: the open ones counted from the (stage, due_at, village_code) index alone.
_VILLAGE_COUNTS = union_all(
    select(Incident.village_code, func.count(), literal_column("'open'"))
    .where(Incident.stage.in_(OPEN_STAGES)).group_by(Incident.village_code),
    select(Incident.village_code, func.count(), literal_column("'done'"))
    .where(Incident.stage.in_(TERMINAL_VALUES), Incident.stage_at >= bindparam("since"))
    .group_by(Incident.village_code))


def map_villages(session: Session, now: datetime | None = None,
                 hours: float = 24.0) -> dict[str, dict[str, int]]:
    """Count the live map's incidents per village, with or without a position.

    The same incidents as :func:`map_incidents` (every open one, and finished ones whose
    stage changed in the last ``hours``) but counted, not listed.

    Returns
    -------
    dict
        Village code -> ``{"open": n, "done": n}``: ``open`` incidents still in the loop,
        ``done`` closed or cancelled since the cut. Incidents outside every village are
        under the key ``""``.
    """
    since = (now or utc_now()) - timedelta(hours=hours)
    out: dict[str, dict[str, int]] = {}
    for code, n, kind in session.execute(_VILLAGE_COUNTS, {"since": since}):
        out.setdefault(code or "", {"open": 0, "done": 0})[kind] += n
    return out
