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
# A loose scan of the (module, key, occurred_at) index: each step one index seek, so a read
# costs four seeks per KPI whatever the number of observations stored. Measured with 100 KPIs
# and 500,000 observations: 0.05-0.1 s on SQLite, 0.1-0.3 s on PostgreSQL (a busy 2-core
# machine), where one ROW_NUMBER() window over every observation took 2.5 s on either.
_FIRST_MODULE = select(func.min(_M.module))
_NEXT_MODULE = select(func.min(_M.module)).where(_M.module > bindparam("after"))
_FIRST_KEY = select(func.min(_M.key)).where(_M.module == bindparam("module"))
_NEXT_KEY = select(func.min(_M.key)).where(_M.module == bindparam("module"),
                                           _M.key > bindparam("after"))
_PAIR = (_M.module == bindparam("module"), _M.key == bindparam("key"))
#: When the newest subdistrict-wide value of one KPI at or before ``until`` was observed...
_NEWEST_AT = (select(_M.occurred_at)
              .where(*_PAIR, _M.village_code.is_(None), _M.occurred_at <= bindparam("until"))
              .order_by(_M.occurred_at.desc()).limit(1))
#: ...and that value: at equal times the later arrival (a correction) wins.
_VALUE_AT = (select(_M.value, _M.unit)
             .where(*_PAIR, _M.village_code.is_(None), _M.occurred_at == bindparam("at"))
             .order_by(_M.received_at.desc(), _M.event_id.desc()).limit(1))


def _pairs(session: Session, limit: int) -> list[tuple[str, str]]:
    """Every (module, key) stored, in order, at most ``limit`` of them."""
    out: list[tuple[str, str]] = []
    module = session.scalar(_FIRST_MODULE)
    while module is not None and len(out) < limit:
        key = session.scalar(_FIRST_KEY, {"module": module})
        while key is not None and len(out) < limit:
            out.append((module, key))
            key = session.scalar(_NEXT_KEY, {"module": module, "after": key})
        module = session.scalar(_NEXT_MODULE, {"after": module})
    return out


def _value(session: Session, module: str, key: str, until: datetime):
    """The newest subdistrict-wide (value, unit, occurred_at) at or before ``until``, or None."""
    at = session.scalar(_NEWEST_AT, {"module": module, "key": key, "until": until})
    if at is None:
        return None
    row = session.execute(_VALUE_AT, {"module": module, "key": key, "at": at}).first()
    return (row.value, row.unit, at) if row is not None else None


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
        Most (module, key) pairs looked at, in (module, key) order.

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
    out = []
    for module, key in _pairs(session, max(0, limit)):
        newest = _value(session, module, key, now)
        if newest is None:
            continue  # only values of villages, or only later ones
        value, unit, at = newest
        earlier = _value(session, module, key, now - timedelta(hours=hours))
        before = None if earlier is None else float(earlier[0])
        out.append({"module": module, "key": key, "value": float(value), "unit": unit or None,
                    "at": at.astimezone(tz).isoformat(), "before": before,
                    "change": None if before is None else float(value) - before})
    return out
