"""The wall's governance panels: overdue board, live ticker, announcement banner, drill links.

:class:`GovIds` declares the ids of these panels once; :mod:`layouts.wall` places them and
``callbacks/wall.py`` fills them. The data-shaping functions (:func:`overdue_rows`,
:func:`ticker_items`, :func:`announce_queue`) return plain dicts; the builders return
components. Upstream text is passed as children (escaped by React), never as HTML.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode

from dash import dcc, html

from cockpit import vocab
from layouts.figures import chip_style, local_time
from layouts.i18n import PLACEHOLDER, Lang, category_label, format_count, stage_label, t
from layouts.incidents_query import LIST_PATH, incident_href, with_lang

#: Rows of the overdue board: as many as fit it at 1920×1080 with the "N more" line below them
#: (assets/wall.css); the rest are counted in its total and that line.
OVERDUE_ROWS = 5
#: Entries of the live ticker.
TICKER_ITEMS = 12
#: Escalation notices older than this (before the read models' time) leave the ticker, s.
TICKER_NOTICE_S = 3600
TICKER_NOTICE_KINDS = frozenset({"overdue", "unacknowledged"})


class GovIds(StrEnum):
    """Component ids of the wall's governance panels."""

    OVERDUE = "wall-overdue"
    OVERDUE_TOTAL = "wall-overdue-total"
    TICKER = "wall-ticker"
    ANNOUNCE = "wall-announce"
    ANNOUNCE_PRIORITY = "wall-announce-priority"
    ANNOUNCE_TEXT = "wall-announce-text"
    ANNOUNCE_MORE = "wall-announce-more"
    ANNOUNCE_NOTE = "wall-announce-note"
    ACK = "wall-ack"
    ACK_ALL = "wall-ack-all"
    SOUND = "wall-sound"
    SOUND_ENABLE = "wall-sound-enable"
    QUEUE = "wall-announce-queue"
    ACK_REQUEST = "wall-ack-request"
    ACK_DONE = "wall-ack-done"
    NAVIGATE = "wall-navigate"


def detail_template(lang: Lang = "zh") -> str:
    """Return the detail page's address with ``{id}`` for the (URL-encoded) incident id."""
    return with_lang(f"{LIST_PATH}/{{id}}", lang)


def village_template(lang: Lang = "zh") -> str:
    """Return the list of one village's open incidents with ``{code}`` for the village code."""
    return list_href(lang, stage="open", village="CODE").replace("CODE", "{code}")


def list_href(lang: Lang = "zh", **filters: str) -> str:
    """Return the address of the incident list filtered by ``filters`` (``stage=...`` ...)."""
    query = {**filters, **({"lang": "en"} if lang == "en" else {})}
    return f"{LIST_PATH}?{urlencode(query)}"


def village_span(code: str | None, villages: Mapping[str, str], schematic: Collection[str],
                 lang: Lang) -> html.Span:
    """Return a village's name; a schematic one carries its marker, never cut off."""
    name = villages.get(code or "")
    mark = html.Span(t("schematic", lang).strip(), className="schematic-mark") \
        if name and code in schematic else None
    return html.Span(className="latest-village", children=[
        html.Span(name or PLACEHOLDER, className="latest-village-name"), mark])


