"""The wall page (大屏): a dark 1920×1080 command-hall screen that never scrolls.

:class:`WallIds` declares the page's component ids once (the governance panels' own are
:class:`layouts.wall_governance.GovIds`); ``callbacks/wall.py`` imports them. :func:`layout`
and the panel builders are pure: they take read-model dicts and return components. Upstream
text is passed as component children (escaped by React), never as HTML.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode

from dash import dcc, html
from dash.development.base_component import Component

from cockpit import vocab
from cockpit.api_spec import API_PREFIX
from cockpit.waste.config import WasteRules
from layouts.figures import (  # noqa: F401 - ROW_BACKGROUND, chip_color: re-exported
    ROW_BACKGROUND,
    category_rows,
    chip_color,
    chip_style,
    funnel_model,
    local_time,
)
from layouts.i18n import (
    PLACEHOLDER,
    PUSH_TEXTS,
    Lang,
    category_label,
    strings,
    t,
)
from layouts.wall_focus import (
    FocusIds,
    focus_config,
    focus_nav,
    focus_panel,
    scenario_slot,
    takeover,
    tiles_panel,
)
from layouts.wall_governance import (
    GovIds,
    announce_banner,
    detail_template,
    ticker_bar,
    village_template,
)
from layouts.wall_tiles import scenario_dots, scenario_panels
from layouts.wall_volunteers import volunteer_panel
from layouts.wall_waste import waste_key, waste_panel

#: Seconds after the last commit when the data-age indicator turns amber, then red.
AGE_WARN_S = 10
AGE_STALE_S = 60
#: How often the clock and data age are redrawn, ms (clientside only).
CLOCK_MS = 500
#: The clientside liveness probe: GET STATUS_PATH every PROBE_MS, abandoned after
#: PROBE_TIMEOUT_MS; with no answer for SILENT_S seconds the page says 服务器无响应.
STATUS_PATH = f"{API_PREFIX}/status"
PROBE_MS = 2000
PROBE_TIMEOUT_MS = 3000
SILENT_S = 5
#: Strings the clientside clock needs (see assets/wall.js).
CLIENT_TEXTS = ("title", "source_down", "stale", "no_data", "age_s", "age_m", "age_h",
                "silent_s", "silent_m", "silent_h", "tm_clock", "tm_clock_wait")
#: Strings the clientside announcer needs (see assets/announce.js).
ANNOUNCE_TEXTS = ("gw_announce_more", "gw_ack_failed")
#: The wall's push channel prefix and route segment (callbacks.push).
PUSH_PAGE = "wall"
#: Longest screen name kept (``?screen=``), characters.
SCREEN_CHARS = 64


class WallIds(StrEnum):
    """Component ids of the wall page."""

    ROOT = "wall-root"
    TITLE = "wall-title"
    CLOCK_TIME = "wall-clock-time"
    CLOCK_DATE = "wall-clock-date"
    AGE = "wall-data-age"
    REPLAY = "wall-replay"
    LANG_LINK = "wall-lang-link"
    ALERT = "wall-alert"
    MAP = "wall-map"
    KPI_TODAY = "wall-kpi-today"
    KPI_OPEN = "wall-kpi-open"
    KPI_CLOSED = "wall-kpi-closed"
    KPI_DISPATCH = "wall-kpi-dispatch"
    KPI_CANCELLED = "wall-kpi-cancelled"
    CATEGORIES = "wall-categories"
    FUNNEL = "wall-funnel"
    LATEST = "wall-latest"
    PUSH = "wall-push"
    CLOCK_TICK = "wall-clock-tick"
    CONFIG = "wall-config"
    STATUS = "wall-status"
    STAMPED = "wall-status-stamped"


def client_config(lang: Lang, timezone: str, screen: str | None = None,
                  drill: bool = True, push: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Return what the clientside code needs: zone, locale, thresholds, probe and strings.

    ``screen`` is this screen's name from the page's ``?screen=`` query (who acknowledges an
    announcement); without it ``assets/announce.js`` keeps a random one in localStorage.
    ``speech_lang`` is the language announcements are spoken in, ``detail_url`` where a
    clicked map point leads (``{id}`` replaced), ``village_url`` where a clicked village
    bubble does (``{code}`` replaced); ``drill`` False (a wall screen's role) turns clicks off.
    ``push`` is what ``assets/push.js`` needs (its routes, channel, poll period, texts).
    """
    return {"lang": lang, "tz": timezone, "locale": "en-GB" if lang == "en" else "zh-CN",
            "warn_s": AGE_WARN_S, "stale_s": AGE_STALE_S, "silent_s": SILENT_S,
            "status_url": STATUS_PATH, "probe_ms": PROBE_MS,
            "probe_timeout_ms": PROBE_TIMEOUT_MS, "texts": strings(lang, CLIENT_TEXTS),
            "speech_lang": "en-US" if lang == "en" else "zh-CN",
            "screen": (screen or "").strip()[:SCREEN_CHARS] or None,
            "detail_url": detail_template(lang),
            "village_url": village_template(lang), "drill": drill,
            "announce_texts": strings(lang, ANNOUNCE_TEXTS),
            "push": {**(push or {}), "texts": strings(lang, PUSH_TEXTS)}}


