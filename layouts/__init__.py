"""Pure builders of the cockpit's pages and figures; ids are declared once beside each layout.

This package holds the app shell: a location and the container the router fills with the page
of the current path (``callbacks.register_router``).
"""

from __future__ import annotations

import json
from enum import StrEnum

from dash import dcc, html

from layouts.i18n import LANGS, Lang, t


class ShellIds(StrEnum):
    """Component ids of the app shell."""

    URL = "shell-url"
    PAGE = "shell-page"
    #: The document's title in each language (assets/shell.js sets the one of ?lang=).
    TITLES = "shell-titles"
    #: The banner saying the live link or the database is down (assets/faults.js).
    FAULT = "shell-fault"


#: Where assets/faults.js asks whether Redis and the database answer (callbacks.faults).
LINK_STATUS_PATH = "/status/link"
#: The banner's texts, per language (``{time}``: HH:MM).
FAULT_TEXTS = ("link_down", "link_down_never", "db_down", "db_down_never")


def shell() -> html.Div:
    """Return the app shell: the URL location, the page container and the titles."""
    return html.Div(className="shell", children=[
        dcc.Location(id=ShellIds.URL, refresh=False),
        html.Div(id=ShellIds.PAGE, className="shell-page"),
        dcc.Store(id=ShellIds.TITLES, data={lang: t("title", lang) for lang in LANGS}),
        html.Div(id=ShellIds.FAULT, className="shell-fault", hidden=True, role="alert", **{
            "data-url": LINK_STATUS_PATH,
            "data-texts": json.dumps({lang: {key: t(key, lang) for key in FAULT_TEXTS}
                                      for lang in LANGS}, ensure_ascii=False)}),
    ])


def account_bar(lang: Lang, label: str, csrf_token: str) -> html.Form:
    """Who is signed in, and a sign-out button (a POST form carrying the CSRF token)."""
    return html.Form(method="post", action="/signout", className="account-bar", children=[
        html.Span(label, className="account-name"),
        dcc.Input(type="hidden", name="csrf_token", value=csrf_token),
        html.Button(t("signout", lang), type="submit", className="account-signout"),
    ])


def forbidden(lang: Lang, who: str) -> html.Div:
    """Return the page shown when the viewer's role may not open the path."""
    return html.Div(className="not-found", children=[
        html.H1(t("forbidden", lang)),
        html.P(t("forbidden_hint", lang, who=who)),
        html.A(t("back_to_wall", lang), href="/?lang=en" if lang == "en" else "/"),
    ])


def not_found(lang: Lang) -> html.Div:
    """Return the page shown for an unknown path, with a link back to the wall."""
    return html.Div(className="not-found", children=[
        html.H1(t("not_found", lang)),
        html.A(t("back_to_wall", lang), href="/" if lang == "zh" else "/?lang=en"),
    ])
