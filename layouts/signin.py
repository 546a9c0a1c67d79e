"""The sign-in page and the plain refusal pages: server-rendered HTML, every value escaped.

They are not Dash pages: they must work before a session exists and without JavaScript, and
they load only ``/assets/fonts.css`` (the font stack every page shares) and
``/assets/signin.css`` (excluded from the Dash pages by ``ASSETS_IGNORE``).
"""

from __future__ import annotations

from markupsafe import Markup, escape

from layouts.i18n import Lang, t

#: Assets of these pages only; Dash does not add them to its pages.
ASSETS_IGNORE = r"signin\.css"


def _document(lang: Lang, title: str, body: Markup) -> str:
    html_lang = "en" if lang == "en" else "zh-CN"
    return str(Markup(
        '<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<title>{title}</title><link rel="stylesheet" href="/assets/fonts.css">'
        '<link rel="stylesheet" href="/assets/signin.css"></head>'
        '<body><main class="signin">{heading}{body}</main></body></html>'
    ).format(lang=html_lang, title=title,
             heading=Markup('<h1>{}</h1><p class="signin-sub">{}</p>').format(
                 t("title", lang), title),
             body=body))


def signin_page(lang: Lang, csrf_token: str, *, next_path: str = "/", message: str = "",
                username: str = "", local: bool = True, sso: bool = False) -> str:
    """The sign-in form (POST ``/signin``) with its CSRF token, a message and the SSO note."""
    parts = []
    if message:
        parts.append(Markup('<p class="signin-message" role="alert">{}</p>').format(message))
    if local:
        parts.append(Markup(
            '<form method="post" action="/signin{query}" class="signin-form">'
            '<input type="hidden" name="csrf_token" value="{csrf}">'
            '<input type="hidden" name="next" value="{next}">'
            '<label>{user_label}<input name="username" autocomplete="username" required '
            'autofocus value="{username}"></label>'
            '<label>{pw_label}<input name="password" type="password" required '
            'autocomplete="current-password"></label>'
            '<button type="submit">{submit}</button></form>'
        ).format(query="?lang=en" if lang == "en" else "", csrf=csrf_token, next=next_path,
                 user_label=t("signin_username", lang), username=username,
                 pw_label=t("signin_password", lang), submit=t("signin_submit", lang)))
    if sso:
        parts.append(Markup('<p class="signin-note">{}</p>').format(t("signin_sso", lang)))
    parts.append(Markup('<p class="signin-note">{}</p>').format(t("signin_wall_hint", lang)))
    return _document(lang, t("signin_title", lang), Markup("").join(parts))


def refusal_page(lang: Lang, message: str, detail: str = "", signed_in: bool = False) -> str:
    """A page that says why a request was refused, with a link on: the wall, or sign-in."""
    body = Markup('<p class="signin-message" role="alert">{}</p>').format(message)
    if detail:
        body += Markup('<p class="signin-note">{}</p>').format(detail)
    if signed_in:
        body += Markup('<p><a href="/">{}</a></p>').format(t("back_to_wall", lang))
    else:
        body += Markup('<p><a href="/signin">{}</a></p>').format(t("signin_title", lang))
    return _document(lang, message, body)


def plain(text: str) -> str:
    """``text`` escaped for HTML (for tests and callers that build their own markup)."""
    return str(escape(text))