def _panel(title: str, body: Any, area: str, extra: str = "") -> html.Section:
    return html.Section(className=f"panel panel-{area} {extra}".strip(), children=[
        html.H2(title, className="panel-title"), html.Div(body, className="panel-body")])


def _kpi(label: str, value_id: WallIds, unit: str = "", modifier: str = "") -> html.Div:
    return html.Div(className=f"kpi {modifier}".strip(), children=[
        html.Div(label, className="kpi-label"),
        html.Div(className="kpi-figure", children=[
            html.Span(PLACEHOLDER, id=value_id, className="kpi-value"),
            html.Span(unit, className="kpi-unit") if unit else None]),
    ])


def _header(lang: Lang, screen: str | None = None,
            account: Component | None = None, kiosk: bool = False,
            opener: Component | None = None) -> html.Header:
    other = "zh" if lang == "en" else "en"
    switch = f"?{urlencode({'lang': other, **({'screen': screen} if screen else {})})}"
    controls = [] if kiosk else [
        *([opener] if opener is not None else []),
        html.A(t("lang_switch", lang), id=WallIds.LANG_LINK, className="lang-link",
               href=switch), *([account] if account is not None else [])]
    return html.Header(className="wall-header", children=[
        html.Div(className="header-side header-left", children=[
            html.Div(id=WallIds.CLOCK_TIME, className="clock-time"),
            html.Div(id=WallIds.CLOCK_DATE, className="clock-date")]),
        html.Div(className="header-center", children=[
            html.H1(t("title", lang), id=WallIds.TITLE, className="wall-title"),
            html.Div(t("subtitle", lang), className="wall-subtitle")]),
        html.Div(className="header-side header-right", children=[
            html.Div(id=WallIds.REPLAY, className="replay-badge"),
            html.Div(t("no_data", lang), id=WallIds.AGE, className="age age-warn"),
            *controls]),
    ])


def map_legend(lang: Lang) -> html.Div:
    """Return the map's legend: every category's colour and the marker looks.

    The keys show open (bright), finished (faded) and cancelled (the map's ×) incidents, and
    the village bubbles counting those not drawn one by one (:mod:`layouts.map_counts`).
    """
    items = [html.Div(className="legend-item", children=[
        html.Span(className="legend-dot", style={"backgroundColor": term.color}),
        html.Span(category_label(category.value, lang))])
        for category, term in vocab.CATEGORY_TERMS.items()]
    keys = [html.Div(className="legend-item legend-key", children=[
        html.Span(className=f"legend-dot legend-{kind}"), html.Span(t(f"legend_{kind}", lang))])
        for kind in ("open", "done", "cancelled", "more")]
    keys.append(html.Div(className="legend-item legend-key", children=[
        html.Span(className="legend-dot legend-vol"), html.Span(t("vw_legend", lang))]))
    return html.Div(items + keys, className="map-legend")


