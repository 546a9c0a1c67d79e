"""A volunteer's record (志愿者档案): attributes, platform records, hours, points and merges.

It also lists the person's answers to mobilisations.

:func:`layout` is the page skeleton (ids in :class:`VolunteerDetailIds`); :func:`body_children`
builds its content from :func:`cockpit.volunteers.detail.volunteer_detail` so the refresh poll
can replace it whole. The person's name and phone unmasked (staff's audited reveal) go to the
panel outside the body (:func:`revealed_children`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from dash import dcc, html

from cockpit.volunteers.hours import FLAGS
from layouts.i18n import PLACEHOLDER, Lang, format_count, join, t
from layouts.staff_page import page_header
from layouts.volunteers import (
    View,
    kind_label,
    or_dash,
    panel,
    pd_panel,
    platform_label,
    record_link,
    status_label,
    table,
    when,
)
from layouts.volunteers_merges import merges_table, sources_list
from layouts.volunteers_query import VolunteersQuery, record_href

#: Points rules' label keys; another rule shows as its code.
RULES = {"verified_hours": "vol_rule_verified_hours", "rating": "vol_rule_rating",
         "mobilization": "vol_rule_mobilization"}


class VolunteerDetailIds(StrEnum):
    """Component ids of a volunteer's record page."""

    ROOT = "vold-root"
    BODY = "vold-body"
    ALERT = "vold-alert"
    MESSAGE = "vold-message"
    TICK = "vold-tick"
    STATE = "vold-state"
    SEEN = "vold-seen"
    CHANGED = "vold-changed"
    REVEAL = "vold-reveal"
    NOTE = "vold-pd-note"
    REVEALED = "vold-revealed"
    #: Type of the merges' undo buttons: ``{"type", "action": "undo", "key": merge id}``.
    UNDO = "vold-undo"


def attendance_state(a: Mapping[str, Any], lang: Lang) -> html.Span:
    """已核验, or the flag's label (hours.FLAGS) for hours that do not count."""
    if a.get("verified"):
        return html.Span(t("vol_verified", lang), className="vp-chip vp-verified")
    flag = a.get("flag") or ("on_duty" if a.get("open") else None)
    zh, en = FLAGS.get(flag, (flag or PLACEHOLDER, flag or PLACEHOLDER))
    return html.Span(en if lang == "en" else zh, className=f"vp-chip vp-flag vp-flag-{flag}")


def rule_label(rule: str | None, lang: Lang) -> str:
    """A points rule's label."""
    return t(RULES[rule], lang) if rule in RULES else (rule or PLACEHOLDER)


def basis_list(basis: Sequence[str]) -> Any:
    """The events that earned an entry (``source/event_id``), one a line."""
    if not basis:
        return PLACEHOLDER
    return html.Ul([html.Li(key, className="vp-basis-item") for key in basis],
                   className="vp-basis")


def _fact(key: str, value: Any, lang: Lang) -> html.Div:
    return html.Div(className="incd-fact", children=[
        html.Dt(t(key, lang)), html.Dd(value if value not in (None, "", []) else PLACEHOLDER)])


def head_block(d: Mapping[str, Any], view: View) -> html.Div:
    """The person's attributes and totals (name and phone masked as the read model gives)."""
    lang = view.lang
    return html.Div(className="incd-head vp-head", children=[
        html.Div(className="incd-head-line", children=[
            html.H2([or_dash(d.get("name")), " · ",
                     html.Span(d["volunteer_id"], className="incd-id")], className="incd-name"),
            html.Span(status_label(d.get("status"), lang), className="vp-chip"),
            html.Span(kind_label(d.get("team_kind"), lang), className="vp-chip")
            if d.get("team_kind") else None]),
        html.Dl(className="incd-facts", children=[
            _fact("vol_col_phone", d.get("phone"), lang),
            _fact("pd_id", t("pd_id_on_file", lang) if d.get("id_on_file")
                  else t("vol_id_none", lang), lang),
            _fact("vol_col_team", d.get("team"), lang),
            _fact("vol_col_skills", join(d.get("skills") or [], lang), lang),
            _fact("vol_col_village", view.village(d.get("village_code")), lang),
            _fact("vol_grid", d.get("grid"), lang),
            _fact("vol_registered", when(d.get("registered_at")), lang),
            _fact("vol_records", d.get("records"), lang),
            _fact("vol_col_points", format_count(d.get("points_total") or 0), lang),
            _fact("vol_col_hours", f"{d.get('verified_hours') or 0:g}", lang)]),
    ])


