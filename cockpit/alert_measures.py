"""What an alert rule measures, per scope, from the stored events; and how its alert reads.

Each read is one grouped query, whatever the number of villages, shared by every rule of an
evaluation that needs it (:class:`Reads`): incidents counted by village, category, priority and
stage; waste disposals tallied by village; one KPI's observations aggregated by village (or the
subdistrict's own rows). A scope is a village code or :data:`SUBDISTRICT`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, cast, func, select
from sqlalchemy.orm import Session

from cockpit import geo
from cockpit.alerts_config import COMPARE, AlertRule, IncidentCount, MetricMeasure, window_start
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


class Reads:
    """Grouped reads of one evaluation, shared by every rule that needs the same one.

    Rules over the same window share one grouped count of incidents (by village, category,
    priority and stage) and one tally of disposals (by village); rules over the same KPI and
    window share one aggregate (by village). An evaluation thus costs a query per distinct
    window and KPI, not per rule.
    """

    def __init__(self, session: Session, tz: ZoneInfo, now: datetime):
        self.session, self.tz, self.now = session, tz, now
        self._memo: dict[tuple, list] = {}

    def _once(self, key: tuple, read) -> list:
        if key not in self._memo:
            self._memo[key] = read()
        return self._memo[key]

    def incidents(self, window) -> list[tuple]:
        """``(village_code, category, priority, stage, count)`` of incidents reported in it."""
        i = Incident
        since = window_start(window, self.now, self.tz)
        columns = (i.village_code, i.category, i.priority, i.stage)
        return self._once(("incidents", window), lambda: [tuple(r) for r in self.session.execute(
            select(*columns, func.count())
            .where(i.reported_at >= since, i.reported_at <= self.now).group_by(*columns))])

    def disposals(self, window) -> list[tuple]:
        """``(village_code, correct, rated)`` of the disposals of the window."""
        d = WasteDisposal
        since = window_start(window, self.now, self.tz)
        # by the disposals' local day (the index the waste pages use), then, for a rolling
        # window, by their time within its first day
        where = [d.local_day >= since.astimezone(self.tz).date().isoformat(),
                 d.local_day <= self.now.astimezone(self.tz).date().isoformat()]
        if isinstance(window, timedelta):
            where += [d.occurred_at >= since, d.occurred_at <= self.now]
        return self._once(("disposals", window), lambda: [tuple(r) for r in self.session.execute(
            select(d.village_code, func.sum(cast(d.correct, Integer)), func.count())
            .where(*where).group_by(d.village_code))])

    def metric(self, measure: MetricMeasure) -> dict[str | None, dict[str, float]]:
        """Village code (None: subdistrict-wide rows) -> ``avg, sum, min, max, count``."""
        m = MetricObservation
        since = window_start(measure.window, self.now, self.tz)
        where = (m.module == measure.module, m.key == measure.key, m.occurred_at >= since,
                 m.occurred_at <= self.now)

        def read() -> list:
            out = {}
            for village, n, total, low, high in self.session.execute(
                    select(m.village_code, func.count(), func.sum(m.value), func.min(m.value),
                           func.max(m.value)).where(*where).group_by(m.village_code)):
                out[village] = {"count": float(n), "sum": float(total),
                                "avg": float(total) / n, "min": float(low), "max": float(high)}
            return [out]
        return self._once(("metric", measure.module, measure.key, measure.window), read)[0]

    def latest(self, measure: MetricMeasure) -> dict[str | None, float]:
        """Village code (None: subdistrict-wide) -> the newest value within the window.

        At equal times the later arrival wins. One query: the window's observations of the
        KPI numbered newest first per village (``ROW_NUMBER``), the first of each kept.
        """
        m = MetricObservation
        since = window_start(measure.window, self.now, self.tz)
        rank = func.row_number().over(
            partition_by=m.village_code,
            order_by=(m.occurred_at.desc(), m.received_at.desc(), m.event_id.desc()))
        ranked = (select(m.village_code.label("village"), m.value.label("value"),
                         rank.label("n"))
                  .where(m.module == measure.module, m.key == measure.key,
                         m.occurred_at >= since, m.occurred_at <= self.now).subquery())

        def read() -> list:
            return [{village: float(value) for village, value in self.session.execute(
                select(ranked.c.village, ranked.c.value).where(ranked.c.n == 1))}]
        return self._once(("latest", measure.module, measure.key, measure.window), read)[0]


def _incident_counts(reads: Reads, rule: AlertRule) -> dict[str, float | None]:
    measure = rule.measure
    wanted = [None if values is None else {v.value for v in values}
              for values in (measure.category, measure.priority, measure.stage)]
    counts: dict[str | None, float] = {}
    for village, *codes, n in reads.incidents(measure.window):
        if all(w is None or c in w for w, c in zip(wanted, codes, strict=True)):
            counts[village] = counts.get(village, 0.0) + n
    if measure.per == SUBDISTRICT:
        return {SUBDISTRICT: float(sum(counts.values()))}
    # a village without incidents counts 0 (a rule may ask for "fewer than")
    return {code: counts.get(code, 0.0) for code in _villages(rule)}


def _accuracy(reads: Reads, rule: AlertRule) -> dict[str, float | None]:
    measure = rule.measure
    rows = reads.disposals(measure.window)
    if measure.per == SUBDISTRICT:
        rows = [(SUBDISTRICT, sum(int(c or 0) for _, c, _ in rows), sum(n for _, _, n in rows))]
        wanted = None
    else:
        wanted = set(_villages(rule))
    out: dict[str, float | None] = {}
    for key, correct, total in rows:
        if key is None or (wanted is not None and key not in wanted) or not total:
            continue
        enough = int(total) >= measure.min_disposals
        out[key] = 100.0 * int(correct or 0) / int(total) if enough else None
    return out


def _metric(reads: Reads, rule: AlertRule) -> dict[str, float | None]:
    measure = rule.measure
    if measure.aggregate == "latest":
        values = reads.latest(measure)
    else:
        values = {v: row[measure.aggregate] for v, row in reads.metric(measure).items()}
    if measure.per == SUBDISTRICT:
        return {SUBDISTRICT: values[None]} if None in values else {}
    wanted = set(rule.villages) if rule.villages is not None else None
    return {code: value for code, value in values.items()
            if code is not None and (wanted is None or code in wanted)}


def measure_values(session: Session, rule: AlertRule, tz: ZoneInfo, now: datetime,
                   reads: Reads | None = None) -> dict[str, float | None]:
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
    reads : Reads, optional
        The evaluation's shared reads (one is made for this rule alone without it); its
        session, zone and time win over the arguments.

    Returns
    -------
    dict
        Scope (village code or ``subdistrict``) -> value: a count of incidents, an accuracy
        in percent (0-100), or the metric's latest value or aggregate. None: too little data
        for a figure (fewer rated disposals than ``min_disposals``). A village with no
        incidents counts 0; a scope without disposals or observations is left out.
    """
    reads = reads or Reads(session, tz, now)
    measure = rule.measure
    if isinstance(measure, IncidentCount):
        return _incident_counts(reads, rule)
    if isinstance(measure, MetricMeasure):
        return _metric(reads, rule)
    return _accuracy(reads, rule)


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


