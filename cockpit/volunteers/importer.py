"""Import volunteers from other platforms' CSV and Excel exports (``cockpit volunteers import``).

A column mapping (YAML, ``mappings/volunteers_*.yaml``) says which column of the file gives
each field of ``volunteer.registered``. Every row becomes such an event with the import's
``source`` and a deterministic id, is validated by the contract (:func:`cockpit.events.parse_event`)
and is applied straight to the store by :func:`cockpit.store.apply.apply_batch`, so the
registry deduplicates imported people exactly as streamed ones. A row whose record is known
already and whose content changed is sent as ``volunteer.updated`` at the import's time, so
its new values win over the old. docs/volunteers-import.md describes the format and the rules.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from cockpit import geo
from cockpit.events import InvalidEvent, parse_event
from cockpit.ingest import resolve_villages
from cockpit.store.apply import apply_batch
from cockpit.store.volunteer_models import (
    MergeCandidate,
    VolunteerEventRow,
    VolunteerMerge,
    VolunteerRecord,
)
from cockpit.volunteers.config import VolunteerRules
from cockpit.volunteers.import_files import (  # noqa: F401 - re-exported for the CLI
    _BOM,
    CODECS,
    FIELDS,
    MAPPINGS_DIR,
    ColumnMapping,
    ImportFailed,
    Table,
    column_indexes,
    identity_mapping,
    load_mapping,
    mapping_for_source,
    open_table,
)
from cockpit.volunteers.registry import person_id

PERSONAL = ("name", "phone", "id_number")
#: Accepted rows applied per transaction.
BATCH_SIZE = 500
STREAM_ID = "import"
_LONG_DIGITS = re.compile(r"\d{7,}[\dXx]?")
_SLASH_DATE = re.compile(r"^(\d{4})[/.年](\d{1,2})[/.月](\d{1,2})日?(.*)$")


@dataclass(frozen=True)
class Rejection:
    """A row not imported: its spreadsheet row number, its volunteer id and why."""

    row: int
    volunteer_id: str
    reason: str


@dataclass
class ImportReport:
    """What an import read and did (or, in a dry run, would do)."""

    rows: int = 0
    accepted: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    stored: int = 0
    already: int = 0
    changed: int = 0
    new_volunteers: int = 0
    joined: int = 0
    proposed: int = 0
    unknown_villages: Counter = field(default_factory=Counter)


def _cell(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).strip() or None


def _time_text(text: str) -> str:
    """``2023/5/1 9:30`` and ``2023年5月1日`` as ISO-8601 (other text is left to the contract)."""
    match = _SLASH_DATE.match(text)
    if not match:
        return text
    year, month, day, rest = match.groups()
    rest = rest.strip()
    if rest[:2].count(":") == 1:
        rest = "0" + rest  # 9:30 → 09:30
    return f"{year}-{int(month):02d}-{int(day):02d}" + (f"T{rest}" if rest else "")


def _scrub(reason: str, values: dict[str, str | None], columns: dict[str, str]) -> str:
    """The contract's reason without personal values, its fields named with their columns."""
    for name in PERSONAL:
        value = values.get(name)
        if value:  # the contract quotes values it echoes; a short bare one may be a word
            reason = reason.replace(repr(value), "'***'")
            reason = reason.replace(value, "***") if len(value) >= 4 else reason
    reason = _LONG_DIGITS.sub("***", reason)
    parts = []
    for part in reason.split("; "):
        head, sep, rest = part.partition(": ")
        if head == "occurred_at" and "registered_at" in columns:
            head = "registered_at"
        label = columns.get(head)
        if sep and label and label != head:
            head = f"{head} ({label})"
        parts.append(f"{head}{sep}{rest}")
    return "; ".join(parts)


def _event_id(key: bytes, kind: str, source: str, values: dict[str, str | None]) -> str:
    payload = json.dumps([kind, source, *(values.get(f) for f in FIELDS)], ensure_ascii=False)
    return "import:" + hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()[:40]


@dataclass
class _Row:
    number: int
    fields: dict[str, Any]
    updated_id: str
    event: Any


