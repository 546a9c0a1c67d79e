"""Render docs/events.md from the event models, so the contract's document cannot drift."""

from __future__ import annotations

from typing import Any

from cockpit.events import EVENT_TYPES
from cockpit.vocab import CATEGORY_TERMS, PRIORITY_TERMS

UNITS = {"lon": "degrees", "lat": "degrees", "occurred_at": "ISO-8601 / epoch ms",
         "value": "see `unit`", "satisfaction": "1-5"}

EXAMPLES: dict[str, dict[str, str]] = {
    "incident.reported": {"incident_id": "LP-20261129-0001", "category": "火情",
                          "priority": "紧急", "title": "电动车起火", "address": "乔司农贸市场东门",
                          "lon": "120.2868", "lat": "30.3493", "crs": "gcj02"},
    "incident.assessed": {"incident_id": "LP-20261129-0001", "priority": "critical",
                          "note": "有人员被困"},
    "incident.dispatched": {"incident_id": "LP-20261129-0001", "team": "乔司消防站",
                            "unit": "E32"},
    "incident.arrived": {"incident_id": "LP-20261129-0001", "unit": "E32"},
    "incident.resolved": {"incident_id": "LP-20261129-0001", "disposition": "明火已扑灭"},
    "incident.closed": {"incident_id": "LP-20261129-0001", "disposition": "回访确认",
                        "satisfaction": "5"},
    "incident.cancelled": {"incident_id": "LP-20261129-0002", "reason": "重复上报"},
    "incident.reopened": {"incident_id": "LP-20261129-0001", "reason": "回访群众不满意，复燃"},
    "notification.delivered": {"notification_id": "LP-20261129-0001/new", "channel": "sms"},
    "notification.acknowledged": {"notification_id": "LP-20261129-0001/new",
                                  "channel": "voice", "by": "duty-0371", "origin": "值班室"},
    "metric.observed": {"module": "economy", "key": "enterprises_served", "value": "37",
                        "unit": "家", "village": "朝阳村"},
    "volunteer.registered": {"volunteer_id": "HQ-0012345", "name": "周晓红",
                             "phone": "13800001234", "team": "乔司街道青年突击队",
                             "team_kind": "青年", "skills": "急救,驾驶", "village": "朝阳村",
                             "grid": "CY-03"},
    "volunteer.updated": {"volunteer_id": "HQ-0012345", "skills": "急救,驾驶,心理疏导"},
    "activity.published": {"activity_id": "HQ-ACT-20261129-07", "title": "垃圾分类桶边督导",
                           "kind": "督导", "place": "朝阳村文化礼堂", "village": "朝阳村",
                           "starts_at": "2026-11-29T18:00:00+08:00",
                           "ends_at": "2026-11-29T20:00:00+08:00", "needed": "12"},
    "activity.checked_in": {"activity_id": "HQ-ACT-20261129-07", "volunteer_id": "HQ-0012345"},
    "activity.checked_out": {"activity_id": "HQ-ACT-20261129-07",
                             "volunteer_id": "HQ-0012345", "rating": "5"},
    "mobilization.requested": {"mobilization_id": "MOB-20261129-01", "village": "朝阳村",
                               "count": "140", "skills": "", "title": "封控区值守",
                               "place": "朝阳村村委会", "deadline": "2026-11-29T21:00:00+08:00"},
    "mobilization.accepted": {"mobilization_id": "MOB-20261129-01",
                              "volunteer_id": "HQ-0012345"},
    "mobilization.declined": {"mobilization_id": "MOB-20261129-01",
                              "volunteer_id": "HQ-0023456"},
    "mobilization.arrived": {"mobilization_id": "MOB-20261129-01",
                             "volunteer_id": "HQ-0012345"},
    "recruitment.signed_up": {"campaign_id": "asian-games-2023", "campaign": "亚运城市志愿者招募",
                              "target": "25000", "village": "新街社区", "channel": "浙里办"},
    "household.registered": {"household_id": "QS-CY-03-0123", "kind": "租户",
                             "village": "朝阳村", "group": "3组", "house_id": "CY-03-012",
                             "address": "朝阳村3组12号", "landlord_id": "LL-CY-0045",
                             "landlord_name": "沈建国", "landlord_phone": "13900005678",
                             "members": "3", "moved_in_at": "2026-11-01T10:00:00+08:00",
                             "lon": "120.2936", "lat": "30.3509", "crs": "gcj02"},
    "household.moved_out": {"household_id": "QS-CY-03-0123", "reason": "合同到期"},
    "station.registered": {"station_id": "QS-CY-ST-01", "name": "朝阳村3组投放点",
                           "village": "朝阳村", "lon": "120.2931", "lat": "30.3512",
                           "crs": "gcj02"},
    "waste.disposal": {"household_id": "QS-CY-03-0123", "station_id": "QS-CY-ST-01",
                       "supervisor_id": "SUP-CY-07", "photo": "2026/11/29/QS-CY-ST-01-000123.jpg",
                       "weight_kg": "2.35", "declared_class": "易腐垃圾", "rating": "不合格",
                       "found_class": "其他垃圾", "found_item": "塑料袋"},
    "followup.assigned": {"followup_id": "FU-QS-CY-03-0123-20261129",
                          "assignee_id": "HQ-0012345", "assignee_kind": "volunteer"},
    "followup.visited": {"followup_id": "FU-QS-CY-03-0123-20261129", "outcome": "educated",
                         "note": "讲解易腐垃圾需去袋投放", "by": "HQ-0012345"},
}
_TIMES = {"incident.reported": "2026-11-29T10:00:00+08:00",
          "incident.assessed": "2026-11-29T10:01:30+08:00",
          "incident.dispatched": "2026-11-29T10:02:10+08:00",
          "incident.arrived": "2026-11-29T10:09:45+08:00",
          "incident.resolved": "2026-11-29T10:40:00+08:00",
          "incident.closed": "2026-11-29T16:30:00+08:00",
          "incident.cancelled": "1795918200000",
          "incident.reopened": "2026-11-29T18:05:00+08:00",
          "notification.delivered": "2026-11-29T10:00:03+08:00",
          "notification.acknowledged": "2026-11-29T10:00:41+08:00",
          "metric.observed": "1795917600000",
          "volunteer.registered": "2026-11-20T09:00:00+08:00",
          "volunteer.updated": "2026-11-28T09:00:00+08:00",
          "activity.published": "2026-11-28T12:00:00+08:00",
          "activity.checked_in": "2026-11-29T17:55:00+08:00",
          "activity.checked_out": "2026-11-29T20:02:00+08:00",
          "mobilization.requested": "2026-11-29T20:00:00+08:00",
          "mobilization.accepted": "2026-11-29T20:03:00+08:00",
          "mobilization.declined": "2026-11-29T20:04:00+08:00",
          "mobilization.arrived": "2026-11-29T20:41:00+08:00",
          "recruitment.signed_up": "2023-06-01T10:15:00+08:00",
          "household.registered": "2026-11-01T10:00:00+08:00",
          "household.moved_out": "2026-11-30T18:00:00+08:00",
          "station.registered": "2026-10-01T09:00:00+08:00",
          "waste.disposal": "2026-11-29T07:12:30+08:00",
          "followup.assigned": "2026-11-29T09:00:00+08:00",
          "followup.visited": "2026-11-30T19:00:00+08:00"}
