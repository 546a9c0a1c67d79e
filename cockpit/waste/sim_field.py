"""Simulated waste sorting (模拟): the volunteers' field app that visits weak households.

The cockpit opens a follow-up task for each weak household it finds (:mod:`.followup`). In the
demo nobody carries a phone to the door, so the simulator plays the field app: every few
minutes it reads the open tasks from the store and sends ``followup.assigned`` (to one of the
village's supervisors, or to a volunteer one time in three), and a few hours after an
assignment ``followup.visited`` (mostly 宣传指导到位 ``educated``; sometimes ``not_home`` or
``refused``). A household educated so sorts better in the disposals that follow
(:func:`cockpit.waste.sim_days.accuracy_at`), so the before/after measure of the task shows a
change once a few disposals are in.

Who is assigned, when the visit happens and its outcome are drawn from the seed and the task's
id, so they are the same whenever the round runs. The visits the simulator made are kept in
Redis (``<prefix>sim:waste:<seed>.<size>:visits``) so that a restart rates the disposals after a
visit as it did before.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from cockpit.settings import Settings
from cockpit.store.waste_models import FollowUp
from cockpit.volunteers.sim_people import DEFAULT_VOLUNTEERS, SimEvent, make_event
from cockpit.waste.sim_days import Visit
from cockpit.waste.sim_world import World

#: Source of the simulated field app.
FIELD_SOURCE = "sim:fieldapp"
#: Tasks assigned per round at most (the rest in later rounds), and a visit's delay, minutes.
ASSIGN_PER_ROUND = 40
VISIT_AFTER_MIN = (30, 360)
VOLUNTEER_SHARE = 1 / 3
OUTCOMES = (("educated", 82), ("not_home", 12), ("refused", 6))
_NOTES = {"educated": ("讲解易腐垃圾需去袋投放", "发放分类指南，演示四分类投放",
                       "讲解有害垃圾单独投放，留联系方式", "与户主约定每周督导回访"),
          "not_home": ("上门未遇，已留宣传单",), "refused": ("户主拒绝沟通，已报村委",)}


def visits_key(settings: Settings, world: World) -> str:
    """The Redis hash of the visits this world's field app made (household → visit)."""
    return settings.key(f"sim:waste:{world.seed}.{world.size}:visits")


def load_visits(r: redis.Redis, settings: Settings, world: World) -> dict[str, Visit]:
    """The visits made so far (an entry that does not parse is ignored)."""
    out = {}
    for household, value in r.hgetall(visits_key(settings, world)).items():
        try:
            data = json.loads(value)
            out[household] = Visit(str(data["outcome"]), datetime.fromisoformat(data["since"]))
        except (ValueError, KeyError, TypeError):
            continue
    return out


def keep_visits(r: redis.Redis, settings: Settings, world: World,
                visits: Mapping[str, Visit]) -> None:
    """Record visits (after their events were sent)."""
    if visits:
        r.hset(visits_key(settings, world), mapping={
            h: json.dumps({"outcome": v.outcome, "since": v.since.isoformat()})
            for h, v in visits.items()})


def _assignee(world: World, rng, village_code: str | None) -> tuple[str, str]:
    if rng.random() < VOLUNTEER_SHARE:
        return f"HQ{rng.randrange(1, DEFAULT_VOLUNTEERS + 1):06d}", "volunteer"
    village = world.village(village_code or "") or world.villages[0]
    station = rng.choice(village.stations)
    return rng.choice(station.supervisors), "supervisor"


def field_round(session: Session, world: World, now: datetime
                ) -> tuple[list[SimEvent], dict[str, Visit]]:
    """One round of the field app over the store's open and assigned follow-ups.

    Parameters
    ----------
    session : Session
        A session on the store (read only).
    world : World
        The simulated world (seed, supervisors, zone).
    now : datetime
        The current time, aware: assignments happen now, visits at their drawn time if it has
        come.

    Returns
    -------
    list of SimEvent
        ``followup.assigned`` for up to :data:`ASSIGN_PER_ROUND` open tasks (oldest first) and
        ``followup.visited`` for every assigned task whose visit time has come, sorted by time.
    dict of str to Visit
        The households visited in this round, their improvement counted from ``now``.

    Raises
    ------
    sqlalchemy.exc.SQLAlchemyError
        If the store cannot be read.
    """
    now = now.astimezone(world.tz).replace(microsecond=0)
    rows = session.execute(
        select(FollowUp.followup_id, FollowUp.household_id, FollowUp.status,
               FollowUp.village_code, FollowUp.assignee_id, FollowUp.assigned_at)
        .where(FollowUp.status.in_(("open", "assigned")))
        .order_by(FollowUp.found_at, FollowUp.followup_id)).all()
    events: list[SimEvent] = []
    visits: dict[str, Visit] = {}
    assigned = 0
    for fid, household, status, village, assignee, assigned_at in rows:
        rng = world.rng("followup", fid)
        who, kind = _assignee(world, rng, village)
        if status == "open":
            if assigned < ASSIGN_PER_ROUND:
                events.append(make_event("followup.assigned", world.eid(f"fu-assign:{fid}"),
                                         now, FIELD_SOURCE, followup_id=fid, assignee_id=who,
                                         assignee_kind=kind))
                assigned += 1
            continue
        if assigned_at is None:
            continue
        at = (assigned_at.astimezone(world.tz) + timedelta(minutes=rng.uniform(
            *VISIT_AFTER_MIN))).replace(microsecond=0)
        if at > now:
            continue
        outcome = rng.choices([o for o, _ in OUTCOMES], weights=[w for _, w in OUTCOMES])[0]
        events.append(make_event("followup.visited", world.eid(f"fu-visit:{fid}"), at,
                                 FIELD_SOURCE, followup_id=fid, outcome=outcome,
                                 note=rng.choice(_NOTES[outcome]), by=assignee or who))
        visits[household] = Visit(outcome, now)
    events.sort(key=lambda e: e.key)
    return events, visits
