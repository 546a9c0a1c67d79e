"""``cockpit deadletter list|show|redrive``: what the ingest could not store, and sending it again.

Exit codes: 0 done; 1 a dead letter is unknown, was re-sent already (without ``--force``) or
would be dead-lettered again; 2 a usage error. Personal data stays redacted in everything shown
(docs/operations.md, "Dead letters").
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from cockpit.settings import Settings

if TYPE_CHECKING:
    import redis

    from cockpit.deadletter import DeadLetter, Redrive

#: Exit code of a refusal about the dead letters themselves (unknown, re-sent, invalid).
REFUSED = 1
USAGE_ERROR = 2
#: Characters of a reason shown in the list.
REASON_CHARS = 60

deadletter_app = typer.Typer(
    help="Dead letters (entries the ingest could not store): list, show, redrive.",
    no_args_is_help=True)

_Reason = Annotated[str | None, typer.Option(help="Only reasons containing TEXT (any case).")]
_Type = Annotated[str | None, typer.Option("--type", help="Only this event type.")]
_Since = Annotated[str | None, typer.Option(
    help="Only dead letters since: a duration back from now (90m, 2h, 7d) or a local date or "
         "time (2026-12-01, 2026-12-01T08:00).")]


def _fail(message: str, code: int = REFUSED) -> NoReturn:
    typer.echo(f"cockpit: {message}", err=True)
    raise typer.Exit(code)


@contextmanager
def _redis() -> Iterator[tuple[Settings, redis.Redis]]:
    from cockpit.streams import connect

    settings = Settings()
    r, embedded = connect(settings)
    try:
        yield settings, r
    finally:
        r.close()
        if embedded is not None:
            embedded.close()


def _since(text: str | None, settings: Settings) -> datetime | None:
    if text is None:
        return None
    from cockpit.replay_plan import parse_duration

    try:
        return datetime.now(UTC) - timedelta(seconds=parse_duration(text))
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r}: use a duration (90m, 2h, 7d) or a date or time "
                                 "(2026-12-01T08:00)", param_hint="--since") from None
    return when if when.tzinfo else when.replace(tzinfo=settings.tz)


def _local(when: datetime, settings: Settings) -> str:
    return when.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M:%S")


def _safe(text: str) -> str:
    """Escape what would steer the terminal: control, format (bidi overrides) and line marks."""
    return "".join(f"\\u{ord(c):04x}" if c not in " \n" and unicodedata.category(c) in (
        "Cc", "Cf", "Zl", "Zp") else c for c in text)


def _short(text: str, width: int) -> str:
    text = _safe(" ".join(text.split()))
    return text if len(text) <= width else text[:width - 1] + "…"


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        typer.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def _redriven(letter: DeadLetter) -> str:
    mark = letter.redriven
    return f"→ {mark.get('stream_id') or '?'}" if mark else ""


@deadletter_app.command("list")
def list_(reason: _Reason = None, type_: _Type = None, since: _Since = None,
          limit: Annotated[int, typer.Option(min=1, max=100_000)] = 50) -> None:
    """Dead letters, newest first, and how many there are by reason."""
    from cockpit.deadletter import find

    with _redis() as (settings, r):
        found = find(r, settings, reason=reason, type_=type_, since=_since(since, settings),
                     limit=limit)
    if not found.matched:
        typer.echo("no dead letters" + (" match" if reason or type_ or since else ""))
        return
    _table(("id", "failed_at", "stream", "type", "event_id", "reason", "redriven"),
           [(d.id, _local(d.failed_at, settings), _short(d.stream, 40),
             _short(d.type or "-", 30), _short(d.event_id or "-", 40),
             _short(d.reason, REASON_CHARS), _redriven(d)) for d in found.letters])
    counts = ", ".join(f"{head} {n}" for head, n in found.by_reason.most_common())
    typer.echo(f"\n{found.matched} dead letter(s) (showing {len(found.letters)}); "
               f"by reason: {counts}")


@deadletter_app.command("show")
def show(entry_id: Annotated[str, typer.Argument(metavar="ID", help="A dead letter's id.")]
         ) -> None:
    """One dead letter: reason, origin, history and fields (personal data redacted)."""
    from cockpit.deadletter import get

    with _redis() as (settings, r):
        letter = get(r, settings, entry_id)
    if letter is None:
        _fail(f"no dead letter {entry_id} (cockpit deadletter list shows them)")
    rows = [("dead letter", letter.id),
            ("failed at", f"{_local(letter.failed_at, settings)} ({settings.timezone})"),
            ("reason", letter.reason),
            ("origin", f"{letter.stream} {letter.stream_id} (consumer {letter.consumer})"),
            ("event", f"{letter.type or '-'} {letter.event_id or '-'}"),
            ("deliveries", str(letter.deliveries) if letter.deliveries else "unknown")]
    if letter.redriven:
        mark = letter.redriven
        at = datetime.fromtimestamp(mark.get("at", 0) / 1000, UTC)
        rows.append(("redriven", f"{_local(at, settings)} as {mark.get('stream')} "
                                 f"{mark.get('stream_id') or '?'}"))
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        typer.echo(f"{label.ljust(width)}  {_safe(value)}")
    history = letter.history or {}
    if history.get("consumers"):
        typer.echo(f"{'consumers'.ljust(width)}  {', '.join(history['consumers'])}")
    if history.get("attempts"):
        typer.echo(f"{'attempts'.ljust(width)}  {history['attempts']} failed")
    for failure in history.get("failures", []):
        at = datetime.fromtimestamp(failure.get("at", 0) / 1000, UTC)
        typer.echo(_safe(f"{'failure'.ljust(width)}  {_local(at, settings)} "
                         f"{failure.get('consumer')}: {failure.get('reason')}"))
    typer.echo("fields (personal data redacted):")  # the escapes stay valid JSON
    typer.echo(_safe(json.dumps(letter.fields, ensure_ascii=False, indent=2, sort_keys=True)))


def _sets(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise typer.BadParameter(f"{pair!r}: use field=value (field= removes the field)",
                                     param_hint="--set")
        out[name.strip()] = value
    return out


def _describe(sending: Redrive, settings: Settings, dry_run: bool) -> None:
    letter = sending.letter
    for name in sending.dropped:
        typer.echo(f"  note: {name} is redacted in the dead letter (personal data is not kept); "
                   f"left out — --set {name}=... sends the real value")
    for note in sending.notes:
        typer.echo(f"  note: {note}")
    if dry_run:
        from cockpit.privacy import redact_personal

        key = settings.pd_key.get_secret_value().encode() if settings.pd_key else None
        typer.echo(f"  would send to {letter.stream} (personal data shown redacted):")
        shown = json.dumps(redact_personal(sending.fields, key), ensure_ascii=False, indent=2,
                           sort_keys=True)
        typer.echo("\n".join(f"  {line}" for line in shown.splitlines()))


@deadletter_app.command("redrive")
def redrive_cmd(
    ids: Annotated[list[str] | None, typer.Argument(metavar="ID",
                                                    help="Dead letters to re-send.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every dead letter matching --reason "
                                                     "(and --type, --since).")] = False,
    reason: _Reason = None, type_: _Type = None, since: _Since = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="field=value to fix before sending (repeatable; field= removes it).")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show, send nothing.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Re-send one re-sent before.")] = False,
) -> None:
    """Send dead letters again to their original stream, fixed with --set, once each."""
    from cockpit.deadletter import AlreadyRedriven, find, get, plan, redrive
    from cockpit.placing import service_area

    if bool(ids) == all_:
        _fail("give dead-letter ids or --all --reason TEXT", USAGE_ERROR)
    if all_ and not reason:
        _fail("--all needs --reason TEXT (cockpit deadletter list counts them by reason)",
              USAGE_ERROR)
    if ids and (reason or type_ or since):
        _fail("--reason, --type and --since go with --all", USAGE_ERROR)
    sets = _sets(set_ or [])
    with _redis() as (settings, r):
        if all_:
            letters = find(r, settings, reason=reason, type_=type_,
                           since=_since(since, settings), limit=None).letters
        else:
            letters = [get(r, settings, entry_id) or _fail(
                f"no dead letter {entry_id} (cockpit deadletter list shows them)")
                for entry_id in ids]
        again = [d for d in letters if d.redriven and not force]
        if again and not all_:
            _fail(f"{again[0].id} was redriven already as {again[0].redriven.get('stream_id')}"
                  " (--force sends it again)")
        area = service_area()
        plans = [plan(settings, d, sets, area) for d in letters if d not in again]
        bad = [p for p in plans if p.problem]
        for p in bad:
            typer.echo(f"not sent: {p.letter.id}: the ingest would dead-letter it again: "
                       f"{p.problem}", err=True)
            _describe(p, settings, dry_run=False)
        good = [p for p in plans if not p.problem]
        if bad and not all_:
            good = []  # named ids: all or nothing
        sent = 0
        for p in good:
            if dry_run:
                typer.echo(f"{p.letter.id}: {p.letter.type} {p.letter.event_id}")
                _describe(p, settings, dry_run=True)
                continue
            try:
                new_id = redrive(r, settings, p, sets, force=force)
            except AlreadyRedriven:  # another operator was quicker
                typer.echo(f"not sent: {p.letter.id} was redriven meanwhile", err=True)
                bad.append(p)
                continue
            sent += 1
            typer.echo(f"redriven {p.letter.id} → {p.letter.stream} {new_id} "
                       f"({p.letter.type} {p.letter.event_id})")
            _describe(p, settings, dry_run=False)
    if again:
        typer.echo(f"skipped {len(again)} redriven before (--force sends them again)")
    verb = "would send" if dry_run else "sent"
    typer.echo(f"{verb} {len(good) if dry_run else sent} of {len(letters)}")
    if bad:
        raise typer.Exit(REFUSED)
