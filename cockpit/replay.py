"""``cockpit replay``: an upstream producer that replays a recorded calls-for-service file.

The file is read with a real CSV reader, its rows are merged into incidents and each incident's
real life cycle becomes ``incident.*`` events of the contract (cockpit/events.py), XADDed to the
incident stream at their real relative times, sped up ``speed`` times. A mapping file
(cockpit/replay_mapping.py, ``mappings/*.yaml``) says how the columns are read and how positions
are moved onto Qiaosi. While it runs, ``{prefix}feed:replay`` holds a heartbeat the wall uses to
show that the feed is a replay. docs/replay.md describes it all.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import re
import signal
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, NamedTuple

import redis
import typer
from tqdm import tqdm

from cockpit.crs import CRS
from cockpit.events import MAX_TEXT
from cockpit.replay_mapping import Mapping, MappingError, TextSpec, load_mapping
from cockpit.settings import Settings
from cockpit.vocab import STAGE_RANK, Category, Priority, Stage

log = logging.getLogger(__name__)

#: Approximate cap of the incident stream (XADD MAXLEN ~).
STREAM_MAXLEN = 1_000_000
#: Lifetime of the heartbeat key, seconds; it is refreshed every HEARTBEAT_EVERY_S.
HEARTBEAT_TTL_S = 15
HEARTBEAT_EVERY_S = 2.0
#: Longest sleep between checks of the stop event, seconds.
STEP_S = 0.1
#: Most entries sent in one pipeline round trip.
BATCH = 500
_MAX_ID = 48  # keeps <name>-<run>-<id>-<stage> within the contract's 128 characters
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.]{0,23}$")
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True, slots=True)
class RowError:
    """A row that was skipped: its number as a person counts it (header = row 1) and why.

    ``line`` is the physical line the row starts on; it differs from ``row`` once a field
    holds a line break.
    """

    row: int
    reason: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"row {self.row}" + (f" (line {self.line})" if self.line != self.row else "")
        return f"{where}: {self.reason}"


@dataclass(frozen=True, slots=True)
class IncidentPlan:
    """One incident of the file, its rows merged.

    ``times`` holds each stage's time (aware, UTC) that the file gives; ``units`` the unit of
    the row that gave the dispatched / arrived time; ``lon``/``lat`` are already moved by the
    mapping's transform (degrees, datum ``crs``); ``row`` is the incident's first row.
    """

    source_id: str
    row: int
    rows: int
    times: dict[Stage, datetime]
    category: Category
    priority: Priority
    title: str | None = None
    address: str | None = None
    disposition: str | None = None
    units: dict[Stage, str] = field(default_factory=dict)
    lon: float | None = None
    lat: float | None = None
    crs: CRS | None = None
    cancelled: bool = False

    @property
    def first_at(self) -> datetime:
        """The earliest of its stage times."""
        return min(self.times.values())


class PlannedEvent(NamedTuple):
    """One event to send: seconds after the start of the run, and its stream fields."""

    offset: float
    fields: dict[str, str]


@dataclass
class ReplayStats:
    """What a replay did: incidents and events per pass, entries sent, rows skipped."""

    incidents: int = 0
    events: int = 0
    sent: int = 0
    rows_bad: int = 0
    runs: int = 0
    run_ids: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    stopped: bool = False


class _Acc:
    """Rows of one incident being merged."""

    __slots__ = ("ident", "row", "rows", "best", "cells", "position")

    def __init__(self, ident: str, row: int):
        self.ident, self.row, self.rows = ident, row, 0
        self.best: dict[Stage, tuple[datetime, str | None]] = {}
        self.cells: dict[str, str] = {}
        self.position: tuple[float, float] | None = None


def _clip(text: str | None) -> str | None:
    return text[:MAX_TEXT] if text else None


def _text(spec: TextSpec | None, cell) -> str | None:
    if spec is None:
        return None
    values = [v for v in (cell(c) for c in spec.columns) if v]
    if not values:
        return None
    if spec.join is None:
        return values[0]
    return spec.join.join(dict.fromkeys(values))


def _position(mapping: Mapping, cell) -> tuple[float, float] | None:
    """Return the file's (lon, lat) of a row, None when empty; ValueError names the column."""
    spec = mapping.position
    if spec is None:
        return None
    if spec.column:
        raw = cell(spec.column)
        if not raw:
            return None
        match = spec.regex.search(raw)
        if match is None:
            raise ValueError(f"{spec.column}: does not match the mapping's position pattern")
        texts, names = (match["lat"], match["lon"]), (spec.column, spec.column)
    else:
        texts = (cell(spec.lat_column), cell(spec.lon_column))
        names = (spec.lat_column, spec.lon_column)
        if not texts[0] and not texts[1]:
            return None
        if not texts[0] or not texts[1]:
            raise ValueError(f"{names[0]}/{names[1]}: only one of the pair is given")
    try:
        lat, lon = float(texts[0]), float(texts[1])
    except ValueError:
        raise ValueError(f"{names[0]}: latitude or longitude is not a number") from None
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise ValueError(f"{names[0]}: latitude or longitude is not finite")
    if not -90 <= lat <= 90:
        hint = "; lat and lon swapped?" if -90 <= lon <= 90 else ""
        raise ValueError(f"{names[0]}: latitude is outside [-90, 90]{hint}")
    if not -180 <= lon <= 180:
        raise ValueError(f"{names[1]}: longitude is outside [-180, 180]")
    if lat == 0 and lon == 0:
        return None  # "0, 0" is how many exports say "unknown"
    return lon, lat


