"""Simulated volunteers (模拟): invented people and their records on three platforms.

The registry of the simulated feed (:mod:`cockpit.volunteers.simulate`): ``size`` people spread
over the 15 villages and communities of Qiaosi, in teams, with skills, registered on 红乔先锋
(source ``sim:hongqiao``); about a quarter also on 西湖先锋 (``sim:xihu``, the same ID number,
sometimes a differently spelt name: joined automatically) and a tenth on 志愿汇
(``sim:zhiyuanhui``, no ID number, the same phone: proposed for review).

Everything is invented and cannot name a real person: names are random pairs of common surnames
and given-name characters; phone numbers start with 154, a prefix no operator issues; ID numbers
have a valid GB 11643 check character but a region code (3301 90-99) no county holds. Person
``i`` is drawn from its own seeded generator, so the first 300 people of a 7,400-person world are
the same 300 people as in a 300-person one, and every time and id is fixed by seed and index.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

#: Sources of the simulated producers: the platforms and the command centre's dispatch.
HONGQIAO, XIHU, ZHIYUANHUI, CENTRE = "sim:hongqiao", "sim:xihu", "sim:zhiyuanhui", "sim:centre"
#: ~7,400 volunteers of 红乔先锋 (the figure of the issue and DESIGN §1).
DEFAULT_VOLUNTEERS = 7_400
XIHU_SHARE, ZHIYUANHUI_SHARE, LEFT_SHARE = 0.25, 0.10, 0.015

#: Relative sizes of the villages' and communities' volunteer rolls (invented, plausible).
VILLAGE_WEIGHTS: dict[str, int] = {
    "330110006002": 9, "330110006003": 10, "330110006004": 6, "330110006005": 7,
    "330110006201": 5, "330110006204": 4, "330110006207": 6, "330110006213": 5,
    "330110006222": 7, "330110006223": 6, "330110006224": 8, "330110006225": 6,
    "330110006226": 5, "330110006227": 7, "330110006228": 5,
}
#: 朝阳村, where the lockdown of the issue needed 140 volunteers in place.
CHAOYANG = "330110006224"
#: The subdistrict's teams of each kind; every village also has its own grid team.
SUBDISTRICT_TEAMS = {"party": "乔司街道党员先锋队", "union": "乔司街道总工会志愿服务队",
                     "youth": "乔司街道青年突击队", "women": "乔司街道巾帼志愿队"}
_TEAM_SHARES = (("grid", 38), ("party", 20), ("youth", 16), ("women", 14), ("union", 12))
_FEMALE = {"grid": 0.55, "party": 0.4, "youth": 0.5, "women": 1.0, "union": 0.45}
_AGES = {"grid": (30, 72), "party": (24, 72), "youth": (18, 35), "women": (22, 70),
         "union": (22, 58)}
#: Skills and how common each is; a team makes some likelier (×2).
SKILLS = {"急救": 0.12, "驾驶": 0.18, "心理疏导": 0.05, "垃圾分类督导": 0.22, "治安巡逻": 0.18,
          "助老": 0.15, "医护": 0.04, "翻译": 0.03, "法律咨询": 0.03, "电工维修": 0.05,
          "摄影宣传": 0.04}
_TEAM_SKILLS = {"grid": {"治安巡逻", "垃圾分类督导"}, "women": {"助老", "心理疏导"},
                "youth": {"翻译", "摄影宣传", "驾驶"}, "party": {"法律咨询", "急救"},
                "union": {"电工维修", "驾驶"}}
_SURNAMES = ("王" * 9 + "陈" * 9 + "张" * 6 + "李" * 6 + "徐" * 5 + "沈" * 5 + "周" * 5
             + "钱" * 3 + "朱" * 4 + "吴" * 5 + "金" * 3 + "杨" * 4 + "黄" * 3 + "刘" * 4
             + "孙" * 3 + "胡" * 3 + "蒋" * 2 + "俞" * 2 + "何" * 2 + "高" * 2 + "许" * 2
             + "郑" * 2 + "范" + "施" * 2 + "姚" * 2 + "陆" * 2 + "汪" + "方" * 2 + "冯" + "章"
             + "潘" + "蔡" + "严" + "顾" + "毛" + "邵" + "丁" + "马" + "叶" * 2 + "程" + "袁")
_MALE = "伟强军建国明华平杰斌涛勇峰刚林海波辉鹏浩宇晨俊文志荣祥德福根兴永松忠磊"
_FEMALE_CHARS = "芳丽英红燕玲萍秀兰娟静敏霞婷雪梅琳佳怡欣月凤琴云素美慧莉华"
#: Other spellings a platform may hold: traditional forms of common characters.
_VARIANTS = {"华": "華", "国": "國", "伟": "偉", "丽": "麗", "杰": "傑", "峰": "峯", "红": "紅",
             "兰": "蘭", "凤": "鳳", "云": "雲", "荣": "榮", "兴": "興", "强": "強", "军": "軍",
             "涛": "濤", "陈": "陳", "张": "張", "刘": "劉", "杨": "楊", "黄": "黃", "赵": "趙",
             "吴": "吳", "钱": "錢", "孙": "孫", "蒋": "蔣", "许": "許", "郑": "鄭", "陆": "陸",
             "冯": "馮", "顾": "顧", "叶": "葉", "马": "馬", "丽英": "麗英"}
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
#: Registrations of the base roll fall between these dates (local), more of them lately.
REGISTRY_FROM, REGISTRY_TO = date(2019, 5, 1), date(2025, 12, 31)
_EARLIEST = date(2018, 1, 1)
_AGE_AT = date(2025, 7, 1)


@dataclass(frozen=True)
class SimEvent:
    """One stream entry of the simulated feed: when it is due and its field map."""

    at: datetime
    fields: dict[str, str] = field(compare=False)

    @property
    def key(self) -> tuple[datetime, str]:
        """Order of sending: time, then event id."""
        return (self.at, self.fields["event_id"])


def stamp(at: datetime) -> str:
    """An event time as ISO-8601 with its offset, whole seconds."""
    return at.isoformat(timespec="seconds")


def make_event(event_type: str, event_id: str, at: datetime, source: str, /,
               **fields) -> SimEvent:
    """A :class:`SimEvent` of ``event_type``; None-valued fields are left out."""
    out = {"event_id": event_id, "type": event_type, "occurred_at": stamp(at), "source": source}
    out.update({k: str(v) for k, v in fields.items() if v is not None})
    return SimEvent(at, out)


@dataclass(frozen=True)
class Alias:
    """A person's record on another platform: its id, name as spelt there, time, phone."""

    volunteer_id: str
    name: str
    registered_at: datetime
    phone: str | None
    skills: tuple[str, ...] = ()


