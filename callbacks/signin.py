"""The sign-in page, sign-out and kiosk links: the routes that create and end sessions.

``POST /signin`` checks the rate limit (failed attempts per account and per client address,
``COCKPIT_SIGNIN_LIMIT``, counted in Redis with ``limits``; in the process itself while Redis is
unreachable), then the password (:func:`cockpit.accounts.authenticate`). ``POST /signout`` ends
the session here and for any copy of its cookie. ``GET /kiosk/<token>`` signs a wall screen in.
All three are public routes; every act is written to the audit log.
"""

from __future__ import annotations

import logging
import secrets
import time
from urllib.parse import quote, urlencode, urlsplit

import dash
import flask_login
from flask import redirect, request, session
from flask_wtf.csrf import generate_csrf
from limits import parse as parse_limit
from limits.storage import MemoryStorage, RedisStorage
from limits.strategies import MovingWindowRateLimiter

from callbacks.auth import Access, SignedIn, client_address, current_viewer
from callbacks.policy import PUBLIC
from callbacks.timemachine import PARAMS as TIME_PARAMS
from cockpit import accounts
from cockpit.access import Role, Viewer
from cockpit.audit import record
from layouts.i18n import t
from layouts.signin import refusal_page, signin_page

log = logging.getLogger(__name__)

#: Longest value of a time-machine parameter a kiosk link passes on (a moment, a speed).
KIOSK_PARAM_CHARS = 40


def _safe_next(value: str | None) -> str:
    """A local path to go back to after sign-in (never another site)."""
    value = (value or "/").strip()
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/") or value.startswith("//") \
            or "\\" in value or parts.path in ("/signin", "/signout"):
        return "/"
    return value


def kiosk_target(name: str, lang: str, args) -> str:
    """Where a kiosk link leads: the wall, named ``name``, with its link's time machine.

    Only the time machine's parameters (``at``, ``from``, ``to``, ``speed``) of the link are
    passed on, each at most :data:`KIOSK_PARAM_CHARS` characters, so a hall can be set up to
    show a past moment or a replay (``/kiosk/<token>?from=…&to=…&speed=10``); the target is
    always the wall (``/``), never a place the link names. Values are checked by the page
    (a bad one turns its band red), not here.
    """
    past = {k: v for k in TIME_PARAMS
            if (v := (args.get(k) or "").strip()[:KIOSK_PARAM_CHARS])}
    query = {"screen": name, **({"lang": "en"} if lang == "en" else {}), **past}
    return "/?" + urlencode(query, quote_via=quote)


