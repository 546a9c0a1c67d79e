"""A household's record (住户档案) at ``/waste/households/<id>``.

Its attributes and tenancy, monthly accuracy, its disposals with their photos, and its
follow-ups with their effect.

:func:`layout` is the page skeleton (ids in :class:`WasteHouseholdIds`); :func:`body_children`
builds its content from :func:`cockpit.waste.page_queries.household_record`, so the refresh
poll can replace it whole. The head's and landlord's names and phones and the address
unmasked (staff's audited reveal) go to the panel outside the body (:func:`revealed_children`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from dash import dcc, html

from layouts.i18n import PLACEHOLDER, Lang, t
from layouts.staff_page import page_header
from layouts.volunteers import or_dash, panel, pd_panel, table, when
from layouts.waste import View, kind_label, rate_cell, status_label
from layouts.waste_lists import disposal_table, landlord_link
from layouts.waste_query import WasteQuery, household_href

#: Follow-up statuses, reasons and outcomes with a label (others show as sent).
FOLLOWUP_STATUSES = ("open", "assigned", "visited", "cancelled")
FOLLOWUP_REASONS = ("below", "falling")
OUTCOMES = ("educated", "not_home", "refused", "moved_out")


class WasteHouseholdIds(StrEnum):
    """Component ids of a household's record page."""

    ROOT = "wsth-root"
    BODY = "wsth-body"
    ALERT = "wsth-alert"
    TICK = "wsth-tick"
    STATE = "wsth-state"
    SEEN = "wsth-seen"
    REVEAL = "wsth-reveal"
    NOTE = "wsth-pd-note"
    REVEALED = "wsth-revealed"


def _label(prefix: str, code: str | None, known: Sequence[str], lang: Lang) -> str:
    return t(f"{prefix}{code}", lang) if code in known else (code or PLACEHOLDER)


def _fact(key: str, value: Any, lang: Lang) -> html.Div:
    return html.Div(className="incd-fact", children=[
        html.Dt(t(key, lang)), html.Dd(value if value not in (None, "", []) else PLACEHOLDER)])


def head_block(d: Mapping[str, Any], view: View) -> html.Div:
    """The household's attributes and tenancy (personal data as the read model gives it)."""
    lang = view.lang
    landlord = d.get("landlord") or {}
    return html.Div(className="incd-head vp-head", children=[
        html.Div(className="incd-head-line", children=[
            html.H2([or_dash(d.get("head_name")), " · ",
                     html.Span(d["household_id"], className="incd-id")], className="incd-name"),
            html.Span(kind_label(d.get("kind"), lang), className="vp-chip"),
            html.Span(status_label(d.get("status"), lang), className="vp-chip")]),
        html.Dl(className="incd-facts", children=[
            _fact("wst_col_head_phone", d.get("head_phone"), lang),
            _fact("vol_col_village", view.village(d.get("village_code"), d.get("village_text")),
                  lang),
            _fact("wst_col_group", d.get("group_name"), lang),
            _fact("wst_col_members", d.get("members"), lang),
            _fact("wst_col_house", d.get("house_id"), lang),
            _fact("wst_col_address", d.get("address"), lang),
            _fact("wst_col_landlord", landlord_link(landlord.get("landlord_id"), lang)
                  if landlord else None, lang),
            _fact("wst_col_landlord_name", landlord.get("name"), lang),
            _fact("wst_col_landlord_phone", landlord.get("phone"), lang),
            _fact("wst_col_moved_in", when(d.get("moved_in_at")), lang),
            _fact("wst_col_moved_out", when(d.get("moved_out_at")), lang),
            _fact("wst_col_registered", when(d.get("registered_at")), lang),
            _fact("wst_acc_all", rate_cell(d.get("accuracy"), lang), lang),
            _fact("wst_acc_30d", rate_cell(d.get("recent"), lang), lang)]),
    ])


def months_table(months: Sequence[Mapping[str, Any]], view: View) -> Any:
    """Monthly accuracy, newest first: month, accuracy, disposals, kg."""
    lang = view.lang
    rows = [[m.get("key"), rate_cell(m, lang), m.get("total") or 0,
             f"{m.get('kg') or 0:,.1f} kg"] for m in months]
    return table(("wst_col_month", "wst_col_accuracy", "wst_col_disposals", "wst_col_kg"), rows,
                 lang, "wp-months", ["wp-row-low" if m.get("meets") is False else "wp-row"
                                     for m in months], empty="wst_disposals_empty")


