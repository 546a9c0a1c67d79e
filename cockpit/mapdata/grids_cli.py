"""``cockpit geodata grids``: generate grids (网格) for the villages without imported ones.

Prints per village how many cells were made. Refused (exit 2, one line on stderr): an unknown
village; a village with imported grids (generation never replaces them), also when no
``--village`` is given and any village has them; villages that already have generated grids,
unless ``--replace``. Open screens are signalled after the commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Annotated

import typer

from cockpit.accounts_cli import fail

#: Who the command records as having generated the grids.
BY = "cli"


class Method(StrEnum):
    """How ``--method`` draws the cells."""

    REGULAR = "regular"
    H3 = "h3"


_Method = Annotated[Method, typer.Option(
    case_sensitive=False, help="regular: square cells of --size metres; h3: H3 cells of "
    "--resolution.")]
# ranges checked by generate_grids (one refusal line), so this module stays light to import
_Size = Annotated[float, typer.Option(help="Side of a square cell, metres, 100-5000 (regular).")]
_Resolution = Annotated[int, typer.Option(
    help="H3 resolution, 6-10 (h3): 9 makes cells of about 0.1 km².")]
_Village = Annotated[list[str] | None, typer.Option(
    "--village", help="A village's code or name (朝阳村); repeat for several. Default: every "
    "village, refused if any has imported grids.")]
_Replace = Annotated[bool, typer.Option(
    "--replace", help="Make the grids of villages that have generated ones again.")]


def _labels(codes: Iterable[str]) -> str:
    from cockpit.geo import village_names

    names = village_names()
    return ", ".join(f"{names.get(c, {}).get('name', c)} ({c})" for c in sorted(codes))


def _codes(villages: list[str]) -> list[str]:
    from cockpit.geo import resolve_village

    codes = []
    for value in villages:
        code = resolve_village(value)
        if code is None:
            fail(f"unknown village {value!r}: give a 12-digit code or a name such as 朝阳村")
        codes.append(code)
    return sorted(set(codes))


def _refusal(session, codes: list[str], replace: bool) -> str | None:
    """Why the run must not go ahead, or None."""
    from cockpit.geo import village_names
    from cockpit.mapdata.grids import villages_with_grids

    imported = villages_with_grids(session, generated=False)
    if codes and imported & set(codes):
        return (f"{_labels(imported & set(codes))}: imported grids exist; generation never "
                "replaces them (ask only other villages with --village)")
    if not codes and imported:
        return (f"{_labels(imported)}: imported grids exist; generation never replaces them "
                "(name the other villages with --village)")
    again = villages_with_grids(session, generated=True) & set(codes or village_names())
    if again and not replace:
        return f"{_labels(again)}: generated grids exist; pass --replace to make them again"
    return None


def grids(method: _Method = Method.REGULAR, size: _Size = 500.0, resolution: _Resolution = 9,
          village: _Village = None, replace: _Replace = False) -> None:
    """Generate grids (网格) for villages that have no imported ones.

    Cells are clipped to the village (the active layer's polygon); slivers under a tenth of
    a cell are merged into a neighbour. The grids are labelled generated (生成) on screen.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from cockpit.geo import village_names
    from cockpit.import_cli import signal_screens
    from cockpit.mapdata.grids import check_parameters, generate_grids
    from cockpit.settings import Settings
    from cockpit.store.db import engine_for, session_factory
    from cockpit.store.migrate import upgrade

    settings = Settings()
    try:
        check_parameters(method.value, size, resolution)
    except ValueError as exc:
        fail(str(exc))
    codes = _codes(village or [])
    engine = engine_for(settings)
    try:
        upgrade(engine)
        with session_factory(engine).begin() as session:
            why = _refusal(session, codes, replace)
            if why:
                fail(why)
            result = generate_grids(session, method.value, size, resolution, codes or None,
                                    actor=BY)
    except SQLAlchemyError as exc:
        fail(f"database error ({type(exc).__name__}: {str(exc).splitlines()[0]}); "
             "nothing was stored")
    except ValueError as exc:
        fail(str(exc))
    finally:
        engine.dispose()
    warning = signal_screens(settings)
    names = village_names()
    for code, cells in result.cells.items():
        merged = result.merged.get(code, 0)
        note = f" ({merged} sliver{'s' * (merged != 1)} merged)" if merged else ""
        typer.echo(f"  {names[code]['name']} ({code}): {cells} cell{'s' * (cells != 1)}{note}")
    what = f"{size:g} m squares" if method is Method.REGULAR else f"H3 resolution {resolution}"
    count = len(result.cells)
    typer.echo(f"{sum(result.cells.values())} grid cells ({what}) in {count} "
               f"village{'s' * (count != 1)}; {result.replaced} earlier generated cells replaced")
    if warning:
        typer.echo(f"cockpit: {warning}", err=True)


def register(app: typer.Typer) -> None:
    """Add ``grids`` to the ``cockpit geodata`` commands."""
    app.command("grids")(grids)
