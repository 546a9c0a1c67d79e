"""The staff map's state in its URL: filters, layers shown and the map view.

A shared link reproduces a view: ``?cat=fire,police&stage=reported&period=7d&village=…&
layers=incidents,villages&z=14&lat=30.35&lon=120.28``. :meth:`MapState.from_query` reads a
query string that may have been edited by hand: an unknown category, stage, period, village,
layer or an impossible number is dropped, never raised, and the reason is kept in
``problems`` so the page can say what it ignored. :meth:`MapState.to_query` writes only what
differs from the defaults, so ``from_query(to_query(state)) == state``.

Plain Python: the page (folium in an iframe, a Dash side panel) encodes and decodes with it.
The readers of single query values are :mod:`cockpit.mapdata.query_values`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from cockpit import geo
from cockpit.clock import day_bounds, period_bounds
from cockpit.mapdata.query_values import items, last_value, ordered, read_day, shown
from cockpit.vocab import STAGE_TERMS, Category, Stage, parse_category

#: Periods of the map: local today, the last 24 hours, the last 7 / 30 local days (today
#: included), everything, or the local days ``start`` .. ``end`` (both included).
PERIODS = ("today", "24h", "7d", "30d", "all", "custom")
DEFAULT_PERIOD = "7d"
#: Zoom levels a Leaflet map can show, and the latitudes Web Mercator can (degrees).
ZOOM_RANGE = (0.0, 22.0)
MAX_LAT = 85.0511
_GRID_CODE = re.compile(r"^[\w.\-]{1,64}$")
class Layer(StrEnum):
    """The staff map's layers (the ``layers`` query key lists the ones shown)."""

    VILLAGES = "villages"
    GRIDS = "grids"
    INCIDENTS = "incidents"
    HEAT = "heat"
    REPEATS = "repeats"
    VOLUNTEERS = "volunteers"
    STATIONS = "stations"
    WASTE_ACCURACY = "waste_accuracy"
    INCIDENT_DENSITY = "incident_density"
    VOLUNTEER_COVERAGE = "volunteer_coverage"


#: Layers shown when the URL names none.
DEFAULT_LAYERS: tuple[Layer, ...] = (Layer.VILLAGES, Layer.INCIDENTS)


_CATEGORY_CODES = tuple(c.value for c in Category)
_STAGE_CODES = tuple(s.value for s in Stage)


def _stage_code(text: str) -> str:
    low = text.lower()
    for stage, term in STAGE_TERMS.items():
        if low in (term.code, term.en.lower()) or text == term.zh:
            return stage.value
    raise ValueError(f"unknown stage {text!r}")