def sources_table(sources: Sequence[Mapping[str, Any]], view: View) -> Any:
    """Every platform record of the person: platform and id, name, phone, team, village."""
    lang = view.lang
    rows = [[platform_label(s.get("platform"), lang), s.get("source_id"), or_dash(s.get("name")),
             or_dash(s.get("phone")), t("pd_id_on_file", lang) if s.get("id_on_file")
             else PLACEHOLDER, or_dash(s.get("team")), view.village(s.get("village_code")),
             status_label(s.get("status"), lang), t("vol_kept_apart", lang)
             if s.get("kept_apart") else PLACEHOLDER, when(s.get("registered_at"))]
            for s in sources]
    return table(("vol_col_platform", "vol_source_id", "vol_col_name", "vol_col_phone",
                  "pd_id", "vol_col_team", "vol_col_village", "vol_f_status", "vol_kept_apart",
                  "vol_registered"), rows, lang, "vp-sources-table")


def attendances_table(items: Sequence[Mapping[str, Any]], view: View) -> Any:
    """Attendances: activity, village, window, check-in and -out, minutes, state, rating."""
    lang = view.lang
    rows = [[html.Span([a.get("title") or a.get("activity_id") or PLACEHOLDER, html.Br(),
                        html.Small(a.get("activity_id") or "", className="vp-muted")]),
             view.village(a.get("village_code")),
             f"{when(a.get('starts_at'))} – {when(a.get('ends_at'))[11:]}",
             when(a.get("checked_in_at")), when(a.get("checked_out_at")),
             or_dash(a.get("minutes")), attendance_state(a, lang), or_dash(a.get("rating")),
             platform_label(a.get("platform"), lang)] for a in items]
    return table(("vol_activity", "vol_col_village", "vol_window", "vol_checked_in",
                  "vol_checked_out", "vol_minutes", "vol_att_state", "vol_rating",
                  "vol_col_platform"), rows, lang, "vp-attendances",
                 ["vp-att-ok" if a.get("verified") else "vp-att-flag" for a in items])


def points_table(items: Sequence[Mapping[str, Any]], view: View) -> Any:
    """Points entries: when, month, rule, quantity, points, what for, and the events (basis)."""
    lang = view.lang
    rows = []
    for p in items:
        what = p.get("activity_id") or p.get("mobilization_id") or PLACEHOLDER
        quantity = p.get("quantity")
        if p.get("rule") == "verified_hours" and quantity is not None:
            quantity = t("vol_minutes_n", lang, n=f"{quantity:g}")
        rows.append([when(p.get("earned_at")), p.get("month"), rule_label(p.get("rule"), lang),
                     or_dash(quantity if not isinstance(quantity, float) else f"{quantity:g}"),
                     html.B(format_count(p.get("points") or 0)), what,
                     basis_list(p.get("basis") or [])])
    return table(("vol_earned_at", "vol_month", "vol_rule", "vol_quantity", "vol_col_points",
                  "vol_for", "vol_basis"), rows, lang, "vp-points")


def answers_table(items: Sequence[Mapping[str, Any]], view: View) -> Any:
    """Mobilisations the person was asked to or answered, with each answer's time."""
    lang = view.lang
    rows = [[html.Span([m.get("title") or m.get("mobilization_id"), html.Br(),
                        html.Small(m.get("mobilization_id"), className="vp-muted")]),
             view.village(m.get("village_code")), when(m.get("deadline")),
             when(m.get("asked_at")), when(m.get("accepted_at")), when(m.get("declined_at")),
             when(m.get("arrived_at"))] for m in items]
    return table(("vol_mob_title", "vol_col_village", "vol_mob_deadline", "vol_asked_at",
                  "vol_accepted_at", "vol_declined_at", "vol_arrived_at"), rows, lang,
                 "vp-answers")


