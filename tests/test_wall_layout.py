"""Tests of the wall page: its pure builders (figures, panels, i18n, layout tree) and its poll
callback driven over HTTP with the Flask test client (no browser)."""

from __future__ import annotations

import importlib
import json
import math
import re
import sys
from collections import Counter
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import redis
from dash import dcc, html
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError

from cockpit import vocab
from cockpit.events import NotificationAcknowledged, parse_event
from cockpit.governance_queries import pending_announcements
from cockpit.ingest import resolve_villages
from cockpit.queries import FUNNEL_STAGES
from cockpit.services import Services
from cockpit.store.apply import apply_batch
from cockpit.store.models import Notification
from cockpit.streams import signal_change
from layouts import ShellIds, shell
from layouts.figures import (
    FIRST_INCIDENT_TRACE,
    MAP_SCALE_RATIO,
    MapBase,
    category_rows,
    contrast_ratio,
    funnel_model,
    hover_text,
    incident_traces,
    label_text,
    local_time,
    map_figure,
)
from layouts.i18n import STRINGS, format_count, format_duration, lang_from_search, normalize_lang, t
from layouts.wall import (
    ROW_BACKGROUND,
    WallIds,
    chip_color,
    client_config,
    layout,
    map_legend,
)
from layouts.wall_focus import FocusIds
from layouts.wall_governance import (
    OVERDUE_ROWS,
    GovIds,
    announce_queue,
    incident_href,
    late_text,
    list_href,
    overdue_children,
    overdue_total,
    ticker_children,
    ticker_items,
)
from layouts.wall_panels import (
    category_children,
    funnel_children,
    latest_children,
    replay_children,
)
from layouts.wall_volunteers import VolIds
from layouts.wall_waste import WasteIds
from tests.access_support import signed_in_client
from tests.factories import incident_fields
from tests.store_support import drain
from tests.wall_support import SEEN, poll

SQUARE = MapBase([0.0, 1.0, 1.0, 0.0, 0.0, None], [0.0, 0.0, 1.0, 1.0, 0.0, None],
                 [0.0, 1.0, 1.0, 0.0, 0.0, None], [0.0, 0.0, 1.0, 1.0, 0.0, None],
                 [("v1", "甲村", 0.5, 0.5)], (0.0, 0.0, 1.0, 1.0), frozenset({"v1"}))


def incident(incident_id: str, category: str = "fire", stage: str = "reported", **extra):
    row = {"incident_id": incident_id, "category": category, "stage": stage,
           "priority": "normal", "title": f"标题 {incident_id}", "address": "乔司街道",
           "lon": 0.5, "lat": 0.5, "village_code": "v1",
           "reported_at": "2026-11-29T10:00:05+08:00", "stage_at": "2026-11-29T10:00:05+08:00"}
    row.update(extra)
    return row


def walk(component):
    """Yield every component of a Dash tree."""
    yield component
    children = getattr(component, "children", None)
    if children is None:
        return
    for child in children if isinstance(children, list | tuple) else [children]:
        if hasattr(child, "to_plotly_json"):
            yield from walk(child)


def texts(component) -> list[str]:
    out = []
    for node in walk(component):
        children = getattr(node, "children", None)
        items = children if isinstance(children, list | tuple) else [children]
        out.extend(c for c in items if isinstance(c, str))
    return out


def wall(lang="zh"):
    return layout(lang, refresh_ms=500, timezone="Asia/Shanghai",
                  map_figure=map_figure(SQUARE, [], lang))


# ------------------------------------------------------------------ map figure


def test_map_figure_has_one_outline_and_traces_per_category():
    rows = [incident("a", "fire"), incident("b", "police", "closed"),
            incident("c", "unknown-kind"), incident("d", "fire", lon=None, lat=None)]
    fig = map_figure(SQUARE, rows)
    uids = [tr["uid"] for tr in fig["data"]]
    assert uids.count("outline") == 1
    assert uids[:FIRST_INCIDENT_TRACE] == ["outline", "boundary-glow", "boundary", "labels"]
    incident_uids = uids[FIRST_INCIDENT_TRACE:]
    assert incident_uids == ([f"done-{c.value}" for c in vocab.Category]
                             + [f"open-{c.value}" for c in vocab.Category])
    by_uid = {tr["uid"]: tr for tr in fig["data"]}
    assert by_uid["open-fire"]["x"] == [0.5]  # the row without a position is skipped
    assert by_uid["done-police"]["customdata"] == ["b"]
    assert by_uid["open-other"]["customdata"] == ["c"]  # unknown category counts as other
    for category, term in vocab.CATEGORY_TERMS.items():
        assert by_uid[f"open-{category.value}"]["marker"]["color"] == term.color
        assert by_uid[f"done-{category.value}"]["marker"]["color"] == term.color
    assert by_uid["open-fire"]["marker"]["opacity"] > by_uid["done-police"]["marker"]["opacity"]
    json.dumps(fig)  # a plain, JSON-ready dict, never a go.Figure


