"""The wall's waste-sorting panel and the map's accuracy fills (垃圾分类, 近7日).

Unit tests build the figures and panels from given read models; integration tests ingest
waste events through Redis with the real Ingestor into SQLite and PostgreSQL, as production
does, and check that every figure the wall sends equals the accuracy recomputed from the
stored disposals.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import select

from cockpit import geo
from cockpit.store.waste_models import WasteDisposal
from cockpit.waste.config import WasteRules
from cockpit.waste.wall_queries import WALL_DAYS, wall_accuracy
from layouts.i18n import t
from layouts.map_counts import wall_y_range
from layouts.wall import WallIds, layout
from layouts.wall_waste import WasteIds, summary_children, trend_children, waste_key, waste_panel
from layouts.wall_waste_figures import (
    ALARM_COLOR,
    NO_DATA_FILL,
    OK_COLOR,
    accuracy_rgb,
    bar_floor,
    choropleth_shapes,
    fill_color,
    meets,
    percent,
    ranking_figure,
    scale_floor,
    village_rows,
)
from tests import waste_factories as wf
from tests.access_support import signed_in_client
from tests.test_wall_volunteers import having, nodes, strings_of, texts, walk
from tests.wall_support import SEEN

NAMES = {code: info["name"] for code, info in geo.village_names().items()}
ORDER = sorted(NAMES)
CODE_OF = {name: code for code, name in NAMES.items()}
CHAOYANG = "330110006224"  # 朝阳村
TZ = "Asia/Shanghai"


# ------------------------------------------------------------------ events

#: Per village (by name), its disposals of the last seven days: (correct, incorrect). A few
#: villages reach the 95 % target, most do not, one has no disposal at all (无数据).
PLAN: dict[str, tuple[int, int]] = {
    "朝阳村": (39, 1), "三角村": (24, 1), "吴家村": (19, 1), "乔司社区": (28, 2),
    "永西村": (33, 3), "方桥村": (17, 3), "胜稼村": (45, 5), "葛家车村": (11, 1),
    "和睦桥村": (20, 4), "永和村": (14, 4), "五星村": (9, 3), "良熟新苑社区": (16, 5),
    "连城社区": (7, 3), "新街社区": (5, 4),
}
NO_DATA = "良熟村"  # no disposal: grey on the map, 无数据 in the bars


def local_day(now: datetime, tz: str = TZ) -> date:
    from zoneinfo import ZoneInfo

    return now.astimezone(ZoneInfo(tz)).date()


def moment(now: datetime, days_ago: int, tz: str = TZ) -> datetime:
    """A time on the local day ``days_ago`` before ``now``'s: its noon, or just before now."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(tz)
    day = local_day(now, tz) - timedelta(days=days_ago)
    noon = datetime.combine(day, time(12), zone)
    if days_ago == 0:
        start = datetime.combine(day, time(0, 0, 1), zone)
        return max(min(noon, now - timedelta(seconds=2)), start)
    return noon


def registry(villages: Sequence[str], source: str = "waste-sys") -> list[dict[str, str]]:
    """A station and a household in each village (by name)."""
    out = []
    for name in villages:
        code = CODE_OF[name]
        out += [wf.station(f"ST-{code}", village=name, source=source),
                wf.household(f"H-{code}", village=name, source=source)]
    return out


def disposals(now: datetime, plan: Mapping[str, tuple[int, int]], source: str = "station-app",
              tag: str = "") -> list[dict[str, str]]:
    """``waste.disposal`` events of ``plan`` spread over the seven days ending today."""
    out = []
    for name, (right, wrong) in plan.items():
        code = CODE_OF[name]
        for n in range(right + wrong):
            out.append(wf.disposal(f"H-{code}", moment(now, n % WALL_DAYS), correct=n >= wrong,
                                   station_id=f"ST-{code}", source=source,
                                   event_id=f"d{tag}-{code}-{n}"))
    return out


