"""The cockpit's Dash app: ``create_app(settings)`` builds it; nothing happens at import.

Run it under a WSGI server with the factory: ``waitress-serve --call app:make_server``.
"""

from __future__ import annotations

import functools
from pathlib import Path

import dash
import flask
from dash import html
from flask_caching import Cache

import callbacks.admin
import callbacks.analysis
import callbacks.api
import callbacks.export
import callbacks.faults
import callbacks.health
import callbacks.incidents
import callbacks.landlord
import callbacks.metrics
import callbacks.reports
import callbacks.staff_map
import callbacks.tablet
import callbacks.timemachine
import callbacks.timemachine_busy
import callbacks.volunteers
import callbacks.volunteers_mobilize
import callbacks.volunteers_review
import callbacks.wall
import callbacks.waste
import callbacks.waste_followups
import callbacks.waste_photos
import callbacks.waste_review
import layouts
from callbacks import register_router
from callbacks.auth import account_bar_for, init_access
from callbacks.hardening import harden
from callbacks.policy import PUBLIC, SIGNED_IN
from callbacks.signin import register_signin
from cockpit.access import Capability, Role
from cockpit.mapdata import tiles
from cockpit.services import Services
from cockpit.settings import Settings
from layouts.i18n import t
from layouts.landlord import LANDLORD_PATH
from layouts.signin import ASSETS_IGNORE
from layouts.staff_map_frame import ASSETS_PATH_IGNORE

ASSETS = Path(__file__).resolve().parent / "assets"
#: Per-process cache of read models, keyed by data version (see callbacks.wall), and of who
#: a session is (callbacks.auth, a few seconds).
CACHE_CONFIG = {"CACHE_TYPE": "SimpleCache", "CACHE_DEFAULT_TIMEOUT": 120,
                "CACHE_THRESHOLD": 2000}
#: Dash's own endpoints: its code and assets are public (no data); its layout (the empty
#: shell) and callback list need a session of any role, the landlord's too (each callback has
#: its own rule, callbacks.policy).
DASH_ENDPOINTS = {
    "static": PUBLIC, "_dash_assets.static": PUBLIC, "/_favicon.ico": PUBLIC,
    "/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>": PUBLIC,
    "/_dash-layout": SIGNED_IN, "/_dash-dependencies": SIGNED_IN, "/_reload-hash": SIGNED_IN,
}


#: Pages that place the account bar themselves (the wall, in its header).
OWN_ACCOUNT_BAR = frozenset({"/", "/wall"})


def framed(lang, path: str, page):
    """A page with the signed-in person's account bar (and sign-out) in the corner."""
    bar = None if path in OWN_ACCOUNT_BAR else account_bar_for(lang)
    if bar is None:
        return page
    return html.Div([page, html.Div(bar, className="account-corner")])