class SignIn:
    """The session routes of one app, on top of its :class:`callbacks.auth.Access`."""

    def __init__(self, access: Access):
        self.access = access
        settings = access.settings
        storage = RedisStorage("redis://", connection_pool=access.services.redis.connection_pool,
                               key_prefix=settings.key("limits"))
        self.limiter = MovingWindowRateLimiter(storage)
        #: Used while Redis is unreachable: this process's own counts, so sign-in still works
        #: and is still limited (per process) through a Redis outage.
        self.fallback = MovingWindowRateLimiter(MemoryStorage())
        self.limit = parse_limit(settings.signin_limit)

    def _limiter(self) -> MovingWindowRateLimiter:
        """The Redis-backed limiter, or this process's own while Redis is unreachable."""
        if not self.access.services.link.call(lambda r: r.ping(), False):
            log.warning("sign-in: Redis unreachable; failed attempts counted in this process")
            return self.fallback
        return self.limiter

    def signin(self):
        """GET: the form. POST: check the rate limit, then the password; sign in or say why."""
        lang = self.access._lang()
        next_path = _safe_next(request.values.get("next"))
        sso = bool(self.access.settings.proxy_networks)
        if request.method == "GET":
            message = ""
            reason = request.args.get("reason")
            if reason in ("revoked", "expired", "stale"):
                message = t(f"signin_{reason}", lang)
            return signin_page(lang, generate_csrf(), next_path=next_path, message=message,
                               sso=sso)
        username = (request.form.get("username") or "").strip()[:64]
        password = request.form.get("password") or ""
        origin = client_address(self.access.settings)
        keys = (("account", username.lower()), ("address", origin))
        limiter = self._limiter()
        if not all(limiter.test(self.limit, *k) for k in keys):
            reset = max(limiter.get_window_stats(self.limit, *k).reset_time for k in keys)
            minutes = max(1, round((reset - time.time()) / 60))
            with self.access.services.sessions.begin() as db:
                record(db, username if accounts.exists(db, username) else "-",
                       "signin_limited", origin=origin)
            page = signin_page(lang, generate_csrf(), next_path=next_path, username=username,
                               message=t("signin_limited", lang, n=minutes), sso=sso)
            return page, 429
        with self.access.services.sessions.begin() as db:
            user = accounts.authenticate(db, username, password)
            if user is None:
                # a name that is no account is not written: it may be a password typed there
                known = accounts.exists(db, username)
                record(db, username if known else "-", "signin_failed", origin=origin,
                       detail=None if known else "unknown account")
                viewer, login_id = None, ""
            else:
                viewer = accounts.viewer_of_user(user)
                # sid: this session's own id, so that signing out ends this session only
                login_id = f"u:{user.user_id}:{user.session_epoch}:{secrets.token_hex(8)}"
                record(db, user.username, "signin", role=user.role, origin=origin)
        if viewer is None:
            for key in keys:
                limiter.hit(self.limit, *key)
            page = signin_page(lang, generate_csrf(), next_path=next_path, username=username,
                               message=t("signin_failed", lang), sso=sso)
            return page, 401
        limiter.clear(self.limit, *keys[0])
        session.clear()  # no fixation: a new session (and CSRF token) for the signed-in user
        flask_login.login_user(SignedIn(login_id, viewer))
        session.permanent = False  # the cookie ends with the browser; the server ends it too
        session["since"] = time.time()
        # a role that may not open the page asked for goes to its home (a landlord's page)
        return redirect(self.access.policy.landing(viewer, next_path))

    def signout(self):
        """POST: end the session (CSRF-checked) and go to the sign-in page."""
        viewer = current_viewer()
        if viewer.signed_in:
            with self.access.services.sessions.begin() as db:
                record(db, viewer.name, "signout", role=viewer.role,
                       origin=client_address(self.access.settings))
        # a copy of the cookie must not outlive the sign-out
        self.access.end_session(str(session.get("_user_id", "")))
        flask_login.logout_user()
        session.clear()
        return redirect("/signin")

    def kiosk(self, token: str):
        """GET ``/kiosk/<token>``: sign this browser in as the kiosk's wall screen."""
        origin = client_address(self.access.settings)
        with self.access.services.sessions.begin() as db:
            kiosk = accounts.kiosk_of_token(db, self.access.secret, token)
            if kiosk is not None:
                record(db, kiosk.name, "kiosk_opened", role=Role.WALL, origin=origin)
                login_id = f"k:{kiosk.kiosk_id}:{kiosk.nonce}"
                name = kiosk.name
        if kiosk is None:
            return refusal_page(self.access._lang(), t("kiosk_invalid", self.access._lang())), 403
        session.clear()
        flask_login.login_user(SignedIn(login_id, Viewer("kiosk", name, Role.WALL)))
        session.permanent = True
        return redirect(kiosk_target(name, self.access._lang(), request.args))


def register_signin(app: dash.Dash, access: Access) -> SignIn:
    """Add ``/signin``, ``/signout`` and ``/kiosk/<token>`` (public routes)."""
    routes = SignIn(access)
    server = app.server
    server.add_url_rule("/signin", "signin", routes.signin, methods=["GET", "POST"])
    server.add_url_rule("/signout", "signout", routes.signout, methods=["POST"])
    server.add_url_rule("/kiosk/<path:token>", "kiosk", routes.kiosk, methods=["GET"])
    for endpoint in ("signin", "signout", "kiosk"):
        access.policy.route(endpoint, PUBLIC)
    return routes
