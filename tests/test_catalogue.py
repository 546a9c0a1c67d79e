"""Every UI string comes from the one catalogue (layouts/i18n.py and layouts/strings_*.py).

Static checks over the source: no Chinese text in layouts/, callbacks/ or the page scripts
outside the catalogue (docstrings and comments are not UI); every key has both languages, is
defined once, and every key the code names exists; ``{field}`` placeholders agree. The pages
themselves are rendered in English in ``tests/test_catalogue_render.py``.
"""

from __future__ import annotations

import ast
import re
import string
from collections import Counter
from pathlib import Path

import pytest

from layouts.i18n import STRINGS

ROOT = Path(__file__).resolve().parents[1]
#: CJK ideographs and CJK/full-width punctuation: what a zh-CN label is made of.
CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\ufe30-\ufe4f"
                 r"\uff00-\uffef]")
#: The catalogue's own modules: the one place UI text may be written.
CATALOGUE = ["layouts/i18n.py", *sorted(str(p.relative_to(ROOT))
                                       for p in (ROOT / "layouts").glob("strings_*.py"))]
PYTHON = [str(p.relative_to(ROOT)) for p in [*sorted((ROOT / "layouts").glob("*.py")),
                                            *sorted((ROOT / "callbacks").glob("*.py")),
                                            ROOT / "app.py"]
          if str(p.relative_to(ROOT)) not in CATALOGUE]
#: The page scripts (assets/vendor is Leaflet's own code, docs/third-party.md).
SCRIPTS = [str(p.relative_to(ROOT))
           for p in [*sorted((ROOT / "assets").glob("*.js")),
                     *sorted((ROOT / "assets" / "map").glob("*.js"))]]
#: Chinese literals outside the catalogue that are not UI, each with why: (file, literal).
NOT_UI = {
    # the admin form accepts village codes separated the way a Chinese keyboard types them
    # (，or 、); the characters are read from input, never shown
    ("callbacks/admin.py", "，"): "parses typed input",
    ("callbacks/admin.py", "、"): "parses typed input",
}
#: Keys whose English is empty on purpose.
EMPTY_IN_ENGLISH = {"unit_items": "a counter word (起); English counts with the bare number"}
#: Keys whose English is Chinese on purpose: the switch names the other language in its own
#: script, as language menus do.
CHINESE_IN_ENGLISH = {"lang_switch": "中文"}
#: Literals shaped like catalogue keys that are not keys (they name callback outputs).
NOT_KEYS = {"vol_forces", "vol_forces_note", "vol_mobs", "vol_mobs_note"}


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring constants of a module, its classes and functions."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def python_literals(source: str) -> list[tuple[int, str]]:
    """Return ``(line, text)`` of each string literal with Chinese text that is not a docstring.

    F-strings count by their literal parts; comments never reach the syntax tree.
    """
    tree = ast.parse(source)
    docs = _docstrings(tree)
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in docs and CJK.search(node.value)]


_JS_TOKEN = re.compile(r"""//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'"""
                       r"""|`(?:\\.|[^`\\])*`""", re.S)


def script_literals(source: str) -> list[tuple[int, str]]:
    """Return ``(line, text)`` of each JavaScript string or template literal with Chinese text.

    Comments are skipped; the scan reads tokens left to right, so a quote inside a comment or
    a ``//`` inside a string does not confuse it.
    """
    found = []
    for match in _JS_TOKEN.finditer(source):
        token = match.group()
        if token.startswith(("//", "/*")):
            continue
        if CJK.search(token):
            found.append((source.count("\n", 0, match.start()) + 1, token[1:-1]))
    return found


def _bypasses(files: list[str], scan) -> list[str]:
    problems = []
    for name in files:
        for line, text in scan((ROOT / name).read_text(encoding="utf-8")):
            if (name, text) not in NOT_UI:
                problems.append(f"{name}:{line}: {text!r}")
    return problems


def test_no_python_ui_string_bypasses_the_catalogue():
    assert PYTHON and len(PYTHON) > 40  # the glob found the sources
    assert _bypasses(PYTHON, python_literals) == [], \
        "UI text outside the catalogue: add a key to layouts/strings_*.py and use t(key, lang)"
    found = {(name, text) for name in PYTHON
             for _, text in python_literals((ROOT / name).read_text(encoding="utf-8"))}
    assert set(NOT_UI) - found == set(), "an allow-list entry is no longer needed"


def test_no_script_ui_string_bypasses_the_catalogue():
    assert "assets/wall.js" in SCRIPTS and "assets/map/staff_map_frame.js" in SCRIPTS
    assert _bypasses(SCRIPTS, script_literals) == [], \
        "UI text in a script: hand it over from the catalogue (layouts.i18n.strings)"


def test_the_scans_find_chinese_literals_but_not_docstrings_or_comments():
    python = '"""模块说明。"""\n# 注释\ndef f():\n    """函数说明。"""\n    return f"共 {n} 起"\n'
    assert [text for _, text in python_literals(python)] == ["共 ", " 起"]
    script = ('// 注释 "引号"\n/* 说明 */ var a = "已超时", b = \'x // 不是注释\';\n'
              'var c = `剩余 ${n}`;\n')
    assert script_literals(script) == [(2, "已超时"), (2, "x // 不是注释"), (3, "剩余 ${n}")]


