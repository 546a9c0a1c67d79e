"""Reading registry files for the importers: column mappings, CSV and Excel tables.

Both ``cockpit volunteers import`` and ``cockpit waste import`` read other systems' exports the
same way. A mapping (YAML under ``mappings/``) names the file column of each contract field and
how to read the file; CSV is decoded strictly (UTF-8 unless told otherwise), so a GBK file is
refused with a clear error instead of garbled names; Excel is read with openpyxl. Each importer
declares its own columns as a subclass of :class:`ColumnsBase` and its mapping as a subclass of
:class:`MappingBase`. docs/volunteers-import.md and docs/waste-import.md describe the format.
"""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

#: Folder of the mappings shipped with the repository.
MAPPINGS_DIR = Path(__file__).resolve().parents[1] / "mappings"
#: ``--encoding`` values and the codec each decodes with (a UTF-8 byte-order mark is skipped).
CODECS = {"utf-8": "utf-8-sig", "gbk": "gbk", "gb18030": "gb18030"}
BOM = b"\xef\xbb\xbf"


class ImportFailed(ValueError):
    """The file or the mapping cannot be used; the one-line message says why and what to do."""


class ColumnsBase(BaseModel):
    """File column (header text) of each contract field; subclasses declare the fields.

    Required fields are declared without a default; the declaration order is the order of
    :meth:`mapped` (and so of the importers' event-id hashes).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    def mapped(self) -> dict[str, str]:
        """``{field: column}`` of the fields this mapping gives, in declaration order."""
        return {f: getattr(self, f) for f in type(self).model_fields if getattr(self, f)}


class MappingBase(BaseModel):
    """An export format: how to read the file. Subclasses add ``columns`` (a ColumnsBase)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str | None = None
    #: ``--source`` names this mapping is chosen for when ``--mapping`` is not given.
    sources: list[str] = Field(default_factory=list)
    encoding: Literal["utf-8", "gbk", "gb18030"] | None = None
    sheet: str | None = None
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    header_row: int = Field(default=1, ge=1, le=100)

    @property
    def column_map(self) -> dict[str, str]:
        """``{field: column}`` of the mapped fields (see :meth:`ColumnsBase.mapped`)."""
        return self.columns.mapped()  # type: ignore[attr-defined]


