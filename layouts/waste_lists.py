"""The waste page's lists: 住户 households, 投放记录 disposals with their photos, 房东 landlords.

A photo that is a key of the photo store is shown as a thumbnail served by the page's own
photo route (``/waste/photos/<key>``); an object-store or web URL (``oss://``, ``s3://``,
``https://``) is shown as its text only: the page loads images from itself alone (CSP). A
simulated disposal's photo (source ``sim:...``) says 模拟照片. Names and phones arrive masked
from the read models; upstream text is passed as children, never as HTML.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from dash import dcc, html

from layouts.i18n import PLACEHOLDER, Lang, format_count, t
from layouts.staff_page import pager_links
from layouts.volunteers import or_dash, panel, table, when
from layouts.waste import (
    PAGE_SIZE,
    View,
    WasteIds,
    class_label,
    kind_label,
    period_label,
    rate_cell,
    status_label,
    total_line,
)
from layouts.waste_query import (
    WasteQuery,
    household_href,
    is_object_url,
    landlord_href,
    photo_src,
)


def page_count(total: int) -> int:
    """Number of list pages of ``total`` rows (at least 1)."""
    return max(1, math.ceil(total / PAGE_SIZE))


def pager(query: WasteQuery, total: int, lang: Lang) -> html.Nav:
    """First, previous, ``第 2 / 7 页``, next and last (links)."""
    return html.Nav(pager_links(query, page_count(total), lang), className="inc-pager")


def household_link(household_id: str | None, lang: Lang) -> Any:
    """A link to a household's record, or ``—``."""
    if not household_id:
        return PLACEHOLDER
    return dcc.Link(household_id, href=household_href(household_id, lang),
                    className="vp-id-link wp-household-link")


def landlord_link(landlord_id: str | None, lang: Lang) -> Any:
    """A link to a landlord on the landlords tab, or ``—``."""
    if not landlord_id:
        return PLACEHOLDER
    return dcc.Link(landlord_id, href=landlord_href(landlord_id, lang),
                    className="vp-id-link wp-landlord-link")


# -- households --------------------------------------------------------------------------------
def households_children(models: Mapping[str, Any], query: WasteQuery, view: View) -> list:
    """Households of a page with their accuracy and disposals over the period."""
    lang, total = view.lang, models.get("total") or 0
    rows = models.get("rows") or []
    cells = [[household_link(r["household_id"], lang), kind_label(r.get("kind"), lang),
              view.village(r.get("village_code"), r.get("village_text")),
              or_dash(r.get("group_name")), or_dash(r.get("house_id")),
              landlord_link(r.get("landlord_id"), lang), or_dash(r.get("head_name")),
              status_label(r.get("status"), lang), rate_cell(r.get("accuracy"), lang),
              format_count((r.get("accuracy") or {}).get("total") or 0)] for r in rows]
    return [
        html.Div(className="inc-summary", children=[
            total_line("wst_households_total", total, lang), pager(query, total, lang)]),
        html.P(t("wst_households_period", lang, period=period_label(query, lang)),
               className="vp-muted"),
        html.Div(table(("wst_col_household", "wst_col_kind", "vol_col_village", "wst_col_group",
                        "wst_col_house", "wst_col_landlord", "wst_col_head", "wst_f_status",
                        "wst_col_accuracy", "wst_col_disposals"), cells, lang,
                       "wp-households", ["wp-row"] * len(rows), empty="wst_households_empty"),
                 id=WasteIds.ROWS),
    ]


# -- disposals ---------------------------------------------------------------------------------
def photo_cell(row: Mapping[str, Any], lang: Lang) -> Any:
    """A disposal's photo: a thumbnail from the photo route, or an object URL as text."""
    ref = row.get("photo")
    if not ref:
        return PLACEHOLDER
    sim = [html.Span(t("wst_photo_sim", lang), className="vp-chip vp-sim wp-sim")] \
        if row.get("simulated") else []
    if is_object_url(ref):
        return html.Span([html.Code(ref, className="wp-photo-ref"), *sim],
                         title=t("wst_photo_external", lang), className="wp-photo-ext")
    src = photo_src(ref)
    return html.Span(className="wp-photo", children=[
        html.A(html.Img(src=src, alt=t("wst_photo_alt", lang, id=row.get("event_id")),
                        className="wp-thumb"),
               href=src, target="_blank", rel="noopener noreferrer"), *sim])


def rating_cell(row: Mapping[str, Any], lang: Lang) -> html.Span:
    """正确, or 错误 with the wrong class and item found."""
    if row.get("correct"):
        return html.Span(t("wst_rating_correct", lang), className="vp-chip wp-ok")
    found = [class_label(row.get("found_class"), lang)] if row.get("found_class") else []
    if row.get("found_item"):
        found.append(row["found_item"])
    return html.Span([html.Span(t("wst_rating_incorrect", lang), className="vp-chip wp-bad"),
                      " · ".join(found)], className="wp-rating")