def ingest(services, entries: Sequence[dict[str, str]]) -> None:
    """XADD ``entries`` to the waste stream and run the real ingest until it is drained."""
    wf.ingest(services, entries, consumer="wall-waste")


def recomputed(services, today: date) -> dict[str | None, tuple[int, int]]:
    """Village code -> (correct, total) counted from the stored disposals of the 7 days."""
    first = (today - timedelta(days=WALL_DAYS - 1)).isoformat()
    out: dict[str | None, list[int]] = {}
    with services.read() as session:
        for code, day, correct in session.execute(
                select(WasteDisposal.village_code, WasteDisposal.local_day,
                       WasteDisposal.correct)):
            if first <= day <= today.isoformat():
                counts = out.setdefault(code, [0, 0])
                counts[0] += bool(correct)
                counts[1] += 1
    return {code: (c, n) for code, (c, n) in out.items()}


def shown_percent(correct: int, total: int) -> str:
    """The percentage a screen must show: correct/total rounded down to 0.1 %."""
    tenths = correct * 1000 // total
    return f"{tenths // 10}.{tenths % 10}%"


def models_of(plan: Mapping[str, tuple[int, int]], simulated: bool = False,
              first_day: str = "2026-11-27", last_day: str = "2026-12-03") -> dict:
    """A read model as :func:`wall_accuracy` returns it, for ``plan`` (village name ->
    (correct, incorrect)); the trend puts every disposal on the last day."""
    villages = [{"village_code": CODE_OF[name], "correct": right, "total": right + wrong}
                for name, (right, wrong) in plan.items()]
    correct = sum(v["correct"] for v in villages)
    total = sum(v["total"] for v in villages)
    days = [(date.fromisoformat(first_day) + timedelta(days=i)).isoformat() for i in range(7)]
    return {"first_day": first_day, "last_day": last_day, "days": 7, "villages": villages,
            "overall": {"correct": correct, "total": total},
            "trend": [{"day": d, "correct": correct if d == last_day else 0,
                       "total": total if d == last_day else 0} for d in days],
            "simulated": simulated}


def bar_texts(figure: Mapping) -> dict[str, str]:
    """Village name -> what the ranked bars say of it (``97.5% · 40`` or ``无数据``)."""
    traces = {trace["uid"]: trace for trace in figure["data"]}
    return dict(zip(traces["names"]["text"], traces["values"]["text"], strict=True))


RULES = WasteRules()


# ------------------------------------------------------------------ unit: numbers and colours


@pytest.mark.parametrize(("correct", "total", "shown"), [
    (949, 1000, "94.9%"), (19, 20, "95.0%"), (2, 3, "66.6%"), (1, 1, "100.0%"),
    (0, 7, "0.0%"), (0, 0, "—"), (18999, 20000, "94.9%")])
def test_percent_is_rounded_down_so_under_the_target_never_reads_as_it(correct, total, shown):
    assert percent(correct, total) == shown


def test_meeting_the_target_is_the_accuracy_rule_of_the_store():
    from cockpit.waste.accuracy import Tally

    for correct, total in [(19, 20), (18, 20), (949, 1000), (950, 1000), (0, 3), (0, 0)]:
        assert meets(correct, total, 0.95) == Tally(None, correct, total).meets(0.95)
    assert meets(9, 10, 0.9) is True and meets(9, 10, 0.95) is False


