"""An incident's detail page (警情详情): header, timeline against the limits, history, notices.

:func:`layout` is the page skeleton (ids in :class:`DetailIds`); :func:`body_children` builds
its content from :func:`cockpit.governance_queries.incident_detail` (or the not-found notice
when the incident is unknown), so the refresh poll can replace it whole. Upstream text
(titles, addresses, notes, notice texts) is passed as children, never as HTML.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from dash import dcc, html

from cockpit import vocab
from layouts.i18n import PLACEHOLDER, Lang, category_label, format_duration, stage_label, t
from layouts.incident_timeline import stay_label, stay_status, timeline_figure
from layouts.incidents import chip, overdue_text, stage_clock, team_text
from layouts.incidents_query import ListQuery, detail_href
from layouts.staff_page import page_header


class DetailIds(StrEnum):
    """Component ids of the incident detail page."""

    ROOT = "incd-root"
    BODY = "incd-body"
    ALERT = "incd-alert"
    TICK = "incd-tick"
    STATE = "incd-state"
    SEEN = "incd-seen"
    TIMELINE = "incd-timeline"


def stamp(iso: str | None, day: str | None = None) -> str:
    """Return ``HH:MM:SS`` of an ISO-8601 local time on ``day``, else ``YYYY-MM-DD HH:MM:SS``.

    ``day`` is a ``YYYY-MM-DD`` date (the incident's report day); None always shows the date.
    """
    if not iso:
        return PLACEHOLDER
    clock = iso[11:19]
    return clock if day and iso[:10] == day else f"{iso[:10]} {clock}"


def _table(columns: Sequence[str], rows: Sequence[Sequence[Any]], lang: Lang,
           classes: Sequence[str] = (), name: str = "") -> Any:
    if not rows:
        return html.P(t("inc_none", lang), className="incd-none")
    head = html.Thead(html.Tr([html.Th(t(c, lang)) for c in columns]))
    body = [html.Tr([html.Td(cell) for cell in row],
                    className=classes[i] if i < len(classes) else "")
            for i, row in enumerate(rows)]
    return html.Table([head, html.Tbody(body)], className=f"incd-table {name}".strip())


def _over(seconds: float | None, lang: Lang) -> Any:
    if not seconds:
        return PLACEHOLDER
    return html.Span(format_duration(seconds, lang), className="late")


def stays_table(timeline: Sequence[Mapping[str, Any]], lang: Lang, day: str | None) -> Any:
    """Return the table of stays: stage, entered, left, time spent, limit, over by."""
    rows = [[stay_label(i, s, lang), stamp(s.get("entered_at"), day),
             t("inc_current", lang) if s.get("current") else stamp(s.get("left_at"), day),
             format_duration(s.get("seconds"), lang),
             format_duration(s.get("limit_s"), lang) if s.get("limit_s") is not None
             else t("inc_no_limit", lang), _over(s.get("over_s"), lang)]
            for i, s in enumerate(timeline, start=1)]
    return _table(("inc_c_stage", "inc_c_entered", "inc_c_left", "inc_c_spent", "inc_c_limit",
                   "inc_c_over"), rows, lang,
                  [f"stay-{stay_status(s)}" for s in timeline], "incd-stays")


def _event_type(code: str | None, lang: Lang) -> str:
    return stage_label((code or "").removeprefix("incident."), lang)


def events_table(events: Sequence[Mapping[str, Any]], lang: Lang, day: str | None) -> Any:
    """Return the event history: type, occurred, received, delay, team / unit and note."""
    rows = [[_event_type(e.get("type"), lang), stamp(e.get("occurred_at"), day),
             stamp(e.get("received_at"), day), format_duration(e.get("delay_s"), lang),
             " · ".join(str(p) for p in (e.get("team"), e.get("unit"), e.get("note")) if p)
             or PLACEHOLDER] for e in events]
    return _table(("inc_c_type", "inc_c_occurred", "inc_c_received", "inc_c_delay",
                   "inc_c_detail"), rows, lang, name="incd-events")


def note_kind(kind: str, lang: Lang) -> str:
    """Return the label of a life-cycle note kind (the kind itself when unknown)."""
    key = f"inc_note_{kind}"
    try:
        return t(key, lang)
    except KeyError:
        return kind


_STAGE_WORD = re.compile(r"(?<![A-Za-z_.])(?:incident\.([a-z_]+)|("
                         + "|".join(s.value for s in vocab.Stage) + r"))(?![A-Za-z_])")
#: The machine's phrases in a note's detail and the catalogue key each is said with.
_NOTE_PHRASES = ((" after ", "note_after"), (" again", "note_again"),
                 ("reopened while ", "note_reopened_while"),
                 ("first event is ", "note_first_event"), (",", "list_sep"))


def note_detail(detail: str | None, lang: Lang) -> str:
    """Return a note's detail (``dispatched after cancelled``, ``assessed,arrived``) in ``lang``.

    Stage codes and event types become stage labels; the machine's few phrases are translated.
    """
    if not detail:
        return PLACEHOLDER
    text = detail
    for phrase, key in _NOTE_PHRASES:
        text = text.replace(phrase, t(key, lang))
    return _STAGE_WORD.sub(lambda m: stage_label(m.group(1) or m.group(2), lang), text)


def notes_table(notes: Sequence[Mapping[str, Any]], lang: Lang, day: str | None) -> Any:
    """Return the life-cycle notes; illegal moves are marked and highlighted."""
    rows = [[stamp(n.get("at"), day), _event_type(n.get("type"), lang),
             [note_kind(n.get("kind") or "", lang),
              html.Span(t("inc_illegal", lang), className="incd-illegal-mark")
              if n.get("illegal") else None],
             note_detail(n.get("detail"), lang)] for n in notes]
    return _table(("inc_c_at", "inc_c_type", "inc_c_kind", "inc_c_detail"), rows, lang,
                  ["note-illegal" if n.get("illegal") else "note-info" for n in notes],
                  "incd-notes")


def notices_table(notices: Sequence[Mapping[str, Any]], lang: Lang,
                  levels: Mapping[str, str], day: str | None) -> Any:
    """Return the notifications: kind, level, text, created, delivered, acknowledged, raised."""
    rows = []
    for n in notices:
        kind = n.get("kind") or ""
        try:
            kind_text = t(f"inc_kind_{kind}", lang)
        except KeyError:
            kind_text = kind
        delivered = " · ".join(p for p in (stamp(n.get("delivered_at"), day)
                                           if n.get("delivered_at") else None,
                                           n.get("delivered_channel")) if p)
        acked = " · ".join(p for p in (n.get("acked_by"), stamp(n.get("acked_at"), day)
                                       if n.get("acked_at") else None,
                                       n.get("ack_channel")) if p)
        rows.append([kind_text, levels.get(n.get("level") or "", n.get("level") or PLACEHOLDER),
                     (n.get("text_en") if lang == "en" else n.get("text_zh")) or PLACEHOLDER,
                     stamp(n.get("created_at"), day), delivered or PLACEHOLDER,
                     acked or PLACEHOLDER, stamp(n.get("escalated_at"), day)])
    return _table(("inc_c_kind", "inc_c_level", "inc_c_text", "inc_c_created",
                   "inc_c_delivered", "inc_c_acked", "inc_c_escalated"), rows, lang,
                  ["notice-acked" if n.get("acked_at") else "notice-open" for n in notices],
                  "incd-notices")


def escalations_table(escalations: Sequence[Mapping[str, Any]], lang: Lang,
                      levels: Mapping[str, str], day: str | None) -> Any:
    """Return the escalation steps: stage, level, when it was due and when it was raised."""
    rows = [[stage_label(e.get("stage"), lang), levels.get(e.get("level") or "",
                                                            e.get("level") or PLACEHOLDER),
             stamp(e.get("due_at"), day), stamp(e.get("raised_at"), day)] for e in escalations]
    return _table(("inc_c_stage", "inc_c_level", "inc_c_due", "inc_c_raised"), rows, lang,
                  name="incd-escalations")


def repeats_block(detail: Mapping[str, Any], query: ListQuery, lang: Lang,
                  villages: Mapping[str, str]) -> Any:
    """Return the repeat group: its size and a link to each other member."""
    members = detail.get("repeats") or []
    if not members:
        return html.P(t("inc_none", lang), className="incd-none")
    rows = [[dcc.Link(m["incident_id"], href=detail_href(m["incident_id"], query, lang),
                      className="incd-repeat-link"),
             stamp(m.get("reported_at")), stage_label(m.get("stage"), lang),
             villages.get(m.get("village_code") or "", PLACEHOLDER),
             m.get("title") or m.get("address") or PLACEHOLDER] for m in members]
    return [html.P(t("inc_repeat_size", lang, n=detail.get("repeat_size") or len(members) + 1),
                   className="incd-repeat-size"),
            _table(("inc_c_incident", "inc_col_reported", "inc_c_stage", "inc_col_village",
                    "inc_h_title"), rows, lang, name="incd-repeats")]


def _fact(label_key: str, value: Any, lang: Lang) -> html.Div:
    return html.Div(className="incd-fact", children=[
        html.Dt(t(label_key, lang)), html.Dd(value if value not in (None, "") else PLACEHOLDER)])


def _section(title_key: str, body: Any, lang: Lang, name: str) -> html.Section:
    # children must be flat: dash-renderer does not render components inside nested lists
    return html.Section(className=f"incd-section incd-{name}", children=[
        html.H2(t(title_key, lang), className="incd-section-title"),
        *(body if isinstance(body, list) else [body])])


def header_block(detail: Mapping[str, Any], lang: Lang, now: datetime,
                 villages: Mapping[str, str], teams: Mapping[str, str],
                 levels: Sequence[tuple[str, str]]) -> html.Div:
    """Return the incident's header: category, chips, place, teams, due time and counts."""
    _, late = stage_clock(detail, now)
    late_text, late_class = overdue_text(late, lang)
    assigned, suggested = detail.get("assigned_team"), detail.get("suggested_team")
    team = team_text(assigned, teams)
    if suggested and team == team_text(suggested, teams):
        team += t("inc_same_as_suggested", lang)
    level = int(detail.get("escalation_level") or 0)
    level_text = levels[min(level, len(levels)) - 1][1] if level and levels \
        else t("inc_level_none", lang)
    due = [stamp(detail.get("due_at")), " ", html.Span(late_text, className=late_class),
           f" ({format_duration(detail['limit_s'], lang)})" if detail.get("limit_s") else ""] \
        if detail.get("due_at") else t("inc_no_limit", lang)
    counts = " / ".join(str(detail.get(k) or 0)
                        for k in ("reopen_count", "illegal_count", "late_count"))
    category = detail.get("category")
    return html.Div(className="incd-head", children=[
        html.Div(className="incd-head-line", children=[
            html.H2([category_label(category, lang), " · ",
                     html.Span(detail["incident_id"], className="incd-id")],
                    className="incd-name"),
            chip(vocab.label(vocab.PRIORITY_TERMS, detail.get("priority") or "", lang)
                 or PLACEHOLDER, vocab.PRIORITY_TERMS, detail.get("priority")),
            chip(stage_label(detail.get("stage"), lang), vocab.STAGE_TERMS, detail.get("stage")),
            html.Span(late_text, className="incd-late-badge") if late_class == "late" else None,
        ]),
        html.Dl(className="incd-facts", children=[
            _fact("inc_h_title", detail.get("title"), lang),
            _fact("inc_h_village", villages.get(detail.get("village_code") or ""), lang),
            _fact("inc_h_address", detail.get("address"), lang),
            _fact("inc_h_reported", stamp(detail.get("reported_at")), lang),
            _fact("inc_h_team", team, lang),
            _fact("inc_h_suggested", team_text(suggested, teams), lang),
            _fact("inc_h_due", due, lang),
            _fact("inc_h_escalation", level_text, lang),
            _fact("inc_h_counts", counts, lang),
            _fact("inc_h_source", detail.get("source"), lang),
        ]),
    ])


def body_children(detail: Mapping[str, Any] | None, incident_id: str, lang: Lang, *,
                  now: datetime, query: ListQuery, villages: Mapping[str, str],
                  teams: Mapping[str, str], levels: Sequence[tuple[str, str]]) -> list:
    """Return the detail page's content, or the not-found notice when ``detail`` is None.

    Parameters
    ----------
    detail : dict or None
        :func:`cockpit.governance_queries.incident_detail`.
    incident_id : str
        The id asked for (shown when not found).
    now : datetime
        Aware; lateness is measured to it.
    query : ListQuery
        The list view the page was opened from (links carry it).
    villages, teams : mapping
        Code -> display name.
    levels : sequence of (code, label)
        The escalation ladder in order.
    """
    if detail is None:
        return [html.Div(className="incd-not-found", children=[
            html.H2(t("inc_not_found", lang, id=incident_id)),
            html.P(t("inc_not_found_hint", lang)),
            dcc.Link(t("inc_back", lang), href=query.href(lang), className="incd-back")])]
    day = (detail.get("reported_at") or "")[:10] or None
    by_code = dict(levels)
    timeline = detail.get("timeline") or []
    figure = timeline_figure(timeline, lang)
    graph = dcc.Graph(id=DetailIds.TIMELINE, figure=figure, className="incd-graph",
                      config={"displayModeBar": False, "responsive": True},
                      style={"height": f"{figure['layout']['height']}px"})
    return [
        header_block(detail, lang, now, villages, teams, levels),
        _section("inc_sec_timeline", [graph, stays_table(timeline, lang, day)], lang,
                 "timeline"),
        html.Div(className="incd-columns", children=[
            _section("inc_sec_events", events_table(detail.get("events") or [], lang, day),
                     lang, "events"),
            _section("inc_sec_notes", notes_table(detail.get("notes") or [], lang, day),
                     lang, "notes")]),
        _section("inc_sec_notices", notices_table(detail.get("notifications") or [], lang,
                                                  by_code, day), lang, "notices"),
        html.Div(className="incd-columns", children=[
            _section("inc_sec_escalations", escalations_table(
                detail.get("escalations") or [], lang, by_code, day), lang, "escalations"),
            _section("inc_sec_repeats", repeats_block(detail, query, lang, villages), lang,
                     "repeats")]),
    ]


def layout(lang: Lang, incident_id: str, body: list, *, query: ListQuery, alert: str = "",
           poll_ms: int = 2000, seen: Mapping[str, Any] | None = None,
           caller: Any = None) -> html.Div:
    """Return the detail page around ``body`` (:func:`body_children`).

    Parameters
    ----------
    lang : {"zh", "en"}
        Language.
    incident_id : str
        The incident shown; kept for the refresh poll.
    body : list
        The page's content.
    query : ListQuery
        The list view to go back to.
    alert : str
        Data-source error text, empty when fine.
    poll_ms : int
        Period of the refresh poll, milliseconds.
    seen : mapping, optional
        What the page was rendered from (the poll's ``SEEN`` store).
    caller : Component, optional
        The caller block (:func:`layouts.personal.reporter_block`), outside the refreshed body.
    """
    other = "zh" if lang == "en" else "en"
    return html.Div(id=DetailIds.ROOT, className=f"inc-page incd-page lang-{lang}", lang=lang,
                    children=[
        page_header(lang, t("inc_detail_title", lang), detail_href(incident_id, query, other)),
        html.Main(className="inc-main", children=[
            dcc.Link(["← ", t("inc_back", lang)], href=query.href(lang),
                     className="incd-back"),
            html.Div(alert, id=DetailIds.ALERT, className="inc-alert", role="alert"),
            *([caller] if caller is not None else []),
            html.Div(body, id=DetailIds.BODY, className="incd-body"),
        ]),
        dcc.Interval(id=DetailIds.TICK, interval=poll_ms),
        dcc.Store(id=DetailIds.STATE, data={"lang": lang, "incident_id": incident_id,
                                            "params": query.params()}),
        dcc.Store(id=DetailIds.SEEN, data=dict(seen or {})),
    ])

