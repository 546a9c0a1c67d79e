"""The 动员 section's acts for roles that may mobilise: the request form and the re-call cards.

:func:`section` is placed on the mobilisation section of ``/volunteers`` above its board
(:func:`with_section`). The form is rendered once and keeps its values; the cards (one per
mobilisation on show, each with its funnel, its re-calls and the 再次动员 button) are replaced
when the page's data moves. Builders are pure; :class:`MobilizeIds` declares the ids.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from dash import dcc, html

from cockpit.volunteers.request import IN_MINUTES, MAX_COUNT
from layouts.i18n import PLACEHOLDER, Lang, format_count, format_duration, t
from layouts.staff_page import filter_field
from layouts.volunteers import View, VolunteersIds, panel, when
from layouts.volunteers_sections import funnel_bar

#: The deadline chosen when the form opens, minutes from now.
DEFAULT_MINUTES = 30
#: A re-call button of a lagging mobilisation, and one that cannot be used (inline: the
#: volunteers page's stylesheet has no rule for them yet).
LAG_STYLE = {"color": "#ffffff", "background": "rgba(255, 77, 79, 0.35)",
             "borderColor": "#ff4d4f", "fontWeight": 700}
DISABLED_STYLE = {"opacity": 0.45, "cursor": "not-allowed"}


class MobilizeIds(StrEnum):
    """Component ids of the request form and the re-call cards."""

    SECTION = "vmob-section"
    VILLAGE = "vmob-village"
    COUNT = "vmob-count"
    SKILLS = "vmob-skills"
    SKILLS_TEXT = "vmob-skills-text"
    MINUTES = "vmob-minutes"
    AT = "vmob-at"
    WHAT = "vmob-what"
    PLACE = "vmob-place"
    SUBMIT = "vmob-submit"
    #: The form's one-submission token (a uuid4's hex), renewed after each request sent.
    TOKEN = "vmob-token"
    SENT = "vmob-sent"
    CARDS = "vmob-cards"
    RECALLED = "vmob-recalled"
    #: Type of the re-call buttons: ``{"type", "key"}`` (pattern-matching; key: the id).
    RECALL = "vmob-recall"


def request_form(lang: Lang, villages: Sequence[tuple[str, str]], skills: Sequence[str],
                 token: str) -> html.Section:
    """The 发起动员 form: village, count, skills, deadline, what for and where.

    Parameters
    ----------
    villages : sequence of (code, name)
        The villages the viewer may ask for (a staff account: its own); one is preselected
        when it is the only one.
    skills : sequence of str
        Skills in the registry (more may be typed).
    token : str
        The submission token (:attr:`MobilizeIds.TOKEN`).
    """
    minutes = [{"value": str(n), "label": t("vol_req_in_n", lang, n=n)} for n in IN_MINUTES]
    controls = html.Div(className="inc-filters vp-filters vp-request-form", children=[
        filter_field(t("inc_f_village", lang), dcc.Dropdown(
            id=MobilizeIds.VILLAGE, options=[{"value": c, "label": n} for c, n in villages],
            value=villages[0][0] if len(villages) == 1 else None, clearable=False,
            searchable=True, placeholder=t("vol_req_err_village", lang),
            className="inc-dropdown")),
        filter_field(t("vol_req_count", lang), dcc.Input(
            id=MobilizeIds.COUNT, type="number", min=1, max=MAX_COUNT, step=1,
            placeholder="1–10000", className="inc-input")),
        filter_field(t("vol_req_skills", lang), dcc.Dropdown(
            id=MobilizeIds.SKILLS, options=[{"value": s, "label": s} for s in skills],
            multi=True, searchable=True, placeholder=t("vol_req_skills_any", lang),
            className="inc-dropdown"), wide=True),
        filter_field(t("vol_req_skills_more", lang), dcc.Input(
            id=MobilizeIds.SKILLS_TEXT, type="text", maxLength=200, debounce=False,
            className="inc-input")),
        filter_field(t("vol_req_in", lang), dcc.Dropdown(
            id=MobilizeIds.MINUTES, options=minutes, value=str(DEFAULT_MINUTES),
            clearable=False, searchable=False, className="inc-dropdown")),
        filter_field(t("vol_req_at", lang), dcc.Input(
            id=MobilizeIds.AT, type="datetime-local", className="inc-input")),
        filter_field(t("vol_req_what", lang), dcc.Input(
            id=MobilizeIds.WHAT, type="text", maxLength=200,
            placeholder=t("vol_req_what_hint", lang), className="inc-input"), wide=True),
        filter_field(t("vol_req_place", lang), dcc.Input(
            id=MobilizeIds.PLACE, type="text", maxLength=200,
            placeholder=t("vol_req_place_hint", lang), className="inc-input"), wide=True),
        html.Button(t("vol_req_submit", lang), id=MobilizeIds.SUBMIT, n_clicks=0,
                    className="vp-btn vp-btn-request"),
    ])
    return panel(t("vol_req_title", lang), [
        controls, html.Div(id=MobilizeIds.SENT, className="vp-message", role="status"),
        dcc.Store(id=MobilizeIds.TOKEN, data=token)], "request",
        html.Span(t("vol_req_hint", lang), className="vp-panel-count"))


def _time_left(item: Mapping[str, Any], lang: Lang) -> str:
    left = item.get("seconds_left")
    if left is None:
        return PLACEHOLDER
    return t("vol_mob_left", lang, d=format_duration(left, lang)) if left > 0 \
        else t("vol_mob_closed", lang)


def recall_button(item: Mapping[str, Any], lang: Lang) -> html.Button:
    """Return the 再次动员 button of a card.

    Highlighted when the funnel lags; disabled past the deadline or with nobody waiting (its
    title says why).
    """
    closed = (item.get("seconds_left") or 0) <= 0
    waiting = int(item.get("unanswered") or 0)
    why = t("vol_recall_err_deadline", lang) if closed else \
        t("vol_recall_err_answered", lang) if not waiting else None
    lag = bool(item.get("lag")) and why is None
    style = DISABLED_STYLE if why else LAG_STYLE if lag else None
    return html.Button(
        t("vol_recall", lang), id={"type": str(MobilizeIds.RECALL),
                                   "key": item["mobilization_id"]},
        n_clicks=0, disabled=why is not None, title=why or "", style=style,
        className="vp-btn vp-btn-recall" + (" lag" if lag else ""))


def recall_card(item: Mapping[str, Any], view: View) -> html.Article:
    """One mobilisation: title, village, its funnel, time left, re-calls and the button."""
    lang = view.lang
    mid = item["mobilization_id"]
    facts = [("vol_mob_needed", item.get("needed")), ("vol_mob_accepted", item.get("accepted")),
             ("vol_mob_arrived", item.get("arrived")),
             ("vol_mob_unanswered", item.get("unanswered"))]
    count = int(item.get("recall_count") or 0)
    recalls = t("vol_recall_last", lang, n=count, at=when(item.get("recalled_at"))) \
        if count else t("vol_recall_never", lang)
    chips = [html.Span(t("vol_mob_lag", lang), className="vp-chip vp-lag")] \
        if item.get("lag") else []
    return html.Article(className="vp-campaign vp-mob-card" + (" lag" if item.get("lag")
                                                               else ""),
                        **{"data-mob": mid}, children=[
        html.H3([item.get("title") or mid, html.Small(mid, className="vp-muted"), *chips],
                className="vp-campaign-title"),
        html.P([view.village(item.get("village_code")), " · ",
                t("vol_mob_deadline", lang), " ", when(item.get("deadline")), " · ",
                _time_left(item, lang)], className="vp-muted vp-mob-when"),
        html.Dl([html.Div([html.Dt(t(k, lang)), html.Dd(format_count(v or 0))],
                          className="vp-stat") for k, v in facts], className="vp-stats"),
        funnel_bar(item, lang),
        html.Div(className="vp-decide vp-mob-recall", children=[
            recall_button(item, lang),
            html.Span(recalls, className="vp-muted vp-recalls")]),
    ])


def recall_cards(board: Sequence[Mapping[str, Any]], view: View) -> list:
    """The cards of the mobilisations on show, or a line saying there are none."""
    if not board:
        return [html.P(t("vol_recall_open_none", view.lang), className="vp-none")]
    return [recall_card(item, view) for item in board]


def section(lang: Lang, form: Any, cards: list) -> html.Div:
    """The form, then the re-call panel (its message and the cards)."""
    return html.Div(id=MobilizeIds.SECTION, className="vp-mobilize", children=[
        form,
        panel(t("vol_recall_board", lang), [
            html.Div(id=MobilizeIds.RECALLED, className="vp-message", role="status"),
            html.Div(cards, id=MobilizeIds.CARDS, className="vp-campaigns")], "recall"),
    ])


def with_section(page: html.Div, part: Any) -> html.Div:
    """Return ``page`` (:func:`layouts.volunteers.layout`) with ``part`` above its body.

    ``part`` goes before the page's message line; a page without one is returned unchanged.
    """
    for node in page.children or []:
        children = getattr(node, "children", None)
        if not isinstance(children, list):
            continue
        ids = [getattr(child, "id", None) for child in children]
        if VolunteersIds.MESSAGE in ids:
            children.insert(ids.index(VolunteersIds.MESSAGE), part)
            return page
    return page
