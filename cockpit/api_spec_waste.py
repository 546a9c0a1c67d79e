"""Response models of the waste routes of the read API (counts only, no one named).

Beside :mod:`cockpit.api_spec` (which holds the incidents' and volunteers' models);
:mod:`cockpit.api_doc` builds the OpenAPI document from both, and tests validate real
responses against them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AccuracyCounts(_Strict):
    """Rated disposals: ``correct`` of ``total``, and their weight in kg.

    ``rate`` is correct / total (None without any); kg is shown beside it, never mixed in.
    """

    correct: int
    total: int
    rate: float | None
    kg: float


class AccuracyItem(AccuracyCounts):
    """One group's accuracy.

    ``key`` as :func:`cockpit.waste.accuracy.accuracy_by` gives it (``group``:
    ``<village_code>|<group>``; ``day``: ``YYYY-MM-DD``; ``week``: ``YYYY-Www``; ``month``:
    ``YYYY-MM``; None: disposals without a village or station).
    """

    key: str | None


class AccuracyOut(_Strict):
    """Sorting accuracy per group over local days, against the ``target``.

    The period is ``first_day``..``last_day``, both included; ``overall`` counts every disposal
    of the period and scope.
    """

    as_of: str
    by: str
    first_day: str
    last_day: str
    target: float
    overall: AccuracyCounts
    count: int
    items: list[AccuracyItem]


class FollowupCounts(_Strict):
    """Disposals of one household before or after a visit: ``correct`` of ``total``."""

    correct: int
    total: int
    rate: float | None


class FollowupOut(_Strict):
    """A weak household's follow-up, without who was sent or what was said.

    ``reason``: below (under the threshold) or falling; ``finding``: the rule's figures
    (correct, total, window_days; falling adds previous_correct, previous_total). ``after`` is
    None until the visit; ``judged`` once enough disposals followed it. Times local ISO-8601.
    """

    followup_id: str
    household_id: str
    village_code: str | None
    group: str | None
    reason: str
    finding: dict[str, float]
    status: str
    found_at: str
    due_at: str
    overdue: bool
    assigned: bool
    visited_at: str | None
    outcome: str | None
    before: FollowupCounts
    after: FollowupCounts | None
    judged: bool


class FollowupList(_Strict):
    """Follow-ups: open and assigned ones first by due time, then the rest, newest first."""

    as_of: str
    count: int
    items: list[FollowupOut]
