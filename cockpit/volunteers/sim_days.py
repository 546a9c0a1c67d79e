"""Simulated volunteers (模拟): what happens on a day, and mobilisations.

Each function here is a pure function of the simulated world (seed and size) and of a date or
an anchor time, never of the clock: a day planned twice gives the same events with the same
ids, so a restarted simulator re-sends what the store already holds and nothing counts twice.

* :func:`day_plan`: the day's activities (published the evening before), the check-ins and
  check-outs of their participants with realistic noise (about 4 % never check out and are
  closed automatically, about 2 % implausible), ratings on half of the check-outs, a few new
  registrations, and now and then a mobilisation.
* :func:`live_mobilizations`: after a start (the anchor), the lockdown of the issue (140
  volunteers in 朝阳村 for 封控区值守, deadline one hour), then a smaller one every few hours
  elsewhere, the first of which lags so that the re-call flag shows.

Recruitment campaigns are in :mod:`.sim_campaigns`.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from cockpit.volunteers.sim_people import (
    CENTRE,
    CHAOYANG,
    DEFAULT_VOLUNTEERS,
    HONGQIAO,
    SUBDISTRICT_TEAMS,
    VILLAGE_WEIGHTS,
    Person,
    SimEvent,
    draw_person,
    grid_codes,
    grid_team,
    make_event,
    make_people,
    registration,
    stamp,
    village_name,
    village_points,
)

#: The lockdown of the issue: 140 volunteers in place in 朝阳村 within an hour.
LOCKDOWN_NEEDED, LOCKDOWN_MINUTES = 140, 60
#: A smaller mobilisation about this often after the lockdown, hours.
MOBILIZE_EVERY_H = 3
_EMERGENCIES = ("防汛巡查", "台风转移安置", "大型活动秩序维护", "寻找走失老人", "消防演练保障",
                "交通疏导", "疫苗接种点秩序维护")


@dataclass(frozen=True)
class Kind:
    """A kind of daily activity: title, usual starts, length, people needed, who does it."""

    kind: str
    title: str
    starts: tuple[tuple[int, int], ...]
    hours: float
    needed: tuple[int, int]
    weight: int
    team: str | None
    skill: str | None
    place: str


KINDS = (
    Kind("巡逻", "平安巡逻", ((19, 0), (20, 0)), 2, (4, 10), 5, "grid", "治安巡逻", "{v}主干道"),
    Kind("督导", "垃圾分类桶边督导", ((7, 0), (18, 0)), 2, (2, 6), 8, "grid", "垃圾分类督导",
         "{v}垃圾分类投放点{n}号"),
    Kind("助老", "助老服务·上门探访", ((9, 0), (14, 0)), 2, (2, 5), 4, "women", "助老",
         "{v}居家养老服务站"),
    Kind("环境整治", "环境卫生整治", ((8, 30),), 3, (8, 20), 3, "party", None, "{v}背街小巷"),
    Kind("文明劝导", "文明交通劝导", ((7, 0), (16, 30)), 2, (4, 8), 4, "youth", None, "{v}路口"),
    Kind("宣传", "反诈宣传进社区", ((9, 30), (14, 0)), 2, (3, 6), 2, "party", None,
         "{v}党群服务中心"),
    Kind("义诊", "健康义诊", ((8, 30),), 3, (3, 6), 1, None, "医护", "{v}文化礼堂"),
)


class World:
    """The simulated world: seed, size, zone and the people of the base roll."""

    def __init__(self, seed: int, size: int, tz: ZoneInfo):
        if size < 1:
            raise ValueError(f"size {size}: at least 1 volunteer")
        self.seed, self.size, self.tz = seed, size, tz
        self.people: list[Person] = make_people(seed, size, tz)
        self.by_village: dict[str, list[Person]] = {v: [] for v in VILLAGE_WEIGHTS}
        for person in self.people:
            self.by_village[person.village].append(person)

    @property
    def scale(self) -> float:
        """Size relative to the demo's 7,400 volunteers."""
        return self.size / DEFAULT_VOLUNTEERS

    def eid(self, what: str) -> str:
        """Event id of ``what`` in this world, e.g. ``sim-7.7400:reg:HQ000001``."""
        return f"sim-{self.seed}.{self.size}:{what}"

    def ident(self, what: str) -> str:
        """Id of an activity or mobilisation of this world, e.g. ``sim-7.7400-a20261203-05``."""
        return f"sim-{self.seed}.{self.size}-{what}"

    def rng(self, *what: object) -> random.Random:
        """A generator seeded by the world and ``what`` (a date, an anchor, a name)."""
        return random.Random(":".join(map(str, (self.seed, self.size, *what))))

    def midnight(self, day: date) -> datetime:
        """Start of a local day."""
        return datetime.combine(day, time(), self.tz)


