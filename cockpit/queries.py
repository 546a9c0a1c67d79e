"""Read models of the incident screens and API: plain dicts computed from the SQL store.

Each function takes a :class:`~sqlalchemy.orm.Session` and returns JSON-ready data (times as
ISO-8601 strings with offset, in the cockpit's zone). The wall page and ``/api/v1`` serve the
same read models, so the screen and the API never disagree.
"""

from __future__ import annotations

import statistics
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cockpit.clock import day_bounds, utc_now
from cockpit.store.models import Incident, IncidentEventRow
from cockpit.vocab import TERMINAL_STAGES, Category, Stage

#: Stages of the closed-loop funnel, in order (cancelled is counted apart).
FUNNEL_STAGES = (Stage.REPORTED, Stage.ASSESSED, Stage.DISPATCHED, Stage.ARRIVED,
                 Stage.RESOLVED, Stage.CLOSED)
OPEN_STAGES = tuple(s.value for s in Stage if s not in TERMINAL_STAGES)
MAX_LIMIT = 1000


def _iso(value: datetime | None, tz: ZoneInfo) -> str | None:
    return None if value is None else value.astimezone(tz).isoformat(timespec="seconds")


def summary(session: Session, tz: ZoneInfo, now: datetime | None = None) -> dict[str, Any]:
    """Return the wall's KPI strip and funnel for the local day of ``now``.

    Returns
    -------
    dict
        ``as_of``, ``day_start`` (ISO-8601, local zone); ``today_total`` and
        ``today_by_category`` (list of ``{category, count}``, every category, zeros
        included) of incidents reported today; ``open`` (all incidents not closed or
        cancelled); ``closed_today``; ``median_dispatch_s`` (median seconds from reported to
        first dispatch of today's incidents, None without any); ``funnel`` (list of
        ``{stage, count}``: today's incidents that reached each stage); ``cancelled_today``;
        ``last_event_at`` (latest ``occurred_at`` stored, None when empty).
    """
    now = now or utc_now()
    start, end = day_bounds(now, tz)
    today = (Incident.reported_at >= start) & (Incident.reported_at < end)
    by_cat = dict(session.execute(
        select(Incident.category, func.count()).where(today).group_by(Incident.category)
    ).all())
    stage_cols = [func.count(getattr(Incident, f"{s.value}_at")) for s in FUNNEL_STAGES]
    funnel_row = session.execute(select(*stage_cols).where(today)).one()
    cancelled = session.scalar(
        select(func.count()).where(today, Incident.cancelled_at.is_not(None))
    )
    open_count = session.scalar(select(func.count()).where(Incident.stage.in_(OPEN_STAGES)))
    closed_today = session.scalar(
        select(func.count()).where(Incident.closed_at >= start, Incident.closed_at < end)
    )
    pairs = session.execute(
        select(Incident.reported_at, Incident.dispatched_at)
        .where(today, Incident.dispatched_at.is_not(None))
    ).all()
    waits = [(d - r).total_seconds() for r, d in pairs if d >= r]
    last = session.scalar(select(func.max(IncidentEventRow.occurred_at)))
    return {
        "as_of": _iso(now, tz),
        "day_start": _iso(start, tz),
        "today_total": sum(by_cat.values()),
        "today_by_category": [{"category": c.value, "count": by_cat.get(c.value, 0)}
                              for c in Category],
        "open": open_count,
        "closed_today": closed_today,
        "cancelled_today": cancelled,
        "median_dispatch_s": statistics.median(waits) if waits else None,
        "funnel": [{"stage": s.value, "count": n}
                   for s, n in zip(FUNNEL_STAGES, funnel_row, strict=True)],
        "last_event_at": _iso(last, tz),
    }


def incident_dict(row: Incident, tz: ZoneInfo) -> dict[str, Any]:
    """Return one incident as the screens and the API show it (times ISO-8601, local zone).

    ``assigned_team`` is the team sent (``team``, from a dispatch) or else the team the
    routing rules suggest; ``due_at`` is when the current stage's limit runs out (None: no
    limit or final stage); ``repeat_group`` names the earliest incident of its repeat group.
    """
    return {
        "incident_id": row.incident_id,
        "category": row.category,
        "priority": row.priority,
        "stage": row.stage,
        "stage_at": _iso(row.stage_at, tz),
        "title": row.title,
        "address": row.address,
        "lon": row.lon,
        "lat": row.lat,
        "village_code": row.village_code,
        "grid": row.grid,
        "team": row.team,
        "unit": row.unit,
        "source": row.source,
        "replay": row.source.startswith("replay:"),
        **{f"{s.value}_at": _iso(getattr(row, f"{s.value}_at"), tz) for s in Stage},
        "suggested_team": row.suggested_team,
        "assigned_team": row.team or row.suggested_team,
        "limit_s": row.limit_s,
        "due_at": _iso(row.due_at, tz),
        "escalation_level": row.escalation_level or 0,
        "repeat_group": row.repeat_group,
        "repeat_size": row.repeat_size or 0,
        "reopen_count": row.reopen_count or 0,
        "illegal_count": row.illegal_count or 0,
    }


