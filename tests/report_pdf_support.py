"""Is the Chinese of a PDF page really drawn? Render the page to an image and look.

A page is rendered with pypdfium2 (PDFium, what Chrome shows PDFs with). Each distinct
Chinese character of its text layer is cut out of the image at its box and shrunk to a small
black-and-white signature. Drawn with a CJK face, the characters are inked and nearly all
signatures differ; drawn as "tofu" (a box for every character, or nothing) they are blank or
all alike. :func:`tofu_font` makes a font that draws every Chinese character of a text as the
same box, so the tests can show the check failing on tofu.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
#: Pixels per PDF point of the rendering.
SCALE = 3


@dataclass(frozen=True)
class Drawn:
    """What a page's rendering shows of its Chinese characters."""

    chars: int  # distinct Chinese characters in the text layer
    inked: int  # of those, drawn with some ink at their box
    distinct: int  # distinct signatures among them

    @property
    def readable(self) -> bool:
        """At least 10 characters, 95 % of them inked and 90 % looking different.

        (A thin one, 一, may leave no dark pixel in its 12 × 12 signature.)
        """
        return self.chars >= 10 and self.inked >= 0.95 * self.chars \
            and self.distinct >= 0.9 * self.chars


def drawn(pdf: bytes, page: int = 0, save: Path | None = None) -> Drawn:
    """Render ``page`` of ``pdf`` and measure its Chinese characters (``save``: the PNG)."""
    doc = pdfium.PdfDocument(pdf)
    try:
        sheet = doc[page]
        image = sheet.render(scale=SCALE).to_pil().convert("L")
        if save is not None:
            image.save(save)
        height = sheet.get_height()
        text = sheet.get_textpage()
        signatures: dict[str, bytes] = {}
        for i in range(text.count_chars()):
            char = text.get_text_range(i, 1)
            if not CJK.match(char) or char in signatures:
                continue
            left, bottom, right, top = text.get_charbox(i, loose=True)
            crop = image.crop((int(left * SCALE), int((height - top) * SCALE),
                               int(right * SCALE) + 1, int((height - bottom) * SCALE) + 1))
            small = crop.resize((12, 12)).point(lambda v: 0 if v < 160 else 255)
            signatures[char] = small.tobytes()
    finally:
        doc.close()
    values = list(signatures.values())
    return Drawn(len(values), sum(1 for v in values if 0 in v), len(set(values)))


def page_text(pdf: bytes) -> list[str]:
    """The text layer of each page."""
    doc = pdfium.PdfDocument(pdf)
    try:
        return [doc[i].get_textpage().get_text_range() for i in range(len(doc))]
    finally:
        doc.close()


def image_count(pdf: bytes) -> int:
    """Images placed on the document's pages."""
    doc = pdfium.PdfDocument(pdf)
    try:
        return sum(1 for i in range(len(doc))
                   for _ in doc[i].get_objects(filter=(pdfium.raw.FPDF_PAGEOBJ_IMAGE,)))
    finally:
        doc.close()


def tofu_font(folder: Path, text: str) -> Path:
    """DejaVu Sans with every Chinese character of ``text`` mapped to its white square (□).

    A font fpdf2 takes for one that has the characters, and that draws each as the same box:
    tofu, as a PDF made without a CJK font shows it.
    """
    from fontTools.ttLib import TTFont

    font = TTFont(str(DEJAVU))
    box = font.getBestCmap()[0x25A1]
    for table in font["cmap"].tables:
        if table.isUnicode():
            for char in set(text):
                if CJK.match(char):
                    table.cmap[ord(char)] = box
    path = folder / "tofu.ttf"
    font.save(str(path))
    return path
