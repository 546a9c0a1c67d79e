"""UI strings of the governance wall screens: key -> (zh-CN, English); merged into layouts.i18n."""

from __future__ import annotations

STRINGS: dict[str, tuple[str, str]] = {
    # -- overdue board ----------------------------------------------------------------------
    "gw_overdue_panel": ("超时督办", "Overdue"),
    "gw_overdue_total": ("共 {n} 起", "{n} in all"),
    "gw_overdue_empty": ("暂无超时警情", "Nothing overdue"),
    "gw_overdue_more": ("另有 {n} 起 → 查看全部", "{n} more → see all"),
    "gw_late_s": ("超时 {n}秒", "{n} s late"),
    "gw_late_m": ("超时 {n}分", "{n} min late"),
    "gw_late_h": ("超时 {h}时{m:02d}分", "{h} h {m:02d} min late"),
    "gw_late_d": ("超时 {d}天{h}时", "{d} d {h} h late"),
    "gw_level": ("督办：{level}", "Raised: {level}"),
    # -- live ticker ------------------------------------------------------------------------
    "gw_ticker_label": ("实时动态", "Live"),
    "gw_ticker_past": ("回看动态", "Events then"),
    "gw_ticker_empty": ("暂无动态", "No activity yet"),
    "gw_ticker_escalated": ("督办", "Raised"),
    # -- announcements ----------------------------------------------------------------------
    "gw_announce_head": ("新警情播报", "New incident"),
    "gw_announce_alert": ("告警播报", "Alert"),
    "gw_announce_more": ("另有 {n} 条待确认", "{n} more waiting"),
    "gw_ack": ("确认", "Acknowledge"),
    "gw_ack_all": ("确认全部", "Acknowledge all"),
    "gw_ack_failed": ("确认未送达，请重试", "Not recorded, please try again"),
    "gw_sound_on": ("声音：开", "Sound on"),
    "gw_sound_muted": ("本屏已静音", "Muted"),
    "gw_sound_enable": ("点击启用声音", "Click to enable sound"),
    "gw_sound_hint": ("本屏播报声音开关（仅本屏）", "Sound of this screen only"),
}