def create_app(settings: Settings | None = None, services: Services | None = None) -> dash.Dash:
    """Build the Dash app (wall page at ``/`` and ``/wall``) and its Flask server.

    Parameters
    ----------
    settings : Settings, optional
        Read from the environment when omitted.
    services : Services, optional
        Redis and the store; built from ``settings`` when omitted (tests pass their own).

    Raises
    ------
    cockpit.settings.MissingSecret
        Without ``COCKPIT_SECRET_KEY``; nothing is started then.
    """
    (services.settings if services else settings or Settings()).require("secret_key")
    services = services or Services.from_settings(settings or Settings(), web=True)
    server = flask.Flask(__name__)
    cache = Cache()
    cache.init_app(server, config=CACHE_CONFIG)
    app = dash.Dash(
        __name__, server=server, title=t("title"), update_title=None, assets_ignore=ASSETS_IGNORE,
        assets_path_ignore=ASSETS_PATH_IGNORE,
        assets_folder=str(ASSETS), serve_locally=True, external_stylesheets=[],
        external_scripts=[], suppress_callback_exceptions=False,
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
    )
    access = init_access(app, services, cache)
    register_signin(app, access)
    policy = access.policy
    callbacks.health.register(app, services, policy)
    callbacks.metrics.register(app, services, policy)
    callbacks.faults.register(app, services, policy)
    for endpoint, rule in DASH_ENDPOINTS.items():
        policy.route(endpoint, rule)
    wall_page = functools.partial(callbacks.wall.render, services)
    analysis_page = functools.partial(callbacks.analysis.render, services)
    admin_page = functools.partial(callbacks.admin.render, services)
    tablet = callbacks.tablet.TabletPage(services, cache)
    app.layout = layouts.shell()
    app.validation_layout = html.Div([layouts.shell(), wall_page("zh"),
                                      *callbacks.incidents.validation_pages(),
                                      *callbacks.volunteers.validation_pages(),
                                      *callbacks.volunteers_mobilize.validation_pages(),
                                      *callbacks.waste.validation_pages(),
                                      analysis_page("zh"), callbacks.admin.validation_page(),
                                      callbacks.landlord.validation_page(),
                                      callbacks.staff_map.validation_page(),
                                      callbacks.tablet.validation_page(),
                                      callbacks.timemachine.validation_band()])
    volunteer_routes = callbacks.volunteers_mobilize.routes(
        services, callbacks.volunteers.routes(services))
    pages = {"/": (wall_page, Capability.WALL), "/wall": (wall_page, Capability.WALL),
             "/analysis": (analysis_page, Capability.ITEMS),
             "/admin": (admin_page, Capability.ADMIN),
             **{path: (render, Capability.ITEMS)
                for path, render in callbacks.incidents.routes(services).items()},
             **{path: (render, Capability.ITEMS)
                for path, render in volunteer_routes.items()},
             **{path: (render, Capability.ITEMS)
                for path, render in callbacks.waste.routes(services).items()},
             **{path: (render, Capability.ITEMS)
                for path, render in callbacks.staff_map.routes(services).items()},
             **{path: (render, Capability.ITEMS) for path, render in tablet.routes().items()},
             **{path: (render, Capability.LANDLORD)
                for path, render in callbacks.landlord.routes(services).items()}}
    policy.pages_of({path: rule for path, (_, rule) in pages.items()})
    policy.home(Role.LANDLORD, LANDLORD_PATH)
    # the router checks each page's rule itself: any role may ask it for the page of a path
    with policy.callbacks(app, SIGNED_IN):
        register_router(app, {path: render for path, (render, _) in pages.items()}, policy,
                        frame=framed)
    with policy.callbacks(app, Capability.ITEMS):
        callbacks.incidents.register(app, services)
        callbacks.analysis.register(app, services, cache)
        callbacks.volunteers.register(app, services)
        callbacks.waste.register(app, services)
        callbacks.staff_map.register(app, services)
        tablet.register(app)
    with policy.callbacks(app, Capability.REVEAL):
        callbacks.incidents.register_reveal(app, services)
        callbacks.volunteers_review.register(app, services)
        callbacks.waste_review.register(app, services)
    with policy.callbacks(app, Capability.MOBILIZE):
        callbacks.volunteers_mobilize.register(app, services)
    with policy.callbacks(app, Capability.ADMIN):
        callbacks.admin.register(app, services)
    callbacks.waste_followups.register(app, services)  # declares its callbacks' rules itself
    callbacks.waste_photos.register(app, services, policy)
    callbacks.staff_map.register_routes(app, services, policy)
    callbacks.wall.register(app, services, cache, policy)
    callbacks.timemachine.register(app, policy)
    callbacks.timemachine_busy.register(app.server)
    callbacks.api.register(app, services, policy)
    callbacks.export.register(app, services, policy)
    callbacks.reports.register(app, services, policy)
    # last: the CSP hashes Dash's inline scripts
    harden(app, services.settings, frames={callbacks.staff_map.FRAME_ENDPOINT: (
        callbacks.staff_map.tile_sources(tiles.provider(services.settings)))})
    return app


def make_server() -> flask.Flask:
    """Return the WSGI application of an app built from the environment."""
    return create_app().server
