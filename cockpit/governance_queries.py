"""Read models of incident governance: overdue board, team load, timelines, notices, repeats.

Like :mod:`cockpit.queries`, every function takes a session and returns JSON-ready dicts with
times as ISO-8601 in the cockpit's zone; durations are seconds (floats).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row, bindparam, case, func, select
from sqlalchemy.orm import Session

from cockpit import lifecycle
from cockpit.clock import day_bounds, utc_now
from cockpit.events import INCIDENT_TYPES
from cockpit.governance_config import GovernanceConfig
from cockpit.privacy import mask_name, mask_phone
from cockpit.queries import (
    DICT_COLUMNS,
    OPEN_STAGES,
    _iso,
    incident_dict,
    merged_branches,
    run_merged,
)
from cockpit.store.models import (
    Escalation,
    Incident,
    IncidentEventRow,
    Notification,
)
from cockpit.vocab import PRIORITY_TERMS, Stage

#: Priority order for queues: critical first.
_PRIORITY_ORDER = {p.value: i for i, p in enumerate(PRIORITY_TERMS)}


_OVERDUE_COUNT = select(func.count()).where(Incident.due_at <= bindparam("now"),
                                            Incident.stage.in_(OPEN_STAGES))


def _overdue_rows():
    # one branch per open stage, each read in due order from the (stage, due_at) index and
    # merged up to the limit: no sort of every overdue incident's row
    return merged_branches([select(*DICT_COLUMNS).where(Incident.stage == stage,
                                                        Incident.due_at <= bindparam("now"))
                            for stage in OPEN_STAGES], [("due_at", False), ("incident_id", False)])


#: Built once: building it costs more than running it.
_OVERDUE_ROWS = _overdue_rows()


def overdue(session: Session, tz: ZoneInfo, now: datetime | None = None,
            limit: int = 20) -> dict[str, Any]:
    """Return the overdue board: open incidents past their stage's limit, latest due first.

    Returns
    -------
    dict
        ``as_of``; ``total`` (every overdue incident); ``items``: the ``limit`` most overdue,
        each :func:`cockpit.queries.incident_dict` plus ``late_s`` (seconds past the limit)
        and ``stage_s`` (seconds in the current stage so far).
    """
    now = now or utc_now()
    total = session.scalar(_OVERDUE_COUNT, {"now": now})
    rows = run_merged(session, _OVERDUE_ROWS, {"now": now, "limit": limit})
    items = []
    for row in rows:
        item = incident_dict(row, tz)
        item["late_s"] = (now - row.due_at).total_seconds()
        item["stage_s"] = (now - row.stage_at).total_seconds()
        items.append(item)
    return {"as_of": _iso(now, tz), "total": total, "items": items}


_ASSIGNED = func.coalesce(Incident.team, Incident.suggested_team)
# open (and overdue) per team, and today's reports per team: two grouped reads on their own
# indexes (stage, reported_at) rather than one over "open OR today"
_TEAM_OPEN = (select(_ASSIGNED, func.count(),
                     func.sum(case((Incident.due_at <= bindparam("now"), 1), else_=0)))
              .where(Incident.stage.in_(OPEN_STAGES)).group_by(_ASSIGNED))
_TEAM_TODAY = (select(_ASSIGNED, func.count())
               .where(Incident.reported_at >= bindparam("start"),
                      Incident.reported_at < bindparam("end"))
               .group_by(_ASSIGNED))


def team_load(session: Session, tz: ZoneInfo, config: GovernanceConfig,
              now: datetime | None = None) -> list[dict[str, Any]]:
    """Return the load of each team: open incidents, overdue ones, and today's reported.

    Every configured team is listed (zeros included), then any other team name sent in a
    dispatch. The assigned team is the one sent, else the routing suggestion.

    Returns
    -------
    list of dict
        ``team`` (code or name as sent), ``zh``, ``en``, ``kind`` (None when not configured),
        ``open``, ``overdue``, ``today``; configured teams in file order, then by open count.
    """
    now = now or utc_now()
    start, end = day_bounds(now, tz)
    per_name: dict[str | None, list[int]] = {}
    for name, n_open, n_over in session.execute(_TEAM_OPEN, {"now": now}):
        per_name[name] = [n_open, n_over or 0, 0]
    for name, n_today in session.execute(_TEAM_TODAY, {"start": start, "end": end}):
        per_name.setdefault(name, [0, 0, 0])[2] = n_today
    counts: dict[str, tuple[int, int, int]] = {}
    for name, (n_open, n_over, n_today) in per_name.items():
        team = config.team(name)
        key = team.code if team else (name or "")
        o, v, d = counts.get(key, (0, 0, 0))
        counts[key] = (o + int(n_open or 0), v + int(n_over or 0), d + int(n_today or 0))
    out = []
    for team in config.teams:
        o, v, d = counts.pop(team.code, (0, 0, 0))
        out.append({"team": team.code, "zh": team.zh, "en": team.en, "kind": team.kind,
                    "open": o, "overdue": v, "today": d})
    for key, (o, v, d) in sorted(counts.items(), key=lambda kv: (-kv[1][0], kv[0])):
        out.append({"team": key or None, "zh": key or None, "en": key or None, "kind": None,
                    "open": o, "overdue": v, "today": d})
    return out


#: Notices are read as plain rows of their columns (no ORM identity map): same attributes.
_NOTICE_COLUMNS = tuple(Notification.__table__.c)


def _notice_dict(n: Notification | Row, tz: ZoneInfo) -> dict[str, Any]:
    return {"notification_id": n.notification_id, "incident_id": n.incident_id,
            "alert_id": n.alert_id, "kind": n.kind, "level": n.level, "priority": n.priority,
            "category": n.category, "village_code": n.village_code,
            "text_zh": n.text_zh, "text_en": n.text_en,
            "created_at": _iso(n.created_at, tz), "ack_due_at": _iso(n.ack_due_at, tz),
            "published_at": _iso(n.published_at, tz), "delivered_at": _iso(n.delivered_at, tz),
            "delivered_channel": n.delivered_channel, "acked_at": _iso(n.acked_at, tz),
            "acked_by": n.acked_by, "ack_channel": n.ack_channel,
            "escalated_at": _iso(n.escalated_at, tz), "parent_id": n.parent_id}


#: Notices the wall announces: new incidents and alerts (cockpit.alerts).
ANNOUNCED_KINDS = ("new_incident", "alert")
_QUEUED_WHERE = (Notification.kind.in_(ANNOUNCED_KINDS), Notification.acked_at.is_(None),
                 Notification.created_at >= bindparam("since"))
_QUEUED_COUNT = select(func.count()).where(*_QUEUED_WHERE)
#: Queue order in SQL: priority rank (critical first; unknown last), then newest first.
_PRIORITY_RANK = case(_PRIORITY_ORDER, value=Notification.priority, else_=len(_PRIORITY_ORDER))
_QUEUED = (select(*_NOTICE_COLUMNS, Incident.stage, Incident.title, Incident.reported_at)
           .outerjoin(Incident, Incident.incident_id == Notification.incident_id)
           .where(*_QUEUED_WHERE)
           .order_by(_PRIORITY_RANK, Notification.created_at.desc(),
                     Notification.notification_id)
           .limit(bindparam("limit")))


_QUEUED_IDS = (select(Notification.notification_id).where(*_QUEUED_WHERE)
               .order_by(_PRIORITY_RANK, Notification.created_at.desc(),
                         Notification.notification_id)
               .limit(bindparam("limit")))


def queued_ids(session: Session, config: GovernanceConfig, now: datetime | None = None,
               limit: int = 2000) -> list[str]:
    """Return the ids of the announcement queue (:func:`pending_announcements`), in its order.

    Every queued notice up to ``limit``, not only those a screen is sent: 确认全部 answers
    them all.
    """
    since = (now or utc_now()) - config.notifications.wall_window
    return list(session.scalars(_QUEUED_IDS, {"since": since, "limit": limit}))


def pending_announcements(session: Session, tz: ZoneInfo, config: GovernanceConfig,
                          now: datetime | None = None, limit: int = 10) -> dict[str, Any]:
    """Return the wall's announcement queue: unacknowledged new-incident and alert notices.

    Only notices created within ``notifications.wall_window`` are queued (older ones are still
    escalated but no longer spoken). Highest priority first, then newest.

    Returns
    -------
    dict
        ``total`` (queued) and ``items`` (at most ``limit`` notice dicts, with the incident's
        ``stage``, ``title`` and ``reported_at``), and ``repeat_every_s`` (how often the wall
        repeats the first one).
    """
    now = now or utc_now()
    since = now - config.notifications.wall_window
    total = session.scalar(_QUEUED_COUNT, {"since": since})
    items = []
    for row in session.execute(_QUEUED, {"since": since, "limit": limit}):
        item = _notice_dict(row, tz)
        item.update(stage=row.stage, title=row.title,
                    reported_at=_iso(row.reported_at, tz))
        items.append(item)
    return {"total": total, "items": items,
            "repeat_every_s": config.notifications.repeat_every.total_seconds()}


def list_notifications(session: Session, tz: ZoneInfo, *, incident_id: str | None = None,
                       kind: str | None = None, acked: bool | None = None,
                       limit: int = 100, offset: int = 0,
                       scope: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Return notices, newest first, optionally of one incident, kind, ack state or villages.

    ``scope`` (a staff account's village codes) keeps only notices of those villages.
    """
    query = select(*_NOTICE_COLUMNS)
    if scope is not None:
        query = query.where(Notification.village_code.in_(scope))
    if incident_id:
        query = query.where(Notification.incident_id == incident_id)
    if kind:
        query = query.where(Notification.kind == kind)
    if acked is not None:
        query = query.where(Notification.acked_at.is_not(None) if acked
                            else Notification.acked_at.is_(None))
    query = (query.order_by(Notification.created_at.desc(), Notification.notification_id)
             .limit(max(1, min(limit, 1000))).offset(max(0, offset)))
    return [_notice_dict(n, tz) for n in session.execute(query)]


