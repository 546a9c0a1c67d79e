"""Tests of the wall's focus region: the KPI query (both databases, events through the real
ingest), the tile and layout builders, kiosk mode and the poll's focus outputs over HTTP."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from dash import html
from plotly.utils import PlotlyJSONEncoder

from cockpit.access import ANONYMOUS, Role, Viewer
from cockpit.metric_queries import latest_metrics
from cockpit.settings import Settings
from layouts.i18n import PLACEHOLDER
from layouts.wall import WallIds, layout
from layouts.wall_focus import (
    FOCUS_PANELS,
    MAX_TILES,
    FocusIds,
    focus_config,
    metric_tiles,
    metric_title,
    number_text,
    tile_children,
    waste_tiles,
)
from layouts.wall_governance import GovIds
from tests.access_support import signed_in_client
from tests.factories import T0
from tests.test_wall_layout import _poll, json_texts
from tests.wall_support import SEEN
from tests.waste_factories import ingest


def metric(event_id: str, module: str, key: str, value: float, at: datetime,
           unit: str | None = None, **extra: str) -> dict[str, str]:
    fields = {"event_id": event_id, "type": "metric.observed", "occurred_at": at.isoformat(),
              "source": "focus-test", "module": module, "key": key, "value": str(value)}
    if unit:
        fields["unit"] = unit
    fields.update(extra)
    return fields


def latest(services, now, **kw):
    """:func:`latest_metrics` as of ``now``, in a read session of the store."""
    with services.read() as session:
        return latest_metrics(session, services.settings.tz, now, **kw)


def store_metrics(services, *entries: dict[str, str]) -> None:
    ingest(services, entries, stream="metrics")


def find(component, predicate) -> list:
    """Every component of a tree (children lists and single children) matching predicate."""
    out = [component] if predicate(component) else []
    children = getattr(component, "children", None)
    if isinstance(children, list | tuple):
        for child in children:
            out += find(child, predicate)
    elif children is not None and hasattr(children, "to_plotly_json"):
        out += find(children, predicate)
    return out


def by_id(tree, element_id):
    found = find(tree, lambda c: getattr(c, "id", None) == element_id)
    return found[0] if found else None


def texts(component) -> list[str]:
    """The strings of a component tree, as the browser receives it."""
    return json_texts(json.loads(json.dumps(component, cls=PlotlyJSONEncoder)))


def classes(component) -> set[str]:
    return set((getattr(component, "className", "") or "").split())


# ------------------------------------------------------------------ the query, both databases


def test_latest_metrics_per_module_and_key_with_the_change_over_24_hours(services):
    now = T0
    store_metrics(
        services,
        metric("e-old", "economy", "enterprises_served", 30, now - timedelta(hours=26), "家"),
        metric("e-day", "economy", "enterprises_served", 31, now - timedelta(hours=24), "家"),
        metric("e-new", "economy", "enterprises_served", 37, now - timedelta(minutes=5), "家"),
        metric("e-mid", "economy", "enterprises_served", 35, now - timedelta(hours=2), "家"),
        # a later value than the read: not seen yet
        metric("e-future", "economy", "enterprises_served", 99, now + timedelta(minutes=5)),
        # one village's value is not the subdistrict's KPI
        metric("e-village", "economy", "enterprises_served", 5, now - timedelta(minutes=1),
               village="朝阳村"),
        metric("s-1", "service", "satisfaction", 98.5, now - timedelta(hours=1), "%"),
    )
    rows = latest(services, now)
    assert [(r["module"], r["key"]) for r in rows] == [("economy", "enterprises_served"),
                                                      ("service", "satisfaction")]
    economy, service = rows
    assert (economy["value"], economy["unit"], economy["before"], economy["change"]) == (
        37.0, "家", 31.0, 6.0)  # against the latest value at or before 24 h earlier
    assert economy["at"] == (now - timedelta(minutes=5)).astimezone(
        services.settings.tz).isoformat()
    assert (service["value"], service["unit"], service["before"], service["change"]) == (
        98.5, "%", None, None)  # nothing 24 h ago: no change to show
    # a read later sees the later value; the window moves with it
    later = latest(services, now + timedelta(hours=1))
    assert (later[0]["value"], later[0]["before"], later[0]["change"]) == (99.0, 31.0, 68.0)


def test_latest_metrics_a_correction_at_the_same_time_wins_and_empty_is_empty(services):
    assert latest(services, T0) == []
    store_metrics(services, metric("c-1", "service", "requests_handled", 120, T0, "件"))
    store_metrics(services, metric("c-2", "service", "requests_handled", 125, T0, "件"))
    (row,) = latest(services, T0 + timedelta(1))
    assert row["value"] == 125.0  # the same time, received later
    assert latest(services, T0, limit=0) == []


# ------------------------------------------------------------------ tiles


def test_metric_tiles_title_value_change_and_time():
    rows = [{"module": "economy", "key": "enterprises_served", "value": 37.0, "unit": "家",
             "at": "2026-11-29T09:55:00+08:00", "before": 31.0, "change": 6.0},
            {"module": "tourism", "key": "visitors", "value": 5321.0, "unit": None,
             "at": "2026-11-29T09:00:00+08:00", "before": 6000.0, "change": -679.0},
            {"module": "service", "key": "satisfaction", "value": 98.56, "unit": "%",
             "at": None, "before": None, "change": None}]
    zh = metric_tiles(rows, "zh")
    assert [t["title"] for t in zh] == ["数字+经济 · 服务企业", "tourism · visitors",
                                        "数字+服务 · 满意度"]
    assert [(t["value"], t["unit"]) for t in zh] == [("37", "家"), ("5,321", ""), ("98.6", "%")]
    assert [(t["change"], t["trend"]) for t in zh] == [
        ("较24小时前 +6", "up"), ("较24小时前 −679", "down"), ("24小时前无数据", None)]
    assert [t["note"] for t in zh] == ["更新于 11-29 09:55", "更新于 11-29 09:00", None]
    en = metric_tiles(rows, "en")
    assert en[0]["title"] == "Digital economy · Enterprises served"
    assert en[0]["change"] == "+6 on 24 h ago"
    assert metric_title("economy", "new_key", "zh") == "数字+经济 · new_key"


def test_number_text():
    assert [number_text(v) for v in (37.0, 1250.0, 98.56, 0.125, 1234.5, -3.0, None,
                                     float("nan"))] == [
        "37", "1,250", "98.6", "0.125", "1,234", "-3", PLACEHOLDER, PLACEHOLDER]


def test_tile_children_builds_plain_tile_dicts_and_counts_the_rest():
    tiles = [{"key": f"k{n}", "title": f"指标{n}", "value": str(n), "unit": "件",
              "change": "较24小时前 +1", "trend": "up", "state": "ok", "note": "更新于"}
             for n in range(MAX_TILES + 3)]
    out = tile_children(tiles, "zh")
    assert len(out) == MAX_TILES + 1
    first = out[0]
    assert first.key == "k0" and classes(first) == {"tile"}
    assert [c.className for c in first.children] == [
        "tile-title", "tile-figure", "tile-change tile-up", "tile-note"]
    value, unit = first.children[1].children
    assert (value.children, value.className, unit.children) == ("0", "tile-value tile-ok", "件")
    assert out[-1].children == "另有 3 项指标" and classes(out[-1]) == {"tiles-more"}
    # upstream text is text: a title with markup stays a string child
    (tile,) = tile_children([{"title": "<b>x</b>", "value": "1"}], "zh")
    assert tile.children[0].children == "<b>x</b>" and len(tile.children) == 2
    assert texts(tile_children([], "zh")) == ["暂无指标数据"]
    assert texts(tile_children([], "en", empty="—")) == ["—"]


def test_waste_tiles_today_week_disposals_and_villages_below_target():
    model = {"trend": [{"day": "2026-11-28", "correct": 18, "total": 20},
                       {"day": "2026-11-29", "correct": 16, "total": 20}],
             "overall": {"correct": 34, "total": 40},
             "villages": [{"village_code": "a", "correct": 19, "total": 20},
                          {"village_code": "b", "correct": 15, "total": 20},
                          {"village_code": None, "correct": 0, "total": 3}]}
    today, week, count, below = waste_tiles(model, 0.95, "zh")
    assert (today["value"], today["state"], today["change"], today["trend"]) == (
        "80.0%", "bad", "较昨日 -10 pt", "down")
    assert today["note"] == "目标 95%"
    assert (week["title"], week["value"], week["state"]) == ("近7日分类准确率", "85.0%", "bad")
    assert (count["value"], count["unit"]) == ("20", "次")
    assert (below["value"], below["state"]) == ("1", "bad")  # b: 75 %; a meets the target
    empty = waste_tiles({}, 0.95, "en")
    assert [t["value"] for t in empty] == [PLACEHOLDER, PLACEHOLDER, "0", PLACEHOLDER]
    assert empty[0]["change"] is None and empty[0]["title"] == "Accuracy today"


# ------------------------------------------------------------------ the layout


def _wall(**kw):
    return layout("zh", refresh_ms=500, timezone="Asia/Shanghai",
                  map_figure={"data": [], "layout": {}}, **kw)


def test_layout_places_the_focus_panels_their_dots_and_the_hidden_takeover():
    page = _wall(rotate_s=15)
    panels = find(page, lambda c: "focus-panel" in classes(c))
    assert [p.to_plotly_json()["props"]["data-focus"] for p in panels] == [
        name for name, _ in FOCUS_PANELS]
    incidents = panels[0]
    assert by_id(incidents, WallIds.FUNNEL) is not None
    assert by_id(incidents, WallIds.LATEST) is not None
    assert by_id(panels[2], FocusIds.WASTE) is not None
    assert by_id(panels[3], FocusIds.METRICS) is not None
    dots = find(by_id(page, FocusIds.NAV), lambda c: "focus-dot" in classes(c))
    assert [texts(d)[0] for d in dots] == ["警情闭环", "红乔先锋", "垃圾分类", "其他模块"]
    assert "takeover-hidden" in classes(by_id(page, FocusIds.TAKEOVER))
    config = by_id(page, WallIds.CONFIG).data
    assert (config["rotate_ms"], config["takeover"], config["kiosk"]) == (15000, "critical",
                                                                         False)
    assert config["focus_texts"]["wf_takeover_waited"] == "已等待确认 {d}"
    assert by_id(page, FocusIds.NAMES) is not None


def test_kiosk_layout_has_no_language_link_account_or_acknowledge_button():
    account = html.Div("leader-1", className="account-bar")
    normal = _wall(account=account)
    assert by_id(normal, WallIds.LANG_LINK) is not None
    assert find(normal, lambda c: "account-bar" in classes(c))
    assert not by_id(normal, GovIds.ACK).hidden
    kiosk = _wall(account=account, kiosk=True)
    assert "kiosk" in classes(by_id(kiosk, WallIds.ROOT))
    assert by_id(kiosk, WallIds.LANG_LINK) is None
    assert not find(kiosk, lambda c: "account-bar" in classes(c))
    assert by_id(kiosk, GovIds.ACK).hidden and by_id(kiosk, GovIds.ACK_ALL).hidden
    assert by_id(kiosk, WallIds.CONFIG).data["kiosk"] is True


def test_focus_config_without_rotation():
    config = focus_config("en", 0, True)
    assert config["rotate_ms"] == 0 and config["kiosk"] is True
    assert config["order"] == ["incidents", "volunteers", "waste", "metrics"]
    assert config["focus_texts"]["wf_wait_m"] == "{m} min {s} s"


@pytest.mark.parametrize(("viewer", "query", "kiosk"), [
    (Viewer(kind="kiosk", name="hall-1", role=Role.WALL), {}, True),
    (Viewer(kind="kiosk", name="hall-1", role=Role.WALL), {"kiosk": "0"}, False),
    (Viewer(kind="user", name="l", role=Role.LEADER), {}, False),
    (Viewer(kind="user", name="l", role=Role.LEADER), {"kiosk": "1"}, True),
    (ANONYMOUS, {"kiosk": "yes"}, False),
])
def test_kiosk_mode_by_query_or_by_the_wall_role(viewer, query, kiosk):
    from callbacks import PageRequest
    from callbacks.wall_focus import screen_is_kiosk

    assert screen_is_kiosk(viewer, PageRequest("/", query=query)) is kiosk
    assert screen_is_kiosk(viewer, None) is (viewer.role is Role.WALL)


def test_rotation_period_setting():
    assert Settings().wall_rotate_s == 20
    assert Settings(wall_rotate_s=0).wall_rotate_s == 0
    with pytest.raises(ValueError):
        Settings(wall_rotate_s=-1)


# ------------------------------------------------------------------ the poll


def test_poll_sends_the_tiles_when_they_change(sqlite_services):
    from app import create_app

    services = sqlite_services
    app = create_app(services=services)
    client = signed_in_client(app, services, "wall")
    status, first = _poll(client, app)
    assert status == 200
    assert json_texts(first[FocusIds.METRICS]["children"]) == ["暂无指标数据"]
    assert json_texts(first[FocusIds.WASTE]["children"])[:2] == ["今日分类准确率", PLACEHOLDER]
    assert first[FocusIds.NAMES]["data"]["330110006201"]
    now = datetime.now(UTC)
    store_metrics(services,
                  metric("p-1", "economy", "enterprises_served", 30, now - timedelta(hours=25)),
                  metric("p-2", "economy", "enterprises_served", 42, now - timedelta(minutes=1),
                         "家"),
                  metric("p-3", "tourism", "visitors", 120, now - timedelta(minutes=1), "人"))
    status, later = _poll(client, app, seen=first[SEEN]["data"])
    assert status == 200
    # a KPI the tiles file does not configure: the generic panel, its title as sent
    texts = json_texts(later[FocusIds.METRICS]["children"])
    assert texts[:5] == ["tourism · visitors", "120", "人", "24小时前无数据",
                         texts[4]] and texts[4].startswith("更新于 ")
    # a configured one (cockpit/tiles.yaml): on its scenario's panel, not on the generic one
    texts = json_texts(later[FocusIds.SCENARIOS]["children"])
    assert texts[:6] == ["数字+经济", "服务企业", "42", "家", "较24小时前 +12", texts[5]]
    assert texts[5].startswith("更新于 ") and "模拟数据" not in texts  # not from a simulator
    assert FocusIds.WASTE not in later and FocusIds.NAMES not in later  # unchanged: not sent
    # the incident panels did not change with the metrics: not sent again either
    assert not {WallIds.LATEST, GovIds.TICKER, WallIds.FUNNEL, WallIds.CATEGORIES,
                WallIds.KPI_TODAY, WallIds.KPI_OPEN} & set(later), sorted(later)
