"""The waste-sorting rules: the accuracy target, the weak-household rule and follow-ups.

One YAML file (default: the shipped ``cockpit/waste_rules.yaml``; ``COCKPIT_WASTE_FILE`` names
the centre's own), validated here. Every error names the key path and the reason.
docs/waste.md describes each key.
"""

from __future__ import annotations

import functools
import hashlib
from datetime import timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from cockpit.governance_config import ConfigError, Duration, load_model  # noqa: F401

DEFAULT_FILE = Path(__file__).resolve().parents[1] / "waste_rules.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FallingRule(_Strict):
    """A household whose accuracy fell by ``drop`` from one ``window`` to the next."""

    window: Duration = timedelta(days=14)
    min_disposals: int = Field(default=4, ge=1)
    drop: float = Field(default=0.2, gt=0, le=1)


class WeakRule(_Strict):
    """Which households the analysis marks weak (薄弱户)."""

    window: Duration = timedelta(days=30)
    min_disposals: int = Field(default=6, ge=1)
    below: float = Field(default=0.8, gt=0, le=1)
    #: One-sided confidence that a household's accuracy really is under ``below`` (or really
    #: fell): the rule compares the upper bound of its Wilson score interval, not the raw
    #: rate, so a household is not flagged for the chance of a few disposals. 0: raw rate.
    confidence: float = Field(default=0.95, ge=0, lt=1)
    falling: FallingRule | None = FallingRule()


class FollowUpRules(_Strict):
    """Visit deadline, the windows of the before/after measure, and the cooldown."""

    due: Duration = timedelta(days=7)
    before: Duration = timedelta(days=30)
    after: Duration = timedelta(days=30)
    min_after: int = Field(default=4, ge=1)
    cooldown: Duration = timedelta(days=30)


class TrendRules(_Strict):
    """How far back the daily and weekly trends reach."""

    days: int = Field(default=30, ge=1, le=366)
    weeks: int = Field(default=12, ge=1, le=104)


class WasteRules(_Strict):
    """The whole waste rules file."""

    target: float = Field(default=0.95, gt=0, le=1)
    weak: WeakRule = WeakRule()
    follow_up: FollowUpRules = FollowUpRules()
    trend: TrendRules = TrendRules()

    @property
    def fingerprint(self) -> str:
        """A short hash of the rules that decide follow-ups: changes when a finding would."""
        text = self.weak.model_dump_json() + self.follow_up.model_dump_json()
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_waste_rules(path: str | Path | None = None) -> WasteRules:
    """Read and validate a waste rules file (default: the shipped one).

    Raises
    ------
    ConfigError
        If the file is missing, is not YAML, or breaks a rule; the message names the file, the
        key path and the reason.
    """
    return load_model(Path(path) if path else DEFAULT_FILE, "waste rules", WasteRules)


@functools.lru_cache(maxsize=8)
def cached_waste_rules(path: str | None) -> WasteRules:
    """:func:`load_waste_rules` once per process and path."""
    return load_waste_rules(path)
