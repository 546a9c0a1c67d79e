"""Simulated waste sorting (模拟): villages, stations, houses, landlords and households.

The registry of the simulated waste feed (:mod:`cockpit.waste.simulate`). Each of the 15
villages and communities gets :data:`VILLAGES`' share of the households, 2-4 collection
stations inside its (schematic) polygon with two supervisors each (ids only), and houses in
groups (组) of 40, each group a cluster near its station inside the village
(:mod:`cockpit.waste.sim_places`). A house is a local household's home or a rental house
(出租房) of a landlord who owns 1-6 of them and lets it to 1-3 tenant households at a time.
Each tenant place is a chain of tenancies: a household moves in, stays for months, moves out
(``household.moved_out``) and, after a few days, the next one registers for the same house,
so landlords have history.

Calibration (the issue): :data:`COMMUNITY` (新街社区, chosen arbitrarily) has about 900
households sorting about 96 % correctly; the other villages 150-400 households each at 85-95 %.
About :data:`WEAK_SHARE` of the households are weak (50-70 %). Everything is drawn from
generators seeded by the world's seed and what is drawn (a village's houses, a tenant place, a
household), so a world is the same at every start and the first houses of a small world are
those of the full one. Names and phones are invented (154 9/8 numbers, as the volunteers').
"""

from __future__ import annotations

import functools
import math
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from cockpit.volunteers.sim_people import SimEvent, make_event
from cockpit.waste.events import WasteClass
from cockpit.waste.sim_places import house_point

#: The simulated waste system of the subdistrict; every source starts with ``sim:``.
SOURCE = "sim:waste"


@dataclass(frozen=True)
class VillagePlan:
    """A village's id letters, its households at full size and its disposals' accuracy."""

    abbrev: str
    households: int
    accuracy: float


#: 新街社区: the community calibrated to the issue's figures (the choice is arbitrary).
COMMUNITY, COMMUNITY_NAME = "330110006002", "新街社区"
#: Per village (NBS 2016 code): letters of its ids, households, accuracy (invented, plausible).
#: Around the 95 % target as a subdistrict that has sorted for years is: the community above
#: it, most villages a few points under (93.5-95 %, clear of the alert rule's 90 %), and
#: three genuinely low villages (85-87.5 %) that the accuracy alert and the follow-ups find.
VILLAGES: dict[str, VillagePlan] = {
    "330110006002": VillagePlan("XJ", 900, 0.965), "330110006003": VillagePlan("QS", 380, 0.945),
    "330110006004": VillagePlan("LC", 340, 0.94), "330110006005": VillagePlan("LX", 360, 0.95),
    "330110006201": VillagePlan("SJ", 220, 0.935), "330110006204": VillagePlan("WJ", 160, 0.87),
    "330110006207": VillagePlan("FQ", 240, 0.945), "330110006213": VillagePlan("YX", 200, 0.94),
    "330110006222": VillagePlan("SA", 300, 0.945), "330110006223": VillagePlan("YH", 260, 0.935),
    "330110006224": VillagePlan("CY", 400, 0.95), "330110006225": VillagePlan("WX", 250, 0.875),
    "330110006226": VillagePlan("HM", 180, 0.85), "330110006227": VillagePlan("LS", 320, 0.94),
    "330110006228": VillagePlan("GJ", 190, 0.935),
}
DEFAULT_HOUSEHOLDS = sum(v.households for v in VILLAGES.values())  # 4,700
#: Share of weak households (their accuracy 50-70 %); a little lower in the community.
WEAK_SHARE, COMMUNITY_WEAK_SHARE, WEAK_ACCURACY = 0.04, 0.03, (0.50, 0.70)
#: Share of rental houses, tenant places per rental house, houses a landlord owns.
TENANT_HOUSES = 0.55
_PLACES = ((1, 60), (2, 28), (3, 12))
_OWNED = ((1, 30), (2, 25), (3, 18), (4, 12), (5, 8), (6, 7))
HOUSES_PER_GROUP = 40
#: Tenancies: first move-ins from about this date; a stay's median length and the vacancy after.
CHAIN_FROM = date(2023, 1, 1)
STAY_MEDIAN_DAYS, STAY_DAYS, VACANT_DAYS = 300, (45, 1500), (1, 20)
LOCALS_FROM, LOCALS_TO = date(2019, 6, 1), date(2024, 12, 31)
STATIONS_SINCE = date(2021, 3, 1)
_MOVE_REASONS = ("合同到期", "合同到期", "换工作", "回老家", "搬至他处", "购房搬离")
_SURNAMES = "王陈张李徐沈周钱朱吴金杨黄刘孙胡蒋俞何高许郑施姚陆方潘蔡叶程袁"
_GIVEN = "伟强军建国明华平杰斌涛勇峰刚林海波辉鹏浩宇俊文志荣芳丽英红燕玲萍秀兰娟静敏霞婷雪梅佳怡"