#: Props of Dash components that a reader sees.
TEXT_PROPS = {"children", "placeholder", "title", "label", "alt"}


def _direct(node: ast.AST):
    """String constants that are the value itself (not an argument of a call inside it)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node
    elif isinstance(node, (ast.List, ast.Tuple)):
        for element in node.elts:
            yield from _direct(element)
    elif isinstance(node, ast.JoinedStr):
        yield from (v for v in node.values if isinstance(v, ast.Constant))
    elif isinstance(node, ast.BinOp):
        yield from _direct(node.left)
        yield from _direct(node.right)
    elif isinstance(node, ast.IfExp):
        yield from _direct(node.body)
        yield from _direct(node.orelse)


def component_words(source: str) -> list[tuple[int, str]]:
    """``(line, text)`` of words written straight into an ``html.*``/``dcc.*`` component's
    children or visible props, in any language (``html.Button("Save")``)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        func = node.func if isinstance(node, ast.Call) else None
        if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                and func.value.id in ("html", "dcc")):
            shown = node.args[:1] + [k.value for k in node.keywords if k.arg in TEXT_PROPS]
            found += [(c.lineno, c.value) for value in shown for c in _direct(value)
                      if re.search(r"[A-Za-z]{2}", c.value) or CJK.search(c.value)]
    return found


def test_no_words_are_written_into_components():
    assert _bypasses(PYTHON, component_words) == []
    sample = ('html.Div([html.Button("Save", id="x"), html.Span(t("k", lang)), "·"],\n'
              '         title=f"Open {n}", className="a b")\ndcc.Input(placeholder="搜索")')
    assert sorted(text for _, text in component_words(sample)) == ["Open ", "Save", "搜索"]


def test_every_key_has_chinese_and_english():
    empty = sorted(key for key, (zh, en) in STRINGS.items()
                   if not zh.strip() or (not en.strip() and key not in EMPTY_IN_ENGLISH))
    assert empty == []
    assert all(isinstance(v, tuple) and len(v) == 2 for v in STRINGS.values())
    untranslated = sorted(key for key, (zh, en) in STRINGS.items()
                          if CJK.search(en) and CHINESE_IN_ENGLISH.get(key) != en)
    assert untranslated == [], "Chinese in an English string"


def _dict_keys(path: str) -> list[str]:
    """Every string key of the dict literals assigned to ``STRINGS`` in a catalogue module."""
    keys = []
    for node in ast.walk(ast.parse((ROOT / path).read_text(encoding="utf-8"))):
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Dict):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "STRINGS" for t in targets):
                keys += [k.value for k in node.value.keys if isinstance(k, ast.Constant)]
    return keys


def test_no_key_is_defined_twice():
    # _merge refuses a key two modules define; a key written twice in one dict literal
    # silently keeps the last, which only the source shows
    keys = [key for path in CATALOGUE for key in _dict_keys(path)]
    assert len(CATALOGUE) > 5 and len(keys) == len(STRINGS)
    assert sorted(k for k, n in Counter(keys).items() if n > 1) == []


def test_merging_a_key_twice_is_refused():
    from layouts.i18n import _merge

    with pytest.raises(KeyError, match="title"):
        _merge({"title": ("x", "x")})


def _used_keys(source: str) -> tuple[set[str], set[str], set[str]]:
    """Keys named in code: ``t("k")``, ``strings(lang, ("k", ...))``; prefixes of
    ``t(f"k_{x}")``; and every other literal shaped like a key of a catalogue namespace."""
    keys, prefixes, shaped = set(), set(), set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args:
            if node.func.id == "t":
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    keys.add(first.value)
                elif isinstance(first, ast.JoinedStr) and isinstance(first.values[0],
                                                                     ast.Constant):
                    prefixes.add(first.values[0].value)
            elif node.func.id == "strings" and len(node.args) > 1 and isinstance(
                    node.args[1], (ast.Tuple, ast.List)):
                keys |= {e.value for e in node.args[1].elts if isinstance(e, ast.Constant)}
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and re.fullmatch(
                r"[a-z]+_[a-z0-9_]+", node.value):
            shaped.add(node.value)
    return keys, prefixes, shaped


def test_every_key_the_code_names_exists():
    namespaces = {p for p, n in Counter(k.split("_")[0] for k in STRINGS if "_" in k).items()
                  if n >= 3}
    keys, prefixes, shaped = set(), set(), set()
    for name in PYTHON + CATALOGUE:
        k, p, s = _used_keys((ROOT / name).read_text(encoding="utf-8"))
        keys, prefixes, shaped = keys | k, prefixes | p, shaped | s
    assert len(keys) > 300  # the scan sees the code's t(...) calls
    assert sorted(keys - set(STRINGS)) == []
    assert sorted(p for p in prefixes if not any(k.startswith(p) for k in STRINGS)) == []
    # a key handed to a helper (``_fact("vol_col_skills", ...)``) is checked by its shape
    unknown = {s for s in shaped - set(STRINGS) - NOT_KEYS
               if s.split("_")[0] in namespaces and not s.endswith("_")}
    assert sorted(unknown) == []


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_placeholders_agree_between_chinese_and_english():
    differ = {key: (_fields(zh), _fields(en)) for key, (zh, en) in STRINGS.items()
              if _fields(zh) != _fields(en)}
    assert differ == {}
    assert _fields("本村在办 {open} 起 · {hours}小时") == {"open", "hours"}