def reporter_of(row: Incident, unmasked: bool = False) -> dict[str, Any] | None:
    """The caller of an incident, masked unless ``unmasked``; None without caller data."""
    if not (row.reporter_name or row.reporter_phone or row.reporter_id_hash):
        return None
    name, phone = row.reporter_name, row.reporter_phone
    if not unmasked:
        name, phone = mask_name(name), mask_phone(phone)
    return {"name": name, "phone": phone, "id_on_file": row.reporter_id_hash is not None,
            "masked": not unmasked}


def incident_detail(session: Session, tz: ZoneInfo, incident_id: str,
                    config: GovernanceConfig, now: datetime | None = None,
                    unmasked: bool = False) -> dict | None:
    """Return one incident with its timeline, history, notes, notices and repeat group.

    ``reporter`` holds the caller's ``name`` and ``phone`` masked (周**, 138****1234) unless
    ``unmasked`` (the caller audits that), ``id_on_file`` (the ID number itself is never
    stored) and ``masked``; None when the incident has no caller data.

    Returns
    -------
    dict or None
        None when no such incident. Else :func:`cockpit.queries.incident_dict` plus:
        ``timeline``: each accepted stage entry with ``entered_at``, ``left_at``, ``seconds``
        spent, the stage's ``limit_s`` and ``over_s`` (seconds past it), ``cycle``;
        ``events``: every stored event (``type``, ``occurred_at``, ``received_at``,
        ``delay_s`` from occurrence to receipt, ``note``) in life-cycle order;
        ``notes``: moves the life cycle recorded (:mod:`cockpit.lifecycle`);
        ``late_count``; ``notifications``; ``escalations``; ``repeats``: the other members
        of its repeat group.
    """
    now = now or utc_now()
    row = session.get(Incident, incident_id)
    if row is None:
        return None
    out = incident_dict(row, tz)
    out["reporter"] = reporter_of(row, unmasked)
    history = session.execute(select(IncidentEventRow)
                              .where(IncidentEventRow.incident_id == incident_id)).scalars()
    moves, events = [], []
    for ev in history:
        move = lifecycle.Move(ev.occurred_at, INCIDENT_TYPES[ev.type].stage, ev.event_id,
                              ev.source, ev.type)
        moves.append(move)
        events.append((move.key, {
            "event_id": ev.event_id, "source": ev.source, "type": ev.type,
            "occurred_at": _iso(ev.occurred_at, tz), "received_at": _iso(ev.received_at, tz),
            "delay_s": (ev.received_at - ev.occurred_at).total_seconds(),
            "note": (ev.payload or {}).get("note") or (ev.payload or {}).get("reason"),
            "team": (ev.payload or {}).get("team"), "unit": (ev.payload or {}).get("unit")}))
    machine = lifecycle.run(moves, keep_steps=True)

    def limit_of(stage: Stage) -> timedelta | None:
        return config.limit(row.category, row.priority, stage)

    out["timeline"] = [{
        "stage": s.stage.value, "entered_at": _iso(s.entered_at, tz),
        "left_at": _iso(s.left_at, tz), "seconds": s.seconds, "limit_s": s.limit_s,
        "over_s": s.over_s, "cycle": s.cycle, "current": s.left_at == now,
    } for s in lifecycle.stays(machine, now, limit_of)]
    out["events"] = [e for _, e in sorted(events, key=lambda pair: pair[0])]
    out["notes"] = [{**n.to_json(), "at": _iso(n.at, tz), "illegal": n.illegal}
                    for n in machine.notes]
    out["late_count"] = row.late_count or 0
    out["notifications"] = list_notifications(session, tz, incident_id=incident_id, limit=200)
    out["escalations"] = [{
        "stage": e.stage, "level": e.level, "due_at": _iso(e.due_at, tz),
        "raised_at": _iso(e.raised_at, tz), "notification_id": e.notification_id,
    } for e in session.execute(select(Escalation).where(Escalation.incident_id == incident_id)
                               .order_by(Escalation.raised_at, Escalation.level)).scalars()]
    members = []
    if row.repeat_group:
        members = [incident_dict(m, tz) for m in session.execute(
            select(Incident).where(Incident.repeat_group == row.repeat_group,
                                   Incident.incident_id != incident_id)
            .order_by(Incident.reported_at, Incident.incident_id).limit(100)).scalars()]
    out["repeats"] = members
    return out


