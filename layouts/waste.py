"""The waste-sorting page for staff and leaders (垃圾分类): its skeleton, ids and controls.

Five tabs, one shown at a time (tabs are links; the state is the URL query,
:mod:`layouts.waste_query`): 概览 overview, 住户 households, 投放记录 disposals, 房东
landlords and 薄弱户跟进 follow-ups (:mod:`layouts.waste_followups`). Each tab has its
controls (rendered once) and its body (:class:`WasteIds.BODY`, replaced by the refresh poll).
Accuracy is shown as the tally the page's read models carry (:mod:`cockpit.waste.page_queries`),
never computed here. Builders are pure; :class:`WasteIds` declares the page's ids.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from dash import dcc, html

from cockpit.waste.events import CLASS_LABELS, WasteClass
from layouts.i18n import PLACEHOLDER, Lang, format_count, t
from layouts.staff_page import StaffView, filter_dropdown, filter_field, page_header
from layouts.waste_query import (
    KINDS,
    MAX_ID,
    MAX_TEXT,
    PERIODS,
    RATINGS,
    SECTIONS,
    STATUSES,
    WasteQuery,
)

PAGE_SIZE = 50


class WasteIds(StrEnum):
    """Component ids of the waste page."""

    ROOT = "wst-root"
    #: Locations the filter callbacks navigate with (one per set of controls).
    NAV = "wst-nav"
    PERIOD_NAV = "wst-period-nav"
    DISPOSAL_NAV = "wst-disposal-nav"
    LANDLORD_NAV = "wst-landlord-nav"
    PERIOD = "wst-f-period"
    VILLAGE = "wst-f-village"
    GROUP = "wst-f-group"
    KIND = "wst-f-kind"
    STATUS = "wst-f-status"
    TEXT = "wst-f-text"
    STATION = "wst-f-station"
    RATING = "wst-f-rating"
    CLASS = "wst-f-class"
    DAY = "wst-f-day"
    LANDLORD = "wst-f-landlord"
    NOTICE = "wst-notice"
    ALERT = "wst-alert"
    BODY = "wst-body"
    TOTAL = "wst-total"
    ROWS = "wst-rows"
    REVEAL = "wst-reveal"
    NOTE = "wst-pd-note"
    REVEALED = "wst-revealed"
    TICK = "wst-tick"
    STATE = "wst-state"
    SEEN = "wst-seen"


#: Who the page is built for (:class:`layouts.staff_page.StaffView`).
View = StaffView


# -- small shared builders ---------------------------------------------------------------------
def pct(rate: float | None) -> str:
    """``95.2%`` of a rate in [0, 1]; ``—`` for None (no disposals)."""
    return PLACEHOLDER if rate is None else f"{100 * rate:.1f}%"


def kg_text(kg: float | None) -> str:
    """``12.5 kg``; ``—`` for None."""
    return PLACEHOLDER if kg is None else f"{kg:,.1f} kg"


def rate_cell(tally: Mapping[str, Any] | None, lang: Lang, counts: bool = True) -> html.Span:
    """A tally's accuracy, coloured by the target, with ``correct/total`` (data attributes too).

    ``tally`` is :func:`cockpit.waste.page_queries.tally_dict` (``meets`` set with a target);
    its key, when it has one, is the span's ``data-key``.
    """
    tally = tally or {}
    meets = tally.get("meets")
    state = "none" if tally.get("rate") is None else ("ok" if meets else "low")
    children: list[Any] = [html.B(pct(tally.get("rate")), className="wp-rate-value")]
    if counts:
        children.append(html.Small(f" {tally.get('correct') or 0}/{tally.get('total') or 0}",
                                   className="wp-rate-n"))
    data = {"data-correct": str(tally.get("correct") or 0),
            "data-total": str(tally.get("total") or 0)}
    if tally.get("key") is not None:
        data["data-key"] = str(tally["key"])
    return html.Span(children, className=f"wp-rate wp-rate-{state}",
                     title=t("wst_rate_title", lang, correct=tally.get("correct") or 0,
                             total=tally.get("total") or 0), **data)


def class_label(code: str | None, lang: Lang) -> str:
    """A waste class's label (``perishable`` → 易腐垃圾)."""
    try:
        zh, en = CLASS_LABELS[WasteClass(code)]
    except ValueError:
        return code or PLACEHOLDER
    return en if lang == "en" else zh