def test_the_scale_breaks_at_the_target_green_above_red_below_grey_without_data():
    target = RULES.target
    assert target == 0.95 and scale_floor(target) == pytest.approx(0.80)
    green, deep = (61, 220, 151), (0, 166, 98)
    assert accuracy_rgb(19, 20, target) == green  # exactly the target: green
    assert accuracy_rgb(20, 20, target) == deep  # 100 %: the deepest green
    just_under = accuracy_rgb(189, 200, target)  # 94.5 %: amber, not green
    assert just_under[0] == 255 and just_under[1] > 150
    assert accuracy_rgb(16, 20, target) == (255, 77, 79)  # 80 % and under: red
    assert accuracy_rgb(1, 20, target) == (255, 77, 79)
    mid = accuracy_rgb(175, 200, target)  # 87.5 %: halfway between red and amber
    assert 77 < mid[1] < 181
    assert accuracy_rgb(0, 0, target) is None and fill_color(0, 0, target) == NO_DATA_FILL
    assert fill_color(19, 20, target).startswith("rgba(61, 220, 151,")
    # the break follows the rules' target, not a constant
    assert accuracy_rgb(92, 100, 0.9)[1] > 200 and accuracy_rgb(92, 100, 0.95)[0] == 255


# ------------------------------------------------------------------ unit: ranked bars


def test_bars_rank_villages_best_first_against_the_targets_line():
    plan = {"朝阳村": (39, 1), "吴家村": (19, 1), "新街社区": (5, 4), "方桥村": (17, 3)}
    rows = village_rows(models_of(plan), ORDER, NAMES, RULES.target)
    assert [r["name"] for r in rows][:4] == ["朝阳村", "吴家村", "方桥村", "新街社区"]
    assert [r["name"] for r in rows[4:]] == sorted((NAMES[c] for c in ORDER
                                                    if NAMES[c] not in plan),
                                                   key=lambda n: CODE_OF[n])
    figure = ranking_figure(rows, RULES.target, "zh")
    traces = {trace["uid"]: trace for trace in figure["data"]}
    assert bar_texts(figure)["朝阳村"] == "97.5% · 40"
    assert bar_texts(figure)["吴家村"] == "95.0% · 20"
    assert bar_texts(figure)["新街社区"] == "55.5% · 9"
    assert bar_texts(figure)["良熟村"] == "无数据"
    assert traces["ranks"]["text"] == [str(n) for n in range(1, 16)]
    bars = traces["bars"]
    colors = dict(zip(traces["names"]["text"], bars["marker"]["color"], strict=True))
    assert colors["朝阳村"] == colors["吴家村"] == OK_COLOR  # at or above 95 %
    assert colors["方桥村"] == colors["新街社区"] == ALARM_COLOR  # 85 %, 55.5 %
    lengths = dict(zip(traces["names"]["text"], bars["x"], strict=True))
    assert lengths["良熟村"] == 0  # no bar without disposals
    # a dashed vertical line per column, where a bar of exactly 95 % ends
    lines = figure["layout"]["shapes"]
    assert len(lines) == 2 and all(s["line"]["dash"] == "dash" and s["x0"] == s["x1"]
                                   for s in lines)
    wujia = traces["names"]["text"].index("吴家村")
    assert bars["base"][wujia] + bars["x"][wujia] == pytest.approx(lines[0]["x0"])
    chaoyang = traces["names"]["text"].index("朝阳村")
    assert bars["base"][chaoyang] + bars["x"][chaoyang] > lines[0]["x0"]
    # the bars start under the lowest village (55.5 %), the line sits where 95 % is
    floor = bar_floor(rows, RULES.target)
    assert floor == pytest.approx(0.5)
    assert "hovertext" in bars and "正确 39 / 投放 40" in bars["hovertext"][chaoyang]


def test_the_line_follows_the_rules_target():
    rows = village_rows(models_of({"朝阳村": (9, 1), "吴家村": (19, 1)}), ORDER, NAMES, 0.9)
    figure = ranking_figure(rows, 0.9, "en")
    traces = {trace["uid"]: trace for trace in figure["data"]}
    bars, lines = traces["bars"], figure["layout"]["shapes"]
    chaoyang = traces["names"]["text"].index("朝阳村")  # 90 %: on the line, and green
    assert bars["base"][chaoyang] + bars["x"][chaoyang] == pytest.approx(lines[0]["x0"])
    assert bars["marker"]["color"][chaoyang] == OK_COLOR
    assert "No data" in traces["values"]["text"]


