"""Who a request is, and the check run before every request; sessions and the SSO header.

- Sessions are created and ended by the routes of :mod:`callbacks.signin` (sign-in form,
  sign-out, kiosk links).
- Sessions are Flask's signed cookie managed by Flask-Login; a personal session ends
  ``COCKPIT_SESSION_HOURS`` after sign-in, or at once when the account is disabled or changed.
- A wall screen opens ``/kiosk/<token>``; its session lasts while the kiosk is not revoked.
- Behind the intranet's single sign-on, a request from a configured proxy address
  (``COCKPIT_PROXY_ADDRESSES``) names its user in ``COCKPIT_PROXY_USER_HEADER``; the header
  from any other address is ignored.
- :func:`enforce` runs first on every request and asks :class:`callbacks.policy.Policy`.

Who a request is (account, kiosk) is re-read from the database at most every
:data:`VIEWER_TTL_S` seconds per process, so a revocation takes effect within that time.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import quote

import dash
import flask
import flask_login
from dash.development.base_component import Component
from flask import g, jsonify, redirect, request, session
from flask_caching import Cache
from flask_wtf.csrf import generate_csrf
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from callbacks.policy import CALLBACK_ENDPOINT, PAGE_ENDPOINTS, Policy, for_script
from cockpit import accounts
from cockpit.access import ANONYMOUS, Role, Viewer
from cockpit.audit import record
from cockpit.services import Services
from cockpit.store.models import User
from layouts import account_bar
from layouts.i18n import Lang, lang_from_search, t
from layouts.signin import refusal_page

log = logging.getLogger(__name__)

#: Seconds a resolved account or kiosk is trusted before the database is asked again.
VIEWER_TTL_S = 10
#: How long the last answer of a session check stands in while the database is unreachable.
LAST_KNOWN_S = 24 * 3600
DATA_ERRORS = (SQLAlchemyError, OSError)
#: Kiosk sessions: the cookie's lifetime, renewed on every request of the open screen.
KIOSK_COOKIE_DAYS = 30
CSRF_COOKIE = "_csrf_token"  # the name dash-renderer reads and sends back as X-CSRFToken
#: Endpoints whose answers a cache may keep: code and styles, no data.
PUBLIC_CACHEABLE = frozenset({
    "_dash_assets.static", "static", "/_favicon.ico",
    "/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>"})


class DataSourceDown(RuntimeError):
    """Who a session is cannot be checked: the database is unreachable."""


class SignedIn(flask_login.UserMixin):
    """Flask-Login's user: a login id (``u:<id>:<epoch>`` or ``k:<id>:<nonce>``) and a viewer."""

    def __init__(self, login_id: str, viewer: Viewer):
        self.login_id = login_id
        self.viewer = viewer

    def get_id(self) -> str:
        """The id kept in the session cookie."""
        return self.login_id


def current_viewer() -> Viewer:
    """Who the current request is (:data:`cockpit.access.ANONYMOUS` outside a request)."""
    if not flask.has_request_context():
        return ANONYMOUS
    viewer = g.get("viewer")
    return viewer if viewer is not None else ANONYMOUS


def account_bar_for(lang: Lang) -> Component | None:
    """The header's account line for a signed-in person; None for a kiosk or nobody."""
    viewer = current_viewer()
    if viewer.kind != "user":
        return None
    return account_bar(lang, f"{viewer.name} · {t(f'role_{viewer.role}', lang)}",
                       generate_csrf())


def audit_view(services: Services, viewer: Viewer, target: str, where: str,
               action: str = "view_unmasked") -> None:
    """Write one unmasked view (or export) by ``viewer`` to the audit log, committed now."""
    with services.sessions.begin() as db:
        record(db, viewer.name, action, role=viewer.role, target=target,
               origin=client_address(services.settings), detail=where)


def client_address(settings) -> str:
    """The client's address: the peer, or the last X-Forwarded-For hop from a trusted proxy."""
    peer = request.remote_addr or ""
    forwarded = request.headers.get("X-Forwarded-For", "")
    if forwarded and _trusted(peer, settings):
        return forwarded.split(",")[-1].strip()[:64]
    return peer