class Importer:
    """Validate rows into events and apply them in batches; fills an :class:`ImportReport`.

    Parameters
    ----------
    sessions : sessionmaker
        Sessions of the store (migrated).
    source : str
        The events' ``source``, and so the records' platform.
    columns : dict of str to str
        ``{field: column}`` of the mapping, for reasons.
    pd_key : bytes
        ``COCKPIT_PD_KEY``: hashes ID numbers and keys the event ids.
    tz : ZoneInfo
        Zone of registration times without offset.
    rules : VolunteerRules
        Rules of the volunteers module (for :func:`apply_batch`).
    started : datetime
        The import's start (aware): ``occurred_at`` of rows without a registration time.
    dry_run : bool
        Apply in one transaction and roll it back: the report counts what would happen.
    """

    def __init__(self, sessions: sessionmaker[Session], source: str, columns: dict[str, str],
                 pd_key: bytes, tz: ZoneInfo, rules: VolunteerRules, started: datetime,
                 dry_run: bool = False, separator: str | None = None,
                 batch_size: int = BATCH_SIZE):
        self.sessions, self.source, self.columns = sessions, source, columns
        self.key, self.tz, self.rules, self.started = pd_key, tz, rules, started
        self.dry_run, self.separator, self.batch_size = dry_run, separator, batch_size
        self.report = ImportReport()

    def run(self, rows: Iterable[tuple[int, Sequence[Any]]], indexes: dict[str, int],
            progress: Callable[[int], None] | None = None) -> ImportReport:
        """Read, validate and apply every row; returns the report.

        Raises
        ------
        sqlalchemy.exc.SQLAlchemyError
            On a database error; the batches committed before it stay (a re-import skips them).
        """
        first: dict[str, int] = {}
        pending: list[_Row] = []
        with self.sessions() as session:
            try:
                for number, cells in rows:
                    if progress is not None:
                        progress(1)
                    values = {f: _cell(cells[i]) if i < len(cells) else None
                              for f, i in indexes.items()}
                    if not any(_cell(c) for c in cells):
                        continue  # a blank line or a formatted but empty spreadsheet row
                    self.report.rows += 1
                    row = self._validate(number, values, cells, indexes, first)
                    if row is not None:
                        pending.append(row)
                    if len(pending) >= self.batch_size:
                        self._apply(session, pending)
                        pending = []
                self._apply(session, pending)
            finally:
                session.rollback()  # a dry run's whole work; nothing after the last commit
        return self.report

    def _validate(self, number: int, values: dict[str, str | None], cells: Sequence[Any],
                  indexes: dict[str, int], first: dict[str, int]) -> _Row | None:
        vid = values.get("volunteer_id") or ""
        shown = "***" if vid and vid in {values.get(f) for f in PERSONAL} else vid[:128]
        if vid and vid in first:
            reason = f"duplicate volunteer_id, first at row {first[vid]}"
            self.report.rejections.append(Rejection(number, shown, reason))
            return None
        if vid:
            first[vid] = number
        fields: dict[str, Any] = {"volunteer_id": "", "name": ""}  # blank: "is empty"
        fields.update((k, v) for k, v in values.items() if v is not None and k != "registered_at")
        raw_id = cells[indexes["id_number"]] if indexes.get("id_number", 1 << 30) < len(cells) \
            else None
        if isinstance(raw_id, int | float) and not isinstance(raw_id, bool):  # never exact
            reason = (f"id_number ({self.columns['id_number']}): the cell is a number, which "
                      "keeps only 15 digits; format the column as text and export again")
            self.report.rejections.append(Rejection(number, shown, reason))
            return None
        if self.separator and fields.get("skills"):
            fields["skills"] = [s.strip() for s in fields["skills"].split(self.separator)]
        when = values.get("registered_at")
        fields.update(type="volunteer.registered", source=self.source,
                      occurred_at=_time_text(when) if when else self.started,
                      event_id=_event_id(self.key, "volunteer.registered", self.source, values))
        try:
            event = parse_event(fields, tz=self.tz, now=self.started, pd_key=self.key)
        except InvalidEvent as exc:
            reason = _scrub(exc.reason, values, self.columns)
            self.report.rejections.append(Rejection(number, shown, reason))
            return None
        self.report.accepted += 1
        if event.village and geo.resolve_village(event.village) is None:
            self.report.unknown_villages[event.village] += 1
        return _Row(number, fields, _event_id(self.key, "volunteer.updated", self.source, values),
                    event)

    def _apply(self, session: Session, rows: list[_Row]) -> None:
        """Apply one batch: new records as registrations, changed known ones as updates."""
        if not rows:
            return
        ids = [r.event.event_id for r in rows] + [r.updated_id for r in rows]
        stored = set(session.scalars(select(VolunteerEventRow.event_id).where(
            VolunteerEventRow.source == self.source, VolunteerEventRow.event_id.in_(ids))))
        vids = [r.event.volunteer_id for r in rows]
        known = set(session.scalars(select(VolunteerRecord.source_id).where(
            VolunteerRecord.platform == self.source, VolunteerRecord.source_id.in_(vids))))
        items, fresh = [], []
        for row in rows:
            if row.event.event_id in stored or row.updated_id in stored:
                self.report.already += 1
            elif row.event.volunteer_id in known:
                fields = {**row.fields, "type": "volunteer.updated", "event_id": row.updated_id,
                          "occurred_at": self.started}
                items.append((parse_event(fields, tz=self.tz, now=self.started,
                                          pd_key=self.key), STREAM_ID))
                self.report.changed += 1
            else:
                items.append((row.event, STREAM_ID))
                fresh.append(row.event.volunteer_id)
        if not items:
            return
        now = datetime.now(UTC)
        result = apply_batch(session, items, resolve_villages, now=now, rules=self.rules,
                             tz=self.tz)
        session.flush()
        self.report.stored += result.stored
        self.report.already += result.duplicates
        placed = session.execute(select(VolunteerRecord.source_id, VolunteerRecord.volunteer_id)
                                 .where(VolunteerRecord.platform == self.source,
                                        VolunteerRecord.source_id.in_(fresh)))
        self.report.new_volunteers += sum(1 for sid, vid in placed
                                          if vid == person_id(self.source, sid))
        self.report.joined += session.scalar(
            select(func.count()).select_from(VolunteerMerge).where(
                VolunteerMerge.merged_at == now, VolunteerMerge.reason == "same_id_number"))
        self.report.proposed += session.scalar(
            select(func.count()).select_from(MergeCandidate).where(
                MergeCandidate.created_at == now))
        if not self.dry_run:
            session.commit()


def write_rejections(path: Path, rejections: Sequence[Rejection]) -> None:
    """Write the rejected rows as CSV (UTF-8 with BOM, for Excel): row, volunteer_id, reason.

    A cell a spreadsheet would run as a formula (``= + - @``) is prefixed with ``'``.

    Raises
    ------
    OSError
        If the file cannot be written.
    """
    def safe(value: object) -> object:
        text = str(value)
        return "'" + text if text and text[0] in "=+-@\t\r" else value

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(("row", "volunteer_id", "reason"))
    for r in rejections:
        writer.writerow((r.row, safe(r.volunteer_id), safe(r.reason)))
    path.write_bytes(_BOM + out.getvalue().encode("utf-8"))