def test_an_empty_wall_draws_no_bar():
    figure = ranking_figure([], RULES.target, "zh")
    assert [len(trace["y"]) for trace in figure["data"]] == [0] * 5
    assert figure["layout"]["shapes"] == []


# ------------------------------------------------------------------ unit: the map


def test_every_village_is_filled_by_its_accuracy_and_grey_without_data():
    from callbacks.wall_waste import village_rings

    rings = village_rings()
    assert sorted(rings) == ORDER and all(rings[c] for c in ORDER)
    rows = village_rows(models_of(PLAN), ORDER, NAMES, RULES.target)
    shapes = choropleth_shapes(rings, rows, RULES.target)
    fills = {s["name"].removeprefix("waste-"): s["fillcolor"] for s in shapes}
    assert set(fills) == set(ORDER)
    for name, (right, wrong) in PLAN.items():
        assert fills[CODE_OF[name]] == fill_color(right, right + wrong, RULES.target), name
    assert fills[CODE_OF[NO_DATA]] == NO_DATA_FILL
    assert all(s["layer"] == "below" and s["type"] == "path" and s["path"].endswith("Z")
               and s["line"]["width"] == 0 for s in shapes)  # under the markers and badges


@pytest.mark.parametrize("winding", [1, -1])
def test_a_village_with_a_hole_is_filled_around_it_whatever_the_winding(winding):
    outer = [(0.0, 0.0), (4.0, 0.0), (4.0, 4.0), (0.0, 4.0), (0.0, 0.0)][::winding]
    hole = [(1.0, 1.0), (1.0, 3.0), (3.0, 3.0), (3.0, 1.0), (1.0, 1.0)][::winding]
    rings = {"v": [tuple(map(list, zip(*ring, strict=True))) for ring in (outer, hole)]}
    (shape,) = choropleth_shapes(rings, [{"code": "v", "correct": 1, "total": 1}], 0.95)
    # its two rings and nothing else, even-odd: the hole stays open in either winding
    assert shape["fillrule"] == "evenodd" and shape["path"].count("M") == 2
    assert shape["path"] == "".join("M" + "L".join(f"{x:.6f},{y:.6f}" for x, y in ring) + "Z"
                                    for ring in (outer, hole))


def test_villages_without_disposals_are_labelled_on_the_map():
    from callbacks.wall_parts import map_base
    from layouts.wall_waste_figures import no_data_notes

    base = map_base("zh")
    rows = village_rows(models_of(PLAN), ORDER, NAMES, RULES.target)
    notes = no_data_notes(base, rows, "zh")
    assert [(n["name"], n["text"]) for n in notes] == [(f"waste-none-{CODE_OF[NO_DATA]}",
                                                        "无数据")]
    place = next((lon, lat) for code, _, lon, lat in base.labels if code == CODE_OF[NO_DATA])
    assert (notes[0]["x"], notes[0]["y"]) == place and notes[0]["yshift"] > 0  # over its label
    empty = village_rows(models_of({}), ORDER, NAMES, RULES.target)
    assert no_data_notes(base, empty, "en") == []  # no waste data at all: the key says it


def test_the_map_keeps_no_band_above_the_villages_and_its_badges_off_the_labels():
    from callbacks.wall_parts import map_base, map_bounds
    from layouts.map_counts import badge_rise, wall_map_figure

    base = map_base("zh")
    figure = wall_map_figure(base, "zh")
    assert figure["layout"]["yaxis"]["range"] == wall_y_range(base)
    low, high = wall_y_range(base)
    assert high - base.bounds[3] < 0.02 * (base.bounds[3] - base.bounds[1])
    assert map_bounds()[1] == low and map_bounds()[3] == high
    assert badge_rise(base, "朝阳村", CHAOYANG, "zh", 16) > 0


