"""The volunteers importer's file format: its columns and mapping (``mappings/volunteers_*.yaml``).

A mapping names the file column of each field of ``volunteer.registered``; the reading itself
(strict CSV decoding, Excel, the header check) is :mod:`cockpit.import_table`'s, shared with the
waste importer. docs/volunteers-import.md describes the format.
"""

from __future__ import annotations

from pydantic import Field

from cockpit.import_table import (  # noqa: F401 - decode_csv re-exported for the tests
    ColumnsBase,
    MappingBase,
    MappingFormat,
    decode_csv,
)


class Columns(ColumnsBase):
    """File column (header text) of each contract field; ``volunteer_id`` and ``name`` required."""

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


#: Contract fields a file column may give, in the order of the event-id hash.
FIELDS = tuple(Columns.model_fields)


class ColumnMapping(MappingBase):
    """A platform's export format: its columns and how to read the file."""

    columns: Columns
    skills_separator: str | None = Field(default=None, min_length=1, max_length=8)


#: The volunteers importer's mappings: ``mappings/volunteers_<name>.yaml``.
FORMAT = MappingFormat(ColumnMapping, "volunteers_")
