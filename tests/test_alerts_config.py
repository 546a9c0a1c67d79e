"""The alert-rules file: what it accepts, what it refuses (rule, key, reason), its windows and
comparisons, and ``cockpit alerts check``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from cockpit.alert_measures import alert_text, figure_against
from cockpit.alerts_config import COMPARE, AlertRulesError, load_alert_rules, window_start
from cockpit.cli import app

SHANGHAI = ZoneInfo("Asia/Shanghai")
GOOD = """
rules:
  - id: r1
    title: {zh: 火情, en: Fires}
    measure: {type: incident_count, category: [火情], window: 1h}
    compare: above
    threshold: 3
"""


def _write(tmp_path, text: str):
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_file_loads_with_defaults_and_chinese_labels(tmp_path):
    rules = load_alert_rules(_write(tmp_path, GOOD))
    (rule,) = rules.rules
    assert rule.measure.category[0].value == "fire" and rule.compare == ">"
    assert rule.measure.per == "village" and rule.severity.value == "urgent"
    assert rules.evaluation.every == timedelta(seconds=30)
    assert rule.crossed(4) and not rule.crossed(3) and rule.holds(4) and not rule.holds(None)


@pytest.mark.parametrize(("change", "message"), [
    ("window: 1h", "rules.0 (r1).measure.window: 'soon' is not a duration"),
    ("compare: above", "rules.0 (r1).compare: Input should be"),
    ("threshold: 3", "rules.0 (r1).threshold: required key is missing"),
    ("type: incident_count", "rules.0 (r1).measure: Input tag 'kpi' found"),
    ("id: r1", "rules.0 (R 1).id: String should match pattern"),
    ("title: {zh: 火情, en: Fires}", "rules.0 (r1).title.en: required key is missing"),
])
def test_a_bad_rule_is_refused_with_its_id_key_and_reason(tmp_path, change, message):
    replaced = {"window: 1h": "window: soon", "compare: above": "compare: '~'",
                "threshold: 3": "", "type: incident_count": "type: kpi", "id: r1": "id: R 1",
                "title: {zh: 火情, en: Fires}": "title: {zh: 火情}"}[change]
    with pytest.raises(AlertRulesError) as info:
        load_alert_rules(_write(tmp_path, GOOD.replace(change, replaced)))
    assert message in str(info.value)
    assert str(info.value).startswith("rules.yaml: ")


def test_rules_that_contradict_themselves_are_refused_naming_rule_and_key(tmp_path):
    head = GOOD + "  - id: r2\n    title: {zh: 火情, en: Fires}\n"  # the second rule, rules.1
    cases = {
        "    measure: {type: incident_count, window: 1h}\n    compare: '>'\n"
        "    threshold: 3\n    clear_at: 5\n":
            "rules.1 (r2).clear_at: 5 must be at or below the threshold 3",
        "    measure: {type: waste_accuracy}\n    compare: '<'\n    threshold: 120\n":
            "rules.1 (r2).threshold: accuracy is a percentage, 0 to 100",
        "    measure: {type: incident_count, per: subdistrict, window: today}\n"
        "    compare: '>'\n    threshold: 3\n    villages: [330110006222]\n":
            "rules.1 (r2).villages: only for a measure per village",
    }
    for body, message in cases.items():
        with pytest.raises(AlertRulesError) as info:
            load_alert_rules(_write(tmp_path, head + body))
        assert str(info.value) == f"rules.yaml: {message}"
    twice = GOOD + GOOD.split("rules:\n", 1)[1]
    with pytest.raises(AlertRulesError, match="duplicate id"):
        load_alert_rules(_write(tmp_path, twice))
    with pytest.raises(AlertRulesError, match="no such alert rules file"):
        load_alert_rules(tmp_path / "none.yaml")
    with pytest.raises(AlertRulesError, match="not valid YAML at line 3"):
        load_alert_rules(_write(tmp_path, "rules:\n  - {id: [\n"))


def test_calendar_windows_start_at_local_midnight():
    now = datetime(2026, 12, 3, 17, 30, tzinfo=UTC)  # Friday 01:30 in Shanghai
    assert window_start("today", now, SHANGHAI) == datetime(2026, 12, 4, tzinfo=SHANGHAI)
    assert window_start("this_week", now, SHANGHAI) == datetime(2026, 11, 30, tzinfo=SHANGHAI)
    assert window_start("this_month", now, SHANGHAI) == datetime(2026, 12, 1, tzinfo=SHANGHAI)
    assert window_start(timedelta(hours=1), now, SHANGHAI) == now - timedelta(hours=1)


def test_alert_texts_read_as_spoken():
    assert alert_text("330110006222", "火情 1 小时内", "Fires within 1 h", ">", 3, 4, "起",
                      "incidents", "zh") == "告警：三角村 火情 1 小时内 4 起，超过 3 起"
    assert alert_text("subdistrict", "准确率", "Accuracy", "<", 90, 87.25, "%", "%", "en") == \
        "Alert: Qiaosi subdistrict, Accuracy: 87.2%, below 90%"


@pytest.mark.parametrize("compare, threshold, value, zh, en", [
    ("<", 90, 89.96, "89.96%，低于 90%", "89.96%, below 90%"),
    ("<", 90, 89.9996, "89.9996%，低于 90%", "89.9996%, below 90%"),
    (">", 3, 3.04, "3.04 起，超过 3 起", "3.04 incidents, above 3 incidents"),
    ("<=", 89.95, 89.95, "89.95%，不高于 89.95%", "89.95%, at or below 89.95%"),
    (">=", 8, 7.999, None, None),  # not crossed: shown on its own side all the same
])
def test_alert_figure_never_reads_on_the_wrong_side_of_the_threshold(compare, threshold, value,
                                                                     zh, en):
    unit_zh, unit_en = ("起", "incidents") if compare in (">", ">=") else ("%", "%")
    text_zh = alert_text("subdistrict", "准确率", "Accuracy", compare, threshold, value, unit_zh,
                         unit_en, "zh")
    text_en = alert_text("subdistrict", "准确率", "Accuracy", compare, threshold, value, unit_zh,
                         unit_en, "en")
    if zh is not None:
        assert text_zh.endswith(zh) and text_en.endswith(en)
    shown = figure_against(value, compare, threshold)
    assert COMPARE[compare](float(shown), threshold) == COMPARE[compare](value, threshold)
    assert "90.0%" not in text_zh + text_en


def test_cli_checks_the_shipped_file_and_refuses_a_bad_one(tmp_path, monkeypatch):
    monkeypatch.delenv("COCKPIT_ALERTS_FILE", raising=False)
    ok = CliRunner().invoke(app, ["alerts", "check"])
    assert ok.exit_code == 0, ok.output
    assert "fire-burst\tcritical\tincident_count per village over 1h\tabove 3" in ok.output
    assert "waste-accuracy-week" in ok.output and "ok: " in ok.output
    bad = _write(tmp_path, GOOD.replace("window: 1h", "window: soon"))
    refused = CliRunner().invoke(app, ["alerts", "check", str(bad)])
    assert refused.exit_code == 1 and "rules.0 (r1).measure.window" in refused.output