@dataclass(frozen=True)
class MapFilters:
    """What the map's layers show: categories, stages, a period, one village or grid.

    Attributes
    ----------
    categories, stages : tuple of str
        Category and stage codes (:mod:`cockpit.vocab`); empty: all. Kept without repeats in
        the vocabulary's order.
    period : str
        One of :data:`PERIODS`.
    start, end : date or None
        Local days of a ``custom`` period, both included; None: open on that side. Only
        with ``period="custom"``.
    village : str or None
        A village code: only that village.
    grid : str or None
        A grid (网格) code: only incidents of that grid (other layers have no grid).
    problems : tuple of str
        What :meth:`from_query` dropped and why; not part of the state (not compared).

    Raises
    ------
    ValueError
        On construction, for an unknown period, category or stage, dates without
        ``custom``, or ``start`` after ``end``.
    """

    categories: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()
    period: str = DEFAULT_PERIOD
    start: date | None = None
    end: date | None = None
    village: str | None = None
    grid: str | None = None
    problems: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        if self.period not in PERIODS:
            raise ValueError(f"period {self.period!r}; one of {', '.join(PERIODS)}")
        for name, codes in (("categories", _CATEGORY_CODES), ("stages", _STAGE_CODES)):
            values = tuple(getattr(self, name))
            bad = sorted(set(values) - set(codes))
            if bad:
                raise ValueError(f"unknown {name}: {', '.join(bad)}")
            object.__setattr__(self, name, ordered(values, codes))
        if self.period != "custom" and (self.start or self.end):
            raise ValueError("start and end need period='custom'")
        if self.start and self.end and self.start > self.end:
            raise ValueError(f"start {self.start} is after end {self.end}")

    def window(self, now: datetime, tz: ZoneInfo) -> tuple[datetime | None, datetime | None]:
        """Return ``[since, until)`` of the period as aware UTC datetimes (None: no bound).

        ``today``, ``7d``, ``30d`` and ``custom`` are whole local days of ``tz`` (the
        current day up to its end); ``24h`` ends at ``now``.

        Raises
        ------
        ValueError
            If ``now`` is naive.
        """
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        if self.period == "today":
            return day_bounds(now, tz)
        if self.period == "24h":
            return now - timedelta(hours=24), now
        if self.period in ("7d", "30d"):
            return period_bounds(self.period, now, tz)
        if self.period == "all":
            return None, None

        def midnight(day: date) -> datetime:
            return datetime.combine(day, time(0), tz).astimezone(UTC)

        return (midnight(self.start) if self.start else None,
                midnight(self.end + timedelta(days=1)) if self.end else None)

    def narrow(self, villages: Sequence[str] | None) -> tuple[str, ...] | None:
        """Return the villages to read: a viewer's scope cut to :attr:`village`.

        Parameters
        ----------
        villages : sequence of str or None
            The viewer's scope (None: every village).

        Returns
        -------
        tuple of str or None
            None for every village; else the codes (maybe empty: nothing to show).
        """
        if self.village is None:
            return None if villages is None else tuple(villages)
        return (self.village,) if villages is None or self.village in villages else ()

    def to_query(self) -> dict[str, str]:
        """Return the query keys that differ from the defaults (``cat``, ``stage`` …)."""
        out: dict[str, str] = {}
        if self.categories:
            out["cat"] = ",".join(self.categories)
        if self.stages:
            out["stage"] = ",".join(self.stages)
        if self.period != DEFAULT_PERIOD:
            out["period"] = self.period
        if self.start:
            out["from"] = self.start.isoformat()
        if self.end:
            out["to"] = self.end.isoformat()
        if self.village:
            out["village"] = self.village
        if self.grid:
            out["grid"] = self.grid
        return out

    @classmethod
    def from_query(cls, mapping: Mapping[str, Any]) -> MapFilters:
        """Read the filters of a query string; what cannot be used is dropped into ``problems``.

        Parameters
        ----------
        mapping : mapping
            Query keys to a str or a list of str (``parse_qs`` or a request's args). A
            category or stage may be a code or a label (``fire``, ``火情``); a village a code
            or a name. Dates are ``YYYY-MM-DD``; with dates and no period, ``custom``.

        Returns
        -------
        MapFilters
            Never raises; ``problems`` lists each value dropped, with the reason.
        """
        problems: list[str] = []
        categories = []
        for text in items(mapping, "cat"):
            try:
                categories.append(parse_category(text).value)
            except ValueError:
                problems.append(f"cat: unknown category {shown(text)} ignored")
        stages = []
        for text in items(mapping, "stage"):
            try:
                stages.append(_stage_code(text))
            except ValueError:
                problems.append(f"stage: unknown stage {shown(text)} ignored")
        start, end = read_day(mapping, "from", problems), read_day(mapping, "to", problems)
        period = last_value(mapping, "period")
        if period is not None and period not in PERIODS:
            problems.append(f"period: unknown period {shown(period)} ignored")
            period = None
        if period is None:
            period = "custom" if start or end else DEFAULT_PERIOD
        elif period != "custom" and (start or end):
            problems.append(f"from/to: ignored with period {period}")
            start = end = None
        if start and end and start > end:
            problems.append("from/to: from is after to; swapped")
            start, end = end, start
        return cls(tuple(categories), tuple(stages), period, start, end,
                   _village(mapping, problems), _grid(mapping, problems), tuple(problems))


def _village(mapping: Mapping[str, Any], problems: list[str]) -> str | None:
    text = last_value(mapping, "village")
    if text is None:
        return None
    code = geo.resolve_village(text)
    if code is None:
        problems.append(f"village: unknown village {shown(text)} ignored")
    return code


def _grid(mapping: Mapping[str, Any], problems: list[str]) -> str | None:
    text = last_value(mapping, "grid")
    if text is not None and not _GRID_CODE.match(text):
        problems.append(f"grid: {shown(text)} is not a grid code; ignored")
        return None
    return text


