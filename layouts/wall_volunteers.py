"""The wall's volunteer panels (红乔先锋): forces by village, mobilisation funnels, map badges.

:class:`VolIds` declares the ids of the panel once; :mod:`layouts.wall` places
:func:`volunteer_panel` and ``callbacks/wall.py`` fills it from two read models of
:mod:`cockpit.volunteers.queries`:
``deployment`` (people per village: on duty, mobilised, available, registered) and
``mobilization_board`` (one funnel per mobilisation on show). Neither carries personal data,
and nothing here adds any. The shaping functions (:func:`force_rows`, :func:`mobilization_rows`)
return plain dicts; the builders return components or a plotly trace dict. No I/O.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from dash import html

from layouts.figures import MapBase
from layouts.i18n import Lang, format_count, t
from layouts.map_counts import volunteer_trace
from layouts.wall_governance import village_span

#: Mobilisation funnels shown at most; the others are counted (``+N more``).
MOB_CARDS = 3
#: The needed count sits at this share of a funnel's bars at most (room for more than needed).
NEEDED_AT = 0.8
#: Colours of the three kinds of people, bars and numbers alike (assets/wall.css names them).
KINDS = ("on_duty", "mobilised", "available")


class VolIds(StrEnum):
    """Component ids of the wall's volunteer panels."""

    FORCES = "wall-vol-forces"
    FORCES_NOTE = "wall-vol-forces-note"
    MOBS = "wall-vol-mobs"
    MOBS_NOTE = "wall-vol-mobs-note"


# ------------------------------------------------------------------ skeleton


def volunteer_panel(lang: Lang) -> html.Section:
    """Return the wall's volunteers panel: forces by village, then the mobilisation funnels.

    The title keeps room for a note (模拟数据), the mobilisations' heading for ``+N more``;
    ``callbacks/wall.py`` fills them from :func:`volunteer_view`.
    """
    heading = html.H2(className="panel-title panel-title-count", children=[
        html.Span(t("vw_panel", lang)), html.Span(id=VolIds.FORCES_NOTE, className="panel-note")])
    mobs = html.Div(className="vm-heading", children=[
        html.Span(t("vw_mob_panel", lang)), html.Span(id=VolIds.MOBS_NOTE, className="panel-note")])
    return html.Section(className="panel panel-vol", children=[heading, html.Div(
        className="panel-body", children=[html.Div(id=VolIds.FORCES, className="vol-forces"),
                                          mobs, html.Div(id=VolIds.MOBS, className="vm-cards")])])


# ------------------------------------------------------------------ data shaping (pure)


def force_rows(deployment: Mapping[str, Any], order: Sequence[str]) -> list[dict[str, Any]]:
    """Return one row per village in ``order``, then one for people of no known village.

    Parameters
    ----------
    deployment : dict
        :func:`cockpit.volunteers.queries.deployment`: ``villages`` rows of
        ``{village_code, registered, active, mobilised, on_duty, available}``.
    order : sequence of str
        Village codes in display order; every one gets a row, with zeros when absent.

    Returns
    -------
    list of dict
        ``{code, on_duty, mobilised, available, registered, shares}``: ``code`` is None for
        the last row (volunteers whose village is missing or unknown; only when it has
        anyone), ``shares`` maps each of :data:`KINDS` to its bar length (0-1, against the
        busiest row's on duty + mobilised + available).
    """
    known = set(order)
    counts: dict[str | None, dict[str, int]] = {code: dict.fromkeys(
        (*KINDS, "registered"), 0) for code in order}
    for village in deployment.get("villages") or ():
        code = village.get("village_code")
        row = counts.setdefault(code if code in known else None,
                                dict.fromkeys((*KINDS, "registered"), 0))
        for key in row:
            row[key] += int(village.get(key) or 0)
    rows = [{"code": code, **values} for code, values in counts.items()
            if code is not None or any(values.values())]
    top = max((sum(r[k] for k in KINDS) for r in rows), default=0) or 1
    for row in rows:
        row["shares"] = {k: row[k] / top for k in KINDS}
    return rows


