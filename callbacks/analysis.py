"""Callbacks of the analysis page (``/analysis``): one poll that re-reads when the data moved.

Every few seconds the browser asks :func:`register`'s ``refresh``: it reads the data version
from Redis (one GET) and answers nothing when neither the version, the local day, the period
nor the category changed since its last answer. Otherwise it takes the selection's newest read
models (flask-caching, shared by every screen of the process; re-read when the version moved,
but on a large store no more often than :func:`latest_models` allows) and sends the figures
and panels. A click on a heatmap cell drills to the incidents of that village.
Database and Redis errors never crash the page: they show 数据源连接中断 over the last picture.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import dash
from dash import Input, Output, State, no_update
from dash.exceptions import PreventUpdate
from flask_caching import Cache

from callbacks import PageRequest
from callbacks.auth import current_viewer
from callbacks.caching import single_flight
from callbacks.incidents import scoped_groups
from callbacks.reports import report_panel
from callbacks.staff_pages import DATA_ERRORS
from cockpit import alert_queries, analysis, geo, governance_queries
from cockpit.clock import utc_now
from cockpit.services import Services
from layouts.analysis import (
    PERIODS,
    AnalysisIds,
    drill_href,
    hot_children,
    layout,
    normalize_category,
    normalize_period,
    range_text,
    repeat_children,
)
from layouts.analysis_alerts import ALERT_ROWS, alert_children
from layouts.analysis_figures import count_figure, heatmap_figure, median_figure
from layouts.i18n import Lang, normalize_lang, t

log = logging.getLogger(__name__)

#: Cached read models and views live this long, s; the key changes with every commit.
CACHE_TIMEOUT_S = 300
#: A selection is re-read no sooner than this many times its last read took, at most
#: MAX_REUSE_S seconds (see latest_models).
REREAD_FACTOR = 10
MAX_REUSE_S = 60
HOT_LIMIT = 8
REPEAT_LIMIT = 30
#: Undo entries dash-renderer may keep (it records every Interval tick and never drops any).
HISTORY_KEEP = 20

OUTPUTS = {
    "heatmap": Output(AnalysisIds.HEATMAP, "figure"),
    "hot": Output(AnalysisIds.HOT, "children"),
    "counts": Output(AnalysisIds.TREND_COUNTS, "figure"),
    "dispatch": Output(AnalysisIds.TREND_DISPATCH, "figure"),
    "close": Output(AnalysisIds.TREND_CLOSE, "figure"),
    "repeats": Output(AnalysisIds.REPEATS, "children"),
    "alerts": Output(AnalysisIds.ALERTS, "children"),
    "range": Output(AnalysisIds.RANGE, "children"),
    "alert": Output(AnalysisIds.ALERT, "children"),
    "seen": Output(AnalysisIds.SEEN, "data"),
}
VIEW_KEYS = ("heatmap", "hot", "counts", "dispatch", "close", "repeats", "alerts", "range")

TRIM_HISTORY = f"""function (n) {{
    var store = window.store, state = store && store.getState && store.getState();
    var past = state && state.history && state.history.past;
    if (past && past.length > {HISTORY_KEEP}) {{ past.splice(0, past.length - {HISTORY_KEEP}); }}
    return window.dash_clientside.no_update;
}}"""


def village_names(lang: Lang) -> dict[str, str]:
    """Return village code -> name in ``lang`` (the shipped village layer)."""
    field = "name_en" if lang == "en" else "name"
    return {code: info[field] for code, info in geo.village_names().items()}


def render(services: Services, lang: Lang, request: PageRequest | None = None) -> Any:
    """Return the analysis page for ``lang``; ``?period=7d&category=fire`` preselect."""
    query = request.query if request else {}
    return layout(lang, refresh_ms=services.settings.refresh_ms,
                  period=normalize_period(query.get("period")),
                  category=normalize_category(query.get("category")),
                  reports=report_panel(services, lang))


def read_models(services: Services, now: datetime, period: str,
                category: str | None) -> dict[str, Any]:
    """Read the page's read models in one session (one consistent snapshot)."""
    tz, days = services.settings.tz, PERIODS[period]
    with services.read() as session:
        groups = governance_queries.repeat_groups(session, tz, now, days=days,
                                                  limit=REPEAT_LIMIT)
        return {
            "matrix": analysis.hot_matrix(session, tz, now, days, category),
            "trends": analysis.trends(session, tz, now, days, category),
            "hot": analysis.hot_villages(session, tz, now, days, HOT_LIMIT, category),
            "repeats": [g for g in groups if not category or g["category"] == category],
            "alerts": alert_queries.list_alerts(session, tz, now=now, limit=ALERT_ROWS),
        }


def build_view(models: dict[str, Any], lang: Lang, period: str) -> dict[str, Any]:
    """Turn the read models into the page's figures and panels."""
    names = village_names(lang)
    trends = models["trends"]
    return {
        "heatmap": heatmap_figure(models["matrix"], names, lang),
        "hot": hot_children(models["hot"], names, lang, period),
        "counts": count_figure(trends, lang),
        "dispatch": median_figure(trends, "median_dispatch_s", lang),
        "close": median_figure(trends, "median_close_s", lang),
        "repeats": repeat_children(models["repeats"], names, lang),
        "alerts": alert_children(models["alerts"], lang),
        "range": range_text(models["matrix"], lang),
    }