def test_map_figure_is_cartesian_with_hidden_axes_and_schematic_caption():
    fig = map_figure(SQUARE, [])
    assert {tr["type"] for tr in fig["data"]} == {"scatter"}
    layout_ = fig["layout"]
    assert not layout_["xaxis"]["visible"] and not layout_["yaxis"]["visible"]
    assert layout_["yaxis"]["scaleanchor"] == "x"
    assert math.isclose(layout_["yaxis"]["scaleratio"], 1 / math.cos(math.radians(30.35)))
    assert math.isclose(MAP_SCALE_RATIO, 1.1586, rel_tol=1e-3)
    assert layout_["annotations"][0]["text"] == "村社边界为示意"
    assert layout_["font"]["family"] == "var(--font-cjk)"  # the pages' one stack (fonts.css)
    label = next(tr for tr in fig["data"] if tr["uid"] == "labels")["text"][0]
    assert label.startswith("甲村<br><span") and "（示意）</span>" in label  # own, small line
    english = map_figure(SQUARE, [], "en")
    assert english["layout"]["annotations"][0]["text"] == "Village boundaries are schematic"
    # English labels stack one word a line (narrow); names are escaped
    assert label_text("Liangshu <b>", "en", False) == "Liangshu<br>&lt;b&gt;"


def test_trace_names_count_every_incident_of_a_category():
    traces = incident_traces([incident("a"), incident("b", stage="resolved")])
    fire_open = next(tr for tr in traces if tr["uid"] == "open-fire")
    fire_done = next(tr for tr in traces if tr["uid"] == "done-fire")
    assert fire_open["name"] == fire_done["name"] == "火情 2"
    assert fire_open["legendgroup"] == fire_done["legendgroup"] == "fire"
    assert len(incident_traces([])) == 2 * len(vocab.Category)  # indices never move


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_map_legend_lists_every_category_in_vocab_colours(lang):
    legend = map_legend(lang)
    rendered = texts(legend)
    for term in vocab.CATEGORY_TERMS.values():
        assert (term.en if lang == "en" else term.zh) in rendered
    colours = [node.style["backgroundColor"] for node in walk(legend)
               if getattr(node, "style", None)]
    assert colours == [term.color for term in vocab.CATEGORY_TERMS.values()]
    assert t("legend_open", lang) in rendered and t("legend_done", lang) in rendered
    assert t("legend_cancelled", lang) in rendered  # the map's × has its key


def test_hover_text_is_plain_escaped_text():
    row = incident("x", title="<img src=x onerror=alert(1)>\nsecond line",
                   address="A & B <路>")
    text = hover_text(row, "zh", "甲村")
    assert "<img" not in text and "&lt;img src=x onerror=alert(1)&gt; second line" in text
    assert "A &amp; B &lt;路&gt;" in text
    assert text.startswith("<b>火情 · 已上报</b>")
    assert "上报 2026-11-29 10:00:05" in text
    assert "Fire · Reported" in hover_text(row, "en")
    long = hover_text(incident("y", title="很" * 500))
    assert len(long) < 300


def test_local_time_formats():
    assert local_time("2026-11-29T10:00:05+08:00", date(2026, 11, 29)) == "10:00:05"
    assert local_time("2026-11-28T23:59:00+08:00", date(2026, 11, 29)) == "11-28 23:59"
    assert local_time(None) == "—"
    assert local_time("garbage") == "—"


# ------------------------------------------------------------------ KPIs, funnel, lists


@pytest.mark.parametrize(("seconds", "zh", "en"), [
    (None, "—", "—"), (float("nan"), "—", "—"), (-3, "—", "—"), (0, "0秒", "0 s"),
    (44.6, "45秒", "45 s"), (135, "2分15秒", "2 min 15 s"), (3725, "1小时02分", "1 h 02 min")])
def test_format_duration(seconds, zh, en):
    assert format_duration(seconds, "zh") == zh
    assert format_duration(seconds, "en") == en


def test_funnel_follows_the_loop_order_and_phases():
    funnel = [{"stage": s.value, "count": n} for s, n in zip(FUNNEL_STAGES, [10, 8, 6, 5, 4, 2],
                                                              strict=True)]
    model = funnel_model(funnel, "zh")
    assert [p["phase"] for p in model] == [p[0] for p in vocab.LOOP_PHASES]
    assert [p["phase"] for p in model] == ["信息收集", "分析研判", "分类处置", "跟踪反馈"]
    stages = [s for p in model for s in p["stages"]]
    assert [s["code"] for s in stages] == [s.value for s in FUNNEL_STAGES]
    assert [s["label"] for s in stages] == ["已上报", "已研判", "已派遣", "已到场", "已处置",
                                            "已办结"]
    assert stages[0]["share"] == 1.0 and stages[-1]["rate"] == 0.2
    assert stages[0]["color"] == vocab.STAGE_TERMS[vocab.Stage.REPORTED].color
    empty = funnel_model([{"stage": s.value, "count": 0} for s in FUNNEL_STAGES], "en")
    assert [p["phase"] for p in empty] == ["Collection", "Assessment", "Disposal", "Feedback"]
    assert all(s["rate"] is None and s["share"] == 0 for p in empty for s in p["stages"])
    rendered = texts(html.Div(funnel_children(funnel, "zh")))
    assert rendered.index("信息收集") < rendered.index("已上报") < rendered.index("跟踪反馈")
    assert "20%" in rendered


