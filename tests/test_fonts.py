"""One font stack for every page, defined once, and a system font behind it (docs/fonts.md).

The stack is the custom property ``--font-cjk`` of ``assets/fonts.css``; every stylesheet and
figure names it instead of fonts. On this machine, the first family of the stack that
fontconfig knows must draw every Chinese character of the catalogue and of the vocabulary
(fontconfig missing: skipped here, a failure on CI, like Redis in conftest).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from cockpit import vocab
from layouts.figures import FONT_FAMILY
from layouts.i18n import STRINGS
from layouts.signin import signin_page
from layouts.staff_map_frame import CSS as FRAME_CSS
from tests.conftest import ON_CI, unavailable

ROOT = Path(__file__).resolve().parents[1]
FONTS_CSS = ROOT / "assets" / "fonts.css"
STYLESHEETS = [*sorted((ROOT / "assets").glob("*.css")),
               *sorted((ROOT / "assets" / "map").glob("*.css"))]
#: How a stylesheet may set a font: the stack's properties, or the parent's.
FONT_VALUES = re.compile(r"var\(--font-(cjk|num)\)|inherit")
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\u3000-\u303f\uff00-\uffef]")


def stack(name: str = "--font-cjk") -> list[str]:
    """The families of a custom property of ``assets/fonts.css``, in order, unquoted."""
    match = re.search(rf"{name}:\s*([^;]+);", FONTS_CSS.read_text(encoding="utf-8"))
    assert match, f"{name} is not defined in {FONTS_CSS.name}"
    return [part.strip().strip('"') for part in match.group(1).split(",")]


def test_the_stack_names_system_fonts_in_order_with_a_generic_fallback():
    assert stack() == ["Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC",
                       "Microsoft YaHei", "WenQuanYi Micro Hei", "sans-serif"]
    numbers = stack("--font-num")
    assert numbers[-1] == "monospace" and "Noto Sans Mono CJK SC" in numbers
    assert "@font-face" not in FONTS_CSS.read_text() and "url(" not in FONTS_CSS.read_text()


def test_the_stack_is_defined_once_and_every_stylesheet_uses_it():
    defined = {}
    for css in STYLESHEETS:
        text = re.sub(r"/\*.*?\*/", "", css.read_text(encoding="utf-8"), flags=re.S)
        for name in re.findall(r"(--font[\w-]*)\s*:", text):
            defined.setdefault(name, []).append(css.name)
        for value in re.findall(r"font-family\s*:\s*([^;}]+)", text):
            assert FONT_VALUES.fullmatch(value.strip()), f"{css.name}: font-family: {value}"
        assert not re.search(r"\bfont\s*:\s*(?!inherit)[^;]*[\"']", text), \
            f"{css.name}: a font shorthand naming a family"
    assert defined == {"--font-cjk": ["fonts.css"], "--font-num": ["fonts.css"]}
    assert len(STYLESHEETS) > 8  # the globs found the stylesheets


def test_every_document_loads_the_stack():
    # Dash adds assets/*.css to its pages itself; the other two documents link it
    assert FONTS_CSS.parent == ROOT / "assets"
    assert "/assets/fonts.css" in [href for _, href in FRAME_CSS]
    hrefs = re.findall(r'<link rel="stylesheet" href="([^"]+)"', signin_page("zh", "tok"))
    assert hrefs == ["/assets/fonts.css", "/assets/signin.css"]  # the stack first
    assert FONT_FAMILY == "var(--font-cjk)"  # the figures (plotly styles its SVG text)


def _characters() -> str:
    """Every Chinese character the pages' own words use: the catalogue's and the vocabulary's."""
    words = [text for pair in STRINGS.values() for text in pair]
    words += [term.zh for terms in (vocab.CATEGORY_TERMS, vocab.PRIORITY_TERMS, vocab.STAGE_TERMS)
              for term in terms.values()]
    return "".join(sorted({c for w in words for c in w if CJK.match(c)}))


def _charset(family: str) -> set[int]:
    """Code points of the font fontconfig picks for ``family`` (``fc-match %{charset}``)."""
    out = subprocess.run(["fc-match", "--format=%{charset}", family], check=True,
                         capture_output=True, text=True, timeout=30).stdout
    points = set()
    for part in out.split():
        low, _, high = part.partition("-")
        points.update(range(int(low, 16), int(high or low, 16) + 1))
    return points


def _installed(family: str) -> bool:
    out = subprocess.run(["fc-list", "--format=%{family}\n", f":family={family}"],
                         check=True, capture_output=True, text=True, timeout=30).stdout
    return any(family in line.split(",") for line in out.splitlines())


def test_the_first_installed_font_of_the_stack_draws_every_chinese_character():
    if not (shutil.which("fc-match") and shutil.which("fc-list")):
        unavailable("fontconfig (fc-match, fc-list; Debian: fontconfig)")
    chars = _characters()
    assert len(chars) > 500 and "乔" in chars and "，" in chars
    installed = [family for family in stack()[:-1] if _installed(family)]
    if not installed:
        unavailable("a font of the stack (Debian: apt-get install fonts-noto-cjk; "
                    "scripts/ensure-test-deps)")
    first = installed[0]
    if ON_CI:  # scripts/ensure-test-deps installs fonts-noto-cjk: the stack's first family
        assert first == stack()[0], f"CI draws with {first}, not {stack()[0]}"
    missing = [c for c in chars if ord(c) not in _charset(first)]
    assert missing == [], f"{first} has no glyph for {''.join(missing)}"
    # the check itself: a family fontconfig does not know is not taken for installed, and a
    # character no font has is reported missing
    assert not _installed("No Such Font 0xdead")
    assert 0x10FFFD not in _charset(first)
