"""The alert rules: thresholds on incident counts, waste-sorting accuracy and any module's KPI.

One YAML file (default: the shipped ``cockpit/alert_rules.yaml``; ``COCKPIT_ALERTS_FILE``
names the centre's own) validated by the pydantic models below. Every error names the rule
and the key, e.g. ``alert_rules.yaml: rules.1 (fire-burst).measure.window: 'soon' is not a
duration such as 90s, 15m, 2h or 1d, nor today, this_week or this_month``. docs/alerts.md
describes each key.
"""

from __future__ import annotations

import functools
import hashlib
import operator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BeforeValidator, Field, ValidationError, model_validator

from cockpit.governance_config import (
    Codes,
    ConfigError,
    Duration,
    _Strict,
    error_message,
    parse_duration,
    read_yaml,
)
from cockpit.vocab import (
    STAGE_TERMS,
    Category,
    Priority,
    Stage,
    _lookup,
    parse_category,
    parse_priority,
)

DEFAULT_FILE = Path(__file__).resolve().parent / "alert_rules.yaml"
#: Calendar windows: from the start of the local day, ISO week (Monday) or month until now.
CALENDAR = ("today", "this_week", "this_month")
#: Comparisons a rule may use, by their YAML spelling.
COMPARE = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}
_COMPARE_WORDS = {"gt": ">", "ge": ">=", "lt": "<", "le": "<=", "above": ">", "below": "<"}


class AlertRulesError(ConfigError):
    """The alert-rules file is missing, not YAML, or invalid; the message says where and why."""


def _window(value: object) -> object:
    if isinstance(value, str) and value.strip() in CALENDAR:
        return value.strip()
    try:
        return parse_duration(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a duration such as 90s, 15m, 2h or 1d, nor "
                         f"{', '.join(CALENDAR[:-1])} or {CALENDAR[-1]}") from None


#: A rolling duration (``1h``) or a calendar window (``today``, ``this_week``, ``this_month``).
Window = Annotated[timedelta | Literal["today", "this_week", "this_month"],
                   BeforeValidator(_window)]


def window_start(window: timedelta | str, now: datetime, tz: ZoneInfo) -> datetime:
    """Return when ``window`` (see :data:`Window`) began, as of ``now`` (aware, any zone).

    Calendar windows start at local midnight (``tz``) of today, of this ISO week's Monday or
    of the month's first day; a rolling one ``window`` before ``now``.
    """
    if isinstance(window, timedelta):
        return now - window
    local = now.astimezone(tz)
    day = local.date()
    if window == "this_week":
        day -= timedelta(days=day.weekday())
    elif window == "this_month":
        day = day.replace(day=1)
    return datetime(day.year, day.month, day.day, tzinfo=tz)


def _compare(value: object) -> object:
    text = str(value).strip()
    return _COMPARE_WORDS.get(text, text)


def _terms(parse):
    """A before-validator of one value or a list of codes or labels (``fire`` or ``火情``)."""
    def validate(value: object) -> object:
        if value is None:
            return None
        return [parse(v) for v in (value if isinstance(value, list | tuple) else [value])]
    return BeforeValidator(validate)


Categories = Annotated[list[Category] | None, _terms(parse_category)]
Priorities = Annotated[list[Priority] | None, _terms(parse_priority)]
Stages = Annotated[list[Stage] | None, _terms(lambda v: _lookup(Stage, STAGE_TERMS, v))]


class Text(_Strict):
    """A label in zh-CN and English."""

    zh: str = Field(min_length=1, max_length=80)
    en: str = Field(min_length=1, max_length=120)


class IncidentCount(_Strict):
    """Incidents reported within ``window``, of the given categories, priorities and stages."""

    type: Literal["incident_count"]
    category: Categories = None
    priority: Priorities = None
    #: Current stage (e.g. only open ones: reported ... resolved).
    stage: Stages = None
    per: Literal["village", "subdistrict"] = "village"
    window: Window


class WasteAccuracy(_Strict):
    """Waste-sorting accuracy (%, correct of rated disposals) over ``window``'s local days."""

    type: Literal["waste_accuracy"]
    per: Literal["village", "subdistrict"] = "village"
    window: Window = "this_week"
    #: Fewer rated disposals than this and there is no figure (no alert on three disposals).
    min_disposals: int = Field(default=20, ge=1)


class MetricMeasure(_Strict):
    """Any ``metric.observed`` (module, key): its latest value or an aggregate over ``window``."""

    type: Literal["metric"]
    module: str = Field(min_length=1, max_length=128)
    key: str = Field(min_length=1, max_length=128)
    per: Literal["village", "subdistrict"] = "subdistrict"
    aggregate: Literal["latest", "avg", "sum", "min", "max", "count"] = "latest"
    #: Observations within it count (``latest``: a value older than it is no figure).
    window: Window = timedelta(hours=24)


Measure = Annotated[IncidentCount | WasteAccuracy | MetricMeasure, Field(discriminator="type")]


