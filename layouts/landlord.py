"""The landlord's page (``/landlord``): their houses' households and their sorting accuracy.

Pure builders: the callbacks (:mod:`callbacks.landlord`) pass the read models of
:func:`cockpit.waste.queries.landlord_view` and :func:`cockpit.waste.accuracy.trend`. A
household is shown by its id, kind, village and group, its tenancy and its own accuracy; never
by its head's name or phone. Every figure is a count of rated disposals (correct of rated).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from dash import dcc, html

from layouts.figures import ACCENT, FONT_FAMILY, MUTED_COLOR, TEXT_COLOR, plain
from layouts.i18n import PLACEHOLDER, Lang, t

LANDLORD_PATH = "/landlord"
#: Days of the daily trend.
TREND_DAYS = 30
GRID_COLOR = "rgba(127, 156, 192, 0.18)"
BELOW_COLOR = "#ffb74d"


class LandlordIds(StrEnum):
    """Component ids of the landlord's page."""

    ROOT = "ll-root"
    SUMMARY = "ll-summary"
    TREND = "ll-trend"
    HOUSES = "ll-houses"


def percent(rate: float | None) -> str:
    """``0.9375`` → ``93.8%``; None → ``—``."""
    return PLACEHOLDER if rate is None else f"{rate * 100:.1f}%"


def accuracy_text(correct: int, total: int, lang: Lang) -> str:
    """``93.8%（15/16 次）``: the rate and the counts it comes from."""
    rate = correct / total if total else None
    counts = t("ll_counts", lang, correct=correct, total=total)
    return t("ll_rate_counts", lang, rate=percent(rate), counts=counts)


def local_date(value: datetime | None, tz: ZoneInfo) -> str:
    """An aware time as the local day ``YYYY-MM-DD``; ``—`` for None."""
    return value.astimezone(tz).strftime("%Y-%m-%d") if value else PLACEHOLDER


def houses_of(rows: Sequence[Mapping[str, Any]]) -> list[tuple[str | None, str | None, list]]:
    """Households grouped by house, in the order given: ``[(house_id, address, rows)]``.

    The address shown for a house is the last non-empty one of its households (the latest
    tenant's registration, rows being by move-in).
    """
    houses: dict[str | None, list[Mapping[str, Any]]] = {}
    for row in rows:
        houses.setdefault(row.get("house_id"), []).append(row)
    out = []
    for house_id, members in houses.items():
        address = next((r["address"] for r in reversed(members) if r.get("address")), None)
        out.append((house_id, address, members))
    return out


def summary(accuracy: Any, target: float, rows: Sequence[Mapping[str, Any]],
            lang: Lang) -> html.Div:
    """The landlord's overall accuracy against the target, and what it is counted over.

    ``accuracy`` is a :class:`cockpit.waste.accuracy.Tally` (``correct``, ``total``, ``kg``).
    """
    rate = accuracy.correct / accuracy.total if accuracy.total else None
    if rate is None:
        verdict, state = t("ll_no_rated", lang), "none"
    elif rate >= target - 1e-12:
        verdict, state = t("ll_met", lang), "met"
    else:
        verdict, state = t("ll_below", lang), "below"
    active = sum(1 for r in rows if r.get("status") == "active")
    facts = [t("ll_houses_n", lang, n=len(houses_of(rows))),
             t("ll_households_n", lang, n=len(rows), active=active),
             t("ll_sorted_kg", lang, kg=f"{accuracy.kg:.1f}")]
    return html.Div(id=LandlordIds.SUMMARY, className=f"ll-summary ll-{state}", children=[
        html.Dl(className="incd-facts", children=[
            html.Div(className="incd-fact", children=[
                html.Dt(t("ll_overall", lang)),
                html.Dd(accuracy_text(accuracy.correct, accuracy.total, lang),
                        className="ll-overall")]),
            html.Div(className="incd-fact", children=[
                html.Dt(t("ll_target", lang, p=percent(target))),
                html.Dd(verdict, className="ll-verdict")]),
            *[html.Div(className="incd-fact", children=[html.Dt("\u00a0"), html.Dd(f)])
              for f in facts]])])


def trend_figure(tallies: Sequence[Any], target: float, lang: Lang) -> dict[str, Any]:
    """Daily accuracy (%) of the landlord's households, with the target as a dashed line.

    ``tallies`` are :func:`cockpit.waste.accuracy.trend` rows (key ``YYYY-MM-DD``, oldest
    first); a day without disposals leaves a gap. The hover gives the counts.
    """
    x = [str(tally.key)[5:] for tally in tallies]
    y = [None if tally.rate is None else round(tally.rate * 100, 1) for tally in tallies]
    counts = [t("ll_counts", lang, correct=tally.correct, total=tally.total) for tally in tallies]
    axis = {"gridcolor": GRID_COLOR, "zerolinecolor": GRID_COLOR, "linecolor": GRID_COLOR,
            "tickfont": {"color": MUTED_COLOR, "size": 12}, "automargin": True,
            "fixedrange": True}
    layout = {"paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
              "font": {"family": FONT_FAMILY, "color": TEXT_COLOR, "size": 13},
              "margin": {"l": 8, "r": 8, "t": 28, "b": 8}, "dragmode": False,
              "hovermode": "closest", "xaxis": {**axis, "type": "category"},
              "yaxis": {**axis, "range": [0, 105], "ticksuffix": "%"},
              "legend": {"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom"}}
    data = [{"type": "scatter", "mode": "lines+markers", "uid": "ll-rate", "x": x, "y": y,
             "customdata": counts, "connectgaps": False,
             "name": plain(t("ll_trend_rate", lang)), "line": {"color": ACCENT, "width": 3},
             "marker": {"size": 7, "color": [ACCENT if v is None or v >= target * 100 - 1e-9
                                             else BELOW_COLOR for v in y]},
             "hovertemplate": "%{x} · %{y:.1f}% · %{customdata}<extra></extra>"},
            {"type": "scatter", "mode": "lines", "uid": "ll-target", "x": x,
             "y": [round(target * 100, 1)] * len(x), "hoverinfo": "skip",
             "name": plain(t("ll_trend_target", lang)),
             "line": {"color": MUTED_COLOR, "width": 1.5, "dash": "dash"}}]
    if all(v is None for v in y):
        layout["annotations"] = [{"text": plain(t("ll_trend_empty", lang, n=len(x))),
                                  "showarrow": False, "xref": "paper", "yref": "paper",
                                  "x": 0.5, "y": 0.5, "font": {"size": 15, "color": MUTED_COLOR}}]
    return {"data": data, "layout": layout}