@dataclass(frozen=True)
class Person:
    """One invented volunteer as 红乔先锋 knows them, with their other platforms' records."""

    index: int
    volunteer_id: str
    name: str
    phone: str
    id_number: str
    team: str
    team_kind: str
    skills: tuple[str, ...]
    village: str
    grid: str
    registered_at: datetime
    #: How often they serve, relative to others (heavy-tailed: a few serve very often).
    weight: float
    xihu: Alias | None = None
    zhiyuanhui: Alias | None = None
    #: When they left (an inactive record), if they did.
    left_at: datetime | None = None
    #: A later skill added by ``volunteer.updated``: (time, all skills then).
    skills_update: tuple[datetime, tuple[str, ...]] | None = None

    def active_on(self, at: datetime) -> bool:
        """Registered on 红乔先锋 before ``at`` and not left by then."""
        return self.registered_at < at and (self.left_at is None or self.left_at > at)


def id_number(region: str, born: date, serial: int) -> str:
    """An 18-character ID number with a valid GB 11643 check character."""
    body = f"{region}{born:%Y%m%d}{serial % 1000:03d}"
    total = sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True))
    return body + _ID_CHECK[total % 11]


def variant_name(name: str, rng: random.Random, prefer_char: bool) -> str:
    """The same name as another platform may spell it: a variant character or a space."""
    if prefer_char:
        for plain, other in sorted(_VARIANTS.items(), key=lambda kv: -len(kv[0])):
            if plain in name:
                return name.replace(plain, other, 1)
    return name[0] + rng.choice((" ", "\u3000")) + name[1:]