# ------------------------------------------------------------------ unit: panel and key


@pytest.mark.parametrize(("lang", "title", "key"), [("zh", "垃圾分类", "分类准确率（近7日）"),
                                                 ("en", "Waste sorting",
                                                  "Sorting accuracy (7 days)")])
def test_the_panel_and_the_key_have_their_ids_and_titles(lang, title, key):
    panel, legend = waste_panel(lang, RULES.target), waste_key(lang, RULES.target)
    ids = {node.id for node in walk(html_div(panel, legend)) if getattr(node, "id", None)}
    assert ids == set(WasteIds)
    assert title in texts(panel) and key in texts(legend)
    assert t("ww_no_data", lang) in texts(legend) and "95%" in texts(legend)
    assert "—" in texts(panel)  # before the first poll


def html_div(*children):
    from dash import html

    return html.Div(list(children))


def test_the_summary_gives_the_subdistrict_against_the_target():
    models = models_of(PLAN)
    correct = sum(r for r, _ in PLAN.values())
    total = sum(r + w for r, w in PLAN.values())
    summary = summary_children(models, RULES.target, "zh")
    words = texts(summary)
    assert "街道分类准确率 · 近7日" in words and shown_percent(correct, total) in words
    assert "目标 95%" in words and "未达标" in words and f"投放 {total} 次" in words
    assert having(summary, "ww-overall")[0].className == "ww-overall ww-bad"
    days = having(summary, "ww-day")
    assert len(days) == 7 and "ww-none" in days[0].className and "ww-bad" in days[-1].className
    good = summary_children(models_of({"朝阳村": (39, 1)}), RULES.target, "en")
    assert {"97.5%", "Target 95%", "Met", "40 disposals"} <= set(texts(good))
    assert len(having(trend_children([], RULES.target, "zh"), "ww-trend-target")) == 1


def test_the_page_takes_its_target_from_the_rules():
    from layouts.figures import map_figure
    from tests.test_wall_layout import SQUARE

    page = layout("zh", refresh_ms=500, timezone=TZ, map_figure=map_figure(SQUARE, [], "zh"),
                  waste_target=0.9)
    words = texts(page)
    assert "90%" in words and "目标 90%" in words and "≤75%" in words


def test_the_view_signs_what_it_shows():
    from callbacks.wall_waste import build_waste_view

    view = build_waste_view(models_of(PLAN), "zh", RULES.target)
    assert set(view) >= {"summary", "key_note", "bars", "shapes", "notes", "sig"}
    same = build_waste_view(models_of(PLAN), "zh", RULES.target)
    assert same["sig"] == view["sig"]
    moved = build_waste_view(models_of({**PLAN, "朝阳村": (40, 1)}), "zh", RULES.target)
    assert moved["sig"] != view["sig"]
    assert texts(view["key_note"]) == [] and not having(view["summary"], "vol-sim")
    simulated = build_waste_view(models_of(PLAN, simulated=True), "en", RULES.target)
    assert texts(simulated["key_note"]) == ["Simulated"]
    assert texts(having(simulated["summary"], "vol-sim")) == ["Simulated"]


# ------------------------------------------------------------------ integration: Redis to the wall


def poll(client, app, seen=None, lang="zh"):
    """POST the wall's refresh callback as the browser does; returns (status, response)."""
    from tests.test_wall_volunteers import poll as wall_poll

    return wall_poll(client, app, seen=seen, lang=lang)


def map_operations(response: Mapping) -> dict[tuple, object]:
    """The map patch's assignments, by location."""
    ops = (response.get(WallIds.MAP) or {}).get("figure", {}).get("operations") or []
    return {tuple(op["location"]): op["params"].get("value") for op in ops
            if op["operation"] == "Assign"}


