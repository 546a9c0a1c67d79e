"""Read models of the incident screens and API: plain dicts computed from the SQL store.

Each function takes a :class:`~sqlalchemy.orm.Session` and returns JSON-ready data (times as
ISO-8601 strings with offset, in the cockpit's zone). The wall page and ``/api/v1`` serve the
same read models, so the screen and the API never disagree.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row, bindparam, case, func, select, union_all
from sqlalchemy.orm import Session

from cockpit.clock import day_bounds, utc_now
from cockpit.store.models import Incident, IncidentEventRow
from cockpit.vocab import TERMINAL_STAGES, Category, Stage

#: Stages of the closed-loop funnel, in order (cancelled is counted apart).
FUNNEL_STAGES = (Stage.REPORTED, Stage.ASSESSED, Stage.DISPATCHED, Stage.ARRIVED,
                 Stage.RESOLVED, Stage.CLOSED)
OPEN_STAGES = tuple(s.value for s in Stage if s not in TERMINAL_STAGES)
TERMINAL_VALUES = tuple(sorted(s.value for s in TERMINAL_STAGES))
MAX_LIMIT = 1000
#: The incident columns :func:`incident_dict` reads, in its order. Screens select these rather
#: than whole ORM entities: no identity map, no JSON bookkeeping columns (the map reads
#: thousands of rows per refresh).
_HEAD = ("incident_id", "category", "priority", "stage", "stage_at", "title", "address", "lon",
         "lat", "village_code", "grid", "team", "unit", "source")
_STAGE_KEYS = tuple(f"{s.value}_at" for s in Stage)
_TAIL = ("suggested_team", "limit_s", "due_at", "escalation_level", "repeat_group",
         "repeat_size", "reopen_count", "illegal_count")
_DICT_NAMES = (*_HEAD, *_STAGE_KEYS, *_TAIL)
_STAGES_END = len(_HEAD) + len(_STAGE_KEYS)
DICT_COLUMNS = tuple(getattr(Incident, name) for name in _DICT_NAMES)


def _iso(value: datetime | None, tz: ZoneInfo) -> str | None:
    return None if value is None else value.astimezone(tz).isoformat(timespec="seconds")


# The wall's statements are built once (building one costs more than running it on a small
# store) and take their times as parameters.
_TODAY = (Incident.reported_at >= bindparam("start")) & (Incident.reported_at < bindparam("end"))
#: One pass over today's reports: per category, its count, cancellations, the stages reached.
_TODAY_BY_CATEGORY = (
    select(Incident.category, func.count(),
           func.count(case((Incident.stage == Stage.CANCELLED.value, 1))),
           *(func.count(getattr(Incident, f"{s.value}_at")) for s in FUNNEL_STAGES))
    .where(_TODAY).group_by(Incident.category))
#: The three whole-store figures in one round trip, each on its own index.
_STORE_FIGURES = select(
    select(func.count()).where(Incident.stage.in_(OPEN_STAGES)).scalar_subquery(),
    # closed today and still closed (a reopened one is not 办结), on (stage, stage_at)
    select(func.count()).where(Incident.stage == Stage.CLOSED.value,
                               Incident.stage_at >= bindparam("start"),
                               Incident.stage_at < bindparam("end")).scalar_subquery(),
    select(func.max(IncidentEventRow.occurred_at)).scalar_subquery())
_TODAY_DISPATCHES = (select(Incident.reported_at, Incident.dispatched_at)
                     .where(_TODAY, Incident.dispatched_at.is_not(None)))


def summary(session: Session, tz: ZoneInfo, now: datetime | None = None) -> dict[str, Any]:
    """Return the wall's KPI strip and funnel for the local day of ``now``.

    Returns
    -------
    dict
        ``as_of``, ``day_start`` (ISO-8601, local zone); ``today_total`` and
        ``today_by_category`` (list of ``{category, count}``, every category, zeros
        included) of incidents reported today; ``open`` (all incidents not closed or
        cancelled); ``closed_today`` (incidents whose current stage, closed, was entered
        today: a reopened one does not count); ``cancelled_today`` (today's reports whose
        current stage is cancelled); ``median_dispatch_s`` (median seconds from reported to
        first dispatch of today's incidents, None without any); ``funnel`` (list of
        ``{stage, count}``: today's incidents that reached each stage); ``last_event_at``
        (latest ``occurred_at`` stored, None when empty).
    """
    now = now or utc_now()
    start, end = day_bounds(now, tz)
    bounds = {"start": start, "end": end}
    per_cat = session.execute(_TODAY_BY_CATEGORY, bounds).all()
    by_cat = {row[0]: row[1] for row in per_cat}
    cancelled = sum(row[2] for row in per_cat)
    funnel_row = [sum(row[3 + k] for row in per_cat) for k in range(len(FUNNEL_STAGES))]
    open_count, closed_today, last = session.execute(_STORE_FIGURES, bounds).one()
    pairs = session.execute(_TODAY_DISPATCHES, bounds).all()
    waits = [(d - r).total_seconds() for r, d in pairs if d >= r]
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


def incident_dict(row: Incident | Row, tz: ZoneInfo) -> dict[str, Any]:
    """Return one incident as the screens and the API show it (times ISO-8601, local zone).

    ``row`` is an :class:`Incident` or a row of :data:`DICT_COLUMNS` (what the queries read).

    ``assigned_team`` is the team sent (``team``, from a dispatch) or else the team the
    routing rules suggest; ``due_at`` is when the current stage's limit runs out (None: no
    limit or final stage); ``repeat_group`` names the earliest incident of its repeat group.
    """
    if isinstance(row, Row) and row._fields == _DICT_NAMES:
        return _dict_of(row, tz)
    return _dict_of(tuple(getattr(row, name) for name in _DICT_NAMES), tz)


def _dict_of(values: Sequence[Any], tz: ZoneInfo) -> dict[str, Any]:
    """:func:`incident_dict` of the values of :data:`DICT_COLUMNS` (one row, in order).

    Plain tuple work: the map converts thousands of rows per refresh.
    """
    out = dict(zip(_HEAD, values[:len(_HEAD)], strict=True))
    out["replay"] = out["source"].startswith("replay:")
    stage_at, stage_text = out["stage_at"], None
    for key, value in zip(_STAGE_KEYS, values[len(_HEAD):_STAGES_END], strict=True):
        if value is None:
            out[key] = None
            continue
        text = out[key] = value.astimezone(tz).isoformat(timespec="seconds")
        if value == stage_at:  # the current stage's entry: the same instant, formatted once
            stage_text = text
    out["stage_at"] = stage_text if stage_text is not None else _iso(stage_at, tz)
    (suggested, limit_s, due_at, escalation_level, repeat_group, repeat_size, reopen_count,
     illegal_count) = values[_STAGES_END:]
    out.update(suggested_team=suggested, assigned_team=out["team"] or suggested,
               limit_s=limit_s, due_at=_iso(due_at, tz),
               escalation_level=escalation_level or 0, repeat_group=repeat_group,
               repeat_size=repeat_size or 0, reopen_count=reopen_count or 0,
               illegal_count=illegal_count or 0)
    return out


#: Sort keys of :func:`list_incidents` → column (the table's sortable columns).
SORTS = {"stage_at": Incident.stage_at, "reported_at": Incident.reported_at,
         "due_at": Incident.due_at, "category": Incident.category,
         "priority": Incident.priority, "stage": Incident.stage,
         "village": Incident.village_code, "team": Incident.team,
         "repeat_size": Incident.repeat_size}


def contains_pattern(text: str) -> str:
    """A LIKE pattern (escape: backslash) matching ``text`` anywhere, wildcards taken literally."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _filtered(query, *, stage=None, category=None, village=None, team=None, text=None,
              since=None, until=None, reported_from=None, reported_to=None,
              overdue_at=None, repeats=False, scope=None):
    if scope is not None:  # a staff account's villages (cockpit.access.Viewer.villages)
        query = query.where(Incident.village_code.in_(scope))
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
        pattern = contains_pattern(text)
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
    scope: Sequence[str] | None = None,
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
    scope : sequence of str, optional
        Only these village codes (a staff account's scope); None: every village.
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
    query = _filtered(select(*DICT_COLUMNS), stage=stage, category=category, village=village,
                      team=team, text=text, since=since, until=until,
                      reported_from=reported_from, reported_to=reported_to,
                      overdue_at=overdue_at, repeats=repeats, scope=scope)
    column = SORTS[sort]
    order = column.desc() if descending else column.asc()
    query = query.order_by(order.nulls_last(), Incident.incident_id)
    query = query.limit(max(1, min(limit, MAX_LIMIT))).offset(max(0, offset))
    return [_dict_of(row, tz) for row in session.execute(query)]


def count_incidents(session: Session, **filters: Any) -> int:
    """Return how many incidents match the filters of :func:`list_incidents` (no paging)."""
    filters = {k: v for k, v in filters.items()
               if k not in ("sort", "descending", "limit", "offset")}
    return session.scalar(_filtered(select(func.count()).select_from(Incident), **filters))


def merged_branches(branches: Sequence[Any], order: Sequence[tuple[str, bool]]
                    ) -> dict[bool, Any]:
    """Return the UNION ALL of ``branches`` in ``order``, cut at ``:limit``, two ways.

    ``order`` lists ``(column name, descending)``. Each branch reads one slice of an index in
    that order (one stage of (stage, stage_at), say), so the database can merge them and stop
    at the limit instead of sorting every row. SQLite does merge them lazily. PostgreSQL
    appends the branches (it builds no Merge Append over a UNION ALL) and would read every row
    of every branch: the statement under ``True`` cuts each branch at ``:limit`` first, which
    SQLite is only slowed by. Pick one with :func:`run_merged`.
    """
    limit = bindparam("limit")

    def ordered(columns):
        return [columns[k].desc() if descending else columns[k] for k, descending in order]

    out = {}
    for cut in (False, True):
        parts = []
        for branch in branches:
            if cut:
                sub = branch.order_by(*ordered(branch.selected_columns)).limit(limit).subquery()
                branch = select(*sub.c)
            parts.append(branch)
        both = union_all(*parts)
        out[cut] = both.order_by(*ordered(both.selected_columns)).limit(limit)
    return out


def run_merged(session: Session, statements: dict[bool, Any], params: dict[str, Any]):
    """Execute the :func:`merged_branches` statement that suits the session's database."""
    return session.execute(statements[session.get_bind().dialect.name != "sqlite"], params)


_LATEST = (select(*DICT_COLUMNS).where(Incident.reported_at.is_not(None))
           .order_by(Incident.reported_at.desc(), Incident.incident_id)
           .limit(bindparam("limit")))


def latest_incidents(session: Session, tz: ZoneInfo, limit: int = 12) -> list[dict[str, Any]]:
    """The most recently reported incidents, newest first (the wall's ticker)."""
    return [_dict_of(row, tz) for row in session.execute(_LATEST, {"limit": limit})]


def callers_of(session: Session, incident_ids: Sequence[str]) -> dict[str, tuple]:
    """Incident id → (caller name, caller phone, ID number on file) as stored: unmasked.

    The caller masks them (cockpit.privacy) unless the viewer may see them in full.
    """
    out: dict[str, tuple] = {}
    for start in range(0, len(incident_ids), 500):
        part = list(incident_ids[start:start + 500])
        rows = session.execute(select(Incident.incident_id, Incident.reporter_name,
                                      Incident.reporter_phone, Incident.reporter_id_hash)
                               .where(Incident.incident_id.in_(part)))
        out.update({r[0]: (r[1], r[2], r[3] is not None) for r in rows})
    return out


def in_villages(session: Session, incident_ids: Sequence[str],
                villages: Sequence[str]) -> list[str]:
    """The ids among ``incident_ids`` whose incident is in one of ``villages``."""
    out: list[str] = []
    for start in range(0, len(incident_ids), 500):
        part = list(incident_ids[start:start + 500])
        out += session.scalars(select(Incident.incident_id).where(
            Incident.incident_id.in_(part), Incident.village_code.in_(villages)))
    return out
