"""``cockpit timemachine warm|status``: the time machine's midnight checkpoints from the shell.

``warm`` makes sure a valid checkpoint exists at each of the last days' local midnights, so a
leader's first look at any moment of those days folds at most one day of events
(docs/timemachine.md). ``--follow`` (the demo runs it; production as a unit) waits until the
ingest has caught up, warms, and warms again every quarter hour and after each midnight, at a
low CPU priority. ``status`` lists the checkpoints of the configured store.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from datetime import time as day_time
from typing import Annotated

import typer
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from cockpit.asof_checkpoint import midnight_after, midnight_before
from cockpit.asof_memory import ImageTooLarge
from cockpit.clock import utc_now
from cockpit.services import Services
from cockpit.settings import Settings
from cockpit.timemachine import TimeMachine
from cockpit.timemachine_settings import TimeMachineSettings

log = logging.getLogger(__name__)

timemachine_app = typer.Typer(help="The time machine's checkpoints (docs/timemachine.md).",
                              no_args_is_help=True)
#: After a midnight, ``--follow`` waits this long (late events of the day before) to warm.
AFTER_MIDNIGHT = timedelta(minutes=10)
#: How often ``--follow`` looks at the ingest's lag, seconds...
POLL_S = 5.0
#: ... how many looks in a row must find it caught up (a feed's history sent at start) ...
QUIET_POLLS = 3
#: ... and how often it warms again (a checkpoint made stale by history stored since it was
#: made is made again; one still valid costs a load and a count).
EVERY = timedelta(minutes=15)


def midnights(now: datetime, days: int, tz) -> list[datetime]:
    """The last ``days`` local midnights at or before ``now`` (aware), oldest first, in UTC."""
    today = now.astimezone(tz).date()
    return [midnight_before(datetime.combine(today - timedelta(days=k), day_time(12), tz), tz)
            for k in range(days - 1, -1, -1)]


def warm(services: Services, days: int, now: datetime | None = None,
         echo: Callable[[str], None] = typer.echo,
         config: TimeMachineSettings | None = None) -> dict[str, int]:
    """Make sure a valid checkpoint exists at each of the last ``days`` local midnights.

    Each midnight is loaded from its checkpoint (checked against the stored history), or moved
    on from the one before and saved, or built from the history (the first one without any);
    a line per midnight goes to ``echo``. ``config``: the time machine's settings (default: from
    the environment). Returns the machine's counts (``built``, ``loaded``, ``moved``, ``saved``).

    Raises
    ------
    ValueError
        When checkpoints are off (``COCKPIT_TM_CHECKPOINT_MB=0``) or ``days`` < 1.
    sqlalchemy.exc.SQLAlchemyError, OSError, ImageTooLarge
        When the store cannot be read, a checkpoint not saved (the folder unwritable, the disk
        full: after every midnight was tried), or a day held in memory.
    """
    if days < 1:
        raise ValueError(f"days: {days}; give 1 or more")
    machine = TimeMachine(services, config=config)
    if machine.checkpoints is None:
        raise ValueError("checkpoints are off (COCKPIT_TM_CHECKPOINT_MB=0)")
    if not _writable(machine.checkpoints.folder):  # before any build, not after
        raise OSError(f"checkpoints not saved in {machine.checkpoints.folder}: the folder "
                      "cannot be written")
    tz = services.settings.tz
    try:
        for moment in midnights(now or utc_now(), days, tz):
            before = dict(machine.counts)
            started = time.perf_counter()
            machine.acquire(moment).lock.release()
            how = [k for k in ("built", "loaded", "moved") if machine.counts[k] > before[k]]
            saved = machine.counts["saved"] - before["saved"]
            echo(f"{moment.astimezone(tz):%Y-%m-%d %H:%M %Z}: {'/'.join(how) or 'cached'}"
                 f"{', saved' if saved else ''} in {time.perf_counter() - started:.1f} s")
    finally:
        machine.clear()
    if machine.save_error is not None:
        raise OSError(f"checkpoints not saved in {machine.checkpoints.folder}: "
                      f"{machine.save_error}")
    echo(f"checkpoints: {len(machine.checkpoints.moments())} in {machine.checkpoints.folder} "
         f"({machine.checkpoints.bytes() / 2**20:.1f} MiB)")
    return machine.counts


def caught_up(services: Services, most: int) -> bool:
    """True when no incident stream's ingest group lags by more than ``most`` entries."""
    from cockpit.health import ingest_groups

    return all((group["lag"] or 0) <= most for group in ingest_groups(services).values())