def test_category_rows_use_vocab_labels_and_colours():
    rows = category_rows([{"category": c.value, "count": i} for i, c in
                          enumerate(vocab.Category)], "zh")
    assert [r["label"] for r in rows] == [vocab.CATEGORY_TERMS[c].zh for c in vocab.Category]
    assert [r["color"] for r in rows] == [vocab.CATEGORY_TERMS[c].color for c in vocab.Category]
    assert rows[-1]["share"] == 1.0 and rows[0]["share"] == 0.0


def test_latest_list_shows_upstream_text_as_text():
    rows = [incident("a", title="<script>alert(1)</script>", village_code="v1"),
            incident("b", title=None, village_code="nowhere", category="police",
                     stage="dispatched")]
    items = latest_children(rows, {"v1": "甲村"}, "zh", date(2026, 11, 29), schematic={"v1"})
    rendered = texts(html.Ol(items))
    assert "<script>alert(1)</script>" in rendered  # a text node: React escapes it
    assert "甲村" in rendered and "—" in rendered and "（无标题）" in rendered
    assert rendered.count("（示意）") == 1  # the schematic village's name carries the marker
    # every chip is readable on its row (WCAG AA); only 已撤销's dark grey had to be lightened
    assert all(contrast_ratio(chip_color(terms, m.value), ROW_BACKGROUND) >= 4.5
               for terms in (vocab.STAGE_TERMS, vocab.CATEGORY_TERMS) for m in terms)
    assert [m for m, term in vocab.STAGE_TERMS.items()
            if chip_color(vocab.STAGE_TERMS, m.value) != term.color] == [vocab.Stage.CANCELLED]
    assert "10:00:05" in rendered and "警情" in rendered and "已派遣" in rendered
    assert texts(html.Ol(latest_children([], {}, "en"))) == ["No incidents"]


def test_replay_badge():
    assert replay_children(None, "zh") == []
    badge = texts(html.Div(replay_children({"name": "sf_fire", "speed": 60}, "zh")))
    assert badge == ["回放 · sf_fire ×60 · 位置已平移"]
    assert texts(html.Div(replay_children({"name": "x", "speed": 1.5}, "en"))) == [
        "REPLAY · x ×1.5 · positions moved"]
    assert texts(html.Div(replay_children({"name": "unknown"}, "zh"))) == [
        "回放 · unknown · 位置已平移"]


# ------------------------------------------------------------------ i18n


def test_i18n_lookups():
    assert t("title") == "乔网智治·云上中心驾驶舱"
    assert t("title", "en") == "Qiaosi Cloud Cockpit"
    assert t("age_s", "zh", n=3) == "数据 3 秒前"
    assert t("source_down", "zh") == "数据源连接中断"
    assert t("stale", "zh") == "数据可能已过期"
    assert (format_count(0), format_count(12345), format_count(None)) == ("0", "12,345", "—")
    with pytest.raises(KeyError):
        t("no-such-key")
    assert all(zh and en.strip() or key == "unit_items" for key, (zh, en) in STRINGS.items())


@pytest.mark.parametrize(("search", "lang"), [
    ("", "zh"), (None, "zh"), ("?lang=en", "en"), ("?lang=EN-us", "en"), ("?lang=zh", "zh"),
    ("?x=1&lang=en", "en"), ("?lang=fr", "zh")])
def test_lang_from_search(search, lang):
    assert lang_from_search(search) == lang


def test_client_config_carries_strings_and_thresholds():
    config = client_config("en", "Asia/Shanghai")
    assert config["tz"] == "Asia/Shanghai" and config["locale"] == "en-GB"
    assert config["texts"]["stale"] == "Data may be stale"
    assert config["warn_s"] < config["stale_s"]
    assert config["status_url"] == "/api/v1/status" and "silent_s" in config["texts"]
    assert normalize_lang(config["lang"]) == "en"


# ------------------------------------------------------------------ layout tree


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_layout_ids_are_unique_and_declared(lang):
    tree = html.Div([shell(), wall(lang)])
    ids = [node.id for node in walk(tree) if getattr(node, "id", None) is not None]
    assert not [i for i, n in Counter(ids).items() if n > 1]  # no duplicates
    assert set(ids) == ({str(i) for i in WallIds} | {str(i) for i in GovIds}
                        | {str(i) for i in VolIds} | {str(i) for i in WasteIds}
                        | {str(i) for i in FocusIds} | {str(i) for i in ShellIds})


