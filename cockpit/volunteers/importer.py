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

import contextlib
import csv
import hashlib
import hmac
import io
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
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
from cockpit.volunteers.registry import person_id

#: Folder of the mappings shipped with the repository.
MAPPINGS_DIR = Path(__file__).resolve().parents[2] / "mappings"
#: Contract fields a file column may give, in the order of the event-id hash.
FIELDS = ("volunteer_id", "name", "phone", "id_number", "team", "team_kind", "skills",
          "village", "grid", "registered_at")
PERSONAL = ("name", "phone", "id_number")
#: ``--encoding`` values and the codec each decodes with (a UTF-8 byte-order mark is skipped).
CODECS = {"utf-8": "utf-8-sig", "gbk": "gbk", "gb18030": "gb18030"}
#: Accepted rows applied per transaction.
BATCH_SIZE = 500
STREAM_ID = "import"
_BOM = b"\xef\xbb\xbf"
_LONG_DIGITS = re.compile(r"\d{7,}[\dXx]?")
_SLASH_DATE = re.compile(r"^(\d{4})[/.年](\d{1,2})[/.月](\d{1,2})日?(.*)$")


class ImportFailed(ValueError):
    """The file or the mapping cannot be used; the one-line message says why and what to do."""


class Columns(BaseModel):
    """File column (header text) of each contract field; ``volunteer_id`` and ``name`` required."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    volunteer_id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    phone: str | None = None
    id_number: str | None = None
    team: str | None = None
    team_kind: str | None = None
    skills: str | None = None
    village: str | None = None
    grid: str | None = None
    registered_at: str | None = None

    def mapped(self) -> dict[str, str]:
        """``{field: column}`` of the fields this mapping gives, in :data:`FIELDS` order."""
        return {f: getattr(self, f) for f in FIELDS if getattr(self, f)}


class ColumnMapping(BaseModel):
    """A platform's export format: its columns and how to read the file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str | None = None
    #: ``--source`` names this mapping is chosen for when ``--mapping`` is not given.
    sources: list[str] = Field(default_factory=list)
    columns: Columns
    skills_separator: str | None = Field(default=None, min_length=1, max_length=8)
    encoding: Literal["utf-8", "gbk", "gb18030"] | None = None
    sheet: str | None = None
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    header_row: int = Field(default=1, ge=1, le=100)


def load_mapping(path: str | Path) -> ColumnMapping:
    """Read and validate a mapping file.

    Parameters
    ----------
    path : str or Path
        A YAML file, or a shipped name (``hongqiao`` → ``mappings/volunteers_hongqiao.yaml``).

    Returns
    -------
    ColumnMapping

    Raises
    ------
    ImportFailed
        If the file is missing, not YAML, or breaks the format; the message names the file and
        each offending key, e.g. ``x.yaml: columns.name: required key is missing``.
    """
    file = Path(path)
    if not file.is_file():
        shipped = MAPPINGS_DIR / f"volunteers_{str(path).removeprefix('volunteers_')}.yaml"
        if "/" in str(path) or not shipped.is_file():
            names = sorted(p.stem.removeprefix("volunteers_")
                           for p in MAPPINGS_DIR.glob("volunteers_*.yaml"))
            raise ImportFailed(f"mapping {str(path)!r} not found; give a file or one of {names}")
        file = shipped
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
        return ColumnMapping.model_validate(data)
    except yaml.YAMLError as exc:
        raise ImportFailed(f"{file}: not valid YAML: {str(exc).splitlines()[0]}") from None
    except ValidationError as exc:
        parts = []
        for err in exc.errors(include_url=False):
            where = ".".join(str(p) for p in err["loc"]) or "(top level)"
            msg = {"missing": "required key is missing",
                   "extra_forbidden": "unknown key (typo?)"}.get(err["type"], err["msg"])
            parts.append(f"{where}: {msg.removeprefix('Value error, ')}")
        raise ImportFailed(f"{file}: {'; '.join(parts)}") from None


def mapping_for_source(source: str) -> tuple[ColumnMapping, Path] | None:
    """The shipped mapping named ``volunteers_<source>.yaml`` or listing ``source``, if any."""
    for path in sorted(MAPPINGS_DIR.glob("volunteers_*.yaml")):
        mapping = load_mapping(path)
        if path.stem == f"volunteers_{source}" or source in mapping.sources:
            return mapping, path
    return None


def identity_mapping(headers: Sequence[str]) -> ColumnMapping:
    """A mapping for a file whose headers are the contract's field names themselves."""
    return ColumnMapping(columns=Columns(**{f: f for f in FIELDS if f in headers
                                            or f in ("volunteer_id", "name")}))


@dataclass
class Table:
    """An opened file: its header and its data rows as ``(row number, cells)``.

    Row numbers are those a spreadsheet shows (the header is row ``header_row``); ``total``
    is the number of data rows when known (for the progress bar).
    """

    headers: list[str]
    rows: Iterable[tuple[int, Sequence[Any]]]
    total: int | None