def household_row(row: Mapping[str, Any], villages: Mapping[str, str], tz: ZoneInfo,
                  lang: Lang) -> html.Tr:
    """One household of a house: id, kind, village and group, tenancy, its own accuracy."""
    place = " · ".join(p for p in (villages.get(row.get("village_code") or ""),
                                   row.get("group_name")) if p) or PLACEHOLDER
    kind, status = row.get("kind") or "", row.get("status") or ""
    cells = [row["household_id"],
             t(f"ll_kind_{kind}", lang) if kind in ("tenant", "local") else kind or PLACEHOLDER,
             place, local_date(row.get("moved_in_at"), tz), local_date(row.get("moved_out_at"), tz),
             t(f"ll_status_{status}", lang) if status in ("active", "moved_out") else status,
             accuracy_text(row["correct"], row["total"], lang), f"{row['kg']:.1f}"]
    return html.Tr([html.Td(c) for c in cells],
                   className=f"ll-household ll-status-{status or 'unknown'}",
                   **{"data-household": row["household_id"]})


def house_section(house_id: str | None, address: str | None, rows: Sequence[Mapping[str, Any]],
                  villages: Mapping[str, str], tz: ZoneInfo, lang: Lang) -> html.Section:
    """One house: its id and address, and every household that lived there, by move-in."""
    title = t("ll_house", lang, id=house_id) if house_id else t("ll_house_none", lang)
    head = [t(k, lang) for k in ("ll_col_household", "ll_col_kind", "ll_col_group", "ll_col_in",
                                 "ll_col_out", "ll_col_status", "ll_col_rate", "ll_col_kg")]
    return html.Section(className="incd-section ll-house", **{"data-house": house_id or ""},
                        children=[
        html.H2(f"{title} · {address}" if address else title, className="incd-section-title"),
        html.Table(className="incd-table ll-table", children=[
            html.Thead(html.Tr([html.Th(h) for h in head])),
            html.Tbody([household_row(r, villages, tz, lang) for r in rows])])])


def layout(lang: Lang, *, view: Mapping[str, Any] | None, trend: Sequence[Any], target: float,
           tz: ZoneInfo, villages: Mapping[str, str], alert: str = "") -> html.Div:
    """Return the landlord's page.

    Parameters
    ----------
    lang : {"zh", "en"}
        Language of every label.
    view : mapping or None
        :func:`cockpit.waste.queries.landlord_view` of the signed-in landlord; None when the
        register has no household of theirs (or the data could not be read).
    trend : sequence of Tally
        :func:`cockpit.waste.accuracy.trend` by day for :data:`TREND_DAYS` days.
    target : float
        The accuracy target in [0, 1] (``waste_rules.target``).
    tz : ZoneInfo
        The cockpit's zone (dates of moving in and out).
    villages : mapping of str to str
        Village code → name in ``lang``.
    alert : str
        A data-source error to show instead of the figures.
    """
    other = "zh" if lang == "en" else "en"
    rows = list(view["households"]) if view else []
    body: list[Any] = [html.P(t("ll_privacy", lang), className="inc-notice")]
    if alert:
        body.append(html.Div(alert, className="inc-alert", role="alert"))
    elif view is None:
        body.append(html.P(t("ll_unknown", lang), className="inc-empty ll-unknown"))
    else:
        body += [
            summary(view["accuracy"], target, rows, lang),
            html.Section(className="incd-section ll-trend", children=[
                html.H2(t("ll_trend", lang, n=len(trend)), className="incd-section-title"),
                dcc.Graph(id=LandlordIds.TREND, figure=trend_figure(trend, target, lang),
                          className="incd-graph", style={"height": "300px"},
                          config={"displayModeBar": False, "responsive": True,
                                  "scrollZoom": False, "doubleClick": False})]),
            html.Div(id=LandlordIds.HOUSES, className="ll-houses", children=[
                html.P(t("ll_period_note", lang), className="inc-notice"),
                *[house_section(house_id, address, members, villages, tz, lang)
                  for house_id, address, members in houses_of(rows)]])]
    return html.Div(id=LandlordIds.ROOT, className=f"inc-page ll-page lang-{lang}", lang=lang,
                    children=[
        html.Header(className="inc-header", children=[
            html.H1(t("ll_title", lang), className="inc-title"),
            html.Nav(className="inc-nav", children=[
                dcc.Link(t("lang_switch", lang), className="inc-lang",
                         href=LANDLORD_PATH + ("?lang=en" if other == "en" else ""))])]),
        html.Main(className="inc-main ll-main", children=body)])