@dataclass(frozen=True)
class Station:
    """A collection station: id, name, village, WGS-84 position and its two supervisors."""

    station_id: str
    name: str
    village: str
    lon: float
    lat: float
    supervisors: tuple[str, str]


@dataclass(frozen=True)
class Landlord:
    """A landlord (房东): id and invented name and phone."""

    landlord_id: str
    name: str
    phone: str


@dataclass(frozen=True)
class House:
    """A local household's home or a rental house with its landlord and tenant places.

    ``lon``, ``lat``: where it stands, WGS-84 degrees (:func:`.sim_places.house_point`).
    """

    house_id: str
    village: str
    group: int
    address: str
    landlord: Landlord | None
    places: int
    lon: float
    lat: float


@dataclass(frozen=True)
class Household:
    """One household (户): local for good, or a tenant from ``moved_in`` to ``moved_out``."""

    household_id: str
    house: House
    moved_in: datetime
    moved_out: datetime | None
    accuracy: float
    weak: bool
    members: int
    head_name: str
    head_phone: str
    station: int

    @property
    def tenant(self) -> bool:
        """Whether it rents (has a landlord)."""
        return self.house.landlord is not None

    def lives_during(self, start: datetime, end: datetime) -> bool:
        """Whether it lives in its house at some time in ``[start, end)``."""
        return self.moved_in < end and (self.moved_out is None or self.moved_out > start)


@dataclass
class Village:
    """A village of the world: plan, name, size, stations, houses, and households' draws."""

    code: str
    name: str
    plan: VillagePlan
    size: int
    stations: list[Station] = field(default_factory=list)
    houses: list[House] = field(default_factory=list)

    @property
    def weak_share(self) -> float:
        """Share of weak households."""
        return COMMUNITY_WEAK_SHARE if self.code == COMMUNITY else WEAK_SHARE

    @property
    def normal_error(self) -> float:
        """Mean error of a household that is not weak, so the village meets its accuracy."""
        w = self.weak_share
        return 1 - (self.plan.accuracy - w * sum(WEAK_ACCURACY) / 2) / (1 - w)


def person_name(rng: random.Random) -> str:
    """An invented name: a common surname and one or two given-name characters."""
    given = rng.choice(_GIVEN) + (rng.choice(_GIVEN) if rng.random() < 0.7 else "")
    return rng.choice(_SURNAMES) + given


class Place:
    """A tenant place (one of a rental house's 1-3): its chain of tenancies, drawn lazily."""

    def __init__(self, world: World, village: Village, house: House, index: int):
        self.world, self.village, self.house, self.index = world, village, house, index
        self._rng = world.rng("place", house.house_id, index)
        self.tenancies: list[Household] = []
        start = world.midnight(CHAIN_FROM) - timedelta(days=self._rng.uniform(0, 400))
        self._next_in = start + timedelta(hours=self._rng.uniform(9, 20))

    def upto(self, until: datetime) -> list[Household]:
        """Every tenancy that begins before ``until``, and the next one."""
        while not self.tenancies or self.tenancies[-1].moved_in < until:
            rng = self._rng
            j = len(self.tenancies) + 1
            stay = min(max(rng.lognormvariate(math.log(STAY_MEDIAN_DAYS), 0.6), STAY_DAYS[0]),
                       STAY_DAYS[1])
            moved_in = self._next_in
            day_out = (moved_in + timedelta(days=stay)).date()
            moved_out = self.world.midnight(day_out) + timedelta(hours=rng.uniform(8, 19))
            self.tenancies.append(self.world.household(
                self.village, self.house, f"QS-{self.house.house_id}-{self.index}{j:02d}",
                moved_in, moved_out))
            vacant = (moved_out + timedelta(days=rng.randint(*VACANT_DAYS))).date()
            self._next_in = self.world.midnight(vacant) + timedelta(hours=rng.uniform(9, 20))
        return self.tenancies