def body_children(detail: Mapping[str, Any] | None, volunteer_id: str, view: View) -> list:
    """The record's content, or a notice: unknown (or not the viewer's), or merged away.

    A merged-away id says where it went.

    Parameters
    ----------
    detail : dict or None
        :func:`cockpit.volunteers.detail.volunteer_detail` (None: unknown or not the viewer's).
    volunteer_id : str
        The id asked for.
    view : View
        Language, village names and whether the viewer may undo merges (staff).
    """
    lang = view.lang
    back = dcc.Link(t("vol_back", lang), href=VolunteersQuery().href(lang), className="incd-back")
    if detail is None:
        return [html.Div(className="incd-not-found", children=[
            html.H2(t("vol_not_found", lang, id=volunteer_id)),
            html.P(t("vol_not_found_hint", lang)), back])]
    if detail.get("merged_into") and "sources" not in detail:
        return [html.Div(className="incd-not-found vp-merged-away", children=[
            html.H2(t("vol_merged_away", lang, id=volunteer_id)),
            html.P([t("vol_merged_into", lang), " ",
                    record_link(detail["merged_into"], lang)]), back])]
    return [
        head_block(detail, view),
        panel(t("vol_sec_sources", lang), sources_table(detail.get("sources") or [], view),
              "sources"),
        panel(t("vol_sec_attendances", lang),
              attendances_table(detail.get("attendances") or [], view), "attendances"),
        panel(t("vol_sec_points", lang), points_table(detail.get("points") or [], view),
              "points"),
        html.Div(className="vp-columns", children=[
            panel(t("vol_sec_answers", lang),
                  answers_table(detail.get("mobilizations") or [], view), "answers"),
            panel(t("vol_sec_merges", lang), merges_table(
                detail.get("merges") or [], view, may_undo=view.may_reveal,
                id_type=str(VolunteerDetailIds.UNDO)), "merges")]),
    ]


def revealed_children(detail: Mapping[str, Any], lang: Lang) -> list:
    """The person's name and phone unmasked, and each platform record's (staff's reveal)."""
    return [html.Dl(className="incd-facts pd-facts", children=[
        html.Div(className="incd-fact", children=[html.Dt(t("vol_col_name", lang)),
                                                  html.Dd(or_dash(detail.get("name")),
                                                          className="pd-value")]),
        html.Div(className="incd-fact", children=[html.Dt(t("vol_col_phone", lang)),
                                                  html.Dd(or_dash(detail.get("phone")),
                                                          className="pd-value")])]),
        sources_list(detail.get("sources") or [], lang)]


def layout(lang: Lang, volunteer_id: str, body: list, *, may_reveal: bool, alert: str = "",
           poll_ms: int = 2000, seen: Mapping[str, Any] | None = None,
           found: bool = True) -> html.Div:
    """Return the record page around ``body`` (:func:`body_children`).

    Parameters
    ----------
    lang : {"zh", "en"}
        Language.
    volunteer_id : str
        The volunteer shown; kept for the callbacks.
    body : list
        The page's content.
    may_reveal : bool
        The viewer may reveal the name and phone (staff): the 显示 button is shown.
    alert : str
        Data-source error text, empty when fine.
    poll_ms : int
        Period of the refresh poll, ms.
    seen : mapping, optional
        What the body was rendered from (the poll's store).
    found : bool
        A live record is shown (the reveal panel is left out otherwise).
    """
    other = "en" if lang == "zh" else "zh"
    return html.Div(id=VolunteerDetailIds.ROOT, className=f"inc-page vp-page lang-{lang}",
                    lang=lang, children=[
        page_header(lang, t("vol_detail_title", lang), record_href(volunteer_id, other)),
        html.Main(className="inc-main vp-main", children=[
            dcc.Link(["← ", t("vol_back", lang)], href=VolunteersQuery().href(lang),
                     className="incd-back"),
            html.Div(alert, id=VolunteerDetailIds.ALERT, className="inc-alert", role="alert"),
            html.Div(id=VolunteerDetailIds.MESSAGE, className="vp-message", role="status"),
            html.Div(pd_panel(lang, (VolunteerDetailIds.REVEAL, VolunteerDetailIds.NOTE,
                                     VolunteerDetailIds.REVEALED), "vol_pd_person",
                              may_reveal), hidden=not found, className="vp-pd-wrap"),
            html.Div(body, id=VolunteerDetailIds.BODY, className="incd-body vp-body"),
        ]),
        dcc.Interval(id=VolunteerDetailIds.TICK, interval=poll_ms),
        dcc.Store(id=VolunteerDetailIds.STATE, data={"lang": lang,
                                                     "volunteer_id": volunteer_id}),
        dcc.Store(id=VolunteerDetailIds.SEEN, data=dict(seen or {})),
        dcc.Store(id=VolunteerDetailIds.CHANGED),
    ])
