"""``cockpit waste``: the waste-sorting module's commands (import of household, station registers).

``waste_app`` is a typer sub-app added to ``cockpit`` as ``waste``; further commands register
on it with ``@waste_app.command(...)``. A refused command prints one line to stderr and exits 2.
"""

from __future__ import annotations

from enum import StrEnum
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

if TYPE_CHECKING:
    from cockpit.import_table import MappingBase

waste_app = typer.Typer(help="Waste sorting: import household and station registers.",
                        no_args_is_help=True)


class Register(StrEnum):
    """Registers ``--kind`` accepts."""

    HOUSEHOLDS = "households"
    STATIONS = "stations"


_Kind = Annotated[Register, typer.Option(
    "--kind", case_sensitive=False, show_default=False,
    help="What the file lists: households (户籍台账) or stations (投放点台账).")]
_Source = Annotated[str, typer.Option(
    "--source", show_default=False, help="System the register comes from, e.g. qiaosi-waste: "
    "the events' source. Picks the shipped mapping of that name for --kind.")]
_Mapping = Annotated[str | None, typer.Option(
    help="Column mapping: a YAML file or a shipped name (qiaosi). Default: the shipped mapping "
    "of --source for --kind, else headers named as the contract's fields.")]


def _households(common: dict[str, Any], mapping: MappingBase, settings: Settings):
    from cockpit.waste.importer import HouseholdImporter

    return HouseholdImporter(**common, rules=settings.waste_rules,
                             default_crs=mapping.default_crs)


def _stations(common: dict[str, Any], mapping: MappingBase, settings: Settings):
    from cockpit.waste.importer import StationImporter

    return StationImporter(**common, rules=settings.waste_rules,
                           default_crs=mapping.default_crs)


def _household_counts(report) -> list[tuple[str, int, str]]:
    return [("changed records", report.changed, "sent again as household.registered"),
            ("households new", report.new, ""),
            ("of them tenants", report.tenants, ""),
            ("moved out", report.moved_out, "households of the file"),
            ("landlords new", report.landlords, "")]


def _station_counts(report) -> list[tuple[str, int, str]]:
    return [("changed records", report.changed, "sent again as station.registered"),
            ("stations new", report.new, ""),
            ("closed", report.closed, "stations of the file")]


@waste_app.command("import")
def import_file(file: FileArg, kind: _Kind, source: _Source, mapping: _Mapping = None,
                encoding: EncodingOpt = None, sheet: SheetOpt = None, report: ReportOpt = None,
                dry_run: DryRunOpt = False, quiet: QuietOpt = False) -> None:
    """Import a household or station register from a CSV or Excel file.

    Each row becomes a household.registered (and, with a move-out date, a household.moved_out)
    or a station.registered event of --source, validated and stored at once.

    Rejected rows go to a CSV report (row number, reason). Re-importing stores nothing new;
    a changed row wins over the stored values.

    Needs COCKPIT_PD_KEY (docs/waste-import.md).
    """
    from cockpit.waste.import_format import FORMATS

    if kind is Register.HOUSEHOLDS:
        make, counts = _households, _household_counts
    else:
        make, counts = _stations, _station_counts
    run_import(file, source, FORMATS[kind.value], mapping, encoding, sheet, report, dry_run,
               quiet, make, counts)
