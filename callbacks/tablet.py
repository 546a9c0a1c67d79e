"""The leaders' tablet page (``/tablet``): its render and its live updates by server push.

The live update is one plain function, :func:`tablet_update`: given what the screens show
(``seen``), it returns the parts to send — only those whose signature changed — and the new
``seen``. Its read models are read once per data version, 15-second period (an incident turns
overdue with no event), scope and view, and shared by every tablet of the process through
flask-caching, as the wall's are (:mod:`callbacks.wall`); the parts are built once per
language. The render calls it for the first paint; the push hub (:mod:`callbacks.push`) calls
it through :func:`producer` for each channel — one per language, viewer's scope and view
(:func:`channel_of`), made on demand by the first tablet that asks (:meth:`TabletPage.resolve`)
and shared by every tablet that shows the same.

The view (period, village) lives in the URL: a link re-renders the page, whose push config
names that view. The scope is the signed-in viewer's (staff: their villages), never what the
browser sends.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import dash
import flask
from dash import ClientsideFunction, Input, Output, no_update
from dash.development.base_component import Component
from flask_caching import Cache
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from callbacks import PageRequest, push
from callbacks.auth import current_viewer
from callbacks.caching import single_flight
from callbacks.incidents import village_labels
from callbacks.reports import report_panel
from callbacks.staff_map import scope_of
from callbacks.timemachine import (
    PastServices,
    add_frame_route,
    moment_of,
    page_band,
    page_opener,
)
from callbacks.wall_parts import signature
from cockpit import tablet_queries as tq
from cockpit.access import Capability
from cockpit.clock import utc_now
from cockpit.mapdata.layers import village_layer
from cockpit.push import Producer, ProducerFactory
from cockpit.services import Services
from cockpit.tiles import tile_states
from layouts import tablet as page
from layouts import tablet_figures as figures
from layouts.i18n import Lang, normalize_lang, t
from layouts.tablet import TabletIds

log = logging.getLogger(__name__)

DATA_ERRORS = (SQLAlchemyError, RedisError, OSError)
#: The read models are read again at least this often, seconds: overdue needs no event.
TIME_EVERY_S = 15
#: Shortest poll period of the page when it cannot be pushed to, ms (the wall's 500 ms is not
#: needed on a tablet).
MIN_POLL_MS = 1000
#: The tablet's push route segment (``/push/tablet/events``).
PUSH_PAGE = "tablet"
#: Longest village code read from a link, characters.
MAX_VILLAGE = 40
#: The data parts, by output name; ``alert`` completes the outputs.
PARTS = {"kpis": Output(TabletIds.KPIS, "children"),
         "trend_incidents": Output(TabletIds.TREND_INCIDENTS, "figure"),
         "trend_volunteers": Output(TabletIds.TREND_VOLUNTEERS, "figure"),
         "trend_waste": Output(TabletIds.TREND_WASTE, "figure"),
         "drill": Output(TabletIds.DRILL, "children")}
TABLET_OUTPUTS = {**PARTS, "alert": Output(TabletIds.ALERT, "children")}


def view_of(query: dict[str, str]) -> dict[str, str | None]:
    """The view a URL query asks for: ``period`` (unknown → the default) and ``village``."""
    period = query.get("period")
    # a code is 12 digits: anything much longer is a paste gone wrong, kept short for the notice
    village = (query.get("village") or "").strip()[:MAX_VILLAGE] or None
    return {"period": period if period in tq.PERIODS else tq.DEFAULT_PERIOD,
            "village": village}


def unknown_village(view: dict[str, str | None], lang: Lang) -> bool:
    """True when the view names a village that is not one of the subdistrict's."""
    return bool(view["village"]) and view["village"] not in village_labels(lang)


def scoped_tiles(rows: list[dict[str, Any]], scope: Sequence[str] | None) -> list[dict]:
    """The configured tiles a viewer may see: all without a scope; else its villages' own."""
    return rows if scope is None else [r for r in rows if r["village"] in set(scope)]


