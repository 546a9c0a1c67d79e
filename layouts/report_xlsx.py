"""The briefing as an Excel workbook (openpyxl): a sheet per section, numbers as numbers.

Sheet names and headings are in the briefing's language (Chinese by default); counts are
integers, times are seconds, rates are fractions shown as percentages by their number
format, so a leader can sum and chart them; the key figures carry their units in a column.
The figures sheet holds the PNGs the PDF has, or says which is missing and why.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from openpyxl import Workbook
from openpyxl.drawing.image import Image
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from layouts.i18n import Lang, t
from layouts.report_figures import FIGURES, SIZE
from layouts.report_tables import as_of_text, heading, shown, tables, title_of, typed

#: Number format per column kind (text has none).
FORMATS = {"int": "#,##0", "incidents": "#,##0", "float": "#,##0.0", "seconds": "#,##0",
           "rate": "0.0%"}
HEAD_FILL = PatternFill("solid", fgColor="0A1D3A")
HEAD_FONT = Font(bold=True, color="D6ECFF")
#: Rows above a sheet's table: title, as-of, note.
TOP = 3


def xlsx_bytes(content: Mapping[str, Any], lang: Lang, images: Mapping[str, bytes],
               missing: Mapping[str, str], tz_name: str) -> bytes:
    """Return the briefing as an ``.xlsx`` workbook.

    Parameters
    ----------
    content : mapping
        :func:`cockpit.report.build`'s content.
    lang : {"zh", "en"}
    images, missing : mapping
        :func:`layouts.report_figures.render`'s result.
    tz_name : str
        The zone's name, written with the moment the figures describe.

    Returns
    -------
    bytes
        The workbook: one sheet per section of :func:`layouts.report_tables.tables`, then the
        figures' sheet.
    """
    book = Workbook()
    book.remove(book.active)
    title, as_of = title_of(content, lang), as_of_text(content, lang, tz_name)
    book.properties.title = title
    for part in tables(content, lang):
        sheet = book.create_sheet(t(part.sheet, lang)[:31])
        sheet["A1"] = f"{title} · {part.title}"
        sheet["A1"].font = Font(bold=True, size=13)
        sheet["A2"] = as_of if content["complete"] else f"{as_of} · {t('rep_running', lang)}"
        sheet["A3"] = part.note
        heads = [heading(c, lang, sheet=True) for c in shown(part, "sheet")]
        sheet.append(heads)
        for col, _ in enumerate(heads, start=1):
            cell = sheet.cell(row=TOP + 1, column=col)
            cell.fill, cell.font = HEAD_FILL, HEAD_FONT
        drawn = [typed(part, values, "sheet") for values in part.rows]
        for cells in drawn:
            row = []
            for value, kind in cells:
                if kind == "bool" and value is not None:
                    value = t("rep_yes" if value else "rep_no", lang)
                row.append(value)
            sheet.append(row)
            for col, (value, kind) in enumerate(cells, start=1):
                if kind in FORMATS and value is not None:
                    sheet.cell(row=sheet.max_row, column=col).number_format = FORMATS[kind]
        for col, head in enumerate(heads, start=1):
            longest = max([len(str(head))] + [len(str(r[col - 1][0])) for r in drawn])
            sheet.column_dimensions[get_column_letter(col)].width = min(48, 4 + 1.6 * longest)
        sheet.freeze_panes = sheet.cell(row=TOP + 2, column=1)
    _figures(book, images, missing, lang, title)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _figures(book: Workbook, images: Mapping[str, bytes], missing: Mapping[str, str],
             lang: Lang, title: str) -> None:
    sheet = book.create_sheet(t("rep_sheet_figures", lang))
    sheet["A1"] = f"{title} · {t('rep_figures', lang)}"
    sheet["A1"].font = Font(bold=True, size=13)
    row = 3
    for key, title_key in FIGURES.items():
        name = t(title_key, lang)
        if key not in images:
            sheet.cell(row=row, column=1, value=t("rep_fig_missing", lang, name=name,
                                                  why=missing.get(key, "")))
            sheet.cell(row=row, column=1).alignment = Alignment(wrap_text=False)
            row += 2
            continue
        sheet.cell(row=row, column=1, value=name).font = Font(bold=True)
        picture = Image(io.BytesIO(images[key]))
        width, height = SIZE[key]
        picture.width, picture.height = width * 0.8, height * 0.8
        sheet.add_image(picture, f"A{row + 1}")
        row += 2 + int(height * 0.8 / 20) + 1  # default rows are 20 px high
