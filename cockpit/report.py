"""The daily (日报) and weekly (周报) briefings: what a leader reads instead of the wall.

A briefing covers a local period of the cockpit's zone (``Settings.tz``): one day, or a week
Monday to Sunday. Its content is computed from the stored events by the same queries the
screens use, in one read session of the store as of the period's end (the caller passes it,
see :func:`as_of`); its KPI strip *is* :func:`cockpit.queries.summary` at that moment, so the
briefing of a day and ``/api/v1/summary`` for that day agree number for number.

The content is plain data (codes, counts, seconds); :mod:`layouts.report_pdf` and
:mod:`layouts.report_xlsx` draw it in a language. No personal data is in it: overdue incidents
are listed by id, category, village and stage, never by caller, title or address.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from cockpit import analysis, governance_queries, queries, report_sections
from cockpit.clock import utc_now
from cockpit.services import Services
from cockpit.settings import Settings
from cockpit.store.models import Incident
from cockpit.timemachine import read_at
from cockpit.vocab import Category, Stage

KINDS = ("daily", "weekly")
#: The stage intervals of the stage-times table: (key, from stage, to stage).
INTERVALS = (("report_dispatch", Stage.REPORTED, Stage.DISPATCHED),
             ("dispatch_arrival", Stage.DISPATCHED, Stage.ARRIVED),
             ("arrival_resolution", Stage.ARRIVED, Stage.RESOLVED),
             ("resolution_close", Stage.RESOLVED, Stage.CLOSED),
             ("report_close", Stage.REPORTED, Stage.CLOSED))
#: Most overdue incidents listed (the count is always complete).
MAX_OVERDUE = 200
#: A moment this close to now is read from the live store (it is the same state).
LIVE_SLACK = timedelta(seconds=1)
#: The key of incidents without a village code.
NO_VILLAGE = "unknown"


#: ``reader(at)``: a context manager giving a read session of the store as of ``at``.
Reader = Callable[[datetime], AbstractContextManager[Session]]


class ReportError(ValueError):
    """A briefing that cannot be made: a bad date, a future period, a period without data."""


@dataclass(frozen=True)
class Period:
    """The local period of a briefing.

    Attributes
    ----------
    kind : {"daily", "weekly"}
    first, last : date
        Local days, both included (a week: Monday and Sunday).
    start, end : datetime
        ``[start, end)`` in UTC: the local midnights around the period.
    at : datetime
        The moment the briefing describes (UTC): the last instant of the period, or now
        while the period is still running.
    """

    kind: str
    first: date
    last: date
    start: datetime
    end: datetime
    at: datetime

    @property
    def complete(self) -> bool:
        """True when the period is over (the briefing will not change)."""
        return self.at >= self.end - timedelta(microseconds=1)


def parse_day(text: str) -> date:
    """``YYYY-MM-DD`` → a date.

    Raises
    ------
    ReportError
        Naming the text, when it is no such date.
    """
    try:
        return date.fromisoformat(text.strip())
    except (ValueError, AttributeError):
        raise ReportError(f"date: {str(text)[:40]!r} is not a date YYYY-MM-DD") from None


def period_of(kind: str, day: date, tz: ZoneInfo, now: datetime | None = None) -> Period:
    """The daily period of ``day``, or the weekly period (Monday–Sunday) containing it.

    Parameters
    ----------
    kind : {"daily", "weekly"}
    day : date
        A local day (any day of the week for ``weekly``).
    tz : ZoneInfo
        The cockpit's zone.
    now : datetime, optional
        Aware; defaults to the current time. A period not yet over is described as of now.

    Raises
    ------
    ReportError
        For an unknown kind or a period that has not started yet.
    """
    if kind not in KINDS:
        raise ReportError(f"kind: {kind!r}; expected one of {', '.join(KINDS)}")
    now = now or utc_now()
    first = day if kind == "daily" else day - timedelta(days=day.weekday())
    last = first + timedelta(days=0 if kind == "daily" else 6)
    start = datetime.combine(first, time(0), tz).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(0), tz).astimezone(UTC)
    if start > now:
        raise ReportError(f"date: {day.isoformat()} is in the future (today is "
                          f"{now.astimezone(tz).date().isoformat()} in {tz.key})")
    return Period(kind, first, last, start, end, min(now, end - timedelta(microseconds=1)))


def _seconds(rows: list[tuple[datetime | None, datetime | None]]) -> dict[str, Any]:
    gaps = sorted((b - a).total_seconds() for a, b in rows if a and b and b >= a)
    if not gaps:
        return {"n": 0, "median_s": None, "p90_s": None}
    p90 = gaps[0] if len(gaps) == 1 else statistics.quantiles(gaps, n=10, method="inclusive")[8]
    return {"n": len(gaps), "median_s": statistics.median(gaps), "p90_s": p90}


def incidents_section(session: Session, tz: ZoneInfo, period: Period) -> dict[str, Any]:
    """Incidents reported in the period: by category, by village × category, stage times.

    Returns
    -------
    dict
        ``total``; ``by_category`` (``{category, count}`` per category, zeros included);
        ``by_village`` (``{village_code, total, counts: {category: n}}``, most first; a
        missing code is ``"unknown"``); ``stage_times`` (per :data:`INTERVALS` key: ``n``,
        ``median_s``, ``p90_s`` in seconds over the period's incidents that have both stage
        times, None without any); ``cancelled``.
    """
    names = ("category", "village_code", "stage",
             *(f"{s.value}_at" for s in (Stage.REPORTED, Stage.DISPATCHED, Stage.ARRIVED,
                                         Stage.RESOLVED, Stage.CLOSED)))
    rows = session.execute(select(*(getattr(Incident, n) for n in names)).where(
        Incident.reported_at >= period.start, Incident.reported_at < period.end)).all()
    by_cat = Counter(r.category for r in rows)
    villages: dict[str, Counter] = {}
    for r in rows:
        villages.setdefault(r.village_code or NO_VILLAGE, Counter())[r.category] += 1
    by_village = [{"village_code": code, "total": sum(c.values()),
                   "counts": {cat.value: c.get(cat.value, 0) for cat in Category}}
                  for code, c in villages.items()]
    by_village.sort(key=lambda v: (-v["total"], v["village_code"]))
    times = {key: _seconds([(getattr(r, f"{a.value}_at"), getattr(r, f"{b.value}_at"))
                            for r in rows]) for key, a, b in INTERVALS}
    return {"total": len(rows),
            "by_category": [{"category": c.value, "count": by_cat.get(c.value, 0)}
                            for c in Category],
            "by_village": by_village, "stage_times": times,
            "cancelled": sum(1 for r in rows if r.stage == Stage.CANCELLED.value)}


def overdue_section(session: Session, tz: ZoneInfo, period: Period) -> dict[str, Any]:
    """Incidents overdue at the period's moment: the count and the most overdue ones.

    Returns
    -------
    dict
        ``total``; ``items`` (at most :data:`MAX_OVERDUE`, most overdue first): each
        ``incident_id, category, village_code, stage, due_at`` (ISO-8601, local),
        ``late_s`` (seconds past the stage's limit). No caller, title or address.
    """
    board = governance_queries.overdue(session, tz, period.at, limit=MAX_OVERDUE)
    items = [{"incident_id": i["incident_id"], "category": i["category"],
              "village_code": i["village_code"], "stage": i["stage"], "due_at": i["due_at"],
              "late_s": round(i["late_s"])} for i in board["items"]]
    items.sort(key=lambda i: (-i["late_s"], i["incident_id"]))
    return {"total": board["total"], "items": items}


def build(reader: Reader, settings: Settings, period: Period) -> dict[str, Any]:
    """Return the content of the briefing of ``period``.

    Parameters
    ----------
    reader : callable
        ``reader(at)`` → a context manager of a read session of the store as of ``at``
        (:func:`as_of`); called for ``period.at`` and, weekly, for the end of each day.
    settings : Settings
        The zone, the waste target, the volunteers' rules.
    period : Period
        From :func:`period_of`.

    Returns
    -------
    dict
        ``kind``, ``first``, ``last`` (ISO dates), ``as_of`` (ISO-8601, local, to the
        second), ``at`` (the exact moment, ISO-8601 with microseconds: what
        ``/api/v1/summary?at=`` takes to answer for the same moment), ``complete``;
        ``kpi``: :func:`cockpit.queries.summary` at ``period.at`` (a weekly briefing: at
        its end); ``days``: for a weekly one, the summary of each of its days
        that has begun (as of the end of that day); ``incidents``
        (:func:`incidents_section`), ``overdue`` (:func:`overdue_section`), ``volunteers``
        (:func:`cockpit.report_sections.volunteers_section`), ``waste``
        (:func:`cockpit.report_sections.waste_section`), ``heat``
        (:func:`cockpit.analysis.hot_matrix` of the period's days).

    Raises
    ------
    ReportError
        When nothing at all was stored for the period (no incident reported, no disposal,
        no attendance, no mobilisation): a briefing of an empty period is a mistake.
    """
    tz = settings.tz
    content: dict[str, Any] | None = None
    if not period.complete:  # now: read the live store at once, before the moment ages
        with reader(period.at) as session:
            content = _content(session, settings, period)
    days = []
    if period.kind == "weekly":  # day by day: the time machine moves forward cheaply
        for moment in _day_moments(period, tz):
            if content is not None and moment == period.at:
                days.append(content["kpi"])  # the running day: the strip just read
                continue
            with reader(moment) as session:
                days.append(queries.summary(session, tz, moment))
    if content is None:  # a past period: its end, after its days
        with reader(period.at) as session:
            content = _content(session, settings, period)
    if period.kind == "weekly":
        content["days"] = days
    if not (content["incidents"]["total"] or content["waste"]["overall"]["total"]
            or content["volunteers"]["attendances"] or content["volunteers"]["mobilizations"]):
        what = period.first.isoformat() if period.kind == "daily" else \
            f"the week {period.first.isoformat()} to {period.last.isoformat()}"
        raise ReportError(f"no data for {what}: no incident reported, no disposal, no "
                          "volunteer attendance and no mobilisation stored for it")
    return content


def _content(session: Session, settings: Settings, period: Period) -> dict[str, Any]:
    tz = settings.tz
    return {
        "kind": period.kind, "first": period.first.isoformat(), "last": period.last.isoformat(),
        "as_of": period.at.astimezone(tz).isoformat(timespec="seconds"),
        "at": period.at.astimezone(tz).isoformat(),
        "complete": period.complete,
        "kpi": queries.summary(session, tz, period.at),
        "incidents": incidents_section(session, tz, period),
        "overdue": overdue_section(session, tz, period),
        "volunteers": report_sections.volunteers_section(session, settings.volunteer_rules, period),
        "waste": report_sections.waste_section(session, settings.waste_rules.target, period),
        "heat": analysis.hot_matrix(session, tz, period.at, days=_days_run(period, tz)),
    }


def _days_run(period: Period, tz: ZoneInfo) -> int:
    """Local days of the period up to its moment (a running week counts its days so far)."""
    return (period.at.astimezone(tz).date() - period.first).days + 1


def _day_moments(period: Period, tz: ZoneInfo) -> list[datetime]:
    out = []
    day = period.first
    while day <= period.last:
        end = datetime.combine(day + timedelta(days=1), time(0), tz).astimezone(UTC)
        moment = min(end - timedelta(microseconds=1), period.at)
        if moment >= datetime.combine(day, time(0), tz).astimezone(UTC):
            out.append(moment)
        day += timedelta(days=1)
    return out


def as_of(services: Services) -> Reader:
    """The reader of :func:`build` over ``services``' store: a read session as of a moment.

    A past moment is read through the time machine (:func:`cockpit.timemachine.read_at`:
    the store rebuilt from the events that had happened by then, so an incident open at the
    end of a day and closed since counts as open); the current moment, from the live store.
    """
    def read(at: datetime) -> AbstractContextManager[Session]:
        if at >= utc_now() - LIVE_SLACK:
            return services.read()
        return read_at(services, at)
    return read