def read_incidents(
    csv_path: str | Path, mapping: Mapping
) -> tuple[list[IncidentPlan], list[RowError]]:
    """Read a recorded file and merge its rows into incidents.

    Parameters
    ----------
    csv_path : str or Path
        The CSV file; fields may hold line breaks.
    mapping : Mapping
        How its columns are read (see :func:`cockpit.replay_mapping.load_mapping`).

    Returns
    -------
    tuple
        ``(incidents, errors)``: incidents ordered by their earliest stage time (then first
        row); each bad row (missing id, unparseable time, bad coordinate) as a
        :class:`RowError`, skipped. Stage times that go backwards are kept as they are.

    Raises
    ------
    MappingError
        If a column the mapping names is not in the file's header.
    OSError
        If the file cannot be opened.
    """
    nulls = set(mapping.csv.null_values)
    parsed: dict[str, datetime] = {}  # many rows of one incident repeat the same times
    groups: dict[str, _Acc] = {}
    errors: list[RowError] = []
    with open(csv_path, newline="", encoding=mapping.csv.encoding, errors="replace") as fh:
        reader = csv.DictReader(fh, delimiter=mapping.csv.delimiter,
                                quotechar=mapping.csv.quotechar)
        missing = [c for c in mapping.columns() if c not in (reader.fieldnames or [])]
        if missing:
            raise MappingError(f"{csv_path}: column(s) {missing} of mapping {mapping.name!r} "
                               f"are not in the file's header")
        row, line = 1, reader.line_num + 1
        while True:
            row += 1
            try:
                record = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                errors.append(RowError(row, f"not readable as CSV: {exc}", line))
                line = reader.line_num + 1
                continue
            start, line = line, reader.line_num + 1

            def cell(column: str, record=record) -> str:
                value = (record.get(column) or "").strip()
                return "" if value in nulls else value

            try:
                ident, key, times, position = _read_row(mapping, cell, parsed)
                if not mapping.group_by and key in groups:
                    raise ValueError(f"{mapping.id}: id {ident!r} repeats row {groups[key].row}")
            except ValueError as exc:
                errors.append(RowError(row, str(exc), start))
                continue
            acc = groups.get(key)
            if acc is None:
                acc = groups[key] = _Acc(ident, row)
            _merge(acc, mapping, times, cell, position)
    incidents = [_finish(acc, mapping) for acc in groups.values()]
    incidents.sort(key=lambda inc: (inc.first_at, inc.row))
    return incidents, errors