#: Most decimals :func:`figure_against` shows; past them the value is shown as stored.
MAX_DECIMALS = 6


def threshold_figure(threshold: float) -> str:
    """Return a threshold exactly as configured: ``90``, ``89.95`` (never rounded to ``90.0``)."""
    return figure(threshold) if abs(threshold - round(threshold)) < 1e-9 else f"{threshold:.10g}"


def figure_against(value: float, compare: str, threshold: float) -> str:
    """Return ``value`` as spoken beside ``threshold``, never reading on the wrong side of it.

    As :func:`figure` (one decimal), with as many more decimals (up to :data:`MAX_DECIMALS`)
    as the shown figure needs for ``shown compare threshold`` to hold exactly when
    ``value compare threshold`` does: 89.96 below 90 reads ``89.96``, never ``90.0``; 3.04
    above 3 reads ``3.04``. ``compare``: a key of :data:`COMPARE_WORDS`; raises KeyError else.
    """
    check = COMPARE[compare]
    holds = check(value, threshold)
    candidates = [figure(value)] + [f"{value:.{n}f}" for n in range(2, MAX_DECIMALS + 1)]
    for text in candidates:
        if check(float(text), threshold) == holds:
            return text
    return repr(float(value))


def alert_text(scope: str, title_zh: str, title_en: str, compare: str, threshold: float,
               value: float, unit_zh: str, unit_en: str, lang: str) -> str:
    """Return what the wall says of an alert, e.g. ``告警：三角村 火情 1 小时内 4 起，超过 3 起``.

    English: ``Alert: Sanjiao Village, Fires within 1 h: 4 incidents, above 3 incidents``.
    """
    word_zh, word_en = COMPARE_WORDS[compare]
    shown = figure_against(value, compare, threshold)  # 89.96 below 90 never reads 90.0
    if lang == "zh":
        space = "" if unit_zh in ("%", "") else " "
        return (f"告警：{scope_name(scope, 'zh')} {title_zh} {shown}{space}{unit_zh}，"
                f"{word_zh} {threshold_figure(threshold)}{space}{unit_zh}")
    space = "" if unit_en in ("%", "") else " "
    return (f"Alert: {scope_name(scope, 'en')}, {title_en}: {shown}{space}{unit_en}, "
            f"{word_en} {threshold_figure(threshold)}{space}{unit_en}")
