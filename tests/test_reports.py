"""The daily and weekly briefings from a replayed day: the summary API's numbers, Chinese that
is really drawn, a workbook of numbers, figures drawn by the system's Chromium (or said to be
missing), on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from openpyxl import load_workbook

from app import create_app
from cockpit import queries, report
from cockpit.report_fonts import CjkFont, find_cjk_font
from layouts import report_files
from layouts.i18n import format_count, format_duration, stage_label
from layouts.report_figures import FIGURES, find_browser
from layouts.report_pdf import pdf_bytes
from tests.access_support import signed_in_client
from tests.conftest import unavailable
from tests.report_pdf_support import drawn, image_count, page_text, tofu_font
from tests.report_support import DISPOSALS, require_cjk_font, store_day

NO_FIGURES = {key: "-" for key in FIGURES}


@pytest.fixture(autouse=True)
def _cjk_font():
    require_cjk_font()


def _content(services, kind: str = "daily"):
    day = store_day(services)
    period = report.period_of(kind, day, services.settings.tz)
    return report.build(report.as_of(services), services.settings, period), period, day


def test_a_day_of_the_replayed_feed_matches_the_summary_api_number_for_number(services):
    content, period, _ = _content(services)
    tz = services.settings.tz
    client = signed_in_client(create_app(services.settings, services=services), services,
                              "leader")
    response = client.get(f"/api/v1/summary?at={quote(content['at'])}")
    assert response.status_code == 200, response.get_data()[:300]
    api = response.get_json()
    assert content["kpi"] == api  # every number, the funnel and the categories included
    assert api["day_start"].startswith(period.first.isoformat())
    # the day is the past: some incidents were open at its end and are closed now
    with services.read() as session:
        live = queries.summary(session, tz, period.at)
    assert api["open"] > 0 and live["open"] < api["open"]
    # the briefing's own sections count the same incidents
    incidents = content["incidents"]
    assert incidents["total"] == api["today_total"] > 0
    assert incidents["by_category"] == api["today_by_category"]
    assert incidents["stage_times"]["report_dispatch"]["median_s"] == api["median_dispatch_s"]
    assert incidents["cancelled"] == api["cancelled_today"]
    good, bad = DISPOSALS  # the next day's disposal is not the day's
    assert content["waste"]["overall"] == {"correct": good, "total": good + bad,
                                           "rate": good / (good + bad), "meets": False}
    volunteers = content["volunteers"]
    assert (volunteers["attendances"], volunteers["people"]) == (3, 3)
    assert volunteers["mobilization_list"][0]["accepted"] == 2
    # the PDF prints them, line by line of its key figures
    pdf = pdf_bytes(content, "zh", {}, NO_FIGURES, tz.key)
    lines = set(page_text(pdf)[0].splitlines())
    expected = {f"当日接报 {format_count(api['today_total'])} 起",
                f"未结（截至当时） {format_count(api['open'])} 起",
                f"当日办结 {format_count(api['closed_today'])} 起",
                f"当日撤销 {format_count(api['cancelled_today'])} 起",
                f"派遣中位时长 {format_duration(api['median_dispatch_s'])}"}
    expected |= {f"闭环漏斗（当日接报） · {stage_label(f['stage'])} {format_count(f['count'])} 起"
                 for f in api["funnel"]}
    assert expected <= lines, expected - lines
    assert "分" in format_duration(api["median_dispatch_s"])  # the PDF's time says its unit
    # and the workbook carries them as numbers, each with its unit (the PDF's, in a column)
    files, _ = report_files.render_files(content, "zh", ["xlsx"], tz.key, use_browser=False)
    book = load_workbook(io.BytesIO(files["xlsx"]))
    sheet = list(book["关键指标"].iter_rows(min_row=4, values_only=True))
    assert sheet[0] == ("指标", "数值", "单位")
    values = {row[0]: row[1:] for row in sheet[1:]}
    assert values["当日接报"] == (api["today_total"], "起")
    assert values["未结（截至当时）"] == (api["open"], "起")
    assert values["当日办结"] == (api["closed_today"], "起")
    assert values["派遣中位时长"] == (api["median_dispatch_s"], "秒")
    assert values["最后事件时间"][1] == "当地时间"
    assert all(unit for _, unit in values.values()), values  # every figure has its unit


def test_the_pdf_shows_chinese_when_rendered_and_the_check_catches_tofu(sqlite_services,
                                                                       tmp_path):
    content, _, _ = _content(sqlite_services)
    pdf = pdf_bytes(content, "zh", {}, NO_FIGURES, "Asia/Shanghai")
    pages = page_text(pdf)
    assert len(pages) >= 2 and "乔司街道 · 日报" in pages[0] and "各环节时长" in "".join(pages)
    for page in range(len(pages)):
        seen = drawn(pdf, page, save=tmp_path / f"page-{page}.png")
        assert seen.readable, (page, seen)
    # the same briefing drawn without a CJK font is caught: each character the same box ...
    text = "".join(pages)
    boxes = CjkFont(tofu_font(tmp_path, text), 0, "tofu")
    tofu = pdf_bytes(content, "zh", {}, NO_FIGURES, "Asia/Shanghai", font=boxes)
    assert "乔司街道" in page_text(tofu)[0]  # the text layer alone would not tell
    seen = drawn(tofu, 0)
    assert seen.chars >= 10 and seen.distinct < 0.2 * seen.chars and not seen.readable
    # ... or nothing drawn at all (a font without the characters: fpdf2 leaves them out)
    plain = CjkFont(tofu_font(tmp_path, ""), 0, "latin")
    assert not drawn(pdf_bytes(content, "zh", {}, NO_FIGURES, "Asia/Shanghai",
                               font=plain), 0).readable


def test_the_english_briefing_and_the_font_found_here(sqlite_services):
    content, _, _ = _content(sqlite_services)
    font = find_cjk_font("各环节时长")
    assert font.path.is_file()
    pdf = pdf_bytes(content, "en", {}, NO_FIGURES, "Asia/Shanghai")
    first = page_text(pdf)[0]
    assert "Qiaosi daily briefing" in first and "Key figures" in first
    assert "日报" not in "".join(page_text(pdf))


def test_the_workbook_has_a_sheet_per_section_numbers_and_chinese_names(sqlite_services):
    content, period, day = _content(sqlite_services, "weekly")
    today = datetime.now(UTC).astimezone(sqlite_services.settings.tz).date()
    begun = (min(today, period.last) - period.first).days + 1  # the week may be running
    assert len(content["days"]) == begun and content["kind"] == "weekly"
    if not content["complete"]:  # a running week: its last day is the live strip
        assert content["days"][-1] == content["kpi"]
    replayed = next(d for d in content["days"] if d["today_total"])
    assert replayed["day_start"][:10] == day.isoformat()
    files, missing = report_files.render_files(content, "zh", ["xlsx"], "Asia/Shanghai",
                                               use_browser=False)
    book = load_workbook(io.BytesIO(files["xlsx"]))
    assert book.sheetnames == ["关键指标", "每日指标", "警情分类", "各村社警情", "环节时长",
                               "超时未结", "志愿者", "召集", "垃圾分类", "图表"]
    waste = list(book["垃圾分类"].iter_rows(min_row=5, values_only=True))
    overall = waste[-1]
    good, bad = DISPOSALS
    bad += period.first <= day + timedelta(days=1) <= period.last  # the next day's one
    assert overall[0] == "全街道" and overall[1] == pytest.approx(good / (good + bad))
    assert book["垃圾分类"].cell(row=5 + len(waste) - 1, column=2).number_format == "0.0%"
    heads = next(book["每日指标"].iter_rows(min_row=4, max_row=4, values_only=True))
    assert heads[-1] == "派遣中位时长（秒）"  # the day's median dispatch time, in seconds
    days = list(book["每日指标"].iter_rows(min_row=5, values_only=True))
    assert [d[1] for d in days] == [d["today_total"] for d in content["days"]]
    assert all(isinstance(d[1], int) for d in days)
    figures = book["图表"]
    assert set(missing) == set(FIGURES)
    assert "未生成" in "".join(str(c.value) for c in figures["A"] if c.value)


def test_the_figures_are_drawn_by_the_system_chromium(sqlite_services):
    if find_browser() is None:
        unavailable("Chrome/Chromium for the briefing's figures (Debian: chromium)")
    content, _, _ = _content(sqlite_services)
    files, missing = report_files.render_files(content, "zh", ["pdf", "xlsx"],
                                               "Asia/Shanghai")
    assert missing == {}
    assert image_count(files["pdf"]) == len(FIGURES)
    book = load_workbook(io.BytesIO(files["xlsx"]))
    assert len(book["图表"]._images) == len(FIGURES)


def test_a_briefing_without_a_browser_says_which_figure_is_missing(sqlite_services):
    content, _, _ = _content(sqlite_services)
    files, missing = report_files.render_files(content, "en", ["pdf"], "Asia/Shanghai",
                                               use_browser=False)
    assert set(missing) == set(FIGURES) and image_count(files["pdf"]) == 0
    text = "".join(page_text(files["pdf"]))
    assert text.count("missing: no Chrome/Chromium") == len(FIGURES)


def test_periods_and_their_errors():
    from zoneinfo import ZoneInfo

    tz = ZoneInfo("Asia/Shanghai")
    now = datetime(2026, 12, 3, 4, 0, tzinfo=UTC)  # Thursday 12:00 in Shanghai
    day = report.period_of("daily", now.date() - timedelta(days=1), tz, now)
    assert day.complete and day.start == datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
    week = report.period_of("weekly", now.date(), tz, now)
    assert (week.first.isoformat(), week.last.isoformat()) == ("2026-11-30", "2026-12-06")
    assert not week.complete and week.at == now
    with pytest.raises(report.ReportError, match="in the future"):
        report.period_of("daily", now.date() + timedelta(days=1), tz, now)
    with pytest.raises(report.ReportError, match="not a date"):
        report.parse_day("2026-13-01")
    with pytest.raises(report.ReportError, match="kind"):
        report.period_of("monthly", now.date(), tz, now)


def test_a_day_without_data_is_refused(sqlite_services):
    period = report.period_of("daily", datetime(2020, 1, 1).date(), sqlite_services.settings.tz)
    with pytest.raises(report.ReportError, match="no data for 2020-01-01"):
        report.build(report.as_of(sqlite_services), sqlite_services.settings, period)


def test_no_font_for_the_text_is_refused_with_what_to_install():
    from cockpit.report_fonts import FontMissing, draws

    font = find_cjk_font()
    assert draws(font.path, font.index, "乔司街道日报") == ""
    with pytest.raises(FontMissing, match="apt-get install fonts-noto-cjk"):
        find_cjk_font("乔司\U0010fffd")  # a character no font has
