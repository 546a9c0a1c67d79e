"""Planning side of ``cockpit replay``: incidents turned into timed ``incident.*`` events.

It also keeps the progress record that lets a stopped run resume where it stopped, and
decides which reported times belong to a file at all (:func:`reported_window`).

Each incident of :func:`cockpit.replay_read.read_incidents` becomes one event per stage time,
with the fields of the contract (cockpit/events.py), an offset from the start of the run (its
real relative time divided by the speed-up) and ids that differ between runs but are the same
for the same run id, so a resumed run (:func:`resume_plan`) re-creates the ids of the original.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, NamedTuple

import redis

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


log = logging.getLogger(__name__)


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
        Speed-up, > 0: an event ``t`` seconds after the first one is due ``t / speed`` s
        after the start, and its ``occurred_at`` is ``now`` plus that.
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
        ``(offset_s, fields)`` ordered by offset, then stage order. Every ``fields`` is a
        flat map of strings valid for :func:`cockpit.events.parse_event`; ``occurred_at`` is
        ISO-8601 with the offset of ``now``.

    Raises
    ------
    ValueError
        If ``speed`` is not positive and finite, ``now`` is naive, or ``run_id`` is not 1-24
        letters, digits, ``_`` or ``.``; :class:`StartOffsetError` (a ``ValueError``) if
        ``start`` is later than the last incident's first event.
    """
    if not speed > 0 or not math.isfinite(speed):
        raise ValueError(f"speed must be a positive number, not {speed!r}")
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
            # ordered by file time, not offset: the order is the same at every speed
            keyed.append((t, STAGE_RANK[stage], order, PlannedEvent(offset, fields)))
    keyed.sort(key=lambda k: k[:3])
    return [k[3] for k in keyed]


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


def resume_plan(plan: Sequence[PlannedEvent], sent: int, now: datetime) -> list[PlannedEvent]:
    """Return the events of a plan from index ``sent`` on, re-timed so the first is due now.

    Parameters
    ----------
    plan : sequence of PlannedEvent
        The plan of the interrupted run, re-made with its run id (same ids, same order).
    sent : int
        How many of its events were already sent.
    now : datetime
        Aware time the resumed run starts.

    Returns
    -------
    list of PlannedEvent
        ``plan[sent:]`` with offsets shifted so the first is 0 (the gaps between them are
        kept) and ``occurred_at`` = ``now`` + the new offset; empty if ``sent >= len(plan)``.

    Raises
    ------
    ValueError
        If ``sent`` is negative or ``now`` is naive.
    """
    if sent < 0:
        raise ValueError(f"sent must be >= 0, not {sent}")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    rest = list(plan[sent:])
    if not rest:
        return []
    shift = rest[0].offset
    out = []
    for event in rest:
        offset = event.offset - shift
        at = (now + timedelta(seconds=offset)).isoformat(timespec="milliseconds")
        out.append(PlannedEvent(offset, {**event.fields, "occurred_at": at}))
    return out


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


class ProgressRecord:
    """The progress record of one mapping's replay in Redis.

    Parameters
    ----------
    r : redis.Redis
        A text-mode client.
    key : str
        ``settings.key(f"replay:{mapping.name}:progress")``.
    file : str
        The resolved path of the replayed file; a record of another file is not resumed.
    tz : tzinfo
        Zone of ``updated_at``.

    The record is JSON ``{run_id, file, sent, total, updated_at}``: ``sent`` planned events of
    run ``run_id`` (of ``total``) are in the stream.
    """

    def __init__(self, r: redis.Redis, key: str, file: str, tz: tzinfo):
        self.r, self.key, self.file, self.tz = r, key, file, tz

    def load(self) -> dict | None:
        """The record if it is for this file and readable, else None."""
        try:
            record = json.loads(self.r.get(self.key) or "null")
            ok = (isinstance(record, dict) and record.get("file") == self.file
                  and isinstance(record.get("sent"), int)
                  and RUN_ID_RE.match(str(record.get("run_id"))))
        except (ValueError, TypeError):
            ok = False
        if not ok:
            log.info("replay: no progress record of %s in %s; starting a new run", self.file,
                     self.key)
            return None
        return record

    def save(self, info: dict) -> None:
        """Write ``run_id``, ``file``, ``sent``, ``total`` and ``updated_at`` (best effort)."""
        record = {"run_id": info["run_id"], "file": self.file, "sent": info["sent"],
                  "total": info["total"],
                  "updated_at": datetime.now(self.tz).isoformat(timespec="seconds")}
        try:
            self.r.set(self.key, json.dumps(record, ensure_ascii=False))
        except redis.RedisError as exc:
            log.warning("could not write the progress record %s: %s", self.key, exc)

    def delete(self) -> None:
        """Remove the record: the pass is complete."""
        self.r.delete(self.key)


def record_resume_point(
    record: dict | None, plan: Sequence[PlannedEvent], name: str
) -> int | None:
    """Return how many events of ``plan`` a progress record says were sent (None: a new run).

    Parameters
    ----------
    record : dict or None
        From :meth:`ProgressRecord.load`.
    plan : sequence of PlannedEvent
        The plan re-made with the record's run id.
    name : str
        Mapping name, for the log.

    Returns
    -------
    int or None
        ``record["sent"]``; None when there is no record, its ``total`` differs from the
        plan's length (another limit, start offset or file content) or the run was complete:
        then a new run starts.
    """
    if record is None:
        return None
    sent, total = record["sent"], record.get("total")
    if total != len(plan) or not 0 <= sent < len(plan):
        log.warning("replay %s: progress record of run %s (%s of %s events sent) does not fit "
                    "a plan of %d events; starting a new run", name, record["run_id"], sent,
                    total, len(plan))
        return None
    return sent


def next_pass(
    incidents: Sequence[IncidentPlan],
    mapping: Mapping,
    now: datetime,
    speed: float,
    start: float | None,
    run: str,
    record: dict | None,
) -> tuple[str, list[PlannedEvent], int | None]:
    """Return ``(run id, events to send, events already sent)`` of a replay's next pass.

    With a progress record that fits (:func:`record_resume_point`), that is the record's run
    from its ``sent``-th event on, re-timed to start ``now`` (:func:`resume_plan`); otherwise
    all of run ``run`` (:func:`plan_events`, ``start`` seconds skipped) and None events sent.
    """
    if record is not None:
        plan = plan_events(incidents, mapping, now, speed, run_id=record["run_id"],
                           start=start or 0)
        done = record_resume_point(record, plan, mapping.name)
        if done is not None:
            return record["run_id"], resume_plan(plan, done, now), done
    return run, plan_events(incidents, mapping, now, speed, run_id=run, start=start or 0), None
