"""The ingest's bulk writes on both databases: INSERT with skipped conflicts, UPDATE of changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import event, select

from cockpit.store.bulk import insert_rows, update_changed
from cockpit.store.models import Incident

T = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def _row(incident_id: str, **values) -> dict:
    row = {c.name: None for c in Incident.__table__.columns}
    row.update(incident_id=incident_id, source="test", stage="reported", stage_at=T,
               reported_at=T, category="fire", lifecycle={"last": None, "notes": []},
               field_times={"category": ["2026-12-01T02:00:00+00:00", "e1", "test"]},
               reopen_count=0, illegal_count=0, late_count=0, escalation_level=0,
               repeat_size=0, event_count=1, updated_at=T)
    row.update(values)
    return row


def _stored(services) -> dict[str, dict]:
    table = Incident.__table__
    with services.read() as session:
        return {r["incident_id"]: dict(r) for r in session.execute(select(table)).mappings()}


def test_update_changed_writes_only_what_differs_grouped_by_columns(services):
    table = Incident.__table__
    rows = [_row("a"), _row("b"), _row("c")]
    with services.sessions.begin() as session:
        assert insert_rows(session.connection(), table, rows) == 3
        assert insert_rows(session.connection(), table, rows[:1], skip_conflicts=True) == 0
    old = _stored(services)
    later = T + timedelta(minutes=3)
    new = {
        # a and b move the same way: one statement for both
        "a": {**old["a"], "stage": "dispatched", "stage_at": later, "dispatched_at": later,
              "event_count": 2, "updated_at": later},
        "b": {**old["b"], "stage": "dispatched", "stage_at": later, "dispatched_at": later,
              "event_count": 2, "updated_at": later},
        # c: only its JSON columns change
        "c": {**old["c"], "field_times": {**old["c"]["field_times"],
                                           "title": ["2026-12-01T02:01:00+00:00", "e2", "t"]},
              "lifecycle": {"last": ["x"], "notes": []}},
    }
    statements: list[str] = []
    with services.sessions.begin() as session:
        conn = session.connection()
        event.listen(conn, "before_cursor_execute",
                     lambda *args: statements.append(args[2]))
        n = update_changed(conn, table, "incident_id",
                           [(new[k], old[k]) for k in ("a", "b", "c")] + [(old["a"], old["a"])])
    assert n == 2 and len(statements) == 2
    dispatched = next(s for s in statements if "dispatched_at" in s)
    assert "category" not in dispatched and "field_times" not in dispatched
    stored = _stored(services)
    for key in ("a", "b", "c"):
        assert stored[key] == new[key], key
