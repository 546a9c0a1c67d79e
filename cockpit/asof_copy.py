"""Copying what a past moment shares with the present into an as-of store (:mod:`cockpit.asof`).

An incident with no event after the moment is, at the moment, what it is now: the fold of the
same events (the fold does not depend on delivery order). Such incidents are copied with
their events, not folded again. On a SQLite main store the copy runs inside SQLite (the shadow
attaches the store's file: ``INSERT … SELECT``), elsewhere through Python in batches.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, MetaData, insert, literal, select
from sqlalchemy.orm import Session, sessionmaker

from cockpit.store.models import Incident, IncidentEventRow

#: Rows per batch of the copy through Python.
BATCH = 2000


def moved_after(incident_id, at: datetime):
    """SQL: the incident ``incident_id`` has an event after ``at`` (its index lookup)."""
    later = IncidentEventRow.__table__.alias("later")
    return select(later.c.event_id).where(later.c.incident_id == incident_id,
                                          later.c.occurred_at > at).exists()


#: A copied incident's columns the governance tick writes (not events): as a fresh fold has them.
_NOT_FROM_EVENTS = {"escalation_level": 0, "repeat_group": None, "repeat_size": 0}


def copy_settled(source: Session, target: Session, at: datetime) -> int:
    """Copy the incidents with no event after ``at``, and their events; return how many.

    Their state at ``at`` is their state now: the fold of the same events (the fold does not
    depend on delivery order; the governance tick's columns are reset as a fresh fold has
    them). Only the incidents with later events are folded again from their history.

    Copying the disposals rated correct as well was measured and left out: the fold of the
    incorrect ones then evaluates the households over every copied disposal, and the build
    took as long as folding them all (bench/timemachine.py --modules).
    """
    copied = 0
    for table, key in ((Incident.__table__, Incident.__table__.c.incident_id),
                       (IncidentEventRow.__table__, IncidentEventRow.__table__.c.incident_id)):
        query = select(table).where(~moved_after(key, at))
        if table is IncidentEventRow.__table__:
            query = query.where(table.c.occurred_at <= at)
        result = source.execute(query, execution_options={"yield_per": BATCH}).mappings()
        for part in result.partitions():
            rows = [dict(row) for row in part]
            if table is Incident.__table__:
                rows = [{**row, **_NOT_FROM_EVENTS} for row in rows]
                copied += len(rows)
            target.execute(insert(table), rows)
    return copied


def copy_settled_in_sqlite(main: sessionmaker[Session], target: Engine,
                           at: datetime) -> int | None:
    """:func:`copy_settled` inside SQLite when the main store is a SQLite file; else None.

    The shadow attaches the store's file and copies with ``INSERT … SELECT``: no row crosses
    into Python (about ten times faster than :func:`copy_settled`).
    """
    url = main.kw["bind"].url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    meta = MetaData()
    tables = {t.name: t.to_metadata(meta, schema="live")
              for t in (Incident.__table__, IncidentEventRow.__table__)}
    later = tables["incident_events"].alias("later")

    def settled(key):
        return ~select(later.c.event_id).where(later.c.incident_id == key,
                                               later.c.occurred_at > at).exists()
    with target.connect() as conn:
        # ATTACH and DETACH outside a transaction (SQLite refuses them inside one)
        conn.exec_driver_sql("ATTACH DATABASE ? AS live", (url.database,))
        conn.commit()
        try:
            live = tables["incidents"]
            names = [c.name for c in Incident.__table__.columns]
            columns = [literal(_NOT_FROM_EVENTS[n]).label(n) if n in _NOT_FROM_EVENTS
                       else live.c[n] for n in names]
            copied = conn.execute(insert(Incident.__table__).from_select(
                names, select(*columns).where(settled(live.c.incident_id)))).rowcount
            events = tables["incident_events"]
            names = [c.name for c in IncidentEventRow.__table__.columns]
            conn.execute(insert(IncidentEventRow.__table__).from_select(
                names, select(*[events.c[n] for n in names]).where(
                    events.c.occurred_at <= at, settled(events.c.incident_id))))
            conn.commit()
        finally:
            conn.rollback()
            conn.exec_driver_sql("DETACH DATABASE live")
            conn.commit()
    return copied