def test_layout_is_pure_and_uses_no_raw_html():
    tree = wall()
    kinds = {type(node) for node in walk(tree)}
    assert dcc.Markdown not in kinds
    for node in walk(tree):
        assert not getattr(node, "dangerously_allow_html", False)
    graph = next(node for node in walk(tree) if isinstance(node, dcc.Graph))
    assert graph.config["displayModeBar"] is False
    config = next(node for node in walk(tree) if getattr(node, "id", None) == WallIds.CONFIG)
    assert config.data["push"]["poll_ms"] == 500  # the period when push is impossible
    assert config.data["push"]["root"] == WallIds.ROOT
    assert "乔网智治·云上中心驾驶舱" in texts(tree)
    assert "Qiaosi Cloud Cockpit" in texts(wall("en"))


def test_importing_the_app_is_side_effect_free():
    sys.modules.pop("app", None)
    module = importlib.import_module("app")
    assert not hasattr(module, "server") and not hasattr(module, "app")
    assert callable(module.create_app) and callable(module.make_server)


def test_geo_base_layer_is_schematic():
    from callbacks.wall_parts import map_base, village_names

    base = map_base("zh")
    assert len(base.labels) == 15 and base.schematic == {code for code, *_ in base.labels}
    assert all("（示意）" in label for label in map_figure(base)["data"][3]["text"])  # labels
    assert None in base.outline_x and len(base.outline_x) == len(base.outline_y)
    names = village_names("zh")
    assert names == {code: name for code, name, *_ in base.labels}  # plain names on the map
    assert {names[c] for c in base.small} == {"新街社区", "良熟新苑社区", "五星村", "永和村"}
    assert all(name.endswith("(schematic)") for name in village_names("en", True).values())


# ------------------------------------------------------------------ the poll callback over HTTP


def _poll(client, app, seen=None, lang="zh"):
    """What the wall's live channel sends a screen last sent ``seen``: (status, response)."""
    return poll(client, app, seen=seen, lang=lang)


class RedisDown(Services):
    """Services whose data version cannot be read (sessions are in the store).

    A Redis that is down no longer gets here (the version falls back: tests/test_web_faults.py);
    the path stays for any failure of the data source.
    """

    def version(self) -> int:
        raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


def _like(cls: type[Services], services: Services) -> Services:
    """``services`` as an instance of ``cls`` (same settings, Redis and store)."""
    return cls(services.settings, services.redis, services.engine, services.sessions)


def test_poll_shows_source_down_instead_of_crashing(sqlite_services):
    from app import create_app

    services = _like(RedisDown, sqlite_services)
    app = create_app(services=services)
    client = signed_in_client(app, services, "wall")
    status, response = _poll(client, app)
    assert status == 200
    assert response[WallIds.ALERT]["children"] == "数据源连接中断"
    assert response[WallIds.STATUS]["data"]["error"] is True
    assert WallIds.MAP not in response  # the last good picture stays
    # already shown: the next polls send nothing until the source is back
    status, _ = _poll(client, app, seen=response[SEEN]["data"])
    assert status == 204
    reply = client.get("/api/v1/status")  # the web server answers: only its source is down
    assert reply.status_code == 503 and reply.headers["Cache-Control"] == "no-store"


def test_the_clock_waits_for_no_server_callback(sqlite_services):
    """dash-renderer holds a callback fed by a pending one: a hung poll must not stop the clock."""
    from app import create_app

    app = create_app(services=sqlite_services)
    deps = signed_in_client(app, sqlite_services, "wall").get("/_dash-dependencies").get_json()
    graph = [({f"{i['id']}.{i['property']}" for i in d["inputs"] + d["state"]},
              set(d["output"].strip(".").split("...")), d["clientside_function"]) for d in deps]
    held = set().union(*(outs for _, outs, clientside in graph if not clientside))
    for _ in graph:  # whatever a held value feeds is held too
        held |= set().union(*(outs for ins, outs, _ in graph if ins & held))
    clock = next(ins for ins, outs, _ in graph if f"{WallIds.CLOCK_TIME}.children" in outs)
    # the wall's data arrive by push (assets/push.js set_props), not from a server callback
    assert f"{WallIds.STATUS}.data" not in held and not clock & held
    # nor may a click on 确认 wait for the poll: it silences the screen at once
    ack = next(ins for ins, outs, _ in graph if f"{GovIds.ACK_REQUEST}.data" in outs)
    assert f"{GovIds.ACK}.n_clicks" in ack and not ack & held


#: The store reads of the access check (accounts, kiosks), not of the wall's read models.
SESSION_READ = re.compile(r"\bFROM (users|kiosks)\b")