def weighted_sample(rng: random.Random, items: Sequence, weights: Sequence[float],
                    k: int) -> list:
    """``k`` distinct items, each likelier by its weight (Efraimidis-Spirakis keys)."""
    keys = ((rng.random() ** (1.0 / w), i) for i, w in enumerate(weights))
    return [items[i] for _, i in heapq.nlargest(k, keys)]


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson-distributed count (Knuth's method; ``mean`` up to a few hundred)."""
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, n, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        n += 1
        product *= rng.random()
    return n


def pick_village(rng: random.Random, exclude: str | None = None) -> str:
    """A village code drawn by the villages' weights, other than ``exclude``."""
    codes = [c for c in VILLAGE_WEIGHTS if c != exclude]
    return rng.choices(codes, weights=[VILLAGE_WEIGHTS[c] for c in codes])[0]


def _activity(world: World, rng: random.Random, day: date, k: int, kind: Kind
              ) -> tuple[SimEvent, str, datetime, datetime, int]:
    village = pick_village(rng)
    hour, minute = rng.choice(kind.starts)
    starts = world.midnight(day) + timedelta(hours=hour, minutes=minute)
    ends = starts + timedelta(hours=kind.hours)
    published = world.midnight(day) - timedelta(hours=7) + timedelta(seconds=rng.randrange(10_800))
    name = village_name(village)
    team = (grid_team(name) if kind.team == "grid" else SUBDISTRICT_TEAMS.get(kind.team or "")
            or "乔司街道志愿者协会")
    lon, lat = village_points()[village]
    activity_id = world.ident(f"a{day:%Y%m%d}-{k:02d}")
    event = make_event(
        "activity.published", world.eid(f"act:{activity_id}"), published, HONGQIAO,
        activity_id=activity_id, title=kind.title, kind=kind.kind,
        place=kind.place.format(v=name, n=rng.randrange(1, 9)), village=village,
        grid=rng.choice(grid_codes(village)), lon=f"{lon + rng.uniform(-0.003, 0.003):.6f}",
        lat=f"{lat + rng.uniform(-0.003, 0.003):.6f}", crs="wgs84", starts_at=stamp(starts),
        ends_at=stamp(ends), needed=rng.randint(*kind.needed), team=team)
    return event, village, starts, ends, int(event.fields["needed"])


def _participants(world: World, rng: random.Random, village: str, kind: Kind, at: datetime,
                  needed: int, busy: set[int]) -> list[Person]:
    pool = [p for p in world.by_village[village] if p.index not in busy and p.active_on(at)]
    if not pool:
        return []
    weights = [p.weight * (2.5 if p.team_kind == kind.team else 1)
               * (2 if kind.skill in p.skills else 1) for p in pool]
    count = min(len(pool), max(1, round(needed * rng.uniform(0.7, 1.1))),
                max(1, len(pool) // 3))
    chosen = weighted_sample(rng, pool, weights, count)
    busy.update(p.index for p in chosen)
    return chosen


def _punches(world: World, rng: random.Random, shifts) -> list[SimEvent]:
    """Check-ins and check-outs of the day's shifts ``(activity_id, person, starts, ends)``."""
    n = len(shifts)
    order = list(range(n))
    rng.shuffle(order)
    forgot = set(order[:max(1 if n >= 3 else 0, round(0.04 * n))])
    odd = set(order[len(forgot):len(forgot) + max(1 if n >= 10 else 0, round(0.02 * n))])
    out: list[SimEvent] = []
    for i, (activity_id, person, starts, ends) in enumerate(shifts):
        vid = person.volunteer_id
        check_in = starts + timedelta(minutes=min(15, max(-40, rng.gauss(-7, 6))))
        check_out = ends + timedelta(minutes=min(35, max(-15, rng.gauss(3, 6))))
        if i in odd:
            if rng.random() < 0.7:
                check_out = ends + timedelta(minutes=rng.uniform(120, 300))
            else:
                check_in = starts - timedelta(minutes=rng.uniform(75, 150))
        common = {"activity_id": activity_id, "volunteer_id": vid}
        out.append(make_event("activity.checked_in", world.eid(f"in:{activity_id}:{vid}"),
                              check_in, HONGQIAO, **common))
        if i in forgot:
            continue
        rating = rng.choices((5, 4, 3, 2, 1), (50, 35, 12, 2, 1))[0] \
            if rng.random() < 0.5 else None
        out.append(make_event("activity.checked_out", world.eid(f"out:{activity_id}:{vid}"),
                              check_out, HONGQIAO, rating=rating, **common))
    return out


def _newcomers(world: World, day: date) -> list[SimEvent]:
    rng = world.rng("new", day)
    count = sum(rng.random() < 1.5 * world.scale / 4 for _ in range(4))
    out = []
    for j in range(count):
        person = draw_person(rng, -1, f"HQN{day:%y%m%d}{j}", world.tz, day, "330199",
                             f"1549{day.toordinal() % 10_000:04d}{j:03d}", set())
        out.append(registration(person, world.eid(f"reg:{person.volunteer_id}")))
    return out


def day_plan(world: World, day: date) -> list[SimEvent]:
    """Every event of one local day's activities, new volunteers and date-bound mobilisation.

    The activities are published the evening before (so those events fall on the day before);
    late check-outs may fall after midnight. About 20-40 activities at full size (more at
    weekends), at least 3 at any size.
    """
    rng = world.rng("day", day)
    weekend = day.weekday() >= 5
    count = max(3, round(rng.uniform(20, 32) * (1.25 if weekend else 1.0) * world.scale))
    out, shifts, busy = [], [], set()
    kinds = [k for k in KINDS if weekend or k.kind != "义诊"]
    for k in range(count):
        kind = rng.choices(kinds, weights=[x.weight for x in kinds])[0]
        event, village, starts, ends, needed = _activity(world, rng, day, k + 1, kind)
        out.append(event)
        activity_id = event.fields["activity_id"]
        shifts.extend((activity_id, p, starts, ends)
                      for p in _participants(world, rng, village, kind, starts, needed, busy))
    out.extend(_punches(world, rng, shifts))
    out.extend(_newcomers(world, day))
    mob = world.rng("mob", day)
    if mob.random() < 0.12:
        at = world.midnight(day) + timedelta(seconds=mob.randrange(8 * 3600, 20 * 3600))
        out.extend(_mobilization(world, mob, world.ident(f"m{day:%Y%m%d}"), at,
                                 pick_village(mob), mob.uniform(10, 30), mob.random() < 0.25))
    return out


def _answers(world: World, rng: random.Random, mid: str, at: datetime, deadline: datetime,
             needed: int, pool: list[Person], lag: bool) -> list[SimEvent]:
    """Answers to a request; on schedule or lagging (then it never fills).

    On schedule, the first ``needed`` to accept arrive before the deadline; lagging, fewer than
    ``needed`` accept, and slowly.
    """
    span = (deadline - at).total_seconds()
    if lag:
        accept = min(needed - 1, round(needed * rng.uniform(0.75, 0.95)))
        delays = sorted(span * rng.uniform(0.15, 1.6) for _ in range(accept))
    else:
        accept = round(needed * rng.uniform(1.12, 1.3))
        delays = sorted(min(span * 0.8, rng.expovariate(1 / (span * 0.15)))
                        for _ in range(accept))
    decline = round(max(accept, 1) * rng.uniform(0.25, 0.5))
    chosen = weighted_sample(rng, pool, [p.weight for p in pool],
                             min(len(pool), accept + decline))
    out = []
    for n, person in enumerate(chosen):
        vid = person.volunteer_id
        common = {"mobilization_id": mid, "volunteer_id": vid}
        if n >= accept:
            when = at + timedelta(seconds=span * rng.uniform(0.02, 0.7))
            out.append(make_event("mobilization.declined", world.eid(f"dec:{mid}:{vid}"), when,
                                  HONGQIAO, **common))
            continue
        accepted = at + timedelta(seconds=20 + delays[n])
        out.append(make_event("mobilization.accepted", world.eid(f"acc:{mid}:{vid}"), accepted,
                              HONGQIAO, **common))
        if lag:
            arrived = accepted + timedelta(seconds=span * rng.uniform(0.15, 0.5)) \
                if rng.random() < 0.93 else None
        else:
            arrived = accepted + timedelta(seconds=span * rng.uniform(0.1, 0.42))
            if n < needed:  # enough come in time: the schedule is met
                arrived = max(min(arrived, deadline - timedelta(seconds=rng.randrange(60, 300))),
                              accepted + timedelta(seconds=60))
            elif rng.random() < 0.2:
                arrived = None
        if arrived is not None:
            out.append(make_event("mobilization.arrived", world.eid(f"arr:{mid}:{vid}"),
                                  arrived, HONGQIAO, **common))
    return out


def _mobilization(world: World, rng: random.Random, mid: str, at: datetime, village: str,
                  size: float, lag: bool, minutes: int | None = None,
                  title: str | None = None) -> list[SimEvent]:
    skills = [rng.choice(("急救", "驾驶"))] if title is None and rng.random() < 0.25 else []
    pool = [p for p in world.by_village[village]
            if p.active_on(at) and (not skills or set(skills) & set(p.skills))]
    needed = min(max(3, round(size * world.scale)), len(pool) // 2)
    if needed < 1:
        return []
    minutes = minutes or rng.choice((60, 90, 120))
    deadline = at + timedelta(minutes=minutes)
    name = village_name(village)
    request = make_event(
        "mobilization.requested", world.eid(f"mob:{mid}"), at, CENTRE, mobilization_id=mid,
        village=village, count=needed, deadline=stamp(deadline),
        title=title or rng.choice(_EMERGENCIES), place=f"{name}党群服务中心",
        skills=",".join(skills) or None)
    return [request, *_answers(world, rng, mid, at, deadline, needed, pool, lag)]


def live_mobilizations(world: World, anchor: datetime, after: datetime,
                       until: datetime) -> list[SimEvent]:
    """Mobilisations of a run started at ``anchor``, requested in ``(after, until]``.

    The lockdown (140 in 朝阳村 at full size, deadline 1 h) 90 s after the anchor; then one
    every :data:`MOBILIZE_EVERY_H` hours (± 30 min) in another village, 12-35 people at full
    size; the first of them lags (accepts come slowly), later ones lag one time in three.
    """
    out: list[SimEvent] = []
    tag = f"{anchor.astimezone(world.tz):%Y%m%d%H%M}"
    k = 0
    while True:
        rng = world.rng("live", tag, k)
        if k == 0:
            at = anchor + timedelta(seconds=90)
        else:
            at = anchor + timedelta(hours=k * MOBILIZE_EVERY_H,
                                    seconds=rng.randrange(-1800, 1800))
        if at > until:
            return out
        if at > after:
            mid = world.ident(f"m{tag}-{k}")
            if k == 0:
                out.extend(_mobilization(world, rng, mid, at, CHAOYANG, LOCKDOWN_NEEDED, False,
                                         LOCKDOWN_MINUTES, "封控区值守"))
            else:
                out.extend(_mobilization(world, rng, mid, at, pick_village(rng, CHAOYANG),
                                         rng.uniform(12, 35), k == 1 or rng.random() < 0.35))
        k += 1
