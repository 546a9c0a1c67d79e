"""Simulated waste sorting (模拟): a day's disposals and tenant turnover.

Pure functions of the world (:mod:`.sim_world`) and a date, never of the clock: a day planned
twice gives the same disposals with the same ids. Each household living in its house disposes
about once a day (none on one day in eight, twice on one in seven), at its home station mostly,
in the morning (06:30-09:00) or evening (18:00-21:00) opening of the stations (定时定点), now and
then during the day. Most disposals are 易腐垃圾 (perishable), then 其他垃圾, 可回收物 and
rarely 有害垃圾, each with a plausible weight. The supervisor rates a disposal incorrect with
probability 1 - the household's accuracy, and then names the wrong class found in it and a real
item of that class from the item list (:mod:`.sim_items`).

A disposal's rating is settled when it is sent (:func:`disposal_event`), because a household
the simulated field app has visited (:mod:`.sim_field`) sorts better from then on.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from cockpit.volunteers.sim_people import SimEvent, make_event
from cockpit.waste.events import Rating, WasteClass
from cockpit.waste.sim_photos import VARIANTS, photo_key
from cockpit.waste.sim_world import SOURCE, Household, Station, World, moved_out, registration

#: Disposals of a household on a day, and how often.
COUNTS = ((0, 12), (1, 73), (2, 15))
#: Declared classes and how often.
CLASS_SHARES = ((WasteClass.PERISHABLE, 62), (WasteClass.RESIDUAL, 25),
                (WasteClass.RECYCLABLE, 11), (WasteClass.HAZARDOUS, 2))
#: Weight of one disposal per class: median kg, spread (lognormal sigma), kg range.
WEIGHTS = {WasteClass.PERISHABLE: (1.1, 0.5, (0.1, 12.0)),
           WasteClass.RESIDUAL: (0.7, 0.6, (0.05, 10.0)),
           WasteClass.RECYCLABLE: (1.2, 0.8, (0.05, 25.0)),
           WasteClass.HAZARDOUS: (0.15, 0.7, (0.02, 3.0))}
#: What is found mixed into a wrongly sorted disposal of each declared class, and how often.
CONFUSIONS = {
    WasteClass.PERISHABLE: ((WasteClass.RESIDUAL, 60), (WasteClass.RECYCLABLE, 32),
                            (WasteClass.HAZARDOUS, 8)),
    WasteClass.RESIDUAL: ((WasteClass.PERISHABLE, 50), (WasteClass.RECYCLABLE, 40),
                          (WasteClass.HAZARDOUS, 10)),
    WasteClass.RECYCLABLE: ((WasteClass.RESIDUAL, 60), (WasteClass.PERISHABLE, 30),
                            (WasteClass.HAZARDOUS, 10)),
    WasteClass.HAZARDOUS: ((WasteClass.RESIDUAL, 60), (WasteClass.RECYCLABLE, 30),
                           (WasteClass.PERISHABLE, 10)),
}
#: Share of a single-tenant rental house's disposals sent with the house's card (``house_id``).
HOUSE_CARD_SHARE = 0.1
#: Share of disposals at another station of the village than the household's own.
AWAY_SHARE = 0.1
#: Accuracy gained after an educating visit (capped at :data:`EDUCATED_CAP`).
IMPROVEMENT, EDUCATED_CAP = 0.25, 0.97


@dataclass(frozen=True)
class Visit:
    """A simulated follow-up visit: its outcome and from when the household sorts better."""

    outcome: str
    since: datetime


@dataclass(frozen=True)
class Disposal:
    """One planned disposal; its rating is settled by :func:`disposal_event`."""

    at: datetime
    event_id: str
    household: Household
    station: Station
    supervisor: str
    declared: WasteClass
    weight_kg: float
    #: Rated correct when this draw (0-1) is below the household's accuracy at ``at``.
    draw: float
    found: WasteClass
    item: str
    variant: int
    by_house: bool

    @property
    def key(self) -> tuple[datetime, str]:
        """Order of sending: time, then event id."""
        return (self.at, self.event_id)


def accuracy_at(household: Household, at: datetime, visits: Mapping[str, Visit]) -> float:
    """A household's chance of sorting correctly at ``at``: better after an educating visit."""
    visit = visits.get(household.household_id)
    if visit is not None and visit.outcome == "educated" and at > visit.since:
        return max(household.accuracy, min(EDUCATED_CAP, household.accuracy + IMPROVEMENT))
    return household.accuracy