def decode_csv(path: Path, data: bytes, encoding: str | None) -> str:
    """Decode a CSV file's bytes strictly.

    Parameters
    ----------
    encoding : {"utf-8", "gbk", "gb18030"} or None
        None is UTF-8 with or without byte-order mark.

    Raises
    ------
    ImportFailed
        If the bytes are not valid in that encoding; for UTF-8 the message says when the file
        looks like GBK/GB18030 and to pass ``--encoding gbk``. Also when ``gbk`` is asked of a
        file that is valid UTF-8 (decoding it would garble every Chinese character).
    """
    name = encoding or "utf-8"
    if name != "utf-8" and not data.isascii():
        with contextlib.suppress(UnicodeDecodeError):
            data.decode("utf-8")
            raise ImportFailed(f"{path}: is valid UTF-8, not {name}; drop --encoding {name}")
    try:
        return data.decode(CODECS[name])
    except UnicodeDecodeError as exc:
        where = f"byte 0x{data[exc.start]:02x} at offset {exc.start}"
        if name != "utf-8":
            raise ImportFailed(f"{path}: not valid {name} ({where}); pass the file's encoding "
                               "with --encoding utf-8, gbk or gb18030") from None
        try:
            data.decode("gb18030")
        except UnicodeDecodeError:
            hint = "pass its encoding with --encoding utf-8, gbk or gb18030"
        else:
            hint = "it looks like GBK/GB18030 (Chinese Excel or WPS): pass --encoding gbk"
        raise ImportFailed(f"{path}: not valid UTF-8 ({where}); {hint}") from None


def _header(path: Path, cells: Sequence[Any] | None, at: int) -> list[str]:
    headers = ["" if c is None else str(c).strip().lstrip("\ufeff").strip() for c in cells or ()]
    if not any(headers):
        raise ImportFailed(f"{path}: no header row (row {at} is empty or missing)")
    return headers


def _read_csv(path: Path, mapping: ColumnMapping, encoding: str | None) -> Table:
    data = path.read_bytes()
    if not data.removeprefix(_BOM).strip():
        raise ImportFailed(f"{path}: the file is empty (no header row)")
    text = decode_csv(path, data, encoding or mapping.encoding)
    records = list(csv.reader(io.StringIO(text, newline=""), delimiter=mapping.delimiter))
    at = mapping.header_row
    headers = _header(path, records[at - 1] if len(records) >= at else None, at)
    return Table(headers, ((at + 1 + i, r) for i, r in enumerate(records[at:])),
                 max(len(records) - at, 0))


def _read_xlsx(path: Path, mapping: ColumnMapping, sheet: str | None,
               stack: contextlib.ExitStack) -> Table:
    import zipfile

    try:
        import openpyxl
    except ImportError:  # pragma: no cover - a dependency of the project
        raise ImportFailed("reading .xlsx needs openpyxl (pip install 'openpyxl>=3.1')") from None
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ImportFailed(f"{path}: not a readable .xlsx workbook ({exc})") from None
    stack.callback(book.close)
    wanted = sheet or mapping.sheet
    if wanted is not None and wanted not in book.sheetnames:
        raise ImportFailed(f"{path}: no sheet {wanted!r}; sheets: {book.sheetnames}")
    ws = book[wanted] if wanted is not None else book.worksheets[0]
    at = mapping.header_row
    rows = ws.iter_rows(values_only=True)
    head = None
    for _ in range(at):
        head = next(rows, None)
    total = ws.max_row - at if ws.max_row else None
    return Table(_header(path, head, at), ((at + 1 + i, r) for i, r in enumerate(rows)), total)


@contextlib.contextmanager
def open_table(path: Path, mapping: ColumnMapping, encoding: str | None = None,
               sheet: str | None = None) -> Iterator[Table]:
    """Open a CSV or ``.xlsx`` file as a :class:`Table` (the workbook closes with the block).

    Raises
    ------
    ImportFailed
        For a missing, empty, undecodable or unreadable file, an old ``.xls`` workbook, a
        missing sheet or a file without a header row.
    """
    if not path.is_file():
        raise ImportFailed(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".xls":
        raise ImportFailed(f"{path}: old .xls workbooks are not read; save it as .xlsx or CSV")
    with contextlib.ExitStack() as stack:
        if suffix in (".xlsx", ".xlsm"):
            yield _read_xlsx(path, mapping, sheet, stack)
        else:
            yield _read_csv(path, mapping, encoding)


def column_indexes(path: Path, headers: Sequence[str], mapping: ColumnMapping,
                   mapping_name: str) -> dict[str, int]:
    """``{field: index in the row}`` of every mapped field.

    Raises
    ------
    ImportFailed
        Naming the mapped columns missing from the header, the mapping and the headers found.
    """
    where = {h: i for i, h in reversed(list(enumerate(headers))) if h}
    folded = {h.casefold(): i for h, i in where.items()}
    out, missing = {}, []
    for name, column in mapping.columns.mapped().items():
        index = where.get(column.strip(), folded.get(column.strip().casefold()))
        if index is None:
            missing.append(column)
        else:
            out[name] = index
    if missing:
        raise ImportFailed(f"{path}: column(s) {', '.join(missing)} of the mapping "
                           f"{mapping_name} not in the header; found: {', '.join(headers)}")
    return out


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
        if values.get(name):
            reason = reason.replace(values[name], "***")
    reason = _LONG_DIGITS.sub("***", reason)
    labels = {**columns, "occurred_at": columns.get("registered_at", "")}
    parts = []
    for part in reason.split("; "):
        head, sep, rest = part.partition(": ")
        label = labels.get(head)
        parts.append(f"{head} ({label}){sep}{rest}" if sep and label and label != head else part)
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
        fields: dict[str, Any] = {k: v for k, v in values.items()
                                  if v is not None and k != "registered_at"}
        raw_id = cells[indexes["id_number"]] if indexes.get("id_number", 1 << 30) < len(cells) \
            else None
        if isinstance(raw_id, int | float) and not isinstance(raw_id, bool):
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