def assert_shown_equals_stored(services, response: Mapping, today: date) -> None:
    """Every percentage, count and fill the wall sent equals the stored disposals' own."""
    stored = recomputed(services, today)
    target = services.settings.waste_rules.target
    shown = bar_texts(response[WasteIds.BARS]["figure"])
    assert set(shown) == set(NAMES.values())
    for code, name in NAMES.items():
        if code in stored:
            correct, total = stored[code]
            assert shown[name] == f"{shown_percent(correct, total)} · {total:,}", name
        else:
            assert shown[name] == "无数据", name
    correct = sum(c for c, _ in stored.values())
    total = sum(n for _, n in stored.values())
    summary = response[WasteIds.SUMMARY]["children"]
    big = nodes(summary, "ww-overall")[0]
    assert strings_of(big) == [shown_percent(correct, total)]
    assert big["props"]["data-total"] == str(total)
    assert f"投放 {total:,} 次" in strings_of(summary)
    fills = {shape["name"].removeprefix("waste-"): shape["fillcolor"]
             for shape in map_operations(response)[("layout", "shapes")]}
    for code in NAMES:
        correct, total = stored.get(code, (0, 0))
        assert fills[code] == fill_color(correct, total, target), code


def test_every_village_on_the_wall_shows_the_accuracy_of_its_stored_disposals(services):
    from app import create_app

    now = datetime.now(UTC)
    today = local_day(now)
    old = {name: (0, 3) for name in PLAN}  # 7 and 9 days ago: outside the period
    late = [wf.disposal(f"H-{CODE_OF[name]}", moment(now, days), correct=False,
                        station_id=f"ST-{CODE_OF[name]}", event_id=f"old-{name}-{days}")
            for name in old for days in (7, 9)]
    nowhere = [wf.station("ST-X", village="某某村"), wf.household("H-X", village="某某村"),
               *[wf.disposal("H-X", moment(now, n), correct=n % 2 == 0, station_id="ST-X",
                             event_id=f"nowhere-{n}") for n in range(4)]]
    ingest(services, registry(list(PLAN)) + nowhere)
    ingest(services, disposals(now, PLAN) + late)
    stored = recomputed(services, today)
    assert None in stored and CODE_OF[NO_DATA] not in stored
    with services.read() as session:  # the read model itself: the stored disposals' counts
        model = wall_accuracy(session, today)
    assert {v["village_code"]: (v["correct"], v["total"]) for v in model["villages"]} == stored
    assert (model["overall"]["correct"], model["overall"]["total"]) == (
        sum(c for c, _ in stored.values()), sum(n for _, n in stored.values()))
    assert [d["day"] for d in model["trend"]] == [
        (today - timedelta(days=6 - i)).isoformat() for i in range(7)]
    assert sum(d["total"] for d in model["trend"]) == model["overall"]["total"]
    assert model["simulated"] is False
    app = create_app(services=services)
    client = signed_in_client(app, services, "wall")
    status, first = poll(client, app)
    assert status == 200
    assert_shown_equals_stored(services, first, today)
    ops = map_operations(first)
    notes = [n for n in ops[("layout", "annotations")] if n.get("name", "").startswith("waste")]
    assert [n["text"] for n in notes] == ["无数据"]  # over 良熟村, the one without disposals
    assert any("示意" in n["text"] for n in ops[("layout", "annotations")])  # the caption stays
    assert not nodes(first[WasteIds.SUMMARY]["children"], "vol-sim")  # real data: no 模拟数据
    assert strings_of(first[WasteIds.KEY_NOTE]["children"]) == []
    # nothing moved: nothing is sent; a new batch moves the figures, and only them
    status, again = poll(client, app, seen=first[SEEN]["data"])
    # 204, unless the poll crossed a governance tick (every few seconds, clock-driven): then the
    # overdue board and funnels may be re-checked, but nothing of the waste view is sent
    assert status == 204 or not (set(again) & {str(i) for i in WasteIds}), again.keys()
    ingest(services, registry([NO_DATA])
           + disposals(now, {"新街社区": (30, 0), NO_DATA: (3, 1)}, tag="b"))
    status, moved = poll(client, app, seen=first[SEEN]["data"])
    assert status == 200
    assert_shown_equals_stored(services, moved, today)
    assert bar_texts(moved[WasteIds.BARS]["figure"])[NO_DATA] == "75.0% · 4"
    assert not [n for n in map_operations(moved)[("layout", "annotations")]
                if n.get("name", "").startswith("waste")]
    # nothing personal or identifying: no household, supervisor or photo
    sent = json.dumps([first, moved], ensure_ascii=False)
    assert not re.search(r"H-\d|H-X|SUP-1|\.jpg|ST-\d", sent)