def late_text(seconds: float | None, lang: Lang = "zh") -> str:
    """Return how late an incident is: ``超时 40秒``, ``超时 12分``, ``超时 1时05分``.

    A day or more reads ``超时 2天3时``; English ``12 min late``.

    Parameters
    ----------
    seconds : float or None
        Seconds past the limit of the current stage (``late_s`` of the overdue board); whole
        seconds, minutes, hours are shown, rounded down. None, NaN or negative give ``—``.
    lang : {"zh", "en"}
        Language of the units.
    """
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return PLACEHOLDER
    total = int(seconds)
    if total < 60:
        return t("gw_late_s", lang, n=total)
    if total < 3600:
        return t("gw_late_m", lang, n=total // 60)
    if total < 86400:
        return t("gw_late_h", lang, h=total // 3600, m=(total % 3600) // 60)
    return t("gw_late_d", lang, d=total // 86400, h=(total % 86400) // 3600)


def overdue_rows(items: Sequence[Mapping[str, Any]], levels: Sequence[tuple[str, str]] = (),
                 lang: Lang = "zh") -> list[dict[str, Any]]:
    """Shape the overdue board's items for display, most overdue first (the query's order).

    Parameters
    ----------
    items : sequence of dict
        ``items`` of :func:`cockpit.governance_queries.overdue`: incident dicts with
        ``late_s`` (seconds past the stage's limit) and ``escalation_level`` (rungs raised).
    levels : sequence of (zh, en)
        Labels of the escalation ladder's rungs, first rung first.
    lang : {"zh", "en"}
        Language of the labels.

    Returns
    -------
    list of dict
        ``incident_id``, ``category`` and ``stage`` (codes), ``title``, ``village_code``,
        ``late`` (:func:`late_text`), ``level`` (label of the highest rung raised, or None)
        and ``severity`` (1-3: not yet raised or first rung, second rung, third and above).
    """
    rows = []
    for item in items:
        raised = int(item.get("escalation_level") or 0)
        level = None
        if 0 < raised <= len(levels):
            zh, en = levels[raised - 1]
            level = t("gw_level", lang, level=en if lang == "en" else zh)
        rows.append({"incident_id": item["incident_id"],
                     "category": item.get("category") or "other",
                     "stage": item.get("stage") or "", "title": item.get("title"),
                     "village_code": item.get("village_code"),
                     "late": late_text(item.get("late_s"), lang), "level": level,
                     "severity": min(max(raised, 1), 3)})
    return rows


def ticker_items(incidents: Iterable[Mapping[str, Any]],
                 notices: Iterable[Mapping[str, Any]] = (), as_of: str | None = None,
                 lang: Lang = "zh", limit: int = 12) -> list[dict[str, Any]]:
    """Return the live ticker's entries: latest stage changes and escalations, newest first.

    Parameters
    ----------
    incidents : iterable of dict
        Incident dicts (``stage_at`` ISO-8601), in any order.
    notices : iterable of dict
        :func:`cockpit.governance_queries.list_notifications` rows; only escalations
        (``overdue``, ``unacknowledged``) of the last :data:`TICKER_NOTICE_S` before
        ``as_of`` are shown, with their text in ``lang``.
    as_of : str, optional
        ISO-8601 time of the read; without it every escalation given is shown.
    lang : {"zh", "en"}
        Language of the notice texts.
    limit : int
        Entries kept.

    Returns
    -------
    list of dict
        ``key`` (unique), ``kind`` (``stage`` or ``notice``), ``at`` (ISO-8601) and either
        ``incident_id``, ``category``, ``stage``, ``title``, ``village_code`` (a stage change)
        or ``text`` (a notice).
    """
    entries = []
    for row in incidents:
        at = row.get("stage_at")
        if at:
            entries.append({"key": f"s:{row['incident_id']}:{row.get('stage')}", "kind": "stage",
                            "at": at, "incident_id": row["incident_id"],
                            "category": row.get("category") or "other",
                            "stage": row.get("stage") or "", "title": row.get("title"),
                            "village_code": row.get("village_code")})
    horizon = None
    if as_of:
        horizon = datetime.fromisoformat(as_of).timestamp() - TICKER_NOTICE_S
    for notice in notices:
        at = notice.get("created_at")
        if notice.get("kind") not in TICKER_NOTICE_KINDS or not at:
            continue
        if horizon is not None and datetime.fromisoformat(at).timestamp() < horizon:
            continue
        entries.append({"key": f"n:{notice['notification_id']}", "kind": "notice", "at": at,
                        "incident_id": notice.get("incident_id"),
                        "text": notice.get("text_en" if lang == "en" else "text_zh") or ""})
    entries.sort(key=lambda e: datetime.fromisoformat(e["at"]).timestamp(), reverse=True)
    return entries[:limit]


def announce_queue(pending: Mapping[str, Any], lang: Lang = "zh") -> dict[str, Any]:
    """Return what the wall's announcer needs of the queue, texts in ``lang`` only.

    Parameters
    ----------
    pending : dict
        :func:`cockpit.governance_queries.pending_announcements`: ``total``, ``items``
        (priority first) and ``repeat_every_s``.
    lang : {"zh", "en"}
        ``text_zh`` is spoken and shown on a Chinese page, ``text_en`` on an English one.

    Returns
    -------
    dict
        ``total`` (queued, all of them), ``repeat_every_s`` (float, seconds) and ``items``:
        ``{id, incident_id, kind (new_incident or alert), priority, priority_label, text,
        category_label, title,
        village_code, at, reported_at}`` in queue order (``at``: when the notice was made,
        ISO-8601; the takeover counts its wait from it).
    """
    items = [{"id": n["notification_id"], "incident_id": n.get("incident_id"),
              "kind": n.get("kind") or "new_incident",
              "priority": n.get("priority") or "normal",
              "priority_label": vocab.label(vocab.PRIORITY_TERMS, n.get("priority") or "normal",
                                            lang),
              "text": (n.get("text_en") if lang == "en" else n.get("text_zh")) or "",
              "category_label": category_label(n.get("category") or "other", lang)
              if n.get("category") or n.get("kind") != "alert" else "",
              "title": n.get("title") or "", "village_code": n.get("village_code"),
              "at": n.get("created_at"), "reported_at": n.get("reported_at")}
             for n in pending.get("items") or ()]
    return {"total": int(pending.get("total") or 0), "items": items,
            "repeat_every_s": float(pending.get("repeat_every_s") or 0)}


def overdue_children(board: Mapping[str, Any], villages: Mapping[str, str], lang: Lang,
                     levels: Sequence[tuple[str, str]] = (),
                     schematic: Collection[str] = ()) -> list:
    """Return the overdue board's rows, most overdue first; each links to its incident.

    Parameters
    ----------
    board : dict
        :func:`cockpit.governance_queries.overdue` (``items`` with ``late_s``); at most
        :data:`OVERDUE_ROWS` are shown, the total is shown by :func:`overdue_total`; when
        ``total`` is more than the rows shown, a last line says how many more there are and
        links to the list of every overdue incident (:func:`overdue_more`).
    villages : mapping
        Village code -> plain display name.
    lang : {"zh", "en"}
        Language of the labels.
    levels : sequence of (zh, en)
        Labels of the escalation ladder's rungs (``GovernanceConfig.escalation``).
    schematic : collection of str
        Codes of schematic villages (their name carries the marker).
    """
    rows = overdue_rows(list(board.get("items") or ())[:OVERDUE_ROWS], levels, lang)
    more = overdue_more(int(board.get("total") or 0) - len(rows), lang)
    if not rows:
        return more or [html.Li(t("gw_overdue_empty", lang), className="overdue-empty")]
    items = []
    for row in rows:
        category, stage = row["category"], row["stage"]
        sub = [village_span(row["village_code"], villages, schematic, lang),
               html.Span(stage_label(stage, lang), className="chip chip-stage",
                         style=chip_style(vocab.STAGE_TERMS, stage))]
        if row["level"]:
            sub.append(html.Span(row["level"], className="overdue-level"))
        items.append(html.Li(
            className=f"overdue-item overdue-sev-{row['severity']}", key=row["incident_id"],
            **{"data-incident": row["incident_id"]},
            children=dcc.Link(className="drill overdue-link",
                              href=incident_href(row["incident_id"], lang), children=[
                html.Div(className="overdue-line", children=[
                    html.Span(category_label(category, lang), className="chip chip-cat",
                              style=chip_style(vocab.CATEGORY_TERMS, category)),
                    html.Span(row["title"] or t("untitled", lang), className="overdue-title"),
                    html.Span(row["late"], className="overdue-late")]),
                html.Div(sub, className="overdue-line overdue-sub"),
            ])))
    return items + more


def overdue_more(hidden: int, lang: Lang) -> list:
    """Return the overdue board's last line, ``另有 3 起 → 查看全部``, or nothing.

    Parameters
    ----------
    hidden : int
        Overdue incidents not shown as rows; zero or fewer give an empty list.
    lang : {"zh", "en"}
        Language of the line and of the list it links to (``/incidents?stage=overdue``).
    """
    if hidden <= 0:
        return []
    return [html.Li(className="overdue-more", key="overdue-more", children=dcc.Link(
        t("gw_overdue_more", lang, n=format_count(hidden)), className="drill overdue-more-link",
        href=list_href(lang, stage="overdue")))]


def overdue_total(board: Mapping[str, Any], lang: Lang) -> str:
    """Return the board's total line (``共 12 起``): every overdue incident, shown or not."""
    return t("gw_overdue_total", lang, n=format_count(int(board.get("total") or 0)))


def _ticker_entry(entry: Mapping[str, Any], villages: Mapping[str, str], lang: Lang,
                  today: date | None, copy: bool) -> html.Li:
    time_span = html.Span(local_time(entry["at"], today), className="ticker-time")
    if entry["kind"] == "notice":
        body = [time_span, html.Span(t("gw_ticker_escalated", lang),
                                     className="chip ticker-escalated"),
                html.Span(entry["text"], className="ticker-text")]
    else:
        category, stage = entry["category"], entry["stage"]
        body = [time_span,
                html.Span(category_label(category, lang), className="chip chip-cat",
                          style=chip_style(vocab.CATEGORY_TERMS, category)),
                html.Span(villages.get(entry.get("village_code") or "") or PLACEHOLDER,
                          className="ticker-village"),
                html.Span(entry.get("title") or t("untitled", lang), className="ticker-text"),
                html.Span(stage_label(stage, lang), className="chip chip-stage",
                          style=chip_style(vocab.STAGE_TERMS, stage))]
    extra = {"aria-hidden": "true"} if copy else {}
    return html.Li(body, className="ticker-item ticker-copy" if copy else "ticker-item",
                   key=("c:" if copy else "") + entry["key"], **extra)


def ticker_children(incidents: Sequence[Mapping[str, Any]],
                    notices: Sequence[Mapping[str, Any]], villages: Mapping[str, str],
                    lang: Lang, as_of: str | None = None, today: date | None = None) -> list:
    """Return the live ticker's entries, twice: the second copy lets the line loop seamlessly.

    Parameters
    ----------
    incidents : sequence of dict
        Incident dicts; the latest stage changes (``stage_at``) are shown.
    notices : sequence of dict
        Recent notifications; escalations are shown with their text
        (:func:`layouts.figures.ticker_items`).
    villages : mapping
        Village code -> display name (with its schematic marker).
    lang : {"zh", "en"}
        Language of the labels.
    as_of, today : str and date, optional
        Time of the read (escalations older than an hour leave) and the local day (times of
        other days show their date).

    Returns
    -------
    list of html.Li
        :data:`TICKER_ITEMS` entries at most, newest first, then the same again marked
        ``ticker-copy`` (``aria-hidden``); assets/wall.js scrolls the line.
    """
    entries = ticker_items(incidents, notices, as_of, lang, TICKER_ITEMS)
    if not entries:
        return [html.Li(t("gw_ticker_empty", lang), className="ticker-item ticker-empty")]
    return ([_ticker_entry(e, villages, lang, today, False) for e in entries]
            + [_ticker_entry(e, villages, lang, today, True) for e in entries])


def announce_banner(lang: Lang, may_ack: bool = True) -> html.Div:
    """The announcement banner over the header title; assets/announce.js fills and shows it.

    ``may_ack`` False (a wall screen's role) hides 确认 / 确认全部: a person acknowledges.

    One compact strip: a small head line (title, priority, how many more wait, a failed
    acknowledgement's note) over the text (two lines at most), the buttons beside them.
    """
    return html.Div(id=GovIds.ANNOUNCE, className="announce announce-hidden", role="alert",
                    children=[
        html.Div(className="announce-main", children=[
            html.Div(className="announce-head", children=[
                html.Span(t("gw_announce_head", lang), className="announce-title"),
                # shown instead while the first notice is an alert's (assets/announce.js)
                html.Span(t("gw_announce_alert", lang),
                          className="announce-title announce-title-alert"),
                html.Span(id=GovIds.ANNOUNCE_PRIORITY, className="announce-priority"),
                html.Span(id=GovIds.ANNOUNCE_MORE, className="announce-more"),
                html.Span(id=GovIds.ANNOUNCE_NOTE, className="announce-note")]),
            html.Div(id=GovIds.ANNOUNCE_TEXT, className="announce-text")]),
        html.Div(className="announce-actions", children=[
            html.Button(t("gw_ack_all", lang), id=GovIds.ACK_ALL, n_clicks=0,
                        className="announce-ack-all", hidden=not may_ack),
            html.Button(t("gw_ack", lang), id=GovIds.ACK, n_clicks=0, className="announce-ack",
                        hidden=not may_ack),
        ]),
    ])


def ticker_bar(lang: Lang, past: bool = False) -> html.Footer:
    """The bottom line: the ticker (labelled live, or past on a past page) and sound controls."""
    return html.Footer(className="ticker-bar", children=[
        html.Div(t("gw_ticker_past" if past else "gw_ticker_label", lang),
                 className="ticker-label"),
        html.Div(className="ticker-viewport",
                 children=html.Ol(id=GovIds.TICKER, className="ticker-track")),
        html.Div(className="sound-controls", children=[
            html.Button(id=GovIds.SOUND_ENABLE, className="sound-enable",
                        children=t("gw_sound_enable", lang)),
            html.Button(id=GovIds.SOUND, className="sound-toggle",
                        title=t("gw_sound_hint", lang), children=[
                html.Span(t("gw_sound_on", lang), className="sound-on-text"),
                html.Span(t("gw_sound_muted", lang), className="sound-muted-text")]),
        ]),
    ])
