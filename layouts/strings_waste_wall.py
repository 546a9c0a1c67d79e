"""UI strings of the wall's waste panel and map: key -> (zh-CN, English); merged into i18n."""

from __future__ import annotations

STRINGS: dict[str, tuple[str, str]] = {
    # -- the panel --------------------------------------------------------------------------
    "ww_panel": ("垃圾分类", "Waste sorting"),
    "ww_period": ("近7日", "7 days"),
    "ww_overall": ("街道分类准确率", "Accuracy"),
    "ww_target": ("目标 {p}", "Target {p}"),
    "ww_met": ("达标", "Met"),
    "ww_below": ("未达标", "Below"),
    "ww_disposals": ("投放 {n} 次", "{n} disposals"),
    "ww_no_data": ("无数据", "No data"),
    "ww_days": ("{first} 至 {last}", "{first} to {last}"),
    "ww_trend": ("近7日逐日准确率", "Daily accuracy, last 7 days"),
    "ww_day_hover": ("{day}：{rate}（{n} 次）", "{day}: {rate} ({n})"),
    "ww_simulated": ("模拟数据", "Simulated"),
    "ww_simulated_note": ("演示用模拟分类数据，非真实住户", "Demo data from the waste simulator, "
                          "not real households"),
    # -- the ranked bars --------------------------------------------------------------------
    "ww_bar_text": ("{rate} · {n}", "{rate} · {n}"),
    "ww_bar_hover": ("<b>{name}</b><br>分类准确率 {rate}（近7日）<br>正确 {correct} / 投放 {total}",
                     "<b>{name}</b><br>Sorting accuracy {rate} (7 days)<br>"
                     "{correct} correct of {total}"),
    "ww_bar_hover_none": ("<b>{name}</b><br>近7日无投放记录",
                          "<b>{name}</b><br>No disposal in 7 days"),
    # -- the map's choropleth ---------------------------------------------------------------
    "ww_key_title": ("分类准确率（近7日）", "Sorting accuracy (7 days)"),
    "ww_key_floor": ("≤{p}", "≤{p}"),
}
