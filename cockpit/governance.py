"""The governance tick: escalate overdue incidents and unacknowledged notices, publish notices.

Ingest runs :meth:`Governor.tick` about once a second between batches. A Redis lock makes one
tick at a time run across every ingest process of the consumer group, and every write is keyed
so that a tick repeated after a crash does nothing twice:

* an open incident past its stage's ``due_at`` is raised, level by level, to each rung of the
  escalation ladder it has reached (``after`` past the limit): one ``incident_escalations``
  row and one ``overdue`` notification per rung, keyed by incident, stage entry and level;
* a notification not acknowledged by its ``ack_due_at`` (and whose incident is still open) is
  raised once to the next rung as an ``unacknowledged`` notification;
* notifications not yet published are written to the ``{prefix}notifications`` stream (the
  duty team's voice and SMS gateway reads it) and marked published. A crash between the XADD
  and the mark publishes one twice: the gateway drops repeats by ``notification_id``;
* repeat groups of incidents changed since the last tick are brought up to date
  (:mod:`cockpit.repeats`).
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from cockpit import repeats
from cockpit.clock import utc_now
from cockpit.governance_config import GovernanceConfig
from cockpit.notices import fit_id, notice_row
from cockpit.settings import Settings
from cockpit.store.bulk import insert_rows
from cockpit.store.models import Escalation, Incident, Notification
from cockpit.streams import signal_change
from cockpit.vocab import TERMINAL_STAGES

log = logging.getLogger(__name__)

#: Rows handled per tick and kind; the rest wait for the next tick (bounded work per tick).
BATCH = 500
#: Entries kept in the notifications stream (approximate MAXLEN; the store keeps them all).
STREAM_MAXLEN = 100_000
LOCK_MS = 15_000
#: Repeat groups are brought up to date at most this often, s (a sweep reads the window);
#: while a backlog drains, less often: each sweep re-reads the window before its first report
#: and the incidents of its last seconds (repeats.OVERLAP), so frequent sweeps of a fast
#: stream cost the ingest more than the grouping itself (bench/ingest.py).
REPEATS_EVERY_S = 5.0
REPEATS_BUSY_S = 30.0


@dataclass
class TickResult:
    """What one tick did."""

    escalations: int = 0
    raised_unacknowledged: int = 0
    published: int = 0
    repeats_changed: int = 0
    ran: bool = True

    @property
    def changed(self) -> bool:
        """Whether the tick changed anything a screen shows."""
        return bool(self.escalations or self.raised_unacknowledged or self.published
                    or self.repeats_changed)


def _incident_dict(row) -> dict:
    return {"incident_id": row.incident_id, "priority": row.priority, "category": row.category,
            "village_code": row.village_code, "address": row.address, "stage": row.stage}


def escalate_overdue(session: Session, config: GovernanceConfig, now: datetime,
                     limit: int = BATCH) -> int:
    """Raise overdue open incidents to every ladder rung they have reached; returns rungs raised.

    An incident is overdue when ``due_at <= now``; rung ``i`` is reached when
    ``now - due_at >= escalation[i].after``.
    """
    levels = len(config.escalation)
    rows = session.execute(
        select(Incident).where(Incident.due_at <= now, Incident.escalation_level < levels)
        .order_by(Incident.due_at).limit(limit).with_for_update()).scalars().all()
    raised = 0
    for incident in rows:
        if incident.stage in {s.value for s in TERMINAL_STAGES}:
            continue
        late = now - incident.due_at
        target = config.level_index(late)
        for index in range(incident.escalation_level, target):
            level = config.escalation[index]
            notification_id = fit_id(f"{incident.incident_id}{_overrun_key(incident)}"
                                     f"{level.level}")
            added = insert_rows(session.connection(), Escalation.__table__, [{
                "incident_id": incident.incident_id, "stage": incident.stage,
                "stage_at": incident.stage_at, "level": level.level, "due_at": incident.due_at,
                "raised_at": now, "notification_id": notification_id}], skip_conflicts=True)
            if added:
                insert_rows(session.connection(), Notification.__table__, [notice_row(
                    notification_id, "overdue", _incident_dict(incident), config, index, now,
                    late_s=late.total_seconds())], skip_conflicts=True)
                raised += 1
        if target > incident.escalation_level:
            incident.escalation_level = target
    return raised


#: Stages in which a new incident still waits for someone to act on it.
WAITING_STAGES = ("reported", "assessed")


def _overrun_key(incident: Incident) -> str:
    """The part of an overdue notice's id that names the stage entry it is about."""
    return f"/overdue/{incident.stage}/{int(incident.stage_at.timestamp() * 1000)}/"


