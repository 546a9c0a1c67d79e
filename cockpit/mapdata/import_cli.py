"""``cockpit geodata import | list | clear``: boundary files into the village or grid layer.

:func:`register` adds the commands to ``geodata_app``. A refused command (unreadable file,
unknown CRS, mis-decoded names, no valid feature, database error) prints one line to stderr
and exits 2; an import with some rejected features exits 0 and writes them to a CSV report
(docs/geodata.md).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cockpit.accounts_cli import BY, fail
from cockpit.import_cli import DryRunOpt, ReportOpt, default_report_path, signal_screens
from cockpit.import_report import write_csv_report
from cockpit.settings import Settings

if TYPE_CHECKING:  # the importer loads geopandas and the store: only when a command runs
    from sqlalchemy.orm import Session

    from cockpit.mapdata.importer import ImportResult, Rejected

#: How many repaired, merged and rejected features the summary names one by one.
SHOWN = 10


class Level(StrEnum):
    """Layers ``--level`` accepts."""

    VILLAGE = "village"
    GRID = "grid"


FileArg = Annotated[Path, typer.Argument(
    help="GeoJSON (.geojson, .json), Shapefile (.shp, or a .zip holding one) or GeoPackage "
    "(.gpkg).", show_default=False)]
LevelOpt = Annotated[Level, typer.Option(
    "--level", case_sensitive=False, show_default=False,
    help="village: the 15 villages' boundaries; grid: grids (网格) of the villages.")]
CrsOpt = Annotated[str | None, typer.Option(
    help="wgs84, gcj02, bd09 or EPSG:n. Needed when the file declares none (GeoJSON without "
    "a crs member, shapefile without .prj); overrides the file's own.")]
EncodingOpt = Annotated[str | None, typer.Option(
    help="Encoding of the names (any Python codec, e.g. gbk) for a shapefile without .cpg.")]
LayerOpt = Annotated[str | None, typer.Option(help="Layer of a GeoPackage with several.")]
CodeFieldOpt = Annotated[str | None, typer.Option(
    help="Column of the code (village: 12-digit NBS code; grid: grid code). Default: detected "
    "(code, adcode, QHDM, 编码, grid_code, 网格编码 …).")]
NameFieldOpt = Annotated[str | None, typer.Option(
    help="Column of the name. Default: detected (name, QHMC, 名称, 村名, grid_name …).")]
VillageFieldOpt = Annotated[str | None, typer.Option(
    help="Grid level: column of the village (code or name) a grid belongs to. Default: "
    "detected (village_code, village, 村社 …), else the village containing the grid.")]


def register(app: typer.Typer) -> None:
    """Add ``import``, ``list`` and ``clear`` to the ``cockpit geodata`` sub-app."""
    app.command("import")(import_boundaries)
    app.command("list")(list_layers)
    app.command("clear")(clear_level)


@contextmanager
def _store(settings: Settings, commit: bool = True) -> Iterator[Session]:
    """A session on the migrated store, committed on success unless ``commit`` is False."""
    from sqlalchemy.exc import SQLAlchemyError

    from cockpit.store.db import engine_for, session_factory
    from cockpit.store.migrate import upgrade

    engine = engine_for(settings)
    try:
        upgrade(engine)
        with session_factory(engine)() as session:
            yield session
            if commit:
                session.commit()
    except SQLAlchemyError as exc:
        fail(f"database error ({type(exc).__name__}: {str(exc).splitlines()[0]}); nothing was "
             "stored")
    finally:
        engine.dispose()


def write_report(path: Path, rejected: Sequence[Rejected]) -> None:
    """Write rejected features as CSV (UTF-8 with BOM, for Excel): row, code, name, reason.

    Raises
    ------
    OSError
        If the file cannot be written.
    """
    write_csv_report(path, ("row", "code", "name", "reason"),
                     [(r.row, r.code, r.name, r.reason) for r in rejected])


def _report(file: Path, report: Path | None, rejected: Sequence[Rejected], stored: str) -> Path:
    path = report or default_report_path(file)
    try:
        write_report(path, rejected)
    except OSError as exc:
        fail(f"cannot write the rejection report {path}: {exc.strerror or exc} ({stored})")
    return path


def import_boundaries(file: FileArg, level: LevelOpt, crs: CrsOpt = None,
                      encoding: EncodingOpt = None, layer: LayerOpt = None,
                      code_field: CodeFieldOpt = None, name_field: NameFieldOpt = None,
                      village_field: VillageFieldOpt = None, report: ReportOpt = None,
                      dry_run: DryRunOpt = False) -> None:
    """Import village or grid boundaries from a GeoJSON, Shapefile or GeoPackage file.

    Invalid geometries are repaired, rings rewound counter-clockwise, parts of one code
    merged; unknown and duplicate codes are rejected into a CSV report. A village file
    replaces the imported villages (the others keep their schematic polygon); a grid file
    replaces the grids of its villages. Open screens switch to the new layer at once.
    """
    from cockpit.mapdata.importer import ImportRefused, import_layer

    settings = Settings()
    folder = (report or default_report_path(file)).parent
    if not folder.is_dir():  # said before anything is stored, not after
        fail(f"the report's folder {folder} does not exist; nothing was stored")
    try:
        with _store(settings, commit=not dry_run) as session:
            result = import_layer(session, file, level.value, crs=crs, encoding=encoding,
                                  code_field=code_field, name_field=name_field,
                                  village_field=village_field, layer=layer, dry_run=dry_run,
                                  actor=BY)
    except ImportRefused as exc:
        note = ""
        if exc.rejected:
            note = f" (report: {_report(file, report, exc.rejected, 'nothing stored')})"
        fail(f"{exc}{note}")
    report_path = None
    if result.rejected:
        report_path = _report(file, report, result.rejected,
                              "nothing stored: dry run" if dry_run else "the import is stored")
    warning = None if dry_run else signal_screens(settings)
    for line in summary_lines(result, report_path):
        typer.echo(line)
    if warning:
        typer.echo(warning, err=True)


def summary_lines(result: ImportResult, report_path: Path | None) -> list[str]:
    """The summary of an import: a head line, counts, the features concerned, warnings."""
    where = f"the {result.level} layer"
    read_as = f"CRS {result.source_crs}, encoding {result.encoding or 'unknown'}"
    head = (f"dry run of {result.source} into {where} ({read_as}): nothing stored; the counts "
            "say what an import would do" if result.dry_run else
            f"imported {result.source} into {where} (import {result.import_id}; {read_as})")
    rows = [("features read", result.read, ""), ("imported", result.imported, ""),
            ("merged", len(result.merged), "features of one code joined"),
            ("repaired", len(result.repaired), "invalid geometries made valid"),
            ("rewound", result.rewound, "rings turned counter-clockwise"),
            ("rejected", len(result.rejected), f"report: {report_path}" if report_path else "")]
    if result.level == Level.VILLAGE:
        rows.append(("schematic", 15 - result.imported,
                     "villages not in the file keep their 示意 polygon"))
    lines = [head]
    lines += [f"  {label:<16}{value:>6}" + (f"  ({note})" if note and value else "")
              for label, value, note in rows]
    lines += [f"  merged rows {', '.join(map(str, m['rows']))} into {m['code']} {m['name']}"
              for m in result.merged[:SHOWN]]
    lines += [f"  repaired row {r['row']} ({r['code']} {r['name']}): {r['reason']}"
              for r in result.repaired[:SHOWN]]
    lines += [f"  rejected row {r.row} ({r.code or '-'} {r.name or '-'}): {r.reason}"
              for r in result.rejected[:SHOWN]]
    if len(result.rejected) > SHOWN:
        lines.append(f"  … {len(result.rejected) - SHOWN} more rejected rows in the report")
    lines += [f"warning: {w}" for w in result.warnings]
    return lines


def list_layers(
    last: Annotated[int, typer.Option(min=1, max=100, help="Imports to show.")] = 5,
) -> None:
    """Show the active village and grid layers and the last imports with their reports."""
    from cockpit.mapdata.layers import layer_counts, recent_imports

    settings = Settings()
    with _store(settings, commit=False) as session:
        counts = layer_counts(session)
        runs = recent_imports(session, last)
    villages = counts["village"]["imported"]
    typer.echo(f"village layer: {villages} imported, {15 - villages} schematic (示意)"
               if villages else "village layer: schematic (示意), nothing imported")
    grids = counts["grid"]
    typer.echo(f"grid layer: {grids['imported']} imported, {grids['generated']} generated"
               if grids["imported"] or grids["generated"] else "grid layer: none")
    if not runs:
        typer.echo("no imports yet")
        return
    typer.echo("last imports:")
    for run in runs:
        at = run.imported_at.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M")
        typer.echo(f"  #{run.import_id} {at} {run.level} {run.method} {run.source}"
                   + (f" ({run.source_crs})" if run.source_crs else "")
                   + f": {_report_counts(run.method, run.features, run.report or {})}"
                   + (f", by {run.actor}" if run.actor else ""))


def _report_counts(method: str, features: int, report: dict) -> str:
    if method == "cleared":
        return f"{report.get('removed', 0)} features removed"
    parts = [f"{features} features"]
    for key in ("repaired", "merged", "rejected"):
        value = report.get(key) or []
        parts.append(f"{key} {len(value) if isinstance(value, list) else value}")
    parts.append(f"rewound {report.get('rewound', 0)}")
    return ", ".join(parts)


def clear_level(
    level: LevelOpt,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
) -> None:
    """Remove a layer: villages go back to the schematic (示意) polygons, grids to none."""
    from cockpit.mapdata.importer import clear_layer

    what = ("every imported village polygon (the map goes back to the schematic layer)"
            if level is Level.VILLAGE else "every grid, imported or generated")
    if not yes:
        try:
            sure = typer.confirm(f"Remove {what}?")
        except typer.Abort:  # no answer (end of input)
            sure = False
        if not sure:
            fail("nothing cleared (pass --yes to clear without asking)")
    settings = Settings()
    with _store(settings) as session:
        run = clear_layer(session, level.value, actor=BY)
        removed = run.report["removed"]
    warning = signal_screens(settings)
    typer.echo(f"cleared the {level.value} layer: {removed} features removed "
               f"(import {run.import_id})")
    if warning:
        typer.echo(warning, err=True)