def follow(services: Services, days: int, most_lag: int, stop: threading.Event) -> None:
    """Warm when the ingest keeps up, again every :data:`EVERY` and after each midnight.

    "Keeps up": :data:`QUIET_POLLS` looks in a row find no stream lagging by more than
    ``most_lag`` entries. A checkpoint made stale by history stored since it was made is made
    again at the next warm. Runs until ``stop``; store errors are logged and retried. With
    checkpoints off it only waits for ``stop`` (a part of the demo that has nothing to do).
    """
    if not TimeMachineSettings().checkpoint_mb:
        log.info("timemachine warm: checkpoints are off (COCKPIT_TM_CHECKPOINT_MB=0); idle")
        while not stop.wait(1.0):  # a timed wait: the signal handler that sets it gets to run
            pass
        return
    quiet, due = 0, utc_now()
    while not stop.is_set():
        try:
            quiet = quiet + 1 if caught_up(services, most_lag) else 0
            if quiet >= QUIET_POLLS and utc_now() >= due:
                warm(services, days, echo=log.info)
                now = utc_now()
                due = min(now + EVERY,
                          midnight_after(now, services.settings.tz) + AFTER_MIDNIGHT)
        except (SQLAlchemyError, RedisError, OSError, ImageTooLarge) as exc:
            log.warning("timemachine warm: %s: %s; trying again in a minute",
                        type(exc).__name__, str(exc).splitlines()[0][:200])
            quiet, due = 0, utc_now() + timedelta(minutes=1)
        stop.wait(POLL_S)


@timemachine_app.callback()
def _timemachine() -> None:
    """The time machine's midnight checkpoints."""


@timemachine_app.command("warm")
def warm_command(
        days: Annotated[int, typer.Option(min=1, max=366,
                                          help="Midnights to make sure of, back from today.")] = 7,
        follow_: Annotated[bool, typer.Option(
            "--follow", help="Wait for the ingest to catch up, warm, and again every quarter "
                             "hour and after each midnight, until SIGTERM / Ctrl-C (nice 10)."
        )] = False,
        most_lag: Annotated[int, typer.Option(
            min=0, help="--follow: the ingest's lag (entries) counted as caught up.")] = 100,
) -> None:
    """Make sure the last days' midnight checkpoints exist and match the stored history."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    services = Services.from_settings(Settings())
    try:
        if not follow_:
            warm(services, days)
            return
        os.nice(10)  # below the ingest and the web app
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        follow(services, days, most_lag, stop)
    except ValueError as exc:
        typer.echo(f"cockpit timemachine warm: {exc}", err=True)
        raise typer.Exit(2) from None
    except (SQLAlchemyError, RedisError, OSError, ImageTooLarge) as exc:
        typer.echo(f"cockpit timemachine warm: {type(exc).__name__}: "
                   f"{str(exc).splitlines()[0][:200]}", err=True)
        raise typer.Exit(1) from None
    finally:
        services.close()


@timemachine_app.command("status")
def status_command() -> None:
    """List the checkpoints of the configured store: moment, size, the bound."""
    from cockpit.asof_checkpoint import read_header

    services = Services.from_settings(Settings())
    try:
        machine = TimeMachine(services)
        points = machine.checkpoints
        if points is None:
            typer.echo("checkpoints are off (COCKPIT_TM_CHECKPOINT_MB=0)")
            return
        tz = services.settings.tz
        typer.echo(f"folder: {points.folder}  bound: {points.limit / 2**20:.0f} MiB  "
                   f"cache: {machine.config.cache_mb} MiB per web process")
        if not _writable(points.folder):
            typer.echo(f"warning: {points.folder} cannot be written: no checkpoint will be "
                       "saved (every past moment is then built from the history)")
        for moment in points.moments():
            path = points.path(moment)
            try:
                header = read_header(path)
            except (OSError, ValueError) as exc:
                typer.echo(f"{moment.astimezone(tz):%Y-%m-%d %H:%M}  unreadable: {exc}")
                continue
            typer.echo(f"{moment.astimezone(tz):%Y-%m-%d %H:%M}  "
                       f"{path.stat().st_size / 2**20:7.1f} MiB  "
                       f"{header['copied']:>8,} incidents copied  {header['applied']:>9,} "
                       "events folded")
        typer.echo(f"total: {points.bytes() / 2**20:.1f} MiB")
    finally:
        services.close()


def _writable(folder) -> bool:
    """True when ``folder`` (or the nearest existing folder above it) can be written."""
    path = folder
    while not path.exists() and path.parent != path:
        path = path.parent
    return path.is_dir() and os.access(path, os.W_OK | os.X_OK)
