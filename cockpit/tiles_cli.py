"""``cockpit tiles check`` and ``cockpit simulate-metrics``: the scenario tiles from the shell."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cockpit.governance_config import ConfigError
from cockpit.settings import Settings
from cockpit.tiles import load_tiles

tiles_app = typer.Typer(help="Scenario tiles of the wall (docs/tiles.md).", no_args_is_help=True)


@tiles_app.callback()
def _tiles() -> None:
    """Scenario tiles of the wall: check the file."""


@tiles_app.command("check")
def check(file: Annotated[Path | None, typer.Argument(
        help="A tiles YAML file (default: COCKPIT_TILES_FILE or the shipped one).")] = None,
          ) -> None:
    """Validate a tiles file; print its scenarios and tiles, or the entry, field and reason."""
    path = file or Settings().tiles_file
    try:
        config = load_tiles(path)
    except ConfigError as exc:
        typer.echo(f"invalid: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"ok: {len(config.scenarios)} scenarios, {len(config.tiles)} tiles; "
               f"fingerprint {config.fingerprint}")
    for scenario, tiles in config.by_scenario():
        typer.echo(f"{scenario.id} ({scenario.title.zh}): "
                   + ", ".join(f"{t.id} [{t.module}/{t.key}"
                               + (f" @{t.village}" if t.village else "") + "]" for t in tiles))


def simulate_metrics(
    history_days: Annotated[int, typer.Option(min=0, max=92,
                                              help="Days of past values sent at start.")] = 7,
    seed: Annotated[int, typer.Option(help="Seed of the simulated values.")] = 7,
    once: Annotated[bool, typer.Option(
        "--once", help="Send the history and today's values so far, then exit.")] = False,
    verbose: bool = False,
) -> None:
    """Feed the metrics stream with simulated (sim:) KPIs of the configured tiles until SIGTERM.

    One value every 15 minutes for each KPI of the tiles file that the simulator knows
    (docs/tiles.md); a tile it does not know gets no value.
    """
    from cockpit.cli import _logging, run_feed
    from cockpit.tiles_sim import simulate

    _logging(verbose)
    settings = Settings()
    try:
        config = load_tiles(settings.tiles_file)
    except ConfigError as exc:  # exit 2: the demo does not restart a part started wrongly
        typer.echo(f"simulate-metrics: {exc}", err=True)
        raise typer.Exit(2) from None
    run_feed("simulate-metrics", "metrics", "metrics", settings,
             lambda r, stop: simulate(settings, r, config, history_days, seed, stop=stop,
                                      once=once))