def disposal_event(disposal: Disposal, visits: Mapping[str, Visit]) -> SimEvent:
    """The ``waste.disposal`` entry of a planned disposal, rated by the accuracy at its time."""
    correct = disposal.draw < accuracy_at(disposal.household, disposal.at, visits)
    rating = Rating.CORRECT if correct else Rating.INCORRECT
    who = ({"house_id": disposal.household.house.house_id} if disposal.by_house
           else {"household_id": disposal.household.household_id})
    return make_event(
        "waste.disposal", disposal.event_id, disposal.at, SOURCE, **who,
        station_id=disposal.station.station_id, supervisor_id=disposal.supervisor,
        photo=photo_key(disposal.declared, rating, disposal.variant),
        weight_kg=f"{disposal.weight_kg:.2f}", declared_class=disposal.declared.value,
        rating=rating.value, found_class=None if correct else disposal.found.value,
        found_item=None if correct else disposal.item)


@functools.cache
def _cumulative(table: tuple) -> tuple[list, list[int]]:
    return [v for v, _ in table], list(itertools.accumulate(w for _, w in table))


def _pick(rng, table):
    values, cumulative = _cumulative(table)
    return rng.choices(values, cum_weights=cumulative)[0]


def _seconds_of_day(rng) -> float:
    """Mostly the stations' morning and evening openings, now and then during the day."""
    r = rng.random()
    if r < 0.55:
        return min(max(rng.gauss(7.75, 0.5), 6.5), 9.0) * 3600
    if r < 0.92:
        return min(max(rng.gauss(19.3, 0.65), 18.0), 21.0) * 3600
    return rng.uniform(9.0, 18.0) * 3600


def household_day(world: World, household: Household, day: date) -> list[Disposal]:
    """The disposals of one household on one local day, while it lives in its house."""
    rng = world.rng("d", household.household_id, day)
    village = world.village(household.house.village)
    midnight = world.midnight(day)
    out = []
    for k in range(1, _pick(rng, COUNTS) + 1):
        at = midnight + timedelta(seconds=round(_seconds_of_day(rng)))
        declared = _pick(rng, CLASS_SHARES)
        median, sigma, (low, high) = WEIGHTS[declared]
        weight = min(max(rng.lognormvariate(0.0, sigma) * median, low), high)
        found = _pick(rng, CONFUSIONS[declared])
        item = rng.choice(world.items[found])
        home = household.station
        station = village.stations[rng.randrange(len(village.stations))
                                   if rng.random() < AWAY_SHARE else home]
        card = (household.tenant and household.house.places == 1
                and rng.random() < HOUSE_CARD_SHARE)
        draw, variant = rng.random(), rng.randint(1, VARIANTS)
        if not household.lives_during(at, at + timedelta(seconds=1)):
            continue
        out.append(Disposal(at, world.eid(f"d:{household.household_id}:{day:%Y%m%d}:{k}"),
                            household, station, station.supervisors[0 if at.hour < 13 else 1],
                            declared, round(weight, 2), draw, found, item, variant, card))
    return out


def turnover(world: World, start: datetime, end: datetime) -> list[SimEvent]:
    """Tenants' move-outs and the next tenants' registrations in ``[start, end)``."""
    out = []
    for place in world.places:
        for household in place.upto(end):
            if start <= household.moved_in < end:
                out.append(registration(world, household))
            if household.moved_out is not None and start <= household.moved_out < end:
                out.append(moved_out(world, household))
    return out


def day_plan(world: World, day: date) -> list[SimEvent | Disposal]:
    """Every event of one local day: move-outs, new tenants and the disposals."""
    start, end = world.midnight(day), world.midnight(day + timedelta(days=1))
    out: list[SimEvent | Disposal] = list(turnover(world, start, end))
    for household in world.residents(start, end):
        out.extend(household_day(world, household, day))
    return out