def kind_label(code: str | None, lang: Lang) -> str:
    """本地 / 租户 of a household kind."""
    return t(f"wst_kind_{code}", lang) if code in KINDS else (code or PLACEHOLDER)


def status_label(code: str | None, lang: Lang) -> str:
    """在住 / 已搬离 of a household status."""
    return t(f"wst_status_{code}", lang) if code in STATUSES else (code or PLACEHOLDER)


def period_label(query: WasteQuery, lang: Lang) -> str:
    """近 30 天, or the month chosen."""
    return t("wst_period_days", lang, n=query.days) if query.days else (query.month or "")


# -- controls ----------------------------------------------------------------------------------
def common_controls(query: WasteQuery, lang: Lang, villages: Sequence[tuple[str, str]],
                    months: Sequence[str], target: float) -> html.Div:
    """The period (7, 30, 90 days or a month with disposals), the village and the target.

    Parameters
    ----------
    villages : sequence of (code, name)
        The villages the viewer may see.
    months : sequence of str
        Months with disposals (``YYYY-MM``), newest first.
    target : float
        The rules' accuracy target in [0, 1].
    """
    periods = [(p, t("wst_period_days", lang, n=int(p[:-1]))) for p in PERIODS]
    periods += [(m, m) for m in months]
    if query.month and query.month not in months:
        periods.append((query.month, query.month))
    return html.Div(className="inc-filters vp-filters wp-common", children=[
        filter_field(t("wst_f_period", lang), filter_dropdown(
            WasteIds.PERIOD, periods, query.period, lang, clearable=False)),
        filter_field(t("inc_f_village", lang), filter_dropdown(
            WasteIds.VILLAGE, villages, query.village, lang, searchable=True)),
        html.Span(t("wst_target_note", lang, rate=pct(target)), className="vp-toolbar-text"),
    ])


def household_filters(query: WasteQuery, lang: Lang, groups: Sequence[str],
                      personal_search: bool) -> html.Div:
    """The households' filters: group, kind, status and free text (names for staff only)."""
    pairs = [(g, g) for g in groups]
    if query.group and query.group not in groups:
        pairs.append((query.group, query.group))
    hint = "wst_f_text_hint_pd" if personal_search else "wst_f_text_hint"
    return html.Div(className="inc-filters vp-filters", children=[
        filter_field(t("wst_f_group", lang), filter_dropdown(
            WasteIds.GROUP, pairs, query.group, lang, searchable=True)),
        filter_field(t("wst_f_kind", lang), filter_dropdown(
            WasteIds.KIND, [(k, kind_label(k, lang)) for k in KINDS], query.kind, lang)),
        filter_field(t("wst_f_status", lang), filter_dropdown(
            WasteIds.STATUS, [(s, status_label(s, lang)) for s in STATUSES], query.status,
            lang)),
        filter_field(t("inc_f_text", lang), dcc.Input(
            id=WasteIds.TEXT, type="search", value=query.text or "", debounce=True,
            placeholder=t(hint, lang), maxLength=MAX_TEXT, className="inc-input"),
            wide=True),
        dcc.Link(t("inc_f_clear", lang), href=query.section("households").href(lang),
                 className="inc-clear"),
    ])


def disposal_filters(query: WasteQuery, lang: Lang,
                     stations: Sequence[tuple[str, str]]) -> html.Div:
    """The disposals' filters: station, rating, declared class and local day."""
    return html.Div(className="inc-filters vp-filters", children=[
        filter_field(t("wst_f_station", lang), filter_dropdown(
            WasteIds.STATION, stations, query.station, lang, searchable=True), wide=True),
        filter_field(t("wst_f_rating", lang), filter_dropdown(
            WasteIds.RATING, [(r, t(f"wst_rating_{r}", lang)) for r in RATINGS], query.rating,
            lang)),
        filter_field(t("wst_f_class", lang), filter_dropdown(
            WasteIds.CLASS, [(c.value, class_label(c.value, lang)) for c in WasteClass],
            query.waste_class, lang)),
        filter_field(t("wst_f_day", lang), dcc.Input(
            id=WasteIds.DAY, type="date", value=query.day or "", debounce=True,
            className="inc-input")),
        dcc.Link(t("inc_f_clear", lang), href=query.section("disposals").href(lang),
                 className="inc-clear"),
    ])


