"""UI strings of the landlord's page (``/landlord``): key -> (zh-CN, English); merged into i18n."""

from __future__ import annotations

STRINGS: dict[str, tuple[str, str]] = {
    "ll_title": ("我的租户 · 垃圾分类", "My tenants · Waste sorting"),
    "ll_privacy": ("仅显示您名下房屋的住户；住户姓名、电话不显示",
                   "Only the households of your own houses; tenants' names and phones are not "
                   "shown"),
    "ll_unknown": ("垃圾分类登记中暂无您名下房屋的住户", "The waste register has no household "
                   "of your houses yet"),
    # -- summary ------------------------------------------------------------------------------
    "ll_overall": ("名下住户分类准确率", "Accuracy of your households"),
    "ll_target": ("目标 {p}", "Target {p}"),
    "ll_met": ("已达标", "Target met"),
    "ll_below": ("未达标", "Below target"),
    "ll_no_rated": ("暂无投放记录", "No rated disposals yet"),
    "ll_counts": ("{correct}/{total} 次", "{correct} of {total}"),
    "ll_rate_counts": ("{rate}（{counts}）", "{rate} ({counts})"),
    "ll_houses_n": ("房屋 {n} 处", "{n} houses"),
    "ll_households_n": ("住户 {n} 户（在住 {active} 户）", "{n} households ({active} living "
                        "there now)"),
    "ll_sorted_kg": ("投放重量 {kg} 千克", "{kg} kg disposed"),
    # -- trend --------------------------------------------------------------------------------
    "ll_trend": ("近 {n} 天每日准确率", "Daily accuracy, last {n} days"),
    "ll_trend_empty": ("近 {n} 天暂无投放记录", "No disposals in the last {n} days"),
    "ll_trend_rate": ("准确率", "Accuracy"),
    "ll_trend_target": ("目标", "Target"),
    # -- houses -------------------------------------------------------------------------------
    "ll_houses": ("名下房屋与住户", "Your houses and their households"),
    "ll_house": ("房屋 {id}", "House {id}"),
    "ll_house_none": ("未登记房屋", "House not given"),
    "ll_col_household": ("住户编号", "Household"),
    "ll_col_kind": ("类型", "Kind"),
    "ll_col_group": ("村社 · 组", "Village · group"),
    "ll_col_in": ("入住", "Moved in"),
    "ll_col_out": ("迁出", "Moved out"),
    "ll_col_status": ("状态", "Status"),
    "ll_col_rate": ("准确率（正确/投放次数）", "Accuracy (correct / rated)"),
    "ll_col_kg": ("重量（千克）", "Weight (kg)"),
    "ll_kind_tenant": ("租户", "tenant"),
    "ll_kind_local": ("本地户", "local"),
    "ll_status_active": ("在住", "living there"),
    "ll_status_moved_out": ("已搬离", "moved out"),
    "ll_period_note": ("每户准确率只计其入住期间本户的投放", "Each household's accuracy counts "
                       "its own disposals, over its own tenancy"),
}
