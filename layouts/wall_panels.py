"""The wall's incident panels: today by category, the funnel, the latest reports, the replay.

Pure builders from read-model dicts (``cockpit.queries.summary``, ``latest_incidents``) to the
children the poll sends (:mod:`callbacks.wall_feed`) into the page :mod:`layouts.wall`
lays out. Upstream text is passed as component children, never as HTML.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from dash import dcc, html

from cockpit import vocab
from layouts.figures import category_rows, chip_style, funnel_model, local_time
from layouts.i18n import PLACEHOLDER, Lang, category_label, format_count, stage_label, t
from layouts.wall_governance import list_href, village_span

#: Rows of the latest-reports panel (the wall reads as many).
LATEST_ROWS = 8


def category_children(by_category: Sequence[Mapping[str, Any]], lang: Lang) -> list:
    """Return the rows of the today-by-category panel: label, bar and count per category.

    Each row links to the incident list of that category today.
    """
    return [dcc.Link(className="drill", href=list_href(lang, category=row["code"],
                                                       period="today"),
                     children=html.Div(className="cat-row", **{"data-category": row["code"]},
                                       children=[
        html.Span(className="cat-dot", style={"backgroundColor": row["color"]}),
        html.Span(row["label"], className="cat-label"),
        html.Div(className="cat-track", children=html.Div(
            className="cat-bar",
            style={"width": f"{row['share'] * 100:.1f}%", "backgroundColor": row["color"]})),
        html.Span(format_count(row["count"]), className="cat-count"),
    ])) for row in category_rows(by_category, lang)]


def funnel_children(funnel: Sequence[Mapping[str, Any]], lang: Lang) -> list:
    """Return the closed-loop funnel: the four phases in order, each with its stages' counts.

    Each stage links to the incident list of that stage today.
    """
    out = []
    for phase in funnel_model(funnel, lang):
        rows = [dcc.Link(className="drill", href=list_href(lang, stage=s["code"],
                                                           period="today"),
                         children=html.Div(className="funnel-row", **{"data-stage": s["code"]},
                                           children=[
            html.Span(s["label"], className="funnel-stage"),
            html.Div(className="funnel-track", children=html.Div(
                className="funnel-bar",
                style={"width": f"{max(s['share'], 0.02) * 100:.1f}%",
                       "backgroundColor": s["color"]})),
            html.Span(format_count(s["count"]), className="funnel-count"),
            html.Span(PLACEHOLDER if s["rate"] is None else f"{s['rate']:.0%}",
                      className="funnel-rate"),
        ])) for s in phase["stages"]]
        out.append(html.Div(className="funnel-phase", children=[
            html.Div(className="funnel-phase-name", children=[
                html.Span(str(phase["index"]), className="funnel-phase-index"),
                html.Span(phase["phase"])]),
            html.Div(rows, className="funnel-rows")]))
    return out


def latest_children(incidents: Sequence[Mapping[str, Any]], villages: Mapping[str, str],
                    lang: Lang, today: date | None = None,
                    schematic: Collection[str] = (), fresh_after: str | None = None) -> list:
    """Return the latest-incidents list items (time, category chip, title, village, stage).

    Parameters
    ----------
    incidents : sequence of dict
        :func:`cockpit.queries.latest_incidents` rows, newest first; at most
        :data:`LATEST_ROWS` are shown.
    villages : mapping
        Village code -> plain display name.
    lang : {"zh", "en"}
        Language of the labels.
    today : date, optional
        Local day: times of other days show their date.
    schematic : collection of str
        Codes of schematic villages: their name carries the marker (（示意）) in a small
        span that is never cut off, the name itself is shortened with an ellipsis instead.
    fresh_after : str, optional
        ISO-8601 time; rows reported at or after it are new and flash once on arrival (the
        others are re-rendered without it, so only what arrived draws the eye).
    """
    if not incidents:
        return [html.Li(t("latest_empty", lang), className="latest-empty")]
    items = []
    for row in list(incidents)[:LATEST_ROWS]:
        category, stage = row.get("category") or "other", row.get("stage") or ""
        new = bool(fresh_after and row.get("reported_at")
                   and datetime.fromisoformat(row["reported_at"])
                   >= datetime.fromisoformat(fresh_after))
        items.append(html.Li(className="latest-item latest-new" if new else "latest-item",
                             key=row["incident_id"],
                             **{"data-incident": row["incident_id"]}, children=[
            html.Div(className="latest-line", children=[
                html.Span(local_time(row.get("reported_at"), today), className="latest-time"),
                html.Span(category_label(category, lang), className="chip chip-cat",
                          style=chip_style(vocab.CATEGORY_TERMS, category)),
                html.Span(row.get("title") or t("untitled", lang), className="latest-title"),
            ]),
            html.Div(className="latest-line latest-sub", children=[
                village_span(row.get("village_code"), villages, schematic, lang),
                html.Span(stage_label(stage, lang), className="chip chip-stage",
                          style=chip_style(vocab.STAGE_TERMS, stage)),
            ]),
        ]))
    return items


def replay_children(replay: Mapping[str, Any] | None, lang: Lang) -> list:
    """Return the 回放 badge text (``回放 · sf_fire ×60``), empty when no replay runs."""
    if not replay:
        return []
    name = str(replay.get("name") or "")
    speed = replay.get("speed")
    parts = [t("replay", lang), name] if name else [t("replay", lang)]
    text = " · ".join(parts)
    if isinstance(speed, int | float) and speed > 0:
        text += f" ×{speed:g}"
    text += f" · {t('replay_moved', lang)}"
    return [html.Span(className="replay-dot"), html.Span(text, className="replay-text",
                                                         title=t("replay_note", lang))]