@dataclass(frozen=True)
class MappingFormat:
    """An importer's mappings: their model and the file-name prefix of the shipped ones.

    Parameters
    ----------
    model : type of MappingBase
        The importer's mapping model (its ``columns`` a :class:`ColumnsBase` subclass).
    prefix : str
        File-name prefix of the shipped mappings under ``mappings/``, e.g. ``volunteers_``.
    """

    model: type[MappingBase]
    prefix: str

    def load(self, path: str | Path) -> MappingBase:
        """Read and validate a mapping file.

        Parameters
        ----------
        path : str or Path
            A YAML file, or a shipped name (``hongqiao`` with prefix ``volunteers_`` →
            ``mappings/volunteers_hongqiao.yaml``).

        Returns
        -------
        MappingBase
            An instance of :attr:`model`.

        Raises
        ------
        ImportFailed
            If the file is missing, not YAML, or breaks the format; the message names the file
            and each offending key, e.g. ``x.yaml: columns.name: required key is missing``.
        """
        file = Path(path)
        if not file.is_file():
            shipped = MAPPINGS_DIR / f"{self.prefix}{str(path).removeprefix(self.prefix)}.yaml"
            if "/" in str(path) or not shipped.is_file():
                raise ImportFailed(f"mapping {str(path)!r} not found; give a file or one of "
                                   f"{self.shipped()}")
            file = shipped
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8"))
            return self.model.model_validate(data)
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

    def shipped(self) -> list[str]:
        """Names of the shipped mappings (file stems without the prefix)."""
        return sorted(p.stem.removeprefix(self.prefix)
                      for p in MAPPINGS_DIR.glob(f"{self.prefix}*.yaml"))

    def for_source(self, source: str) -> tuple[MappingBase, Path] | None:
        """The shipped mapping named ``<prefix><source>.yaml`` or listing ``source``, if any."""
        for path in sorted(MAPPINGS_DIR.glob(f"{self.prefix}*.yaml")):
            mapping = self.load(path)
            if path.stem == f"{self.prefix}{source}" or source in mapping.sources:
                return mapping, path
        return None

    def identity(self, headers: Sequence[str]) -> MappingBase:
        """A mapping for a file whose headers are the contract's field names themselves.

        The required fields are always mapped, so a file lacking one is refused naming it.
        """
        columns = self.model.model_fields["columns"].annotation
        fields = columns.model_fields  # type: ignore[union-attr]
        return self.model(columns=columns(  # type: ignore[misc]
            **{f: f for f, info in fields.items() if f in headers or info.is_required()}))

    def choose(self, mapping: str | None, source: str) -> tuple[MappingBase | None, str]:
        """``(mapping, its name for messages)`` for ``--mapping`` and ``--source``.

        The mapping is ``--mapping`` when given, else the shipped one of ``source``, else None:
        the identity mapping, made from the file's headers (:meth:`identity`).

        Raises
        ------
        ImportFailed
            As :meth:`load`.
        """
        if mapping is not None:
            return self.load(mapping), mapping
        found = self.for_source(source)
        if found is not None:
            return found[0], found[1].name
        return None, "(contract field names)"


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
    path : Path
        The file, for messages.
    data : bytes
        Its content.
    encoding : {"utf-8", "gbk", "gb18030"} or None
        None is UTF-8 with or without byte-order mark.

    Returns
    -------
    str
        The text, without a byte-order mark.

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


def _read_csv(path: Path, mapping: MappingBase, encoding: str | None) -> Table:
    data = path.read_bytes()
    if not data.removeprefix(BOM).strip():
        raise ImportFailed(f"{path}: the file is empty (no header row)")
    text = decode_csv(path, data, encoding or mapping.encoding)
    records = list(csv.reader(io.StringIO(text, newline=""), delimiter=mapping.delimiter))
    at = mapping.header_row
    headers = _header(path, records[at - 1] if len(records) >= at else None, at)
    return Table(headers, ((at + 1 + i, r) for i, r in enumerate(records[at:])),
                 max(len(records) - at, 0))


def _read_xlsx(path: Path, mapping: MappingBase, sheet: str | None,
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
def open_table(path: Path, mapping: MappingBase, encoding: str | None = None,
               sheet: str | None = None) -> Iterator[Table]:
    """Open a CSV or ``.xlsx`` file as a :class:`Table` (the workbook closes with the block).

    Parameters
    ----------
    path : Path
        ``.xlsx``/``.xlsm`` is read as a workbook, any other suffix as CSV.
    mapping : MappingBase
        Its ``encoding``, ``sheet``, ``delimiter`` and ``header_row`` say how to read.
    encoding, sheet : str, optional
        ``--encoding`` and ``--sheet``: override the mapping's.

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


def column_indexes(path: Path, headers: Sequence[str], mapping: MappingBase,
                   mapping_name: str) -> dict[str, int]:
    """``{field: index in the row}`` of every mapped field.

    Column names match the header exactly (surrounding spaces ignored), else case-insensitively.

    Raises
    ------
    ImportFailed
        Naming the mapped columns missing from the header, the mapping and the headers found.
    """
    where = {h: i for i, h in reversed(list(enumerate(headers))) if h}
    folded = {h.casefold(): i for h, i in where.items()}
    out, missing = {}, []
    for name, column in mapping.column_map.items():
        index = where.get(column.strip(), folded.get(column.strip().casefold()))
        if index is None:
            missing.append(column)
        else:
            out[name] = index
    if missing:
        raise ImportFailed(f"{path}: column(s) {', '.join(missing)} of the mapping "
                           f"{mapping_name} not in the header; found: {', '.join(headers)}")
    return out
