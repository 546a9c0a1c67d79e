"""The briefing as a PDF (A4, zh-CN or English), with fpdf2 and an embedded CJK font.

fpdf2 embeds a subset of the system CJK face :func:`cockpit.report_fonts.find_cjk_font`
finds (TrueType or CFF, from a ``.ttc`` too), so the file shows its Chinese on a machine
without the font. Without such a face the briefing is refused (:class:`FontMissing`), never
drawn as empty boxes.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from fpdf import FPDF
from fpdf.fonts import FontFace

from cockpit.report_fonts import CjkFont, find_cjk_font
from layouts.i18n import Lang, t
from layouts.report_figures import FIGURES, SIZE, village_names
from layouts.report_tables import (
    Table,
    as_of_text,
    cell_text,
    heading,
    shown,
    tables,
    title_of,
    typed,
)

FAMILY = "cjk"
HEAD_FILL = (10, 29, 58)
HEAD_TEXT = (214, 236, 255)
NOTE_COLOR = (90, 100, 120)


def _text_of(content: Mapping[str, Any], parts: list[Table], lang: Lang) -> str:
    """The document's own words, to check the font has them all.

    Titles, headings, labels, village names. Upstream text (a mobilisation's title) is not
    asked for: a character no font has there must not refuse the whole briefing.
    """
    words = [title_of(content, lang)] + [p.title + p.note for p in parts]
    words += [heading(c, lang) for p in parts for c in shown(p, "pdf")]
    words += [str(row[0]) for p in parts for row in p.rows if p.columns[0].key != "rep_col_id"]
    words += list(village_names(lang).values())
    words += [t(key, lang) for key in FIGURES.values()]
    words += [t(k, lang) for k in ("rep_running", "rep_source", "rep_figures", "rep_n_incidents",
                                   "rep_why_no_browser", "rep_fig_missing")]
    return "".join(words)


class _Document(FPDF):
    footer_text = ""

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FAMILY, size=8)
        self.set_text_color(*NOTE_COLOR)
        self.cell(0, 6, f"{self.footer_text}   {self.page_no()}/{{nb}}", align="C")


def _table(pdf: FPDF, part: Table, lang: Lang) -> None:
    pdf.set_font(FAMILY, size=12)
    pdf.set_text_color(0, 0, 0)
    pdf.cell(0, 9, part.title, new_x="LMARGIN", new_y="NEXT")
    if part.note:
        pdf.set_font(FAMILY, size=9)
        pdf.set_text_color(*NOTE_COLOR)
        pdf.cell(0, 6, part.note, new_x="LMARGIN", new_y="NEXT")
    columns = shown(part, "pdf")
    pdf.set_font(FAMILY, size=8 if len(columns) > 6 else 9)
    pdf.set_text_color(0, 0, 0)
    if not part.rows:
        pdf.cell(0, 7, t("rep_nothing", lang), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
        return
    widths = part.widths or None
    head = FontFace(color=HEAD_TEXT, fill_color=HEAD_FILL)
    with pdf.table(col_widths=widths, width=sum(widths) if widths else None,
                   headings_style=head, line_height=5.5, text_align="LEFT",
                   align="LEFT") as grid:
        row = grid.row()
        for column in columns:
            row.cell(heading(column, lang))
        for values in part.rows:
            row = grid.row()
            for value, kind in typed(part, values, "pdf"):
                row.cell(cell_text(value, kind, lang),
                         align="RIGHT" if kind not in ("text", "bool") else "LEFT")
    pdf.ln(4)


def _figures(pdf: FPDF, images: Mapping[str, bytes], missing: Mapping[str, str],
             lang: Lang) -> None:
    pdf.add_page()
    pdf.set_font(FAMILY, size=13)
    pdf.cell(0, 9, t("rep_figures", lang), new_x="LMARGIN", new_y="NEXT")
    for key, title_key in FIGURES.items():
        name = t(title_key, lang)
        if key in images:
            width, height = SIZE[key]
            if pdf.get_y() + 9 + pdf.epw * height / width > pdf.page_break_trigger:
                pdf.add_page()  # the title stays with its figure
            pdf.set_font(FAMILY, size=11)
            pdf.cell(0, 7, name, new_x="LMARGIN", new_y="NEXT")
            pdf.image(io.BytesIO(images[key]), w=pdf.epw)
            pdf.ln(3)
        else:
            pdf.set_font(FAMILY, size=10)
            pdf.set_text_color(170, 40, 30)
            pdf.multi_cell(0, 6, t("rep_fig_missing", lang, name=name,
                                   why=missing.get(key, "")), new_x="LMARGIN", new_y="NEXT")
            pdf.set_text_color(0, 0, 0)


def pdf_bytes(content: Mapping[str, Any], lang: Lang, images: Mapping[str, bytes],
              missing: Mapping[str, str], tz_name: str, font: CjkFont | None = None) -> bytes:
    """Return the briefing as a PDF.

    Parameters
    ----------
    content : mapping
        :func:`cockpit.report.build`'s content.
    lang : {"zh", "en"}
    images, missing : mapping
        :func:`layouts.report_figures.render`'s result: PNG per figure, and why the others
        are missing (printed in their place).
    tz_name : str
        The zone's name, printed with the moment the figures describe.
    font : CjkFont, optional
        The face to embed; default :func:`cockpit.report_fonts.find_cjk_font` for the
        document's text.

    Raises
    ------
    cockpit.report_fonts.FontMissing
        When no font on the machine draws the document's Chinese text.
    """
    parts = tables(content, lang)
    font = font or find_cjk_font(_text_of(content, parts, lang))
    pdf = _Document(orientation="portrait", unit="mm", format="A4")
    pdf.set_auto_page_break(auto=True, margin=16)
    pdf.add_font(FAMILY, fname=str(font.path), collection_font_number=font.index)
    title = title_of(content, lang)
    pdf.footer_text = title
    pdf.set_title(title)
    pdf.set_lang("zh-CN" if lang == "zh" else "en")
    pdf.add_page()
    pdf.set_font(FAMILY, size=18)
    pdf.cell(0, 12, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FAMILY, size=10)
    pdf.set_text_color(*NOTE_COLOR)
    pdf.cell(0, 6, as_of_text(content, lang, tz_name), new_x="LMARGIN", new_y="NEXT")
    if not content["complete"]:
        pdf.cell(0, 6, t("rep_running", lang), new_x="LMARGIN", new_y="NEXT")
    pdf.multi_cell(0, 5, t("rep_source", lang), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    for part in parts:
        _table(pdf, part, lang)
    _figures(pdf, images, missing, lang)
    return bytes(pdf.output())
