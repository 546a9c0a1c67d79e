"""Planning side of ``cockpit replay``: incidents turned into timed ``incident.*`` events.

Each incident of :func:`cockpit.replay_read.read_incidents` becomes one event per stage time,
with the fields of the contract (cockpit/events.py), an offset from the start of the run (its
real relative time divided by the speed-up) and ids that differ between runs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import NamedTuple

from cockpit.replay_mapping import Mapping
from cockpit.replay_read import IncidentPlan
from cockpit.vocab import STAGE_RANK, Stage

#: A valid run id: 1-24 letters, digits, ``_`` or ``.``, not starting with ``_`` or ``.``.
RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.]{0,23}$")
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


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
    if not RUN_ID_RE.match(run):
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
