"""The volunteers page's mobilisation, assessment and recruitment sections, and their figures.

:func:`body_children` builds the body of any section (the registry's is in
:mod:`layouts.volunteers`, the merge queue's in :mod:`layouts.volunteers_merges`). Every builder
is pure: it takes the read models of :mod:`cockpit.volunteers` and returns components or figure
dicts (never ``go.Figure``). Upstream text (titles, names, team names) is passed as children,
never as HTML.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from dash import dcc, html

from layouts.figures import ACCENT, FONT_FAMILY, MUTED_COLOR, TEXT_COLOR, plain
from layouts.i18n import PLACEHOLDER, Lang, format_count, format_duration, join, t
from layouts.volunteers import (
    View,
    VolunteersIds,
    kind_label,
    or_dash,
    panel,
    platform_label,
    record_link,
    registry_children,
    table,
    when,
)
from layouts.volunteers_merges import merges_children
from layouts.volunteers_query import VolunteersQuery

GRID = "rgba(127, 156, 192, 0.16)"
GRADE_COLORS = {"excellent": "#3ddc97", "good": "#00e5ff", "pass": "#4ea8ff", "none": "#7f9cc0"}


def _figure_layout(height: int, **extra: Any) -> dict[str, Any]:
    return {"height": height, "margin": {"l": 48, "r": 16, "t": 12, "b": 36},
            "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
            "font": {"family": FONT_FAMILY, "color": TEXT_COLOR, "size": 12},
            "showlegend": False, "hovermode": "closest", **extra}


def _graph(figure: dict[str, Any], name: str) -> dcc.Graph:
    return dcc.Graph(figure=figure, className=f"vp-graph vp-graph-{name}",
                     config={"displayModeBar": False, "responsive": True, "staticPlot": False},
                     style={"height": f"{figure['layout']['height']}px"})


# -- mobilisations ---------------------------------------------------------------------------
def mobilization_controls(query: VolunteersQuery, lang: Lang) -> html.Div:
    """Mobilisations on show, or every one (a link that toggles)."""
    other = replace(query, every=not query.every, mob=None)
    return html.Div(className="vp-toolbar", children=[
        html.Span(t("vol_mob_every" if query.every else "vol_mob_on_show", lang),
                  className="vp-toolbar-text"),
        dcc.Link(t("vol_mob_show_on_show" if query.every else "vol_mob_show_every", lang),
                 href=other.href(lang), className="vp-toolbar-link")])


def _time_left(item: Mapping[str, Any], lang: Lang) -> str:
    left = item.get("seconds_left")
    if left is None:
        return PLACEHOLDER
    return t("vol_mob_left", lang, d=format_duration(left, lang)) if left > 0 \
        else t("vol_mob_closed", lang)


def funnel_bar(item: Mapping[str, Any], lang: Lang) -> html.Div:
    """A bar of accepted and arrived against the number needed, with the schedule's mark."""
    needed = max(int(item.get("needed") or 0), 1)

    def width(n: float) -> str:
        return f"{min(100.0, 100.0 * n / needed):.1f}%"
    return html.Div(className="vp-funnel", title=t(
        "vol_mob_bar_title", lang, accepted=item.get("accepted") or 0,
        arrived=item.get("arrived") or 0, needed=item.get("needed") or 0), children=[
        html.Div(className="vp-funnel-accepted", style={"width": width(item.get("accepted")
                                                                         or 0)}),
        html.Div(className="vp-funnel-arrived", style={"width": width(item.get("arrived")
                                                                        or 0)}),
        html.Div(className="vp-funnel-expected", style={"left": width(item.get("expected")
                                                                        or 0)})])


def _mob_state(item: Mapping[str, Any], lang: Lang) -> Any:
    marks = []
    if item.get("lag"):
        marks.append(html.Span(t("vol_mob_lag", lang), className="vp-chip vp-lag"))
    if item.get("filled"):
        marks.append(html.Span(t("vol_mob_filled", lang), className="vp-chip vp-filled"))
    if item.get("recall_count"):
        marks.append(html.Span(t("vol_mob_recalled", lang, n=item["recall_count"]),
                               className="vp-chip vp-recalled",
                               title=when(item.get("recalled_at"))))
    if item.get("simulated"):
        marks.append(html.Span(t("vol_simulated", lang), className="vp-chip vp-sim"))
    return marks or t("vol_mob_running", lang)


