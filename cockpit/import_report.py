"""What an import reports: its counts, the rejected rows and why, without personal values.

The reasons of :class:`cockpit.events.InvalidEvent` name fields and rarely values; :func:`scrub`
removes any personal value of the row all the same and names each field with its column, and
:func:`write_rejections` writes the rows as a CSV file Excel opens (UTF-8 with BOM) and cannot
run as formulas. docs/volunteers-import.md and docs/waste-import.md describe the report.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cockpit.import_table import BOM

_LONG_DIGITS = re.compile(r"\d{7,}[\dXx]?")
#: A field name in a reason's text: a word with an underscore (``landlord_id``).
_FIELD_NAME = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")


class RowRejected(ValueError):
    """A row the importer refuses before the contract sees it; ``reason`` names no value."""


@dataclass(frozen=True)
class Rejection:
    """A row not imported: its spreadsheet row number, its key (the subject's id) and why."""

    row: int
    subject: str
    reason: str


@dataclass
class ImportReport:
    """What an import read and did (or, in a dry run, would do); importers add their counts."""

    rows: int = 0
    accepted: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    stored: int = 0
    already: int = 0
    changed: int = 0
    unknown_villages: Counter = field(default_factory=Counter)


def scrub(reason: str, values: dict[str, str | None], columns: dict[str, str],
          personal: Sequence[str], renames: dict[str, str] | None = None) -> str:
    """The contract's reason without personal values, its fields named with their columns.

    Parameters
    ----------
    reason : str
        ``field: why; field: why`` as :class:`cockpit.events.InvalidEvent` gives it.
    values : dict of str to str or None
        The row's mapped values.
    columns : dict of str to str
        ``{field: column}`` of the mapping.
    personal : sequence of str
        Fields whose values are replaced by ``***`` wherever they appear.
    renames : dict of str to str, optional
        Contract field → mapping field it came from (``occurred_at`` → ``registered_at``).

    Returns
    -------
    str
        E.g. ``phone (手机号码): phone number is not 5 to 15 digits``; a rule across fields
        names them with their columns too (``needs landlord_id (房东编号)``). Any run of seven
        or more digits is replaced by ``***``.
    """
    for name in personal:
        value = values.get(name)
        if value:  # the contract quotes values it echoes; a short bare one may be a word
            reason = reason.replace(repr(value), "'***'")
            reason = reason.replace(value, "***") if len(value) >= 4 else reason
    reason = _LONG_DIGITS.sub("***", reason)
    parts = []
    for part in reason.split("; "):
        head, sep, rest = part.partition(": ")
        if not sep:  # a rule across fields ("a tenant household needs landlord_id")
            parts.append(_FIELD_NAME.sub(lambda m: _labelled(m[0], columns), part))
            continue
        head = (renames or {}).get(head, head)
        parts.append(f"{_labelled(head, columns)}{sep}{rest}")
    return "; ".join(parts)


def _labelled(name: str, columns: dict[str, str]) -> str:
    label = columns.get(name)
    return f"{name} ({label})" if label and label != name else name


def write_csv_report(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]
                     ) -> None:
    """Write a report as CSV for Excel (UTF-8 with BOM): ``header`` then ``rows``.

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
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe(cell) for cell in row])
    path.write_bytes(BOM + out.getvalue().encode("utf-8"))


def write_rejections(path: Path, rejections: Sequence[Rejection], subject: str) -> None:
    """Write the rejected rows as CSV (:func:`write_csv_report`): row, ``subject``, reason.

    Raises
    ------
    OSError
        If the file cannot be written.
    """
    write_csv_report(path, ("row", subject, "reason"),
                     [(r.row, r.subject, r.reason) for r in rejections])
