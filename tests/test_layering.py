"""The import rules of STYLE.md: app → callbacks → layouts → cockpit, and cockpit is plain."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WEB = {"dash", "flask", "flask_caching", "plotly"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("path", _files("cockpit"), ids=lambda p: str(p.relative_to(ROOT)))
def test_cockpit_imports_no_web_library(path):
    assert not (_imports(path) & (WEB | {"app", "callbacks", "layouts"}))


@pytest.mark.parametrize("path", _files("layouts"), ids=lambda p: str(p.relative_to(ROOT)))
def test_layouts_import_neither_callbacks_nor_app(path):
    assert not (_imports(path) & {"app", "callbacks"})


@pytest.mark.parametrize("path", _files("callbacks"), ids=lambda p: str(p.relative_to(ROOT)))
def test_callbacks_do_not_import_app(path):
    assert "app" not in _imports(path)
