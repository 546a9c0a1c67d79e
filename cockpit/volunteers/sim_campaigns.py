"""Simulated volunteers (模拟): recruitment campaigns and their online sign-ups.

* :func:`asian_games`: the Asian Games campaign of 2023, ``asian-games-2023`` (亚运城市志愿者招募),
  whose sign-ups total exactly 25,404 at the full size of 7,400 volunteers (the figure of the
  issue), scaled with the size otherwise, between 15 March and 15 July 2023.
* :func:`campaign_signups`: the campaign of the current quarter, signed up to day by day (and
  live, as the simulator runs).

Like :mod:`.sim_days`, pure functions of the world and a date.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from cockpit.volunteers.sim_days import World, pick_village, poisson
from cockpit.volunteers.sim_people import DEFAULT_VOLUNTEERS, HONGQIAO, SimEvent, make_event

#: The Asian Games campaign of the issue: 25,404 online sign-ups (at the full 7,400 size).
ASIAN_GAMES_ID, ASIAN_GAMES_TITLE = "asian-games-2023", "亚运城市志愿者招募"
ASIAN_GAMES_TOTAL, ASIAN_GAMES_TARGET = 25_404, 25_000
ASIAN_GAMES_DAYS = (date(2023, 3, 15), date(2023, 7, 15))
_CHANNELS = {"浙里办": 45, "志愿汇": 30, "红乔先锋": 20, "现场报名": 5}
_HOURS = [1, 2, 4, 6, 7, 7, 8, 8, 6, 6, 7, 6, 6, 7, 9, 10, 8, 4]  # 06:00 .. 23:00
_QUARTERS = {1: "春季学雷锋志愿者招募", 2: "夏季防汛抗台志愿者招募", 3: "暑期护学志愿者招募",
             4: "冬季平安守护志愿者招募"}


@dataclass(frozen=True)
class Campaign:
    """A recruitment campaign: id, title, first and last day, sign-ups aimed at."""

    campaign_id: str
    title: str
    start: date
    end: date
    target: int


def _signup(world: World, rng: random.Random, campaign: Campaign, event_id: str,
            at: datetime) -> SimEvent:
    village = pick_village(rng) if rng.random() < 0.75 else None
    channel = rng.choices(list(_CHANNELS), weights=list(_CHANNELS.values()))[0]
    return make_event("recruitment.signed_up", event_id, at, HONGQIAO,
                      campaign_id=campaign.campaign_id, campaign=campaign.title,
                      target=campaign.target, village=village, channel=channel)


def _signup_time(world: World, rng: random.Random, day: date) -> datetime:
    hour = 6 + rng.choices(range(len(_HOURS)), weights=_HOURS)[0]
    return world.midnight(day) + timedelta(hours=hour, seconds=rng.randrange(3600))


def asian_games_counts(total: int, seed: int) -> list[int]:
    """Sign-ups per day of the Asian Games campaign, summing to exactly ``total``.

    A launch peak, a push around 1 May and a rush in the last week, with day-to-day noise;
    rounded by largest remainder.
    """
    first, last = ASIAN_GAMES_DAYS
    days = (last - first).days + 1
    rng = random.Random(f"{seed}:asian-games")
    weights = [(3 * math.exp(-d / 6) + 1 + 1.5 * math.exp(-((d - 47) / 5) ** 2)
                + 2.5 * math.exp(-(days - 1 - d) / 4)) * rng.uniform(0.85, 1.15)
               for d in range(days)]
    shares = [w * total / sum(weights) for w in weights]
    counts = [math.floor(s) for s in shares]
    by_remainder = sorted(range(days), key=lambda d: counts[d] - shares[d])
    for d in by_remainder[:total - sum(counts)]:
        counts[d] += 1
    return counts


def asian_games_total(size: int) -> int:
    """Sign-ups of the Asian Games campaign for a world of ``size``: 25,404 at 7,400."""
    return round(ASIAN_GAMES_TOTAL * size / DEFAULT_VOLUNTEERS)


def asian_games(world: World) -> list[SimEvent]:
    """Every sign-up of the Asian Games campaign (2023-03-15 .. 2023-07-15), oldest first."""
    first, last = ASIAN_GAMES_DAYS
    campaign = Campaign(ASIAN_GAMES_ID, ASIAN_GAMES_TITLE, first, last,
                        max(1, round(ASIAN_GAMES_TARGET * world.scale)))
    rng = random.Random(f"{world.seed}:asian-games:times")
    times = []
    for d, count in enumerate(asian_games_counts(asian_games_total(world.size), world.seed)):
        day = first + timedelta(days=d)
        times.extend(_signup_time(world, rng, day) for _ in range(count))
    times.sort()
    return [_signup(world, rng, campaign, world.eid(f"sign:{ASIAN_GAMES_ID}:{n:05d}"), at)
            for n, at in enumerate(times, start=1)]


def current_campaign(world: World, day: date) -> Campaign:
    """The campaign of ``day``'s quarter, e.g. ``qiaosi-2026q4`` 2026年冬季平安守护志愿者招募."""
    quarter = (day.month - 1) // 3 + 1
    start = date(day.year, 3 * quarter - 2, 1)
    end = date(day.year + quarter // 4, 3 * quarter % 12 + 1, 1) - timedelta(days=1)
    return Campaign(f"qiaosi-{day.year}q{quarter}", f"{day.year}年{_QUARTERS[quarter]}", start,
                    end, max(20, round(1200 * world.scale)))


def campaign_signups(world: World, day: date) -> list[SimEvent]:
    """Sign-ups of ``day`` to the campaign of its quarter (a livelier first week)."""
    campaign = current_campaign(world, day)
    days = (campaign.end - campaign.start).days + 1
    mean = campaign.target * 1.1 / days * (2.5 if (day - campaign.start).days < 7 else 1.0)
    rng = world.rng("sign", campaign.campaign_id, day)
    times = sorted(_signup_time(world, rng, day) for _ in range(poisson(rng, mean)))
    return [_signup(world, rng, campaign,
                    world.eid(f"sign:{campaign.campaign_id}:{day:%Y%m%d}:{n:03d}"), at)
            for n, at in enumerate(times, start=1)]
