"""``cockpit volunteers``: the volunteers module's commands (import of other platforms' exports).

``volunteers_app`` is a typer sub-app added to ``cockpit`` as ``volunteers``; further commands
(the merge queue) register on it with ``@volunteers_app.command(...)`` or as sub-apps with
``volunteers_app.add_typer(...)``. A refused command prints one line to stderr and exits 2.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from cockpit.accounts_cli import fail, require_secrets
from cockpit.settings import Settings
from cockpit.volunteers.review_cli import merges_app

volunteers_app = typer.Typer(help="Volunteers: import other platforms' exports; the merge "
                             "queue.", no_args_is_help=True)
volunteers_app.add_typer(merges_app, name="merges")


class Encoding(StrEnum):
    """Encodings ``--encoding`` accepts for CSV files."""

    UTF8 = "utf-8"
    GBK = "gbk"
    GB18030 = "gb18030"


_File = Annotated[Path, typer.Argument(help="CSV (.csv) or Excel (.xlsx) export of a platform.",
                                       show_default=False)]
_Source = Annotated[str, typer.Option(
    "--source", help="Platform the file comes from, e.g. hongqiao, xihu, zhiyuanhui: the events' "
    "source and the records' platform. Picks the shipped mapping of that name.",
    show_default=False)]
_Mapping = Annotated[str | None, typer.Option(
    help="Column mapping: a YAML file or a shipped name (hongqiao, xihu, zhiyuanhui). Default: "
    "the shipped mapping of --source, else headers named as the contract's fields.")]
_Encoding = Annotated[Encoding | None, typer.Option(
    case_sensitive=False, help="Encoding of a CSV file (default UTF-8, with or without BOM).")]
_Sheet = Annotated[str | None, typer.Option(help="Sheet of an .xlsx file (default: the "
                                                 "mapping's, else the first).")]
_Report = Annotated[Path | None, typer.Option(
    help="Where to write the rejected rows (CSV). Default: <FILE stem>.rejected.csv beside "
    "FILE, or in the current folder when FILE's folder is not writable.")]
_DryRun = Annotated[bool, typer.Option("--dry-run", help="Validate and count; store nothing.")]
_Quiet = Annotated[bool, typer.Option("--quiet", help="No progress bar.")]


def default_report_path(file: Path) -> Path:
    """``<stem>.rejected.csv`` beside ``file``, or in the current folder if that is read-only."""
    name = f"{file.stem}.rejected.csv"
    folder = file.resolve().parent
    return folder / name if os.access(folder, os.W_OK) else Path.cwd() / name


def _mapping_for(mapping: str | None, source: str):
    """``(mapping or None for the identity mapping, its name for messages)``."""
    from cockpit.volunteers.importer import load_mapping, mapping_for_source

    if mapping is not None:
        return load_mapping(mapping), mapping
    found = mapping_for_source(source)
    if found is not None:
        return found[0], found[1].name
    return None, "(contract field names)"


def _signal(settings: Settings) -> str | None:
    """Bump the data version so open screens refresh; returns a warning when Redis is down."""
    from cockpit.streams import connect, signal_change

    try:
        client, embedded = connect(settings)
        try:
            signal_change(client, settings, [])
        finally:
            client.close()
            if embedded is not None:
                embedded.close()
    except Exception as exc:  # noqa: BLE001 - the import is committed; only the signal is lost
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        return (f"warning: could not signal open screens (Redis: {first}); they show the "
                "import after the next change")
    return None


def _summary(file: Path, source: str, mapping_name: str, report, report_path: Path | None,
             dry_run: bool) -> list[str]:
    head = (f"dry run of {file.name} (source {source}, mapping {mapping_name}): nothing stored; "
            "the counts say what an import would do" if dry_run else
            f"imported {file.name} (source {source}, mapping {mapping_name})")
    rejected = len(report.rejections)
    unknown = sum(report.unknown_villages.values())
    rows = [("rows read", report.rows, ""), ("accepted", report.accepted, ""),
            ("rejected", rejected, f"report: {report_path}" if report_path else ""),
            ("events stored", report.stored, ""),
            ("already imported", report.already, "same rows as an earlier import"),
            ("changed records", report.changed, "sent as volunteer.updated"),
            ("volunteers new", report.new_volunteers, ""),
            ("joined by ID number", report.joined, "to a volunteer of the same ID number"),
            ("proposed for review", report.proposed, "merge candidates: same phone"),
            ("unknown villages", unknown, "rows")]
    lines = [head]
    lines += [f"  {label:<22}{value:>8}" + (f"  ({note})" if note and value else "")
              for label, value, note in rows]
    if unknown:
        names = ", ".join(f"{name} ({n})" for name, n in report.unknown_villages.most_common(10))
        more = ", ..." if len(report.unknown_villages) > 10 else ""
        lines.append(f"warning: {unknown} rows name a village that is not one of the 15: "
                     f"{names}{more} (stored without a village code)")
    return lines


@volunteers_app.command("import")
def import_file(file: _File, source: _Source, mapping: _Mapping = None,
                encoding: _Encoding = None, sheet: _Sheet = None, report: _Report = None,
                dry_run: _DryRun = False, quiet: _Quiet = False) -> None:
    """Import volunteers from a CSV or Excel export of another platform.

    Each row becomes a volunteer.registered event of --source, validated and stored at once.

    The same ID number joins one volunteer; the same phone queues the pair for review.

    Rejected rows go to a CSV report (row number, reason). Re-importing stores nothing new.

    Needs COCKPIT_PD_KEY (docs/volunteers-import.md).
    """
    from sqlalchemy.exc import SQLAlchemyError
    from tqdm import tqdm

    from cockpit.store.db import engine_for, session_factory
    from cockpit.store.migrate import upgrade
    from cockpit.volunteers.importer import (
        Importer,
        ImportFailed,
        column_indexes,
        identity_mapping,
        open_table,
        write_rejections,
    )

    settings = Settings()
    require_secrets(settings, "pd_key")
    source = source.strip()
    if not source or len(source) > 128 or "\x00" in source:
        fail("--source must be 1 to 128 characters, e.g. hongqiao")
    started = datetime.now(UTC)
    engine = None
    importer = None
    try:
        chosen, mapping_name = _mapping_for(mapping, source)
        with open_table(file, chosen or identity_mapping([]),
                        encoding.value if encoding else None, sheet) as table:
            chosen = chosen or identity_mapping(table.headers)
            indexes = column_indexes(file, table.headers, chosen, mapping_name)
            engine = engine_for(settings)
            upgrade(engine)
            importer = Importer(session_factory(engine), source, chosen.columns.mapped(),
                                settings.secret("pd_key"), settings.tz, settings.volunteer_rules,
                                started, dry_run=dry_run, separator=chosen.skills_separator)
            with tqdm(total=table.total, file=sys.stderr, disable=quiet, unit="row",
                      desc=file.name, mininterval=0.5) as bar:
                done = importer.run(table.rows, indexes, bar.update)
    except ImportFailed as exc:
        fail(str(exc))
    except SQLAlchemyError as exc:
        stored = importer.report.stored if importer is not None and not dry_run else 0
        kept = (f"{stored} events were committed before it; run the import again to finish"
                if stored else "nothing was stored")
        fail(f"database error ({type(exc).__name__}: {str(exc).splitlines()[0]}); {kept}")
    finally:
        if engine is not None:
            engine.dispose()
    report_path = None
    if done.rejections:
        report_path = report or default_report_path(file)
        try:
            write_rejections(report_path, done.rejections)
        except OSError as exc:
            fail(f"cannot write the rejection report {report_path}: {exc.strerror or exc} "
                 f"({'nothing stored: dry run' if dry_run else 'the import itself is stored'})")
    warning = _signal(settings) if done.stored and not dry_run else None
    for line in _summary(file, source, mapping_name, done, report_path, dry_run):
        typer.echo(line)
    if warning:
        typer.echo(warning, err=True)
