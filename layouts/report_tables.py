"""The briefing's content as tables of typed cells: what the PDF and the workbook both draw.

One :class:`Table` per section, its cells the content's own numbers (counts as ints, times
as seconds, rates as 0-1); each medium formats them by the column's kind (the PDF as text,
``12分30秒`` and ``96.3%``; the workbook as numbers with a number format).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cockpit.report import INTERVALS
from layouts.i18n import (
    PLACEHOLDER,
    Lang,
    category_label,
    format_count,
    format_duration,
    stage_label,
    t,
)
from layouts.report_figures import village_names

#: Column kinds: text, a count, a count of incidents (the PDF says 起), a number, seconds, a
#: rate in [0, 1], a yes/no, per row.
KINDS = ("text", "int", "incidents", "float", "seconds", "rate", "bool", "mixed")
#: The media a table is drawn on.
MEDIA = ("pdf", "sheet")
#: The unit (catalogue key) of a key figure of each kind, the workbook's unit column.
UNITS = {"incidents": "rep_unit_incidents", "seconds": "rep_unit_seconds",
         "text": "rep_unit_local_time"}


@dataclass(frozen=True)
class Column:
    """A column: its heading (catalogue key; ``sheet_key`` on the workbook), kind and media.

    ``only``: drawn on that medium alone (``"sheet"``: a unit column the workbook needs for its
    bare numbers, where the PDF prints each value with its unit).
    """

    key: str
    kind: str = "text"
    sheet_key: str | None = None
    only: str | None = None


@dataclass(frozen=True)
class Table:
    """One section: ``sheet`` (catalogue key of its sheet name), title, columns, rows, note."""

    sheet: str
    title: str
    columns: tuple[Column, ...]
    rows: list[list[Any]]
    note: str = ""
    widths: tuple[int, ...] = field(default=())


def title_of(content: Mapping[str, Any], lang: Lang) -> str:
    """The briefing's title: 乔司街道 · 日报 · 2026-12-01 (or the week's)."""
    if content["kind"] == "daily":
        return t("rep_daily_title", lang, day=content["first"])
    return t("rep_weekly_title", lang, first=content["first"], last=content["last"])


def as_of_text(content: Mapping[str, Any], lang: Lang, tz_name: str) -> str:
    """``数据截至 2026-12-01 23:59:59（Asia/Shanghai）``."""
    at = datetime.fromisoformat(content["as_of"]).strftime("%Y-%m-%d %H:%M:%S")
    return t("rep_as_of", lang, at=at, tz=tz_name)


def cell_text(value: Any, kind: str, lang: Lang) -> str:
    """A cell as the PDF prints it."""
    if value is None:
        return PLACEHOLDER
    if kind == "int":
        return format_count(value)
    if kind == "incidents":
        return t("rep_n_incidents", lang, n=format_count(value))
    if kind == "float":
        return f"{value:,.1f}"
    if kind == "seconds":
        return format_duration(value, lang)
    if kind == "rate":
        return f"{100 * value:.1f}%"
    if kind == "bool":
        return t("rep_yes" if value else "rep_no", lang)
    return str(value)


def _village(code: str | None, names: Mapping[str, str], lang: Lang) -> str:
    if not code or code == "unknown":
        return t("rep_no_village", lang)
    return names.get(code, code)


def _kpi(content: Mapping[str, Any], lang: Lang) -> Table:
    """The key figures: item, value and (on the workbook) its unit; each row carries its kind."""
    kpi = content["kpi"]
    last = kpi["last_event_at"]
    rows = [[t("rep_kpi_total", lang), kpi["today_total"]],
            [t("rep_kpi_open", lang), kpi["open"]],
            [t("rep_kpi_closed", lang), kpi["closed_today"]],
            [t("rep_kpi_cancelled", lang), kpi["cancelled_today"]],
            [t("rep_kpi_dispatch", lang), kpi["median_dispatch_s"]],
            [t("rep_kpi_last", lang), last[:19].replace("T", " ") if last else None]]
    rows += [[f"{t('rep_funnel', lang)} · {stage_label(f['stage'], lang)}", f["count"]]
             for f in kpi["funnel"]]
    kinds = ["incidents"] * 4 + ["seconds", "text"] + ["incidents"] * len(kpi["funnel"])
    # one column of mixed kinds: each row carries its own kind as a last, hidden cell
    return Table("rep_sheet_kpi", t("rep_kpi_of", lang, day=kpi["day_start"][:10]),
                 (Column("rep_col_item"), Column("rep_col_value", "mixed"),
                  Column("rep_col_unit", only="sheet")),
                 [[*r, t(UNITS[k], lang), k] for r, k in zip(rows, kinds, strict=True)],
                 widths=(110, 70))


def _days(content: Mapping[str, Any], lang: Lang) -> Table:
    rows = [[d["day_start"][:10], d["today_total"], d["open"], d["closed_today"],
             d["cancelled_today"], d["median_dispatch_s"]] for d in content.get("days", [])]
    return Table("rep_sheet_days", t("rep_days", lang),
                 (Column("rep_col_day"), Column("rep_kpi_total", "int"),
                  Column("rep_kpi_open", "int"), Column("rep_kpi_closed", "int"),
                  Column("rep_kpi_cancelled", "int"),
                  Column("rep_kpi_dispatch", "seconds", "rep_kpi_dispatch_s")), rows)


def _categories(content: Mapping[str, Any], lang: Lang) -> Table:
    rows = [[category_label(r["category"], lang), r["count"]]
            for r in content["incidents"]["by_category"]]
    rows.append([t("rep_col_total", lang), content["incidents"]["total"]])
    return Table("rep_sheet_categories", t("rep_by_category", lang),
                 (Column("rep_col_category"), Column("rep_col_count", "int")), rows)


def _villages(content: Mapping[str, Any], lang: Lang, names: Mapping[str, str]) -> Table:
    cats = [r["category"] for r in content["incidents"]["by_category"]]
    rows = [[_village(v["village_code"], names, lang), *(v["counts"].get(c, 0) for c in cats),
             v["total"]] for v in content["incidents"]["by_village"]]
    heads = [Column("rep_col_village")]
    heads += [Column(f"cat:{c}", "int") for c in cats]
    widths = (36, *(20,) * len(cats), 14)  # mm on A4 (190 wide): the names need room
    return Table("rep_sheet_villages", t("rep_by_village", lang),
                 (*heads, Column("rep_col_total", "int")), rows, widths=widths)


def _stages(content: Mapping[str, Any], lang: Lang) -> Table:
    times = content["incidents"]["stage_times"]
    rows = [[t(f"rep_iv_{key}", lang), times[key]["n"], times[key]["median_s"],
             times[key]["p90_s"]] for key, _, _ in INTERVALS]
    return Table("rep_sheet_stages", t("rep_stage_times", lang),
                 (Column("rep_col_interval"), Column("rep_col_n", "int"),
                  Column("rep_col_median", "seconds", "rep_col_median_s"),
                  Column("rep_col_p90", "seconds", "rep_col_p90_s")), rows)


def _overdue(content: Mapping[str, Any], lang: Lang, names: Mapping[str, str]) -> Table:
    over = content["overdue"]
    rows = [[i["incident_id"], category_label(i["category"], lang),
             _village(i["village_code"], names, lang), stage_label(i["stage"], lang),
             (i["due_at"] or "")[:16].replace("T", " "), i["late_s"]] for i in over["items"]]
    return Table("rep_sheet_overdue", t("rep_overdue", lang),
                 (Column("rep_col_id"), Column("rep_col_category"), Column("rep_col_village"),
                  Column("rep_col_stage"), Column("rep_col_due"),
                  Column("rep_col_late", "seconds", "rep_col_late_s")), rows,
                 note=t("rep_overdue_total", lang, n=over["total"], shown=len(over["items"])))


def _volunteers(content: Mapping[str, Any], lang: Lang, names: Mapping[str, str]) -> Table:
    vol = content["volunteers"]
    rows = [[_village(v["village_code"], names, lang), v["hours"], v["attendances"],
             v["people"]] for v in vol["by_village"]]
    rows.append([t("rep_col_total", lang), vol["hours"], vol["attendances"], vol["people"]])
    return Table("rep_sheet_volunteers", t("rep_volunteers", lang),
                 (Column("rep_col_village"), Column("rep_vol_hours", "float"),
                  Column("rep_vol_attendances", "int"), Column("rep_vol_people", "int")), rows)


def _mobilizations(content: Mapping[str, Any], lang: Lang, names: Mapping[str, str]) -> Table:
    rows = [[m["mobilization_id"], m["title"] or "", _village(m["village_code"], names, lang),
             m["needed"], m["asked"], m["accepted"], m["arrived"]]
            for m in content["volunteers"]["mobilization_list"]]
    return Table("rep_sheet_mobilizations", t("rep_mobilizations", lang),
                 (Column("rep_col_id"), Column("rep_col_title"), Column("rep_col_village"),
                  Column("rep_col_needed", "int"), Column("rep_col_asked", "int"),
                  Column("rep_col_accepted", "int"), Column("rep_col_arrived", "int")), rows)


def _waste(content: Mapping[str, Any], lang: Lang, names: Mapping[str, str]) -> Table:
    waste = content["waste"]
    rows = [[_village(v["village_code"], names, lang), v["rate"], v["correct"], v["total"],
             v["meets"]] for v in waste["by_village"]]
    o = waste["overall"]
    rows.append([t("rep_waste_overall", lang), o["rate"], o["correct"], o["total"], o["meets"]])
    return Table("rep_sheet_waste", t("rep_waste", lang),
                 (Column("rep_col_village"), Column("rep_col_rate", "rate"),
                  Column("rep_col_correct", "int"), Column("rep_col_rated", "int"),
                  Column("rep_col_meets", "bool")), rows,
                 note=t("rep_waste_target", lang, target=f"{100 * waste['target']:.0f}%"))


def heading(column: Column, lang: Lang, sheet: bool = False) -> str:
    """A column's heading (a category column is named by the category)."""
    if column.key.startswith("cat:"):
        return category_label(column.key[4:], lang)
    return t(column.sheet_key if sheet and column.sheet_key else column.key, lang)


