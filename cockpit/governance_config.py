"""The incident-governance configuration: stage limits, escalation ladder, routing, notices.

One YAML file (default: the shipped ``cockpit/governance.yaml``; ``COCKPIT_GOVERNANCE_FILE``
names the centre's own) validated by the pydantic models below. Every error names the key
path and the reason, e.g. ``governance.yaml: limits.2.limits.arived: unknown stage``.
docs/governance.md describes each key.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from cockpit.vocab import TERMINAL_STAGES, Category, Priority, Stage

M = TypeVar("M", bound=BaseModel)
DEFAULT_FILE = Path(__file__).resolve().parent / "governance.yaml"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
#: Stages that can have a time limit: every stage an incident can wait in.
LIMITED_STAGES = tuple(s for s in Stage if s not in TERMINAL_STAGES)


class ConfigError(ValueError):
    """The governance file is missing, not YAML, or invalid; the message says where and why."""


def parse_duration(value: object) -> timedelta:
    """Return a duration from seconds (int/float) or text like ``90s``, ``15m``, ``2h``, ``1d``.

    Raises
    ------
    ValueError
        If the value is negative or not of that form.
    """
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    elif isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a duration such as 90s, 15m, 2h or 1d")
        seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    if seconds < 0:
        raise ValueError(f"{value!r} is negative")
    return timedelta(seconds=seconds)


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def _codes(value: Any) -> Any:
    """Accept one value or a list; numbers (village codes written bare in YAML) become text."""
    if value is None:
        return None
    items = value if isinstance(value, list | tuple) else [value]
    return [str(v) for v in items]


Codes = Annotated[list[str] | None, BeforeValidator(_codes)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LimitRule(_Strict):
    """Stage limits for incidents of some categories and/or priorities (none given: all)."""

    category: list[Category] | None = None
    priority: list[Priority] | None = None
    limits: dict[Stage, Duration]

    @model_validator(mode="after")
    def _open_stages_only(self) -> LimitRule:
        for stage in self.limits:
            if stage in TERMINAL_STAGES:
                raise ValueError(f"{stage.value} is final and can have no limit")
        return self

    @property
    def specificity(self) -> int:
        """2 for a category, 1 for a priority: category + priority beats category alone."""
        return 2 * (self.category is not None) + (self.priority is not None)

    def matches(self, category: str | None, priority: str | None) -> bool:
        """Whether the rule applies to an incident of this category and priority (codes)."""
        return ((self.category is None or category in self.category)
                and (self.priority is None or priority in self.priority))


class Level(_Strict):
    """One step of the escalation ladder."""

    level: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    zh: str
    en: str
    after: Duration = Field(description="Lateness past the limit at which this level is raised.")
    ack_within: Duration = Field(description="A notice to this level must be acknowledged within.")


class Team(_Strict):
    """A responsible team (综治队 squad or department)."""

    code: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    zh: str
    en: str
    kind: str = "squad"


class RouteRule(_Strict):
    """Category × village (or grid) → team; a list left out matches everything."""

    category: list[Category] | None = None
    villages: Codes = None
    grids: Codes = None
    team: str

    def matches(self, category: str | None, village: str | None, grid: str | None) -> bool:
        """Whether the rule applies to an incident with these codes."""
        return ((self.category is None or category in self.category)
                and (self.villages is None or village in self.villages)
                and (self.grids is None or grid in self.grids))


class Notifications(_Strict):
    """Who is told of what, and how the wall repeats its announcement."""

    priorities: list[Priority] = Field(default_factory=lambda: list(Priority))
    max_age: Duration = timedelta(minutes=10)
    repeat_every: Duration = timedelta(seconds=30)
    wall_window: Duration = timedelta(minutes=30)


class Repeats(_Strict):
    """Repeat detection: incidents of one category this close in space and time are grouped."""

    distance_m: float = Field(default=150.0, gt=0, le=5000)
    window: Duration = timedelta(hours=72)
    categories: list[Category] | None = None


class GovernanceConfig(_Strict):
    """The whole governance file."""

    limits: list[LimitRule] = Field(default_factory=list)
    escalation: list[Level] = Field(min_length=1)
    teams: list[Team] = Field(default_factory=list)
    routing: list[RouteRule] = Field(default_factory=list)
    notifications: Notifications = Notifications()
    repeats: Repeats = Repeats()

    @model_validator(mode="after")
    def _consistent(self) -> GovernanceConfig:
        codes = [t.code for t in self.teams]
        duplicates = sorted({c for c in codes if codes.count(c) > 1})
        if duplicates:
            raise ValueError(f"teams: duplicate code(s) {', '.join(duplicates)}")
        for i, rule in enumerate(self.routing):
            if rule.team not in codes:
                raise ValueError(f"routing.{i}.team: {rule.team!r} is not a code under teams")
        afters = [lv.after for lv in self.escalation]
        if afters != sorted(afters):
            raise ValueError("escalation: levels must be in order of increasing `after`")
        names = [lv.level for lv in self.escalation]
        if len(set(names)) != len(names):
            raise ValueError("escalation: duplicate level")
        return self

    # -- lookups ---------------------------------------------------------------------------
    def limit(self, category: str | None, priority: str | None, stage: str) -> timedelta | None:
        """Return the time an incident may stay in ``stage``, or None (no limit).

        The most specific matching rule that sets the stage wins; among equals, the later.
        """
        best: tuple[int, int, timedelta] | None = None
        for order, rule in enumerate(self.limits):
            value = rule.limits.get(stage)  # type: ignore[call-overload]
            if value is None or not rule.matches(category, priority):
                continue
            key = (rule.specificity, order, value)
            if best is None or key[:2] > best[:2]:
                best = key
        return None if best is None else best[2]

    def route(self, category: str | None, village: str | None, grid: str | None) -> str | None:
        """Return the code of the team the first matching routing rule names, or None."""
        for rule in self.routing:
            if rule.matches(category, village, grid):
                return rule.team
        return None

    def team(self, code_or_name: str | None) -> Team | None:
        """Return the configured team with this code or Chinese/English name, or None."""
        if not code_or_name:
            return None
        text = code_or_name.strip()
        for team in self.teams:
            if text in (team.code, team.zh) or text.lower() == team.en.lower():
                return team
        return None

    def level_index(self, lateness: timedelta) -> int:
        """Return how many ladder levels an incident this late (≥ 0) has reached."""
        return sum(1 for lv in self.escalation if lateness >= lv.after)

    def notifies(self, priority: str | None) -> bool:
        """Whether new incidents of this priority are notified and announced."""
        return priority in self.notifications.priorities

    @property
    def fingerprint(self) -> str:
        """A short hash of the validated content: changes when any rule changes."""
        text = self.model_dump_json()
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def error_message(err: Mapping[str, Any]) -> str:
    """Return the reason of one pydantic error (an item of ``exc.errors()``) as the files say it."""
    if err["type"] == "missing":
        return "required key is missing"
    if err["type"] == "extra_forbidden":
        return "unknown key"
    return err["msg"].removeprefix("Value error, ")


def _where(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"])
        msg = error_message(err)
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)


def read_yaml(file: Path, what: str) -> dict[str, Any]:
    """Read a rules file's top-level mapping.

    Raises
    ------
    ConfigError
        If the file is missing, not YAML or not a mapping; the message names the file and,
        for bad YAML, the line and column.
    """
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{file}: no such {what} file") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{file}: cannot read: not valid YAML{where}: {problem}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot read: {exc}".splitlines()[0]) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{file.name}: expected a mapping of keys at the top")
    return data


def load_model(file: Path, what: str, model: type[M]) -> M:
    """Read the YAML ``file`` and validate it as ``model`` (a pydantic model class).

    Raises
    ------
    ConfigError
        If the file is missing, is not YAML, or breaks a rule; the message names the file, the
        key path and the reason. ``what`` names the file's kind in the first two.
    """
    data = read_yaml(file, what)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{file.name}: {_where(exc)}") from None


def load_governance(path: str | Path | None = None) -> GovernanceConfig:
    """Read and validate a governance file (default: the shipped ``cockpit/governance.yaml``).

    Raises
    ------
    ConfigError
        If the file is missing, is not YAML, or breaks a rule; the message names the file, the
        key path and the reason.
    """
    return load_model(Path(path) if path else DEFAULT_FILE, "governance", GovernanceConfig)


@functools.lru_cache(maxsize=8)
def cached_governance(path: str | None) -> GovernanceConfig:
    """:func:`load_governance` once per process and path (the file is read at start)."""
    return load_governance(path)