def test_an_incident_alone_does_not_resend_the_waste_panel(sqlite_services):
    from app import create_app
    from cockpit.streams import signal_change

    services = sqlite_services
    ingest(services, registry(["朝阳村"]) + disposals(datetime.now(UTC), {"朝阳村": (9, 1)}))
    app = create_app(services=services)
    client = signed_in_client(app, services, "wall")
    status, first = poll(client, app)
    assert status == 200 and WasteIds.BARS in first
    signal_change(services.redis, services.settings, [])  # the version moves, waste does not
    status, moved = poll(client, app, seen=first[SEEN]["data"])
    assert status == 200 and WasteIds.BARS not in moved and WasteIds.SUMMARY not in moved
    assert ("layout", "shapes") not in map_operations(moved)


def test_the_period_is_seven_local_days(sqlite_services):
    from zoneinfo import ZoneInfo

    services = sqlite_services
    zone = ZoneInfo(services.settings.timezone)
    now = datetime.now(UTC)
    today = local_day(now, services.settings.timezone)
    first = datetime.combine(today - timedelta(days=6), time(0, 0, 30), zone)  # in
    before = datetime.combine(today - timedelta(days=7), time(23, 59, 30), zone)  # out
    ingest(services, registry(["吴家村"]) + [
        wf.disposal(f"H-{CODE_OF['吴家村']}", first, station_id=f"ST-{CODE_OF['吴家村']}",
                    event_id="first-in"),
        wf.disposal(f"H-{CODE_OF['吴家村']}", before, correct=False,
                    station_id=f"ST-{CODE_OF['吴家村']}", event_id="day-before")])
    with services.read() as session:
        model = wall_accuracy(session, today)
        assert model["first_day"] == (today - timedelta(days=6)).isoformat()
        assert model["villages"] == [{"village_code": CODE_OF["吴家村"], "correct": 1,
                                      "total": 1}]
        assert model["trend"][0] == {"day": model["first_day"], "correct": 1, "total": 1}
        assert model["simulated"] is False
        with pytest.raises(ValueError, match="at least 1"):
            wall_accuracy(session, today, days=0)
    # simulated disposals before the period do not make it simulated; one in it does
    code = CODE_OF["吴家村"]
    ingest(services, [wf.disposal(f"H-{code}", before, station_id=f"ST-{code}",
                                  source="sim:waste", event_id="sim-before")])
    with services.read() as session:
        assert wall_accuracy(session, today)["simulated"] is False
    ingest(services, [wf.disposal(f"H-{code}", first, station_id=f"ST-{code}",
                                  source="sim:waste", event_id="sim-in")])
    with services.read() as session:
        assert wall_accuracy(session, today)["simulated"] is True