def _read_row(mapping: Mapping, cell, parsed: dict[str, datetime]):
    """Return ``(id, group key, stage times, position)`` of one row.

    Raises ValueError with every problem of the row, each naming its column.
    """
    reasons: list[str] = []
    ident = cell(mapping.id)
    if not ident:
        reasons.append(f"{mapping.id}: the incident id is empty")
    elif len(ident) > _MAX_ID:
        reasons.append(f"{mapping.id}: the incident id is longer than {_MAX_ID}")
    key = cell(mapping.group_by) if mapping.group_by else ident
    if mapping.group_by and not key:
        reasons.append(f"{mapping.group_by}: the group key is empty")
    times: dict[Stage, datetime] = {}
    for stage, spec in mapping.stages.items():
        text = cell(spec.column)
        if not text:
            if stage is Stage.REPORTED:
                reasons.append(f"{spec.column}: the reported time is empty")
            continue
        if text not in parsed:
            try:
                parsed[text] = mapping.parse_time(text).astimezone(UTC)
            except ValueError:
                reasons.append(f"{spec.column}: {text[:40]!r} is not a time in the format "
                               f"{mapping.time_format!r}")
                continue
        times[stage] = parsed[text]
    position = None
    try:
        position = _position(mapping, cell)
    except ValueError as exc:
        reasons.append(str(exc))
    if reasons:
        raise ValueError("; ".join(reasons))
    return ident, key, times, position


def _merge(acc: _Acc, mapping: Mapping, times, cell, position) -> None:
    acc.rows += 1
    unit = _text(mapping.unit, cell)
    for stage, spec in mapping.stages.items():
        t = times.get(stage)
        if t is None:
            continue
        best = acc.best.get(stage)
        if best is None or (t < best[0] if spec.agg == "min" else t > best[0]):
            acc.best[stage] = (t, unit)
    for column in mapping.columns():
        if column not in acc.cells and cell(column):
            acc.cells[column] = cell(column)
    if acc.position is None and position is not None:
        acc.position = position


def _finish(acc: _Acc, mapping: Mapping) -> IncidentPlan:
    def cell(column: str) -> str:
        return acc.cells.get(column, "")

    times = {stage: best[0] for stage, best in acc.best.items()}
    units = {s: u for s, (_, u) in acc.best.items() if u and s in (Stage.DISPATCHED, Stage.ARRIVED)}
    cancel = mapping.cancelled_if
    cancelled = cancel is not None and cell(cancel.column) in cancel.values
    if cancelled:
        end = times.get(Stage.CANCELLED) or times.get(Stage.CLOSED) or times.get(Stage.RESOLVED)
        times.pop(Stage.RESOLVED, None)
        times.pop(Stage.CLOSED, None)
        times[Stage.CANCELLED] = end or max(times.values())
    lon = lat = crs = None
    if acc.position is not None and mapping.position is not None:
        lon, lat = acc.position
        if mapping.transform is not None:
            lon, lat = mapping.transform.apply(lon, lat)
        crs = mapping.position.crs
    return IncidentPlan(
        source_id=acc.ident, row=acc.row, rows=acc.rows, times=times,
        category=mapping.category.of(cell(mapping.category.column or "")),
        priority=mapping.priority.of(cell(mapping.priority.column or "")),
        title=_clip(_text(mapping.title, cell)), address=_clip(_text(mapping.address, cell)),
        disposition=_clip(_text(mapping.disposition, cell)), units=units,
        lon=lon, lat=lat, crs=crs, cancelled=cancelled,
    )


def default_run_id(now: datetime) -> str:
    """Return a short run id from a start time: epoch milliseconds in base 36 (8 characters)."""
    n = int(now.timestamp() * 1000)
    out = ""
    while n:
        n, d = divmod(n, 36)
        out = _B36[d] + out
    return out or "0"


