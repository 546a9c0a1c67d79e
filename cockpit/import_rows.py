"""Rows of an imported file to events of the contract, applied in batches (the importers' core).

:class:`RowImporter` reads the rows of a :class:`cockpit.import_table.Table`, skips blank ones,
rejects a repeated key, has the subclass turn each row into events with the import's ``source``
and deterministic, keyed ids, validates them with :func:`cockpit.events.parse_event` (the
ingest's own rules) and applies them through :func:`cockpit.store.apply.apply_batch`, a batch
per transaction. A row whose events are stored already is counted as such; a row of a known
subject whose content changed is sent again at the import's time so its values win. Reasons of
rejected rows never carry personal values (:mod:`cockpit.import_report`).
"""

from __future__ import annotations

import abc
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cockpit import geo
from cockpit.events import BaseEvent, InvalidEvent, parse_event
from cockpit.import_report import ImportReport, Rejection, RowRejected, scrub
from cockpit.import_table import ColumnsBase
from cockpit.placing import resolve_villages
from cockpit.store.apply import ApplyResult, apply_batch

#: Accepted rows applied per transaction.
BATCH_SIZE = 500
#: ``stream_id`` of imported events (they never were stream entries).
STREAM_ID = "import"
_SLASH_DATE = re.compile(r"^(\d{4})[/.年](\d{1,2})[/.月](\d{1,2})日?(.*)$")


def cell(value: Any) -> str | None:
    """A cell as text: None when empty; ``3.0`` → ``3``; a date cell as ISO-8601."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).strip() or None


def time_text(text: str) -> str:
    """``2023/5/1 9:30`` and ``2023年5月1日`` as ISO-8601 (other text is left to the contract)."""
    match = _SLASH_DATE.match(text)
    if not match:
        return text
    year, month, day, rest = match.groups()
    rest = rest.strip()
    if rest[:2].count(":") == 1:
        rest = "0" + rest  # 9:30 → 09:30
    return f"{year}-{int(month):02d}-{int(day):02d}" + (f"T{rest}" if rest else "")


def keyed_id(key: bytes, kind: str, source: str, values: Sequence[str | None]) -> str:
    """``import:`` + 40 hex digits of HMAC-SHA256 over the kind, the source and the values."""
    payload = json.dumps([kind, source, *values], ensure_ascii=False)
    return "import:" + hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()[:40]


@dataclass
class PendingRow:
    """An accepted row: its number, subject id, main event's fields and events, update id."""

    number: int
    subject: str
    fields: dict[str, Any]
    events: list[BaseEvent]
    updated_id: str


