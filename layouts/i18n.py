"""UI strings in zh-CN (the default) and English, and the formatting that depends on language.

Vocabulary labels (categories, stages, priorities) come from :mod:`cockpit.vocab`; this module
only holds the screen's own words. The language is chosen per page by ``?lang=en``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Literal
from urllib.parse import parse_qs

from cockpit import vocab
from layouts import (
    strings_access,
    strings_analysis,
    strings_governance_wall,
    strings_incidents,
    strings_landlord,
    strings_map,
    strings_reports,
    strings_tablet,
    strings_timemachine,
    strings_volunteers,
    strings_volunteers_wall,
    strings_wall_focus,
    strings_waste,
    strings_waste_followups,
    strings_waste_wall,
)

Lang = Literal["zh", "en"]
DEFAULT_LANG: Lang = "zh"
LANGS: tuple[Lang, ...] = ("zh", "en")

#: Every UI string: key -> (zh-CN, English). ``{n}``-style fields are filled by :func:`t`.
STRINGS: dict[str, tuple[str, str]] = {
    "title": ("乔网智治·云上中心驾驶舱", "Qiaosi Cloud Cockpit"),
    "subtitle": ("乔司街道 · 数字治理 · 警源治理", "Qiaosi Subdistrict · Incident governance"),
    "lang_switch": ("EN", "中文"),
    "kpi_panel": ("今日态势", "Today"),
    "kpi_today": ("今日警情", "Incidents today"),
    "kpi_open": ("当前未结", "Open now"),
    # a past page (the time machine) never says live or now: these replace the keys above
    "kpi_open_past": ("未结", "Open"),
    "kpi_closed": ("今日办结", "Closed today"),
    "kpi_dispatch": ("派遣中位时长", "Median dispatch time"),
    "kpi_cancelled": ("今日撤销", "Cancelled today"),
    "unit_items": ("起", ""),
    "by_category": ("今日警情分类", "Today by category"),
    "map_panel": ("实时警情分布", "Live incident map"),
    "map_panel_past": ("警情分布", "Incident map"),
    "map_caption": ("村社边界为示意", "Village boundaries are schematic"),
    "schematic": ("（示意）", " (schematic)"),
    "legend_open": ("处置中", "In progress"),
    "legend_done": ("已处置 / 办结", "Resolved / closed"),
    "legend_cancelled": ("已撤销", "Cancelled"),
    "legend_more": ("按村汇总 / +N 未上图", "Per village / +N not on the map"),
    "map_cluster_hover": ("警情较多，本村按村汇总显示", "Too many to draw: shown as one count"),
    "map_extra_hover": ("另有 {n} 起在办警情未上图（无坐标或在图外）",
                        "{n} more open not on the map (no position, or outside it)"),
    "map_more_counts": ("本村在办 {open} 起 · 近{hours}小时办结/撤销 {done} 起",
                        "Open here: {open} · closed/cancelled in {hours} h: {done}"),
    "map_more_click": ("点击查看本村在办警情", "Click for this village's open incidents"),
    "funnel_panel": ("闭环处置漏斗（今日）", "Closed loop (today)"),
    "latest_panel": ("最新警情", "Latest incidents"),
    "latest_empty": ("暂无警情", "No incidents"),
    "untitled": ("（无标题）", "(untitled)"),
    "replay": ("回放", "REPLAY"),
    "replay_moved": ("位置已平移", "positions moved"),
    "replay_note": ("回放真实历史警情（美国城市公开数据），时间按倍速压缩，位置平移至乔司示意区域",
                    "Replay of real recorded calls (US public data): times sped up, positions "
                    "moved onto Qiaosi"),
    "source_down": ("数据源连接中断", "Data source unreachable"),
    # the shell's banner while a source is down (assets/faults.js fills in {time}, HH:MM)
    "link_down": ("实时链路中断 · 显示的是 {time} 的已提交数据",
                  "Live link down — showing data committed at {time}"),
    "link_down_never": ("实时链路中断 · 显示的是数据库中的已提交数据",
                        "Live link down — showing the data committed in the database"),
    "db_down": ("数据库不可用 · 显示的是 {time} 的数据", "Database unavailable — showing data "
                "as of {time}"),
    "db_down_never": ("数据库不可用", "Database unavailable"),
    "server_error": ("服务器内部错误，请稍后重试", "Server error; please try again later"),
    "stale": ("数据可能已过期", "Data may be stale"),
    "push_stale": ("数据未实时更新", "NOT LIVE"),
    "push_last": ("最后更新 {time}", "last update {time}"),
    "push_never": ("尚未收到数据", "no data received yet"),
    "push_reconnecting": ("正在重新连接…", "reconnecting…"),
    "push_polling": ("轮询模式", "polling"),
    "no_data": ("等待数据", "Waiting for data"),
    "age_s": ("数据 {n} 秒前", "Data {n} s ago"),
    "age_m": ("数据 {n} 分钟前", "Data {n} min ago"),
    "age_h": ("数据 {n} 小时前", "Data {n} h ago"),
    "silent_s": ("服务器无响应 {n} 秒", "Server not responding {n} s"),
    "silent_m": ("服务器无响应 {n} 分钟", "Server not responding {n} min"),
    "silent_h": ("服务器无响应 {n} 小时", "Server not responding {n} h"),
    "not_found": ("页面不存在", "Page not found"),
    "back_to_wall": ("返回大屏", "Back to the wall"),
    "hover_time": ("上报", "Reported"),
    "dur_s": ("{s}秒", "{s} s"),
    "dur_ms": ("{m}分{s:02d}秒", "{m} min {s:02d} s"),
    "dur_hm": ("{h}小时{m:02d}分", "{h} h {m:02d} min"),
    # -- punctuation that differs by language (lists of names, of clauses; a label's colon) --
    "list_sep": ("、", ", "),
    "clause_sep": ("，", ", "),
    "semi_sep": ("；", "; "),
    "label_colon": ("：", ": "),
}

PLACEHOLDER = "—"


def _merge(*parts: dict[str, tuple[str, str]]) -> None:
    """Add the strings of each screen's module to the one catalogue; a key may not repeat."""
    for part in parts:
        clash = sorted(set(part) & set(STRINGS))
        if clash:
            raise KeyError(f"UI string key(s) defined twice: {', '.join(clash)}")
        STRINGS.update(part)