def escalate_unacknowledged(session: Session, config: GovernanceConfig, now: datetime,
                            limit: int = BATCH) -> int:
    """Raise notices not acknowledged by ``ack_due_at`` to the next rung; returns the count.

    Only a notice that still matters is raised: one about a new incident while the incident
    waits for dispatch (reported or assessed), one about an overrun while that same stage entry
    is still overdue. A notice of the last rung is not raised.
    """
    names = [lv.level for lv in config.escalation]
    about_overrun = Notification.notification_id.contains("/overdue/")
    rows = session.execute(
        select(Notification, Incident)
        .join(Incident, Incident.incident_id == Notification.incident_id)
        .where(Notification.acked_at.is_(None), Notification.escalated_at.is_(None),
               Notification.ack_due_at <= now, Notification.level != names[-1],
               (~about_overrun & Incident.stage.in_(WAITING_STAGES))
               | (about_overrun & (Incident.due_at <= now)))
        .order_by(Notification.ack_due_at).limit(limit)).all()
    raised = 0
    for notice, incident in rows:
        if "/overdue/" in notice.notification_id and _overrun_key(incident) \
                not in notice.notification_id:
            continue  # an earlier stage's overrun: the incident moved on
        index = names.index(notice.level) + 1 if notice.level in names else len(names) - 1
        notification_id = fit_id(f"{notice.notification_id}/unack/{names[index]}")
        added = insert_rows(session.connection(), Notification.__table__, [notice_row(
            notification_id, "unacknowledged", _incident_dict(incident), config, index, now,
            parent_id=notice.notification_id)], skip_conflicts=True)
        session.execute(update(Notification)
                        .where(Notification.notification_id == notice.notification_id)
                        .values(escalated_at=now))
        raised += added
    return raised


def publish_pending(r: redis.Redis, sessions: sessionmaker[Session], settings: Settings,
                    limit: int = BATCH) -> int:
    """XADD unpublished notifications to ``{prefix}notifications``; returns how many.

    Entries are flat string maps: ``notification_id, kind, level, incident_id, priority,
    category, village, text, text_en, created_at`` (ISO-8601 UTC) and ``ack_within_s``; an
    alert's notice has an empty ``incident_id`` and its ``alert_id`` (docs/alerts.md).
    """
    stream = settings.key("notifications")
    with sessions.begin() as session:
        rows = session.execute(
            select(Notification).where(Notification.published_at.is_(None))
            .order_by(Notification.created_at, Notification.notification_id)
            .limit(limit)).scalars().all()
        if not rows:
            return 0
        pipe = r.pipeline(transaction=False)
        for n in rows:
            fields = {"notification_id": n.notification_id, "kind": n.kind, "level": n.level,
                      "incident_id": n.incident_id or "", "priority": n.priority or "",
                      "category": n.category or "", "village": n.village_code or "",
                      "text": n.text_zh, "text_en": n.text_en,
                      "created_at": n.created_at.isoformat(),
                      "ack_within_s": str(int((n.ack_due_at - n.created_at).total_seconds()))}
            if n.alert_id:  # an alert's notice (cockpit.alerts): about no incident
                fields["alert_id"] = n.alert_id
            pipe.xadd(stream, fields, maxlen=STREAM_MAXLEN, approximate=True)
        ids = pipe.execute()
        published = datetime.now(rows[0].created_at.tzinfo)
        for n, stream_id in zip(rows, ids, strict=True):
            n.published_at = published
            n.stream_id = stream_id if isinstance(stream_id, str) else stream_id.decode()
    return len(rows)