def _trusted(address: str, settings) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in settings.proxy_networks)


class Access:
    """The access machinery of one app (see module docstring)."""

    def __init__(self, app: dash.Dash, services: Services, cache: Cache):
        self.app, self.services, self.settings, self.cache = app, services, services.settings, cache
        self.policy = Policy.of(app)
        self.secret = self.settings.secret("secret_key")
        #: Seconds a resolved session is trusted (tests shorten it; see VIEWER_TTL_S).
        self.ttl_s = VIEWER_TTL_S

    # -- who is asking ---------------------------------------------------------------------

    def _resolve(self, login_id: str) -> Viewer | None:
        kind, _, rest = login_id.partition(":")
        ident, _, token = rest.partition(":")
        if not ident.isdigit():
            return None
        if kind == "u":
            epoch, _, sid = token.partition(":")
            if self._signed_out(sid):
                return None
            with self.services.read() as db:
                return accounts.viewer_of_user(db.get(User, int(ident)),
                                               int(epoch) if epoch.isdigit() else -1)
        with self.services.read() as db:
            if kind == "k":
                kiosk = accounts.live_kiosk(db, int(ident), token)
                return Viewer("kiosk", kiosk.name, Role.WALL) if kiosk is not None else None
        return None

    def _signed_out(self, sid: str) -> bool:
        """True when the session ``sid`` was signed out (Redis; unknown while Redis is down)."""
        if not sid:
            return True
        key = self.settings.key(f"signedout:{sid}")
        # the live link's breaker: no session check waits on a Redis known to be down
        return bool(self.services.link.call(lambda r: r.exists(key), False))

    def _cached(self, key: str, resolve) -> Viewer | None:
        """``resolve()`` at most every ``ttl_s``; while the database is down, the last answer.

        Raises
        ------
        DataSourceDown
            The database is unreachable and this process never resolved ``key``.
        """
        hit = self.cache.get(key)
        if hit is not None:
            return hit or None
        try:
            viewer = resolve()
        except DATA_ERRORS as exc:
            # screens keep running (and say the data source is down) through an outage;
            # a revocation made meanwhile takes effect when the database is back
            last = self.cache.get(f"last:{key}")
            if last is None:
                raise DataSourceDown(type(exc).__name__) from exc
            log.warning("session check: database unreachable (%s); last answer kept",
                        type(exc).__name__)
            return last or None
        self.cache.set(key, viewer or False, timeout=self.ttl_s)
        self.cache.set(f"last:{key}", viewer or False, timeout=LAST_KNOWN_S)
        return viewer

    def load_user(self, login_id: str) -> SignedIn | None:
        """Flask-Login's user loader: the session's account or kiosk if still valid."""
        viewer = self._cached(f"viewer:{login_id}", lambda: self._resolve(login_id))
        return SignedIn(login_id, viewer) if viewer is not None else None

    def _proxy_viewer(self) -> Viewer | None:
        name = request.headers.get(self.settings.proxy_user_header, "").strip()
        if not name or not self.settings.proxy_networks \
                or not _trusted(request.remote_addr or "", self.settings):
            return None

        viewer = self._cached(f"proxy:{name}", lambda: self._resolve_proxy(name))
        if session.get("sso") != name:  # once per browser session: who came in through SSO
            with self.services.sessions.begin() as db:
                if viewer is not None:
                    accounts.touch_sign_in(db, name)
                record(db, name if viewer is not None else "-",
                       "signin" if viewer is not None else "signin_failed", role=(
                           viewer.role if viewer is not None else None),
                       origin=client_address(self.settings),
                       detail="sso" if viewer is not None else "sso: not registered or disabled")
            session["sso"] = name
        return viewer or Viewer("sso-unknown", name)

    def _resolve_proxy(self, name: str) -> Viewer | None:
        with self.services.read() as db:
            user = db.scalar(select(User).where(User.username == name))
            return accounts.viewer_of_user(user)

    def guard(self) -> Callable[[], bool]:
        """Return a check that the current request's viewer still holds, for a long response.

        :func:`enforce` decides once, when a request arrives; a push stream then stays open
        for hours. The check runs outside the request (the stream's iteration): it is True
        while the same session (or SSO user) still resolves to the same viewer (account, role
        and villages: a disabled or changed account, a revoked kiosk or a signed-out session
        make it False) and a personal session has not passed ``COCKPIT_SESSION_HOURS``. It
        re-reads the database at most every :data:`VIEWER_TTL_S` (the cache of every request);
        while the database is unreachable it keeps the last answer, as requests do.
        """
        viewer = g.get("viewer") or ANONYMOUS
        name = request.headers.get(self.settings.proxy_user_header, "").strip()
        via_proxy = bool(name) and bool(self.settings.proxy_networks) \
            and _trusted(request.remote_addr or "", self.settings)
        if via_proxy and viewer.kind == "user" and viewer.name == name:
            key, resolve = f"proxy:{name}", (lambda: self._resolve_proxy(name))
            since = None
        else:
            login_id = str(session.get("_user_id", ""))
            key, resolve = f"viewer:{login_id}", (lambda: self._resolve(login_id))
            since = session.get("since", 0) if viewer.kind == "user" else None
        limit_s = self.settings.session_hours * 3600
        server = self.app.server

        def holds() -> bool:
            if since is not None and time.time() - since > limit_s:
                return False
            try:
                with server.app_context():
                    return self._cached(key, resolve) == viewer
            except DataSourceDown:
                return True  # the page says the source is down; nothing new is sent meanwhile
        return holds

    def _session_expired(self, user: SignedIn) -> bool:
        if user.viewer.kind != "user":
            return False
        since = session.get("since", 0)
        return time.time() - since > self.settings.session_hours * 3600

    def identify(self) -> Viewer:
        """Set ``g.viewer`` for this request (SSO header first, then the session)."""
        viewer = self._proxy_viewer()
        if viewer is None:
            prior = str(session.get("_user_id", ""))
            g.had_session = bool(prior)
            user = flask_login.current_user
            # a kiosk session whose kiosk is gone: revoked (the screen says so)
            g.revoked = prior.startswith("k:") and not user.is_authenticated
            if user.is_authenticated and self._session_expired(user):
                flask_login.logout_user()
                g.expired = True
                viewer = ANONYMOUS
            else:
                viewer = user.viewer if user.is_authenticated else ANONYMOUS
        g.viewer = viewer
        return viewer

    # -- the check before every request ----------------------------------------------------

    def enforce(self):
        """Refuse the request unless the policy allows it (runs before every other hook)."""
        try:
            viewer = self.identify()
        except DataSourceDown:
            g.viewer = ANONYMOUS
            return self._unavailable()
        sso_unknown = viewer.kind == "sso-unknown"
        if sso_unknown:
            viewer = g.viewer = ANONYMOUS
        output = None
        if request.endpoint == CALLBACK_ENDPOINT:
            body = request.get_json(silent=True)
            output = body.get("output") if isinstance(body, dict) else None
        status = self.policy.decide(viewer, request.endpoint, request.path, output)
        if status == 200:
            return None
        if sso_unknown:
            return self._refuse(403, t("sso_unknown", self._lang()))
        if status == 401 and request.endpoint in PAGE_ENDPOINTS:
            target = request.full_path.rstrip("?")
            return redirect(f"/signin?next={quote(target, safe='')}")
        if status == 403 and request.path == "/" and request.endpoint in PAGE_ENDPOINTS:
            home = self.policy.landing(viewer, "/")  # a landlord's "/" is their own page
            if home != "/":
                query = request.query_string.decode(errors="replace")
                return redirect(home + (f"?{query}" if query else ""))
        lang = self._lang()
        message = t("signin_expired" if status == 401 else "forbidden", lang)
        return self._refuse(status, message, t("forbidden_hint", lang, who=viewer.label)
                            if viewer.signed_in else "")

    def data_error(self, error: SQLAlchemyError):
        """Any database failure a route did not handle: 503 that says so, no stack trace."""
        log.warning("%s %s: database error: %s", request.method, request.path,
                    type(error).__name__)
        return self._unavailable()

    def _unavailable(self):
        lang = self._lang()
        if for_script(request):
            return jsonify({"error": "data source unreachable"}), 503
        return refusal_page(lang, t("source_down", lang)), 503

    def _lang(self) -> Lang:
        return lang_from_search(request.query_string.decode(errors="replace"))

    def _refuse(self, status: int, message: str, detail: str = ""):
        # scripts' requests (callbacks, the API, the push routes, the link status, the map's
        # data) get JSON with the reason, so the page can say why it signs in again
        # (assets/session.js)
        if for_script(request):
            reason = "forbidden" if status == 403 else self._reason()
            return jsonify({"error": "sign in first" if status == 401 else "not permitted",
                            "reason": reason, "signin": "/signin"}), status
        return refusal_page(self._lang(), message, detail,
                            signed_in=current_viewer().signed_in), status

    @staticmethod
    def _reason() -> str:
        """Why a request has no session: ``revoked`` (kiosk), ``expired`` or ``anonymous``."""
        if g.get("revoked"):
            return "revoked"
        return "expired" if g.get("expired") or g.get("had_session") else "anonymous"

    def after(self, response: flask.Response) -> flask.Response:
        """Set the CSRF cookie on pages; forbid caching of anything but code and assets.

        dash-renderer sends the cookie back as ``X-CSRFToken``. Answers with data (pages,
        callbacks, the API, exports) are ``no-store``: no cache keeps an unmasked record.
        """
        if request.endpoint not in PUBLIC_CACHEABLE:
            response.headers.setdefault("Cache-Control", "no-store")
        if request.endpoint in PAGE_ENDPOINTS and response.status_code == 200:
            response.set_cookie(CSRF_COOKIE, generate_csrf(), samesite="Strict",
                                secure=self.settings.https, httponly=False)
        return response

    def end_session(self, login_id: str) -> None:
        """Void a signed-out personal session everywhere: its id is kept in Redis."""
        if not login_id.startswith("u:"):
            return
        sid = login_id.rsplit(":", 1)[-1]
        try:
            self.services.redis.set(self.settings.key(f"signedout:{sid}"), 1,
                                    ex=int(self.settings.session_hours * 3600) + 60)
        except (RedisError, OSError):
            log.warning("sign-out: Redis unreachable; the session ends with its hours")
        self.cache.delete(f"viewer:{login_id}")
        self.cache.delete(f"last:viewer:{login_id}")


def init_access(app: dash.Dash, services: Services, cache: Cache) -> Access:
    """Install sessions and the check before every request (routes: callbacks.signin).

    Raises
    ------
    cockpit.settings.MissingSecret
        Without ``COCKPIT_SECRET_KEY``.
    """
    access = Access(app, services, cache)
    server = app.server
    server.extensions["cockpit_access"] = access
    server.secret_key = access.secret
    server.config.update(
        SESSION_COOKIE_NAME="cockpit_session", SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_SECURE=services.settings.https,
        PERMANENT_SESSION_LIFETIME=timedelta(days=KIOSK_COOKIE_DAYS),
        WTF_CSRF_TIME_LIMIT=None, WTF_CSRF_SSL_STRICT=services.settings.https,
    )
    # first hook of all: nobody reaches CSRF checks, Dash or a route before this
    server.before_request_funcs.setdefault(None, []).insert(0, access.enforce)
    server.after_request(access.after)
    manager = flask_login.LoginManager()
    manager.init_app(server)
    manager.user_loader(access.load_user)
    manager.session_protection = None  # a wall's address may change; sessions are revocable
    server.register_error_handler(SQLAlchemyError, access.data_error)
    return access