def test_poll_sends_nothing_while_the_version_stands_and_queries_once_per_version(
        sqlite_services, monkeypatch):
    import callbacks.wall_feed
    import callbacks.wall_focus
    from app import create_app

    # the governance view is also re-read per time period: hold that period for the test;
    # the scenario tiles' sparklines too (read per minute, or when a value reaches a new slice)
    monkeypatch.setattr(callbacks.wall_feed, "GOVERNANCE_EVERY_S", 10**9)
    monkeypatch.setattr(callbacks.wall_focus, "SERIES_EVERY_S", 10**9)
    selects = []  # of the read models: who a session is is read apart (every few seconds)
    event.listen(sqlite_services.engine, "before_cursor_execute",
                 lambda *args: selects.append(args[2]) if args[2].lstrip().startswith(
                     "SELECT") and not SESSION_READ.search(args[2]) else None)
    app = create_app(services=sqlite_services)
    client = signed_in_client(app, sqlite_services, "wall")
    status, first = _poll(client, app)
    assert status == 200 and first[WallIds.KPI_TODAY]["children"] == "0"
    assert first[WallIds.MAP]["figure"]["__dash_patch_update"] == "__dash_patch_update"
    assert first[WallIds.ALERT]["children"] == "" and first[WallIds.REPLAY]["children"] == []
    queries_per_version = len(selects)
    assert queries_per_version > 0
    status, _ = _poll(client, app, seen=first[SEEN]["data"])
    assert status == 204  # nothing moved: no_update everywhere
    status, other_screen = _poll(client, app)  # a second screen at the same version
    assert other_screen[WallIds.KPI_TODAY] == first[WallIds.KPI_TODAY]
    assert len(selects) == queries_per_version  # served from the cache
    signal_change(sqlite_services.redis, sqlite_services.settings, [])
    status, moved = _poll(client, app, seen=first[SEEN]["data"])
    # a new version, the same numbers and traces: only the status is sent, not the panels
    assert status == 200 and WallIds.STATUS in moved
    assert WallIds.KPI_TODAY not in moved and WallIds.MAP not in moved, sorted(moved)
    # everything read again but the sparklines (no tile's value moved to a new slice)
    sparklines = sum(1 for sql in selects[:queries_per_version] if " AS s47" in sql)
    assert sparklines == len(sqlite_services.tiles.current().tiles)
    assert len(selects) == 2 * queries_per_version - sparklines


def test_only_fresh_rows_flash():
    rows = [{"incident_id": "new", "reported_at": "2026-11-29T10:00:05+08:00", "title": "a"},
            {"incident_id": "old", "reported_at": "2026-11-29T09:00:00+08:00", "title": "b"}]
    items = latest_children(rows, {}, "zh", fresh_after="2026-11-29T10:00:00+08:00")
    assert [i.className for i in items] == ["latest-item latest-new", "latest-item"]


# ------------------------------------------------------------------ governance panels

LEVELS = [("值班员", "Duty officer"), ("科室负责人", "Section chief"), ("分管领导", "Leader")]


@pytest.mark.parametrize(("seconds", "zh", "en"), [
    (None, "—", "—"), (-1, "—", "—"), (float("nan"), "—", "—"), (0, "超时 0秒", "0 s late"),
    (59.9, "超时 59秒", "59 s late"), (720, "超时 12分", "12 min late"),
    (3900, "超时 1时05分", "1 h 05 min late"), (86400 + 7300, "超时 1天2时", "1 d 2 h late")])
def test_late_text(seconds, zh, en):
    assert late_text(seconds) == zh and late_text(seconds, "en") == en


def overdue_item(incident_id: str, late_s: float, level: int = 0, **extra):
    return {**incident(incident_id, **extra), "late_s": late_s, "escalation_level": level}


def test_overdue_board_shows_how_late_each_one_is_and_links_to_it():
    board = {"total": 12, "items": [
        overdue_item("o-1", 4000, 2, category="fire", stage="dispatched", title="<b>起火</b>"),
        overdue_item("o 2/x", 720, 0, category="police", stage="reported", village_code=None),
        overdue_item("o-3", 30, 9, category=None, stage=None, title=None)]}
    *items, more = overdue_children(board, {"v1": "甲村"}, "zh", LEVELS, schematic={"v1"})
    assert more.className == "overdue-more"  # 9 of the 12 not shown
    first = texts(items[0])
    assert {"火情", "<b>起火</b>", "超时 1时06分", "甲村", "（示意）", "已派遣",
            "督办：科室负责人"} <= set(first)  # upstream text stays text
    assert [i.className for i in items] == ["overdue-item overdue-sev-2",
                                            "overdue-item overdue-sev-1",
                                            "overdue-item overdue-sev-3"]
    links = [n for i in items for n in walk(i) if isinstance(n, dcc.Link)]
    assert [link.href for link in links] == ["/incidents/o-1", "/incidents/o%202%2Fx",
                                             "/incidents/o-3"]
    assert "超时 12分" in texts(items[1]) and "—" in texts(items[1])  # no village
    # missing category, stage and title never crash; a level past the ladder shows no label
    assert {"其他", "（无标题）", "超时 30秒"} <= set(texts(items[2]))
    assert not [t for t in texts(items[2]) if t.startswith("督办")]
    assert overdue_total(board, "zh") == "共 12 起" and overdue_total({}, "en") == "0 in all"
    english = overdue_children(board, {"v1": "Jia"}, "en", LEVELS)
    assert "Raised: Section chief" in texts(english[0]) and "1 h 06 min late" in texts(english[0])
    assert [link.href for link in walk(english[0]) if isinstance(link, dcc.Link)] == [
        "/incidents/o-1?lang=en"]
    assert texts(html.Div(overdue_children({"total": 0, "items": []}, {}, "zh"))) == [
        "暂无超时警情"]


