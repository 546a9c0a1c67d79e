"""Response model of ``/api/v1/alerts`` (:func:`cockpit.alert_queries.list_alerts`).

Beside :mod:`cockpit.api_spec`; :mod:`cockpit.api_doc` builds the OpenAPI document from it, and
tests validate real responses against it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AlertOut(_Strict):
    """One alert episode of one rule in one scope (a village, or ``subdistrict``).

    ``raised_value`` is the measure when raised, ``value`` its latest figure (None: no figure,
    e.g. too few rated disposals); ``acked_*`` come from its notice's acknowledgement.
    """

    alert_id: str
    rule_id: str
    scope: str
    scope_zh: str
    scope_en: str
    village_code: str | None
    severity: str
    status: Literal["active", "acknowledged", "cleared"]
    title_zh: str
    title_en: str
    text_zh: str
    text_en: str
    compare: str
    threshold: float
    raised_value: float
    value: float | None
    raised_at: str
    cleared_at: str | None
    notification_id: str
    acked_at: str | None
    acked_by: str | None
    ack_channel: str | None


class AlertCounts(_Strict):
    """Alerts of each status (cleared: within the last 7 days)."""

    active: int
    acknowledged: int
    cleared: int


class AlertList(_Strict):
    """Uncleared alerts first, then the most recent; counts of every status."""

    as_of: str
    counts: AlertCounts
    count: int
    items: list[AlertOut]
