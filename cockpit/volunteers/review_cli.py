"""``cockpit volunteers merges``: the merge queue from the shell (list, merge, reject, undo).

The same operations as the volunteers page's 合并审核 section, for an operator on the server:
each runs in one transaction, is audited with ``by="cli"``, and signals open screens to
refresh. Names and phones are shown masked.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from cockpit.accounts_cli import BY, fail
from cockpit.settings import Settings

merges_app = typer.Typer(help="The merge queue: volunteers that may be one person.",
                         no_args_is_help=True)


class Status(StrEnum):
    """States of a proposed pair."""

    OPEN = "open"
    MERGED = "merged"
    REJECTED = "rejected"


@contextlib.contextmanager
def _store(settings: Settings) -> Iterator[Session]:
    """One transaction on the migrated store; a MergeError becomes one line and exit 2."""
    from cockpit.store.db import engine_for, session_factory
    from cockpit.store.migrate import upgrade
    from cockpit.volunteers.registry import MergeError

    engine = engine_for(settings)
    try:
        upgrade(engine)
        with session_factory(engine).begin() as db:
            yield db
    except MergeError as exc:
        fail(str(exc))
    finally:
        engine.dispose()


def _signal(settings: Settings) -> None:
    """Tell open screens to refresh; a Redis that is down only earns a warning."""
    import redis

    from cockpit.streams import connect, signal_change

    try:
        r, embedded = connect(settings)
        try:
            signal_change(r, settings, [])
        finally:
            r.close()
            if embedded is not None:
                embedded.close()
    except (redis.RedisError, OSError) as exc:
        typer.echo(f"cockpit: warning: screens not told to refresh ({type(exc).__name__})",
                   err=True)


def _who(person: dict) -> str:
    sources = ", ".join(f"{s['platform']}/{s['source_id']}" for s in person["sources"])
    return (f"{person['volunteer_id']} {person['name'] or '-'} {person['phone'] or '-'} "
            f"{'ID on file' if person['id_on_file'] else 'no ID'} [{sources}]")


@merges_app.command("list")
def list_pairs(
    status: Annotated[Status, typer.Option(case_sensitive=False)] = Status.OPEN,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
) -> None:
    """List proposed pairs (oldest first), names and phones masked."""
    from cockpit.volunteers.detail import merge_queue

    settings = Settings()
    with _store(settings) as db:
        rows = merge_queue(db, settings.tz, status=status.value, limit=limit)
    for row in rows:
        typer.echo(f"#{row['candidate_id']} {row['reason']} ({row['created_at'][:16]})\n"
                   f"  a: {_who(row['a'])}\n  b: {_who(row['b'])}")
    typer.echo(f"{len(rows)} {status.value} pair(s)")


@merges_app.command("merge")
def merge_pair(
    candidate: Annotated[int, typer.Argument(help="Pair number from `merges list`.")],
    into: Annotated[str, typer.Option(help="Keep volunteer a or b; the other is merged "
                                           "into it.")] = "a",
) -> None:
    """Merge a proposed pair into one volunteer (every source id is kept; undoable)."""
    from cockpit.audit import record
    from cockpit.store.volunteer_models import MergeCandidate
    from cockpit.volunteers.registry import merge

    if into not in ("a", "b"):
        fail("--into is a or b")
    settings = Settings()
    with _store(settings) as db:
        pair = db.get(MergeCandidate, candidate)
        if pair is None or pair.status != "open":
            fail(f"no open merge candidate {candidate}")
        keep, gone = ((pair.volunteer_a, pair.volunteer_b) if into == "a"
                      else (pair.volunteer_b, pair.volunteer_a))
        entry = merge(db, keep, gone, BY, datetime.now(UTC), candidate)
        record(db, BY, "volunteer_merged", target=keep, detail=f"merge {entry.merge_id}: {gone}")
        merge_id = entry.merge_id
    _signal(settings)
    typer.echo(f"merged {gone} into {keep} (merge {merge_id}; undo with "
               f"`cockpit volunteers merges undo {merge_id}`)")


@merges_app.command("reject")
def reject_pair(candidate: Annotated[int, typer.Argument(help="Pair number.")]) -> None:
    """Mark a proposed pair as two different people; it is not proposed again."""
    from cockpit.audit import record
    from cockpit.volunteers.registry import reject

    settings = Settings()
    with _store(settings) as db:
        row = reject(db, candidate, BY, datetime.now(UTC))
        record(db, BY, "volunteer_merge_rejected", target=row.volunteer_a,
               detail=f"candidate {candidate}: {row.volunteer_b}")
    _signal(settings)
    typer.echo(f"pair {candidate} kept apart")


@merges_app.command("undo")
def undo_merge(merge_id: Annotated[int, typer.Argument(help="Merge number (`merges log`).")]
               ) -> None:
    """Undo a merge: its records return to the volunteer they came from, kept apart."""
    from cockpit.audit import record
    from cockpit.volunteers.registry import undo

    settings = Settings()
    with _store(settings) as db:
        entry = undo(db, merge_id, BY, datetime.now(UTC))
        record(db, BY, "volunteer_merge_undone", target=entry.from_id,
               detail=f"merge {merge_id}: back from {entry.into_id}")
        back, into = entry.from_id, entry.into_id
    _signal(settings)
    typer.echo(f"merge {merge_id} undone: {back} is apart from {into} again")


@merges_app.command("log")
def merge_log(
    volunteer: Annotated[str | None, typer.Option(help="Only merges of this volunteer.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
) -> None:
    """List merges, newest first, with the records each moved."""
    from cockpit.volunteers.detail import merges

    settings = Settings()
    with _store(settings) as db:
        rows = merges(db, settings.tz, volunteer, limit)
    for m in rows:
        moved = ", ".join("/".join(k) for k in m["records"])
        state = (f"undone {m['undone_at'][:16]} by {m['undone_by']}" if m["undone_at"]
                 else "in force")
        typer.echo(f"{m['merge_id']}: {m['from_id']} → {m['into_id']} ({m['reason']}, "
                   f"{m['merged_at'][:16]} by {m['merged_by'] or 'ingest'}) [{moved}] {state}")
    typer.echo(f"{len(rows)} merge(s)")