class Governor:
    """Runs the governance tick for one ingest process (see the module docstring).

    Parameters
    ----------
    settings : Settings
        Stream prefix and the governance file.
    r : redis.Redis
        Decoded client (lock, stream, change signal).
    sessions : sessionmaker
        Store sessions.
    config : GovernanceConfig, optional
        Defaults to ``settings.governance``.
    interval_s : float
        Shortest time between two ticks of this process.
    """

    def __init__(self, settings: Settings, r: redis.Redis, sessions: sessionmaker[Session],
                 config: GovernanceConfig | None = None, interval_s: float = 1.0):
        self.settings = settings
        self.r = r
        self.sessions = sessions
        self.config = config or settings.governance
        self.interval_s = interval_s
        self.token = uuid.uuid4().hex
        self._last = 0.0
        self._last_repeats = -REPEATS_BUSY_S
        self._busy = False

    def due(self, interval_s: float | None = None) -> bool:
        """Whether ``interval_s`` (default: the governor's) has passed since the last tick."""
        return time.monotonic() - self._last >= (interval_s or self.interval_s)

    def tick(self, now: datetime | None = None, busy: bool = False) -> TickResult:
        """Run one tick now (unless another process holds the lock: ``ran`` is then False).

        ``busy``: a backlog is draining; repeat groups then wait :data:`REPEATS_BUSY_S`.
        """
        self._last = time.monotonic()
        self._busy = busy
        lock = self.settings.key("governance:lock")
        if not self.r.set(lock, self.token, nx=True, px=LOCK_MS):
            return TickResult(ran=False)
        try:
            return self._tick(now or utc_now())
        finally:
            if self.r.get(lock) == self.token:
                self.r.delete(lock)

    def _tick(self, now: datetime) -> TickResult:
        result = TickResult()
        with self.sessions.begin() as session:
            result.escalations = escalate_overdue(session, self.config, now)
            result.raised_unacknowledged = escalate_unacknowledged(session, self.config, now)
        result.published = publish_pending(self.r, self.sessions, self.settings)
        every = REPEATS_BUSY_S if self._busy else REPEATS_EVERY_S
        if time.monotonic() - self._last_repeats >= every:
            self._last_repeats = time.monotonic()
            result.repeats_changed = repeats.update(self.r, self.sessions, self.settings,
                                                    self.config, now)
        if result.escalations or result.raised_unacknowledged or result.repeats_changed:
            signal_change(self.r, self.settings, [])
        if result.escalations or result.raised_unacknowledged:
            log.info("governance: %d overdue rung(s) raised, %d unacknowledged notice(s) raised",
                     result.escalations, result.raised_unacknowledged)
        return result


def recompute_due(session: Session, config: GovernanceConfig) -> int:
    """Recompute limit, due time and suggested team of every open incident; returns how many.

    Run after the governance rules changed (``cockpit governance apply``).
    """
    terminal = [s.value for s in TERMINAL_STAGES]
    rows = session.execute(select(Incident).where(Incident.stage.not_in(terminal))).scalars()
    changed = 0
    for incident in rows:
        limit: timedelta | None = config.limit(incident.category, incident.priority,
                                               incident.stage)
        due = None if limit is None else incident.stage_at + limit
        team = config.route(incident.category, incident.village_code, incident.grid)
        if (incident.due_at, incident.suggested_team) != (due, team):
            incident.limit_s = None if limit is None else limit.total_seconds()
            incident.due_at = due
            incident.suggested_team = team
            changed += 1
    return changed
