"""The scenario tiles file: validation (entry, field, reason), the shipped file, the watcher."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from cockpit.governance_config import ConfigError
from cockpit.tiles import DEFAULT_FILE, Direction, Thresholds, TilesWatch, load_tiles

ROOT = Path(__file__).resolve().parents[1]
HEAD = "scenarios:\n  - {id: economy, title: {zh: 数字+经济, en: Digital economy}}\ntiles:\n"
GOOD = ("  - {id: t1, title: {zh: 服务企业, en: Served}, scenario: economy, module: economy,"
        " key: served}\n")


def write(tmp_path: Path, text: str, name: str = "tiles.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def refused(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as err:
        load_tiles(write(tmp_path, text))
    return str(err.value)


def test_the_shipped_file_is_valid_and_covers_the_demo_scenarios():
    config = load_tiles()
    assert load_tiles(DEFAULT_FILE) == config
    names = {s.id: s.title.zh for s in config.scenarios}
    assert names == {"governance": "数字治理", "party": "数字党建", "city": "数字城管",
                     "economy": "数字+经济", "service": "数字+服务"}
    assert {s.id for s, _ in config.by_scenario()} == {"economy", "service"}
    chaoyang = [t for t in config.tiles if t.village is not None]
    assert [t.village for t in chaoyang] == ["330110006224"]  # 朝阳村, given by name
    assert ("economy", "enterprises_served") in config.configured()
    assert ("service", "requests_handled") in config.configured()


def test_a_good_file_reads_windows_thresholds_and_defaults(tmp_path):
    config = load_tiles(write(tmp_path, HEAD + GOOD + (
        "  - id: t2\n    title: {zh: 空置率, en: Vacancy}\n    scenario: economy\n"
        "    module: economy\n    key: vacancy\n    unit: '%'\n    decimals: 1\n"
        "    window: 7d\n    village: 330110006224\n"
        "    thresholds: {direction: higher_is_worse, warn: 15, critical: 25}\n")))
    first, second = config.tiles
    assert first.window == timedelta(hours=24) and first.thresholds is None
    assert first.unit is None and first.decimals is None and first.village is None
    assert second.window == timedelta(days=7) and second.decimals == 1
    assert (second.unit.zh, second.unit.en) == ("%", "%")  # one text: both languages
    shipped = {t.id: t.unit for t in load_tiles().tiles}
    assert (shipped["economy_enterprises_served"].get("zh"),
            shipped["economy_enterprises_served"].get("en")) == ("家", "firms")
    assert shipped["economy_new_entities"].get("en") == ""  # a counter word: none in English
    assert second.village == "330110006224"
    assert second.thresholds.direction is Direction.HIGHER_IS_WORSE


@pytest.mark.parametrize(("entry", "expected"), [
    ("  - {id: t2, title: {zh: x, en: y}, scenario: economy, module: economy, key: k,"
     " window: 3y}\n", "tiles[1] (id t2): window: '3y' is not a duration"),
    ("  - {id: t2, title: {zh: x, en: y}, scenario: economy, module: economy, key: k,"
     " window: 200d}\n", "tiles[1] (id t2): window: 200 days, 0:00:00 is outside 1h .. 92d"),
    ("  - {id: t2, title: {zh: x}, scenario: economy, module: economy, key: k}\n",
     "tiles[1] (id t2): title.en: required field is missing"),
    ("  - {id: t2, title: {zh: x, en: y}, scenario: economy, module: economy, key: k,"
     " colour: red}\n", "tiles[1] (id t2): colour: unknown field"),
    ("  - {id: t2, title: {zh: x, en: y}, scenario: economy, module: economy, key: k,"
     " village: 火星村}\n",
     "tiles[1] (id t2): village: '火星村' is not a village code or name of the subdistrict"),
    ("  - {id: t2, title: {zh: x, en: y}, scenario: economy, module: economy, key: k,"
     " thresholds: {direction: higher_is_better, warn: 90, critical: 95}}\n",
     "tiles[1] (id t2): thresholds: critical 95 must be at or below warn 90 "
     "when higher is better"),
    ("  - {id: t2, title: {zh: x, en: y}, scenario: economy, module: economy, key: k,"
     " thresholds: {direction: sideways, warn: 1}}\n",
     "tiles[1] (id t2): thresholds.direction: Input should be 'higher_is_better' or "
     "'higher_is_worse'"),
    ("  - {id: t2, title: {zh: x, en: y}, scenario: economy, module: economy, key: k,"
     " thresholds: {direction: higher_is_worse}}\n",
     "tiles[1] (id t2): thresholds: give warn, critical or both"),
    ("  - {id: t2, title: {zh: x, en: y}, scenario: economy, module: 'a b', key: k}\n",
     "tiles[1] (id t2): module: 'a b' is not a module or key as events send it"),
    ("  - {id: t2, title: {zh: x, en: y}, scenario: economy, module: economy, key: k,"
     " decimals: 7}\n", "tiles[1] (id t2): decimals: Input should be less than or equal to 4"),
    ("  - {id: t1, title: {zh: x, en: y}, scenario: economy, module: economy, key: k}\n",
     "tiles[1] (id t1): id: 't1' is used by an earlier tile"),
    ("  - {id: t2, title: {zh: x, en: y}, scenario: tourism, module: economy, key: k}\n",
     "tiles[1] (id t2): scenario: 'tourism' is not declared under scenarios (economy)"),
    ("  - {id: T2, title: {zh: x, en: y}, scenario: economy, module: economy, key: k}\n",
     "tiles[1] (id T2): id: 'T2': use lower-case letters"),
])
def test_a_bad_entry_is_refused_naming_the_entry_the_field_and_why(tmp_path, entry, expected):
    message = refused(tmp_path, HEAD + GOOD + entry)
    assert message.startswith("tiles.yaml: "), message
    assert expected in message, message


def test_bad_yaml_and_a_missing_file_say_where(tmp_path):
    assert "not valid YAML at line 5" in refused(tmp_path, HEAD + "  - {id: t1, title: [\n")
    with pytest.raises(ConfigError, match="no such tiles file"):
        load_tiles(tmp_path / "none.yaml")


def test_threshold_states_both_directions_at_the_boundaries():
    better = Thresholds(direction="higher_is_better", warn=95, critical=90)
    assert [better.state(v) for v in (99, 95.01, 95, 92, 90, 10)] == \
        ["ok", "ok", "warn", "warn", "critical", "critical"]
    worse = Thresholds(direction="higher_is_worse", warn=15, critical=30)
    assert [worse.state(v) for v in (0, 14.9, 15, 29, 30, 99)] == \
        ["ok", "ok", "warn", "warn", "critical", "critical"]
    assert Thresholds(direction="higher_is_worse", critical=5).state(4) == "ok"
    assert Thresholds(direction="higher_is_worse", critical=5).state(5) == "critical"


def test_the_watch_reads_a_changed_file_and_keeps_the_last_good_one(tmp_path, caplog):
    path = write(tmp_path, HEAD + GOOD)
    watch = TilesWatch(path, every_s=0)
    assert [t.id for t in watch.current().tiles] == ["t1"]
    path.write_text(HEAD + GOOD + GOOD.replace("t1", "t2"), encoding="utf-8")
    os.utime(path, ns=(1, 2_000_000_000_000_000_000))
    assert [t.id for t in watch.current().tiles] == ["t1", "t2"] and watch.error is None
    path.write_text(HEAD + GOOD + GOOD, encoding="utf-8")  # a duplicate id: refused
    os.utime(path, ns=(1, 2_000_000_001_000_000_000))
    with caplog.at_level(logging.ERROR, logger="cockpit.tiles"):
        assert [t.id for t in watch.current().tiles] == ["t1", "t2"]
        assert [t.id for t in watch.current().tiles] == ["t1", "t2"]
    assert "tiles[1] (id t1): id: 't1' is used by an earlier tile" in watch.error
    assert len([r for r in caplog.records if "keeping the last good one" in r.message]) == 1


def test_the_watch_starts_empty_on_a_bad_file_and_looks_at_most_every_period(tmp_path):
    path = write(tmp_path, "tiles: 3\n")
    watch = TilesWatch(path, every_s=60)
    assert watch.current().tiles == [] and "tiles: Input should be a valid list" in watch.error
    path.write_text(HEAD + GOOD, encoding="utf-8")
    assert watch.current().tiles == []  # within the period: no stat
    assert [t.id for t in watch.current(now=1e12).tiles] == ["t1"]


def test_cli_check_prints_the_tiles_or_the_reason(tmp_path):
    good = subprocess.run([sys.executable, "-m", "cockpit.cli", "tiles", "check"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert good.returncode == 0, good.stderr
    assert "ok: 5 scenarios, 7 tiles" in good.stdout
    bad = write(tmp_path, HEAD + GOOD + GOOD)
    run = subprocess.run([sys.executable, "-m", "cockpit.cli", "tiles", "check", str(bad)],
                         capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert run.returncode == 1
    assert "invalid: tiles.yaml: tiles[1] (id t1): id: 't1' is used by an earlier tile" \
        in run.stderr


def test_the_demo_runs_the_metrics_simulator_as_a_part():
    from cockpit import demo

    argv = demo.part_commands(Path("feed.csv"), "sf_fire_calls", (10.0, 1.0))["metrics"]
    assert argv == [sys.executable, "-m", "cockpit.cli", "simulate-metrics"]


def test_simulate_metrics_refuses_a_bad_tiles_file_with_exit_2(tmp_path):
    bad = write(tmp_path, HEAD + GOOD + GOOD)
    run = subprocess.run([sys.executable, "-m", "cockpit.cli", "simulate-metrics", "--once"],
                         capture_output=True, text=True, cwd=ROOT, timeout=60,
                         env={**os.environ, "COCKPIT_TILES_FILE": str(bad)})
    assert run.returncode == 2  # the demo does not restart a part started wrongly
    assert "simulate-metrics: tiles.yaml: tiles[1] (id t1)" in run.stderr


def test_scenario_pages_mark_simulated_values_and_page_when_many():
    import json

    from layouts.wall_tiles import TILES_PER_PAGE, scenario_groups, scenario_panels

    rows = [{"id": f"t{i}", "scenario": "economy", "title": {"zh": f"指标{i}", "en": f"K{i}"},
             "window_s": 86400.0, "decimals": 1, "units": {"zh": "家", "en": "firms"},
             "value": 10.0 + i, "change": -1.25, "at": "2026-11-30T12:00:00+08:00",
             "state": "warn" if i == 0 else None, "simulated": i == 3, "series": []}
            for i in range(TILES_PER_PAGE + 1)]
    scenarios = [{"id": "economy", "title": {"zh": "数字+经济", "en": "Digital economy"}}]
    groups = scenario_groups(rows, scenarios, "zh")
    assert [g["name"] for g in groups] == ["scn-economy-1", "scn-economy-2"]
    assert [g["title"] for g in groups] == ["数字+经济（1/2）", "数字+经济（2/2）"]
    assert [len(g["tiles"]) for g in groups] == [TILES_PER_PAGE, 1]
    first = groups[0]["tiles"][0]
    assert (first["value"], first["unit"], first["change"], first["badge"]) == \
        ("10.0", "家", "较24小时前 −1.2", "预警")
    text = json.dumps([p.to_plotly_json() for p in scenario_panels(groups, "zh")],
                      default=lambda c: c.to_plotly_json(), ensure_ascii=False)
    assert text.count("模拟数据") == 2  # one of the scenario's values is simulated: each page
    english = scenario_groups(rows, scenarios, "en")[0]["tiles"][0]
    assert (english["title"], english["unit"], english["change"]) == \
        ("K0", "firms", "−1.2 on 24 h ago")


def test_field_and_cross_entry_errors_are_reported_together(tmp_path):
    """A file with a field error and an undeclared scenario names both in one message."""
    message = refused(tmp_path, HEAD + GOOD
                      + "  - {id: t2, title: {zh: x}, scenario: tourism, module: economy,"
                        " key: k}\n"
                      + "  - {id: t1, title: {zh: x, en: y}, scenario: economy,"
                        " module: economy, key: k}\n")
    assert "tiles[1] (id t2): title.en: required field is missing" in message, message
    assert "tiles[1] (id t2): scenario: 'tourism' is not declared under scenarios (economy)" \
        in message, message
    assert "tiles[2] (id t1): id: 't1' is used by an earlier tile" in message, message
    assert message.count("is not declared") == 1, message