def _day_time(rng: random.Random, day: date, tz: ZoneInfo, first: int = 8,
              last: int = 21) -> datetime:
    seconds = rng.randrange(first * 3600, last * 3600)
    return datetime.combine(day, time(), tz) + timedelta(seconds=seconds)


def _between(rng: random.Random, start: date, end: date, recent: bool = False) -> date:
    span = (end - start).days
    share = rng.random() ** 0.6 if recent else rng.random()
    return start + timedelta(days=int(span * share))


def _name(rng: random.Random, female: bool) -> str:
    chars = _FEMALE_CHARS if female else _MALE
    given = rng.choice(chars) + (rng.choice(chars) if rng.random() < 0.7 else "")
    return rng.choice(_SURNAMES) + given


def _skills(rng: random.Random, kind: str) -> tuple[str, ...]:
    tilt = _TEAM_SKILLS.get(kind, set())
    return tuple(s for s, p in SKILLS.items() if rng.random() < p * (2 if s in tilt else 1))


def grid_codes(village: str) -> list[str]:
    """The grid (网格) codes of a village: ``<village code>-01`` ... (3 + its weight of them)."""
    return [f"{village}-{g:02d}" for g in range(1, 4 + VILLAGE_WEIGHTS[village])]


def grid_team(village_name: str) -> str:
    """Name of a village's grid team, e.g. 朝阳村网格志愿队."""
    return f"{village_name}网格志愿队"


def draw_person(rng: random.Random, index: int, volunteer_id: str, tz: ZoneInfo,
                registered: date, region: str, phone: str, taken_ids: set[str]) -> Person:
    """One person from their own generator (no other platform's record yet)."""
    codes = list(VILLAGE_WEIGHTS)
    village = rng.choices(codes, weights=[VILLAGE_WEIGHTS[c] for c in codes])[0]
    kind = rng.choices([k for k, _ in _TEAM_SHARES], weights=[w for _, w in _TEAM_SHARES])[0]
    female = rng.random() < _FEMALE[kind]
    low, high = _AGES[kind]
    while True:
        born = _AGE_AT - timedelta(days=rng.randrange(low * 365, high * 365 + 365))
        number = id_number(region, born, rng.randrange(500) * 2 + (0 if female else 1))
        if number not in taken_ids:
            break
    taken_ids.add(number)
    team = grid_team(village_name(village)) if kind == "grid" else SUBDISTRICT_TEAMS[kind]
    return Person(index=index, volunteer_id=volunteer_id, name=_name(rng, female), phone=phone,
                  id_number=number, team=team, team_kind=kind, skills=_skills(rng, kind),
                  village=village, grid=rng.choice(grid_codes(village)),
                  registered_at=_day_time(rng, registered, tz),
                  weight=rng.lognormvariate(0.0, 0.9))


def make_people(seed: int, size: int, tz: ZoneInfo) -> list[Person]:
    """The base roll: ``size`` invented people, the same ones for a seed whatever the size.

    Parameters
    ----------
    seed : int
        Seed of the whole simulated world.
    size : int
        Number of people (≥ 1); 7,400 in the demo.
    tz : ZoneInfo
        Zone of the registration times.

    Returns
    -------
    list of Person
        Ids ``HQ000001`` ...; phone numbers and ID numbers distinct.
    """
    people: list[Person] = []
    phones: set[str] = set()
    ids: set[str] = set()
    for i in range(size):
        rng = random.Random(f"{seed}:person:{i}")
        registered = _between(rng, REGISTRY_FROM, REGISTRY_TO, recent=True)
        while True:
            phone = f"154{rng.randrange(0, 80_000_000):08d}"
            if phone not in phones:
                break
        phones.add(phone)
        person = draw_person(rng, i, f"HQ{i + 1:06d}", tz, registered,
                             f"33019{rng.randrange(9)}", phone, ids)
        people.append(_with_records(person, rng, tz))
    return people