def mobilization_children(models: Mapping[str, Any], query: VolunteersQuery,
                          view: View) -> list:
    """The mobilisation board (a funnel each) and who has not answered the one chosen.

    Names are masked; the reveal panel shows them unmasked to staff.
    """
    lang = view.lang
    board = models.get("board") or []
    rows, classes = [], []
    for item in board:
        mid = item["mobilization_id"]
        chosen = mid == query.mob
        link = html.Span(dcc.Link(
            t("vol_mob_unanswered_link", lang, n=item.get("unanswered") or 0),
            href=replace(query, mob=None if chosen else mid).href(lang),
            className="vp-mob-link"), **{"data-mob": mid})
        rows.append([html.Span([html.B(item.get("title") or mid), html.Br(),
                                html.Small(mid, className="vp-muted")]),
                     view.village(item.get("village_code")), item.get("needed"),
                     item.get("asked"), item.get("accepted"), item.get("arrived"),
                     item.get("declined"), funnel_bar(item, lang), when(item.get("deadline")),
                     _time_left(item, lang), _mob_state(item, lang), link])
        classes.append(" ".join(c for c in ("vp-mob-row", "chosen" if chosen else "",
                                            "lag" if item.get("lag") else "") if c))
    out = [panel(t("vol_mob_board", lang), table(
        ("vol_mob_title", "vol_col_village", "vol_mob_needed", "vol_mob_asked",
         "vol_mob_accepted", "vol_mob_arrived", "vol_mob_declined", "vol_mob_funnel",
         "vol_mob_deadline", "vol_mob_time_left", "vol_mob_state", "vol_mob_unanswered"),
        rows, lang, "vp-mob-board", classes, empty="vol_mob_none"), "board")]
    if query.mob:
        people = models.get("unanswered")
        if people is None:
            out.append(panel(t("vol_mob_people", lang, id=query.mob),
                             html.P(t("vol_mob_unknown", lang), className="vp-none"),
                             "unanswered"))
        else:
            out.append(panel(t("vol_mob_people", lang, id=query.mob),
                             people_table(people, view, reveal=False), "unanswered",
                             html.Span(t("vol_mob_people_n", lang, n=len(people)),
                                       className="vp-panel-count")))
    return out


def people_table(people: Sequence[Mapping[str, Any]], view: View, reveal: bool) -> Any:
    """Who has not answered: id, name, phone, team, village, skills, platform and its id."""
    lang = view.lang
    rows = [[record_link(p.get("volunteer_id"), lang), or_dash(p.get("name")),
             html.Span(or_dash(p.get("phone")), className="vp-phone"), or_dash(p.get("team")),
             view.village(p.get("village_code")), join(p.get("skills") or [], lang) or PLACEHOLDER,
             f"{platform_label(p.get('platform'), lang)} · {p.get('source_id')}"]
            for p in people]
    return table(("vol_col_id", "vol_col_name", "vol_col_phone", "vol_col_team",
                  "vol_col_village", "vol_col_skills", "vol_col_source"), rows, lang,
                 "vp-people" + (" vp-people-revealed" if reveal else ""),
                 empty="vol_mob_all_answered")


# -- assessment ------------------------------------------------------------------------------
def month_picker(months: Sequence[str], month: str | None, lang: Lang) -> html.Div:
    """The assessment's month dropdown (months with ledger entries, newest first)."""
    return html.Div(className="inc-filters vp-filters", children=[
        html.Div(className="inc-field", children=[
            html.Span(t("vol_month", lang), className="inc-field-label"),
            dcc.Dropdown(id=VolunteersIds.MONTH, options=[{"value": m, "label": m}
                                                           for m in months],
                         value=month, clearable=False, searchable=False,
                         placeholder=t("vol_month_none", lang), className="inc-dropdown")]),
        html.Span(t("vol_assess_hint", lang), className="vp-toolbar-text")])


def grade_figure(grades: Sequence[Mapping[str, Any]], lang: Lang) -> dict[str, Any]:
    """Volunteers per monthly grade as a bar figure dict (highest grade first)."""
    labels = [plain(g.get("en") if lang == "en" else g.get("zh")) for g in grades]
    counts = [int(g.get("volunteers") or 0) for g in grades]
    return {"data": [{
        "type": "bar", "x": labels, "y": counts, "text": [format_count(n) for n in counts],
        "textposition": "outside", "cliponaxis": False, "hoverinfo": "x+y", "uid": "grades",
        "marker": {"color": [GRADE_COLORS.get(g.get("code"), ACCENT) for g in grades]}}],
        "layout": _figure_layout(220, xaxis={"type": "category", "color": MUTED_COLOR},
                                 yaxis={"rangemode": "tozero", "gridcolor": GRID,
                                        "color": MUTED_COLOR, "title": {
                                            "text": t("vol_people_axis", lang)}})}


