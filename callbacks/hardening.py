"""Security headers, the content security policy and CSRF protection of the web app.

- Flask-Talisman sends the CSP and the other headers. Scripts come from the app itself, plus
  the hashes of Dash's own inline scripts (``app.csp_hashes()``): no inline script of anyone
  else runs. Styles allow ``'unsafe-inline'`` because plotly.js and Dash set styles at run time;
  no script can enter that way. Frames, objects, other origins: none.
- Flask-WTF's CSRFProtect checks every state-changing request: forms carry ``csrf_token``,
  Dash callbacks send ``X-CSRFToken`` (dash-renderer reads the ``_csrf_token`` cookie that
  :mod:`callbacks.auth` sets on pages).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import dash
from flask import jsonify, redirect, request
from flask_talisman import Talisman
from flask_wtf.csrf import CSRFError, CSRFProtect

from cockpit.settings import Settings
from layouts.i18n import lang_from_search, t
from layouts.signin import refusal_page


def content_security_policy(app: dash.Dash) -> dict[str, str | list[str]]:
    """The CSP of every response; call after every callback is registered (inline hashes)."""
    return {
        "default-src": "'self'",
        "script-src": ["'self'", *app.csp_hashes()],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],
        "font-src": ["'self'", "data:"],
        "connect-src": "'self'",
        "media-src": ["'self'", "data:", "blob:"],
        "worker-src": ["'self'", "blob:"],
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }


def frame_policy(app: dash.Dash, img_sources: Sequence[str] = ()
                 ) -> dict[str, str | list[str]]:
    """The CSP of a document the app's own pages frame (the staff map).

    The same as every page's, but it may be framed by the app's own origin, its inline scripts
    run only with the response's nonce, and images may come from ``img_sources`` (the
    configured base map's tile servers; none by default).
    """
    policy = content_security_policy(app)
    policy["frame-ancestors"] = "'self'"
    policy["img-src"] = [*policy["img-src"], *img_sources]
    return policy


def harden(app: dash.Dash, settings: Settings,
           frames: Mapping[str, Sequence[str]] | None = None) -> None:
    """Install CSRF protection and the security headers on ``app.server``.

    Parameters
    ----------
    frames : mapping, optional
        Endpoint -> image origins of the documents shown in the app's own frames: they are
        sent with :func:`frame_policy`, a per-response script nonce (``request.csp_nonce``)
        and ``X-Frame-Options: SAMEORIGIN``.
    """
    server = app.server
    for endpoint, img_sources in (frames or {}).items():
        # flask-talisman reads per-view options from the view function
        server.view_functions[endpoint].talisman_view_options = {
            "frame_options": "SAMEORIGIN",
            "content_security_policy": frame_policy(app, img_sources),
            "content_security_policy_nonce_in": ["script-src"]}
    CSRFProtect(server)

    @server.errorhandler(CSRFError)
    def csrf_refused(error: CSRFError):
        if request.path.startswith("/api/") or request.path.startswith("/_dash"):
            return jsonify({"error": f"CSRF check failed: {error.description}"}), 400
        if request.endpoint == "signin":  # a form left open too long: a fresh one
            return redirect("/signin?reason=stale")
        lang = lang_from_search(request.query_string.decode(errors="replace"))
        return refusal_page(lang, t("signin_expired", lang), error.description), 400

    Talisman(
        server,
        force_https=False,  # TLS ends at the reverse proxy (docs/access.md)
        strict_transport_security=settings.https,
        session_cookie_secure=settings.https,
        session_cookie_http_only=True,
        frame_options="DENY",
        content_security_policy=content_security_policy(app),
        content_security_policy_nonce_in=None,
        referrer_policy="same-origin",
        permissions_policy={"geolocation": "()", "camera": "()", "microphone": "()",
                            "payment": "()", "usb": "()"},
        x_content_type_options=True,
    )