def test_overdue_board_says_how_many_more_there_are_and_links_to_them_all():
    def more(board, lang="zh"):
        items = overdue_children(board, {}, lang)
        lines = [i for i in items if i.className == "overdue-more"]
        assert lines in ([], [items[-1]])  # the last line, once
        return [(link.children, link.href) for line in lines for link in walk(line)
                if isinstance(link, dcc.Link)]

    # the query hands over at most OVERDUE_ROWS items and the total of them all
    full = {"total": 1234, "items": [overdue_item(f"m{i}", 60 * i) for i in range(30)]}
    items = overdue_children(full, {}, "zh")
    assert [i.className.split()[0] for i in items] == ["overdue-item"] * OVERDUE_ROWS + [
        "overdue-more"]
    hidden = 1234 - OVERDUE_ROWS
    assert more(full) == [(f"另有 {hidden:,} 起 → 查看全部", "/incidents?stage=overdue")]
    assert more(full, "en") == [(f"{hidden:,} more → see all",
                                 "/incidents?stage=overdue&lang=en")]
    one_more = {"total": OVERDUE_ROWS + 1, "items": full["items"][:OVERDUE_ROWS]}
    assert more(one_more) == [("另有 1 起 → 查看全部", "/incidents?stage=overdue")]
    # every one shown (or none at all): no such line
    exact = {"total": 3, "items": full["items"][:3]}
    assert more(exact) == [] and len(overdue_children(exact, {}, "zh")) == 3
    assert more({"total": 0, "items": []}) == []
    assert more({"items": full["items"][:2]}) == []  # no total: nothing claimed


def test_ticker_shows_latest_stage_changes_and_escalations_twice_for_its_loop():
    incidents = [incident("a", stage="dispatched", stage_at="2026-11-29T10:05:00+08:00"),
                 incident("b", stage="reported", stage_at="2026-11-29T10:06:00+08:00"),
                 incident("c", stage_at=None)]
    notices = [
        {"notification_id": "a/overdue/1", "kind": "overdue", "incident_id": "a",
         "created_at": "2026-11-29T10:07:00+08:00", "text_zh": "超时督办（值班员）：火情",
         "text_en": "Overdue (Duty officer): fire"},
        {"notification_id": "b/new", "kind": "new_incident", "incident_id": "b",
         "created_at": "2026-11-29T10:06:00+08:00", "text_zh": "新警情", "text_en": "New"},
        {"notification_id": "old/overdue", "kind": "unacknowledged", "incident_id": "x",
         "created_at": "2026-11-29T08:00:00+08:00", "text_zh": "旧", "text_en": "old"}]
    entries = ticker_items(incidents, notices, as_of="2026-11-29T10:08:00+08:00")
    assert [e["key"] for e in entries] == ["n:a/overdue/1", "s:b:reported", "s:a:dispatched"]
    assert entries[0]["text"] == "超时督办（值班员）：火情"
    assert len(ticker_items(incidents * 10, [], limit=4)) == 4
    items = ticker_children(incidents, notices, {"v1": "甲村（示意）"}, "zh",
                            "2026-11-29T10:08:00+08:00", date(2026, 11, 29))
    assert len(items) == 6  # three entries, then the same three again for the seamless loop
    assert [i.className for i in items] == ["ticker-item"] * 3 + ["ticker-item ticker-copy"] * 3
    assert all(getattr(i, "aria-hidden") == "true" for i in items[3:])
    assert len({i.key for i in items}) == 6
    assert texts(items[1]) == ["10:06:00", "火情", "甲村（示意）", "标题 b", "已上报"]
    assert texts(items[0]) == ["10:07:00", "督办", "超时督办（值班员）：火情"]
    english = ticker_children(incidents, notices, {}, "en", "2026-11-29T10:08:00+08:00")
    assert "Overdue (Duty officer): fire" in texts(english[0])
    assert texts(html.Div(ticker_children([], [], {}, "zh"))) == ["暂无动态"]


def test_announce_queue_carries_texts_in_the_page_language():
    pending = {"total": 3, "repeat_every_s": 30.0, "items": [
        {"notification_id": "x/new", "incident_id": "x", "priority": "critical",
         "text_zh": "新警情：特急火情", "text_en": "New incident: Critical fire",
         "category": "fire", "title": "仓库起火", "village_code": "330110006201",
         "created_at": "2026-11-29T10:00:05+08:00", "reported_at": "2026-11-29T10:00:00+08:00"}]}
    assert announce_queue(pending, "zh") == {"total": 3, "repeat_every_s": 30.0, "items": [
        {"id": "x/new", "incident_id": "x", "kind": "new_incident", "priority": "critical",
         "priority_label": "特急", "text": "新警情：特急火情", "category_label": "火情",
         "title": "仓库起火",
         "village_code": "330110006201", "at": "2026-11-29T10:00:05+08:00",
         "reported_at": "2026-11-29T10:00:00+08:00"}]}
    english = announce_queue(pending, "en")["items"][0]
    assert (english["text"], english["priority_label"]) == ("New incident: Critical fire",
                                                            "Critical")
    assert announce_queue({}, "zh") == {"total": 0, "items": [], "repeat_every_s": 0.0}
    alert = {"notification_id": "alert/r/subdistrict/1/new", "incident_id": None,
             "kind": "alert", "priority": "urgent", "text_zh": "告警：乔司街道 今日特急警情 5 起",
             "created_at": "2026-11-29T10:00:05+08:00"}
    (item,) = announce_queue({"total": 1, "items": [alert]}, "zh")["items"]
    assert (item["kind"], item["category_label"], item["text"]) == (
        "alert", "", "告警：乔司街道 今日特急警情 5 起")  # no category: none shown