def repeat_groups(session: Session, tz: ZoneInfo, now: datetime | None = None,
                  days: int = 30, limit: int = 50) -> list[dict[str, Any]]:
    """Return repeat groups with a member reported in the last ``days``, largest first.

    Returns
    -------
    list of dict
        ``group`` (id of its earliest incident), ``size``, ``category``, ``village_code``,
        ``first_at`` / ``last_at`` (reports), ``open`` (members still open), ``lon``/``lat``
        (mean position, WGS-84) and ``incident_ids``.
    """
    now = now or utc_now()
    since = now - timedelta(days=days)
    groups = session.execute(
        select(Incident.repeat_group, func.count(), func.min(Incident.reported_at),
               func.max(Incident.reported_at), func.avg(Incident.lon), func.avg(Incident.lat),
               func.sum(case((Incident.stage.in_(OPEN_STAGES), 1), else_=0)))
        .where(Incident.repeat_group.is_not(None))
        .group_by(Incident.repeat_group)
        .having(func.max(Incident.reported_at) >= since)
        .order_by(func.count().desc(), func.max(Incident.reported_at).desc())
        .limit(limit)).all()
    out = []
    for group, size, first, last, lon, lat, n_open in groups:
        members = session.execute(
            select(Incident.incident_id, Incident.category, Incident.village_code)
            .where(Incident.repeat_group == group)
            .order_by(Incident.reported_at, Incident.incident_id).limit(200)).all()
        out.append({"group": group, "size": size, "category": members[0][1],
                    "village_code": members[0][2], "first_at": _iso(first, tz),
                    "last_at": _iso(last, tz), "open": int(n_open or 0),
                    "lon": lon, "lat": lat, "incident_ids": [m[0] for m in members]})
    return out
