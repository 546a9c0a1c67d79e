"""The cockpit's Dash app: ``create_app(settings)`` builds it; nothing happens at import.

Run it under a WSGI server with the factory: ``waitress-serve --call app:make_server``.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
from pathlib import Path

import dash
import flask
from dash import html
from flask_caching import Cache

import callbacks.analysis
import callbacks.incidents
import callbacks.wall
import layouts
from callbacks import register_router
from cockpit.services import Services
from cockpit.settings import Settings
from layouts.i18n import t

ASSETS = Path(__file__).resolve().parent / "assets"
#: Per-process cache of read models, keyed by data version (see callbacks.wall).
CACHE_CONFIG = {"CACHE_TYPE": "SimpleCache", "CACHE_DEFAULT_TIMEOUT": 120,
                "CACHE_THRESHOLD": 200}


def create_app(settings: Settings | None = None, services: Services | None = None) -> dash.Dash:
    """Build the Dash app (wall page at ``/`` and ``/wall``) and its Flask server.

    Parameters
    ----------
    settings : Settings, optional
        Read from the environment when omitted.
    services : Services, optional
        Redis and the store; built from ``settings`` when omitted (tests pass their own).
    """
    services = services or Services.from_settings(settings or Settings())
    server = flask.Flask(__name__)
    cache = Cache()
    cache.init_app(server, config=CACHE_CONFIG)
    app = dash.Dash(
        __name__, server=server, title=t("title"), update_title=None,
        assets_folder=str(ASSETS), serve_locally=True, external_stylesheets=[],
        external_scripts=[], suppress_callback_exceptions=False,
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
    )
    wall_page = functools.partial(callbacks.wall.render, services)
    analysis_page = functools.partial(callbacks.analysis.render, services)
    app.layout = layouts.shell()
    app.validation_layout = html.Div([layouts.shell(), wall_page("zh"),
                                      *callbacks.incidents.validation_pages(),
                                      analysis_page("zh")])
    register_router(app, {"/": wall_page, "/wall": wall_page,
                          "/analysis": analysis_page, **callbacks.incidents.routes(services)})
    callbacks.incidents.register(app, services)
    callbacks.wall.register(app, services, cache)
    callbacks.analysis.register(app, services, cache)
    if importlib.util.find_spec("callbacks.api") is not None:
        importlib.import_module("callbacks.api").register(app, services)
    return app


def make_server() -> flask.Flask:
    """Return the WSGI application of an app built from the environment."""
    return create_app().server
