"""Callbacks of the wall page: one server poll that re-queries only when the data moved.

Every ``refresh_ms`` the browser asks :func:`register`'s ``refresh`` callback, which reads the
data version and status from Redis (three cheap GETs). When neither the version (nor the local
day) nor the status changed since the last answer, it sends nothing. When the version moved it
reads the incident read models once per version (flask-caching, shared by every screen of the
process) and sends the map's incident traces as a :class:`dash.Patch` and the panels' new
children. Database and Redis errors never crash the page: they show 数据源连接中断.
The clock and data age run clientside (``assets/wall.js``) and depend on no server callback:
dash-renderer holds a callback whose Input or State is the output of a pending one, so a clock
fed by ``refresh`` would freeze with a hung server. The last status reaches the clock through a
JS global instead, and a clientside probe of ``GET /api/v1/status`` (:mod:`callbacks.status`,
registered here) tells the page when the server stops answering (服务器无响应).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import dash
from dash import ClientsideFunction, Input, Output, Patch, State, no_update
from dash.exceptions import PreventUpdate
from flask_caching import Cache
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from callbacks import status as status_route
from cockpit import geo, queries
from cockpit.clock import utc_now
from cockpit.services import Services
from layouts.figures import FIRST_INCIDENT_TRACE, MapBase, incident_traces, map_figure
from layouts.i18n import Lang, format_count, format_duration, normalize_lang, t
from layouts.wall import (
    LATEST_ROWS,
    WallIds,
    category_children,
    funnel_children,
    latest_children,
    layout,
    replay_children,
)

log = logging.getLogger(__name__)

#: Finished incidents stay on the map this long, hours (open ones always show).
MAP_HOURS = 24.0
#: A village whose area is below this share of the median village's gets the small label.
SMALL_VILLAGE_SHARE = 0.5
#: Cached read models and views live this long, seconds; the key changes with every commit.
CACHE_TIMEOUT_S = 120
DATA_ERRORS = (SQLAlchemyError, RedisError, OSError)

OUTPUTS = {
    "map": Output(WallIds.MAP, "figure"),
    "kpi_today": Output(WallIds.KPI_TODAY, "children"),
    "kpi_open": Output(WallIds.KPI_OPEN, "children"),
    "kpi_closed": Output(WallIds.KPI_CLOSED, "children"),
    "kpi_cancelled": Output(WallIds.KPI_CANCELLED, "children"),
    "kpi_dispatch": Output(WallIds.KPI_DISPATCH, "children"),
    "categories": Output(WallIds.CATEGORIES, "children"),
    "funnel": Output(WallIds.FUNNEL, "children"),
    "latest": Output(WallIds.LATEST, "children"),
    "replay": Output(WallIds.REPLAY, "children"),
    "alert": Output(WallIds.ALERT, "children"),
    "status": Output(WallIds.STATUS, "data"),
    "seen": Output(WallIds.SEEN, "data"),
}
VIEW_KEYS = ("kpi_today", "kpi_open", "kpi_closed", "kpi_cancelled", "kpi_dispatch",
             "categories", "funnel", "latest")


@functools.lru_cache(maxsize=4)
def map_base(lang: Lang) -> MapBase:
    """Return the map's fixed layer from the shipped geodata (read once per process).

    Labels carry the plain names; the schematic marker is added by the figure for the codes
    in ``schematic``, and villages much smaller than the median one get the small label.
    """
    villages = geo.load_villages()
    if lang == "en":
        villages = villages.assign(name=villages["name_en"])
    outline_x, outline_y = geo.outline_xy(villages)
    boundary_x, boundary_y = geo.outline_xy(geo.load_subdistrict())
    x0, y0, x1, y1 = (float(v) for v in villages.total_bounds)
    areas = villages.to_crs(geo.METRIC_CRS).geometry.area
    small = villages.loc[areas < SMALL_VILLAGE_SHARE * areas.median(), "code"]
    return MapBase(outline_x, outline_y, boundary_x, boundary_y,
                   geo.label_points(villages, with_suffix=False), (x0, y0, x1, y1),
                   schematic=schematic_villages(), small=frozenset(small.astype(str)))


@functools.lru_cache(maxsize=1)
def schematic_villages() -> frozenset[str]:
    """Return the codes of the villages whose outline is schematic (示意): all shipped ones."""
    villages = geo.load_villages()
    return frozenset(villages.loc[villages["schematic"].astype(bool), "code"].astype(str))


@functools.lru_cache(maxsize=4)
def village_names(lang: Lang, marked: bool = False) -> dict[str, str]:
    """Return village code -> display name in ``lang``; ``marked`` appends （示意） where due."""
    field = "name_en" if lang == "en" else "name"
    mark = t("schematic", lang) if marked else ""
    schematic = schematic_villages()
    return {code: info[field] + (mark if code in schematic else "")
            for code, info in geo.village_names().items()}


def render(services: Services, lang: Lang) -> Any:
    """Return the wall page for ``lang``; the data arrive with the first poll."""
    return layout(lang, refresh_ms=services.settings.refresh_ms,
                  timezone=services.settings.timezone,
                  map_figure=map_figure(map_base(lang), (), lang))


def read_models(services: Services, now: datetime) -> dict[str, Any]:
    """Read the wall's read models in one session (one consistent snapshot)."""
    tz = services.settings.tz
    with services.read() as session:
        return {"summary": queries.summary(session, tz, now),
                "map": queries.map_incidents(session, tz, now, hours=MAP_HOURS),
                "latest": queries.latest_incidents(session, tz, limit=LATEST_ROWS)}