def test_funnel_stages_and_categories_drill_into_the_list_of_today():
    funnel = [{"stage": s, "count": 1} for s in FUNNEL_STAGES]
    hrefs = [n.href for n in walk(html.Div(funnel_children(funnel, "zh")))
             if isinstance(n, dcc.Link)]
    assert hrefs == [f"/incidents?stage={s}&period=today" for s in FUNNEL_STAGES]
    cats = category_children([{"category": "fire", "count": 2}], "en")
    assert [n.href for n in walk(html.Div(cats)) if isinstance(n, dcc.Link)] == [
        "/incidents?category=fire&period=today&lang=en"]
    assert list_href("zh", stage="open") == "/incidents?stage=open"
    assert incident_href("a/b c", "en") == "/incidents/a%2Fb%20c?lang=en"


def test_client_config_names_the_screen_and_the_speech_language():
    config = client_config("zh", "Asia/Shanghai", screen="  hall-1 ")
    assert (config["screen"], config["speech_lang"]) == ("hall-1", "zh-CN")
    assert config["detail_url"] == "/incidents/{id}"
    assert config["announce_texts"]["gw_announce_more"] == "另有 {n} 条待确认"
    english = client_config("en", "Asia/Shanghai", screen="x" * 500)
    assert english["speech_lang"] == "en-US" and len(english["screen"]) == 64
    assert english["detail_url"] == "/incidents/{id}?lang=en"
    assert client_config("zh", "Asia/Shanghai")["screen"] is None


def test_acknowledgement_requests_are_checked_and_follow_the_event_contract():
    from callbacks.wall_ack import MAX_ACKS, acknowledgement_fields, parse_ack_request

    assert parse_ack_request(None) == ([], "wall", False)
    assert parse_ack_request({"ids": "x/new", "by": 5, "all": "yes"}) == ([], "wall", False)
    ids, by, every = parse_ack_request({"ids": ["a/new", " a/new ", "", 7, "b" * 201, "c/new"],
                                        "by": " hall\n 1 ", "all": True})
    assert (ids, by, every) == (["a/new", "c/new"], "hall 1", True)
    ids, _, _ = parse_ack_request({"ids": [f"n{i}" for i in range(200)]})
    assert len(ids) == MAX_ACKS
    fields = acknowledgement_fields("a/new", "hall-1", "10.0.0.8",
                                    datetime(2026, 11, 29, 10, 0, tzinfo=ZoneInfo(
                                        "Asia/Shanghai")))
    event = parse_event(fields)
    assert isinstance(event, NotificationAcknowledged)
    assert (event.notification_id, event.by, event.origin, event.channel, event.source) == (
        "a/new", "hall-1", "10.0.0.8", "screen", "wall")
    assert fields["occurred_at"] == "2026-11-29T10:00:00+08:00"
    assert acknowledgement_fields("a/new", "x", None, datetime.now(UTC))["event_id"] != \
        acknowledgement_fields("a/new", "x", None, datetime.now(UTC))["event_id"]


