"""The mapping file of ``cockpit replay``: how one recorded calls-for-service file becomes events.

A mapping is a YAML file (``mappings/*.yaml``) validated by the pydantic models below. It says
which columns hold the incident id, the stage times, the category, priority, title, address,
disposition, unit and position, how the file's naive times are to be read, and how its
positions are moved onto Qiaosi (the ``transform`` model is in cockpit/replay_transform.py).
Another city's file needs only a new mapping; docs/replay.md describes every key.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from cockpit.crs import CRS
from cockpit.replay_transform import QIAOSI_CENTER as QIAOSI_CENTER  # re-exported
from cockpit.replay_transform import Transform
from cockpit.vocab import Category, Priority, Stage, parse_category, parse_priority

#: Folder of the mappings shipped with the repository (``--mapping sf_fire_calls``).
MAPPINGS_DIR = Path(__file__).resolve().parents[1] / "mappings"

_NAME = r"^[a-z0-9][a-z0-9_]{0,31}$"
_GLOB = re.compile(r"[*?\[]")


class MappingError(ValueError):
    """A mapping file that cannot be used; the message names the file and the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CsvOptions(_Strict):
    """How to read the file: encoding, delimiter, quote character and values meaning 'empty'."""

    encoding: str = "utf-8-sig"
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    quotechar: str = Field(default='"', min_length=1, max_length=1)
    null_values: list[str] = Field(default_factory=list)

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        import codecs

        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown encoding {value!r}") from None
        return value


class StageSpec(_Strict):
    """Column of one stage's time; ``agg`` merges the rows of one incident (min or max)."""

    column: str = Field(min_length=1)
    agg: Literal["min", "max"] = "min"


class Stages(_Strict):
    """Stage-time columns; ``reported`` is required, the others are optional."""

    reported: StageSpec
    assessed: StageSpec | None = None
    dispatched: StageSpec | None = None
    arrived: StageSpec | None = None
    resolved: StageSpec | None = None
    closed: StageSpec | None = None
    cancelled: StageSpec | None = None

    def items(self) -> Iterator[tuple[Stage, StageSpec]]:
        """Yield ``(stage, spec)`` for every stage the mapping gives, in loop order."""
        for stage in Stage:
            spec = getattr(self, stage.value, None)  # a recorded feed has no reopenings
            if spec is not None:
                yield stage, spec


def _lookup(table: dict[str, Any], value: str) -> Any:
    """Exact key first, then glob keys (``Noise*``) in file order; None when nothing matches."""
    if value in table:
        return table[value]
    for key, out in table.items():
        if _GLOB.search(key) and fnmatch.fnmatchcase(value, key):
            return out
    return None


def _each(table: dict, parse) -> dict:
    """Parse every value of a map, naming the key of a bad one."""
    out = {}
    for key, value in table.items():
        try:
            out[str(key)] = parse(value)
        except ValueError as exc:
            raise ValueError(f"{str(key)!r}: {exc}") from None
    return out


class _CodedSpec(_Strict):
    """A vocabulary value from a column through ``map`` (keys may be globs), else ``default``.

    Subclasses declare the three fields with their vocabulary's type and set ``_parse``, the
    parser that accepts a code or a Chinese label.
    """

    @field_validator("map", mode="before", check_fields=False)
    @classmethod
    def _codes(cls, value: object) -> object:
        if isinstance(value, dict):
            return _each(value, cls._parse)
        return value

    @field_validator("default", mode="before", check_fields=False)
    @classmethod
    def _default(cls, value: object) -> object:
        return cls._parse(value)

    def of(self, value: str | None):
        """Return the vocabulary value of one cell value."""
        found = _lookup(self.map, value) if value else None
        return found or self.default


class CategorySpec(_CodedSpec):
    """Category from a column through ``map`` (keys may be globs); ``default`` otherwise."""

    _parse: ClassVar = staticmethod(parse_category)
    column: str | None = None
    map: dict[str, Category] = Field(default_factory=dict)
    default: Category = Category.OTHER


class PrioritySpec(_CodedSpec):
    """Priority from a column through ``map`` (keys may be globs); ``default`` otherwise."""

    _parse: ClassVar = staticmethod(parse_priority)
    column: str | None = None
    map: dict[str, Priority] = Field(default_factory=dict)
    default: Priority = Priority.NORMAL


class TextSpec(_Strict):
    """A text field from one or more columns: the first non-empty, or all joined by ``join``.

    A bare string in the YAML is shorthand for ``{columns: [that string]}``.
    """

    columns: list[str] = Field(min_length=1)
    join: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: object) -> object:
        if isinstance(value, str):
            return {"columns": [value]}
        if isinstance(value, dict) and "column" in value:
            value = dict(value)
            value["columns"] = [value.pop("column")]
        return value