def scoped_alerts(services: Services, now: datetime, villages) -> dict[str, Any]:
    """The alerts of a staff account's villages (subdistrict-wide ones left out)."""
    with services.read() as session:
        return alert_queries.list_alerts(session, services.settings.tz, now=now,
                                         limit=ALERT_ROWS, scope=list(villages))


def clicked_village(click: dict | None) -> str | None:
    """Return the village code of a heatmap click (``clickData``), None for 未定位村社."""
    points = (click or {}).get("points") or []
    code = points[0].get("customdata") if points else None
    return code if isinstance(code, str) and code != analysis.UNKNOWN_VILLAGE else None


def _fresh_enough(entry: dict | None, version: int) -> bool:
    if entry is None:
        return False
    reuse_s = min(MAX_REUSE_S, entry["cost_s"] * REREAD_FACTOR)
    return entry["version"] == version or time.time() - entry["at"] < reuse_s


def latest_models(cache: Cache | None, lock: threading.Lock, selection: str, version: int,
                  compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Return the newest read models of a selection: ``version``, ``at``, ``cost_s``, ``models``.

    They are read again when the data version moved, but no sooner than
    :data:`REREAD_FACTOR` times the last read took (at most :data:`MAX_REUSE_S`): a store where
    30 days take a second to read is re-read at most every 10 s under a busy feed, while a
    small one follows every commit.
    """
    key = f"analysis:latest:{selection}"
    entry = cache.get(key) if cache is not None else None
    if _fresh_enough(entry, version):
        return entry
    with lock:
        entry = cache.get(key) if cache is not None else None
        if _fresh_enough(entry, version):
            return entry
        started = time.perf_counter()
        models = compute()
        entry = {"version": version, "at": time.time(),
                 "cost_s": time.perf_counter() - started, "models": models}
        if cache is not None:
            cache.set(key, entry, timeout=CACHE_TIMEOUT_S)
    return entry


def register(app: dash.Dash, services: Services, cache: Cache | None = None) -> None:
    """Register the analysis page's poll, its drill-down and its history trim.

    Parameters
    ----------
    app : dash.Dash
        The app; its validation layout must contain the analysis page.
    services : Services
        Redis (data version) and the store.
    cache : flask_caching.Cache, optional
        Bound to ``app.server``: read models and views cached by version and selection.
    """
    lock = threading.Lock()

    @app.callback(output=OUTPUTS,
                  inputs={"tick": Input(AnalysisIds.TICK, "n_intervals"),
                          "period": Input(AnalysisIds.PERIOD, "value"),
                          "category": Input(AnalysisIds.CATEGORY, "value")},
                  state={"seen": State(AnalysisIds.SEEN, "data"),
                         "config": State(AnalysisIds.CONFIG, "data")})
    def refresh(tick: int | None, period: str | None, category: str | None,
                seen: dict | None, config: dict | None) -> dict[str, Any]:
        lang = normalize_lang((config or {}).get("lang"))
        period, code = normalize_period(period), normalize_category(category)
        seen = seen or {}
        now = utc_now()
        try:
            version = services.version()
            day = now.astimezone(services.settings.tz).date().isoformat()
            selection = f"{day}:{period}:{code or ''}"
            if f"{version}@{selection}" == seen.get("key") and not seen.get("error"):
                raise PreventUpdate
            entry = latest_models(cache, lock, selection, version,
                                  lambda: read_models(services, now, period, code))
            key = f"{entry['version']}@{selection}"
            if key == seen.get("key") and not seen.get("error"):
                raise PreventUpdate
            view = single_flight(cache, lock, f"analysis:view:{key}:{lang}",
                                 lambda: build_view(entry["models"], lang, period),
                                 timeout=CACHE_TIMEOUT_S)
            viewer = current_viewer()
            if viewer.scoped:  # staff: repeat groups of their villages, their members only
                groups = scoped_groups(services, entry["models"]["repeats"], viewer.villages)
                view = {**view, "repeats": repeat_children(groups, village_names(lang), lang),
                        "alerts": alert_children(scoped_alerts(services, now, viewer.villages),
                                                 lang)}
        except DATA_ERRORS as exc:
            if seen.get("error"):
                raise PreventUpdate from exc
            log.warning("analysis data source unreachable: %s: %s", type(exc).__name__, exc)
            out = {name: no_update for name in OUTPUTS}
            out.update(alert=t("source_down", lang), seen={**seen, "error": True})
            return out
        return {**{name: view[name] for name in VIEW_KEYS}, "alert": "",
                "seen": {"key": key, "error": False}}

    @app.callback(Output(AnalysisIds.NAV, "href"), Input(AnalysisIds.HEATMAP, "clickData"),
                  State(AnalysisIds.PERIOD, "value"), State(AnalysisIds.CONFIG, "data"),
                  prevent_initial_call=True)
    def drill(click: dict | None, period: str | None, config: dict | None) -> str:
        code = clicked_village(click)
        if code is None:
            raise PreventUpdate
        return drill_href(code, normalize_period(period),
                          normalize_lang((config or {}).get("lang")))

    app.clientside_callback(TRIM_HISTORY, Output(AnalysisIds.TRIM, "data"),
                            Input(AnalysisIds.TICK, "n_intervals"))