_merge(strings_incidents.STRINGS, strings_analysis.STRINGS, strings_governance_wall.STRINGS,
       strings_access.STRINGS)
_merge(strings_volunteers_wall.STRINGS)
_merge(strings_volunteers.STRINGS)
_merge(strings_waste_wall.STRINGS)
_merge(strings_waste.STRINGS)
_merge(strings_waste_followups.STRINGS)
_merge(strings_landlord.STRINGS)
_merge(strings_map.STRINGS)
_merge(strings_tablet.STRINGS)
_merge(strings_wall_focus.STRINGS)
_merge(strings_reports.STRINGS)
_merge(strings_timemachine.STRINGS)


def normalize_lang(value: object) -> Lang:
    """Return ``"en"`` for any English tag (``en``, ``en-US``), else the default ``"zh"``."""
    text = str(value or "").strip().lower()
    return "en" if text == "en" or text.startswith("en-") else DEFAULT_LANG


def lang_from_search(search: str | None) -> Lang:
    """Return the language asked for by a URL query string such as ``?lang=en``."""
    values = parse_qs((search or "").lstrip("?")).get("lang", [])
    return normalize_lang(values[-1] if values else None)


def t(key: str, lang: Lang = DEFAULT_LANG, **fields: object) -> str:
    """Return the UI string ``key`` in ``lang``, with ``fields`` substituted.

    Raises
    ------
    KeyError
        If ``key`` is not one of :data:`STRINGS` (a typo must fail in tests, not on the wall).
    """
    zh, en = STRINGS[key]
    text = en if lang == "en" else zh
    return text.format(**fields) if fields else text


def join(items: Iterable[str], lang: Lang = DEFAULT_LANG, sep: str = "list_sep") -> str:
    """Join ``items`` with the separator ``sep`` (a key) of ``lang``: ``朝阳村、三角村``."""
    return t(sep, lang).join(items)


#: Strings the push client's stale watermark needs (``assets/push.js``; the wall, the tablet).
PUSH_TEXTS = ("push_stale", "push_last", "push_never", "push_reconnecting", "push_polling")


def strings(lang: Lang, keys: tuple[str, ...]) -> dict[str, str]:
    """Return ``{key: text}`` for ``keys`` in ``lang`` (handed to clientside code)."""
    return {key: t(key, lang) for key in keys}


def category_label(code: str | None, lang: Lang = DEFAULT_LANG) -> str:
    """Return the label of an incident category code; ``—`` when missing."""
    return vocab.label(vocab.CATEGORY_TERMS, code, lang) if code else PLACEHOLDER


def stage_label(code: str | None, lang: Lang = DEFAULT_LANG) -> str:
    """Return the label of a loop stage code; ``—`` when missing."""
    return vocab.label(vocab.STAGE_TERMS, code, lang) if code else PLACEHOLDER


def phase_label(phase: tuple[str, str, tuple], lang: Lang = DEFAULT_LANG) -> str:
    """Return the label of one :data:`cockpit.vocab.LOOP_PHASES` entry."""
    return phase[1] if lang == "en" else phase[0]


def format_duration(seconds: float | None, lang: Lang = DEFAULT_LANG) -> str:
    """Format a duration for a KPI tile: ``45秒``, ``2分15秒``, ``1小时05分``; ``—`` for None.

    Parameters
    ----------
    seconds : float or None
        Non-negative duration in seconds; rounded to whole seconds. None, NaN and negative
        values give the placeholder ``—``.
    lang : {"zh", "en"}
        Language of the units.
    """
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return PLACEHOLDER
    total = int(round(seconds))
    if total < 60:
        return t("dur_s", lang, s=total)
    if total < 3600:
        return t("dur_ms", lang, m=total // 60, s=total % 60)
    return t("dur_hm", lang, h=total // 3600, m=(total % 3600) // 60)


def format_count(value: int | None) -> str:
    """Format a count with thousands separators; ``—`` for None."""
    return PLACEHOLDER if value is None else f"{int(value):,}"