@dataclass(frozen=True)
class MapView:
    """Which layers are shown and where the map looks.

    Attributes
    ----------
    layers : tuple of Layer
        Shown layers, without repeats, in :class:`Layer` order; may be empty.
    z : float or None
        Zoom level within :data:`ZOOM_RANGE`, two decimals; None: the page's default.
    lat, lon : float or None
        Map centre, WGS-84 degrees, six decimals; both or neither.
    problems : tuple of str
        What :meth:`from_query` dropped and why (not compared).

    Raises
    ------
    ValueError
        On construction, for a number out of range or a centre given by half.
    """

    layers: tuple[Layer, ...] = DEFAULT_LAYERS
    z: float | None = None
    lat: float | None = None
    lon: float | None = None
    problems: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", ordered((Layer(v) for v in self.layers),
                                                    tuple(Layer)))
        for name, low, high, digits in _NUMBERS:
            value = getattr(self, name)
            if value is None:
                continue
            if not (math.isfinite(value) and low <= value <= high):
                raise ValueError(f"{name} {value} is outside [{low}, {high}]")
            object.__setattr__(self, name, round(float(value), digits))
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat and lon go together")

    def to_query(self) -> dict[str, str]:
        """Return the keys that differ from the defaults: ``layers``, ``z``, ``lat``, ``lon``."""
        out: dict[str, str] = {}
        if self.layers != DEFAULT_LAYERS:
            out["layers"] = ",".join(self.layers)
        for name, *_ in _NUMBERS:
            value = getattr(self, name)
            if value is not None:
                out[name] = repr(value)
        return out

    @classmethod
    def from_query(cls, mapping: Mapping[str, Any]) -> MapView:
        """Read the layers and the view of a query string; never raises.

        ``layers`` absent, or naming no known layer, means :data:`DEFAULT_LAYERS`;
        ``layers=`` (empty) means none.
        Unknown layers, numbers out of range and a centre given by half go to ``problems``.
        """
        problems: list[str] = []
        layers: tuple[Layer, ...] | list[Layer] = DEFAULT_LAYERS
        if "layers" in mapping:
            layers = []
            asked = items(mapping, "layers")
            for text in asked:
                try:
                    layers.append(Layer(text.lower()))
                except ValueError:
                    problems.append(f"layers: unknown layer {shown(text)} ignored")
            if asked and not layers:  # nothing usable asked for: not a blank map
                layers = DEFAULT_LAYERS
        numbers: dict[str, float | None] = {}
        for name, low, high, _ in _NUMBERS:
            text = last_value(mapping, name)
            numbers[name] = None
            if text is None:
                continue
            try:
                value = float(text)
            except ValueError:
                problems.append(f"{name}: {shown(text)} is not a number; ignored")
                continue
            if not (math.isfinite(value) and low <= value <= high):
                problems.append(f"{name}: {shown(text)} is outside [{low}, {high}]; ignored")
                continue
            numbers[name] = value
        if (numbers["lat"] is None) != (numbers["lon"] is None):
            problems.append("lat/lon: a centre needs both; ignored")
            numbers["lat"] = numbers["lon"] = None
        return cls(tuple(layers), numbers["z"], numbers["lat"], numbers["lon"], tuple(problems))


#: (name, low, high, decimals kept) of the view's numbers.
_NUMBERS = (("z", *ZOOM_RANGE, 2), ("lat", -MAX_LAT, MAX_LAT, 6), ("lon", -180.0, 180.0, 6))


@dataclass(frozen=True)
class MapState:
    """The whole shareable state of the staff map: :class:`MapFilters` and :class:`MapView`."""

    filters: MapFilters = MapFilters()
    view: MapView = MapView()

    @property
    def problems(self) -> tuple[str, ...]:
        """What the query string held that was dropped, one sentence each."""
        return self.filters.problems + self.view.problems

    def to_query(self) -> dict[str, str]:
        """Return the query keys of the state (defaults left out)."""
        return {**self.filters.to_query(), **self.view.to_query()}

    def query_string(self) -> str:
        """Return the state as a query string without ``?`` (commas kept readable)."""
        return urlencode(self.to_query(), safe=",")

    @classmethod
    def from_query(cls, mapping: Mapping[str, Any]) -> MapState:
        """Read the state from query keys (see :meth:`MapFilters.from_query`); never raises."""
        return cls(MapFilters.from_query(mapping), MapView.from_query(mapping))
