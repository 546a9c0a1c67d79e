"""Resume side of ``cockpit replay``: the progress record of a run and where to continue.

While a replay runs, ``{prefix}replay:<name>:progress`` says how many events of which run
were sent (:class:`ProgressRecord`); ``--resume`` re-plans that run with its run id (same
ids, same order) and sends the rest, re-timed to start now (:func:`next_pass`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo
from fractions import Fraction
from typing import TYPE_CHECKING

import redis

from cockpit.replay_mapping import Mapping
from cockpit.replay_plan import RUN_ID_RE, PlannedEvent, order_ratio, plan_events

if TYPE_CHECKING:
    from cockpit.replay_read import IncidentPlan

log = logging.getLogger(__name__)


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

    The record is JSON ``{run_id, file, sent, total, speed, stage_speed, updated_at}``:
    ``sent`` planned events of run ``run_id`` (of ``total``), planned at ``speed`` and
    ``stage_speed``, are in the stream. (A record written before ``stage_speed`` existed has
    neither speed: its run was planned in the order of the file times.)
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
        """Write ``run_id``, ``file``, ``sent``, ``total``, ``speed``, ``stage_speed``.

        All but ``file`` come from ``info`` (the heartbeat), with ``updated_at``; a Redis
        failure is logged, not raised.
        """
        record = {"run_id": info["run_id"], "file": self.file, "sent": info["sent"],
                  "total": info["total"], "speed": info["speed"],
                  "stage_speed": info["stage_speed"],
                  "updated_at": datetime.now(self.tz).isoformat(timespec="seconds")}
        try:
            self.r.set(self.key, json.dumps(record, ensure_ascii=False))
        except redis.RedisError as exc:
            log.warning("could not write the progress record %s: %s", self.key, exc)

    def delete(self) -> None:
        """Remove the record: the pass is complete."""
        self.r.delete(self.key)


def record_resume_point(
    record: dict | None, plan: Sequence[PlannedEvent], name: str, ratio: Fraction = Fraction(1)
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
    ratio : Fraction
        :func:`order_ratio` of the speeds ``plan`` was made with.

    Returns
    -------
    int or None
        ``record["sent"]``; None when there is no record, its ``total`` differs from the
        plan's length (another limit, start offset or file content), the run was complete,
        or its speeds order the events otherwise (another :func:`order_ratio`: its first
        ``sent`` events are not the plan's): then a new run starts.
    """
    if record is None:
        return None
    sent, total = record["sent"], record.get("total")
    try:
        recorded = order_ratio(record.get("speed", 1), record.get("stage_speed"))
    except (TypeError, ValueError):
        recorded = None
    if recorded != ratio:
        log.warning("replay %s: progress record of run %s was planned at speed %s and stage "
                    "speed %s, which order its events otherwise; starting a new run", name,
                    record["run_id"], record.get("speed"), record.get("stage_speed"))
        return None
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
    stage_speed: float | None = None,
) -> tuple[str, list[PlannedEvent], int | None]:
    """Return ``(run id, events to send, events already sent)`` of a replay's next pass.

    With a progress record that fits (:func:`record_resume_point`), that is the record's run
    from its ``sent``-th event on, re-timed to start ``now`` (:func:`resume_plan`); otherwise
    all of run ``run`` (:func:`plan_events` at ``speed`` and ``stage_speed``, ``start``
    seconds skipped) and None events sent.
    """
    options = {"stage_speed": stage_speed, "start": start or 0}
    if record is not None:
        plan = plan_events(incidents, mapping, now, speed, run_id=record["run_id"], **options)
        done = record_resume_point(record, plan, mapping.name, order_ratio(speed, stage_speed))
        if done is not None:
            return record["run_id"], resume_plan(plan, done, now), done
    return run, plan_events(incidents, mapping, now, speed, run_id=run, **options), None