def _weighted(rng: random.Random, table: tuple[tuple[int, int], ...]) -> int:
    return rng.choices([v for v, _ in table], weights=[w for _, w in table])[0]


class World:
    """The simulated waste world: seed, size (households), zone, item list and villages."""

    def __init__(self, seed: int, size: int, tz: ZoneInfo,
                 items: dict[WasteClass, tuple[str, ...]]):
        if size < len(VILLAGES):
            raise ValueError(f"size {size}: at least {len(VILLAGES)} households (one a village)")
        self.seed, self.size, self.tz, self.items = seed, size, tz, items
        names = _village_names()
        self.villages = [Village(code, names[code], plan,
                                 max(1, round(plan.households * size / DEFAULT_HOUSEHOLDS)))
                         for code, plan in VILLAGES.items()]
        self.by_code = {v.code: v for v in self.villages}
        self.locals: list[Household] = []
        self.places: list[Place] = []
        for village in self.villages:
            village.stations = self._stations(village)
            self._houses(village)

    def eid(self, what: str) -> str:
        """Event id of ``what`` in this world, e.g. ``sim-7.4700:d:QS-XJ-01-003:20261203:1``."""
        return f"sim-{self.seed}.{self.size}:{what}"

    def rng(self, *what: object) -> random.Random:
        """A generator seeded by the world and ``what``."""
        return random.Random(":".join(map(str, (self.seed, self.size, *what))))

    def midnight(self, day: date) -> datetime:
        """Start of a local day."""
        return datetime.combine(day, time(), self.tz)

    def village(self, code: str) -> Village | None:
        """The village of a code, None if unknown."""
        return self.by_code.get(code)

    def household(self, village: Village, house: House, household_id: str,
                  moved_in: datetime, moved_out: datetime | None) -> Household:
        """A household with its own draws (accuracy, members, head, home station)."""
        rng = self.rng("household", household_id)
        weak = rng.random() < village.weak_share
        if weak:
            accuracy = rng.uniform(*WEAK_ACCURACY)
        else:
            accuracy = 1 - min(0.45, rng.gammavariate(2.0, village.normal_error / 2))
        home = (house.group - 1) % len(village.stations)
        if rng.random() < 0.1:
            home = rng.randrange(len(village.stations))
        return Household(household_id, house, moved_in, moved_out, accuracy, weak,
                         rng.randint(1, 4) if house.landlord else rng.randint(2, 5),
                         person_name(rng), f"1549{rng.randrange(10_000_000):07d}", home)

    def _stations(self, village: Village) -> list[Station]:
        count = 2 + (village.size >= 250) + (village.size >= 600)
        points = station_points(village.code, count, self.seed)
        return [Station(f"QS-{village.plan.abbrev}-ST-{n:02d}", f"{village.name}{n}号投放点",
                        village.code, lon, lat,
                        (f"SUP-{village.plan.abbrev}-{2 * n - 1:02d}",
                         f"SUP-{village.plan.abbrev}-{2 * n:02d}"))
                for n, (lon, lat) in enumerate(points, start=1)]

    def _houses(self, village: Village) -> None:
        rng = self.rng("houses", village.code)
        ab, placed, i, owned, landlord = village.plan.abbrev, 0, 0, 0, None
        while placed < village.size:
            group, number = 1 + i // HOUSES_PER_GROUP, i % HOUSES_PER_GROUP + 1
            house_id = f"{ab}-{group:02d}-{number:03d}"
            address = f"{village.name}{group}组{number}号"
            station = village.stations[(group - 1) % len(village.stations)]
            at = house_point(self.seed, village.code, group, house_id, (station.lon, station.lat))
            if rng.random() < TENANT_HOUSES:
                if owned == 0:
                    owned = _weighted(rng, _OWNED)
                    landlord = Landlord(f"LL-{ab}-{i + 1:04d}", person_name(rng),
                                        f"1548{rng.randrange(10_000_000):07d}")
                owned -= 1
                places = min(_weighted(rng, _PLACES), village.size - placed)
                house = House(house_id, village.code, group, address, landlord, places, *at)
                self.places.extend(Place(self, village, house, k + 1) for k in range(places))
            else:
                places = 1
                house = House(house_id, village.code, group, address, None, 1, *at)
                day = LOCALS_FROM + timedelta(days=rng.randrange((LOCALS_TO - LOCALS_FROM).days))
                self.locals.append(self.household(
                    village, house, f"QS-{house_id}", self.midnight(day)
                    + timedelta(hours=rng.uniform(8.5, 17.5)), None))
            village.houses.append(house)
            placed += places
            i += 1

    def residents(self, start: datetime, end: datetime) -> list[Household]:
        """Every household living in its house at some time in ``[start, end)``."""
        out = [h for h in self.locals if h.moved_in < end]
        for place in self.places:
            out.extend(h for h in place.upto(end) if h.lives_during(start, end))
        return out