def assessment_children(models: Mapping[str, Any], view: View) -> list:
    """Grade distribution, the teams table and the leaderboard (names always masked)."""
    lang = view.lang
    result = models.get("assessment")
    if not result:
        return [html.P(t("vol_assess_empty", lang), className="vp-none")]
    grades = result.get("grades") or []
    legend = [html.Li([html.Span(g.get("en") if lang == "en" else g.get("zh"),
                                 className=f"vp-grade vp-grade-{g.get('code')}"),
                       f" ≥ {g.get('min_points')} " + t("vol_points_unit", lang)
                       if g.get("code") != "none" else "",
                       html.B(format_count(g.get("volunteers") or 0))]) for g in grades]
    teams = [[or_dash(r.get("team")), kind_label(r.get("team_kind"), lang), r.get("members"),
              r.get("active_members"), format_count(r.get("points") or 0),
              f"{r.get('verified_hours') or 0:g}", f"{r.get('points_per_member') or 0:g}",
              f"{100 * (r.get('active_share') or 0):.0f}%"] for r in result.get("teams") or []]
    board = [[r.get("rank"), record_link(r.get("volunteer_id"), lang), or_dash(r.get("name")),
              or_dash(r.get("team")), view.village(r.get("village_code")),
              format_count(r.get("points") or 0), f"{r.get('verified_hours') or 0:g}",
              _grade_text(r.get("grade"), grades, lang)] for r in models.get("leaders") or []]
    return [
        html.Div(className="vp-columns", children=[
            panel(t("vol_grades", lang, month=result.get("month")), [
                _graph(grade_figure(grades, lang), "grades"),
                html.Ul(legend, className="vp-grade-list")], "grades",
                html.Span(t("vol_assess_earned", lang, n=result.get("volunteers") or 0),
                          className="vp-panel-count")),
            panel(t("vol_leaderboard", lang), table(
                ("vol_rank", "vol_col_id", "vol_col_name", "vol_col_team", "vol_col_village",
                 "vol_col_points", "vol_col_hours", "vol_grade"), board, lang,
                "vp-leaderboard"), "leaderboard",
                html.Span(t("vol_leaderboard_masked", lang), className="vp-panel-count"))]),
        panel(t("vol_teams", lang), table(
            ("vol_col_team", "vol_col_kind", "vol_members", "vol_active_members",
             "vol_col_points", "vol_col_hours", "vol_points_per_member", "vol_active_share"),
            teams, lang, "vp-teams"), "teams"),
    ]


def _grade_text(code: str | None, grades: Sequence[Mapping[str, Any]], lang: Lang) -> str:
    for g in grades:
        if g.get("code") == code:
            return g.get("en") if lang == "en" else g.get("zh")
    return PLACEHOLDER


# -- recruitment -----------------------------------------------------------------------------
def trend_figure(trend: Sequence[Mapping[str, Any]], lang: Lang) -> dict[str, Any]:
    """Sign-ups per local day as a bar figure dict."""
    return {"data": [{
        "type": "bar", "x": [d["date"] for d in trend], "y": [d["count"] for d in trend],
        "marker": {"color": ACCENT, "opacity": 0.85}, "hoverinfo": "x+y", "uid": "signups"}],
        "layout": _figure_layout(170, bargap=0.25, xaxis={
            "type": "date", "color": MUTED_COLOR, "tickformat": "%m-%d", "gridcolor": GRID},
            yaxis={"rangemode": "tozero", "gridcolor": GRID, "color": MUTED_COLOR,
                   "title": {"text": t("vol_signups_axis", lang)}})}


def recruitment_children(models: Mapping[str, Any], view: View) -> list:
    """One card per campaign: total, target, share reached, today and the daily trend."""
    lang = view.lang
    campaigns = models.get("campaigns") or []
    if not campaigns:
        return [html.P(t("vol_campaigns_none", lang), className="vp-none")]
    cards = []
    for c in campaigns:
        target = c.get("target")
        share = f"{100 * c['total'] / target:.1f}%" if target else PLACEHOLDER
        facts = [("vol_camp_total", format_count(c.get("total"))),
                 ("vol_camp_target", format_count(target) if target else PLACEHOLDER),
                 ("vol_camp_share", share), ("vol_camp_today", format_count(c.get("today")))]
        cards.append(html.Article(className="vp-campaign", **{"data-campaign": c["campaign_id"]},
                                  children=[
            html.H3([c.get("title") or c["campaign_id"],
                     html.Small(c["campaign_id"], className="vp-muted")],
                    className="vp-campaign-title"),
            html.Dl([html.Div([html.Dt(t(k, lang)), html.Dd(v)], className="vp-stat")
                     for k, v in facts], className="vp-stats"),
            html.Div(className="vp-progress", children=html.Div(
                className="vp-progress-bar",
                style={"width": f"{min(100.0, 100 * c['total'] / target):.1f}%"
                       if target else "0%"})),
            _graph(trend_figure(c.get("trend") or [], lang), "trend"),
            html.P(t("vol_camp_span", lang, first=when(c.get("first_at")),
                     last=when(c.get("last_at"))), className="vp-muted")]))
    return [html.Div(cards, className="vp-campaigns")]


def body_children(models: Mapping[str, Any], query: VolunteersQuery, view: View) -> list:
    """The body of the section ``query.tab`` from its read models."""
    builders = {
        "registry": lambda: registry_children(models, query, view),
        "mobilization": lambda: mobilization_children(models, query, view),
        "assessment": lambda: assessment_children(models, view),
        "recruitment": lambda: recruitment_children(models, view),
        "merges": lambda: merges_children(models, view),
    }
    return builders.get(query.tab, builders["registry"])()
