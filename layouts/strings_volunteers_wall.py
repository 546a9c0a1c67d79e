"""UI strings of the wall's volunteer panels: key -> (zh-CN, English); merged into layouts.i18n."""

from __future__ import annotations

STRINGS: dict[str, tuple[str, str]] = {
    # -- forces (deployment by village) -----------------------------------------------------
    "vw_panel": ("志愿者力量", "Volunteer forces"),
    "vw_on_duty": ("在岗", "On duty"),
    "vw_mobilised": ("已动员", "Mobilised"),
    "vw_available": ("可调用", "Available"),
    "vw_registered": ("注册", "Registered"),
    "vw_no_village": ("未落村", "No village"),
    "vw_simulated": ("模拟数据", "Simulated data"),
    "vw_simulated_note": ("演示用模拟志愿者数据，非真实人员",
                          "Demo data from the volunteer simulator, not real people"),
    "vw_row_hint": ("在岗 · 已动员 · 可调用", "On duty · mobilised · available"),
    # -- mobilisation funnels ---------------------------------------------------------------
    "vw_mob_panel": ("应急动员", "Mobilisations"),
    "vw_mob_empty": ("暂无进行中的动员", "No open mobilisation"),
    "vw_mob_more": ("另有 {n} 项", "+{n} more"),
    "vw_asked": ("已通知", "Asked"),
    "vw_accepted": ("接受", "Accepted"),
    "vw_arrived": ("到岗", "Arrived"),
    "vw_needed": ("需 {n} 人", "{n} needed"),
    "vw_needed_mark": ("需求 {n} 人", "Needed: {n}"),
    "vw_schedule_mark": ("按进度应接受 {n} 人", "Expected on schedule: {n}"),
    "vw_left_h": ("剩余 {h}时{m:02d}分", "{h} h {m:02d} min left"),
    "vw_left_m": ("剩余 {m}分", "{m} min left"),
    "vw_overtime": ("已超时", "Overdue"),
    "vw_filled": ("已到齐", "Filled"),
    "vw_short": ("缺 {n} 人", "{n} short"),
    "vw_recall": ("需再动员", "Re-call"),
    "vw_deadline": ("截止 {time}", "Deadline {time}"),
    "vw_untitled": ("动员", "Mobilisation"),
    # -- map --------------------------------------------------------------------------------
    "vw_legend": ("志愿者 在岗+动员", "Volunteers out"),
    "vw_map_hover": ("志愿者：在岗 {on_duty} · 已动员 {mobilised} · 可调用 {available}",
                     "Volunteers: on duty {on_duty} · mobilised {mobilised} · "
                     "available {available}"),
}