def plan_events(
    incidents: Sequence[IncidentPlan],
    mapping: Mapping,
    now: datetime,
    speed: float,
    *,
    run_id: str | None = None,
    start: float = 0.0,
) -> list[PlannedEvent]:
    """Turn incidents into the events of their life cycles, timed for a replay.

    Parameters
    ----------
    incidents : sequence of IncidentPlan
        From :func:`read_incidents`.
    mapping : Mapping
        Gives the ``source`` (``replay:<name>``) and the id prefix.
    now : datetime
        Aware start time of the run: the file's first event happens then.
    speed : float
        Speed-up, > 0: an event ``t`` seconds after the first one is due ``t / speed`` s
        after the start, and its ``occurred_at`` is ``now`` plus that.
    run_id : str, optional
        Distinguishes runs, so a second replay creates new incidents; default
        :func:`default_run_id` of ``now``. Ids are ``<name>-<run>-<source id>`` for incidents
        and ``<incident id>-<stage>`` for events.
    start : float
        Seconds of file time to skip (the file's quiet start); incidents whose first event is
        earlier are left out.

    Returns
    -------
    list of PlannedEvent
        ``(offset_s, fields)`` ordered by offset, then stage order. Every ``fields`` is a
        flat map of strings valid for :func:`cockpit.events.parse_event`; ``occurred_at`` is
        ISO-8601 with the offset of ``now``.

    Raises
    ------
    ValueError
        If ``speed`` is not positive, ``now`` is naive, or ``run_id`` is not 1-24 letters,
        digits, ``_`` or ``.``.
    """
    if not speed > 0 or not math.isfinite(speed):
        raise ValueError(f"speed must be a positive number, not {speed!r}")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    run = run_id or default_run_id(now)
    if not _RUN_ID.match(run):
        raise ValueError(f"run id {run!r}: use 1-24 letters, digits, '_' or '.'")
    if not incidents:
        return []
    t0 = min(inc.first_at for inc in incidents) + timedelta(seconds=start)
    keyed = []
    for order, inc in enumerate(incidents):
        if inc.first_at < t0:
            continue
        incident_id = f"{mapping.name}-{run}-{inc.source_id}"
        for stage, t in inc.times.items():
            offset = (t - t0).total_seconds() / speed
            fields = {
                "event_id": f"{incident_id}-{stage.value}",
                "type": f"incident.{stage.value}",
                "occurred_at": (now + timedelta(seconds=offset)).isoformat(
                    timespec="milliseconds"),
                "source": mapping.source,
                "incident_id": incident_id,
            }
            fields.update(_stage_fields(inc, stage))
            keyed.append((offset, STAGE_RANK[stage], order, PlannedEvent(offset, fields)))
    keyed.sort(key=lambda k: k[:3])
    return [k[3] for k in keyed]


def _stage_fields(inc: IncidentPlan, stage: Stage) -> dict[str, str]:
    extra: dict[str, str | None] = {}
    if stage is Stage.REPORTED:
        extra = {"category": inc.category.value, "priority": inc.priority.value,
                 "title": inc.title, "address": inc.address}
        if inc.lon is not None and inc.lat is not None and inc.crs is not None:
            extra.update(lon=f"{inc.lon:.6f}", lat=f"{inc.lat:.6f}", crs=inc.crs.value)
    elif stage in (Stage.DISPATCHED, Stage.ARRIVED):
        extra = {"unit": inc.units.get(stage)}
    elif stage in (Stage.RESOLVED, Stage.CLOSED):
        extra = {"disposition": inc.disposition}
    elif stage is Stage.CANCELLED:
        extra = {"reason": inc.disposition}
    return {k: v for k, v in extra.items() if v}


def error_summary(errors: Sequence[RowError], first: int = 20) -> list[str]:
    """Return printable lines for skipped rows: the first ``first`` ones, then a count."""
    lines = [str(err) for err in errors[:first]]
    if len(errors) > first:
        lines.append(f"... and {len(errors) - first} more rows skipped")
    return lines


def _heartbeat(r: redis.Redis, key: str, info: dict) -> None:
    r.set(key, json.dumps(info, ensure_ascii=False), ex=HEARTBEAT_TTL_S)