def layout(lang: Lang, *, refresh_ms: int, timezone: str,
           map_figure: Mapping[str, Any], screen: str | None = None,
           account: Component | None = None, may_ack: bool = True,
           may_drill: bool = True, waste_target: float | None = None,
           push: Mapping[str, Any] | None = None, kiosk: bool = False,
           rotate_s: int = 20, past: Component | None = None,
           opener: Component | None = None,
           scenarios: Sequence[Mapping[str, Any]] = ()) -> html.Div:
    """Return the wall page.

    Parameters
    ----------
    lang : {"zh", "en"}
        Language of every string on the page.
    refresh_ms : int
        Poll period when server push is impossible, milliseconds (``Settings.refresh_ms``).
    timezone : str
        IANA zone of the clock (``Settings.timezone``).
    map_figure : dict
        The base map (:func:`layouts.figures.map_figure` without incidents); live updates
        patch its incident traces.
    screen : str, optional
        This screen's name (``?screen=``), recorded with its acknowledgements.
    account : Component, optional
        Who is signed in and the sign-out button (:func:`layouts.account_bar`); none on a
        kiosk screen.
    may_ack, may_drill : bool
        The viewer may acknowledge notices / open incidents from the map. A wall screen (kiosk)
        may neither: its buttons are hidden and its clicks do nothing (the server refuses both
        anyway).
    waste_target : float, optional
        The sorting-accuracy target of the waste panel and the map's fills
        (``settings.waste_rules.target``); None takes the rules' default.
    push : mapping, optional
        The push client's routes and channel (:func:`callbacks.push.client_config`); without
        it the page is static (layout tests).
    kiosk : bool
        A screen in the command hall (``?kiosk=1``, or signed in by a kiosk link): no
        language link, account line, button or sound control; the pointer hides when idle
        and nothing can be selected (``assets/wall_focus.css``).
    rotate_s : int
        Seconds each focus panel is shown (``Settings.wall_rotate_s``); 0: no rotation.
    past : Component, optional
        The time machine's band (:func:`layouts.timemachine.band`): the page shows a past
        moment, follows no live push and acknowledges nothing.
    opener : Component, optional
        The time machine's opener (:func:`layouts.timemachine.opener`) in the header.
    scenarios : sequence of dict
        The scenario pages of the configured tiles (:func:`layouts.wall_tiles.scenario_groups`):
        one focus panel and one dot each, between the waste and the other modules' panels.

    The centre column holds the map, its title over its top-left corner, and the waste panel
    under it; the announcement banner lies over the header's title, never over the map. The
    focus panels (:mod:`layouts.wall_focus`) share one place of the grid and take turns; a
    wide screen shows some of them side by side.
    """
    # a past page's words say nothing of live or now (its clock shows the moment shown)
    was = "_past" if past is not None else ""
    kpis = html.Div(className="kpi-grid", children=[
        _kpi(t("kpi_today", lang), WallIds.KPI_TODAY, t("unit_items", lang), "kpi-primary"),
        _kpi(t(f"kpi_open{was}", lang), WallIds.KPI_OPEN, t("unit_items", lang), "kpi-open"),
        _kpi(t("kpi_closed", lang), WallIds.KPI_CLOSED, t("unit_items", lang), "kpi-closed"),
        _kpi(t("kpi_cancelled", lang), WallIds.KPI_CANCELLED, t("unit_items", lang)),
        _kpi(t("kpi_dispatch", lang), WallIds.KPI_DISPATCH, "", "kpi-wide"),
    ])
    graph = dcc.Graph(id=WallIds.MAP, figure=dict(map_figure), className="map-graph",
                      responsive=True,
                      config={"displayModeBar": False, "scrollZoom": False,
                              "doubleClick": False, "showTips": False})
    target = WasteRules().target if waste_target is None else waste_target
    map_body = [html.Div(graph, className="map-scale"), map_legend(lang),
                waste_key(lang, target),
                html.Div(id=WallIds.ALERT, className="wall-alert", role="alert")]
    overdue_title = html.H2(className="panel-title panel-title-count", children=[
        html.Span(t("gw_overdue_panel", lang)),
        html.Span(id=GovIds.OVERDUE_TOTAL, className="overdue-total")])
    overdue = html.Section(className="panel panel-overdue", children=[
        overdue_title, html.Div(html.Ol(id=GovIds.OVERDUE, className="overdue"),
                                className="panel-body")])
    push = None if past is not None else push
    config = {**client_config(lang, timezone, screen, may_drill,
                              push={"poll_ms": refresh_ms, "root": WallIds.ROOT,
                                    "status_id": WallIds.STATUS, **(push or {})}),
              **focus_config(lang, rotate_s, kiosk), "past": past is not None}
    mode = (" kiosk" if kiosk else "") + (" past" if past is not None else "")
    return html.Div(id=WallIds.ROOT, className=f"wall lang-{lang}{mode}", lang=lang, children=[
        *([past] if past is not None else []),
        _header(lang, screen, None if kiosk else account, kiosk, opener),
        announce_banner(lang, may_ack and not kiosk and past is None),
        html.Main(className="wall-grid", children=[
            html.Div(className="wall-col wall-col-left", children=[
                _panel(t("kpi_panel", lang), kpis, "kpi"),
                _panel(t("by_category", lang),
                       html.Div(id=WallIds.CATEGORIES, className="cats"), "cat"),
                overdue]),
            html.Div(className="wall-col wall-col-center", children=[
                _panel(t(f"map_panel{was}", lang), map_body, "map"),
                waste_panel(lang, target)]),
            focus_panel("incidents",
                        _panel(t("funnel_panel", lang),
                               html.Div(id=WallIds.FUNNEL, className="funnel"), "funnel"),
                        _panel(t("latest_panel", lang),
                               html.Ol(id=WallIds.LATEST, className="latest"), "latest")),
            focus_panel("volunteers", volunteer_panel(lang)),
            focus_panel("waste", tiles_panel(t("wf_waste_panel", lang), FocusIds.WASTE,
                                             "focus-waste", lang)),
            scenario_slot(scenario_panels(scenarios, lang)),
            focus_panel("metrics", tiles_panel(t("wf_metrics_panel", lang), FocusIds.METRICS,
                                               "metrics", lang)),
            focus_nav(lang, scenario_dots(scenarios)),
            takeover(lang),
        ]),
        ticker_bar(lang, past is not None),
        dcc.Interval(id=WallIds.CLOCK_TICK, interval=CLOCK_MS),
        dcc.Store(id=WallIds.CONFIG, data=config),
        dcc.Store(id=FocusIds.NAMES),
        dcc.Store(id=WallIds.PUSH),
        dcc.Store(id=WallIds.STATUS),
        dcc.Store(id=WallIds.STAMPED),
        dcc.Store(id=GovIds.QUEUE),
        dcc.Store(id=GovIds.ACK_REQUEST),
        dcc.Store(id=GovIds.ACK_DONE),
        dcc.Store(id=GovIds.NAVIGATE),
    ])
