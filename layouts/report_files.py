"""A briefing's files: its figures drawn once, then the PDF and/or the workbook.

The one entry point of the briefing's drawing for the web route (``callbacks/reports.py``)
and for ``cockpit report`` (which loads it by name, as ``cockpit serve`` names the app:
``cockpit/`` never imports the web layers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from layouts.i18n import Lang, normalize_lang
from layouts.report_figures import render
from layouts.report_pdf import pdf_bytes
from layouts.report_xlsx import xlsx_bytes

FORMATS = ("pdf", "xlsx")
MIME = {"pdf": "application/pdf",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def file_name(content: Mapping[str, Any], lang: Lang, fmt: str) -> str:
    """``qiaosi-daily-2026-12-01-zh.pdf`` / ``qiaosi-weekly-2026-11-30-en.xlsx``."""
    return f"qiaosi-{content['kind']}-{content['first']}-{lang}.{fmt}"


def render_files(content: Mapping[str, Any], lang: str, formats: Sequence[str],
                 tz_name: str, use_browser: bool = True
                 ) -> tuple[dict[str, bytes], dict[str, str]]:
    """Draw the briefing in ``formats``.

    Parameters
    ----------
    content : mapping
        :func:`cockpit.report.build`'s content.
    lang : str
        ``zh`` (default) or ``en``.
    formats : sequence of {"pdf", "xlsx"}
    tz_name : str
        The cockpit's zone (printed with the moment described).
    use_browser : bool
        False: no figure is drawn (each is said to be missing: no browser).

    Returns
    -------
    files : dict
        Format → the file's bytes.
    missing : dict
        Figure key → why it is not in the files (empty when all were drawn).

    Raises
    ------
    ValueError
        For an unknown format.
    cockpit.report_fonts.FontMissing
        When a PDF is asked for and no font draws its Chinese text.
    """
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"format: {unknown[0]!r}; expected one of {', '.join(FORMATS)}")
    language = normalize_lang(lang)
    images, missing = render(content, language, use_browser=use_browser)
    files = {}
    if "pdf" in formats:
        files["pdf"] = pdf_bytes(content, language, images, missing, tz_name)
    if "xlsx" in formats:
        files["xlsx"] = xlsx_bytes(content, language, images, missing, tz_name)
    return files, missing
