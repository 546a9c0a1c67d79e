"""UI strings of the wall's focus region, KPI tiles and takeover: key -> (zh-CN, English)."""

from __future__ import annotations

STRINGS: dict[str, tuple[str, str]] = {
    # -- the focus region and its dots ------------------------------------------------------
    "wf_incidents": ("警情闭环", "Incidents"),
    "wf_volunteers": ("红乔先锋", "Volunteers"),
    "wf_waste": ("垃圾分类", "Waste"),
    "wf_metrics": ("其他模块", "Other modules"),
    "wf_nav": ("轮播", "Rotation"),
    # -- KPI tiles --------------------------------------------------------------------------
    "wf_metrics_panel": ("各模块指标", "Module KPIs"),
    "wf_metrics_empty": ("暂无指标数据", "No KPI received yet"),
    "wf_metrics_more": ("另有 {n} 项指标", "{n} more KPIs"),
    "wf_change": ("较24小时前 {d}", "{d} on 24 h ago"),
    "wf_change_none": ("24小时前无数据", "None 24 h ago"),
    "wf_at": ("更新于 {t}", "As of {t}"),
    "wf_waste_panel": ("垃圾分类 · 今日", "Waste sorting · today"),
    "wf_waste_today": ("今日分类准确率", "Accuracy today"),
    "wf_waste_week": ("近7日分类准确率", "Accuracy, 7 days"),
    "wf_waste_count": ("今日投放", "Disposals today"),
    "wf_waste_below": ("未达标村社（近7日）", "Villages below target (7 days)"),
    "wf_waste_vs_day": ("较昨日 {d}", "{d} on yesterday"),
    "wf_waste_target": ("目标 {p}", "Target {p}"),
    "wf_unit_times": ("次", "disposals"),
    "wf_unit_villages": ("个", "villages"),
    # modules and their keys: issue 10 brings a config file of titles; until then, these
    "wf_module_economy": ("数字+经济", "Digital economy"),
    "wf_module_service": ("数字+服务", "Digital services"),
    "wf_module_governance": ("数字治理", "Governance"),
    "wf_module_party": ("数字党建", "Party building"),
    "wf_module_city": ("数字城管", "City management"),
    "wf_key_economy_enterprises_served": ("服务企业", "Enterprises served"),
    "wf_key_service_requests_handled": ("办件量", "Requests handled"),
    "wf_key_service_satisfaction": ("满意度", "Satisfaction"),
    # -- the takeover of a critical incident ------------------------------------------------
    "wf_takeover_head": ("{p}警情 · 待确认", "{p} incident · awaiting acknowledgement"),
    "wf_takeover_alert": ("{p}告警 · 待确认", "{p} alert · awaiting acknowledgement"),
    "wf_takeover_at": ("上报 {t}", "Reported {t}"),
    "wf_takeover_raised": ("告警 {t}", "Raised {t}"),
    "wf_takeover_waited": ("已等待确认 {d}", "Unacknowledged for {d}"),
    "wf_takeover_more": ("另有 {n} 起特急", "{n} more critical"),
    "wf_wait_s": ("{s}秒", "{s} s"),
    "wf_wait_m": ("{m}分{s}秒", "{m} min {s} s"),
    "wf_wait_h": ("{h}小时{m}分", "{h} h {m} min"),
}