def json_texts(node) -> list[str]:
    """The strings among the children of components as sent over HTTP (JSON)."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [text for child in node for text in json_texts(child)]
    if isinstance(node, dict):
        return json_texts((node.get("props") or {}).get("children"))
    return []


def _store(services, *fields, now=None):
    events = [(parse_event(f), f"{i}-1") for i, f in enumerate(fields, start=1)]
    with services.sessions.begin() as session:
        result = apply_batch(session, events, resolve_villages, now=now,
                             config=services.settings.governance)
    signal_change(services.redis, services.settings, sorted(result.incidents))


def test_poll_rereads_the_overdue_board_on_time_alone(services, monkeypatch):
    import callbacks.wall_feed
    from app import create_app

    now = datetime.now(UTC)
    _store(services, incident_fields("late-1", at=now, priority="normal"), now=now)
    app = create_app(services=services)
    client = signed_in_client(app, services, "wall")
    status, first = _poll(client, app)
    assert status == 200
    assert json_texts(first[GovIds.OVERDUE]["children"]) == ["暂无超时警情"]
    assert first[GovIds.OVERDUE_TOTAL]["children"] == "共 0 起"
    queue = first[GovIds.QUEUE]["data"]
    assert [n["id"] for n in queue["items"]] == ["late-1/new"] and queue["total"] == 1
    # no event arrives, time passes: the fire's 2-minute limit to assessment runs out
    monkeypatch.setattr(callbacks.wall_feed, "utc_now", lambda: now + timedelta(minutes=12))
    status, later = _poll(client, app, seen=first[SEEN]["data"])
    assert status == 200
    board = json_texts(later[GovIds.OVERDUE]["children"])
    assert "超时 10分" in board and "Smoke" in board and "已上报" in board
    assert later[GovIds.OVERDUE_TOTAL]["children"] == "共 1 起"
    assert GovIds.QUEUE not in later  # the queue did not change: not sent again
    status, _ = _poll(client, app, seen=later[SEEN]["data"])
    assert status == 204  # same version, same period: nothing to send


def _ack_poster(services):
    """A function POSTing one acknowledgement request to the wall's callback, as the page does
    for a signed-in leader (``post.account``); it returns the HTTP status and the callback's
    response."""
    from app import create_app

    app = create_app(services=services)
    client = signed_in_client(app, services, "leader")
    key = next(k for k in app.callback_map if k.startswith(f"{GovIds.ACK_DONE}.data"))

    def post(request):
        reply = client.post("/_dash-update-component", json={
            "output": key, "outputs": {"id": str(GovIds.ACK_DONE), "property": "data"},
            "changedPropIds": [f"{GovIds.ACK_REQUEST}.data"],
            "inputs": [{"id": str(GovIds.ACK_REQUEST), "property": "data", "value": request}]})
        return reply.status_code, (reply.get_json() or {}).get("response", {})

    post.account = client.account
    return post


def test_acknowledge_callback_writes_the_event_the_ingest_applies(services):

    now = datetime.now(UTC)
    _store(services, incident_fields("ack-1", at=now), now=now)
    post = _ack_poster(services)

    assert post({"ids": [], "by": "hall-2"})[0] == 204  # nothing to acknowledge
    status, response = post({"ids": ["ack-1/new"], "by": "hall-2", "nonce": "n1"})
    assert status == 200
    assert response[GovIds.ACK_DONE]["data"] == {"nonce": "n1", "sent": ["ack-1/new"],
                                                 "failed": [], "all": False}
    stream = services.settings.stream("incidents")
    ((_, fields),) = services.redis.xrange(stream)
    # the signed-in account acknowledges; the screen's name says where
    assert (fields["type"], fields["notification_id"], fields["by"], fields["origin"],
            fields["channel"]) == ("notification.acknowledged", "ack-1/new", post.account,
                                   "hall-2", "screen")
    drain(services, "t")
    with services.read() as session:
        notice = session.get(Notification, "ack-1/new")
        assert (notice.acked_by, notice.ack_channel, notice.ack_from) == (post.account,
                                                                          "screen", "hall-2")
        assert notice.acked_at is not None
        pending = pending_announcements(session, services.settings.tz,
                                        services.settings.governance)
    assert pending["total"] == 0  # the queue drops it


def test_acknowledge_all_answers_the_whole_queue_not_only_what_the_screen_holds(services):
    from callbacks.wall_parts import ANNOUNCE_ITEMS

    now = datetime.now(UTC)
    n = ANNOUNCE_ITEMS + 12
    _store(services, *(incident_fields(f"all-{i}", at=now) for i in range(n)), now=now)
    shown = [f"all-{i}/new" for i in range(3)]  # what the screen held
    post = _ack_poster(services)
    status, response = post({"ids": shown, "all": True, "by": "hall-3", "nonce": "n2"})
    done = response[GovIds.ACK_DONE]["data"]
    assert done["all"] is True and done["failed"] == []
    assert done["sent"][:3] == shown and sorted(done["sent"]) == sorted(
        f"all-{i}/new" for i in range(n))
    drain(services, "t")
    with services.read() as session:
        pending = pending_announcements(session, services.settings.tz,
                                        services.settings.governance)
        acked_by = set(session.scalars(select(Notification.acked_by)))
    assert pending["total"] == 0 and acked_by == {post.account}


def test_poll_queue_and_board_fail_soft_with_the_data_source(sqlite_services):
    """A governance query error is reported like any data error (never a crash)."""
    from app import create_app

    class GovernanceDown(Services):
        down = False  # the store fails once the screen is signed in

        def version(self) -> int:
            return 1

        def last_commit_ms(self) -> int | None:
            return None

        def replay_status(self):
            return None

        @contextmanager
        def read(self):
            if self.down:
                raise OperationalError("SELECT 1", {}, Exception("database is locked"))
            with super().read() as session:
                yield session

    services = _like(GovernanceDown, sqlite_services)
    app = create_app(services=services)
    client = signed_in_client(app, services, "wall")  # who it is stays known for a few seconds
    services.down = True
    status, response = _poll(client, app)
    assert status == 200 and response[WallIds.ALERT]["children"] == "数据源连接中断"
    assert GovIds.OVERDUE not in response and GovIds.QUEUE not in response