def _send(r: redis.Redis, stream: str, batch: Iterable[PlannedEvent]) -> int:
    pipe = r.pipeline(transaction=False)
    n = 0
    for event in batch:
        pipe.xadd(stream, event.fields, maxlen=STREAM_MAXLEN, approximate=True)
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
) -> ReplayStats:
    """Replay a recorded file into the incident stream, each event when it is due.

    Parameters
    ----------
    settings : Settings
        Gives the stream (``settings.stream("incidents")``), the heartbeat key
        (``settings.key("feed:replay")``) and the time zone of ``occurred_at``.
    r : redis.Redis
        A text-mode client (``cockpit.streams.connect``).
    csv_path : str or Path
        The recorded file.
    mapping : Mapping, str or Path
        The mapping, or a file path / bare name for :func:`load_mapping`.
    speed : float
        Speed-up, > 0 (1 = real time, 60 = an hour a minute).
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

    Returns
    -------
    ReplayStats
        Entries sent, incidents and events per pass, skipped rows (``errors``), run ids, and
        whether it was stopped. The heartbeat key is deleted on return.

    Raises
    ------
    MappingError
        If the mapping is bad or names a column the file lacks.
    redis.RedisError
        If Redis fails (the heartbeat key is still removed when possible).
    """
    if not isinstance(mapping, Mapping):
        mapping = load_mapping(mapping)
    incidents, errors = read_incidents(csv_path, mapping)
    incidents = incidents[:limit] if limit is not None else incidents
    stats = ReplayStats(incidents=len(incidents), rows_bad=len(errors), errors=errors)
    log.info("replay %s: %d incidents, %d rows skipped", mapping.name, len(incidents),
             len(errors))
    stream, key = settings.stream("incidents"), settings.key("feed:replay")
    started_at = datetime.now(settings.tz)
    bar = tqdm(total=0, unit="ev", disable=not progress, desc=f"replay {mapping.name}")
    try:
        while True:
            now, start = datetime.now(settings.tz), time.monotonic()
            run = run_id if stats.runs == 0 and run_id else default_run_id(now)
            if run in stats.run_ids:  # two passes within one millisecond, or --run-id + loop
                run = f"{run[:18]}.{stats.runs + 1}"
            plan = plan_events(incidents, mapping, now, speed, run_id=run, start=skip_to or 0)
            stats.runs += 1
            stats.run_ids.append(run)
            stats.events = len(plan)
            bar.reset(total=len(plan))
            info = {"name": mapping.name, "file": Path(csv_path).name, "speed": speed,
                    "started_at": started_at.isoformat(timespec="seconds"), "run_id": run,
                    "sent": 0, "total": len(plan)}
            if _run_pass(r, stream, key, plan, info, start, stop_event, bar, stats):
                stats.stopped = True
                break
            if not loop or not plan:
                break
    except KeyboardInterrupt:
        stats.stopped = True
    finally:
        bar.close()
        try:
            r.delete(key)
        except redis.RedisError:
            log.warning("could not delete the heartbeat key %s; it expires in %d s", key,
                        HEARTBEAT_TTL_S)
    return stats


def _run_pass(r, stream, key, plan, info, start, stop_event, bar, stats) -> bool:
    """Send one pass of a plan, offsets counted from monotonic ``start``; True if stopped."""
    next_beat = 0.0
    i = 0
    while i < len(plan):
        elapsed = time.monotonic() - start
        if elapsed >= next_beat:
            info["sent"] = i
            _heartbeat(r, key, info)
            next_beat = elapsed + HEARTBEAT_EVERY_S
        j = i
        while j < len(plan) and j - i < BATCH and plan[j].offset <= elapsed:
            j += 1
        if j > i:
            sent = _send(r, stream, plan[i:j])
            stats.sent += sent
            bar.update(sent)
            i = j
            if stop_event is not None and stop_event.is_set():
                return True
            continue
        pause = min(STEP_S, plan[i].offset - elapsed, next_beat - elapsed)
        if _wait(max(pause, 0.0), stop_event):
            return True
    return False


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")


def parse_duration(text: str) -> float:
    """Return seconds for ``300``, ``300s``, ``90m``, ``2h`` or ``1d``.

    Raises
    ------
    ValueError
        If the text is none of these forms.
    """
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a duration such as 300s, 90m, 2h or 1d")
    factor = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match[2]]
    return float(match[1]) * factor


