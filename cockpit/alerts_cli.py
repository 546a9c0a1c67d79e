"""``cockpit alerts``: check the alert-rules file, evaluate it once, list the alerts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cockpit.alert_measures import COMPARE_WORDS, threshold_figure
from cockpit.alerts_config import AlertRules, ConfigError, load_alert_rules
from cockpit.settings import Settings

alerts_app = typer.Typer(help="Alert rules: thresholds on incident counts, accuracy and KPIs.",
                         no_args_is_help=True)


def _load(file: Path | None) -> AlertRules:
    try:
        return load_alert_rules(file or Settings().alerts_file)
    except ConfigError as exc:
        typer.echo(f"invalid: {exc}", err=True)
        raise typer.Exit(1) from None


def _window(value) -> str:
    if isinstance(value, str):
        return value
    seconds = value.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


@alerts_app.command("check")
def check(file: Annotated[Path | None, typer.Argument(
        help="An alert-rules YAML file (default: COCKPIT_ALERTS_FILE or the shipped one).")]
        = None) -> None:
    """Validate a rules file; print its rules, or the rule, key and reason of a refusal (exit 1)."""
    rules = _load(file)
    for rule in rules.rules:
        m = rule.measure
        what = m.type if m.type != "metric" else f"metric {m.module}/{m.key} {m.aggregate}"
        state = "" if rule.enabled else " (disabled)"
        typer.echo(f"{rule.id}\t{rule.severity.value}\t{what} per {m.per} over "
                   f"{_window(m.window)}\t{COMPARE_WORDS[rule.compare][1]} "
                   f"{threshold_figure(rule.threshold)}\t{rule.title.zh}{state}")
    typer.echo(f"ok: {len(rules.rules)} rules ({len(rules.active)} enabled); evaluated "
               f"{_window(rules.evaluation.after_commit)} after new events and every "
               f"{_window(rules.evaluation.every)}; fingerprint {rules.fingerprint}")


@alerts_app.command("evaluate")
def evaluate() -> None:
    """Evaluate the rules once now, as the ingest does (raise, clear, publish the notices)."""
    from cockpit.alerts import AlertRunner
    from cockpit.services import Services

    settings = Settings()
    _load(None)
    services = Services.from_settings(settings)
    try:
        result = AlertRunner(settings, services.redis, services.sessions).run()
    finally:
        services.close()
    if not result.ran:
        typer.echo("another process is evaluating the rules now; nothing done", err=True)
        raise typer.Exit(1)
    typer.echo(f"{result.rules} rules: {result.raised} raised, {result.cleared} cleared, "
               f"{result.escalated} notice(s) escalated")


@alerts_app.command("list")
def list_(status: Annotated[str | None, typer.Option(
        help="active, acknowledged or cleared")] = None,
          as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List alerts: active and acknowledged ones, and those cleared in the last 7 days."""
    from cockpit.alert_queries import STATUSES, list_alerts
    from cockpit.services import Services

    if status is not None and status not in STATUSES:
        typer.echo(f"unknown status {status!r}; one of {', '.join(STATUSES)}", err=True)
        raise typer.Exit(2)
    settings = Settings()
    services = Services.from_settings(settings)
    try:
        with services.read() as session:
            listed = list_alerts(session, settings.tz, status=status)
    finally:
        services.close()
    if as_json:
        typer.echo(json.dumps(listed, ensure_ascii=False, indent=1))
        return
    for item in listed["items"]:
        typer.echo(f"{item['raised_at'][:16]}\t{item['status']}\t{item['severity']}\t"
                   f"{item['text_zh']}")
    counts = listed["counts"]
    typer.echo(", ".join(f"{counts[s]} {s}" for s in STATUSES))
