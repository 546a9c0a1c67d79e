"""``cockpit replay``: an upstream producer that replays a recorded calls-for-service file.

The file is read with a real CSV reader, its rows are merged into incidents and each incident's
real life cycle becomes ``incident.*`` events of the contract (cockpit/events.py), XADDed to the
incident stream at their real relative times: the arrivals of the incidents sped up ``speed``
times, the stage durations within each incident ``stage_speed`` times (default ``speed``). A
mapping file (cockpit/replay_mapping.py, ``mappings/*.yaml``) says how the columns are read and
how positions are moved onto Qiaosi. While it runs, ``{prefix}feed:replay`` holds a heartbeat
the wall uses to show that the feed is a replay, and ``{prefix}replay:<name>:progress`` how far
the run got, so ``--resume`` can continue a stopped run with the same ids. docs/replay.md
describes it all.

This module sends the events; the ``cockpit replay`` command is cockpit/replay_cli.py, reading
the file into incidents cockpit/replay_read.py, timing their events cockpit/replay_plan.py and
resuming a stopped run cockpit/replay_resume.py (re-exported here).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import redis
import typer
from tqdm import tqdm

from cockpit.replay_mapping import Mapping, MappingError, load_mapping
from cockpit.replay_plan import (
    PlannedEvent,
    StartOffsetError,
    default_run_id,
    open_at_once,
    parse_duration,
    plan_events,
)
from cockpit.replay_read import IncidentPlan, RowError, error_summary, read_incidents
from cockpit.replay_resume import ProgressRecord, next_pass, resume_plan
from cockpit.settings import Settings

__all__ = [
    "BATCH", "HEARTBEAT_EVERY_S", "HEARTBEAT_TTL_S", "STEP_S", "IncidentPlan",
    "Mapping", "MappingError", "PlannedEvent", "ReplayStats", "RowError", "StartOffsetError",
    "default_run_id", "error_summary", "load_mapping", "open_at_once", "parse_duration",
    "plan_events", "read_incidents", "register", "replay", "resume_plan",
]

log = logging.getLogger(__name__)

#: Lifetime of the heartbeat key, seconds; it is refreshed every HEARTBEAT_EVERY_S.
HEARTBEAT_TTL_S = 15
HEARTBEAT_EVERY_S = 2.0
#: Longest sleep between checks of the stop event, seconds.
STEP_S = 0.1
#: Most entries sent in one pipeline round trip.
BATCH = 500


@dataclass
class ReplayStats:
    """What a replay did: incidents and events per pass, entries sent, rows skipped.

    ``errors`` holds the skipped rows and the dropped stage times (``warning``);
    ``resumed_from`` is the event a resumed run continued from (None: a new run).
    """

    incidents: int = 0
    events: int = 0
    sent: int = 0
    rows_bad: int = 0
    runs: int = 0
    run_ids: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    stopped: bool = False
    resumed_from: int | None = None


def _heartbeat(r: redis.Redis, key: str, info: dict) -> None:
    r.set(key, json.dumps(info, ensure_ascii=False), ex=HEARTBEAT_TTL_S)


def _send(r: redis.Redis, stream: str, batch: Iterable[PlannedEvent]) -> int:
    pipe = r.pipeline(transaction=False)
    n = 0
    for event in batch:
        pipe.xadd(stream, event.fields)  # uncapped: the ingest trims (cockpit.stream_trim)
        n += 1
    pipe.execute()
    return n


def _wait(seconds: float, stop_event: threading.Event | None) -> bool:
    """Sleep up to ``seconds``; True if the stop event was set."""
    if stop_event is not None:
        return stop_event.wait(seconds)
    time.sleep(seconds)
    return False


def replay(
    settings: Settings,
    r: redis.Redis,
    csv_path: str | Path,
    mapping: Mapping | str | Path,
    speed: float,
    limit: int | None = None,
    loop: bool = False,
    stop_event: threading.Event | None = None,
    progress: bool = True,
    skip_to: float | None = None,
    run_id: str | None = None,
    resume: bool = False,
    announce: Callable[[str], None] | None = None,
    stage_speed: float | None = None,
) -> ReplayStats:
    """Replay a recorded file into the incident stream, each event when it is due.

    Parameters
    ----------
    settings : Settings
        Gives the stream (``settings.stream("incidents")``), the heartbeat key
        (``settings.key("feed:replay")``), the progress key
        (``settings.key(f"replay:{name}:progress")``) and the time zone of ``occurred_at``.
    r : redis.Redis
        A text-mode client (``cockpit.streams.connect``).
    csv_path : str or Path
        The recorded file.
    mapping : Mapping, str or Path
        The mapping, or a file path / bare name for :func:`load_mapping`.
    speed : float
        Speed-up of the arrivals, > 0 (1 = real time, 60 = an hour a minute).
    limit : int, optional
        Replay only the first ``limit`` incidents (by earliest stage time).
    loop : bool
        Start again, with a new run id, after the last event.
    stop_event : threading.Event, optional
        Set it to stop; the replay stops within :data:`STEP_S` (Ctrl-C does the same).
    progress : bool
        Show a tqdm progress bar on stderr.
    skip_to : float, optional
        Seconds of file time to skip at the start (see :func:`plan_events`).
    run_id : str, optional
        Run id of the first pass; later passes of ``loop`` get fresh ones.
    resume : bool
        If the progress record of this mapping is for the same file (the same number of
        planned events, in the same order: :func:`cockpit.replay_plan.order_ratio`), continue
        its run: same run id and ids, from its ``sent``-th event on,
        the next event due now. Otherwise start a new run as without it.
    announce : callable, optional
        Called with one line (``replay sf_fire: resumed run <id> at event <n> of <total>``)
        when the run resumes, before its first event is sent; the line is also logged.
    stage_speed : float, optional
        Speed-up within each incident, > 0 (1 keeps the real stage durations); default
        ``speed``. See :func:`plan_events`.

    Returns
    -------
    ReplayStats
        Entries sent, incidents and events per pass, skipped rows and dropped stage times
        (``errors``), run ids, the event a resumed run continued from, and whether it was
        stopped. The heartbeat key is deleted on return; the progress record is kept after a
        stop and deleted after a completed pass.

    Raises
    ------
    MappingError
        If the mapping is bad or names a column the file lacks.
    StartOffsetError
        If ``skip_to`` skips every incident (a ``ValueError``, see :func:`plan_events`).
    ValueError
        If ``speed`` or ``stage_speed`` is not positive and finite.
    redis.RedisError
        If Redis fails (the heartbeat key is still removed when possible).
    """
    if not isinstance(mapping, Mapping):
        mapping = load_mapping(mapping)
    incidents, errors = read_incidents(csv_path, mapping)
    incidents = incidents[:limit] if limit is not None else incidents
    stats = ReplayStats(incidents=len(incidents), errors=errors,
                        rows_bad=sum(not e.warning for e in errors))
    log.info("replay %s: %d incidents, %d rows skipped, %d stage times dropped", mapping.name,
             len(incidents), stats.rows_bad, len(errors) - stats.rows_bad)
    stream, key = settings.stream("incidents"), settings.key("feed:replay")
    book = ProgressRecord(r, settings.key(f"replay:{mapping.name}:progress"),
                          str(Path(csv_path).resolve()), settings.tz)
    record = book.load() if resume else None
    started_at = datetime.now(settings.tz)
    bar = tqdm(total=0, unit="ev", disable=not progress, desc=f"replay {mapping.name}")
    info: dict = {}
    try:
        while True:
            now, start = datetime.now(settings.tz), time.monotonic()
            run = run_id if stats.runs == 0 and run_id else default_run_id(now)
            if run in stats.run_ids:  # two passes within one millisecond, or --run-id + loop
                run = f"{run[:18]}.{stats.runs + 1}"
            run, plan, done = next_pass(incidents, mapping, now, speed, skip_to, run,
                                        record if stats.runs == 0 else None, stage_speed)
            stats.runs += 1
            stats.run_ids.append(run)
            stats.events = len(plan) + (done or 0)
            if done is not None:
                stats.resumed_from = done
                line = (f"replay {mapping.name}: resumed run {run} at event {done} of "
                        f"{stats.events}")
                log.info(line)
                if announce is not None:
                    announce(line)
            bar.reset(total=stats.events)
            bar.update(done or 0)
            info = {"name": mapping.name, "file": Path(csv_path).name, "speed": speed,
                    "stage_speed": speed if stage_speed is None else stage_speed,
                    "started_at": started_at.isoformat(timespec="seconds"), "run_id": run,
                    "sent": done or 0, "total": stats.events}
            if _run_pass(r, stream, key, plan, info, start, stop_event, bar, stats, book):
                stats.stopped = True
                break
            book.delete()
            if not loop or not plan:
                break
    except KeyboardInterrupt:
        stats.stopped = True
    finally:
        bar.close()
        if stats.stopped and info:
            book.save(info)
        try:
            r.delete(key)
        except redis.RedisError:
            log.warning("could not delete the heartbeat key %s; it expires in %d s", key,
                        HEARTBEAT_TTL_S)
    return stats


def _run_pass(r, stream, key, plan, info, start, stop_event, bar, stats, book) -> bool:
    """Send one pass of a plan, offsets counted from monotonic ``start``; True if stopped.

    ``info["sent"]`` counts the run's events sent (resumed ones included); the heartbeat and
    the progress record are written every :data:`HEARTBEAT_EVERY_S`.
    """
    next_beat = 0.0
    base, i = info["sent"], 0
    while i < len(plan):
        elapsed = time.monotonic() - start
        if elapsed >= next_beat:
            _heartbeat(r, key, info)
            book.save(info)
            next_beat = elapsed + HEARTBEAT_EVERY_S
        j = i
        while j < len(plan) and j - i < BATCH and plan[j].offset <= elapsed:
            j += 1
        if j > i:
            sent = _send(r, stream, plan[i:j])
            stats.sent += sent
            bar.update(sent)
            i = j
            info["sent"] = base + i
            if stop_event is not None and stop_event.is_set():
                return True
            continue
        pause = min(STEP_S, plan[i].offset - elapsed, next_beat - elapsed)
        if _wait(max(pause, 0.0), stop_event):
            return True
    return False


def register(app: typer.Typer) -> None:
    """Add the ``replay`` command to a Typer app (the ``cockpit`` CLI; :mod:`.replay_cli`)."""
    from cockpit.replay_cli import replay_command

    app.command("replay")(replay_command)