class RowImporter(abc.ABC):
    """Validate rows into events and apply them in batches; fills an :class:`ImportReport`.

    Subclasses set :attr:`key_field`, :attr:`columns_model` (and :attr:`personal`,
    :attr:`renames`) and implement
    :meth:`prepare`, :meth:`stored_ids`, :meth:`known_subjects` and :meth:`changed_events`.

    Parameters
    ----------
    sessions : sessionmaker
        Sessions of the store (migrated).
    source : str
        The events' ``source``.
    columns : dict of str to str
        ``{field: column}`` of the mapping, for reasons.
    pd_key : bytes
        ``COCKPIT_PD_KEY``: hashes ID numbers and keys the event ids.
    tz : ZoneInfo
        Zone of times without offset.
    started : datetime
        The import's start (aware): the time of re-sent changed rows and the default time.
    dry_run : bool
        Apply in one transaction and roll it back: the report counts what would happen.
    area : tuple of float, optional
        Service area ``(min_lon, min_lat, max_lon, max_lat)`` positions must fall in.
    """

    key_field: ClassVar[str]
    #: The mapping's columns model: its fields, in the event-id hash's order.
    columns_model: ClassVar[type[ColumnsBase]]
    personal: ClassVar[tuple[str, ...]] = ()
    renames: ClassVar[dict[str, str]] = {}

    def __init__(self, sessions: sessionmaker[Session], source: str, columns: dict[str, str],
                 pd_key: bytes, tz: ZoneInfo, started: datetime, dry_run: bool = False,
                 batch_size: int = BATCH_SIZE,
                 area: tuple[float, float, float, float] | None = None):
        self.sessions, self.source, self.columns = sessions, source, columns
        self.key, self.tz, self.started, self.area = pd_key, tz, started, area
        self.dry_run, self.batch_size = dry_run, batch_size
        self.report = self.new_report()

    def new_report(self) -> ImportReport:
        """The empty report this importer fills (subclasses return their own kind)."""
        return ImportReport()

    def run(self, rows: Iterable[tuple[int, Sequence[Any]]], indexes: dict[str, int],
            progress: Callable[[int], None] | None = None) -> ImportReport:
        """Read, validate and apply every row; returns the report.

        Raises
        ------
        sqlalchemy.exc.SQLAlchemyError
            On a database error; the batches committed before it stay (a re-import skips them).
        """
        first: dict[str, int] = {}
        pending: list[PendingRow] = []
        with self.sessions() as session:
            try:
                for number, cells in rows:
                    if progress is not None:
                        progress(1)
                    if not any(cell(c) for c in cells):
                        continue  # a blank line or a formatted but empty spreadsheet row
                    values = {f: cell(cells[i]) if i < len(cells) else None
                              for f, i in indexes.items()}
                    self.report.rows += 1
                    row = self._accept(number, values, cells, indexes, first)
                    if row is not None:
                        pending.append(row)
                    if len(pending) >= self.batch_size:
                        self._apply(session, pending)
                        pending = []
                self._apply(session, pending)
            finally:
                session.rollback()  # a dry run's whole work; nothing after the last commit
        return self.report

    def _accept(self, number: int, values: dict[str, str | None], cells: Sequence[Any],
                indexes: dict[str, int], first: dict[str, int]) -> PendingRow | None:
        subject = values.get(self.key_field) or ""
        if subject and subject in first:
            self.reject(number, values, f"duplicate {self.key_field}, first at row "
                                        f"{first[subject]}")
            return None
        if subject:
            first[subject] = number
        try:
            row = self.prepare(number, values, cells, indexes)
        except InvalidEvent as exc:
            self.reject(number, values, scrub(exc.reason, values, self.columns, self.personal,
                                              self.renames))
            return None
        except RowRejected as exc:
            self.reject(number, values, str(exc))
            return None
        self.report.accepted += 1
        for event in row.events:
            village = event.__dict__.get("village")
            if village and geo.resolve_village(village) is None:
                self.report.unknown_villages[village] += 1
                break
        return row

    def reject(self, number: int, values: dict[str, str | None], reason: str) -> None:
        """Add a rejection; a key equal to a personal value of the row is shown as ``***``."""
        subject = values.get(self.key_field) or ""
        shown = "***" if subject and subject in {values.get(f) for f in self.personal} \
            else subject[:128]
        self.report.rejections.append(Rejection(number, shown, reason))

    def parse(self, fields: dict[str, Any]) -> BaseEvent:
        """Validate a field map as the ingest does. Raises :class:`InvalidEvent`."""
        return parse_event(fields, tz=self.tz, area=self.area, now=self.started,
                           pd_key=self.key)

    def event_id(self, kind: str, values: dict[str, str | None]) -> str:
        """The deterministic id of ``kind`` for a row: over the source and every mapped field."""
        return keyed_id(self.key, kind, self.source, [values.get(f) for f in self.fields])

    @property
    def fields(self) -> tuple[str, ...]:
        """The fields a mapping may give, in the hash's order."""
        return tuple(self.columns_model.model_fields)

    def required(self, values: dict[str, str | None], skip: Sequence[str] = ()) -> dict[str, Any]:
        """The row's values as fields; a blank required one is sent as "" (the contract: empty)."""
        fields: dict[str, Any] = {f: "" for f, info in self.columns_model.model_fields.items()
                                  if info.is_required()}
        fields.update((k, v) for k, v in values.items() if v is not None and k not in skip)
        return fields

    @abc.abstractmethod
    def prepare(self, number: int, values: dict[str, str | None], cells: Sequence[Any],
                indexes: dict[str, int]) -> PendingRow:
        """Turn a row into its events. Raises InvalidEvent or RowRejected."""

    @abc.abstractmethod
    def stored_ids(self, session: Session, ids: Sequence[str]) -> set[str]:
        """Which of these event ids of the import's source are stored already."""

    @abc.abstractmethod
    def known_subjects(self, session: Session, subjects: Sequence[str]) -> set[str]:
        """Which of these subjects the store knows already (from any import or stream)."""

    @abc.abstractmethod
    def changed_events(self, session: Session, row: PendingRow) -> list[BaseEvent]:
        """The events that make a changed row of a known subject win over its stored values."""

    def resend(self, row: PendingRow, kind: str | None = None, **extra: Any) -> BaseEvent:
        """The row's main event again at the import's time, with its update id (and ``kind``).

        Raises
        ------
        InvalidEvent
            Only if ``extra`` breaks the contract (the row itself was valid).
        """
        return self.parse({**row.fields, "type": kind or row.fields["type"],
                           "event_id": row.updated_id, "occurred_at": self.started, **extra})

    def before_apply(self, session: Session,  # noqa: B027 - a hook, empty by default
                     rows: list[PendingRow]) -> None:
        """Look at the store before a batch is applied (subclasses count what is new)."""

    def applied(self, session: Session, fresh: list[PendingRow],  # noqa: B027 - a hook
                changed: list[PendingRow], result: ApplyResult, now: datetime) -> None:
        """Count what a batch did, in its transaction (subclasses add their own counts).

        ``fresh`` are the rows of subjects new to the store, ``changed`` those re-sent.
        """

    def apply_options(self) -> dict[str, Any]:
        """Further keyword arguments of :func:`apply_batch` (a module's rules)."""
        return {}

    def _apply(self, session: Session, rows: list[PendingRow]) -> None:
        """Apply one batch: new subjects as they are, changed known ones re-sent."""
        if not rows:
            return
        stored = self.stored_ids(session, [e.event_id for r in rows for e in r.events]
                                 + [r.updated_id for r in rows])
        known = self.known_subjects(session, [r.subject for r in rows])
        self.before_apply(session, rows)
        events: list[BaseEvent] = []
        fresh: list[PendingRow] = []
        changed: list[PendingRow] = []
        for row in rows:
            if row.events[0].event_id in stored or row.updated_id in stored:
                self.report.already += 1
                continue
            if row.subject in known:
                sent = self.changed_events(session, row)
                changed.append(row)
            else:
                sent = row.events
                fresh.append(row)
            events.extend(e for e in sent if e.event_id not in stored)
        self.report.changed += len(changed)
        if not events:
            return
        now = datetime.now(UTC)
        result = apply_batch(session, [(e, STREAM_ID) for e in events], resolve_villages,
                             now=now, tz=self.tz, **self.apply_options())
        session.flush()
        self.report.stored += result.stored
        self.report.already += result.duplicates
        self.applied(session, fresh, changed, result, now)
        if not self.dry_run:
            session.commit()


def stored_event_ids(session: Session, model: Any, source: str, ids: Sequence[str]) -> set[str]:
    """The ids of ``ids`` that ``model`` (an event-history table) holds for ``source``."""
    return set(session.scalars(select(model.event_id).where(model.source == source,
                                                            model.event_id.in_(ids))))
