"""Scenario tiles: KPI tiles of the other modules, configured in a file rather than coded.

One YAML file (default: the shipped ``cockpit/tiles.yaml``; ``COCKPIT_TILES_FILE`` names the
centre's own) declares the scenarios (数字+经济, 数字+服务 ...) and, per tile, the
``metric.observed`` KPI it shows (module, key, optionally one village), its titles, unit,
decimals, thresholds and trend window. A new scenario or tile is an entry of the file, no
code: the web re-reads the file when it changes (:class:`TilesWatch`) and the wall shows it
at the next reload. docs/tiles.md describes each key.

Every error names the entry and the field, e.g.
``tiles.yaml: tiles[3] (id economy_output): thresholds.critical: must be below warn...``.
:func:`tile_states` (:mod:`cockpit.tile_queries`) computes what each tile shows.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
import time
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cockpit.governance_config import ConfigError, Duration, read_yaml
from cockpit.tile_queries import tile_states  # noqa: F401 - the module's public interface

log = logging.getLogger(__name__)

DEFAULT_FILE = Path(__file__).resolve().parent / "tiles.yaml"
#: Shortest and longest trend window.
MIN_WINDOW, MAX_WINDOW = timedelta(hours=1), timedelta(days=92)
_IDENT = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Direction(StrEnum):
    """Which way a value is good: its thresholds are crossed going down or going up."""

    HIGHER_IS_BETTER = "higher_is_better"
    HIGHER_IS_WORSE = "higher_is_worse"


class Text(_Strict):
    """A name in both languages of the UI."""

    zh: str = Field(min_length=1, max_length=40)
    en: str = Field(min_length=1, max_length=60)

    def get(self, lang: str) -> str:
        """Return the name in ``lang`` (``zh`` or ``en``)."""
        return self.en if lang == "en" else self.zh


class Unit(_Strict):
    """A unit in both languages (``{zh: 家, en: firms}``); a plain text is the same in both."""

    zh: str = Field(min_length=1, max_length=16)
    en: str = Field(default="", max_length=16)

    @model_validator(mode="before")
    @classmethod
    def _plain(cls, value: Any) -> Any:
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return {"zh": str(value), "en": str(value)}
        return value

    def get(self, lang: str) -> str:
        """Return the unit in ``lang`` (``zh`` or ``en``; English may be empty)."""
        return self.en if lang == "en" else self.zh


class Thresholds(_Strict):
    """Where a tile turns amber (``warn``) and red (``critical``).

    With ``higher_is_better`` a value at or below ``warn`` is warn and at or below
    ``critical`` is critical; with ``higher_is_worse`` at or above. Either may be left out.
    """

    direction: Direction
    warn: float | None = None
    critical: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.warn is None and self.critical is None:
            raise ValueError("give warn, critical or both")
        if self.warn is not None and self.critical is not None:
            if self.direction is Direction.HIGHER_IS_BETTER and self.critical > self.warn:
                raise ValueError(f"critical {self.critical:g} must be at or below warn "
                                 f"{self.warn:g} when higher is better")
            if self.direction is Direction.HIGHER_IS_WORSE and self.critical < self.warn:
                raise ValueError(f"critical {self.critical:g} must be at or above warn "
                                 f"{self.warn:g} when higher is worse")
        return self

    def state(self, value: float) -> str:
        """Return ``ok``, ``warn`` or ``critical`` for ``value`` (in the tile's unit)."""
        sign = 1.0 if self.direction is Direction.HIGHER_IS_WORSE else -1.0
        if self.critical is not None and sign * (value - self.critical) >= 0:
            return "critical"
        if self.warn is not None and sign * (value - self.warn) >= 0:
            return "warn"
        return "ok"


class Scenario(_Strict):
    """One scenario of the subdistrict: a panel of the wall's rotation."""

    id: str
    title: Text

    @field_validator("id")
    @classmethod
    def _ident(cls, value: str) -> str:
        if not _IDENT.match(value):
            raise ValueError(f"{value!r}: use lower-case letters, digits, _ . - (64 at most)")
        return value


class Tile(_Strict):
    """One KPI tile: which ``metric.observed`` values it shows and how."""

    id: str
    title: Text
    scenario: str
    module: str
    key: str
    village: str | None = None
    unit: Unit | None = None
    decimals: int | None = Field(default=None, ge=0, le=4)
    window: Duration = timedelta(hours=24)
    thresholds: Thresholds | None = None

    @field_validator("id")
    @classmethod
    def _ident(cls, value: str) -> str:
        return Scenario._ident(value)

    @field_validator("module", "key")
    @classmethod
    def _key(cls, value: str) -> str:
        if not _KEY.match(value):
            raise ValueError(f"{value!r} is not a module or key as events send it "
                             "(letters, digits, _ . : -)")
        return value

    @field_validator("village", mode="before")
    @classmethod
    def _village(cls, value: Any) -> str | None:
        if value is None:
            return None
        from cockpit.geo import resolve_village

        code = resolve_village(value)
        if code is None:
            raise ValueError(f"{value!r} is not a village code or name of the subdistrict")
        return code

    @field_validator("window")
    @classmethod
    def _window(cls, value: timedelta) -> timedelta:
        if not MIN_WINDOW <= value <= MAX_WINDOW:
            raise ValueError(f"{value} is outside 1h .. 92d")
        return value


class TilesConfig(_Strict):
    """The whole tiles file: scenarios, then tiles in the order the wall shows them."""

    scenarios: list[Scenario] = Field(default_factory=list)
    tiles: list[Tile] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> TilesConfig:
        problems = _cross_entry([s.id for s in self.scenarios],
                                [(t.id, t.scenario) for t in self.tiles])
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def scenario(self, scenario_id: str) -> Scenario | None:
        """Return the scenario with this id, or None."""
        return next((s for s in self.scenarios if s.id == scenario_id), None)

    def by_scenario(self) -> list[tuple[Scenario, list[Tile]]]:
        """Return the scenarios that have tiles, in file order, each with its tiles."""
        return [(s, [t for t in self.tiles if t.scenario == s.id]) for s in self.scenarios
                if any(t.scenario == s.id for t in self.tiles)]

    def configured(self) -> set[tuple[str, str]]:
        """Return the (module, key) pairs some subdistrict-wide tile shows."""
        return {(t.module, t.key) for t in self.tiles if t.village is None}

    @property
    def fingerprint(self) -> str:
        """A short hash of the validated content: changes when any entry changes."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]


def _cross_entry(scenario_ids: list[Any], tiles: list[tuple[Any, Any]]) -> list[str]:
    """Problems between entries, each naming its entry.

    A scenario declared twice, a tile id used twice, a tile whose scenario is not declared.
    ``tiles``: (id, scenario) in file order; a None (a field missing or of the wrong type) is
    left to the field checks.
    """
    problems: list[str] = []
    seen: set[Any] = set()
    for scenario_id in scenario_ids:
        if scenario_id in seen:
            problems.append(f"scenario {scenario_id!r} is declared twice")
        seen.add(scenario_id)
    ids: set[Any] = set()
    for index, (tile_id, scenario) in enumerate(tiles):
        where = f"tiles[{index}]" + (f" (id {tile_id})" if tile_id is not None else "")
        if tile_id is not None and tile_id in ids:
            problems.append(f"{where}: id: {tile_id!r} is used by an earlier tile")
        ids.add(tile_id)
        if scenario is not None and scenario not in seen:
            problems.append(f"{where}: scenario: {scenario!r} is not declared under scenarios "
                            f"({', '.join(sorted(map(str, seen))) or 'none'})")
    return problems


def _raw_cross_entry(data: dict[str, Any]) -> list[str]:
    """:func:`_cross_entry` on the file as read, for a file whose fields also fail.

    So that all its problems are reported at once, not the cross-entry ones only after the
    fields are fixed.
    """
    def items(name: str) -> list[dict[str, Any]]:
        value = data.get(name) if isinstance(data, dict) else None
        return [i if isinstance(i, dict) else {} for i in value] if isinstance(value, list) \
            else []

    def text(value: Any) -> Any:
        return value if isinstance(value, str) and value else None

    return _cross_entry([i for i in (text(s.get("id")) for s in items("scenarios"))
                         if i is not None],
                        [(text(t.get("id")), text(t.get("scenario"))) for t in items("tiles")])


def _entry(data: dict[str, Any], loc: tuple) -> str:
    """``tiles[3] (id x): field.sub`` for a pydantic error location."""
    if len(loc) >= 2 and loc[0] in ("tiles", "scenarios") and isinstance(loc[1], int):
        items = data.get(loc[0]) or []
        item = items[loc[1]] if loc[1] < len(items) else None
        name = f" (id {item['id']})" if isinstance(item, dict) and item.get("id") else ""
        rest = ".".join(str(p) for p in loc[2:])
        return f"{loc[0]}[{loc[1]}]{name}" + (f": {rest}" if rest else "")
    return ".".join(str(p) for p in loc)


def _errors(data: dict[str, Any], exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            msg = "required field is missing"
        elif err["type"] == "extra_forbidden":
            msg = "unknown field"
        where = _entry(data, tuple(err["loc"]))
        parts.append(f"{where}: {msg}" if where else msg)
    return "; ".join(parts)


def load_tiles(path: str | Path | None = None) -> TilesConfig:
    """Read and validate a tiles file (default: the shipped ``cockpit/tiles.yaml``).

    Parameters
    ----------
    path : str or Path, optional
        The file; None reads :data:`DEFAULT_FILE`.

    Returns
    -------
    TilesConfig
        Scenarios and tiles, in file order.

    Raises
    ------
    ConfigError
        If the file is missing, is not YAML, or breaks a rule; the message names the file,
        the entry (its index and id), the field and the reason.
    """
    file = Path(path) if path else DEFAULT_FILE
    data = read_yaml(file, "tiles")
    try:
        return TilesConfig.model_validate(data)
    except ValidationError as exc:
        message = _errors(data, exc)
        more = [p for p in _raw_cross_entry(data) if p not in message]
        raise ConfigError(f"{file.name}: " + "; ".join([message, *more])) from None


class TilesWatch:
    """The tiles file as the web sees it: re-read when it changes, the last good one kept.

    :meth:`current` looks at the file's modification time and size (one ``stat``) at most
    every ``every_s`` seconds and reads it again when they changed. A file that does not
    load is logged (once per change) and the last good configuration stays; a bad file at
    start gives an empty configuration (no configured tile; every KPI shows as generic).
    """

    def __init__(self, path: str | Path | None = None, every_s: float = 1.0) -> None:
        self.path = Path(path) if path else DEFAULT_FILE
        self.every_s = every_s
        self.config = TilesConfig()
        self.error: str | None = None
        self._stamp: tuple[int, int] | None = (-1, -1)  # never looked at
        self._checked = float("-inf")
        self._lock = threading.Lock()
        self.current()

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def current(self, now: float | None = None) -> TilesConfig:
        """Return the configuration, read again if the file changed since the last look.

        Parameters
        ----------
        now : float, optional
            A monotonic time (``time.monotonic()``); looks closer together than ``every_s``
            return the kept configuration without a ``stat``.
        """
        now = time.monotonic() if now is None else now
        with self._lock:
            if now - self._checked < self.every_s:
                return self.config
            self._checked = now
            stamp = self._file_stamp()
            if stamp == self._stamp:
                return self.config
            self._stamp = stamp
            try:
                self.config = load_tiles(self.path)
                self.error = None
                log.info("tiles file %s: %d scenarios, %d tiles", self.path,
                         len(self.config.scenarios), len(self.config.tiles))
            except ConfigError as exc:
                self.error = str(exc)
                log.error("tiles file not loaded, keeping the last good one (%d tiles): %s",
                          len(self.config.tiles), exc)
            return self.config