def test_a_read_given_the_last_model_equals_a_fresh_one(services):
    """Late disposals of past days and late registrations (which move stored disposals to
    their village) are counted again; unchanged days are taken from the last model."""
    now = datetime.now(UTC)
    today = local_day(now)
    code = CODE_OF["五星村"]
    ingest(services, registry(["朝阳村"]) + disposals(now, {"朝阳村": (12, 2)})
           + [wf.disposal("H-LATE", moment(now, n), correct=n != 3, station_id="ST-LATE",
                          event_id=f"late-{n}") for n in range(5)])

    def fresh():
        with services.read() as session:
            return wall_accuracy(session, today)

    def reread(previous):
        with services.read() as session:
            return wall_accuracy(session, today, previous=previous)

    def shown(model):
        return {k: v for k, v in model.items() if k not in ("cells", "marks")}

    first = fresh()
    assert {v["village_code"]: v["total"] for v in first["villages"]} == {
        CODE_OF["朝阳村"]: 14, None: 5}
    assert reread(first) == first
    # the household and its station register late: their disposals move to 五星村
    ingest(services, [wf.station("ST-LATE", village="五星村"),
                      wf.household("H-LATE", village="五星村")])
    moved = reread(first)
    assert shown(moved) == shown(fresh())
    assert {v["village_code"]: (v["correct"], v["total"]) for v in moved["villages"]} == {
        CODE_OF["朝阳村"]: (12, 14), code: (4, 5)}
    # a disposal of three days ago arrives late: that day is counted again, the others kept
    ingest(services, [wf.disposal("H-LATE", moment(now, 3), correct=False, station_id="ST-LATE",
                                  event_id="late-day")])
    late = reread(moved)
    assert shown(late) == shown(fresh())
    assert late["trend"][3]["total"] == moved["trend"][3]["total"] + 1
    assert {v["village_code"]: v["total"] for v in late["villages"]}[code] == 6


def test_simulated_disposals_are_said_plainly(sqlite_services):
    from app import create_app

    services = sqlite_services
    now = datetime.now(UTC)
    ingest(services, registry(["朝阳村"], source="sim:waste")
           + disposals(now, {"朝阳村": (19, 1)}, source="sim:waste"))
    app = create_app(services=services)
    status, response = poll(signed_in_client(app, services, "wall"), app, lang="en")
    assert status == 200
    note = nodes(response[WasteIds.SUMMARY]["children"], "vol-sim")
    assert strings_of(note) == ["Simulated"]  # beside the disposals counted
    assert strings_of(response[WasteIds.KEY_NOTE]["children"]) == ["Simulated"]
    assert bar_texts(response[WasteIds.BARS]["figure"])["Chaoyang"] == "95.0% · 20"


def test_the_wall_takes_its_target_from_the_rules_file(tmp_path, redis_server_url, sqlite_url):
    from app import create_app
    from tests.conftest import _drop_prefix, build_services, make_settings
    from tests.test_access import _callback_body

    rules = tmp_path / "waste.yaml"
    rules.write_text("target: 0.9\n", encoding="utf-8")
    settings = make_settings(tmp_path, redis_server_url, sqlite_url, waste_file=rules)
    services = build_services(settings)
    try:
        assert services.settings.waste_rules.target == 0.9
        ingest(services, registry(["朝阳村", "吴家村"])
               + disposals(datetime.now(UTC), {"朝阳村": (9, 1), "吴家村": (17, 3)}))
        app = create_app(services=services)
        client = signed_in_client(app, services, "wall")
        page = client.post("/_dash-update-component",
                           json=_callback_body(app, "shell-page.children", "/"))
        words = strings_of(json.loads(page.get_data())["response"]["shell-page"]["children"])
        assert "目标 90%" in words and "90%" in words and "≤75%" in words  # panel and key
        status, response = poll(client, app)
        figure = response[WasteIds.BARS]["figure"]
        traces = {trace["uid"]: trace for trace in figure["data"]}
        colors = dict(zip(traces["names"]["text"], traces["bars"]["marker"]["color"],
                          strict=True))
        assert colors["朝阳村"] == OK_COLOR and colors["吴家村"] == ALARM_COLOR  # 90 %, 85 %
        assert "目标 90%" in strings_of(response[WasteIds.SUMMARY]["children"])
    finally:
        _drop_prefix(services.redis, settings.stream_prefix)
        services.close()
