"""``cockpit volunteers``: the volunteers module's commands (import of other platforms' exports).

``volunteers_app`` is a typer sub-app added to ``cockpit`` as ``volunteers``; further commands
(the merge queue) register on it with ``@volunteers_app.command(...)`` or as sub-apps with
``volunteers_app.add_typer(...)``. A refused command prints one line to stderr and exits 2.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from cockpit.import_cli import (
    DryRunOpt,
    EncodingOpt,
    FileArg,
    QuietOpt,
    ReportOpt,
    SheetOpt,
    run_import,
)
from cockpit.settings import Settings
from cockpit.volunteers.review_cli import merges_app

if TYPE_CHECKING:
    from cockpit.import_table import MappingBase

volunteers_app = typer.Typer(help="Volunteers: import other platforms' exports; the merge "
                             "queue.", no_args_is_help=True)
volunteers_app.add_typer(merges_app, name="merges")

_Source = Annotated[str, typer.Option(
    "--source", help="Platform the file comes from, e.g. hongqiao, xihu, zhiyuanhui: the events' "
    "source and the records' platform. Picks the shipped mapping of that name.",
    show_default=False)]
_Mapping = Annotated[str | None, typer.Option(
    help="Column mapping: a YAML file or a shipped name (hongqiao, xihu, zhiyuanhui). Default: "
    "the shipped mapping of --source, else headers named as the contract's fields.")]


def _importer(common: dict[str, Any], mapping: MappingBase, settings: Settings):
    from cockpit.volunteers.importer import Importer

    return Importer(**common, rules=settings.volunteer_rules,
                    separator=mapping.skills_separator)


def _counts(report) -> list[tuple[str, int, str]]:
    return [("changed records", report.changed, "sent as volunteer.updated"),
            ("volunteers new", report.new_volunteers, ""),
            ("joined by ID number", report.joined, "to a volunteer of the same ID number"),
            ("proposed for review", report.proposed, "merge candidates: same phone")]


@volunteers_app.command("import")
def import_file(file: FileArg, source: _Source, mapping: _Mapping = None,
                encoding: EncodingOpt = None, sheet: SheetOpt = None, report: ReportOpt = None,
                dry_run: DryRunOpt = False, quiet: QuietOpt = False) -> None:
    """Import volunteers from a CSV or Excel export of another platform.

    Each row becomes a volunteer.registered event of --source, validated and stored at once.

    The same ID number joins one volunteer; the same phone queues the pair for review.

    Rejected rows go to a CSV report (row number, reason). Re-importing stores nothing new.

    Needs COCKPIT_PD_KEY (docs/volunteers-import.md).
    """
    from cockpit.volunteers.import_files import FORMAT

    run_import(file, source, FORMAT, mapping, encoding, sheet, report, dry_run, quiet,
               _importer, _counts)
