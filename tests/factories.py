"""Valid event field maps for tests, as a producer would XADD them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

T0 = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai

STAGE_TYPES = ["reported", "assessed", "dispatched", "arrived", "resolved", "closed"]


def incident_fields(incident_id: str, stage: str = "reported", at: datetime = T0,
                    event_id: str | None = None, **extra) -> dict[str, str]:
    fields = {
        "event_id": event_id or f"{incident_id}-{stage}",
        "type": f"incident.{stage}",
        "occurred_at": at.isoformat(),
        "source": "test",
        "incident_id": incident_id,
    }
    if stage == "reported":
        fields.update(category="fire", priority="urgent", title="Smoke", address="乔司街道",
                      lon="120.2819", lat="30.3518", crs="wgs84")
    fields.update({k: str(v) for k, v in extra.items()})
    return fields


def lifecycle(incident_id: str, start: datetime = T0, step_s: int = 60,
              stages: list[str] | None = None) -> list[dict[str, str]]:
    return [incident_fields(incident_id, stage, start + timedelta(seconds=i * step_s))
            for i, stage in enumerate(stages or STAGE_TYPES)]
