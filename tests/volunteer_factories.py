"""Valid volunteer-stream field maps for tests, as a producer would XADD them."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.factories import T0

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def id_number(serial: int, region: str = "330110", born: str = "19900101") -> str:
    """A well-formed (GB 11643 check character) but invented resident ID number."""
    body = f"{region}{born}{serial % 1000:03d}"
    total = sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=True))
    return body + _CHECK[total % 11]


def _base(kind: str, event_id: str, at: datetime, source: str) -> dict[str, str]:
    return {"event_id": event_id, "type": kind, "occurred_at": at.isoformat(), "source": source}


def registered(volunteer_id: str, name: str, source: str = "hongqiao", at: datetime = T0,
               event_id: str | None = None, **extra) -> dict[str, str]:
    fields = _base("volunteer.registered", event_id or f"reg-{source}-{volunteer_id}", at, source)
    fields.update(volunteer_id=volunteer_id, name=name)
    fields.update({k: str(v) for k, v in extra.items()})
    return fields


def updated(volunteer_id: str, source: str = "hongqiao", at: datetime = T0,
            event_id: str | None = None, **extra) -> dict[str, str]:
    fields = _base("volunteer.updated", event_id or f"upd-{source}-{volunteer_id}-{at:%H%M%S}",
                   at, source)
    fields.update(volunteer_id=volunteer_id)
    fields.update({k: str(v) for k, v in extra.items()})
    return fields


def activity(activity_id: str, starts: datetime, hours: float = 2, source: str = "hongqiao",
             at: datetime | None = None, event_id: str | None = None, **extra) -> dict[str, str]:
    at = at or starts - timedelta(days=1)
    fields = _base("activity.published", event_id or f"act-{activity_id}", at, source)
    fields.update(activity_id=activity_id, title=extra.pop("title", "垃圾分类桶边督导"),
                  starts_at=starts.isoformat(),
                  ends_at=(starts + timedelta(hours=hours)).isoformat())
    fields.update({k: str(v) for k, v in extra.items()})
    return fields


def punch(activity_id: str, volunteer_id: str, at: datetime, out: bool = False,
          source: str = "hongqiao", event_id: str | None = None, **extra) -> dict[str, str]:
    kind = "activity.checked_out" if out else "activity.checked_in"
    fields = _base(kind, event_id or f"{kind}-{activity_id}-{volunteer_id}-{at:%H%M%S}", at,
                   source)
    fields.update(activity_id=activity_id, volunteer_id=volunteer_id)
    fields.update({k: str(v) for k, v in extra.items()})
    return fields


def requested(mobilization_id: str, village: str, count: int, at: datetime,
              deadline: datetime, source: str = "centre", **extra) -> dict[str, str]:
    fields = _base("mobilization.requested", f"mob-{mobilization_id}", at, source)
    fields.update(mobilization_id=mobilization_id, village=village, count=str(count),
                  deadline=deadline.isoformat())
    fields.update({k: str(v) for k, v in extra.items()})
    return fields


def answer(mobilization_id: str, volunteer_id: str, kind: str, at: datetime,
           source: str = "hongqiao", platform: str | None = None) -> dict[str, str]:
    fields = _base(f"mobilization.{kind}", f"{kind}-{mobilization_id}-{volunteer_id}", at, source)
    fields.update(mobilization_id=mobilization_id, volunteer_id=volunteer_id)
    if platform:
        fields["platform"] = platform
    return fields


def signed_up(campaign_id: str, n: int, at: datetime, source: str = "zlb",
              **extra) -> dict[str, str]:
    fields = _base("recruitment.signed_up", f"sign-{campaign_id}-{n}", at, source)
    fields.update(campaign_id=campaign_id)
    fields.update({k: str(v) for k, v in extra.items()})
    return fields
