"""The wall's live feed: its read models, its view and what changed since a screen's last one.

The push hub (:mod:`callbacks.push`) asks :class:`WallFeed` for each language's changes. It reads
the data version and status from Redis (three cheap GETs). When neither the version (nor the
local day) nor the status changed since the last answer, it sends nothing. When the version
moved it reads the incident read models once per version (:func:`read_models`, flask-caching,
shared by every screen of the process) and sends the map's incident traces as a
:class:`dash.Patch` and the panels' new children (:func:`build_view`). The overdue board, the
announcement queue and the volunteer panels are read once per version and
:data:`GOVERNANCE_EVERY_S` period, and sent only when what they show changed (see
:mod:`callbacks.wall`). Database and Redis errors give the 数据源连接中断 alert once.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import date, datetime, timedelta
from typing import Any

from dash import Output, Patch
from flask_caching import Cache

from callbacks.caching import single_flight
from callbacks.staff_pages import DATA_ERRORS
from callbacks.wall_focus import FOCUS_OUTPUTS, focus_for, send_focus
from callbacks.wall_parts import (
    build_governance_view,
    build_volunteer_view,
    escalation_levels,
    map_base,
    map_bounds,
    read_governance,
    read_volunteers,
    schematic_villages,
    send_base,
    signature,
    sync_layer,
    village_names,
)
from callbacks.wall_waste import WASTE_OUTPUTS, send_waste, waste_for
from cockpit import governance_queries, map_queries, queries
from cockpit.clock import utc_now
from cockpit.push import Producer
from cockpit.services import Services
from layouts.figures import CATEGORIES, FIRST_INCIDENT_TRACE, incident_traces
from layouts.i18n import Lang, format_count, format_duration, t
from layouts.map_counts import count_trace, village_marks
from layouts.wall import WallIds
from layouts.wall_governance import TICKER_ITEMS, GovIds, ticker_children
from layouts.wall_panels import (
    LATEST_ROWS,
    category_children,
    funnel_children,
    latest_children,
    replay_children,
)
from layouts.wall_volunteers import VolIds

log = logging.getLogger(__name__)

#: Finished incidents stay on the map this long, hours (open ones always show).
MAP_HOURS = 24.0
#: At most this many of the map's incidents are drawn as points, open ones first; beyond it
#: villages are drawn as counts (layouts.map_counts). A point costs the refresh ~50 µs.
MAP_POINTS = 500
#: The overdue board and announcement queue are read again at least this often, seconds.
GOVERNANCE_EVERY_S = 10
#: Recent notifications read for the ticker (escalations among them are shown).
TICKER_NOTICES = 30

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
    "ticker": Output(GovIds.TICKER, "children"),
    "overdue": Output(GovIds.OVERDUE, "children"),
    "overdue_total": Output(GovIds.OVERDUE_TOTAL, "children"),
    "queue": Output(GovIds.QUEUE, "data"),
    "vol_forces": Output(VolIds.FORCES, "children"),
    "vol_forces_note": Output(VolIds.FORCES_NOTE, "children"),
    "vol_mobs": Output(VolIds.MOBS, "children"),
    "vol_mobs_note": Output(VolIds.MOBS_NOTE, "children"),
    **WASTE_OUTPUTS,
    **FOCUS_OUTPUTS,
}
#: The map's volunteer badges: the last trace, after the incidents and the village counts.
VOLUNTEER_TRACE = FIRST_INCIDENT_TRACE + 2 * len(CATEGORIES) + 1
VIEW_KEYS = ("kpi_today", "kpi_open", "kpi_closed", "kpi_cancelled", "kpi_dispatch",
             "categories", "funnel", "latest", "ticker")


def read_models(services: Services, now: datetime) -> dict[str, Any]:
    """Read the wall's read models in one session (one consistent snapshot).

    ``map`` holds at most :data:`MAP_POINTS` of the map's incidents, open ones first
    (:func:`cockpit.map_queries.map_points`), within the map's bounds; ``changes`` the latest
    stage changes (the ticker); ``villages`` every map incident counted per village.
    """
    tz = services.settings.tz
    with services.read() as session:
        return {"summary": queries.summary(session, tz, now),
                "map": map_queries.map_points(session, tz, now, hours=MAP_HOURS,
                                              limit=MAP_POINTS, bounds=map_bounds()),
                "changes": map_queries.latest_changes(session, tz, now, hours=MAP_HOURS,
                                                      limit=TICKER_ITEMS),
                "villages": map_queries.map_villages(session, now, hours=MAP_HOURS),
                "latest": queries.latest_incidents(session, tz, limit=LATEST_ROWS),
                "notices": governance_queries.list_notifications(session, tz,
                                                                 limit=TICKER_NOTICES)}


#: Incidents reported this recently (before the query) flash once in the latest list, s.
FRESH_S = 10


def _fresh_after(summary: dict[str, Any]) -> str | None:
    as_of = summary.get("as_of")
    if not as_of:
        return None
    return (datetime.fromisoformat(as_of) - timedelta(seconds=FRESH_S)).isoformat()


def build_view(models: dict[str, Any], lang: Lang) -> dict[str, Any]:
    """Turn the read models into the map's incident traces and the panels' children.

    ``trace_sigs`` holds a digest of each trace and ``part_sigs`` one of each panel part
    (:data:`VIEW_KEYS`): a screen is sent only the traces and the parts that changed.
    """
    summary = models["summary"]
    names = village_names(lang)
    today = date.fromisoformat(summary["as_of"][:10]) if summary.get("as_of") else None
    marked = village_names(lang, marked=True)
    base = map_base(lang)
    marks = village_marks(models["map"], models["villages"], MAP_POINTS,
                          known={code for code, *_ in base.labels})
    traces = [*incident_traces(marks.points, lang, marked),
              count_trace(base, marks.bubbles, models["villages"], lang, marked,
                          hours=MAP_HOURS)]
    view = {
        "traces": traces,
        "trace_sigs": [signature(trace) for trace in traces],
        "kpi_today": format_count(summary["today_total"]),
        "kpi_open": format_count(summary["open"]),
        "kpi_closed": format_count(summary["closed_today"]),
        "kpi_cancelled": format_count(summary.get("cancelled_today")),
        "kpi_dispatch": format_duration(summary["median_dispatch_s"], lang),
        "categories": category_children(summary["today_by_category"], lang),
        "funnel": funnel_children(summary["funnel"], lang),
        "latest": latest_children(models["latest"], names, lang, today,
                                  schematic_villages(), fresh_after=_fresh_after(summary)),
        "ticker": ticker_children(models["changes"], models.get("notices") or [],
                                  marked, lang, summary.get("as_of"),
                                  today),
    }
    view["part_sigs"] = {name: signature(view[name]) for name in VIEW_KEYS}
    return view


class WallFeed:
    """The wall's live updates: what changed since a screen's ``seen``, by output name.

    Shared by every screen of a process through the push hub (:mod:`callbacks.push`), which
    keeps one ``seen`` per language; a new screen starts from an empty one (a snapshot).
    """

    def __init__(self, services: Services, cache: Cache | None) -> None:
        self.services = services
        self.cache = cache
        self.lock = threading.Lock()
        self.levels = escalation_levels(services.settings.governance)

    def _view(self, key: str, lang: Lang, now: datetime) -> dict[str, Any]:
        models = single_flight(self.cache, self.lock, f"wall:models:{key}",
                               lambda: read_models(self.services, now))
        return single_flight(self.cache, self.lock, f"wall:view:{key}:{lang}",
                             lambda: build_view(models, lang))

    def _governance(self, key: str, lang: Lang, now: datetime) -> dict[str, Any]:
        models = single_flight(self.cache, self.lock, f"wall:gov:{key}",
                               lambda: read_governance(self.services, now))
        return single_flight(self.cache, self.lock, f"wall:govview:{key}:{lang}",
                             lambda: build_governance_view(models, lang, self.levels))

    def _volunteers(self, key: str, lang: Lang, now: datetime) -> dict[str, Any]:
        models = single_flight(self.cache, self.lock, f"wall:vol:{key}",
                               lambda: read_volunteers(self.services, now))
        return single_flight(self.cache, self.lock, f"wall:volview:{key}:{lang}",
                             lambda: build_volunteer_view(models, lang))

    @staticmethod
    def _failure(seen: dict, lang: Lang, exc: Exception) -> tuple[dict | None, dict]:
        previous = seen.get("status") or {}
        if previous.get("error"):  # already on screen; keep retrying quietly
            log.debug("wall data source still unreachable: %s", exc)
            return None, seen
        log.warning("wall data source unreachable: %s: %s", type(exc).__name__, exc)
        status = {**previous, "error": True}
        out = {"alert": t("source_down", lang),
               "status": {**status, "server_now_ms": int(time.time() * 1000)}}
        return out, {**seen, "status": status}

    def update(self, seen: dict[str, Any], lang: Lang,
               now: datetime) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        """Return ``(outputs by name, new seen)``: what changed since ``seen``; None if nothing.

        Names are :data:`OUTPUTS`' keys; the map's value is a :class:`dash.Patch`. Database
        and Redis errors give the 数据源连接中断 alert once (then nothing until they pass).
        """
        services, tz = self.services, self.services.settings.tz
        try:
            version = services.version()
            layer = sync_layer(services, version).version
            status = {"last_commit_ms": services.last_commit_ms(),
                      "replay": services.replay_status(), "error": False}
        except DATA_ERRORS as exc:
            return self._failure(seen, lang, exc)
        # what the views are read and built from: the data, the village layer, the day / period
        key = f"{version}.{layer}@{now.astimezone(tz).date().isoformat()}"
        gkey = f"{version}.{layer}@{int(now.timestamp() // GOVERNANCE_EVERY_S)}"
        if key == seen.get("key") and gkey == seen.get("gkey") \
                and status == seen.get("status"):
            return None, seen
        out: dict[str, Any] = {}
        sig = dict(seen.get("sig") or {})
        patch = Patch()
        if layer != seen.get("layer"):
            # a new village layer (or a screen not known to draw this one): its outlines,
            # labels, extent and caption, and every part placed on the map sent again
            send_base(patch, lang)
            out["map"] = patch
            sig = {}
        try:
            if key != seen.get("key"):
                view = self._view(key, lang, now)
                shown = sig.get("traces") or []
                for offset, (trace, trace_sig) in enumerate(zip(view["traces"],
                                                                view["trace_sigs"], strict=True)):
                    if offset >= len(shown) or shown[offset] != trace_sig:  # only what moved
                        patch["data"][FIRST_INCIDENT_TRACE + offset] = trace
                        out["map"] = patch
                sig["traces"] = view["trace_sigs"]
                shown_parts = sig.get("parts") or {}
                out.update({name: view[name] for name in VIEW_KEYS
                            if shown_parts.get(name) != view["part_sigs"][name]})
                sig["parts"] = view["part_sigs"]
                wview = waste_for(services, self.cache, self.lock, key, lang, now)
                if wview["sig"]["waste"] != sig.get("waste"):
                    send_waste(wview, out, patch, lang)  # the fills are in the map's patch
                    out["map"] = patch
                    sig["waste"] = wview["sig"]["waste"]
            if gkey != seen.get("gkey"):
                self._send_governance(gkey, lang, now, sig, out, patch)
                send_focus(focus_for(services, self.cache, self.lock, key, gkey, lang, now),
                           out, sig)
        except DATA_ERRORS as exc:
            return self._failure(seen, lang, exc)
        out.update(replay=replay_children(status["replay"], lang), alert="",
                   status={**status, "server_now_ms": int(time.time() * 1000)})
        return out, {"key": key, "gkey": gkey, "sig": sig, "status": status, "layer": layer}

    def _send_governance(self, gkey: str, lang: Lang, now: datetime, sig: dict[str, Any],
                         out: dict[str, Any], patch: Patch) -> None:
        gview = self._governance(gkey, lang, now)
        if gview["sig"]["overdue"] != sig.get("overdue"):
            out.update(overdue=gview["overdue"], overdue_total=gview["overdue_total"])
        if gview["sig"]["queue"] != sig.get("queue"):
            out["queue"] = gview["queue"]
        vview = self._volunteers(gkey, lang, now)
        if vview["sig"]["vol_forces"] != sig.get("vol_forces"):
            out.update(vol_forces=vview["forces"], vol_forces_note=vview["forces_note"])
            patch["data"][VOLUNTEER_TRACE] = vview["trace"]
            out["map"] = patch
        if vview["sig"]["vol_mobs"] != sig.get("vol_mobs"):
            out.update(vol_mobs=vview["mobs"], vol_mobs_note=vview["mobs_note"])
        sig.update(gview["sig"], **vview["sig"])

    def producer(self, lang: Lang) -> Producer:
        """Return the push producer of ``lang``'s channel: updates as ``{"response": …}``."""
        def produce(seen: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any]]:
            out, seen = self.update(seen, lang, utc_now())
            return (None if out is None else {"response": response_of(out)}), seen
        return produce


def response_of(out: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return outputs by name as Dash answers a callback: ``{component_id: {prop: value}}``."""
    response: dict[str, dict[str, Any]] = {}
    for name, value in out.items():
        output = OUTPUTS[name]
        response.setdefault(str(output.component_id), {})[output.component_property] = value
    return response
