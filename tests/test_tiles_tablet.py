"""The tablet's KPI cards show the configured tiles too: values, states, and the viewer's scope."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

from callbacks.tablet import tablet_update
from tests.store_support import ingest
from tests.test_tile_states import CHAOYANG, metric

OTHER = "330110006201"  # 胜稼村


def cards(out) -> dict[str, list[str]]:
    """Each configured tile's card on the tablet: its texts, and its classes last."""
    found = {}

    def walk(node):
        if isinstance(node, list):
            for child in node:
                walk(child)
        elif isinstance(node, dict):
            props = node.get("props") or {}
            if str(props.get("id", "")).startswith("tab-tile-"):
                texts = [c["props"]["children"] for c in props["children"]]
                found[props["id"].removeprefix("tab-tile-")] = [*texts, props["className"]]
            walk(props.get("children"))

    walk(json.loads(json.dumps(out["kpis"], default=lambda c: c.to_plotly_json())))
    return found


def test_tablet_cards_show_the_tiles_the_viewer_may_see(services):
    now = datetime.now(UTC).replace(microsecond=0)
    ingest(services, [
        metric("s-1", "service", "satisfaction", 96.0, now - timedelta(days=8), "%"),
        metric("s-2", "service", "satisfaction", 89.0, now - timedelta(hours=1), "%"),
        metric("c-1", "service", "requests_handled", 12, now - timedelta(minutes=5),
               village=CHAOYANG),
    ], stream="metrics")
    lock = threading.Lock()
    out, _ = tablet_update(services, None, lock, {"view": {"period": "today"}}, "zh", now, None)
    shown = cards(out)
    assert list(shown)[:3] == ["economy_enterprises_served", "economy_new_entities",
                               "economy_office_vacancy"]  # the file's order
    assert shown["service_satisfaction"] == ["满意度", "89.0 %", "告警 · 较7天前 −7.0",
                                             "tab-kpi tab-tile alarm"]
    assert shown["service_requests_chaoyang"][:2] == ["朝阳村办件量", "12 件"]
    assert shown["economy_enterprises_served"] == ["服务企业", "— 家", "尚无数据",
                                                   "tab-kpi tab-tile"]
    # a staff member of 朝阳村 sees that village's own tile only; of another village, none
    scoped, _ = tablet_update(services, None, lock, {"view": {"period": "today"}}, "en", now,
                              (CHAOYANG,))
    assert cards(scoped) == {"service_requests_chaoyang": [
        "Requests, Chaoyang", "12 cases", "None 24 h ago", "tab-kpi tab-tile"]}
    other, _ = tablet_update(services, None, lock, {"view": {"period": "today"}}, "zh", now,
                             (OTHER,))
    assert cards(other) == {}
