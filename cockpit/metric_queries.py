"""The latest KPI of every other module, from the ``metric.observed`` events stored.

Upstream systems of the other modules (数字+经济, 数字+服务 ...) publish KPIs on the metrics
stream; the ingest stores each one as a :class:`cockpit.store.models.MetricObservation`. The
wall shows one tile per (module, key): :func:`latest_metrics` gives its latest value, its unit
and how it moved since the value it had 24 hours before. Values of one village (``village``
given in the event) are not the subdistrict's KPI and are left out here.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from cockpit.clock import utc_now
from cockpit.store.models import MetricObservation

#: What "earlier" means for a tile's change, hours.
CHANGE_HOURS = 24.0
#: Most (module, key) pairs returned: more than any wall shows.
MAX_METRICS = 200

_M = MetricObservation
#: The newest observation of every subdistrict-wide (module, key) at or before ``until``: the
#: latest occurred_at wins, a later arrival breaks a tie (a correction sent for the same time).
_RANK = func.row_number().over(
    partition_by=(_M.module, _M.key),
    order_by=(_M.occurred_at.desc(), _M.received_at.desc(), _M.event_id.desc()))
_RANKED = (select(_M.module, _M.key, _M.value, _M.unit, _M.occurred_at, _RANK.label("rank"))
           .where(_M.village_code.is_(None), _M.occurred_at <= bindparam("until"))
           .subquery())
_NEWEST = (select(_RANKED.c.module, _RANKED.c.key, _RANKED.c.value, _RANKED.c.unit,
                  _RANKED.c.occurred_at)
           .where(_RANKED.c.rank == 1)
           .order_by(_RANKED.c.module, _RANKED.c.key))


def latest_metrics(session: Session, tz: ZoneInfo, now: datetime | None = None,
                   hours: float = CHANGE_HOURS, limit: int = MAX_METRICS) -> list[dict[str, Any]]:
    """Return the latest value of every module's KPI, with its change over ``hours``.

    Parameters
    ----------
    session : Session
        Any session; nothing is written.
    tz : ZoneInfo
        Zone of the times returned (``Settings.tz``).
    now : datetime, optional
        Aware time of the read (default: now); observations after it are not seen.
    hours : float
        The change is against the latest value at or before ``now - hours`` (24 h).
    limit : int
        Most (module, key) pairs returned, in (module, key) order.

    Returns
    -------
    list of dict
        One per (module, key) with at least one subdistrict-wide observation (no village),
        ordered by module then key: ``module``, ``key``, ``value`` (float, in ``unit``),
        ``unit`` (str or None, the latest observation's), ``at`` (ISO-8601 in ``tz``: when
        the latest value was observed), ``before`` (the value ``hours`` earlier, or None when
        none was observed by then) and ``change`` (``value - before``, or None).
    """
    now = now or utc_now()
    latest = session.execute(_NEWEST, {"until": now}).all()[:max(0, limit)]
    if not latest:
        return []
    earlier = {(r.module, r.key): r.value
               for r in session.execute(_NEWEST, {"until": now - timedelta(hours=hours)})}
    out = []
    for row in latest:
        before = earlier.get((row.module, row.key))
        at = row.occurred_at
        out.append({"module": row.module, "key": row.key, "value": float(row.value),
                    "unit": row.unit or None,
                    "at": at.astimezone(tz).isoformat() if at is not None else None,
                    "before": None if before is None else float(before),
                    "change": None if before is None else float(row.value) - float(before)})
    return out