class AlertRule(_Strict):
    """One rule: a measure per scope compared with a threshold."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,47}$")
    title: Text
    measure: Measure
    compare: Annotated[Literal[">", ">=", "<", "<="], BeforeValidator(_compare)]
    threshold: float
    #: Hysteresis: an active alert clears only when the measure no longer crosses this
    #: (e.g. raised below 90 %, cleared at 92 % and more). Default: the threshold.
    clear_at: float | None = None
    severity: Annotated[Priority, BeforeValidator(parse_priority)] = Priority.URGENT
    #: Unit spoken after the figures (default: 起 / incidents, %, or the metric's own unit).
    unit: Text | None = None
    #: Only these villages (codes); default every village.
    villages: Codes = None
    #: An unacknowledged notice of an active alert is raised up the ladder (governance.yaml).
    escalate: bool = True
    enabled: bool = True

    @model_validator(mode="after")
    def _sensible(self) -> AlertRule:
        if self.clear_at is not None:
            wrong = (self.clear_at > self.threshold if self.compare in (">", ">=")
                     else self.clear_at < self.threshold)
            if wrong:
                side = "at or below" if self.compare in (">", ">=") else "at or above"
                raise ValueError(f"clear_at: {self.clear_at:g} must be {side} the threshold "
                                 f"{self.threshold:g}")
        if self.villages is not None and self.measure.per == "subdistrict":
            raise ValueError("villages: only for a measure per village")
        if isinstance(self.measure, WasteAccuracy) and not 0 <= self.threshold <= 100:
            raise ValueError("threshold: accuracy is a percentage, 0 to 100")
        return self

    def crossed(self, value: float) -> bool:
        """Whether ``value`` crosses the threshold (the alert is raised)."""
        return COMPARE[self.compare](value, self.threshold)

    def holds(self, value: float | None) -> bool:
        """Whether an active alert stays active at ``value`` (None: no figure: it clears)."""
        if value is None:
            return False
        return COMPARE[self.compare](value, self.threshold if self.clear_at is None
                                     else self.clear_at)


class Evaluation(_Strict):
    """How often the ingest evaluates the rules."""

    #: Shortest time between two evaluations after stored events changed something.
    after_commit: Duration = timedelta(seconds=2)
    #: Evaluation without new events (windows move on: alerts clear, calendar days turn).
    every: Duration = timedelta(seconds=30)


class AlertRules(_Strict):
    """The whole alert-rules file."""

    evaluation: Evaluation = Evaluation()
    rules: list[AlertRule] = Field(default_factory=list, max_length=500)

    @model_validator(mode="after")
    def _unique(self) -> AlertRules:
        ids = [r.id for r in self.rules]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"rules: duplicate id(s) {', '.join(duplicates)}")
        return self

    @property
    def active(self) -> list[AlertRule]:
        """The enabled rules."""
        return [r for r in self.rules if r.enabled]

    def rule(self, rule_id: str) -> AlertRule | None:
        """Return the rule with this id, or None."""
        return next((r for r in self.rules if r.id == rule_id), None)

    @property
    def fingerprint(self) -> str:
        """A short hash of the validated content: changes when any rule changes."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]


def _named(exc: ValidationError, data: dict[str, Any]) -> str:
    """The validation errors, each naming the rule by index and id and the key.

    ``rules.1 (fire-burst).measure.window: …``; an error of a whole rule (its keys disagree)
    names the key its message starts with: ``rules.5 (x).clear_at: 5 must be …``.
    """
    rules = data.get("rules") if isinstance(data.get("rules"), list) else []
    parts = []
    for err in exc.errors(include_url=False):
        loc = [str(p) for p in err["loc"]]
        msg = error_message(err)
        if len(loc) >= 3 and loc[2] == "measure" and loc[3:4] and loc[3] in (
                "incident_count", "waste_accuracy", "metric"):
            del loc[3]  # the union's tag: rules.0.measure.metric.key -> rules.0.measure.key
        if len(loc) == 2 and loc[0] == "rules" and ": " in msg:
            key, msg = msg.split(": ", 1)  # a rule-level check names its key first
            loc.append(key)
        if len(loc) >= 2 and loc[0] == "rules" and loc[1].isdigit():
            i = int(loc[1])
            rule = rules[i] if i < len(rules) else None
            if isinstance(rule, dict) and rule.get("id"):
                loc[1] = f"{i} ({rule['id']})"
        where = ".".join(loc)
        parts.append(f"{where}: {msg}" if where else msg)
    return "; ".join(parts)


def load_alert_rules(path: str | Path | None = None) -> AlertRules:
    """Read and validate an alert-rules file (default: the shipped ``cockpit/alert_rules.yaml``).

    Raises
    ------
    AlertRulesError
        A :class:`ConfigError`: the file is missing, is not YAML, or breaks a rule; the message
        names the file, the rule (index and id), the key and the reason.
    """
    file = Path(path) if path else DEFAULT_FILE
    try:
        data = read_yaml(file, "alert rules")
    except ConfigError as exc:
        raise AlertRulesError(str(exc)) from None
    try:
        return AlertRules.model_validate(data)
    except ValidationError as exc:
        raise AlertRulesError(f"{file.name}: {_named(exc, data)}") from None


@functools.lru_cache(maxsize=8)
def cached_alert_rules(path: str | None) -> AlertRules:
    """:func:`load_alert_rules` once per process and path (the file is read at start)."""
    return load_alert_rules(path)
