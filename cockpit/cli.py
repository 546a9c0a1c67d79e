"""The ``cockpit`` command: schema, db, ingest, replay, serve, demo, governance, users, kiosk.

Also ``deadletter`` (cockpit.deadletter_cli), ``alerts`` (cockpit.alerts_cli) and the modules'
sub-commands.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from cockpit.accounts_cli import kiosk_app, require_secrets, users_app
from cockpit.deadletter_cli import deadletter_app
from cockpit.mapdata.cli import geodata_app
from cockpit.report_cli import report_app
from cockpit.settings import MissingSecret, Settings
from cockpit.volunteers.cli import volunteers_app
from cockpit.waste.cli import waste_app

app = typer.Typer(help="Qiaosi Cloud Cockpit (乔网智治·云上中心驾驶舱).", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)
db_app = typer.Typer(help="The SQL store's schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(kiosk_app, name="kiosk")
app.add_typer(volunteers_app, name="volunteers")
app.add_typer(waste_app, name="waste")
app.add_typer(geodata_app, name="geodata")
app.add_typer(deadletter_app, name="deadletter")
app.add_typer(report_app, name="report")


def _logging(verbose: bool = False) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def stop_on_signals() -> threading.Event:
    """Return an event set by SIGTERM or SIGINT, for loops that stop cleanly."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def run_feed(command: str, what: str, stream: str, settings: Settings,
             feed: Callable[[Any, threading.Event], Any]) -> None:
    """Run one simulated feed from the shell, as every ``cockpit simulate-*`` command does.

    Connects to Redis (``REDIS_URL``, or the embedded one), calls ``feed(r, stop)`` with
    ``stop`` set by SIGTERM / SIGINT, closes the connection, and prints what it sent:
    ``simulated <what> done: N events sent to <stream> (H at start, L live)``. ``feed``
    returns stats with ``sent``, ``history``, ``live`` and ``stopped``.

    Raises
    ------
    typer.Exit
        Code 1 when Redis fails (the demo restarts a part that failed); ``feed``'s other
        errors pass through for the command to answer.
    """
    import redis

    from cockpit.streams import connect

    r, embedded = connect(settings)
    try:
        stats = feed(r, stop_on_signals())
    except redis.RedisError as exc:
        typer.echo(f"{command}: Redis failed (REDIS_URL): {str(exc).splitlines()[0]}", err=True)
        raise typer.Exit(1) from None
    finally:
        r.close()
        if embedded is not None:
            embedded.close()
    typer.echo(f"simulated {what} {'stopped' if stats.stopped else 'done'}: {stats.sent} "
               f"events sent to {settings.stream(stream)} ({stats.history} at start, "
               f"{stats.live} live)")


