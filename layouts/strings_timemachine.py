"""UI strings of the time machine (回看): its band, controls and opener: key -> (zh-CN, English)."""

from __future__ import annotations

STRINGS: dict[str, tuple[str, str]] = {
    # the band across a page that is not live; {t} is the moment, YYYY-MM-DD HH:MM:SS
    "tm_band": ("回看 · 非实时 · {t}", "Time machine · not live · {t}"),
    "tm_band_speed": ("{n} 倍速回放", "replay ×{n}"),
    "tm_band_paused": ("已暂停", "paused"),
    "tm_band_ended": ("回放结束", "replay ended"),
    "tm_band_loading": ("正在按历史事件重建…", "rebuilding from the stored events…"),
    "tm_band_failed": ("历史数据读取失败，稍后重试", "could not read the past; retrying"),
    "tm_band_bad": ("回看时间无效，请重新选择", "Time machine: that moment cannot be shown; "
                    "choose another"),
    "tm_band_bad_speed": ("回放倍速无效（0.1 至 3600 倍），请重新选择",
                          "Time machine: that replay speed cannot be used (0.1 to 3,600); "
                          "choose another"),
    "tm_back": ("返回实时", "Back to live"),
    # a request for the past answered 503 (callbacks/timemachine_busy.py)
    "tm_busy": ("回看数据正在重建，请 {n} 秒后再试",
                "The past is being rebuilt; try again in {n} s"),
    "tm_too_large": ("回看数据过大，无法在内存中重建",
                     "That moment is too large to rebuild in memory"),
    # the wall's header clock on a past page: the moment shown, never the live time
    "tm_clock": ("回看时刻", "Moment shown"),
    "tm_clock_wait": ("回看", "Past"),
    "tm_pause": ("暂停", "Pause"),
    "tm_resume": ("继续", "Resume"),
    "tm_speed": ("倍速", "Speed"),
    # the opener (a date-time picker and a speed)
    "tm_open": ("回看", "Time machine"),
    "tm_moment": ("时刻", "Moment"),
    "tm_still": ("定格", "Still"),
    "tm_go": ("查看", "Show"),
    "tm_speed_n": ("{n} 倍", "×{n}"),
}
