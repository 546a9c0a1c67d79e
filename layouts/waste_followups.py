"""The follow-ups tab of ``/waste`` (薄弱户跟进): weak households' tasks and the acts on them.

:func:`followups_section` is the tab's content: filters (status, village), the list (open tasks
first by due time, overdue ones marked; reason with the figures of the finding, status,
assignee, due, visit outcome, accuracy before → after, the after shown as 待观察 until enough
disposals followed the visit) and, for a role that may follow up, the 派单 and 走访登记 forms.
The list, the choices of the forms and their tokens are filled by
:mod:`callbacks.waste_followups`; every id the callbacks use is rendered for every viewer (the
forms hidden for roles that may not act), so any call of the section validates them.
Builders are pure; :class:`FollowupIds` declares the ids.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from dash import dcc, html

from cockpit.access import Capability, Viewer
from cockpit.waste.followup_board import STATUSES
from cockpit.waste.followup_request import ASSIGNEE_KINDS, OUTCOMES
from layouts.i18n import PLACEHOLDER, Lang, format_count, t
from layouts.staff_page import filter_field
from layouts.volunteers import View, panel, table, when

#: How often the tab asks whether the data moved, ms.
POLL_MS = 5000
#: Columns of the list: label keys.
COLUMNS = ("wfu_col_household", "wfu_col_village", "wfu_col_group", "wfu_col_reason",
           "wfu_col_status", "wfu_col_assignee", "wfu_col_due", "wfu_col_outcome",
           "wfu_col_effect")
#: The due cell of a task past its deadline (inline: the page's stylesheet is the page's own).
OVERDUE_STYLE = {"color": "#ff4d4f", "fontWeight": 700}
NOTE_CHARS = 60


class FollowupIds(StrEnum):
    """Component ids of the follow-ups tab."""

    SECTION = "wfu-section"
    #: ``{"lang": ...}`` of the tab.
    STATE = "wfu-state"
    TICK = "wfu-tick"
    #: The data version and minute the list was last read at.
    SEEN = "wfu-seen"
    STATUS = "wfu-f-status"
    VILLAGE = "wfu-f-village"
    COUNT = "wfu-count"
    LIST = "wfu-list"
    MESSAGE = "wfu-message"
    ACTS = "wfu-acts"
    TASK = "wfu-task"
    ASSIGNEE = "wfu-assignee"
    KIND = "wfu-kind"
    DUE = "wfu-due"
    ASSIGN = "wfu-assign"
    #: The 派单 form's one-submission token (a uuid4's hex), renewed after each act sent.
    ASSIGN_TOKEN = "wfu-assign-token"
    ASSIGNED = "wfu-assigned"
    OUTCOME = "wfu-outcome"
    NOTE = "wfu-note"
    BY = "wfu-by"
    AT = "wfu-at"
    VISIT = "wfu-visit"
    VISIT_TOKEN = "wfu-visit-token"
    VISITED = "wfu-visited"


def percent(rate: float | None) -> str:
    """``37.5%`` of a rate in [0, 1]; ``—`` for None."""
    return PLACEHOLDER if rate is None else f"{rate * 100:.1f}%"


def _days(value: Any) -> str:
    number = float(value or 0)
    return f"{number:.0f}" if number.is_integer() else f"{number:g}"


def _rate(correct: Any, total: Any) -> float | None:
    return int(correct) / int(total) if total else None


def reason_cell(row: Mapping[str, Any], lang: Lang) -> html.Div:
    """The rule that fired (准确率偏低 / 准确率下滑) and the figures of the finding."""
    finding, reason = row.get("finding") or {}, row.get("reason")
    c, n = finding.get("correct", 0), finding.get("total", 0)
    if reason == "falling":
        pc, pn = finding.get("previous_correct", 0), finding.get("previous_total", 0)
        figures = t("wfu_finding_falling", lang, days=_days(finding.get("window_days")), c=c,
                    n=n, rate=percent(_rate(c, n)), pc=pc, pn=pn, prate=percent(_rate(pc, pn)))
    else:
        figures = t("wfu_finding_below", lang, days=_days(finding.get("window_days")), c=c, n=n,
                    rate=percent(_rate(c, n)))
    label = t(f"wfu_reason_{reason}", lang) if reason in ("below", "falling") \
        else (reason or PLACEHOLDER)
    return html.Div([html.Strong(label), html.Br(), html.Small(figures, className="vp-muted")])


def status_cell(row: Mapping[str, Any], lang: Lang) -> Any:
    """The status label, with the 逾期 chip on an overdue task."""
    status = row.get("status")
    label = t(f"wfu_status_{status}", lang) if status in STATUSES else (status or PLACEHOLDER)
    if not row.get("overdue"):
        return label
    return html.Span([label, " ", html.Span(t("wfu_overdue", lang), className="vp-chip vp-lag")])


def assignee_cell(row: Mapping[str, Any], lang: Lang) -> str:
    """``督导员 SUP-012`` (an id, never a name); ``—`` when not assigned."""
    who, kind = row.get("assignee_id"), row.get("assignee_kind")
    if not who:
        return PLACEHOLDER
    return f"{t(f'wfu_kind_{kind}', lang)} {who}" if kind in ASSIGNEE_KINDS else who


def due_cell(row: Mapping[str, Any]) -> Any:
    """The visit deadline (local), red when overdue."""
    text = when(row.get("due_at"))
    return html.Span(text, style=OVERDUE_STYLE) if row.get("overdue") else text


def outcome_cell(row: Mapping[str, Any], lang: Lang) -> Any:
    """How the visit ended, when, and the note (cut short; whole in its title)."""
    outcome = row.get("outcome")
    if not outcome:
        return PLACEHOLDER
    label = t(f"wfu_outcome_{outcome}", lang) if outcome in OUTCOMES else outcome
    parts: list[Any] = [label, " · ", when(row.get("visited_at"))]
    note = row.get("note") or ""
    if note:
        short = note if len(note) <= NOTE_CHARS else note[:NOTE_CHARS] + "…"
        parts += [html.Br(), html.Small(short, title=note, className="vp-muted")]
    return html.Div(parts)


def _tally_text(tally: Mapping[str, Any] | None, lang: Lang) -> str:
    if not tally:
        return PLACEHOLDER
    return t("wfu_tally", lang, rate=percent(tally.get("rate")), c=tally.get("correct", 0),
             n=tally.get("total", 0))


def effect_cell(row: Mapping[str, Any], lang: Lang, min_after: int) -> html.Div:
    """Accuracy before → after the visit, with counts; the after is 待观察 until judged."""
    before, after = row.get("before"), row.get("after")
    parts: list[Any] = [_tally_text(before, lang)]
    if after is None:
        return html.Div(parts)
    parts.append(" → ")
    if not row.get("judged"):
        parts.append(html.Span(t("wfu_waiting", lang, n=after.get("total", 0), need=min_after),
                               className="vp-muted"))
        return html.Div(parts)
    parts.append(html.Strong(_tally_text(after, lang)))
    if before and before.get("rate") is not None and after.get("rate") is not None:
        points = (after["rate"] - before["rate"]) * 100
        parts += [html.Br(), html.Small(t("wfu_change", lang, sign="+" if points >= 0 else "−",
                                          pts=f"{abs(points):.1f}"), className="vp-muted")]
    return html.Div(parts)


def followup_table(items: Sequence[Mapping[str, Any]], view: View, min_after: int) -> Any:
    """The list of tasks; a line saying there are none."""
    lang = view.lang
    rows = [[row.get("household_id"), view.village(row.get("village_code")),
             row.get("group") or PLACEHOLDER, reason_cell(row, lang), status_cell(row, lang),
             assignee_cell(row, lang), due_cell(row), outcome_cell(row, lang),
             effect_cell(row, lang, min_after)] for row in items]
    classes = ["wfu-row wfu-overdue" if row.get("overdue") else "wfu-row" for row in items]
    return table(COLUMNS, rows, lang, "wfu-table", classes, empty="wfu_empty")


def list_children(model: Mapping[str, Any], view: View) -> list:
    """The list panel's body of :func:`cockpit.waste.followup_board.board`'s model."""
    return [followup_table(model.get("items") or [], view, int(model.get("min_after") or 0))]


def count_text(model: Mapping[str, Any], lang: Lang) -> str:
    """``共 N 户 · 逾期 M`` of every task of the filters, ``· 显示前 K`` when the list is cut."""
    items = model.get("items") or []
    total = int(model.get("total", len(items)))
    overdue = int(model.get("overdue", sum(1 for row in items if row.get("overdue"))))
    text = t("wfu_total", lang, n=format_count(total))
    if overdue:
        text += " · " + t("wfu_overdue_n", lang, n=format_count(overdue))
    if len(items) < total:
        text += " · " + t("wfu_shown_n", lang, n=format_count(len(items)))
    return text


def task_options(tasks: Sequence[Mapping[str, Any]], view: View) -> list[dict[str, str]]:
    """Choices of the forms' task: ``户号 · 村社 · 状态`` labels, by due time."""
    return [{"value": task["followup_id"],
             "label": f"{task['household_id']} · {view.village(task.get('village_code'))} · "
                      f"{t('wfu_status_' + task['status'], view.lang)}"} for task in tasks]


