"""Reading side of ``cockpit replay``: a recorded file's rows merged into incidents.

The CSV file is read with a real CSV reader (fields may hold line breaks) as its mapping
(cockpit/replay_mapping.py) says; rows are grouped by incident id (or ``group_by``), each
stage's time is aggregated over the incident's rows (``min``/``max``), and each incident's
position is moved by the mapping's transform. Bad rows are skipped and reported as
:class:`RowError`. cockpit/replay_plan.py turns the incidents into timed events.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cockpit.crs import CRS
from cockpit.events import MAX_TEXT
from cockpit.replay_mapping import Mapping, MappingError, TextSpec
from cockpit.vocab import Category, Priority, Stage

_MAX_ID = 48  # keeps <name>-<run>-<id>-<stage> within the contract's 128 characters


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


def error_summary(errors: Sequence[RowError], first: int = 20) -> list[str]:
    """Return printable lines for skipped rows: the first ``first`` ones, then a count."""
    lines = [str(err) for err in errors[:first]]
    if len(errors) > first:
        lines.append(f"... and {len(errors) - first} more rows skipped")
    return lines
