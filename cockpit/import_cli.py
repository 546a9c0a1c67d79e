"""What the ``import`` commands share: their options, the run with its bar, report and summary.

``cockpit volunteers import`` and ``cockpit waste import`` differ in their mapping format
(:class:`cockpit.import_table.MappingFormat`) and their importer
(:class:`cockpit.import_rows.RowImporter`); everything around them is here. A refused import
prints one line to stderr and exits 2 (:func:`cockpit.accounts_cli.fail`).
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cockpit.accounts_cli import fail, require_secrets
from cockpit.settings import Settings

if TYPE_CHECKING:  # the importers' modules load the store: only when a command runs
    from cockpit.import_report import ImportReport
    from cockpit.import_rows import RowImporter
    from cockpit.import_table import MappingBase, MappingFormat


class Encoding(StrEnum):
    """Encodings ``--encoding`` accepts for CSV files."""

    UTF8 = "utf-8"
    GBK = "gbk"
    GB18030 = "gb18030"


FileArg = Annotated[Path, typer.Argument(help="CSV (.csv) or Excel (.xlsx) file.",
                                         show_default=False)]
EncodingOpt = Annotated[Encoding | None, typer.Option(
    case_sensitive=False, help="Encoding of a CSV file (default UTF-8, with or without BOM).")]
SheetOpt = Annotated[str | None, typer.Option(help="Sheet of an .xlsx file (default: the "
                                                   "mapping's, else the first).")]
ReportOpt = Annotated[Path | None, typer.Option(
    help="Where to write the rejected rows (CSV). Default: <FILE stem>.rejected.csv beside "
    "FILE, or in the current folder when FILE's folder is not writable.")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Validate and count; store nothing.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", help="No progress bar.")]


def default_report_path(file: Path) -> Path:
    """``<stem>.rejected.csv`` beside ``file``, or in the current folder if that is read-only."""
    name = f"{file.stem}.rejected.csv"
    folder = file.resolve().parent
    return folder / name if os.access(folder, os.W_OK) else Path.cwd() / name


def checked_source(source: str) -> str:
    """``--source`` stripped; exits 2 unless it has 1 to 128 characters and no NUL."""
    source = source.strip()
    if not source or len(source) > 128 or "\x00" in source:
        fail("--source must be 1 to 128 characters, e.g. hongqiao")
    return source


def signal_screens(settings: Settings) -> str | None:
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


def summary_lines(file: Path, source: str, mapping_name: str, report: ImportReport,
                  report_path: Path | None, dry_run: bool,
                  counts: Sequence[tuple[str, int, str]]) -> list[str]:
    """The summary: a head line, one aligned line per count, a warning on unknown villages.

    Parameters
    ----------
    counts : sequence of (label, value, note)
        The importer's own counts, after the shared ones (rows read ... already imported);
        a note is shown when its value is not 0.
    """
    head = (f"dry run of {file.name} (source {source}, mapping {mapping_name}): nothing stored; "
            "the counts say what an import would do" if dry_run else
            f"imported {file.name} (source {source}, mapping {mapping_name})")
    unknown = sum(report.unknown_villages.values())
    rows = [("rows read", report.rows, ""), ("accepted", report.accepted, ""),
            ("rejected", len(report.rejections),
             f"report: {report_path}" if report_path else ""),
            ("events stored", report.stored, ""),
            ("already imported", report.already, "same rows as an earlier import"),
            *counts, ("unknown villages", unknown, "rows")]
    lines = [head]
    lines += [f"  {label:<22}{value:>8}" + (f"  ({note})" if note and value else "")
              for label, value, note in rows]
    if unknown:
        lines.append(unknown_villages_warning(unknown, report.unknown_villages))
    return lines


def unknown_villages_warning(unknown: int, villages: Counter) -> str:
    """``warning: N rows name a village that is not one of the 15: 翁梅村 (4), ...``."""
    names = ", ".join(f"{name} ({n})" for name, n in villages.most_common(10))
    more = ", ..." if len(villages) > 10 else ""
    return (f"warning: {unknown} rows name a village that is not one of the 15: "
            f"{names}{more} (stored without a village code)")


def run_import(file: Path, source: str, fmt: MappingFormat, mapping: str | None,
               encoding: Encoding | None, sheet: str | None, report: Path | None,
               dry_run: bool, quiet: bool,
               make_importer: Callable[[dict[str, Any], MappingBase, Settings], RowImporter],
               counts: Callable[[ImportReport], Sequence[tuple[str, int, str]]]
               ) -> ImportReport:
    """Run an import command: read the file, apply its rows with a bar, report, summarise.

    The store is migrated first; the bar goes to stderr, the summary to stdout; open screens
    are signalled after a stored import (a warning on stderr when Redis is down).

    Parameters
    ----------
    file, source, mapping, encoding, sheet, report, dry_run, quiet
        The command's arguments and options.
    fmt : MappingFormat
        The importer's mappings.
    make_importer : callable
        ``(common, mapping, settings) -> RowImporter``; ``common`` holds the keyword
        arguments of :class:`~cockpit.import_rows.RowImporter`.
    counts : callable
        ``report -> [(label, value, note)]``: the command's own summary lines.

    Returns
    -------
    ImportReport
        What the import read and did.

    Raises
    ------
    typer.Exit
        With code 2 and one line on stderr when the file, the mapping, the secret or the
        database cannot be used, or the rejection report cannot be written.
    """
    from sqlalchemy.exc import SQLAlchemyError
    from tqdm import tqdm

    from cockpit.import_report import write_rejections
    from cockpit.import_table import ImportFailed, column_indexes, open_table
    from cockpit.placing import service_area
    from cockpit.store.db import engine_for, session_factory
    from cockpit.store.migrate import upgrade

    settings = Settings()
    require_secrets(settings, "pd_key")
    source = checked_source(source)
    started = datetime.now(UTC)
    engine = None
    importer = None
    try:
        chosen, mapping_name = fmt.choose(mapping, source)
        with open_table(file, chosen or fmt.identity([]), encoding.value if encoding else None,
                        sheet) as table:
            chosen = chosen or fmt.identity(table.headers)
            indexes = column_indexes(file, table.headers, chosen, mapping_name)
            engine = engine_for(settings)
            upgrade(engine)
            common = {"sessions": session_factory(engine), "source": source,
                      "columns": chosen.column_map, "pd_key": settings.secret("pd_key"),
                      "tz": settings.tz, "started": started, "dry_run": dry_run,
                      "area": service_area()}
            importer = make_importer(common, chosen, settings)
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
            write_rejections(report_path, done.rejections, importer.key_field)
        except OSError as exc:
            fail(f"cannot write the rejection report {report_path}: {exc.strerror or exc} "
                 f"({'nothing stored: dry run' if dry_run else 'the import itself is stored'})")
    warning = signal_screens(settings) if done.stored and not dry_run else None
    for line in summary_lines(file, source, mapping_name, done, report_path, dry_run,
                              counts(done)):
        typer.echo(line)
    if warning:
        typer.echo(warning, err=True)
    return done