def register(app: typer.Typer) -> None:
    """Add the ``replay`` command to a Typer app (the ``cockpit`` CLI)."""
    app.command("replay")(replay_command)


_FileArg = Annotated[Path, typer.Argument(
    help="Recorded calls-for-service CSV.", exists=True, dir_okay=False, readable=True)]
_MappingOpt = Annotated[str, typer.Option(
    "--mapping", "-m", help="Mapping YAML file, or a name in mappings/ (sf_fire_calls).")]
_SpeedOpt = Annotated[float, typer.Option(min=0.001, help="Speed-up; 60 = an hour a minute.")]
_LimitOpt = Annotated[int | None, typer.Option(min=1, help="Only the first N incidents.")]
_LoopOpt = Annotated[bool, typer.Option("--loop", help="Start again (new run id) when done.")]
_RunOpt = Annotated[str | None, typer.Option(help="Run id; default from the start time.")]
_SkipOpt = Annotated[str | None, typer.Option(help="Skip the file's first 300s / 90m / 2h.")]
_DryOpt = Annotated[bool, typer.Option("--dry-run", help="Read and plan; send nothing.")]
_QuietOpt = Annotated[bool, typer.Option("--no-progress", help="No progress bar.")]


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
) -> None:
    """Replay a recorded calls-for-service file into the incident stream."""
    from cockpit.streams import connect

    try:
        spec = load_mapping(mapping)
        skip = parse_duration(start_offset) if start_offset else None
        if run_id is not None and not _RUN_ID.match(run_id):
            raise ValueError(f"--run-id {run_id!r}: use 1-24 letters, digits, '_' or '.'")
    except (MappingError, ValueError) as exc:
        raise typer.BadParameter(str(exc)) from None
    settings = Settings()
    if dry_run:
        _dry_run(settings, file, spec, speed, limit, run_id, skip)
        return
    stop = threading.Event()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    r, embedded = connect(settings)
    try:
        for sig in previous:
            signal.signal(sig, lambda *_: stop.set())
        stats = replay(settings, r, file, spec, speed, limit=limit, loop=loop, stop_event=stop,
                       progress=not no_progress, skip_to=skip, run_id=run_id)
    except (MappingError, ValueError) as exc:
        raise typer.BadParameter(str(exc)) from None
    except redis.RedisError as exc:
        typer.echo(f"replay: Redis failed: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        r.close()
        if embedded is not None:
            embedded.close()
    _report(stats.errors)
    state = "stopped" if stats.stopped else "done"
    typer.echo(f"replay {spec.name} {state}: {stats.sent} events sent to "
               f"{settings.stream('incidents')} in {stats.runs} run(s) "
               f"({', '.join(stats.run_ids)}); {stats.incidents} incidents, "
               f"{stats.rows_bad} rows skipped")


def _report(errors: Sequence[RowError]) -> None:
    if errors:
        typer.echo(f"{len(errors)} rows skipped:", err=True)
        for line in error_summary(errors):
            typer.echo(f"  {line}", err=True)


def _dry_run(settings, file, spec, speed, limit, run_id, skip) -> None:
    try:
        incidents, errors = read_incidents(file, spec)
    except MappingError as exc:
        raise typer.BadParameter(str(exc)) from None
    incidents = incidents[:limit] if limit is not None else incidents
    plan = plan_events(incidents, spec, datetime.now(settings.tz), speed, run_id=run_id,
                       start=skip or 0)
    _report(errors)
    span = plan[-1].offset if plan else 0.0
    placed = [i for i in incidents if i.lon is not None]
    typer.echo(f"{spec.name}: {len(incidents)} incidents, {len(plan)} events, "
               f"{len(errors)} rows skipped; {len(placed)} with a position; "
               f"replay lasts {span / 60:.1f} min at x{speed:g}")
    if placed:
        lons, lats = [i.lon for i in placed], [i.lat for i in placed]
        typer.echo(f"positions: lon {min(lons):.4f}..{max(lons):.4f}, "
                   f"lat {min(lats):.4f}..{max(lats):.4f}")
