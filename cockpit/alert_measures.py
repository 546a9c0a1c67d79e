"""What an alert rule measures, per scope, from the stored events; and how its alert reads.

Each measure is one grouped query, whatever the number of villages: incidents counted by
village, waste disposals tallied by village, metric observations aggregated by village (or
the subdistrict's own rows). A scope is a village code or :data:`SUBDISTRICT`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, and_, cast, func, select
from sqlalchemy.orm import Session

from cockpit import geo
from cockpit.alerts_config import AlertRule, IncidentCount, MetricMeasure, window_start
from cockpit.store.models import Incident, MetricObservation
from cockpit.store.waste_models import WasteDisposal

SUBDISTRICT = "subdistrict"
#: How the comparison reads in an alert, zh-CN and English.
COMPARE_WORDS = {">": ("超过", "above"), ">=": ("达到", "at or above"), "<": ("低于", "below"),
                 "<=": ("不高于", "at or below")}
_AGGREGATES = {"avg": func.avg, "sum": func.sum, "min": func.min, "max": func.max,
               "count": func.count}


def _villages(rule: AlertRule) -> list[str]:
    """The village scopes of a per-village rule: its list, or every known village."""
    return list(rule.villages) if rule.villages is not None else list(geo.village_names())


def _incident_counts(session: Session, measure: IncidentCount, rule: AlertRule, tz: ZoneInfo,
                     now: datetime) -> dict[str, float | None]:
    i = Incident
    since = window_start(measure.window, now, tz)
    where = [i.reported_at >= since, i.reported_at <= now]
    for column, values in ((i.category, measure.category), (i.priority, measure.priority),
                           (i.stage, measure.stage)):
        if values is not None:
            where.append(column.in_([v.value for v in values]))
    if measure.per == SUBDISTRICT:
        return {SUBDISTRICT: float(session.scalar(select(func.count()).where(*where)) or 0)}
    counts = dict(session.execute(select(i.village_code, func.count()).where(*where)
                                  .group_by(i.village_code)).all())
    # a village without incidents counts 0 (a rule may ask for "fewer than")
    return {code: float(counts.get(code, 0)) for code in _villages(rule)}


def _accuracy(session: Session, rule: AlertRule, tz: ZoneInfo,
              now: datetime) -> dict[str, float | None]:
    measure = rule.measure
    d = WasteDisposal
    if isinstance(measure.window, timedelta):
        where = [d.occurred_at >= now - measure.window, d.occurred_at <= now]
    else:  # calendar windows by the disposals' local day (the index the waste pages use)
        start = window_start(measure.window, now, tz).date()
        where = [d.local_day >= start.isoformat(),
                 d.local_day <= now.astimezone(tz).date().isoformat()]
    tally = (func.sum(cast(d.correct, Integer)), func.count())
    if measure.per == SUBDISTRICT:
        rows = [(SUBDISTRICT, *session.execute(select(*tally).where(*where)).one())]
    else:
        rows = session.execute(select(d.village_code, *tally).where(*where)
                               .group_by(d.village_code)).all()
    wanted = None if measure.per == SUBDISTRICT else set(_villages(rule))
    out: dict[str, float | None] = {}
    for key, correct, total in rows:
        if key is None or (wanted is not None and key not in wanted):
            continue
        enough = int(total or 0) >= measure.min_disposals
        out[key] = 100.0 * int(correct or 0) / int(total) if enough else None
    return out


def _metric(session: Session, measure: MetricMeasure, rule: AlertRule, tz: ZoneInfo,
            now: datetime) -> dict[str, float | None]:
    m = MetricObservation
    since = window_start(measure.window, now, tz)
    where = [m.module == measure.module, m.key == measure.key, m.occurred_at >= since,
             m.occurred_at <= now]
    per_village = measure.per != SUBDISTRICT
    where.append(m.village_code.is_not(None) if per_village else m.village_code.is_(None))
    scope = m.village_code if per_village else func.coalesce(m.village_code, SUBDISTRICT)
    if measure.aggregate == "latest":
        newest = (select(m.village_code.label("v"), func.max(m.occurred_at).label("at"))
                  .where(*where).group_by(m.village_code).subquery())
        rows = session.execute(
            select(scope, m.value).join(newest, and_(
                (m.village_code == newest.c.v) | (m.village_code.is_(None) & newest.c.v.is_(None)),
                m.occurred_at == newest.c.at))
            .where(m.module == measure.module, m.key == measure.key)
            .order_by(m.received_at, m.event_id)).all()  # at equal times the later arrival wins
    else:
        rows = session.execute(select(scope, _AGGREGATES[measure.aggregate](m.value))
                               .where(*where).group_by(m.village_code)).all()
    wanted = set(_villages(rule)) if per_village and rule.villages is not None else None
    return {key: float(value) for key, value in rows
            if value is not None and (wanted is None or key in wanted)}


def measure_values(session: Session, rule: AlertRule, tz: ZoneInfo,
                   now: datetime) -> dict[str, float | None]:
    """Return the rule's measure per scope as of ``now``.

    Parameters
    ----------
    session : Session
        Read only.
    rule : AlertRule
        The rule whose ``measure`` is computed.
    tz : ZoneInfo
        Zone of the calendar windows (``today``, ``this_week``, ``this_month``).
    now : datetime
        Aware; the end of every window.

    Returns
    -------
    dict
        Scope (village code or ``subdistrict``) -> value: a count of incidents, an accuracy
        in percent (0-100), or the metric's latest value or aggregate. None: too little data
        for a figure (fewer rated disposals than ``min_disposals``). A village with no
        incidents counts 0; a scope without disposals or observations is left out.
    """
    measure = rule.measure
    if isinstance(measure, IncidentCount):
        return _incident_counts(session, measure, rule, tz, now)
    if isinstance(measure, MetricMeasure):
        return _metric(session, measure, rule, tz, now)
    return _accuracy(session, rule, tz, now)


def units(rule: AlertRule) -> tuple[str, str]:
    """Return the unit spoken after the rule's figures, zh-CN and English."""
    if rule.unit is not None:
        return rule.unit.zh, rule.unit.en
    if isinstance(rule.measure, IncidentCount):
        return "起", "incidents"
    if isinstance(rule.measure, MetricMeasure):
        return "", ""
    return "%", "%"


