"""The audit log: who saw an unmasked record or took an export, who changed an account.

Rows are appended only (database triggers refuse UPDATE and DELETE, migration 0004). A row
names the account or kiosk (never a person's real name), the act, its target (an incident id,
an export's filter), where from (the client address) and when.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cockpit.clock import utc_now
from cockpit.store.models import AuditEntry

#: The acts written to the log.
ACTIONS = ("view_unmasked", "export", "signin", "signin_failed", "signin_limited", "signout",
           "kiosk_opened", "user_added", "user_disabled", "user_enabled", "user_role_set",
           "user_password_set", "kiosk_added", "kiosk_revoked", "volunteer_merged",
           "volunteer_merge_rejected", "volunteer_merge_undone", "mobilization_requested",
           "mobilization_recalled", "waste_followup_assigned", "waste_followup_visited")
MAX_PAGE = 500


def record(session: Session, actor: str, action: str, *, role: str | None = None,
           target: str | None = None, origin: str | None = None,
           detail: str | None = None) -> None:
    """Append one row (the caller commits).

    Parameters
    ----------
    actor : str
        Username, kiosk name, ``cli`` or the name tried at a failed sign-in (cut to 64).
    action : str
        One of :data:`ACTIONS`.
    target, origin, detail : str, optional
        What was seen or changed; the client address; a short note (no personal data).

    Raises
    ------
    ValueError
        If ``action`` is not one of :data:`ACTIONS`.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    session.add(AuditEntry(at=utc_now(), actor=actor[:64], role=role, action=action,
                           target=target, origin=(origin or None) and origin[:64],
                           detail=detail))


@dataclass(frozen=True)
class AuditPage:
    """Rows of one page of the log, newest first, and how many match in all."""

    rows: list[AuditEntry]
    total: int


def read(session: Session, *, action: str | None = None, actor: str | None = None,
         since: datetime | None = None, limit: int = 100, offset: int = 0) -> AuditPage:
    """Rows matching the filters, newest first (``limit`` at most :data:`MAX_PAGE`)."""
    where = []
    if action:
        where.append(AuditEntry.action == action)
    if actor:
        where.append(AuditEntry.actor == actor)
    if since is not None:
        where.append(AuditEntry.at >= since)
    total = session.scalar(select(func.count()).select_from(AuditEntry).where(*where)) or 0
    rows = session.scalars(select(AuditEntry).where(*where)
                           .order_by(AuditEntry.at.desc(), AuditEntry.audit_id.desc())
                           .limit(min(limit, MAX_PAGE)).offset(offset)).all()
    return AuditPage(list(rows), total)