#: The producing system of each kind of example.
_SOURCES = {"volunteer": "hongqiao", "activity": "hongqiao", "mobilization": "hongqiao",
            "recruitment": "zlb-recruit", "household": "qiaosi-waste", "station": "qiaosi-waste",
            "waste": "qiaosi-waste", "followup": "qiaosi-waste"}
_WASTE_HEADS = frozenset({"household", "station", "waste", "followup"})


def stream_of(event_type: str) -> str:
    """The stream (default prefix) an event type is written to."""
    head = event_type.split(".")[0]
    if head == "metric":
        return "qiaosi:metrics"
    if head in _WASTE_HEADS:
        return "qiaosi:waste"
    if head in _SOURCES:
        return "qiaosi:volunteers"
    return "qiaosi:incidents"


def example_fields(event_type: str) -> dict[str, str]:
    """A complete, valid field map of ``event_type`` (used in the docs and in tests)."""
    n = list(EVENT_TYPES).index(event_type) + 1
    return {"event_id": f"linkage-{n:04d}", "type": event_type,
            "occurred_at": _TIMES[event_type],
            "source": _SOURCES.get(event_type.split(".")[0], "linkage-platform"),
            **EXAMPLES[event_type]}


def _type_name(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> str:
    defs = defs or {}
    if "anyOf" in schema:
        names = [_type_name(s, defs) for s in schema["anyOf"] if s.get("type") != "null"]
        return " / ".join(names)
    if "$ref" in schema and schema["$ref"].split("/")[-1] in defs:
        return _type_name(defs[schema["$ref"].split("/")[-1]], defs)
    if "enum" in schema:
        return "one of " + ", ".join(f"`{v}`" for v in schema["enum"])
    if "$ref" in schema:
        return "text"
    return {"string": "text", "number": "number", "integer": "integer"}.get(
        schema.get("type", ""), schema.get("format", "text"))


def _quote(value: str) -> str:
    return value if value.replace("-", "").replace(".", "").replace(":", "").replace(
        "+", "").replace("_", "").isalnum() and value.isascii() else f"'{value}'"


def render() -> str:
    """Return the Markdown of docs/events.md."""
    out = [
        "# Event contract",
        "",
        "<!-- generated by `python -m cockpit.contract_doc`; edit cockpit/events.py -->",
        "",
        "Upstream producers XADD flat maps of string fields to Redis streams "
        "(`qiaosi:incidents` for `incident.*` and `notification.*`; `qiaosi:volunteers` for "
        "`volunteer.*`, `activity.*`, `mobilization.*` and `recruitment.signed_up`; "
        "`qiaosi:waste` for `household.*`, `station.registered`, `waste.disposal` and "
        "`followup.*`; `qiaosi:metrics` for `metric.observed`; the prefix is "
        "`COCKPIT_STREAM_PREFIX`). An "
        "entry on another type's stream is dead-lettered. `cockpit schema` prints the JSON "
        "Schema.",
        "",
        "The cockpit itself writes one stream: `qiaosi:notifications`, read by the duty "
        "team's voice and SMS gateway. Each entry has `notification_id` (answer with it), "
        "`kind` (`new_incident`, `overdue`, `unacknowledged`, `alert`), `level` (rung of the "
        "escalation ladder addressed), `incident_id` (empty for an alert's notice, which has "
        "`alert_id`: docs/alerts.md), `priority`, `category`, `village`, `text` (zh-CN, "
        "to speak or send), `text_en`, `created_at` and `ack_within_s`. The gateway answers "
        "with `notification.delivered` and `notification.acknowledged` below; a notice not "
        "acknowledged within `ack_within_s` is raised to the next level "
        "(docs/governance.md). An entry may be published twice after a crash: drop repeats "
        "by `notification_id`.",
        "",
        "Rules for every entry:",
        "",
        "- Required in every entry: `event_id` (unique per producer; a repeat is ignored), "
        "`type`, `occurred_at`, `source`.",
        "- Times: ISO-8601 with offset (`2026-11-29T10:00:00+08:00`) or epoch milliseconds "
        "(`1795917600000`); a time without offset is Asia/Shanghai (`COCKPIT_TIMEZONE`).",
        "- Positions: `lon`, `lat` in degrees with `crs` = `wgs84`, `gcj02` (Gaode/AMap) or "
        "`bd09` (Baidu); `crs` is required with them. The store keeps WGS-84, converted with "
        "the published `prcoords` library. A position outside Linping district (plus 0.05°) is "
        "refused: it is nearly always a wrong `crs` or swapped lon/lat.",
        "- Categories accept the code or the Chinese label: "
        + ", ".join(f"`{t.code}`/`{t.zh}`" for t in CATEGORY_TERMS.values()) + ".",
        "- Priorities: " + ", ".join(f"`{t.code}`/`{t.zh}`" for t in PRIORITY_TERMS.values())
        + ", or `1`-`4` (1 = critical).",
        "- Events of one incident may arrive late, twice or out of order: the incident's state "
        "follows `occurred_at`, not arrival order.",
        "- An entry that breaks the contract is moved to `qiaosi:deadletter` with `reason`, "
        "`stream`, `stream_id`, `consumer`, `failed_at`, `deliveries`, `history` (JSON) and "
        "the original `fields` (JSON, personal data redacted); the rest of its batch is "
        "stored. `cockpit deadletter list|show|redrive` reads them and sends a fixed entry "
        "again (docs/operations.md).",
        "- Unknown fields are ignored and not stored (personal data is minimised).",
        "- Volunteers: a platform's id of a person is `volunteer_id`; the record's key is "
        "(`platform`, `volunteer_id`), where `platform` defaults to `source`. Records of one "
        "person on several platforms are joined into one volunteer: at once when their ID "
        "numbers match (`id_number`, kept only as a keyed hash), for review when only the "
        "phone matches (docs/volunteers.md). Names, phones and ID numbers travel only in "
        "`volunteer.registered` / `volunteer.updated`; no other event stores them.",
        "- Waste sorting: a household's id is `household_id` (户号); a tenant household names "
        "its rental house (`house_id`) and landlord (`landlord_id`) and keeps its history when "
        "it moves out and another moves in. A disposal's `weight_kg` must be above 0 and at "
        "most 100 kg, its classes one of Hangzhou's four (可回收物, 易腐垃圾, 其他垃圾, "
        "有害垃圾); `photo` is a key or object URL, never the image (docs/waste.md). Names "
        "and phones travel only in `household.registered`.",
        "",
    ]
    for event_type, model in EVENT_TYPES.items():
        schema = model.model_json_schema()
        required = set(schema.get("required", []))
        out += [f"## `{event_type}`", "", (model.__doc__ or "").strip().split("\n")[0], "",
                "| field | required | type | unit | description |", "|---|---|---|---|---|"]
        for name, prop in schema["properties"].items():
            if name == "type":
                continue
            out.append(f"| `{name}` | {'yes' if name in required else 'no'} | "
                       f"{_type_name(prop, schema.get('$defs'))} | {UNITS.get(name, '')} | "
                       f"{prop.get('description', '')} |")
        fields = example_fields(event_type)
        stream = stream_of(event_type)
        pairs = " ".join(f"{k} {_quote(v)}" for k, v in fields.items())
        out += ["", "```sh", f"redis-cli XADD {stream} '*' {pairs}", "```", ""]
    return "\n".join(out)


def main() -> None:
    """Write docs/events.md beside the package."""
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "docs" / "events.md"
    path.write_text(render(), encoding="utf-8")


if __name__ == "__main__":
    main()