def disposal_table(rows: Sequence[Mapping[str, Any]], view: View, name: str,
                   household: bool = True) -> Any:
    """Disposals: time, household, village, station, supervisor, class, weight, rating, photo.

    A house-card disposal no household could be found for says so, with its house.
    """
    lang = view.lang
    cells = []
    for r in rows:
        who = household_link(r.get("household_id"), lang) if r.get("household_id") else \
            html.Span(t("wst_unattributed", lang, house=r.get("house_id") or PLACEHOLDER),
                      className="vp-muted")
        line = [when(r.get("occurred_at")), *([who] if household else []),
                view.village(r.get("village_code")),
                html.Span([r.get("station_name") or r.get("station_id"), html.Br(),
                           html.Small(r.get("station_id"), className="vp-muted")]),
                or_dash(r.get("supervisor_id")), class_label(r.get("declared_class"), lang),
                f"{r.get('weight_kg') or 0:g} kg", rating_cell(r, lang), photo_cell(r, lang)]
        cells.append(line)
    heads = ("wst_col_time", *(("wst_col_household",) if household else ()), "vol_col_village",
             "wst_col_station", "wst_col_supervisor", "wst_col_class", "wst_col_weight",
             "wst_col_rating", "wst_col_photo")
    return table(heads, cells, lang, f"wp-disposals {name}",
                 ["wp-row" if r.get("correct") else "wp-row-low" for r in rows],
                 empty="wst_disposals_empty")


def disposals_children(models: Mapping[str, Any], query: WasteQuery, view: View) -> list:
    """Recent disposals of the filters, newest first, with their photos; one page."""
    lang, total = view.lang, models.get("total") or 0
    return [
        html.Div(className="inc-summary", children=[
            total_line("wst_disposals_total", total, lang), pager(query, total, lang)]),
        html.Div(disposal_table(models.get("rows") or [], view, "wp-recent"), id=WasteIds.ROWS),
    ]


# -- landlords ---------------------------------------------------------------------------------
def tenants_table(rows: Sequence[Mapping[str, Any]], view: View) -> Any:
    """Every household that lived in a landlord's houses: its tenancy and accuracy over it."""
    lang = view.lang
    cells = [[household_link(r.get("household_id"), lang), or_dash(r.get("house_id")),
              or_dash(r.get("address")), kind_label(r.get("kind"), lang),
              view.village(r.get("village_code")), when(r.get("moved_in_at")),
              when(r.get("moved_out_at")), status_label(r.get("status"), lang),
              rate_cell(r.get("accuracy"), lang)] for r in rows]
    return table(("wst_col_household", "wst_col_house", "wst_col_address", "wst_col_kind",
                  "vol_col_village", "wst_col_moved_in", "wst_col_moved_out", "wst_f_status",
                  "wst_col_tenancy_accuracy"), cells, lang, "wp-tenants",
                 [f"wp-tenant wp-tenant-{r.get('status')}" for r in rows],
                 empty="wst_none")


def landlord_panel(item: Mapping[str, Any] | None, asked: str, view: View) -> html.Section:
    """One landlord: masked name and phone, the accuracy of all tenants and each tenancy."""
    lang = view.lang
    if item is None:
        return panel(t("wst_landlord_title", lang, id=asked),
                     html.P(t("wst_landlord_unknown", lang, id=asked), className="vp-none"),
                     "landlord")
    facts = html.Dl(className="incd-facts", children=[
        html.Div([html.Dt(t(key, lang)), html.Dd(value)], className="incd-fact")
        for key, value in (("wst_col_landlord", item["landlord_id"]),
                           ("vol_col_name", or_dash(item.get("name"))),
                           ("vol_col_phone", or_dash(item.get("phone"))),
                           ("wst_landlord_accuracy", rate_cell(item.get("accuracy"), lang)),
                           ("wst_landlord_households",
                            format_count(len(item.get("households") or []))))])
    return panel(t("wst_landlord_title", lang, id=item["landlord_id"]),
                 [facts, tenants_table(item.get("households") or [], view)], "landlord")


def landlords_children(models: Mapping[str, Any], query: WasteQuery, view: View) -> list:
    """The landlord asked for (if any), then the landlords of the scope, ranked."""
    lang = view.lang
    ranking = models.get("ranking") or {}
    rows = ranking.get("rows") or []
    cells = [[i + 1, landlord_link(r.get("landlord_id"), lang), or_dash(r.get("name")),
              t("wst_tenants_n", lang, n=r.get("households") or 0, active=r.get("active") or 0),
              rate_cell(r.get("accuracy"), lang)] for i, r in enumerate(rows)]
    out = [landlord_panel(models.get("landlord"), query.landlord, view)] \
        if query.landlord else []
    out.append(panel(t("wst_landlord_ranking", lang, period=period_label(query, lang)), [
        table(("vol_rank", "wst_col_landlord", "vol_col_name", "wst_col_tenants",
               "wst_col_accuracy"), cells, lang, "wp-landlords",
              ["wp-row-low" if (r.get("accuracy") or {}).get("meets") is False else "wp-row"
               for r in rows], empty="wst_landlords_empty")], "landlords",
        html.Span(t("wst_landlords_n", lang, n=format_count(ranking.get("total") or 0),
                    shown=len(rows)), className="vp-panel-count")))
    return out
