"""Read models of the volunteers page that the module's own queries do not give.

Scope checks for the page's acts (a staff account reviews only pairs, merges and mobilisations
touching its villages), the open merge queue's size, recent merges of a scope, and the filter
choices of the registry. JSON-ready, like :mod:`cockpit.volunteers.queries`; no personal data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from cockpit.store.volunteer_models import MergeCandidate, Mobilization, Volunteer, VolunteerMerge
from cockpit.volunteers.detail import merges

#: Most merges the page lists as recent.
RECENT_MERGES = 20


def _villages_of(session: Session, volunteer_ids: Sequence[str]) -> dict[str, str | None]:
    ids = sorted(set(volunteer_ids))
    if not ids:
        return {}
    return dict(session.execute(select(Volunteer.volunteer_id, Volunteer.village_code)
                                .where(Volunteer.volunteer_id.in_(ids))).all())


def _touches(villages: dict[str, str | None], ids: Sequence[str],
             scope: Sequence[str] | None) -> bool:
    return scope is None or any(villages.get(i) in scope for i in ids)


def open_candidates(session: Session, scope: Sequence[str] | None = None) -> int:
    """How many proposed pairs wait for review (with ``scope``: pairs touching its villages).

    A pair touches a village when either volunteer's home village is in ``scope``; this is the
    rule of :func:`cockpit.volunteers.detail.merge_queue`.
    """
    if scope is None:
        return int(session.scalar(select(func.count()).select_from(MergeCandidate)
                                  .where(MergeCandidate.status == "open")) or 0)
    scoped = select(Volunteer.volunteer_id).where(Volunteer.village_code.in_(list(scope)))
    return int(session.scalar(
        select(func.count()).select_from(MergeCandidate)
        .where(MergeCandidate.status == "open",
               or_(MergeCandidate.volunteer_a.in_(scoped),
                   MergeCandidate.volunteer_b.in_(scoped)))) or 0)


def candidate(session: Session, candidate_id: int,
              scope: Sequence[str] | None = None) -> dict[str, Any] | None:
    """One proposed pair: ``candidate_id, a, b, reason, status``; None if unknown or out of scope.

    Parameters
    ----------
    candidate_id : int
        ``MergeCandidate.candidate_id``.
    scope : sequence of str, optional
        A staff account's villages: a pair neither of whose volunteers lives there is None.
    """
    row = session.get(MergeCandidate, candidate_id)
    if row is None:
        return None
    pair = [row.volunteer_a, row.volunteer_b]
    if not _touches(_villages_of(session, pair), pair, scope):
        return None
    return {"candidate_id": row.candidate_id, "a": row.volunteer_a, "b": row.volunteer_b,
            "reason": row.reason, "status": row.status}


def merge_in_scope(session: Session, merge_id: int, scope: Sequence[str] | None = None) -> bool:
    """True when the logged merge exists and (with ``scope``) one of its volunteers lives there."""
    row = session.get(VolunteerMerge, merge_id)
    if row is None:
        return False
    pair = [row.into_id, row.from_id]
    return _touches(_villages_of(session, pair), pair, scope)


def recent_merges(session: Session, tz: ZoneInfo, scope: Sequence[str] | None = None,
                  limit: int = RECENT_MERGES) -> list[dict[str, Any]]:
    """The latest merges (reviewed and automatic), newest first, limited to ``scope``.

    Items as :func:`cockpit.volunteers.detail.merges`. A merge belongs to a scope when the
    volunteer kept or the one merged away has a home village in it.
    """
    if scope is None:
        return merges(session, tz, limit=limit)
    out: list[dict[str, Any]] = []
    # read a few pages at most: merges elsewhere are skipped, not counted against the limit
    for batch in (limit * 5, limit * 25):
        rows = merges(session, tz, limit=batch)
        villages = _villages_of(session, [i for m in rows for i in (m["into_id"], m["from_id"])])
        out = [m for m in rows if _touches(villages, [m["into_id"], m["from_id"]], scope)]
        if len(out) >= limit or len(rows) < batch:
            break
    return out[:limit]


def mobilization_village(session: Session, mobilization_id: str) -> tuple[bool, str | None]:
    """``(known, village code)`` of a mobilisation."""
    row = session.get(Mobilization, mobilization_id)
    return (row is not None, row.village_code if row is not None else None)


def home_village(session: Session, volunteer_id: str) -> str | None:
    """A volunteer's home village code (a merged-away id: the one it had); None if unknown."""
    return session.scalar(select(Volunteer.village_code)
                          .where(Volunteer.volunteer_id == volunteer_id))


def team_names(session: Session) -> list[str]:
    """Every team name on a volunteer not merged away, sorted (the registry's team filter)."""
    return [t for (t,) in session.execute(
        select(Volunteer.team).where(Volunteer.team.is_not(None), Volunteer.status != "merged")
        .distinct().order_by(Volunteer.team))]