class PositionSpec(_Strict):
    """Where the position is: ``lat_column`` + ``lon_column``, or ``column`` + ``pattern``.

    ``pattern`` is a regular expression with named groups ``lat`` and ``lon`` (searched, not
    anchored). ``crs`` is the datum of the file's coordinates.
    """

    lat_column: str | None = None
    lon_column: str | None = None
    column: str | None = None
    pattern: str | None = None
    crs: CRS = CRS.WGS84

    @model_validator(mode="after")
    def _one_form(self) -> PositionSpec:
        pair = self.lat_column is not None or self.lon_column is not None
        single = self.column is not None or self.pattern is not None
        if pair == single:
            raise ValueError("give either lat_column and lon_column, or column and pattern")
        if pair and (self.lat_column is None or self.lon_column is None):
            raise ValueError("lat_column and lon_column go together")
        if single:
            if self.column is None or self.pattern is None:
                raise ValueError("column and pattern go together")
            try:
                groups = re.compile(self.pattern).groupindex
            except re.error as exc:
                raise ValueError(f"pattern is not a regular expression: {exc}") from None
            if not {"lat", "lon"} <= set(groups):
                raise ValueError("pattern needs the named groups (?P<lat>...) and (?P<lon>...)")
        return self

    @property
    def regex(self) -> re.Pattern[str] | None:
        """The compiled ``pattern`` (None for the two-column form)."""
        return re.compile(self.pattern) if self.pattern else None

    def columns(self) -> list[str]:
        """Columns this spec reads."""
        if self.column:
            return [self.column]
        return [self.lat_column or "", self.lon_column or ""]


class CancelSpec(_Strict):
    """Incidents whose ``column`` holds one of ``values`` end with ``incident.cancelled``."""

    column: str
    values: list[str] = Field(min_length=1)


class Mapping(_Strict):
    """Everything about one source file; see docs/replay.md for each key."""

    name: str = Field(pattern=_NAME)
    description: str | None = None
    csv: CsvOptions = CsvOptions()
    id: str = Field(min_length=1)
    group_by: str | None = None
    timezone: str
    time_format: str = Field(min_length=2)
    stages: Stages
    category: CategorySpec
    priority: PrioritySpec = PrioritySpec()
    title: TextSpec
    address: TextSpec | None = None
    disposition: TextSpec | None = None
    unit: TextSpec | None = None
    position: PositionSpec | None = None
    transform: Transform | None = None
    cancelled_if: CancelSpec | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value

    @field_validator("time_format")
    @classmethod
    def _format(cls, value: str) -> str:
        if value != "iso" and "%" not in value:
            raise ValueError("expected a strptime format such as '%m/%d/%Y %I:%M:%S %p' or 'iso'")
        return value

    @model_validator(mode="after")
    def _transform_needs_position(self) -> Mapping:
        if self.transform is not None and self.position is None:
            raise ValueError("transform given without position")
        return self

    @property
    def tz(self) -> ZoneInfo:
        """Zone of the file's naive times."""
        return ZoneInfo(self.timezone)

    @property
    def source(self) -> str:
        """The ``source`` field of every event: ``replay:<name>``."""
        return f"replay:{self.name}"

    def parse_time(self, text: str) -> datetime:
        """Parse one time cell into an aware datetime (naive values are in :attr:`tz`).

        Raises
        ------
        ValueError
            If ``text`` does not match :attr:`time_format`.
        """
        if self.time_format == "iso":
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        else:
            parsed = datetime.strptime(text, self.time_format)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=self.tz)

    def columns(self) -> list[str]:
        """Every column the mapping reads, each once, in a stable order."""
        cols = [self.id, self.group_by or self.id]
        cols += [spec.column for _, spec in self.stages.items()]
        cols += [c for c in (self.category.column, self.priority.column) if c]
        for text in (self.title, self.address, self.disposition, self.unit):
            cols += text.columns if text else []
        cols += self.position.columns() if self.position else []
        cols += [self.cancelled_if.column] if self.cancelled_if else []
        return list(dict.fromkeys(cols))


def _error_text(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        if err["type"] == "missing":
            msg = "required key is missing"
        elif err["type"] == "extra_forbidden":
            msg = "unknown key (typo?)"
        else:
            msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {msg}")
    return "; ".join(parts)


def resolve_mapping_path(value: str | Path) -> Path:
    """Return the path of a mapping given as a file path or a bare name (``sf_fire_calls``).

    Raises
    ------
    MappingError
        If neither an existing file nor ``mappings/<name>.yaml`` exists; lists the shipped names.
    """
    path = Path(value)
    if path.is_file():
        return path
    text = str(value)
    if "/" not in text and "\\" not in text:
        stem = text.removesuffix(".yaml").removesuffix(".yml")
        for candidate in (MAPPINGS_DIR / f"{stem}.yaml", MAPPINGS_DIR / f"{stem}.yml"):
            if candidate.is_file():
                return candidate
    known = sorted(p.stem for p in MAPPINGS_DIR.glob("*.y*ml"))
    raise MappingError(f"mapping {text!r} not found; give a file path or one of {known}")


def load_mapping(path: str | Path) -> Mapping:
    """Read and validate a mapping file.

    Parameters
    ----------
    path : str or Path
        A YAML file, or a bare name resolved to ``mappings/<name>.yaml`` of the repository.

    Returns
    -------
    Mapping
        The validated, frozen mapping.

    Raises
    ------
    MappingError
        If the file is missing, is not YAML, or breaks the format; the message names the file
        and each offending key, e.g. ``sf.yaml: stages.reported: required key is missing``.
    """
    file = resolve_mapping_path(path)
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise MappingError(f"{file}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise MappingError(f"{file}: expected a mapping of keys at the top level")
    try:
        return Mapping.model_validate(data)
    except ValidationError as exc:
        raise MappingError(f"{file}: {_error_text(exc)}") from None
