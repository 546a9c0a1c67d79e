"""``cockpit governance``: check, show and apply the centre's governance rules file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cockpit.governance_config import ConfigError, GovernanceConfig, load_governance
from cockpit.settings import Settings
from cockpit.vocab import CATEGORY_TERMS, PRIORITY_TERMS, STAGE_TERMS

governance_app = typer.Typer(help="Stage limits, escalation ladder, routing and notices.",
                             no_args_is_help=True)


def _load(file: Path | None) -> GovernanceConfig:
    settings = Settings()
    path = file or settings.governance_file
    try:
        return load_governance(path)
    except ConfigError as exc:
        typer.echo(f"invalid: {exc}", err=True)
        raise typer.Exit(1) from None


def _minutes(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"{seconds / 60:g}m" if seconds < 7200 else f"{seconds / 3600:g}h"


@governance_app.command("check")
def check(file: Annotated[Path | None, typer.Argument(
        help="A governance YAML file (default: COCKPIT_GOVERNANCE_FILE or the shipped one).")]
        = None) -> None:
    """Validate a rules file; print what it holds, or the key and reason it is refused (exit 1)."""
    config = _load(file)
    ladder = " → ".join(f"{lv.zh} (+{_minutes(lv.after.total_seconds())})"
                        for lv in config.escalation)
    typer.echo(f"ok: {len(config.limits)} limit rules, {len(config.teams)} teams, "
               f"{len(config.routing)} routing rules; ladder {ladder}; "
               f"fingerprint {config.fingerprint}")


@governance_app.command("show")
def show(file: Annotated[Path | None, typer.Argument(help="A governance YAML file.")] = None,
         ) -> None:
    """Print the effective stage limits of every category and priority, and the routing."""
    config = _load(file)
    stages = [s for s in STAGE_TERMS if s.value not in ("closed", "cancelled")]
    typer.echo("category\tpriority\t" + "\t".join(s.value for s in stages))
    for category, cterm in CATEGORY_TERMS.items():
        for priority, pterm in PRIORITY_TERMS.items():
            cells = []
            for stage in stages:
                limit = config.limit(category.value, priority.value, stage.value)
                cells.append(_minutes(None if limit is None else limit.total_seconds()))
            typer.echo(f"{cterm.zh}\t{pterm.zh}\t" + "\t".join(cells))
    typer.echo("")
    for rule in config.routing:
        team = config.team(rule.team)
        what = ", ".join(filter(None, [
            "category " + "/".join(c.value for c in rule.category) if rule.category else "",
            "villages " + "/".join(rule.villages) if rule.villages else "",
            "grids " + "/".join(rule.grids) if rule.grids else ""])) or "everything else"
        typer.echo(f"{what} → {team.zh if team else rule.team}")


@governance_app.command("apply")
def apply() -> None:
    """Recompute due times and suggested teams of open incidents under the current rules.

    Ingest does this by itself when it starts with changed rules; this command is for a change
    made while ingest runs.
    """
    from cockpit.governance import recompute_due
    from cockpit.services import Services

    settings = Settings()
    config = _load(None)
    services = Services.from_settings(settings)
    try:
        with services.sessions.begin() as session:
            changed = recompute_due(session, config)
        services.redis.set(settings.key("governance:fingerprint"), config.fingerprint)
    finally:
        services.close()
    typer.echo(f"{changed} open incident(s) updated to rules {config.fingerprint}")
