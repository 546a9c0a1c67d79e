"""Reading side of ``cockpit replay``: a recorded file's rows merged into incidents.

The CSV file is read with a real CSV reader (fields may hold line breaks) as its mapping
(cockpit/replay_mapping.py) says; rows are grouped by incident id (or ``group_by``), each
stage's time is aggregated over the incident's rows (``min``/``max``), and each incident's
position is moved by the mapping's transform. Bad rows are skipped and reported as
:class:`RowError`, and so are rows whose reported time lies far outside the file's own span
(:func:`cockpit.replay_plan.reported_window`); a stage time far before or after the
incident's reported time is dropped and reported as a warning (``RowError(...,
warning=True)``). cockpit/replay_plan.py turns the incidents into timed events.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

from cockpit.crs import CRS
from cockpit.events import MAX_TEXT
from cockpit.replay_mapping import Mapping, MappingError, TextSpec
from cockpit.replay_plan import reported_window
from cockpit.replay_transform import read_position
from cockpit.vocab import Category, Priority, Stage

_MAX_ID = 48  # keeps <name>-<run>-<id>-<stage> within the contract's 128 characters
#: A stage time earlier than its incident's reported time by more than this is dropped
#: (smaller negative jitter between clocks is kept as recorded).
EARLY_TOLERANCE = timedelta(hours=1)
#: A stage time later than its incident's reported time by more than this is dropped.
LATE_LIMIT = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class RowError:
    """A row that was skipped: its number as a person counts it (header = row 1) and why.

    ``line`` is the physical line the row starts on; it differs from ``row`` once a field
    holds a line break. With ``warning`` the row was kept but one of its stage times was
    dropped (it lies far before or after the incident's reported time).
    """

    row: int
    reason: str
    line: int | None = None
    warning: bool = False

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


class _Row(NamedTuple):
    """One readable row of an incident: kept until every row is read, then aggregated."""

    row: int
    line: int
    times: dict[Stage, datetime]
    unit: str | None
    cells: dict[str, str]  # the non-empty cells of the columns the mapping names
    position: tuple[float, float] | None


class _Acc:
    """Rows of one incident being merged; ``row`` is its first row in the file."""

    __slots__ = ("ident", "row", "samples")

    def __init__(self, ident: str, row: int):
        self.ident, self.row = ident, row
        self.samples: list[_Row] = []


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


def read_incidents(
    csv_path: str | Path,
    mapping: Mapping,
    *,
    early: timedelta = EARLY_TOLERANCE,
    late: timedelta = LATE_LIMIT,
) -> tuple[list[IncidentPlan], list[RowError]]:
    """Read a recorded file and merge its rows into incidents.

    Parameters
    ----------
    csv_path : str or Path
        The CSV file; fields may hold line breaks.
    mapping : Mapping
        How its columns are read (see :func:`cockpit.replay_mapping.load_mapping`).
    early, late : timedelta
        A row's stage time more than ``early`` before its incident's reported time (the
        earliest over its rows), or more than ``late`` after it, is dropped: a mistyped date
        would otherwise stretch the whole replay. Default 1 hour and 30 days.

    Returns
    -------
    tuple
        ``(incidents, errors)``: incidents ordered by their earliest remaining stage time
        (then first row); each bad row (missing id, unparseable time, bad coordinate) as a
        :class:`RowError`, skipped; each row whose reported time lies outside
        :func:`~cockpit.replay_plan.reported_window` as a ``RowError``, skipped with its
        incident unless other rows remain (``Received DtTm 2019-01-01 01:00 lies 462 days
        before the file's other calls; incident skipped``); each dropped stage time as a
        ``RowError`` with ``warning=True`` (the row is kept), e.g. ``Available DtTm
        2019-01-01 01:00 precedes Received DtTm 2020-04-07 23:50 by 462 days; resolved/closed
        dropped``. Errors are ordered by row. Stage times within the window that go
        backwards are kept as they are.

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
            _merge(acc, mapping, times, cell, position, row, start)
    errors += _drop_far_reported(groups, mapping)
    incidents = []
    for acc in groups.values():
        best, warnings = _check_times(acc, mapping, early, late)
        errors += warnings
        incidents.append(_finish(acc, mapping, best))
    incidents.sort(key=lambda inc: (inc.first_at, inc.row))
    errors.sort(key=lambda err: err.row)
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
        position = read_position(mapping.position, cell)
    except ValueError as exc:
        reasons.append(str(exc))
    if reasons:
        raise ValueError("; ".join(reasons))
    return ident, key, times, position


def _merge(acc: _Acc, mapping: Mapping, times, cell, position, row: int, line: int) -> None:
    cells = {column: cell(column) for column in mapping.columns() if cell(column)}
    acc.samples.append(_Row(row, line, times, _text(mapping.unit, cell), cells, position))


def _drop_far_reported(groups: dict[str, _Acc], mapping: Mapping) -> list[RowError]:
    """Drop the rows whose reported time lies outside :func:`reported_window`.

    An incident left without rows is dropped. Returns one ``RowError`` per dropped row,
    naming the reported column and how far the time lies from the file's other calls.
    """
    window = reported_window([s.times[Stage.REPORTED] for a in groups.values()
                              for s in a.samples])
    if window is None:
        return []
    lo, hi = window
    far = {key: [s for s in acc.samples if not lo <= s.times[Stage.REPORTED] <= hi]
           for key, acc in groups.items()}
    if not any(far.values()):
        return []
    kept = [s.times[Stage.REPORTED] for key, acc in groups.items() for s in acc.samples
            if s not in far[key]]
    first, last = min(kept), max(kept)
    column, local = mapping.stages.reported.column, mapping.tz
    errors = []
    for key, bad in far.items():
        if not bad:
            continue
        acc = groups[key]
        acc.samples = [s for s in acc.samples if s not in bad]
        fate = ("row skipped (the incident keeps its other rows)" if acc.samples
                else "incident skipped")
        for sample in bad:
            t = sample.times[Stage.REPORTED]
            where = (f"{_span(first - t)} before" if t < first
                     else f"{_span(t - last)} after")
            errors.append(RowError(sample.row, (
                f"{column} {t.astimezone(local):%Y-%m-%d %H:%M} lies {where} the file's other "
                f"calls; {fate}"), sample.line))
        if not acc.samples:
            del groups[key]
    return errors


def _span(delta: timedelta) -> str:
    seconds = int(abs(delta.total_seconds()))  # whole units, rounded down
    if seconds >= 2 * 86400:
        return f"{seconds // 86400} days"
    if seconds >= 2 * 3600:
        return f"{seconds // 3600} h"
    return f"{seconds // 60} min"


def _check_times(acc: _Acc, mapping: Mapping, early: timedelta, late: timedelta):
    """Aggregate each stage over the rows, leaving out times outside the reported window.

    Returns ``(best, warnings)``: ``best`` maps a stage to ``(time, unit)``; each dropped
    time is one warning per row and column, naming the stages it fed.
    """
    specs = dict(mapping.stages.items())
    reported = min(sample.times[Stage.REPORTED] for sample in acc.samples)
    best: dict[Stage, tuple[datetime, str | None]] = {}
    dropped: dict[tuple[int, int, str, datetime], list[Stage]] = {}
    for row, line, times, unit, _, _ in acc.samples:
        for stage, t in times.items():
            if stage is not Stage.REPORTED and not -early <= t - reported <= late:
                dropped.setdefault((row, line, specs[stage].column, t), []).append(stage)
                continue
            old = best.get(stage)
            if old is None or (t < old[0] if specs[stage].agg == "min" else t > old[0]):
                best[stage] = (t, unit)
    warnings = []
    rep = specs[Stage.REPORTED].column
    for (row, line, column, t), stages in dropped.items():
        how = "precedes" if t < reported else "follows"
        names = "/".join(s.value for s in stages)
        kept = [s for s in stages if s in best]
        fate = (f"{names} dropped" if not kept
                else f"ignored ({'/'.join(s.value for s in kept)} from the other rows)")
        local = mapping.tz
        warnings.append(RowError(row, (
            f"{column} {t.astimezone(local):%Y-%m-%d %H:%M} {how} {rep} "
            f"{reported.astimezone(local):%Y-%m-%d %H:%M} by {_span(t - reported)}; {fate}"),
            line, warning=True))
    return best, warnings


def _finish(acc: _Acc, mapping: Mapping, best) -> IncidentPlan:
    def cell(column: str) -> str:  # the first non-empty value in file order
        return next((s.cells[column] for s in acc.samples if column in s.cells), "")

    position = next((s.position for s in acc.samples if s.position is not None), None)

    times = {stage: t for stage, (t, _) in best.items()}
    units = {s: u for s, (_, u) in best.items() if u and s in (Stage.DISPATCHED, Stage.ARRIVED)}
    cancel = mapping.cancelled_if
    cancelled = cancel is not None and cell(cancel.column) in cancel.values
    if cancelled:
        end = times.get(Stage.CANCELLED) or times.get(Stage.CLOSED) or times.get(Stage.RESOLVED)
        times.pop(Stage.RESOLVED, None)
        times.pop(Stage.CLOSED, None)
        times[Stage.CANCELLED] = end or max(times.values())
    lon = lat = crs = None
    if position is not None and mapping.position is not None:
        lon, lat = position
        if mapping.transform is not None:
            lon, lat = mapping.transform.apply(lon, lat)
        crs = mapping.position.crs
    return IncidentPlan(
        source_id=acc.ident, row=acc.samples[0].row, rows=len(acc.samples), times=times,
        category=mapping.category.of(cell(mapping.category.column or "")),
        priority=mapping.priority.of(cell(mapping.priority.column or "")),
        title=_clip(_text(mapping.title, cell)), address=_clip(_text(mapping.address, cell)),
        disposition=_clip(_text(mapping.disposition, cell)), units=units,
        lon=lon, lat=lat, crs=crs, cancelled=cancelled,
    )


def error_summary(errors: Sequence[RowError], first: int = 20) -> list[str]:
    """Return printable lines for skipped rows: the first ``first`` ones, then a count.

    Pass only the errors or only the warnings; the count line says "rows skipped" or
    "stage times dropped" after the first of them.
    """
    lines = [str(err) for err in errors[:first]]
    if len(errors) > first:
        what = "stage times dropped" if errors[0].warning else "rows skipped"
        lines.append(f"... and {len(errors) - first} more {what}")
    return lines