@functools.lru_cache(maxsize=1)
def _village_names() -> dict[str, str]:
    from cockpit.geo import village_names  # geopandas: only when a world is built

    return {code: info["name"] for code, info in village_names().items()}


@functools.lru_cache(maxsize=64)
def station_points(code: str, count: int, seed: int) -> list[tuple[float, float]]:
    """``count`` WGS-84 points well inside a village's schematic polygon (about 150 m in)."""
    import shapely

    from cockpit.geo import load_villages

    villages = load_villages()
    polygon = villages.loc[villages["code"] == code, "geometry"].iloc[0]
    inner = polygon.buffer(-0.0015)
    area = inner if not inner.is_empty else polygon
    x0, y0, x1, y1 = area.bounds
    rng = random.Random(f"{seed}:stations:{code}")
    points: list[tuple[float, float]] = []
    while len(points) < count:
        x, y = rng.uniform(x0, x1), rng.uniform(y0, y1)
        if shapely.contains_xy(area, x, y):
            points.append((round(x, 6), round(y, 6)))
    return points


def station_event(world: World, station: Station, n: int) -> SimEvent:
    """``station.registered`` of a station, its position sent in GCJ-02 (as Gaode gives it)."""
    from cockpit.crs import from_wgs84

    lon, lat = from_wgs84(station.lon, station.lat, "gcj02")
    at = world.midnight(STATIONS_SINCE + timedelta(days=n)) + timedelta(hours=9)
    return make_event("station.registered", world.eid(f"st:{station.station_id}"), at, SOURCE,
                      station_id=station.station_id, name=station.name, village=station.village,
                      lon=f"{lon:.6f}", lat=f"{lat:.6f}", crs="gcj02")


def registration(world: World, household: Household) -> SimEvent:
    """``household.registered`` of a local household or of a tenancy (at its move-in).

    The house's position is sent in GCJ-02, as a Gaode-geocoded register gives it.
    """
    from cockpit.crs import from_wgs84

    house, landlord = household.house, household.house.landlord
    lon, lat = from_wgs84(house.lon, house.lat, "gcj02")
    common = {"household_id": household.household_id, "village": house.village,
              "group": f"{house.group}组", "house_id": house.house_id, "address": house.address,
              "head_name": household.head_name, "head_phone": household.head_phone,
              "members": household.members, "lon": f"{lon:.6f}", "lat": f"{lat:.6f}",
              "crs": "gcj02"}
    if landlord is None:
        return make_event("household.registered", world.eid(f"reg:{household.household_id}"),
                          household.moved_in, SOURCE, kind="local", **common)
    return make_event("household.registered", world.eid(f"reg:{household.household_id}"),
                      household.moved_in, SOURCE, kind="tenant", landlord_id=landlord.landlord_id,
                      landlord_name=landlord.name, landlord_phone=landlord.phone,
                      moved_in_at=household.moved_in.isoformat(timespec="seconds"), **common)


def moved_out(world: World, household: Household) -> SimEvent:
    """``household.moved_out`` of a tenancy that ended."""
    reason = world.rng("out", household.household_id).choice(_MOVE_REASONS)
    return make_event("household.moved_out", world.eid(f"out:{household.household_id}"),
                      household.moved_out, SOURCE, household_id=household.household_id,
                      reason=reason)


def registry_events(world: World, first: datetime) -> list[SimEvent]:
    """The registry as it stood at ``first``: stations, local households, recent tenancies.

    Per tenant place the last two tenancies begun before ``first`` (the current tenant and the
    one before, with its move-out if it ended before ``first``); later move-ins and move-outs
    are events of their days (:func:`cockpit.waste.sim_days.turnover`).
    """
    out = [station_event(world, s, n) for village in world.villages
           for n, s in enumerate(village.stations)]
    out.extend(registration(world, h) for h in world.locals)
    for place in world.places:
        for household in [h for h in place.upto(first) if h.moved_in < first][-2:]:
            out.append(registration(world, household))
            if household.moved_out is not None and household.moved_out < first:
                out.append(moved_out(world, household))
    return out
