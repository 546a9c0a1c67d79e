"""Dash callbacks: one module per page, each with ``register(app, services)``.

This package holds the router of the app shell: it renders the page of the current path in
the language of the ``?lang=`` query.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import dash
from dash import Input, Output
from dash.development.base_component import Component

from layouts import ShellIds, not_found
from layouts.i18n import Lang, lang_from_search

#: Renders one page in a language.
PageRenderer = Callable[[Lang], Component]


def normalize_path(pathname: str | None) -> str:
    """Return ``pathname`` without a trailing slash (``/`` stays ``/``)."""
    path = (pathname or "/").split("?", 1)[0]
    return path.rstrip("/") or "/"


def register_router(app: dash.Dash, routes: Mapping[str, PageRenderer]) -> None:
    """Register the callback that fills the shell with the page of the current path.

    Parameters
    ----------
    app : dash.Dash
        The app whose layout is :func:`layouts.shell`.
    routes : mapping of str to callable
        Path (``/``, ``/wall``) -> renderer taking the language; unknown paths show
        :func:`layouts.not_found`.
    """
    table = {normalize_path(path): render for path, render in routes.items()}

    @app.callback(Output(ShellIds.PAGE, "children"),
                  Input(ShellIds.URL, "pathname"), Input(ShellIds.URL, "search"))
    def route(pathname: str | None, search: str | None) -> Component:
        lang = lang_from_search(search)
        render = table.get(normalize_path(pathname))
        return render(lang) if render else not_found(lang)
