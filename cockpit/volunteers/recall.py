"""Re-call (再次动员): ask again the volunteers of a mobilisation who have not answered.

The cockpit does not text anyone itself: it records the re-call on the mobilisation and writes
one entry to ``{prefix}notifications`` for the SMS / voice gateway, naming the records to call
(platform and the platform's id; no name or phone). The gateway's answers come back as
``mobilization.accepted`` / ``declined`` / ``arrived`` like any other.
"""

from __future__ import annotations

import json
from datetime import datetime

import redis
from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from cockpit.geo import village_names
from cockpit.settings import Settings
from cockpit.store.volunteer_models import Mobilization, MobilizationAnswer, VolunteerRecord

#: Notifications kept in the stream (approximate trimming), as for incident notices.
STREAM_MAXLEN = 100_000


class RecallError(ValueError):
    """A re-call that cannot be made; the message says why."""


def waiting_records(session: Session, mobilization_id: str) -> list[tuple[str, str]]:
    """``(platform, source_id)`` of asked records whose volunteer has not answered at all."""
    rows = session.execute(
        select(MobilizationAnswer.platform, MobilizationAnswer.source_id,
               MobilizationAnswer.asked_at, MobilizationAnswer.accepted_at,
               MobilizationAnswer.declined_at, MobilizationAnswer.arrived_at,
               VolunteerRecord.volunteer_id)
        .outerjoin(VolunteerRecord, and_(
            VolunteerRecord.platform == MobilizationAnswer.platform,
            VolunteerRecord.source_id == MobilizationAnswer.source_id))
        .where(MobilizationAnswer.mobilization_id == mobilization_id)
        .order_by(MobilizationAnswer.platform, MobilizationAnswer.source_id)).all()
    answered = {r.volunteer_id or (r.platform, r.source_id) for r in rows
                if r.accepted_at or r.declined_at or r.arrived_at}
    out, seen = [], set()
    for r in rows:
        person = r.volunteer_id or (r.platform, r.source_id)
        if r.asked_at is not None and person not in answered and person not in seen:
            seen.add(person)
            out.append((r.platform, r.source_id))
    return out


def recall(session: Session, r: redis.Redis, settings: Settings, mobilization_id: str,
           by: str, now: datetime) -> int:
    """Record a re-call and publish it to the gateway; returns how many volunteers it names.

    The caller commits ``session`` after this returns; the notice is written first, so a
    failed commit can at worst repeat a re-call (the gateway drops repeats by
    ``notification_id``).

    Raises
    ------
    RecallError
        If the mobilisation is unknown, past its deadline, or nobody is left to call.
    redis.RedisError
        If the notice cannot be written; nothing is recorded then.
    """
    request = session.get(Mobilization, mobilization_id)
    if request is None:
        raise RecallError(f"no mobilisation {mobilization_id}")
    if now >= request.deadline:
        raise RecallError("the deadline has passed")
    waiting = waiting_records(session, mobilization_id)
    if not waiting:
        raise RecallError("everyone asked has answered")
    names = village_names().get(request.village_code or "", {})
    village_zh = names.get("name") or request.village_hint
    village_en = names.get("name_en") or request.village_hint
    count = request.recall_count + 1
    minutes = max(1, int((request.deadline - now).total_seconds() // 60))
    fields = {
        "notification_id": f"{mobilization_id}/recall/{count}", "kind": "mobilization_recall",
        "mobilization_id": mobilization_id, "village": request.village_code or "",
        "volunteers": json.dumps([list(k) for k in waiting], ensure_ascii=False),
        "text": f"【再次动员】{village_zh}{request.title or '志愿服务'}尚缺人手，"
                f"请于{minutes}分钟内到岗：{request.place or village_zh}。",
        "text_en": f"Call again: {village_en} still needs volunteers"
                   f"{' for ' + request.title if request.title else ''}; in place within "
                   f"{minutes} min.",
        "created_at": now.isoformat(), "by": by,
    }
    r.xadd(settings.key("notifications"), fields, maxlen=STREAM_MAXLEN, approximate=True)
    request.recalled_at = now
    request.recall_count = count
    return len(waiting)