def _with_records(person: Person, rng: random.Random, tz: ZoneInfo) -> Person:
    i, updates = person.index, {}
    reg = person.registered_at.date()
    if rng.random() < XIHU_SHARE:
        when = max(_EARLIEST, reg - timedelta(days=rng.randrange(20, 600)))
        name = variant_name(person.name, rng, rng.random() < 0.5) if rng.random() < 0.35 \
            else person.name
        updates["xihu"] = Alias(f"XH{(i * 7919 + 104_729) % 1_000_003:07d}", name,
                                _day_time(rng, when, tz),
                                person.phone if rng.random() < 0.85 else None, person.skills)
    if rng.random() < ZHIYUANHUI_SHARE:
        when = min(REGISTRY_TO, max(_EARLIEST, reg + timedelta(days=rng.randrange(-300, 300))))
        name = variant_name(person.name, rng, rng.random() < 0.7) if rng.random() < 0.4 \
            else person.name
        skills = tuple(s for s in person.skills if rng.random() < 0.6)
        updates["zhiyuanhui"] = Alias(f"ZYH{(i * 104_723 + 17) % 9_999_991:08d}", name,
                                      _day_time(rng, when, tz), person.phone, skills)
    if "xihu" not in updates and rng.random() < LEFT_SHARE:
        when = min(REGISTRY_TO, reg + timedelta(days=rng.randrange(60, 900)))
        updates["left_at"] = max(_day_time(rng, when, tz), person.registered_at
                                 + timedelta(days=1))
    elif rng.random() < 0.03:
        extra = rng.choice([s for s in SKILLS if s not in person.skills] or list(SKILLS))
        when = min(REGISTRY_TO, reg + timedelta(days=rng.randrange(30, 700)))
        at = max(_day_time(rng, when, tz), person.registered_at + timedelta(days=1))
        updates["skills_update"] = (at, tuple(dict.fromkeys((*person.skills, extra))))
    return replace(person, **updates)


def registration(person: Person, event_id: str) -> SimEvent:
    """``volunteer.registered`` of a person's 红乔先锋 record."""
    return make_event("volunteer.registered", event_id, person.registered_at, HONGQIAO,
                      volunteer_id=person.volunteer_id, name=person.name, phone=person.phone,
                      id_number=person.id_number, team=person.team, team_kind=person.team_kind,
                      skills=",".join(person.skills) or None, village=person.village,
                      grid=person.grid)


def registry_events(people: list[Person], eid) -> list[SimEvent]:
    """Every registry event of the base roll, on all three platforms.

    ``eid(what)`` makes an event id from what the event is (e.g. ``reg:HQ000001``).
    """
    out: list[SimEvent] = []
    for p in people:
        out.append(registration(p, eid(f"reg:{p.volunteer_id}")))
        if p.xihu is not None:
            x = p.xihu
            out.append(make_event("volunteer.registered", eid(f"reg:{x.volunteer_id}"),
                                  x.registered_at, XIHU, volunteer_id=x.volunteer_id,
                                  name=x.name, phone=x.phone, id_number=p.id_number,
                                  skills=",".join(x.skills) or None, village=p.village))
        if p.zhiyuanhui is not None:
            z = p.zhiyuanhui
            out.append(make_event("volunteer.registered", eid(f"reg:{z.volunteer_id}"),
                                  z.registered_at, ZHIYUANHUI, volunteer_id=z.volunteer_id,
                                  name=z.name, phone=z.phone,
                                  skills=",".join(z.skills) or None))
        if p.left_at is not None:
            out.append(make_event("volunteer.updated", eid(f"left:{p.volunteer_id}"),
                                  p.left_at, HONGQIAO, volunteer_id=p.volunteer_id,
                                  status="inactive"))
        if p.skills_update is not None:
            at, skills = p.skills_update
            out.append(make_event("volunteer.updated", eid(f"skills:{p.volunteer_id}"), at,
                                  HONGQIAO, volunteer_id=p.volunteer_id, skills=",".join(skills)))
    return out


@functools.lru_cache(maxsize=1)
def _names() -> dict[str, str]:
    from cockpit.geo import village_names  # geopandas: not for importers of the constants

    return {code: info["name"] for code, info in village_names().items()}


def village_name(code: str) -> str:
    """The Chinese name of a village or community by its code, e.g. 朝阳村."""
    return _names()[code]


@functools.lru_cache(maxsize=1)
def village_points() -> dict[str, tuple[float, float]]:
    """A point inside each village (WGS-84 lon, lat), where its activities are placed."""
    from cockpit.geo import label_points, load_villages

    return {code: (lon, lat) for code, _, lon, lat in label_points(load_villages(), False)}
