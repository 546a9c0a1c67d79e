"""Planning side of ``cockpit replay``: incidents turned into timed ``incident.*`` events.

It also decides which reported times belong to a file at all (:func:`reported_window`);
the progress record that lets a stopped run resume is cockpit/replay_resume.py.

Each incident of :func:`cockpit.replay_read.read_incidents` becomes one event per stage time,
with the fields of the contract (cockpit/events.py), an offset from the start of the run and
ids that differ between runs but are the same for the same run id, so a resumed run
(:func:`cockpit.replay_resume.resume_plan`) re-creates the ids of the original. Two speed-ups
set the offsets: one for the arrival of the incidents, one for the time within each incident
(its stage durations).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from fractions import Fraction
from typing import TYPE_CHECKING, NamedTuple

from cockpit.replay_mapping import Mapping
from cockpit.vocab import STAGE_RANK, Stage

if TYPE_CHECKING:  # replay_read imports this module
    from cockpit.replay_read import IncidentPlan

#: A valid run id: 1-24 letters, digits, ``_`` or ``.``, not starting with ``_`` or ``.``.
RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.]{0,23}$")
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
#: Share of the rows trimmed at each end of the sorted reported times to find the file's
#: span (at least one row each end), see :func:`reported_window`.
REPORTED_TRIM = 0.001
#: A reported time more than this, or more than REPORTED_SHARE of the span, outside the
#: span is a typing error.
REPORTED_MARGIN = timedelta(days=1)
REPORTED_SHARE = 0.25
#: Files of fewer rows are too small to tell their span: no reported time is checked.
REPORTED_MIN_ROWS = 10


class StartOffsetError(ValueError):
    """The start offset skips every incident; ``start`` and the file's ``span`` in seconds.

    ``span`` runs from the first to the last incident's earliest stage time.
    """

    def __init__(self, start: float, span: float):
        self.start, self.span = start, span
        super().__init__(f"a start offset of {duration_text(start)} skips the whole file "
                         f"(it spans {duration_text(span)})")


def duration_text(seconds: float) -> str:
    """Return ``13.9 days``, ``4.1 h`` or ``35.0 min``: one decimal, rounded down."""
    unit, size = next(((u, n) for u, n in (("days", 86400), ("h", 3600)) if seconds >= 2 * n),
                      ("min", 60))
    return f"{math.floor(seconds / size * 10) / 10:.1f} {unit}"


class PlannedEvent(NamedTuple):
    """One event to send: seconds after the start of the run, and its stream fields."""

    offset: float
    fields: dict[str, str]


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
    stage_speed: float | None = None,
    run_id: str | None = None,
    start: float = 0.0,
) -> list[PlannedEvent]:
    """Turn incidents into the events of their life cycles, timed for a replay.

    Parameters
    ----------
    incidents : sequence of IncidentPlan
        From :func:`cockpit.replay_read.read_incidents`.
    mapping : Mapping
        Gives the ``source`` (``replay:<name>``) and the id prefix.
    now : datetime
        Aware start time of the run: the file's first event happens then.
    speed : float
        Speed-up of the arrivals, > 0: an incident whose first (earliest) stage time is
        ``a`` seconds after the file's first is due ``a / speed`` s after the start.
    stage_speed : float, optional
        Speed-up within each incident, > 0: a stage time ``b`` seconds after its incident's
        first is due ``b / stage_speed`` s after that incident's first event (1 keeps the
        real stage durations). Default ``speed``: every time of the file divided alike.
        ``occurred_at`` is ``now`` plus the offset.
    run_id : str, optional
        Distinguishes runs, so a second replay creates new incidents; default
        :func:`default_run_id` of ``now``. Ids are ``<name>-<run>-<source id>`` for incidents
        and ``<incident id>-<stage>`` for events.
    start : float
        Seconds of file time to skip (the file's quiet start); incidents whose first event is
        earlier are left out. It must leave at least one incident.

    Returns
    -------
    list of PlannedEvent
        ``(offset_s, fields)`` ordered by offset (computed exactly, so the order is the same
        on every machine), then stage order, then incident order. The order depends on the
        ratio ``speed / stage_speed`` only (:func:`order_ratio`); without ``stage_speed`` it
        is the order of the file times at any speed. Every ``fields`` is a flat map of strings
        valid for :func:`cockpit.events.parse_event`; ``occurred_at`` is ISO-8601 with the
        offset of ``now``.

    Raises
    ------
    ValueError
        If ``speed`` or ``stage_speed`` is not positive and finite, ``now`` is naive, or
        ``run_id`` is not 1-24 letters, digits, ``_`` or ``.``; :class:`StartOffsetError` (a
        ``ValueError``) if ``start`` is later than the last incident's first event.
    """
    arrive, within = _speed(speed, "speed"), _speed(
        speed if stage_speed is None else stage_speed, "stage_speed")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    run = run_id or default_run_id(now)
    if not RUN_ID_RE.match(run):
        raise ValueError(f"run id {run!r}: use 1-24 letters, digits, '_' or '.'")
    if not incidents:
        return []
    first = min(inc.first_at for inc in incidents)
    span = (max(inc.first_at for inc in incidents) - first).total_seconds()
    if start > span:
        raise StartOffsetError(start, span)
    t0 = first + timedelta(seconds=start)
    # offset = a / speed + b / stage_speed = (a * qa * pw + b * qw * pa) / (pa * pw) µs with
    # speed = pa / qa and stage_speed = pw / qw exactly: integers sort exactly (no float
    # ties that flip with the platform) and int / int rounds correctly
    (pa, qa), (pw, qw) = arrive.as_integer_ratio(), within.as_integer_ratio()
    unit = timedelta(microseconds=1)
    denominator = pa * pw * 1_000_000
    keyed = []
    for order, inc in enumerate(incidents):
        first_at = inc.first_at
        if first_at < t0:
            continue
        due = (first_at - t0) // unit * qa * pw
        incident_id = f"{mapping.name}-{run}-{inc.source_id}"
        for stage, t in inc.times.items():
            exact = due + (t - first_at) // unit * qw * pa
            offset = exact / denominator
            fields = {
                "event_id": f"{incident_id}-{stage.value}",
                "type": f"incident.{stage.value}",
                "occurred_at": (now + timedelta(seconds=offset)).isoformat(
                    timespec="milliseconds"),
                "source": mapping.source,
                "incident_id": incident_id,
            }
            fields.update(_stage_fields(inc, stage))
            keyed.append((exact, STAGE_RANK[stage], order, PlannedEvent(offset, fields)))
    keyed.sort(key=lambda k: k[:3])
    return [k[3] for k in keyed]


def order_ratio(speed: float, stage_speed: float | None = None) -> Fraction:
    """Return ``speed / stage_speed`` exactly: what the order of a plan depends on.

    Two plans of the same incidents and run id whose ratios are equal (1 without
    ``stage_speed``, at any ``speed``) list their events in the same order, so a progress
    record of one can resume the other.

    Raises
    ------
    ValueError
        If a speed is not positive and finite.
    """
    if stage_speed is None:
        return Fraction(1)
    return _speed(speed, "speed") / _speed(stage_speed, "stage_speed")


def _speed(value: float, name: str) -> Fraction:
    if not value > 0 or not math.isfinite(value):
        raise ValueError(f"{name} must be a positive number, not {value!r}")
    return Fraction(value)


def open_at_once(plan: Sequence[PlannedEvent]) -> tuple[float, int]:
    """Return how many incidents a plan keeps open at once: on average, and at most.

    An incident is open from its first event to its ``incident.closed`` or
    ``incident.cancelled`` event (to the plan's last event if it has neither), the average is
    taken over the plan's duration (its last offset; 0 for a plan without duration).

    Parameters
    ----------
    plan : sequence of PlannedEvent
        From :func:`plan_events`.

    Returns
    -------
    tuple of (float, int)
        ``(mean, peak)`` numbers of open incidents.
    """
    if not plan:
        return 0.0, 0
    end = max(event.offset for event in plan)
    opened: dict[str, float] = {}
    closed: dict[str, float] = {}
    for event in plan:
        incident = event.fields["incident_id"]
        opened[incident] = min(opened.get(incident, event.offset), event.offset)
        if event.fields["type"] in ("incident.closed", "incident.cancelled"):
            closed[incident] = max(closed.get(incident, event.offset), event.offset)
    spans = [(at, closed.get(incident, end)) for incident, at in opened.items()]
    mean = sum(b - a for a, b in spans) / end if end > 0 else 0.0
    # a close and an open at the same offset: the close first (-1 sorts before +1)
    steps = sorted(step for a, b in spans if b > a for step in ((a, 1), (b, -1)))
    peak = level = 0
    for _, step in steps:
        level += step
        peak = max(peak, level)
    return mean, peak


def reported_window(times: Sequence[datetime]) -> tuple[datetime, datetime] | None:
    """Return the range of reported times that belong to the file, None if it is too small.

    With ``n`` times sorted and ``k = max(1, ceil(REPORTED_TRIM * n))``, the file's span is
    ``[t[k], t[n-1-k]]`` (its 0.1 % and 99.9 % quantiles, but never the single earliest and
    latest time, so one stray time cannot define the span of a small file). The window is the
    span widened at each end by the larger of REPORTED_MARGIN (1 day) and REPORTED_SHARE of
    the span (a quarter), which keeps the edges of sparse files.

    Parameters
    ----------
    times : sequence of datetime
        The reported time of every readable row.

    Returns
    -------
    tuple of datetime or None
        ``(earliest, latest)`` allowed; None for fewer than REPORTED_MIN_ROWS times.
    """
    n = len(times)
    if n < REPORTED_MIN_ROWS:
        return None
    ordered = sorted(times)
    k = max(1, math.ceil(REPORTED_TRIM * n))
    first, last = ordered[k], ordered[n - 1 - k]
    margin = max(REPORTED_MARGIN, (last - first) * REPORTED_SHARE)
    return first - margin, last + margin


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