def village_options(villages: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    """Choices of the village filter from ``(code, name)`` pairs."""
    return [{"value": code, "label": name} for code, name in villages]


def _choices(prefix: str, codes: Sequence[str], lang: Lang) -> list[dict[str, str]]:
    return [{"value": c, "label": t(f"{prefix}{c}", lang)} for c in codes]


def filters(lang: Lang) -> html.Div:
    """Status and village filters (the villages' choices are filled by the callback)."""
    return html.Div(className="inc-filters vp-filters wfu-filters", children=[
        filter_field(t("wfu_f_status", lang), dcc.Dropdown(
            id=FollowupIds.STATUS, options=_choices("wfu_status_", STATUSES, lang),
            multi=True, placeholder=t("wfu_f_all", lang), className="inc-dropdown")),
        filter_field(t("wfu_f_village", lang), dcc.Dropdown(
            id=FollowupIds.VILLAGE, options=[], clearable=True, searchable=True,
            placeholder=t("wfu_f_all", lang), className="inc-dropdown")),
    ])


def acts_panel(lang: Lang, shown: bool) -> html.Section:
    """The 派单 and 走访登记 forms on one task chooser; hidden when ``shown`` is False."""
    assign = html.Div(className="inc-filters vp-filters wfu-assign-form", children=[
        html.H3(t("wfu_assign_title", lang), className="vp-panel-title"),
        filter_field(t("wfu_assignee", lang), dcc.Input(
            id=FollowupIds.ASSIGNEE, type="text", maxLength=64,
            placeholder=t("wfu_assignee_hint", lang), className="inc-input")),
        filter_field(t("wfu_kind", lang), dcc.Dropdown(
            id=FollowupIds.KIND, options=_choices("wfu_kind_", ASSIGNEE_KINDS, lang),
            value=ASSIGNEE_KINDS[0], clearable=False, searchable=False,
            className="inc-dropdown")),
        filter_field(t("wfu_due", lang), dcc.Input(id=FollowupIds.DUE, type="datetime-local",
                                             className="inc-input")),
        html.Button(t("wfu_assign", lang), id=FollowupIds.ASSIGN, n_clicks=0,
                    className="vp-btn vp-btn-request"),
        html.Div(id=FollowupIds.ASSIGNED, className="vp-message", role="status"),
        dcc.Store(id=FollowupIds.ASSIGN_TOKEN, data=None)])
    visit = html.Div(className="inc-filters vp-filters wfu-visit-form", children=[
        html.H3(t("wfu_visit_title", lang), className="vp-panel-title"),
        filter_field(t("wfu_outcome", lang), dcc.Dropdown(
            id=FollowupIds.OUTCOME, options=_choices("wfu_outcome_", OUTCOMES, lang),
            clearable=False, searchable=False, className="inc-dropdown")),
        filter_field(t("wfu_by", lang), dcc.Input(id=FollowupIds.BY, type="text", maxLength=64,
                                            className="inc-input")),
        filter_field(t("wfu_at", lang), dcc.Input(id=FollowupIds.AT, type="datetime-local",
                                            className="inc-input")),
        filter_field(t("wfu_note", lang), dcc.Textarea(id=FollowupIds.NOTE, maxLength=2000,
                                                 className="inc-input"), wide=True),
        html.Button(t("wfu_visit", lang), id=FollowupIds.VISIT, n_clicks=0,
                    className="vp-btn vp-btn-request"),
        html.Div(id=FollowupIds.VISITED, className="vp-message", role="status"),
        dcc.Store(id=FollowupIds.VISIT_TOKEN, data=None)])
    chooser = filter_field(t("wfu_task", lang), dcc.Dropdown(
        id=FollowupIds.TASK, options=[], searchable=True, placeholder=t("wfu_task_hint", lang),
        className="inc-dropdown"), wide=True)
    part = panel(t("wfu_acts", lang), [html.Div(chooser, className="inc-filters vp-filters"),
                                       assign, visit], "wfu-acts",
                 html.Span(t("wfu_acts_hint", lang), className="vp-panel-count"))
    part.id, part.hidden = FollowupIds.ACTS, not shown
    return part


def followups_section(viewer: Viewer, lang: Lang) -> html.Div:
    """The 薄弱户跟进 tab's content for ``viewer``: filters, the list, and the acts if it may.

    The list and the choices are empty until :mod:`callbacks.waste_followups` fills them (its
    first read runs when the section appears); the forms are hidden from a role without
    :attr:`~cockpit.access.Capability.FOLLOW_UP`, and the server refuses its acts anyway.
    """
    return html.Div(id=FollowupIds.SECTION, className="wfu-section", children=[
        dcc.Store(id=FollowupIds.STATE, data={"lang": lang}),
        dcc.Store(id=FollowupIds.SEEN, data=None),
        dcc.Interval(id=FollowupIds.TICK, interval=POLL_MS),
        filters(lang),
        html.Div(id=FollowupIds.MESSAGE, className="vp-message", role="status"),
        panel(t("wfu_title", lang), [html.P(t("wfu_hint", lang), className="vp-muted"),
                                     html.Div(id=FollowupIds.LIST)], "wfu-list",
              html.Span(id=FollowupIds.COUNT, className="vp-panel-count")),
        acts_panel(lang, viewer.can(Capability.FOLLOW_UP)),
    ])
