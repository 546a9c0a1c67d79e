"""The incident life cycle: a state machine run over an incident's events in ``occurred_at`` order.

Stages run ``reported → assessed → dispatched → arrived → resolved → closed``; ``cancelled``
ends an open incident; ``reopened`` restarts a resolved, closed or cancelled one, after which
the loop continues from assessment. The machine never raises on an event: a move it does not
allow is *recorded* as a note and leaves the stage as it was.

Notes (``Note.kind``), by severity:

* illegal (``Note.illegal``): ``no_report`` (the first event is not ``incident.reported``),
  ``backward`` (an earlier stage after a later one), ``after_close`` / ``after_cancel`` (any
  event but a reopening after the end), ``reopen_open`` (a reopening of an open incident);
* info: ``skipped`` (a forward move over stages never reported, e.g. dispatched straight after
  reported), ``repeat`` (the stage the incident is in, again: e.g. a second unit dispatched).

The order is ``(occurred_at, stage rank, event_id, source)`` whatever order the events arrived
in, so the same events always give the same state: the store steps the machine forward when an
event is later than every event seen, and runs it again over the whole history otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from cockpit.vocab import STAGE_RANK, Stage

#: The loop's stages in order; reopened and cancelled stand outside it.
LOOP = (Stage.REPORTED, Stage.ASSESSED, Stage.DISPATCHED, Stage.ARRIVED, Stage.RESOLVED,
        Stage.CLOSED)
_POSITION = {stage: i for i, stage in enumerate(LOOP)}
#: After a reopening the loop resumes here: assessment and anything later move forward.
_REOPENED_POSITION = _POSITION[Stage.REPORTED]
ILLEGAL = frozenset({"no_report", "backward", "after_close", "after_cancel", "reopen_open"})
#: Notes of moves the machine refused: the event changes nothing of the incident (its
#: category, priority, position or team corrections are not taken either).
REFUSED = frozenset({"backward", "after_close", "after_cancel", "reopen_open"})
#: Each stage and the incident column of its first entry time.
_STAGE_COLUMNS = tuple((s, f"{s.value}_at") for s in Stage)
#: Notes kept per incident (the count of illegal ones is kept in full).
MAX_NOTES = 50


class Move(NamedTuple):
    """One event as the machine sees it: its time (aware), stage and identity.

    A named tuple, not a frozen dataclass: the ingest makes one per event.
    """

    occurred_at: datetime
    stage: Stage
    event_id: str
    source: str
    type: str

    @property
    def key(self) -> tuple[datetime, int, str, str]:
        """Sort key: time, then stage rank, then id and source (a total order)."""
        return (self.occurred_at, STAGE_RANK[self.stage], self.event_id, self.source)


@dataclass(frozen=True)
class Note:
    """A move the machine recorded: ``kind`` (see module docstring) and a short detail."""

    at: datetime
    event_id: str
    type: str
    kind: str
    detail: str = ""

    @property
    def illegal(self) -> bool:
        """Whether the move broke the life cycle (as opposed to an informative note)."""
        return self.kind in ILLEGAL

    def to_json(self) -> dict[str, str]:
        """A JSON-ready dict (time as ISO-8601 UTC)."""
        return {"at": self.at.isoformat(), "event_id": self.event_id, "type": self.type,
                "kind": self.kind, "detail": self.detail}

    @classmethod
    def from_json(cls, data: dict[str, str]) -> Note:
        """Inverse of :meth:`to_json`."""
        return cls(datetime.fromisoformat(data["at"]), data["event_id"], data["type"],
                   data["kind"], data.get("detail", ""))


@dataclass(frozen=True)
class Step:
    """One accepted stage entry of the timeline."""

    stage: Stage
    entered_at: datetime
    event_id: str
    cycle: int


@dataclass
class Lifecycle:
    """The machine's state; everything it needs to take the next move is here.

    Attributes
    ----------
    stage, stage_at : Stage or None, datetime or None
        Current stage and when it was entered.
    reached : dict of Stage to datetime
        First time each stage was entered (the funnel counts these).
    reopen_count : int
        Reopenings accepted (the cycle number of the current stage).
    notes : list of Note
        Recorded moves, at most :data:`MAX_NOTES` (the first ones).
    illegal_count : int
        Illegal moves, all of them.
    last : tuple or None
        Key of the last move taken (:attr:`Move.key`); a move at or before it needs a re-run.
    steps : list of Step
        Accepted stage entries; filled only when ``keep_steps`` (timelines), not in the store.
    """

    stage: Stage | None = None
    stage_at: datetime | None = None
    reached: dict[Stage, datetime] = field(default_factory=dict)
    reopen_count: int = 0
    notes: list[Note] = field(default_factory=list)
    illegal_count: int = 0
    last: tuple | None = None
    keep_steps: bool = False
    steps: list[Step] = field(default_factory=list)
    _last_note_kind: str = ""

    # -- moves -----------------------------------------------------------------------------
    def can_extend(self, move: Move) -> bool:
        """Whether ``move`` comes after every move taken (else the history must be re-run)."""
        return self.last is None or move.key > self.last

    def apply(self, move: Move) -> bool:
        """Take one move (moves must come in :attr:`Move.key` order); never raises.

        Returns False when the move is refused (see :data:`REFUSED`), True otherwise.
        """
        self._last_note_kind = ""
        self._apply(move)
        return self._last_note_kind not in REFUSED

    def _apply(self, move: Move) -> None:
        self.last = move.key
        current, new = self.stage, move.stage
        if current is None:
            if new is not Stage.REPORTED:
                self._note(move, "no_report", f"first event is {move.type}")
            self._enter(move)
        elif current is Stage.CANCELLED or current is Stage.CLOSED:
            if new is Stage.REOPENED:
                self._reopen(move)
            else:
                kind = "after_cancel" if current is Stage.CANCELLED else "after_close"
                self._note(move, kind, f"{move.type} after {current.value}")
        elif new is Stage.CANCELLED:
            self._enter(move)
        elif new is Stage.REOPENED:
            if current is Stage.RESOLVED:
                self._reopen(move)
            else:
                self._note(move, "reopen_open", f"reopened while {current.value}")
        elif new is current:
            self._note(move, "repeat", f"{move.type} again")
        else:
            here = _REOPENED_POSITION if current is Stage.REOPENED else _POSITION[current]
            there = _POSITION[new]
            if there <= here:
                self._note(move, "backward", f"{new.value} after {current.value}")
                return
            skipped = [s.value for s in LOOP[here + 1:there]]
            if current is Stage.REOPENED:
                skipped = [s for s in skipped if s != Stage.ASSESSED.value]
            if skipped:
                self._note(move, "skipped", ",".join(skipped))
            self._enter(move)

    def _enter(self, move: Move) -> None:
        self.stage, self.stage_at = move.stage, move.occurred_at
        self.reached.setdefault(move.stage, move.occurred_at)
        if self.keep_steps:
            self.steps.append(Step(move.stage, move.occurred_at, move.event_id,
                                   self.reopen_count))

    def _reopen(self, move: Move) -> None:
        self.reopen_count += 1
        self._enter(move)

    def _note(self, move: Move, kind: str, detail: str) -> None:
        self._last_note_kind = kind
        note = Note(move.occurred_at, move.event_id, move.type, kind, detail)
        if note.illegal:
            self.illegal_count += 1
        if len(self.notes) < MAX_NOTES:
            self.notes.append(note)

    # -- persistence -----------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """What the store keeps beside the stage columns (``incidents.lifecycle``)."""
        last = None
        if self.last is not None:
            last = [self.last[0].isoformat(), self.last[1], self.last[2], self.last[3]]
        return {"last": last, "notes": [n.to_json() for n in self.notes]}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Lifecycle:
        """Rebuild the state from a stored incident row (column → value mapping)."""
        data = row.get("lifecycle") or {}
        last = data.get("last")
        reached = {s: row[f"{s.value}_at"] for s in Stage if row.get(f"{s.value}_at")}
        return cls(
            stage=Stage(row["stage"]) if row.get("stage") else None,
            stage_at=row.get("stage_at"),
            reached=reached,
            reopen_count=row.get("reopen_count") or 0,
            notes=[Note.from_json(n) for n in data.get("notes", [])],
            illegal_count=row.get("illegal_count") or 0,
            last=(datetime.fromisoformat(last[0]), last[1], last[2], last[3]) if last else None,
        )

    def columns(self) -> dict[str, Any]:
        """The incident columns this state sets (stage, stage times, counts, lifecycle)."""
        reached = self.reached
        out: dict[str, Any] = {column: reached.get(s) for s, column in _STAGE_COLUMNS}
        out.update(stage=self.stage.value if self.stage else None, stage_at=self.stage_at,
                   reopen_count=self.reopen_count, illegal_count=self.illegal_count,
                   lifecycle=self.to_json())
        return out


def run(moves: Iterable[Move], keep_steps: bool = False,
        refused: set[tuple[str, str]] | None = None) -> Lifecycle:
    """Run the machine over ``moves`` in key order and return its state.

    The moves may come in any order; repeats of one ``(event_id, source)`` must have been
    removed (the store keeps each once). ``refused``, when given, receives the
    ``(event_id, source)`` of every refused move.
    """
    state = Lifecycle(keep_steps=keep_steps)
    for move in sorted(moves, key=lambda m: m.key):
        if not state.apply(move) and refused is not None:
            refused.add((move.event_id, move.source))
    return state


@dataclass(frozen=True)
class Stay:
    """Time spent in one stage entry: ``seconds`` until the next entry (or ``now`` if current).

    ``limit_s`` is the configured limit of that stage (None: no limit) and ``over_s`` how far
    past it the stay went (0 when within it; None without a limit).
    """

    stage: Stage
    entered_at: datetime
    left_at: datetime | None
    seconds: float | None
    limit_s: float | None
    over_s: float | None
    event_id: str
    cycle: int


def stays(state: Lifecycle, now: datetime, limit_of) -> list[Stay]:
    """Return the time spent in each accepted stage of a timeline run (``keep_steps=True``).

    Parameters
    ----------
    state : Lifecycle
        A state from :func:`run` with ``keep_steps=True``.
    now : datetime
        Aware; the end of the current stage's stay when it is still open.
    limit_of : callable
        ``stage -> timedelta | None``; the configured limit of a stage for this incident.
    """
    out: list[Stay] = []
    steps = state.steps
    for i, step in enumerate(steps):
        final = step.stage in (Stage.CLOSED, Stage.CANCELLED)
        left = steps[i + 1].entered_at if i + 1 < len(steps) else (None if final else now)
        seconds = None if left is None else max(0.0, (left - step.entered_at).total_seconds())
        limit: timedelta | None = None if final else limit_of(step.stage)
        limit_s = None if limit is None else limit.total_seconds()
        over = None
        if limit_s is not None and seconds is not None:
            over = max(0.0, seconds - limit_s)
        out.append(Stay(step.stage, step.entered_at, left, seconds, limit_s, over,
                        step.event_id, step.cycle))
    return out
