"""Callbacks of the wall page: one server poll that re-queries only when the data moved.

Every ``refresh_ms`` the browser asks :func:`register`'s ``refresh`` callback, which reads the
data version and status from Redis (three cheap GETs). When neither the version (nor the local
day) nor the status changed since the last answer, it sends nothing. When the version moved it
reads the incident read models once per version (flask-caching, shared by every screen of the
process) and sends the map's incident traces as a :class:`dash.Patch` and the panels' new
children. The overdue board, the announcement queue and the volunteer panels change with time
alone too (an incident turns overdue when its limit passes, a mobilisation's deadline nears and
its fill rate falls behind its schedule, with no event), so they are read once per version and
:data:`GOVERNANCE_EVERY_S` period, and sent only when what they show changed. The waste panel
and the map's accuracy fills (:mod:`callbacks.wall_waste`) change with the disposals and the
day: read once per version and day, sent only when what they show changed. The map's villages
come from the store's active layer (:mod:`callbacks.wall_parts`): an import moves the data
version, the poll then reads the new layer and sends the map's outlines, labels and caption.
Database and Redis errors never crash the page: they show 数据源连接中断.

Announcements (``assets/announce.js``) are spoken and acknowledged in the browser; the
``acknowledge`` callback writes each acknowledgement as a ``notification.acknowledged`` event
to the incidents stream, which the ingest applies like any other event.
The clock and data age run clientside (``assets/wall.js``) and depend on no server callback:
dash-renderer holds a callback whose Input or State is the output of a pending one, so a clock
fed by ``refresh`` would freeze with a hung server. The last status reaches the clock through a
JS global instead, and a clientside probe of ``GET /api/v1/status`` (:mod:`callbacks.status`,
registered here) tells the page when the server stops answering (服务器无响应).

The read models, the view and what a screen is sent live in :mod:`callbacks.wall_feed`
(:class:`~callbacks.wall_feed.WallFeed`), the map's parts and the governance and volunteer
views in :mod:`callbacks.wall_parts`.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import dash
from dash import ClientsideFunction, Input, Output, State
from flask_caching import Cache

from callbacks import PageRequest, push
from callbacks import status as status_route
from callbacks.auth import account_bar_for, current_viewer
from callbacks.policy import Policy
from callbacks.timemachine import (
    NOT_PAST,
    PastServices,
    add_frame_route,
    page_band,
    page_opener,
)
from callbacks.wall_ack import register_ack
from callbacks.wall_feed import DATA_ERRORS, WallFeed, response_of
from callbacks.wall_focus import pending_groups, register_focus, screen_is_kiosk
from callbacks.wall_parts import map_base, sync_layer
from cockpit.access import Capability
from cockpit.services import Services
from layouts.i18n import Lang
from layouts.map_counts import count_trace, volunteer_trace, wall_map_figure
from layouts.wall import PUSH_PAGE, WallIds, layout
from layouts.wall_governance import GovIds

log = logging.getLogger(__name__)


def render(services: Services, lang: Lang, request: PageRequest | None = None) -> Any:
    """Return the wall page for ``lang``; the data arrive with the first poll.

    ``?screen=NAME`` names this screen: its acknowledgements are recorded as by NAME. The map
    is drawn from the store's active village layer (asked once per data version; without a
    ``request``, for Dash's validation layout, from the one this process last read). The
    scenario panels are those of the tiles file as it is now (re-read when it changed).
    """
    screen = request.query.get("screen") if request is not None else None
    if request is not None:
        try:
            sync_layer(services, services.version())
        except DATA_ERRORS as exc:  # the poll says the source is down; draw the last layer
            log.debug("wall layer not checked: %s", exc)
    base = map_base(lang)
    figure = wall_map_figure(base, lang, extra=[count_trace(base, (), {}, lang),
                                                volunteer_trace(base, {}, lang)])
    viewer = current_viewer()
    kiosk = screen_is_kiosk(viewer, request)
    query, path = (request.query, request.path) if request is not None else ({}, "/")
    return layout(lang, refresh_ms=services.settings.refresh_ms,
                  timezone=services.settings.timezone, map_figure=figure, screen=screen,
                  push=push.client_config(PUSH_PAGE, lang, services.settings),
                  waste_target=services.settings.waste_rules.target,
                  account=account_bar_for(lang), may_ack=viewer.can(Capability.ACKNOWLEDGE),
                  may_drill=viewer.can(Capability.ITEMS), rotate_s=services.settings.wall_rotate_s,
                  kiosk=kiosk, past=page_band(services, "wall", lang, path, query, kiosk,
                                              WallIds.ROOT),
                  opener=page_opener(services, lang, path, query, kiosk),
                  scenarios=pending_groups(services.tiles.current(), lang))


def register(app: dash.Dash, services: Services, cache: Cache | None = None,
             policy: Policy | None = None) -> None:
    """Register the wall's callbacks, its clientside clock and ``GET /api/v1/status``.

    Every callback needs :attr:`Capability.WALL` except the acknowledgement
    (:attr:`Capability.ACKNOWLEDGE`); rules are declared in ``policy`` (the app's when None).

    Parameters
    ----------
    app : dash.Dash
        The app; its validation layout must contain the wall page.
    services : Services
        Redis (version, status, the incidents stream) and the store the read models come
        from; ``settings.governance`` names the escalation ladder shown on the overdue board.
    cache : flask_caching.Cache, optional
        Bound to ``app.server``; read models and views are cached by data version so that
        every screen of the process at one version shares one query. None disables it.
    """
    policy = policy or Policy.of(app)
    with policy.callbacks(app, Capability.WALL):
        _register(app, services, cache)
    with policy.callbacks(app, Capability.ACKNOWLEDGE):
        register_ack(app, services)
    policy.route(status_route.ENDPOINT, Capability.WALL)
    add_frame_route(app, services, "wall", past_frame, Capability.WALL, policy)


def past_frame(past: PastServices, lang: Lang, at: datetime, _args) -> dict[str, Any]:
    """The wall's outputs at ``at`` (every one: a snapshot), without the live-only ones."""
    out, _ = WallFeed(past, None).update({}, lang, at)
    return response_of({k: v for k, v in (out or {}).items() if k not in NOT_PAST})


def _register(app: dash.Dash, services: Services, cache: Cache | None) -> None:
    status_route.register(app, services)
    register_focus(app)
    feed = WallFeed(services, cache)
    push.add_page(app, services, PUSH_PAGE, feed.producer, Capability.WALL)
    app.clientside_callback(ClientsideFunction("push", "start"),
                            Output(WallIds.PUSH, "data"), Input(WallIds.CONFIG, "data"))

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
    # The acknowledgement reads no server output either: a click silences the screen at once.
    app.clientside_callback(ClientsideFunction("announce", "acknowledge"),
                            Output(GovIds.ACK_REQUEST, "data"),
                            Input(GovIds.ACK, "n_clicks"), Input(GovIds.ACK_ALL, "n_clicks"),
                            State(WallIds.CONFIG, "data"), prevent_initial_call=True)
    app.clientside_callback(ClientsideFunction("announce", "banner"),
                            Output(GovIds.ANNOUNCE, "className"),
                            Output(GovIds.ANNOUNCE_PRIORITY, "children"),
                            Output(GovIds.ANNOUNCE_PRIORITY, "className"),
                            Output(GovIds.ANNOUNCE_TEXT, "children"),
                            Output(GovIds.ANNOUNCE_MORE, "children"),
                            Output(GovIds.ANNOUNCE_NOTE, "children"),
                            Input(GovIds.QUEUE, "data"), Input(GovIds.ACK_REQUEST, "data"),
                            Input(GovIds.ACK_DONE, "data"), State(WallIds.CONFIG, "data"))
    app.clientside_callback(ClientsideFunction("cockpit", "drill"),
                            Output(GovIds.NAVIGATE, "data"), Input(WallIds.MAP, "clickData"),
                            State(WallIds.CONFIG, "data"), prevent_initial_call=True)

