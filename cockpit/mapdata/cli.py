"""``cockpit geodata …``: import boundary layers, generate grids, show and clear layers.

``geodata_app`` is a typer sub-app added to ``cockpit`` as ``geodata``; each command module
registers its commands on it through its ``register(geodata_app)``. A refused command prints one
line to stderr and exits 2.
"""

from __future__ import annotations

import typer

geodata_app = typer.Typer(help="Map layers: import village and grid boundaries, generate grids.",
                          no_args_is_help=True)
from cockpit.mapdata.import_cli import register as _register_import  # noqa: E402, I001
_register_import(geodata_app)
from cockpit.mapdata.grids_cli import register as _register_grids  # noqa: E402, I001
_register_grids(geodata_app)
