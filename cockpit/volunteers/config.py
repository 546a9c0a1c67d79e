"""The volunteers rules: plausible hours, points, monthly grades, mobilisation re-call.

One YAML file (default: the shipped ``cockpit/volunteer_rules.yaml``;
``COCKPIT_VOLUNTEERS_FILE`` names the centre's own), validated here. Every error names the key
path and the reason. docs/volunteers.md describes each key.
"""

from __future__ import annotations

import functools
import hashlib
from datetime import timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cockpit.governance_config import ConfigError, Duration, load_model  # noqa: F401

DEFAULT_FILE = Path(__file__).resolve().parents[1] / "volunteer_rules.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HoursRules(_Strict):
    """When a check-in / check-out pair counts as verified service."""

    early_checkin: Duration = timedelta(hours=1)
    autoclose_after: Duration = timedelta(minutes=30)
    late_checkout: Duration = timedelta(hours=1)
    min_minutes: int = Field(default=10, ge=0)
    max_minutes: int = Field(default=720, ge=1)


class PointsRules(_Strict):
    """What verified work earns (积分)."""

    per_verified_hour: float = Field(default=10, ge=0)
    rating: dict[int, int] = Field(default_factory=lambda: {5: 5, 4: 3, 3: 1, 2: 0, 1: 0})
    mobilization_on_time: int = Field(default=20, ge=0)
    mobilization_late: int = Field(default=5, ge=0)

    @field_validator("rating")
    @classmethod
    def _ratings(cls, value: dict[int, int]) -> dict[int, int]:
        bad = sorted(k for k in value if not 1 <= k <= 5)
        if bad:
            raise ValueError(f"ratings are 1-5, not {bad}")
        return value


class Grade(_Strict):
    """A monthly grade: reached with at least ``min_points`` that month."""

    code: str
    zh: str
    en: str
    min_points: int = Field(ge=0)


class AssessmentRules(_Strict):
    """Monthly assessment of volunteers and teams."""

    grades: list[Grade] = Field(min_length=1)
    active_min_points: int = Field(default=20, ge=0)

    @field_validator("grades")
    @classmethod
    def _highest_first(cls, value: list[Grade]) -> list[Grade]:
        return sorted(value, key=lambda g: -g.min_points)


class MobilizationRules(_Strict):
    """When a mobilisation lags and should be re-called."""

    recall_after: float = Field(default=0.25, ge=0, le=1)
    recall_lag: float = Field(default=0.2, ge=0, le=1)
    show_after_deadline: Duration = timedelta(hours=1)


class VolunteerRules(_Strict):
    """The whole volunteers file."""

    hours: HoursRules = HoursRules()
    points: PointsRules = PointsRules()
    assessment: AssessmentRules
    mobilization: MobilizationRules = MobilizationRules()

    def grade(self, points: int) -> Grade | None:
        """The grade ``points`` in a month reach, or None below every grade."""
        for grade in self.assessment.grades:
            if points >= grade.min_points:
                return grade
        return None

    @property
    def fingerprint(self) -> str:
        """A short hash of the points and hours rules: changes when a points entry would."""
        text = self.hours.model_dump_json() + self.points.model_dump_json()
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_rules(path: str | Path | None = None) -> VolunteerRules:
    """Read and validate a volunteers rules file (default: the shipped one).

    Raises
    ------
    ConfigError
        If the file is missing, is not YAML, or breaks a rule; the message names the file, the
        key path and the reason.
    """
    return load_model(Path(path) if path else DEFAULT_FILE, "volunteers rules", VolunteerRules)


@functools.lru_cache(maxsize=8)
def cached_rules(path: str | None) -> VolunteerRules:
    """:func:`load_rules` once per process and path."""
    return load_rules(path)