def followups_table(items: Sequence[Mapping[str, Any]], view: View) -> Any:
    """The household's follow-ups: found, reason, status, assignee, visit, before and after."""
    lang = view.lang
    rows = []
    for f in items:
        after = rate_cell(f["after"], lang) if f.get("after") else PLACEHOLDER
        rows.append([html.Span([when(f.get("found_at")), html.Br(),
                                html.Small(f.get("followup_id"), className="vp-muted")]),
                     _label("wst_reason_", f.get("reason"), FOLLOWUP_REASONS, lang),
                     _label("wst_fu_", f.get("status"), FOLLOWUP_STATUSES, lang),
                     when(f.get("due_at")), or_dash(f.get("assignee_id")),
                     when(f.get("visited_at")),
                     _label("wst_outcome_", f.get("outcome"), OUTCOMES, lang),
                     rate_cell(f.get("before"), lang), after])
    return table(("wst_col_found", "wst_col_reason", "wst_f_status", "wst_col_due",
                  "wst_col_assignee", "wst_col_visited", "wst_col_outcome", "wst_col_before",
                  "wst_col_after"), rows, lang, "wp-followups", empty="wst_followups_none")


def body_children(record: Mapping[str, Any] | None, household_id: str, view: View) -> list:
    """The record's content, or a notice when unknown (or not in the viewer's villages)."""
    lang = view.lang
    back = dcc.Link(t("wst_back", lang), href=WasteQuery(tab="households").href(lang),
                    className="incd-back")
    if record is None:
        return [html.Div(className="incd-not-found", children=[
            html.H2(t("wst_household_unknown", lang, id=household_id)),
            html.P(t("wst_household_unknown_hint", lang)), back])]
    return [
        head_block(record, view),
        html.Div(className="vp-columns", children=[
            panel(t("wst_sec_months", lang), months_table(record.get("months") or [], view),
                  "months"),
            panel(t("wst_sec_followups", lang),
                  followups_table(record.get("followups") or [], view), "followups")]),
        panel(t("wst_sec_disposals", lang, n=len(record.get("disposals") or [])),
              disposal_table(record.get("disposals") or [], view, "wp-record-disposals",
                             household=False), "disposals"),
    ]


def revealed_children(record: Mapping[str, Any], lang: Lang) -> list:
    """The head's and landlord's names and phones and the address, unmasked (staff)."""
    landlord = record.get("landlord") or {}
    pairs = (("wst_col_head", record.get("head_name")),
             ("wst_col_head_phone", record.get("head_phone")),
             ("wst_col_address", record.get("address")),
             ("wst_col_landlord_name", landlord.get("name")),
             ("wst_col_landlord_phone", landlord.get("phone")))
    return [html.Dl(className="incd-facts pd-facts", children=[
        html.Div(className="incd-fact", children=[html.Dt(t(key, lang)),
                                                  html.Dd(or_dash(value), className="pd-value")])
        for key, value in pairs])]


def layout(lang: Lang, household_id: str, body: list, *, may_reveal: bool, alert: str = "",
           poll_ms: int = 2000, seen: Mapping[str, Any] | None = None,
           found: bool = True) -> html.Div:
    """Return the record page around ``body`` (:func:`body_children`).

    Parameters
    ----------
    lang : {"zh", "en"}
        Language.
    household_id : str
        The household shown; kept for the callbacks.
    body : list
        The page's content.
    may_reveal : bool
        The viewer may reveal names and phones (staff): the 显示 button is shown.
    alert : str
        Data-source error text, empty when fine.
    poll_ms : int
        Period of the refresh poll, ms.
    seen : mapping, optional
        What the body was rendered from (the poll's store).
    found : bool
        A household is shown (the reveal panel is left out otherwise).
    """
    other = "en" if lang == "zh" else "zh"
    return html.Div(id=WasteHouseholdIds.ROOT, className=f"inc-page vp-page wp-page lang-{lang}",
                    lang=lang, children=[
        page_header(lang, t("wst_household_title", lang), household_href(household_id, other)),
        html.Main(className="inc-main vp-main", children=[
            dcc.Link(["← ", t("wst_back", lang)], href=WasteQuery(tab="households").href(lang),
                     className="incd-back"),
            html.Div(alert, id=WasteHouseholdIds.ALERT, className="inc-alert", role="alert"),
            html.Div(pd_panel(lang, (WasteHouseholdIds.REVEAL, WasteHouseholdIds.NOTE,
                                     WasteHouseholdIds.REVEALED), "wst_pd_household",
                              may_reveal), hidden=not found, className="vp-pd-wrap"),
            html.Div(body, id=WasteHouseholdIds.BODY, className="incd-body vp-body"),
        ]),
        dcc.Interval(id=WasteHouseholdIds.TICK, interval=poll_ms),
        dcc.Store(id=WasteHouseholdIds.STATE, data={"lang": lang,
                                                    "household_id": household_id}),
        dcc.Store(id=WasteHouseholdIds.SEEN, data=dict(seen or {})),
    ])