def read_models(services: Services, now: datetime, period: str, village: str | None,
                scope: Sequence[str] | None) -> dict[str, Any]:
    """Read everything the page shows for one view, in one session (one snapshot)."""
    settings = services.settings
    tz = settings.tz
    with services.read() as session:
        layer = village_layer(session)
        models = {"kpis": tq.kpis(session, tz, now, settings.volunteer_rules, scope),
                  "tiles": scoped_tiles(tile_states(session, services.tiles.current(), tz,
                                                    now, series=False), scope),
                  "trends": tq.trends(session, tz, now, period, scope),
                  "villages": tq.villages(session, tz, now, period, layer, scope),
                  "items": None, "today": now.astimezone(tz).date().isoformat()}
        if village and village in set(layer["code"]):
            models["items"] = tq.village_items(session, tz, now, village, period, scope)
    return models


def _drill(models: dict[str, Any], period: str, village: str | None, target: float,
           lang: Lang, now: datetime) -> list:
    if not village:
        return page.subdistrict_children(models["villages"], period, target, lang)
    row = next((r for r in models["villages"]["villages"] if r["code"] == village), None)
    if models["items"] is None or row is None:
        known = village in village_labels(lang)
        text = t("tab_out_of_scope", lang) if known else t("tab_unknown_village", lang,
                                                            code=village)
        return page.notice_children(text, period, lang)
    return page.village_children(row, models["items"], period, target, lang, now)


def build_parts(models: dict[str, Any], lang: Lang, period: str, village: str | None,
                target: float, now: datetime) -> dict[str, Any]:
    """Turn the read models into the page's parts, each with the signature of what it shows.

    ``now`` is local (the items' times show the date unless today).
    """
    trend = models["trends"]
    # a village's view shows its own row only: another village's news changes nothing there
    drilled = (models["villages"] if not village else
               [r for r in models["villages"]["villages"] if r["code"] == village])
    shown = {"kpis": [models["kpis"], models["tiles"]],
             "trend_incidents": [trend["starts"], trend["reported"], trend["closed"]],
             "trend_volunteers": [trend["starts"], trend["volunteer_hours"],
                                  trend["volunteers"]],
             "trend_waste": [trend["starts"], trend["waste_correct"], trend["waste_total"]],
             "drill": [drilled, models["items"], models["today"], village]}
    return {"kpis": page.kpi_children(models["kpis"], target, lang, models["tiles"]),
            "trend_incidents": figures.incidents_figure(trend, lang),
            "trend_volunteers": figures.volunteers_figure(trend, lang),
            "trend_waste": figures.waste_figure(trend, target, lang),
            "drill": _drill(models, period, village, target, lang, now),
            "sig": {name: signature([value, lang, period, target])
                    for name, value in shown.items()}}