def time_left(seconds: float | None, lang: Lang = "zh") -> str:
    """Return a countdown to a deadline, rounded up: ``剩余 23分``, ``剩余 1时05分``.

    Parameters
    ----------
    seconds : float or None
        Seconds to the deadline (``seconds_left``); zero, negative, None or NaN give
        ``已超时``.
    lang : {"zh", "en"}
        Language of the text.
    """
    if seconds is None or not math.isfinite(seconds) or seconds <= 0:
        return t("vw_overtime", lang)
    minutes = math.ceil(seconds / 60)
    if minutes < 60:
        return t("vw_left_m", lang, m=minutes)
    return t("vw_left_h", lang, h=minutes // 60, m=minutes % 60)


def short_names(villages: Mapping[str, str], lang: Lang) -> dict[str, str]:
    """Return the names for the panel's narrow rows: English ones without Village/Community.

    ``Liangshu Xinyuan Community`` reads ``Liangshu Xinyuan``; Chinese names are short already
    and are kept whole (朝阳村, 良熟新苑社区).
    """
    if lang != "en":
        return dict(villages)
    return {code: name.removesuffix(" Village").removesuffix(" Community")
            for code, name in villages.items()}


def _clock(iso: str | None) -> str:
    try:
        return datetime.fromisoformat(iso).strftime("%H:%M") if iso else ""
    except ValueError:
        return ""


def mobilization_rows(board: Sequence[Mapping[str, Any]], lang: Lang = "zh",
                      limit: int = MOB_CARDS) -> tuple[list[dict[str, Any]], int]:
    """Shape the mobilisations on show into funnels, the most pressing first.

    Open ones before those past their deadline; among open ones, those needing a re-call, then
    the larger (needed count), then the sooner deadline: a big lockdown is not pushed off the
    wall by small requests.

    Parameters
    ----------
    board : sequence of dict
        :func:`cockpit.volunteers.queries.mobilization_board` funnels (``needed``, ``asked``,
        ``accepted``, ``arrived``, ``seconds_left``, ``expected``, ``lag``, ``filled``,
        ``simulated`` ...).
    lang : {"zh", "en"}
        Language of the texts.
    limit : int
        Funnels returned at most; the rest are counted.

    Returns
    -------
    (list of dict, int)
        The funnels shown and how many more there are. Each: ``id``, ``title``,
        ``village_code``, ``needed``, ``bars`` (``asked``, ``accepted``, ``arrived``: ``{kind,
        count, share}``, bar length 0-1), ``needed_at`` and ``expected_at`` (0-1, where the
        needed count and the schedule's accepted count by now sit on the bars; the latter
        None once the deadline passed), ``left`` (:func:`time_left`), ``status`` (after the
        deadline: filled or how many short; before it, filled or empty), ``expired``,
        ``filled``, ``lag`` (needs a re-call), ``simulated`` and ``deadline`` (``HH:MM``).
    """
    def order(item: Mapping[str, Any]) -> tuple[bool, bool, int, float]:
        left = float(item.get("seconds_left") or 0)
        return (left <= 0, not item.get("lag"), -int(item.get("needed") or 0), abs(left))

    ordered = sorted(board, key=order)
    rows = []
    for item in ordered[:max(limit, 0)]:
        needed = max(int(item.get("needed") or 0), 1)
        counts = {k: int(item.get(k) or 0) for k in ("asked", "accepted", "arrived")}
        scale = max(needed, counts["accepted"], counts["arrived"]) / NEEDED_AT
        left = float(item.get("seconds_left") or 0)
        expired, filled = left <= 0, bool(item.get("filled"))
        short = max(needed - counts["arrived"], 0)
        if filled:
            status = t("vw_filled", lang)
        elif expired:
            status = t("vw_short", lang, n=format_count(short))
        else:
            status = ""
        expected = item.get("expected")
        rows.append({
            "id": str(item.get("mobilization_id") or ""), "title": item.get("title"),
            "village_code": item.get("village_code"), "needed": needed,
            "bars": [{"kind": k, "count": n, "share": min(n / scale, 1.0)}
                     for k, n in counts.items()],
            "needed_at": needed / scale,
            "expected_at": None if expired or expected is None
            else min(float(expected) / scale, 1.0),
            "expected": None if expected is None else int(round(float(expected))),
            "left": time_left(left, lang), "status": status, "expired": expired,
            "filled": filled, "lag": bool(item.get("lag")),
            "simulated": bool(item.get("simulated")),
            "deadline": _clock(item.get("deadline"))})
    return rows, max(len(ordered) - len(rows), 0)


# ------------------------------------------------------------------ panels


def _chip_sim(lang: Lang) -> html.Span:
    return html.Span(t("vw_simulated", lang), className="vol-sim",
                     title=t("vw_simulated_note", lang))


def force_total(kind: str, value: int | None, lang: Lang) -> html.Div:
    """Return one big number of the forces panel (在岗 / 已动员 / 可调用 / 注册)."""
    return html.Div(className=f"vol-total vol-{kind}", **{"data-kind": kind}, children=[
        html.Div(className="vol-total-label", children=[
            html.Span(className="vol-dot"), html.Span(t(f"vw_{kind}", lang))]),
        html.Div(format_count(value), className="vol-total-value")])


def forces_children(deployment: Mapping[str, Any], order: Sequence[str],
                    villages: Mapping[str, str], lang: Lang,
                    schematic: Collection[str] = ()) -> list:
    """Return the forces: the four totals, then per village its numbers over a stacked bar.

    Parameters
    ----------
    deployment : dict
        :func:`cockpit.volunteers.queries.deployment` (``totals`` and ``villages``).
    order : sequence of str
        Village codes in display order (all of them are shown).
    villages : mapping
        Village code -> plain display name.
    lang : {"zh", "en"}
        Language of the labels.
    schematic : collection of str
        Codes of schematic villages (their name carries the marker, never cut off).
    """
    totals = deployment.get("totals") or {}
    head = html.Div(className="vol-totals", children=[
        force_total(kind, totals.get(kind), lang) for kind in (*KINDS, "registered")])
    rows = []
    for row in force_rows(deployment, order):
        code = row["code"]
        name = village_span(code, villages, schematic, lang) if code is not None else \
            html.Span(className="latest-village", children=html.Span(
                t("vw_no_village", lang), className="latest-village-name"))
        rows.append(html.Div(className="vol-row", key=code or "-",
                             **{"data-village": code or ""}, children=[
            html.Div(name, className="vol-name"),
            html.Div(className="vol-nums", children=[
                html.Span(format_count(row[k]), className=f"vol-num vol-{k}") for k in KINDS]),
            html.Div(className="vol-track", children=[
                html.Div(className=f"vol-seg vol-{k}",
                         style={"width": f"{row['shares'][k] * 100:.1f}%"}) for k in KINDS]),
        ]))
    return [head, html.Div(rows, className="vol-rows", title=t("vw_row_hint", lang))]


def is_simulated(deployment: Mapping[str, Any], board: Sequence[Mapping[str, Any]]) -> bool:
    """Whether the deployment or any mobilisation on show comes from the demo's simulator."""
    return bool(deployment.get("simulated")) or any(m.get("simulated") for m in board)


def forces_note(deployment: Mapping[str, Any], board: Sequence[Mapping[str, Any]],
                lang: Lang) -> list:
    """Return what the panel's title says besides its name: 模拟数据 when any data is simulated.

    Simulated funnels are marked one by one too (:func:`mobilization_card`).
    """
    return [_chip_sim(lang)] if is_simulated(deployment, board) else []


def _bar(bar: Mapping[str, Any], row: Mapping[str, Any], lang: Lang) -> html.Div:
    kind = bar["kind"]
    marks = [html.Div(className="vm-need", style={"left": f"{row['needed_at'] * 100:.1f}%"},
                      title=t("vw_needed_mark", lang, n=format_count(row["needed"])))]
    if kind == "accepted" and row["expected_at"] is not None:
        marks.append(html.Div(className="vm-due",
                              style={"left": f"{row['expected_at'] * 100:.1f}%"},
                              title=t("vw_schedule_mark", lang,
                                      n=format_count(row["expected"]))))
    return html.Div(className=f"vm-row vm-{kind}", **{"data-kind": kind}, children=[
        html.Span(t(f"vw_{kind}", lang), className="vm-label"),
        html.Div(className="vm-track", children=[
            html.Div(className="vm-bar", style={"width": f"{bar['share'] * 100:.1f}%"}),
            *marks]),
        html.Span(format_count(bar["count"]), className="vm-count")])


def mobilization_card(row: Mapping[str, Any], villages: Mapping[str, str], lang: Lang,
                      schematic: Collection[str] = ()) -> html.Div:
    """Return one mobilisation's funnel: title, needed, village, three bars, time left, flag.

    The last line: the time left (已超时 after the deadline), then whether it filled (已到齐, or
    after the deadline how many are short) and, when it lags its schedule, the 需再动员 flag.
    A simulated one has a dashed edge (the panel's title says 模拟数据).
    """
    classes = ["vm-card"] + [f"vm-{flag}" for flag in ("lag", "expired", "filled", "simulated")
                             if row[flag]]
    foot = [html.Span(row["left"], className="vm-left",
                      title=t("vw_deadline", lang, time=row["deadline"]))]
    if row["status"]:
        foot.append(html.Span(row["status"], className="vm-status"))
    if row["lag"]:
        foot.append(html.Span(t("vw_recall", lang), className="vm-flag", role="alert"))
    return html.Div(className=" ".join(classes), key=row["id"],
                    title=t("vw_simulated_note", lang) if row["simulated"] else None,
                    **{"data-mobilization": row["id"]}, children=[
        html.Div(className="vm-line vm-head", children=[
            html.Span(row["title"] or t("vw_untitled", lang), className="vm-title"),
            html.Span(t("vw_needed", lang, n=format_count(row["needed"])),
                      className="vm-needed")]),
        html.Div(village_span(row["village_code"], villages, schematic, lang),
                 className="vm-line vm-meta"),
        html.Div([_bar(bar, row, lang) for bar in row["bars"]], className="vm-bars"),
        html.Div(foot, className="vm-line vm-foot"),
    ])


def mobilization_children(rows: Sequence[Mapping[str, Any]], villages: Mapping[str, str],
                          lang: Lang, schematic: Collection[str] = ()) -> list:
    """Return the mobilisation panel's funnels (:func:`mobilization_rows`), or its empty line."""
    if not rows:
        return [html.Div(t("vw_mob_empty", lang), className="vm-empty")]
    return [mobilization_card(row, villages, lang, schematic) for row in rows]


def mobilization_note(more: int, lang: Lang) -> list:
    """Return the mobilisations heading's note: ``另有 2 项`` when more are open than shown."""
    if more <= 0:
        return []
    return [html.Span(t("vw_mob_more", lang, n=format_count(more)), className="vm-more")]


# ------------------------------------------------------------------ the whole view


def volunteer_view(models: Mapping[str, Any], lang: Lang, *, base: MapBase,
                   order: Sequence[str], villages: Mapping[str, str],
                   marked: Mapping[str, str], schematic: Collection[str] = ()
                   ) -> dict[str, Any]:
    """Turn the two volunteer read models into the panels' children and the map's badges.

    Parameters
    ----------
    models : dict
        ``deployment`` and ``mobilizations`` (:func:`cockpit.volunteers.queries.deployment`,
        :func:`~cockpit.volunteers.queries.mobilization_board`).
    lang : {"zh", "en"}
        Language of every label.
    base : MapBase
        The map's fixed layer (label points).
    order, villages, marked, schematic
        Village codes in display order, plain names (shortened for the rows,
        :func:`short_names`), names with the schematic marker (for the hover text) and the
        schematic codes.

    Returns
    -------
    dict
        ``forces``, ``forces_note``, ``mobs``, ``mobs_note`` (children), ``trace`` (the map
        badges) and ``shown``: the plain data each part is built from, ``{"forces": ...,
        "mobs": ...}``, for the poll to tell whether a part changed.
    """
    deployment = models.get("deployment") or {}
    board = models.get("mobilizations") or []
    rows, more = mobilization_rows(board, lang)
    villages = short_names(villages, lang)
    return {
        "forces": forces_children(deployment, order, villages, lang, schematic),
        "forces_note": forces_note(deployment, board, lang),
        "mobs": mobilization_children(rows, villages, lang, schematic),
        "mobs_note": mobilization_note(more, lang),
        "trace": volunteer_trace(base, deployment, lang, marked),
        "shown": {"forces": [deployment.get("villages"), deployment.get("totals"),
                             is_simulated(deployment, board)],
                  "mobs": [rows, more]},
    }
