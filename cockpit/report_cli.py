"""``cockpit report daily|weekly``: write a briefing (PDF and/or Excel) to a folder.

The content comes from :mod:`cockpit.report`; the drawing from ``layouts.report_files``,
loaded by name (:data:`DRAWING`) the way ``cockpit serve`` names the app: ``cockpit/`` never
imports the web layers. A refused command (a bad date, a future day, a day without data, no
CJK font) prints one line to stderr and exits 2.
"""

from __future__ import annotations

import importlib
import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from cockpit.clock import utc_now
from cockpit.settings import Settings

report_app = typer.Typer(help="Daily (日报) and weekly (周报) briefings as PDF and Excel.",
                         no_args_is_help=True)
#: The module that draws a briefing's files.
DRAWING = "layouts.report_files"


class Lang(StrEnum):
    """Languages of a briefing."""

    ZH = "zh"
    EN = "en"


class Format(StrEnum):
    """Files to write."""

    PDF = "pdf"
    XLSX = "xlsx"
    BOTH = "both"


_LangOpt = Annotated[Lang, typer.Option("--lang", help="zh (default) or en.")]
_FormatOpt = Annotated[Format, typer.Option("--format", help="pdf, xlsx or both.")]
_OutOpt = Annotated[Path, typer.Option("--out", help="Folder to write to (made if missing).")]
_FiguresOpt = Annotated[bool, typer.Option(
    "--figures/--no-figures", help="Draw the figures (needs Chrome/Chromium).")]


def _refuse(message: str) -> None:
    sys.stderr.write(f"cockpit report: {message}\n")
    raise typer.Exit(2)


def write_report(kind: str, day_text: str, lang: str, fmt: str, out: Path,
                 figures: bool = True, settings: Settings | None = None) -> list[Path]:
    """Build the briefing of ``kind`` for the local day ``day_text`` and write its files.

    ``day_text`` is ``YYYY-MM-DD``, or empty for today in the cockpit's zone.

    Returns
    -------
    list of Path
        The files written, in ``out``.

    Raises
    ------
    cockpit.report.ReportError
        A bad or future date, or a period without data.
    cockpit.report_fonts.FontMissing
        No font draws the PDF's Chinese text.
    """
    from cockpit import report
    from cockpit.services import Services

    settings = settings or Settings()
    day = report.parse_day(day_text) if day_text else utc_now().astimezone(settings.tz).date()
    period = report.period_of(kind, day, settings.tz)
    services = Services.from_settings(settings)
    try:
        content = report.build(report.as_of(services), settings, period)
    finally:
        services.close()
    drawing = importlib.import_module(DRAWING)
    formats = ["pdf", "xlsx"] if fmt == "both" else [fmt]
    files, missing = drawing.render_files(content, lang, formats, settings.tz.key,
                                          use_browser=figures)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in files.items():
        path = out / drawing.file_name(content, lang, name)
        path.write_bytes(data)
        written.append(path)
    for key, why in missing.items():
        sys.stderr.write(f"cockpit report: figure {key} not drawn: {why}\n")
    return written


def _run(kind: str, day_text: str, lang: Lang, fmt: Format, out: Path, figures: bool) -> None:
    from cockpit.report import ReportError
    from cockpit.report_fonts import FontMissing

    started = time.monotonic()
    try:
        written = write_report(kind, day_text, lang.value, fmt.value, out, figures)
    except (ReportError, FontMissing) as exc:
        _refuse(str(exc))
    for path in written:
        typer.echo(f"{path} ({path.stat().st_size:,} bytes)")
    typer.echo(f"{kind} briefing written in {time.monotonic() - started:.1f} s")


@report_app.command("daily")
def daily(date_: Annotated[str, typer.Option("--date", help="Local day YYYY-MM-DD.",
                                              show_default=False)] = "",
          lang: _LangOpt = Lang.ZH, fmt: _FormatOpt = Format.BOTH,
          out: _OutOpt = Path("."), figures: _FiguresOpt = True) -> None:
    """Write the daily briefing (日报) of a local day (default: today, so far)."""
    _run("daily", date_, lang, fmt, out, figures)


@report_app.command("weekly")
def weekly(week: Annotated[str, typer.Option("--week", help="Any local day YYYY-MM-DD of the "
                                              "week (Monday to Sunday).",
                                              show_default=False)] = "",
           lang: _LangOpt = Lang.ZH, fmt: _FormatOpt = Format.BOTH,
           out: _OutOpt = Path("."), figures: _FiguresOpt = True) -> None:
    """Write the weekly briefing (周报) of the week containing a day (default: this week)."""
    _run("weekly", week, lang, fmt, out, figures)