#: Sort keys of :func:`list_incidents` → column (the table's sortable columns).
SORTS = {"stage_at": Incident.stage_at, "reported_at": Incident.reported_at,
         "due_at": Incident.due_at, "category": Incident.category,
         "priority": Incident.priority, "stage": Incident.stage,
         "village": Incident.village_code, "team": Incident.team,
         "repeat_size": Incident.repeat_size}


def _filtered(query, *, stage=None, category=None, village=None, team=None, text=None,
              since=None, until=None, reported_from=None, reported_to=None,
              overdue_at=None, repeats=False):
    if stage == "open":
        query = query.where(Incident.stage.in_(OPEN_STAGES))
    elif stage:
        query = query.where(Incident.stage == stage)
    if category:
        query = query.where(Incident.category == category)
    if village:
        query = query.where(Incident.village_code == village)
    if team:
        query = query.where(func.coalesce(Incident.team, Incident.suggested_team) == team)
    if text:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(Incident.incident_id.ilike(pattern, escape="\\")
                            | Incident.title.ilike(pattern, escape="\\")
                            | Incident.address.ilike(pattern, escape="\\"))
    if since is not None:
        query = query.where(Incident.stage_at >= since)
    if until is not None:
        query = query.where(Incident.stage_at < until)
    if reported_from is not None:
        query = query.where(Incident.reported_at >= reported_from)
    if reported_to is not None:
        query = query.where(Incident.reported_at < reported_to)
    if overdue_at is not None:
        query = query.where(Incident.due_at <= overdue_at)
    if repeats:
        query = query.where(Incident.repeat_group.is_not(None))
    return query


def list_incidents(
    session: Session,
    tz: ZoneInfo,
    *,
    stage: str | None = None,
    category: str | None = None,
    village: str | None = None,
    team: str | None = None,
    text: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    reported_from: datetime | None = None,
    reported_to: datetime | None = None,
    overdue_at: datetime | None = None,
    repeats: bool = False,
    sort: str = "stage_at",
    descending: bool = True,
    limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Return incidents matching every filter given, latest stage change first by default.

    Parameters
    ----------
    stage, category : str, optional
        Codes (``reported`` ..., ``fire`` ...); ``stage="open"`` means not closed/cancelled.
    village : str, optional
        Village code.
    team : str, optional
        Assigned team (the team sent, else the suggested one): code or free text as sent.
    text : str, optional
        Case-insensitive substring of the incident id, title or address.
    since, until : datetime, optional
        Aware; stage changed in ``[since, until)``.
    reported_from, reported_to : datetime, optional
        Aware; reported in ``[reported_from, reported_to)`` (a local day or week, say).
    overdue_at : datetime, optional
        Only incidents whose current stage was due by then (open and overdue).
    repeats : bool
        Only members of a repeat group.
    sort : str
        One of :data:`SORTS`; ties are broken by incident id.
    descending : bool
        Sort direction.
    limit, offset : int
        Page; ``limit`` is capped at 1000.

    Returns
    -------
    list of dict
        :func:`incident_dict` per incident.

    Raises
    ------
    ValueError
        If ``sort`` is not a key of :data:`SORTS`.
    """
    if sort not in SORTS:
        raise ValueError(f"sort: {sort!r}; expected one of {', '.join(SORTS)}")
    query = _filtered(select(Incident), stage=stage, category=category, village=village,
                      team=team, text=text, since=since, until=until,
                      reported_from=reported_from, reported_to=reported_to,
                      overdue_at=overdue_at, repeats=repeats)
    column = SORTS[sort]
    order = column.desc() if descending else column.asc()
    query = query.order_by(order.nulls_last(), Incident.incident_id)
    query = query.limit(max(1, min(limit, MAX_LIMIT))).offset(max(0, offset))
    return [incident_dict(row, tz) for row in session.execute(query).scalars()]


def count_incidents(session: Session, **filters: Any) -> int:
    """Return how many incidents match the filters of :func:`list_incidents` (no paging)."""
    filters = {k: v for k, v in filters.items()
               if k not in ("sort", "descending", "limit", "offset")}
    return session.scalar(_filtered(select(func.count()).select_from(Incident), **filters))


def map_incidents(session: Session, tz: ZoneInfo, now: datetime | None = None,
                  hours: float = 24.0, limit: int = 5000) -> list[dict[str, Any]]:
    """Incidents for the live map: every open one plus those that changed in the last ``hours``.

    Returns the same dicts as :func:`list_incidents`, only those with a position.
    """
    now = now or utc_now()
    recent = Incident.stage_at >= now - timedelta(hours=hours)
    query = (select(Incident)
             .where(Incident.lon.is_not(None), recent | Incident.stage.in_(OPEN_STAGES))
             .order_by(Incident.stage_at.desc()).limit(limit))
    return [incident_dict(row, tz) for row in session.execute(query).scalars()]


def latest_incidents(session: Session, tz: ZoneInfo, limit: int = 12) -> list[dict[str, Any]]:
    """The most recently reported incidents, newest first (the wall's ticker)."""
    query = (select(Incident).where(Incident.reported_at.is_not(None))
             .order_by(Incident.reported_at.desc(), Incident.incident_id).limit(limit))
    return [incident_dict(row, tz) for row in session.execute(query).scalars()]
