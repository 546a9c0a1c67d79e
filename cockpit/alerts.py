"""Alert evaluation: rules against the stored events, raised and cleared alerts, their notices.

The ingest runs :class:`AlertRunner` between batches: soon after a batch stored events
(``evaluation.after_commit``) and on its own timer (``evaluation.every``), so that alerts clear
when their window passes. One evaluation is one transaction under a Redis lock (one at a time
across the consumer group):

* each enabled rule's measure is computed per scope (:mod:`cockpit.alert_measures`);
* a scope whose value crosses the threshold and has no active alert of that rule gets one:
  an ``alerts`` row ``<rule>/<scope>/<n>`` (the n-th episode) and, in the same transaction, a
  ``notifications`` row of kind ``alert`` (the outbox the notifications stream is fed from,
  exactly as a new incident's); an active alert whose value no longer holds is cleared;
* an alert notice not acknowledged within its level's ``ack_within`` while the alert is still
  active is raised to the next rung of the escalation ladder (kind ``unacknowledged``).

A crash before the commit leaves nothing (the next evaluation raises it); after it, the notice
waits in the outbox and is published by the next :func:`cockpit.governance.publish_pending`.
The episode's key makes a raise that races another process's fail on the primary key.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis
from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from cockpit.alert_measures import SUBDISTRICT, Reads, alert_text, measure_values, units
from cockpit.alerts_config import AlertRule, AlertRules, IncidentCount
from cockpit.clock import utc_now
from cockpit.governance import publish_pending
from cockpit.governance_config import GovernanceConfig
from cockpit.notices import fit_id
from cockpit.settings import Settings
from cockpit.store.alert_models import Alert
from cockpit.store.bulk import insert_rows
from cockpit.store.models import Notification
from cockpit.streams import signal_change

log = logging.getLogger(__name__)
LOCK_MS = 30_000
#: Shortest time between evaluations after changes while a backlog drains, s.
BUSY_AFTER_S = 5.0


@dataclass
class AlertResult:
    """What one evaluation did."""

    raised: int = 0
    cleared: int = 0
    escalated: int = 0
    rules: int = 0
    ran: bool = True

    @property
    def changed(self) -> bool:
        """Whether the evaluation changed anything a screen shows."""
        return bool(self.raised or self.cleared or self.escalated)


def _category(rule: AlertRule) -> str | None:
    measure = rule.measure
    if isinstance(measure, IncidentCount) and measure.category and len(measure.category) == 1:
        return measure.category[0].value
    return None


def notice_of(alert: Alert | Any, config: GovernanceConfig, level_index: int, now: datetime,
              category: str | None = None, parent: str | None = None) -> dict[str, Any]:
    """Return the ``notifications`` row of an alert, to ladder level ``level_index``.

    The first notice (``parent`` None) is of kind ``alert`` with id ``<alert_id>/new``; one
    raised because ``parent`` went unacknowledged is ``unacknowledged``, its id the parent's
    and ``/unack/<level>``, its text headed like an incident's (``未确认升级（分管领导）：``).
    """
    level = config.escalation[level_index]
    zh = alert_text(alert.scope, alert.title_zh, alert.title_en, alert.compare, alert.threshold,
                    alert.raised_value, alert.unit_zh or "", alert.unit_en or "", "zh")
    en = alert_text(alert.scope, alert.title_zh, alert.title_en, alert.compare, alert.threshold,
                    alert.raised_value, alert.unit_zh or "", alert.unit_en or "", "en")
    kind, notification_id = "alert", f"{alert.alert_id}/new"
    if parent is not None:
        kind, notification_id = "unacknowledged", f"{parent}/unack/{level.level}"
        zh, en = f"未确认升级（{level.zh}）：{zh}", f"Not acknowledged, raised ({level.en}): {en}"
    return {"notification_id": fit_id(notification_id), "incident_id": None,
            "alert_id": alert.alert_id, "kind": kind, "level": level.level,
            "priority": alert.severity, "category": category,
            "village_code": alert.village_code, "text_zh": zh, "text_en": en,
            "created_at": now, "ack_due_at": now + level.ack_within, "parent_id": parent}


def _raise(session: Session, rule: AlertRule, scope: str, value: float,
           config: GovernanceConfig, now: datetime) -> bool:
    seq = (session.scalar(select(func.max(Alert.seq))
                          .where(Alert.rule_id == rule.id, Alert.scope == scope)) or 0) + 1
    alert_id = fit_id(f"alert/{rule.id}/{scope}/{seq}")
    unit_zh, unit_en = units(rule)
    row = {"alert_id": alert_id, "rule_id": rule.id, "scope": scope, "seq": seq,
           "severity": rule.severity.value,
           "village_code": None if scope == SUBDISTRICT else scope,
           "title_zh": rule.title.zh, "title_en": rule.title.en, "compare": rule.compare,
           "threshold": rule.threshold, "unit_zh": unit_zh, "unit_en": unit_en,
           "raised_value": value, "value": value, "raised_at": now, "checked_at": now,
           "cleared_at": None, "cleared_value": None,
           "notification_id": fit_id(f"{alert_id}/new")}
    conn = session.connection()
    if not insert_rows(conn, Alert.__table__, [row], skip_conflicts=True):
        return False  # another process raised this episode meanwhile
    if config.notifies(rule.severity.value):  # as for incidents: low ones are listed only
        notice = notice_of(Alert(**row), config, 0, now, _category(rule))
        insert_rows(conn, Notification.__table__, [notice], skip_conflicts=True)
    return True


def evaluate(session: Session, rules: AlertRules, config: GovernanceConfig, tz,
             now: datetime) -> AlertResult:
    """Evaluate every enabled rule once; raise, update and clear alerts (the caller commits).

    Parameters
    ----------
    session : Session
        In the caller's transaction.
    rules : AlertRules
    config : GovernanceConfig
        The escalation ladder the notices climb.
    tz : ZoneInfo
        Zone of calendar windows.
    now : datetime
        Aware; the end of every window and the time written.

    Returns
    -------
    AlertResult
        Alerts raised and cleared, notices escalated, rules evaluated.
    """
    result = AlertResult()
    active = {(a.rule_id, a.scope): a for a in session.scalars(
        select(Alert).where(Alert.cleared_at.is_(None)).with_for_update())}
    reads = Reads(session, tz, now)  # rules of one window or KPI share their query
    for rule in rules.active:
        result.rules += 1
        for scope, value in measure_values(session, rule, tz, now, reads).items():
            alert = active.pop((rule.id, scope), None)
            if alert is None:
                if value is not None and rule.crossed(value):
                    result.raised += _raise(session, rule, scope, value, config, now)
            elif rule.holds(value):
                if alert.value != value:
                    alert.value, alert.checked_at = value, now
            else:
                alert.cleared_at, alert.cleared_value, alert.value = now, value, value
                result.cleared += 1
    for alert in active.values():  # no figure any more, or the rule is gone or disabled
        alert.cleared_at, alert.value = now, None
        result.cleared += 1
    result.escalated = escalate_alert_notices(session, rules, config, now)
    return result


def escalate_alert_notices(session: Session, rules: AlertRules, config: GovernanceConfig,
                           now: datetime, limit: int = 500) -> int:
    """Raise alert notices not acknowledged by ``ack_due_at`` to the next rung; returns how many.

    Only while the alert is active and its rule says ``escalate``; a notice of the last rung is
    not raised. The same chain as an incident's: acknowledging any notice of it answers all.
    """
    names = [lv.level for lv in config.escalation]
    rows = session.execute(
        select(Notification, Alert).join(Alert, Alert.alert_id == Notification.alert_id)
        .where(Notification.acked_at.is_(None), Notification.escalated_at.is_(None),
               Notification.ack_due_at <= now, Notification.level != names[-1],
               Alert.cleared_at.is_(None))
        .order_by(Notification.ack_due_at).limit(limit)).all()
    raised = 0
    for notice, alert in rows:
        rule = rules.rule(alert.rule_id)
        if rule is not None and rule.escalate:
            index = names.index(notice.level) + 1 if notice.level in names else len(names) - 1
            raised += insert_rows(session.connection(), Notification.__table__, [notice_of(
                alert, config, index, now, notice.category, parent=notice.notification_id)],
                skip_conflicts=True)
        session.execute(update(Notification)
                        .where(Notification.notification_id == notice.notification_id)
                        .values(escalated_at=now))
    return raised


class AlertRunner:
    """Evaluates the alert rules for one ingest process (see the module docstring).

    Parameters
    ----------
    settings : Settings
        Stream prefix, time zone, the governance and alert-rules files.
    r : redis.Redis
        Decoded client (lock, notifications stream, change signal).
    sessions : sessionmaker
        Store sessions.
    rules : AlertRules, optional
        Defaults to ``settings.alert_rules``.
    """

    def __init__(self, settings: Settings, r: redis.Redis, sessions: sessionmaker[Session],
                 rules: AlertRules | None = None):
        self.settings = settings
        self.r = r
        self.sessions = sessions
        self.rules = rules or settings.alert_rules
        self.config = settings.governance
        self.token = uuid.uuid4().hex
        # the first evaluation comes ``after_commit`` after the start, then as below
        self._last = time.monotonic()
        self._dirty = True
        self.last_ms = 0.0

    def changed(self) -> None:
        """Note that a batch stored events: the next :meth:`due` comes after ``after_commit``."""
        self._dirty = True

    def due(self, busy: bool = False) -> bool:
        """Whether an evaluation is due now (after a change, or on the timer).

        ``busy``: a backlog is draining; evaluations after a change then wait at least
        :data:`BUSY_AFTER_S` (each re-reads the windows, the backlog's batches need not).
        """
        if not self.rules.active:
            return False
        since = time.monotonic() - self._last
        timing = self.rules.evaluation
        after = timing.after_commit.total_seconds()
        return since >= timing.every.total_seconds() or (
            self._dirty and since >= (max(after, BUSY_AFTER_S) if busy else after))

    def run(self, now: datetime | None = None) -> AlertResult:
        """Evaluate now (unless another process holds the lock: ``ran`` is then False)."""
        self._last, self._dirty = time.monotonic(), False
        lock = self.settings.key("alerts:lock")
        if not self.r.set(lock, self.token, nx=True, px=LOCK_MS):
            return AlertResult(ran=False)
        started = time.perf_counter()
        try:
            with self.sessions.begin() as session:
                result = evaluate(session, self.rules, self.config, self.settings.tz,
                                  now or utc_now())
        except (redis.RedisError, OperationalError):
            raise  # the ingest's loop waits and tries again
        except Exception:  # noqa: BLE001 - an alert rule never stops the ingest
            log.exception("alerts: evaluation failed; rolled back, tried again later")
            return AlertResult(ran=False)
        finally:
            if self.r.get(lock) == self.token:
                self.r.delete(lock)
        self.last_ms = (time.perf_counter() - started) * 1000
        if result.raised or result.escalated:
            publish_pending(self.r, self.sessions, self.settings)
        if result.changed:
            signal_change(self.r, self.settings, [])
            log.info("alerts: %d raised, %d cleared, %d notice(s) escalated (%d rules, %.0f ms)",
                     result.raised, result.cleared, result.escalated, result.rules,
                     self.last_ms)
        return result

