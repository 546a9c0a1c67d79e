"""The ``cockpit replay`` command: options, the run under signal handlers, its report.

A thin command line over :func:`cockpit.replay.replay` (docs/replay.md): a bad option or
mapping is a usage error (exit 2, one line), an unreachable Redis or unreadable file exits 1;
``--dry-run`` reads and plans the file and says what a replay would send.
"""

from __future__ import annotations

import math
import signal
import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated

import redis
import typer

from cockpit.replay import replay
from cockpit.replay_mapping import MappingError, load_mapping
from cockpit.replay_plan import (
    RUN_ID_RE,
    StartOffsetError,
    duration_text,
    open_at_once,
    parse_duration,
    plan_events,
)
from cockpit.replay_read import RowError, error_summary, read_incidents
from cockpit.settings import Settings

_FileArg = Annotated[Path, typer.Argument(
    help="Recorded calls-for-service CSV.", exists=True, dir_okay=False, readable=True)]
_MappingOpt = Annotated[str, typer.Option(
    "--mapping", "-m", help="Mapping YAML file, or a name in mappings/ (sf_fire_calls).")]
_SpeedOpt = Annotated[float, typer.Option(
    min=0.001, help="Speed-up of the arrivals; 60 = an hour a minute.")]
_StageSpeedOpt = Annotated[float | None, typer.Option(
    help="speed within each incident; 1 keeps real stage durations")]
_LimitOpt = Annotated[int | None, typer.Option(min=1, help="Only the first N incidents.")]
_LoopOpt = Annotated[bool, typer.Option("--loop", help="Start again (new run id) when done.")]
_RunOpt = Annotated[str | None, typer.Option(help="Run id; default from the start time.")]
_SkipOpt = Annotated[str | None, typer.Option(help="Skip the file's first 300s / 90m / 2h.")]
_DryOpt = Annotated[bool, typer.Option("--dry-run", help="Read and plan; send nothing.")]
_QuietOpt = Annotated[bool, typer.Option("--no-progress", help="No progress bar.")]
_ResumeOpt = Annotated[bool, typer.Option(
    "--resume", help="Continue the stopped run of this mapping and file, if any.")]


def replay_command(
    file: _FileArg,
    mapping: _MappingOpt,
    speed: _SpeedOpt = 1.0,
    limit: _LimitOpt = None,
    loop: _LoopOpt = False,
    run_id: _RunOpt = None,
    start_offset: _SkipOpt = None,
    dry_run: _DryOpt = False,
    no_progress: _QuietOpt = False,
    resume: _ResumeOpt = False,
    stage_speed: _StageSpeedOpt = None,
) -> None:
    """Replay a recorded calls-for-service file into the incident stream."""
    try:
        if not math.isfinite(speed):  # inf and nan pass typer's min=
            raise ValueError(f"--speed {speed}: use a finite number such as 60")
        if stage_speed is not None and not (stage_speed > 0 and math.isfinite(stage_speed)):
            raise ValueError(f"--stage-speed {stage_speed}: use a finite number > 0 such as 1")
        spec = load_mapping(mapping)
        skip = parse_duration(start_offset) if start_offset else None
        if run_id is not None and not RUN_ID_RE.match(run_id):
            raise ValueError(f"--run-id {run_id!r}: use 1-24 letters, digits, '_' or '.'")
    except (MappingError, ValueError) as exc:
        raise typer.BadParameter(str(exc)) from None
    settings = Settings()
    try:
        if dry_run:
            _dry_run(settings, file, spec, (speed, stage_speed), limit, run_id, skip)
            return
        stats = _run(settings, file, spec, (speed, stage_speed), limit, loop, run_id, skip,
                     no_progress, resume)
    except StartOffsetError as exc:  # before ValueError: it is one
        raise typer.BadParameter(f"--start-offset {start_offset} skips the whole file "
                                  f"(it spans {duration_text(exc.span)})") from None
    except (MappingError, ValueError) as exc:
        raise typer.BadParameter(str(exc)) from None
    _report(stats.errors)
    state = "stopped" if stats.stopped else "done"
    resumed = "" if stats.resumed_from is None else (
        f"; resumed run {stats.run_ids[0]} at event {stats.resumed_from}")
    typer.echo(f"replay {spec.name} {state}: {stats.sent} events sent to "
               f"{settings.stream('incidents')} in {stats.runs} run(s) "
               f"({', '.join(stats.run_ids)}){resumed}; {stats.incidents} incidents, "
               f"{stats.rows_bad} rows skipped")


def _fail(message: str) -> None:
    """Print one line on stderr and exit 1: the configuration or Redis failed, not the usage."""
    typer.echo(f"replay: {message}", err=True)
    raise typer.Exit(1)


def _run(settings, file, spec, speeds, limit, loop, run_id, skip, no_progress, resume):
    """Connect, check Redis answers, replay with signal handlers; return the stats.

    ``speeds`` is ``(speed, stage_speed)``.
    """
    from cockpit.streams import connect

    r = embedded = None
    stop = threading.Event()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        try:
            r, embedded = connect(settings)
            r.ping()
        except Exception as exc:  # noqa: BLE001 - bad REDIS_URL, server down or not startable
            _fail(f"cannot reach Redis (REDIS_URL): {(str(exc) or repr(exc)).splitlines()[0]}")
        for sig in previous:
            signal.signal(sig, lambda *_: stop.set())
        return replay(settings, r, file, spec, speeds[0], limit=limit, loop=loop,
                      stop_event=stop, progress=not no_progress, skip_to=skip, run_id=run_id,
                      resume=resume, announce=lambda line: typer.echo(line, err=True),
                      stage_speed=speeds[1])
    except redis.RedisError as exc:
        _fail(f"Redis failed: {exc}")
    except OSError as exc:
        _fail(f"cannot read {file}: {exc.strerror or exc}")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if r is not None:
            r.close()
        if embedded is not None:
            embedded.close()


def _report(errors: Sequence[RowError]) -> None:
    for warning, what in ((False, "rows skipped"), (True, "stage times dropped")):
        chosen = [e for e in errors if e.warning is warning]
        if chosen:
            typer.echo(f"{len(chosen)} {what}:", err=True)
            for line in error_summary(chosen):
                typer.echo(f"  {line}", err=True)


def _dry_run(settings, file, spec, speeds, limit, run_id, skip) -> None:
    speed, stage_speed = speeds
    incidents, errors = read_incidents(file, spec)  # MappingError: the caller's usage error
    incidents = incidents[:limit] if limit is not None else incidents
    plan = plan_events(incidents, spec, datetime.now(settings.tz), speed,
                       stage_speed=stage_speed, run_id=run_id, start=skip or 0)
    _report(errors)
    span = plan[-1].offset if plan else 0.0
    placed = [i for i in incidents if i.lon is not None]
    dropped = sum(e.warning for e in errors)
    mean, peak = open_at_once(plan)
    stages = speed if stage_speed is None else stage_speed
    typer.echo(f"{spec.name}: {len(incidents)} incidents, {len(plan)} events, "
               f"{len(errors) - dropped} rows skipped, {dropped} stage times dropped; "
               f"{len(placed)} with a position; "
               f"replay lasts {span / 60:.1f} min at x{speed:g} (stage times x{stages:g}); "
               f"{mean:.0f} incidents open at once on average, {peak} at most")
    if placed:
        lons, lats = [i.lon for i in placed], [i.lat for i in placed]
        typer.echo(f"positions: lon {min(lons):.4f}..{max(lons):.4f}, "
                   f"lat {min(lats):.4f}..{max(lats):.4f}")