def tablet_update(services: Services, cache: Cache | None, lock: threading.Lock, seen: dict,
                  lang: Lang, now: datetime, scope: Sequence[str] | None
                  ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return what a tablet must be sent now, and its new ``seen``.

    Parameters
    ----------
    services : Services
        Redis (the data version) and the store.
    cache : flask_caching.Cache or None
        Read models and parts are cached by data version, time period, scope and view (None:
        read every time).
    lock : threading.Lock
        Guards the cache against a stampede (:func:`callbacks.caching.single_flight`).
    seen : dict
        What the screen shows: ``view`` (``period``, ``village``: set by the page's render),
        ``key`` (data version and time period read), ``sig`` (part name → signature),
        ``error``. Untrusted (it comes from the browser): the view is validated again and
        the scope never comes from it.
    lang : {"zh", "en"}
        The page's language.
    now : datetime
        Aware.
    scope : sequence of str or None
        The viewer's villages (staff); None: every village.

    Returns
    -------
    (dict, dict)
        Outputs by name (:data:`TABLET_OUTPUTS`): a part, ``""`` for a cleared
        alert, or :data:`dash.no_update`; and the new ``seen``. Nothing to send: every
        output ``no_update`` and ``seen`` unchanged.
    """
    seen = dict(seen or {})
    view = view_of({k: v for k, v in (seen.get("view") or {}).items() if isinstance(v, str)})
    period, village = view["period"], view["village"]
    out: dict[str, Any] = {name: no_update for name in (*PARTS, "alert")}
    settings = services.settings
    target = settings.waste_rules.target
    try:
        key = (f"{services.version()}@{int(now.timestamp() // TIME_EVERY_S)}"
               f":{services.tiles.current().fingerprint}")
        if key == seen.get("key") and not seen.get("error"):
            return out, seen
        where = "all" if scope is None else ",".join(sorted(scope))
        mkey = f"tablet:models:{key}:{where}:{period}:{village or ''}"
        models = single_flight(cache, lock, mkey,
                               lambda: read_models(services, now, period, village, scope))
    except DATA_ERRORS as exc:
        if seen.get("error"):  # already on screen; keep retrying quietly
            log.debug("tablet: data source still unreachable: %s", type(exc).__name__)
            return out, seen
        log.warning("tablet: data source unreachable: %s", type(exc).__name__)
        out["alert"] = t("source_down", lang)
        return out, {**seen, "view": view, "key": None, "error": True}
    local = now.astimezone(settings.tz)
    parts = single_flight(cache, lock, f"tablet:parts:{mkey}:{lang}",
                          lambda: build_parts(models, lang, period, village, target, local))
    sig = dict(seen.get("sig") or {})
    for name in PARTS:
        if parts["sig"][name] != sig.get(name):
            out[name] = parts[name]
            sig[name] = parts["sig"][name]
    if seen.get("error") or "error" not in seen:
        out["alert"] = ""
    return out, {"view": view, "key": key, "sig": sig, "error": False}


def response_of(out: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The outputs of :func:`tablet_update` that carry something, as Dash answers a callback.

    ``{component_id: {prop: value}}`` (the shape a server push sends); ``no_update`` left out.
    """
    response: dict[str, dict[str, Any]] = {}
    for name, value in out.items():
        if value is no_update:
            continue
        output = TABLET_OUTPUTS[name]
        response.setdefault(str(output.component_id), {})[output.component_property] = value
    return response


def channel_of(lang: Lang, scope: Sequence[str] | None, view: dict[str, str | None]) -> str:
    """The name of a push channel: screens that see the same (language, scope, view) share it.

    Unlike the wall's, the tablet's picture depends on who looks (a staff account's villages)
    and on the link (period, village): one channel per combination.
    """
    where = "all" if scope is None else ",".join(sorted(scope))
    return f"tablet:{lang}:{where}:{view['period']}:{view['village'] or ''}"


def producer(services: Services, cache: Cache | None, lock: threading.Lock, lang: Lang,
             scope: Sequence[str] | None, view: dict[str, str | None]) -> Producer:
    """A server push's producer for one channel (:func:`channel_of`).

    ``produce(seen) -> (update or None, seen)``, an update being ``{"response": …}``
    (:func:`response_of`): :func:`tablet_update` (as the first paint), for the channel's fixed
    view and scope.
    """
    def produce(seen: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        out, new = tablet_update(services, cache, lock, {**(seen or {}), "view": view}, lang,
                                 utc_now(), scope)
        response = response_of(out)
        return ({"response": response} if response else None), new
    return produce


def scope_names(scope: Sequence[str] | None, lang: Lang) -> list[str] | None:
    """The names of a staff account's villages (None: every village)."""
    if scope is None:
        return None
    names = village_labels(lang)
    return [names.get(code, code) for code in scope]


@dataclass
class TabletPage:
    """The tablet page of one app: its render and its push, sharing one cache and lock."""

    services: Services
    cache: Cache | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def render(self, lang: Lang, request: PageRequest) -> Component:
        """Return ``/tablet`` for the link's view, with its data (the push keeps them current)."""
        view = view_of(request.query)
        scope = scope_of(current_viewer())
        params = {k: v for k, v in view.items() if v}
        past = page_band(self.services, PUSH_PAGE, lang, page.TABLET_PATH, request.query,
                         root=TabletIds.ROOT, extra=params)
        opener = page_opener(self.services, lang, page.TABLET_PATH, request.query)
        if past is not None:  # the frames come from the time machine's route
            moment, _ = moment_of(self.services, request.query)  # a past day's briefing
            return page.layout(lang, period=view["period"], village=view["village"], parts={},
                               push=None, scope_names=scope_names(scope, lang), past=past,
                               reports=report_panel(self.services, lang, moment))
        out, _ = tablet_update(self.services, self.cache, self.lock, {"view": view}, lang,
                               utc_now(), scope)
        parts = {name: value for name, value in out.items() if value is not no_update}
        alert = parts.pop("alert", "")
        # a village no one knows has nothing to follow: its notice stands, no stream opens
        config = None if unknown_village(view, lang) else {
            **push_config(self.services, lang, scope, view),
            "digest": push.digest(response_of(out))}  # not drawn twice (push.js)
        return page.layout(lang, period=view["period"], village=view["village"], parts=parts,
                           push=config, scope_names=scope_names(scope, lang), alert=alert,
                           opener=opener, reports=report_panel(self.services, lang))

    def past_frame(self, past: PastServices, lang: Lang, at: datetime,
                   args: Mapping[str, str]) -> dict[str, Any]:
        """The page's parts at ``at`` for the query's view and the viewer's scope."""
        view = view_of({key: args[key] for key in ("period", "village") if key in args})
        out, _ = tablet_update(past, None, self.lock, {"view": view}, lang, at,
                               scope_of(current_viewer()))
        return response_of(out)

    def routes(self) -> dict[str, Any]:
        """Router entry of the page."""
        return {page.TABLET_PATH: self.render}

    def resolve(self) -> tuple[str, ProducerFactory]:
        """The push channel of the current request and a factory of its producer.

        The language and view come from the query, validated as a link's (:func:`view_of`);
        the scope from the signed-in viewer (:func:`callbacks.auth.current_viewer`), never from
        the request: a staff account that edits the query gets its own villages all the same.
        A village code no one knows is 404 (its page shows a notice and opens no stream).
        """
        args = flask.request.args
        lang = normalize_lang(args.get("lang"))
        view = view_of({key: args[key] for key in ("period", "village") if key in args})
        if unknown_village(view, lang):
            # no channel per made-up code: the bound of channels is for real views
            flask.abort(404)
        scope = scope_of(current_viewer())
        return channel_of(lang, scope, view), functools.partial(
            producer, self.services, self.cache, self.lock, lang, scope, view)

    def register(self, app: dash.Dash) -> None:
        """Add the page's push routes (``/push/tablet/…``, capability ``items``) and its client.

        The clientside ``push.start`` (``assets/push.js``) runs when the page's config store
        is rendered: each view opens (or polls) its own channel.
        """
        push.add_routes(app, self.services, PUSH_PAGE, self.resolve, Capability.ITEMS)
        add_frame_route(app, self.services, PUSH_PAGE, self.past_frame, Capability.ITEMS)
        app.clientside_callback(ClientsideFunction("push", "start"),
                                Output(TabletIds.PUSH, "data"), Input(TabletIds.CONFIG, "data"))


def push_config(services: Services, lang: Lang, scope: Sequence[str] | None,
                view: dict[str, str | None]) -> dict[str, Any]:
    """What ``assets/push.js`` needs for one view (:func:`callbacks.push.client_config`).

    The routes carry the view in their query; the tabs' lock and broadcast channel are named
    after the server's channel (language, scope and view), so two views never share a stream.
    """
    params = {"period": view["period"], **({"village": view["village"]}
                                           if view["village"] else {})}
    config = push.client_config(PUSH_PAGE, lang, services.settings, params,
                                channel_of(lang, scope, view))
    return {**config, "poll_ms": poll_ms(services)}


def poll_ms(services: Services) -> int:
    """How often the page polls when it cannot be pushed to, ms (``refresh_ms``, at least 1 s)."""
    return max(services.settings.refresh_ms, MIN_POLL_MS)


def validation_page() -> Component:
    """The page built without data, for the app's ``validation_layout``."""
    return page.layout("zh", period=tq.DEFAULT_PERIOD, village=None, parts={}, push=None)