#: Incidents reported this recently (before the query) flash once in the latest list, s.
FRESH_S = 10


def _fresh_after(summary: dict[str, Any]) -> str | None:
    as_of = summary.get("as_of")
    if not as_of:
        return None
    return (datetime.fromisoformat(as_of) - timedelta(seconds=FRESH_S)).isoformat()


def build_view(models: dict[str, Any], lang: Lang) -> dict[str, Any]:
    """Turn the read models into the map's incident traces and the panels' children."""
    summary = models["summary"]
    names = village_names(lang)
    today = date.fromisoformat(summary["as_of"][:10]) if summary.get("as_of") else None
    return {
        "traces": incident_traces(models["map"], lang, village_names(lang, marked=True)),
        "kpi_today": format_count(summary["today_total"]),
        "kpi_open": format_count(summary["open"]),
        "kpi_closed": format_count(summary["closed_today"]),
        "kpi_cancelled": format_count(summary.get("cancelled_today")),
        "kpi_dispatch": format_duration(summary["median_dispatch_s"], lang),
        "categories": category_children(summary["today_by_category"], lang),
        "funnel": funnel_children(summary["funnel"], lang),
        "latest": latest_children(models["latest"], names, lang, today,
                                  schematic_villages(), fresh_after=_fresh_after(summary)),
    }


def _single_flight(cache: Cache | None, lock: threading.Lock, key: str,
                   compute: Callable[[], Any]) -> Any:
    """Return ``cache[key]``, computing it once per process when missing (no stampede)."""
    if cache is None:
        return compute()
    value = cache.get(key)
    if value is None:
        with lock:
            value = cache.get(key)
            if value is None:
                value = compute()
                cache.set(key, value, timeout=CACHE_TIMEOUT_S)
    return value


def register(app: dash.Dash, services: Services, cache: Cache | None = None) -> None:
    """Register the wall's poll callback, its clientside clock and ``GET /api/v1/status``.

    Parameters
    ----------
    app : dash.Dash
        The app; its validation layout must contain the wall page.
    services : Services
        Redis (version, status) and the store the read models come from.
    cache : flask_caching.Cache, optional
        Bound to ``app.server``; read models and views are cached by data version so that
        every screen of the process at one version shares one query. None disables it.
    """
    settings = services.settings
    lock = threading.Lock()
    status_route.register(app, services)

    def view_for(key: str, lang: Lang, now: datetime) -> dict[str, Any]:
        models = _single_flight(cache, lock, f"wall:models:{key}",
                                lambda: read_models(services, now))
        return _single_flight(cache, lock, f"wall:view:{key}:{lang}",
                              lambda: build_view(models, lang))

    def failure(seen: dict, lang: Lang, exc: Exception) -> dict[str, Any]:
        previous = seen.get("status") or {}
        if previous.get("error"):  # already on screen; keep retrying quietly
            log.debug("wall data source still unreachable: %s", exc)
            raise PreventUpdate
        log.warning("wall data source unreachable: %s: %s", type(exc).__name__, exc)
        status = {**previous, "error": True}
        out = {name: no_update for name in OUTPUTS}
        out.update(alert=t("source_down", lang),
                   status={**status, "server_now_ms": int(time.time() * 1000)},
                   seen={"key": seen.get("key"), "status": status})
        return out

    @app.callback(output=OUTPUTS, inputs={"tick": Input(WallIds.TICK, "n_intervals")},
                  state={"seen": State(WallIds.SEEN, "data"),
                         "config": State(WallIds.CONFIG, "data")})
    def refresh(tick: int | None, seen: dict | None, config: dict | None) -> dict[str, Any]:
        lang = normalize_lang((config or {}).get("lang"))
        seen = seen or {}
        now = utc_now()
        try:
            version = services.version()
            status = {"last_commit_ms": services.last_commit_ms(),
                      "replay": services.replay_status(), "error": False}
        except DATA_ERRORS as exc:
            return failure(seen, lang, exc)
        key = f"{version}@{now.astimezone(settings.tz).date().isoformat()}"
        if key == seen.get("key") and status == seen.get("status"):
            raise PreventUpdate
        out = {name: no_update for name in OUTPUTS}
        if key != seen.get("key"):
            try:
                view = view_for(key, lang, now)
            except DATA_ERRORS as exc:
                return failure(seen, lang, exc)
            patch = Patch()
            for offset, trace in enumerate(view["traces"]):
                patch["data"][FIRST_INCIDENT_TRACE + offset] = trace
            out["map"] = patch
            out.update({name: view[name] for name in VIEW_KEYS})
        out.update(replay=replay_children(status["replay"], lang), alert="",
                   status={**status, "server_now_ms": int(time.time() * 1000)},
                   seen={"key": key, "status": status})
        return out

    app.clientside_callback(ClientsideFunction("cockpit", "stamp"),
                            Output(WallIds.STAMPED, "data"), Input(WallIds.STATUS, "data"),
                            prevent_initial_call=True)
    # Nothing a server callback outputs may be an Input or State of the clock (see above).
    app.clientside_callback(ClientsideFunction("cockpit", "tick"),
                            Output(WallIds.CLOCK_TIME, "children"),
                            Output(WallIds.CLOCK_DATE, "children"),
                            Output(WallIds.AGE, "children"), Output(WallIds.AGE, "className"),
                            Input(WallIds.CLOCK_TICK, "n_intervals"),
                            State(WallIds.CONFIG, "data"))