def scope_name(scope: str, lang: str) -> str:
    """Return the name of a scope: the village's, or the subdistrict's (乔司街道)."""
    if scope == SUBDISTRICT:
        return "乔司街道" if lang == "zh" else "Qiaosi subdistrict"
    info = geo.village_names().get(scope)
    if info is None:
        return scope
    return info["name"] if lang == "zh" else info["name_en"]


def figure(value: float) -> str:
    """Return a value as spoken: whole numbers without decimals, others with one."""
    return f"{value:.0f}" if abs(value - round(value)) < 1e-9 else f"{value:.1f}"


def alert_text(scope: str, title_zh: str, title_en: str, compare: str, threshold: float,
               value: float, unit_zh: str, unit_en: str, lang: str) -> str:
    """Return what the wall says of an alert, e.g. ``告警：三角村 火情 1 小时内 4 起，超过 3 起``.

    English: ``Alert: Sanjiao Village, Fires within 1 h: 4 incidents, above 3 incidents``.
    """
    word_zh, word_en = COMPARE_WORDS[compare]
    if lang == "zh":
        space = "" if unit_zh in ("%", "") else " "
        return (f"告警：{scope_name(scope, 'zh')} {title_zh} {figure(value)}{space}{unit_zh}，"
                f"{word_zh} {figure(threshold)}{space}{unit_zh}")
    space = "" if unit_en in ("%", "") else " "
    return (f"Alert: {scope_name(scope, 'en')}, {title_en}: {figure(value)}{space}{unit_en}, "
            f"{word_en} {figure(threshold)}{space}{unit_en}")