@app.command()
def schema(
    event_type: Annotated[str | None,
                          typer.Argument(help="One type, e.g. incident.reported")] = None,
) -> None:
    """Print the JSON Schema of the event contract (every type, or one)."""
    from cockpit.events import EVENT_TYPES, json_schema

    if event_type is None:
        doc = json_schema()
    elif event_type in EVENT_TYPES:
        doc = EVENT_TYPES[event_type].model_json_schema()
    else:
        raise typer.BadParameter(f"unknown type {event_type!r}; one of {', '.join(EVENT_TYPES)}")
    typer.echo(json.dumps(doc, ensure_ascii=False, indent=2))


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Create or migrate the database schema (Alembic) to REVISION."""
    from cockpit.store.db import engine_for
    from cockpit.store.migrate import upgrade

    _logging()
    settings = Settings()
    engine = engine_for(settings)
    upgrade(engine, revision)
    typer.echo(f"database at {engine.url.render_as_string(hide_password=True)} is at {revision}")
    engine.dispose()


@app.command()
def ingest(
    consumer: Annotated[str | None,
                        typer.Option(help="Consumer name (stable per process).")] = None,
    batch: Annotated[int, typer.Option(min=1, max=10_000, help="Entries per batch.")] = 500,
    block_ms: Annotated[int, typer.Option(min=10, max=20_000)] = 1000,
    idle_exit: Annotated[float | None, typer.Option(help="Exit after this many idle s.")] = None,
    claim_idle_ms: Annotated[int, typer.Option(
        min=100, help="Claim entries pending this long for another (dead) consumer, ms.")
    ] = 60_000,
    metrics_port: Annotated[int | None, typer.Option(
        min=0, max=65535, help="Port of this process's metrics (default "
        "COCKPIT_INGEST_METRICS_PORT; 0: none); one per ingest process on a host.")] = None,
    verbose: bool = False,
) -> None:
    """Consume the incident and metric streams into the store until SIGTERM / Ctrl-C.

    Needs ``COCKPIT_PD_KEY`` (the key of the hash of ID numbers). Serves its metrics on
    ``COCKPIT_INGEST_METRICS_HOST:PORT`` (127.0.0.1:9464; port 0: none), or ``--metrics-port``.
    """
    from cockpit.ingest import Ingestor
    from cockpit.metrics_scrape import serve_ingest
    from cockpit.services import Services

    settings = Settings()
    if metrics_port is not None:
        settings = settings.model_copy(update={"ingest_metrics_port": metrics_port})
    require_secrets(settings, "pd_key")
    _logging(verbose)
    services = Services.from_settings(settings)
    stop = stop_on_signals()
    scraped = serve_ingest(settings)
    try:
        worker = Ingestor(services.settings, services.redis, services.sessions, consumer=consumer,
                          batch_size=batch, block_ms=block_ms, claim_idle_ms=claim_idle_ms)
        logging.getLogger("cockpit.ingest").info(
            "ingest consumer %s reading %s", worker.consumer, ", ".join(worker.streams))
        worker.run(stop, idle_exit=idle_exit)
    finally:
        if scraped is not None:
            scraped.close()
        services.close()


@app.command()
def serve(
    port: Annotated[int | None, typer.Option(help="Port (default COCKPIT_PORT, 8050).")] = None,
    threads: Annotated[int | None, typer.Option(
        min=1, max=4200,
        help="Server threads (default: COCKPIT_PUSH_MAX_CLIENTS + 16).")] = None,
) -> None:
    """Serve the web app (wall page and /api/v1) with waitress, replacing this process.

    Needs ``COCKPIT_SECRET_KEY`` (signs sessions and kiosk links). Each open push stream holds
    a thread, so the default is ``COCKPIT_PUSH_MAX_CLIENTS`` plus :data:`REQUEST_THREADS` for
    everything else.
    """
    import os

    from cockpit.supervisor import check_port_free

    settings = Settings()
    require_secrets(settings, "secret_key")
    settings.governance  # noqa: B018 - a bad rules file is reported before the server starts
    check_port_free(settings.host, port or settings.port)
    argv = serve_argv(settings, port, threads)
    os.execv(argv[0], argv)


#: Server threads kept for requests other than push streams (pages, callbacks, API).
REQUEST_THREADS = 16


def serve_argv(settings: Settings, port: int | None = None,
               threads: int | None = None) -> list[str]:
    """The command line that serves ``app:make_server`` with waitress (no import of the app).

    The web layers import this package, never the reverse, so the server is started as a
    program: ``python -m waitress --call app:make_server``. ``threads`` defaults to the push
    streams allowed plus :data:`REQUEST_THREADS`; waitress may hold that many connections
    and as many again idle (keep-alive).
    """
    threads = threads or settings.push_max_clients + REQUEST_THREADS
    # waitress would strip X-Forwarded-For from every request (it trusts no proxy); the app
    # reads it only from COCKPIT_PROXY_ADDRESSES (callbacks.auth.client_address)
    return [sys.executable, "-m", "waitress", f"--listen={settings.host}:{port or settings.port}",
            f"--threads={threads}", f"--connection-limit={2 * threads + 100}",
            "--ident=qiaosi-cockpit", "--no-clear-untrusted-proxy-headers",
            "--call", "app:make_server"]


@app.command()
def demo(
    port: Annotated[int | None, typer.Option(help="Port of the web app (default 8050).")] = None,
    speed: Annotated[float, typer.Option(
        min=0.1, help="Replay speed-up of the arrivals of incidents.")] = 10.0,
    stage_speed: Annotated[float, typer.Option(
        help="speed within each incident; 1 keeps real stage durations")] = 1.0,
    feed: Annotated[Path | None, typer.Option(help="Recorded calls-for-service CSV.")] = None,
    mapping: Annotated[str, typer.Option(help="Mapping file or name.")] = "sf_fire_calls",
) -> None:
    """Start embedded Redis (unless REDIS_URL), ingest, a replay of real calls and the web app.

    By default incidents arrive 10 times as fast as recorded; their stages keep real durations.
    Prints a kiosk link for the wall and a new password of the account ``admin``; secrets not
    in the environment are generated once and kept under COCKPIT_DATA_DIR/secrets.
    """
    import math

    from cockpit.demo import run_demo

    for name, value in (("--speed", speed), ("--stage-speed", stage_speed)):
        if not (value > 0 and math.isfinite(value)):  # inf and nan pass typer's min=
            raise typer.BadParameter(f"{value}: use a finite number > 0", param_hint=name)
    _logging()
    settings = Settings()
    if port is not None:
        settings = settings.model_copy(update={"port": port})
    raise typer.Exit(run_demo(settings, speed=speed, feed=feed, mapping=mapping,
                              stage_speed=stage_speed))


@app.command("geodata-build")
def geodata_build(
    data: Annotated[Path | None, typer.Option(help="The shared data folder.")] = None,
) -> None:
    """Rebuild geodata/ (district outline, schematic villages) from the shared data."""
    from cockpit import geodata_build as builder

    builder.main([] if data is None else ["--data", str(data)])


@app.command("simulate-volunteers")
def simulate_volunteers(
    volunteers: Annotated[int, typer.Option(min=1, max=100_000,
                                            help="Volunteers on the roll.")] = 7_400,
    history_days: Annotated[int, typer.Option(min=0, max=366,
                                              help="Days of past activity sent at start.")] = 30,
    seed: Annotated[int, typer.Option(help="Seed of the simulated world.")] = 7,
    once: Annotated[bool, typer.Option(
        "--once", help="Send the history and today's events so far, then exit.")] = False,
    verbose: bool = False,
) -> None:
    """Feed the volunteers stream with simulated (sim:) volunteers until SIGTERM / Ctrl-C.

    A roll of invented people, daily activities, mobilisations and campaign sign-ups, in real
    time after the history (docs/volunteers-simulated.md).
    """
    from cockpit.volunteers.simulate import SimConfig, simulate

    _logging(verbose)
    settings = Settings()
    run_feed("simulate-volunteers", "volunteers", "volunteers", settings,
             lambda r, stop: simulate(settings, r, SimConfig(volunteers, history_days, seed),
                                      stop=stop, once=once))


@app.command("simulate-waste")
def simulate_waste(
    households: Annotated[int, typer.Option(min=15, max=200_000,
                                            help="Households in the 15 villages.")] = 4_700,
    history_days: Annotated[int, typer.Option(min=0, max=366,
                                              help="Days of past disposals sent at start.")] = 14,
    seed: Annotated[int, typer.Option(help="Seed of the simulated world.")] = 7,
    field_app: Annotated[bool, typer.Option(help="Assign and visit the store's follow-ups.")
                         ] = True,
    items: Annotated[Path | None, typer.Option(help="Item list CSV (id, garbage_name, type).")
                     ] = None,
    once: Annotated[bool, typer.Option(
        "--once", help="Send the history and today's disposals so far, then exit.")] = False,
    verbose: bool = False,
) -> None:
    """Feed the waste stream with simulated (sim:) households and disposals until SIGTERM.

    Registry, daily disposals rated by supervisors, tenants moving, and a field app visiting
    weak households, in real time after the history (docs/waste-simulated.md).
    """
    from cockpit.store.db import engine_for, session_factory
    from cockpit.waste.sim_items import ItemListError
    from cockpit.waste.simulate import SimConfig, simulate

    _logging(verbose)
    settings = Settings()
    engine = engine_for(settings) if field_app and not once else None
    sessions = session_factory(engine) if engine is not None else None
    config = SimConfig(households, history_days, seed, field_app, items)
    try:
        run_feed("simulate-waste", "waste", "waste", settings,
                 lambda r, stop: simulate(settings, r, config, stop=stop, once=once,
                                          sessions=sessions))
    except ItemListError as exc:  # exit 2: the demo does not restart a part started wrongly
        typer.echo(f"simulate-waste: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        if engine is not None:
            engine.dispose()


def _register_replay() -> None:
    from cockpit import replay
    from cockpit.alerts_cli import alerts_app
    from cockpit.governance_cli import governance_app
    from cockpit.tiles_cli import simulate_metrics, tiles_app
    from cockpit.timemachine_cli import timemachine_app

    replay.register(app)
    app.add_typer(governance_app, name="governance")
    app.add_typer(tiles_app, name="tiles")
    app.command("simulate-metrics")(simulate_metrics)
    app.add_typer(alerts_app, name="alerts")
    app.add_typer(timemachine_app, name="timemachine")


_register_replay()


def _one_line(exc: BaseException) -> str:
    import pydantic
    import redis
    from sqlalchemy.exc import ArgumentError, OperationalError

    if isinstance(exc, pydantic.ValidationError):
        parts = [f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: "
                 f"{e['msg'].removeprefix('Value error, ')}" for e in exc.errors()]
        return "configuration error: " + "; ".join(parts)
    if isinstance(exc, redis.ConnectionError | redis.TimeoutError):
        return f"cannot reach Redis (REDIS_URL): {str(exc).splitlines()[0]}"
    if isinstance(exc, ArgumentError):
        return f"bad DATABASE_URL: {str(exc).splitlines()[0]}"
    from cockpit.supervisor import DemoError

    if isinstance(exc, DemoError | MissingSecret):
        return str(exc)
    from cockpit.alerts_config import AlertRulesError
    from cockpit.governance_config import ConfigError

    if isinstance(exc, AlertRulesError):
        return f"alert rules (COCKPIT_ALERTS_FILE): {exc}"
    if isinstance(exc, ConfigError):
        return f"governance rules (COCKPIT_GOVERNANCE_FILE): {exc}"
    if isinstance(exc, ValueError) and "Redis URL" in str(exc):
        return f"bad REDIS_URL: {exc}; or redis+sentinel:// (docs/deploy.md)"
    if isinstance(exc, ValueError) and str(exc).startswith("REDIS_URL: "):
        return f"bad {exc}"  # a redis+sentinel:// URL (cockpit.redis_sentinel)
    if isinstance(exc, OperationalError):
        return f"cannot use the database (DATABASE_URL): {str(exc.orig).splitlines()[0]}"
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.strerror or exc}: {exc.filename} (check COCKPIT_DATA_DIR and paths)"
    return ""


def main() -> None:
    """Entry point of the ``cockpit`` command: configuration problems as one line, exit 2."""
    try:
        app()
    except Exception as exc:
        message = _one_line(exc)
        if not message:
            raise
        sys.stderr.write(f"cockpit: {message}\n")
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
