"""The CJK font a briefing's PDF embeds, found on the machine (docs/reports.md, docs/fonts.md).

A PDF carries its fonts (the reader may have none): the briefing embeds a subset of a system
CJK face. fpdf2 embeds TrueType and CFF OpenType outlines, also from a collection (``.ttc``),
so Debian's ``fonts-noto-cjk`` (Noto Sans CJK SC, CFF in a TTC) serves, and so do
``fonts-wqy-microhei`` / ``fonts-wqy-zenhei`` (TrueType). The face must draw every character
asked for; without one the briefing is refused with what to install, never drawn as tofu.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

#: Families tried in order (the pages' stack, assets/fonts.css, then Debian's TrueType ones).
FAMILIES = ("Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei",
            "WenQuanYi Zen Hei")
#: Where Debian puts them, for machines without fontconfig's tools: (path, index in a TTC).
KNOWN_FILES = (("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
               ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
               ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0))
#: What to install when none is found.
INSTALL_HINT = ("install a CJK font: Debian/Ubuntu `apt-get install fonts-noto-cjk` (or "
                "fonts-wqy-microhei); scripts/ensure-report-deps does it")
#: Characters every briefing draws (its title words).
SAMPLE = "乔司街道日报周报警情火情志愿者垃圾分类准确率"


class FontMissing(RuntimeError):
    """No font on this machine draws the briefing's Chinese text; the message says what to do."""


@dataclass(frozen=True)
class CjkFont:
    """A font file (and its face index in a collection) that draws Chinese text."""

    path: Path
    index: int
    family: str


def _fc_match(family: str) -> tuple[Path, int, str] | None:
    if not shutil.which("fc-match"):
        return None
    try:
        out = subprocess.run(["fc-match", "--format=%{file}|%{index}|%{family}", family],
                             check=True, capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    path, _, rest = out.partition("|")
    index, _, names = rest.partition("|")
    if family not in names.split(","):  # fontconfig fell back to another family
        return None
    return Path(path), int(index or 0), family


def draws(path: Path, index: int, text: str) -> str:
    """The characters of ``text`` (spaces aside) that the face has no glyph for.

    Raises
    ------
    OSError
        If the file cannot be read as a font.
    """
    from fontTools.ttLib import TTFont

    try:
        font = TTFont(str(path), fontNumber=index, lazy=True)
    except Exception as exc:  # fontTools raises its own errors for a file that is no font
        raise OSError(f"{path}: not a readable font ({exc})") from exc
    try:
        cmap = font.getBestCmap() or {}
    finally:
        font.close()
    return "".join(sorted({c for c in text if not c.isspace() and ord(c) not in cmap}))


def find_cjk_font(text: str = "") -> CjkFont:
    """The first font of :data:`FAMILIES` (else of :data:`KNOWN_FILES`) drawing ``text``.

    Parameters
    ----------
    text : str
        Every character the document will draw (its Chinese words, village names...);
        :data:`SAMPLE` is always added.

    Raises
    ------
    FontMissing
        Naming the families tried and what to install.
    """
    wanted = SAMPLE + text
    candidates = [found for family in FAMILIES if (found := _fc_match(family))]
    candidates += [(Path(p), i, Path(p).stem) for p, i in KNOWN_FILES]
    lacking = ""
    for path, index, family in candidates:
        if not path.is_file():
            continue
        try:
            lacking = draws(path, index, wanted)
        except OSError:
            continue
        if not lacking:
            return CjkFont(path, index, family)
    detail = f" (the fonts found lack {lacking[:20]})" if lacking else ""
    raise FontMissing(f"no font for the briefing's Chinese text{detail}: looked for "
                      f"{', '.join(FAMILIES)}; {INSTALL_HINT}")