def tables(content: Mapping[str, Any], lang: Lang) -> list[Table]:
    """Every section of the briefing as a :class:`Table`, in reading order."""
    names = village_names(lang)
    out = [_kpi(content, lang)]
    if content["kind"] == "weekly":
        out.append(_days(content, lang))
    out += [_categories(content, lang), _villages(content, lang, names),
            _stages(content, lang), _overdue(content, lang, names),
            _volunteers(content, lang, names), _mobilizations(content, lang, names),
            _waste(content, lang, names)]
    return out


def shown(table: Table, medium: str) -> list[Column]:
    """The columns drawn on ``medium`` (one of :data:`MEDIA`)."""
    return [c for c in table.columns if c.only in (None, medium)]


def typed(table: Table, row: list[Any], medium: str = "sheet") -> list[tuple[Any, str]]:
    """A row's cells drawn on ``medium`` with their kinds.

    A ``mixed`` column takes the kind the row ends with; columns of another medium are left
    out (:func:`shown`).
    """
    kinds = [c.kind for c in table.columns]
    if "mixed" in kinds:
        row, own = row[:-1], row[-1]
        kinds = [own if k == "mixed" else k for k in kinds]
    return [(value, kind) for value, kind, column in zip(row, kinds, table.columns, strict=True)
            if column.only in (None, medium)]