def landlord_lookup(query: WasteQuery, lang: Lang) -> html.Div:
    """Look a landlord up by id (the ranking below lists those of the viewer's villages)."""
    return html.Div(className="inc-filters vp-filters", children=[
        filter_field(t("wst_f_landlord", lang), dcc.Input(
            id=WasteIds.LANDLORD, type="search", value=query.landlord or "", debounce=True,
            placeholder=t("wst_f_landlord_hint", lang), maxLength=MAX_ID,
            className="inc-input"), wide=True),
        dcc.Link(t("wst_landlord_all", lang), href=query.section("landlords").href(lang),
                 className="inc-clear"),
    ])


# -- the page ----------------------------------------------------------------------------------
def tabs(query: WasteQuery, lang: Lang) -> html.Nav:
    """The tabs (links); the period and village go along."""
    return html.Nav([dcc.Link(t(f"wst_tab_{tab}", lang), href=query.section(tab).href(lang),
                              className=f"vp-tab wp-tab-{tab}"
                              + (" active" if tab == query.tab else ""))
                     for tab in SECTIONS], className="vp-tabs")


def total_line(key: str, total: int, lang: Lang) -> html.Span:
    """``共 12 户`` and the like, with the page's total id."""
    return html.Span(t(key, lang, n=format_count(total)), className="inc-total",
                     id=WasteIds.TOTAL)


def layout(lang: Lang, query: WasteQuery, *, controls: Any = None, body: Any = None,
           pd: Any = None, notice: str = "", alert: str = "", poll_ms: int = 2000,
           seen: Mapping[str, Any] | None = None) -> html.Div:
    """Return the waste page.

    Parameters
    ----------
    lang : {"zh", "en"}
        Language of every label.
    query : WasteQuery
        The tab and its state.
    controls : component or list, optional
        The tab's controls, outside the refreshed body.
    body : list or component, optional
        The tab's content (replaced by the refresh poll, except the follow-ups').
    pd : component, optional
        The reveal panel (a landlord shown to staff), outside the body.
    notice, alert : str
        Invalid query parameters ignored; data-source error text.
    poll_ms : int
        Period of the refresh poll, ms.
    seen : mapping, optional
        What the body was rendered from (the poll's store).
    """
    other = "zh" if lang == "en" else "en"
    return html.Div(id=WasteIds.ROOT, className=f"inc-page vp-page wp-page lang-{lang}",
                    lang=lang, children=[
        page_header(lang, t("wst_title", lang), query.href(other)),
        html.Main(className="inc-main vp-main", children=[
            tabs(query, lang),
            html.Div(controls, className="vp-controls"),
            html.Div(notice, id=WasteIds.NOTICE, className="inc-notice", role="status"),
            html.Div(alert, id=WasteIds.ALERT, className="inc-alert", role="alert"),
            html.Div(body if body is not None else [], id=WasteIds.BODY,
                     className=f"vp-body wp-body wp-section-{query.tab}"),
            *([pd] if pd is not None else []),
        ]),
        dcc.Location(id=WasteIds.NAV, refresh="callback-nav"),
        dcc.Location(id=WasteIds.PERIOD_NAV, refresh="callback-nav"),
        dcc.Location(id=WasteIds.DISPOSAL_NAV, refresh="callback-nav"),
        dcc.Location(id=WasteIds.LANDLORD_NAV, refresh="callback-nav"),
        dcc.Interval(id=WasteIds.TICK, interval=poll_ms),
        dcc.Store(id=WasteIds.STATE, data={"lang": lang, "params": query.params()}),
        dcc.Store(id=WasteIds.SEEN, data=dict(seen or {})),
    ])
