"""Dash callbacks: one module per page, each with ``register(app, services)``.

This package holds the router of the app shell: it renders the page of the current path in
the language of the ``?lang=`` query, handing the page its path and query.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qs

import dash
from dash import ClientsideFunction, Input, Output, State
from dash.development.base_component import Component

from layouts import ShellIds, forbidden, not_found
from layouts.i18n import lang_from_search


@dataclass(frozen=True)
class PageRequest:
    """What a page is rendered for: its path, the part after a prefix route, and the query.

    ``query`` maps each parameter to its last value (``?stage=open&stage=closed`` → closed).
    """

    path: str
    rest: str = ""
    query: dict[str, str] = field(default_factory=dict)


#: Renders one page: ``render(lang)`` or ``render(lang, request)``.
PageRenderer = Callable[..., Component]


def normalize_path(pathname: str | None) -> str:
    """Return ``pathname`` without a trailing slash (``/`` stays ``/``)."""
    path = (pathname or "/").split("?", 1)[0]
    return path.rstrip("/") or "/"


def parse_query(search: str | None) -> dict[str, str]:
    """Return the last value of each parameter of a URL query string (``?a=1&b=2``)."""
    return {k: v[-1] for k, v in parse_qs((search or "").lstrip("?")).items() if v}


def _takes_request(render: PageRenderer) -> bool:
    try:
        return len(inspect.signature(render).parameters) >= 2
    except (TypeError, ValueError):
        return False


def register_router(app: dash.Dash, routes: Mapping[str, PageRenderer], policy=None,
                    frame: Callable[[str, str, Component], Component] | None = None) -> None:
    """Register the callback that fills the shell with the page of the current path.

    Parameters
    ----------
    app : dash.Dash
        The app whose layout is :func:`layouts.shell`.
    routes : mapping of str to callable
        Path (``/``, ``/wall``) -> renderer taking the language (and, optionally, a
        :class:`PageRequest`). A path ending in ``/*`` is a prefix route: ``/incidents/*``
        renders ``/incidents/LP-1`` with ``request.rest == "LP-1"``. Unknown paths show
        :func:`layouts.not_found`.
    policy : callbacks.policy.Policy, optional
        Page rules: a page the viewer's role may not open shows :func:`layouts.forbidden`
        (navigation inside the app never reaches the server's page check).
    frame : callable, optional
        ``frame(lang, path, page)`` → what the shell shows (adds the account bar, say).
    """
    from callbacks.auth import current_viewer  # auth imports this package
    exact = {normalize_path(p): r for p, r in routes.items() if not p.endswith("/*")}
    prefixes = sorted(((p[:-1], r) for p, r in routes.items() if p.endswith("/*")),
                      key=lambda pr: -len(pr[0]))

    @app.callback(Output(ShellIds.PAGE, "children"),
                  Input(ShellIds.URL, "pathname"), Input(ShellIds.URL, "search"))
    def route(pathname: str | None, search: str | None) -> Component:
        lang = lang_from_search(search)
        path = normalize_path(pathname)
        query = parse_query(search)
        render, rest = exact.get(path), ""
        if render is None:
            for prefix, candidate in prefixes:
                if path.startswith(prefix) and len(path) > len(prefix):
                    render, rest = candidate, path[len(prefix):]
                    break
        if render is None:
            return not_found(lang)
        viewer = current_viewer()
        if policy is not None and not policy.allows_page(viewer, path):
            return forbidden(lang, viewer.label)
        if _takes_request(render):
            page = render(lang, PageRequest(path, rest, query))
        else:
            page = render(lang)
        return frame(lang, path, page) if frame is not None else page

    # the document's title in the page's language (Dash writes the default's into <title>)
    app.clientside_callback(ClientsideFunction("shell", "title"),
                            Output(ShellIds.TITLES, "data"),
                            Input(ShellIds.URL, "search"), State(ShellIds.TITLES, "data"))
