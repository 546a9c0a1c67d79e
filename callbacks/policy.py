"""Server-side access rules: every Flask endpoint, every Dash callback and every page has one.

Rules are declared where routes and callbacks are registered::

    policy = Policy.of(app)
    with policy.callbacks(Capability.ITEMS):
        register_incident_callbacks(app, services)
    policy.route("api_incidents", Capability.ITEMS)

A request to an endpoint, or a callback POST for an output, that has no rule is refused (403)
and logged; the tests walk every endpoint and callback and fail when one has no rule.

Dash's own shell (its layout, its callback list and the router) is :data:`SIGNED_IN`: every
role needs it to render the one page it may open, and the router checks that page's rule. A
path that is no page needs :data:`UNKNOWN_PAGE` (a landlord gets 403, not a list of what
exists). A role whose pages do not include the wall has a home (:meth:`Policy.home`), where
sign-in and ``/`` take it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

import dash

from cockpit.access import Capability, Role, Viewer

log = logging.getLogger(__name__)

#: A rule: the capability needed, PUBLIC (anyone, signed in or not) or SIGNED_IN (any role).
PUBLIC = "public"
SIGNED_IN = "signed_in"
#: What a path that is no page needs (it shows "not found"): the roles that see the app's
#: pages; a landlord is refused.
UNKNOWN_PAGE = Capability.WALL
Rule = Capability | str
#: Dash's page endpoints: the rule comes from the page of the path.
PAGE_ENDPOINTS = frozenset({"/", "/<path:path>"})
CALLBACK_ENDPOINT = "/_dash-update-component"
#: Paths whose answers go to scripts (the API, the push routes, the link status, the map's
#: data): refusals and errors there are JSON with a reason, never a page.
SCRIPT_PREFIXES = ("/api/", "/push/", "/status/", "/map/points.json", "/map/item/")


#: The HTML forms a browser posts itself (the answer is a page, whatever the method).
FORM_ENDPOINTS = frozenset({"signin", "signout"})


def for_script(req) -> bool:
    """Tell whether ``req`` (a Flask request) comes from a script, not a page.

    A script: a Dash callback, a path of :data:`SCRIPT_PREFIXES`, or a method other than
    GET/HEAD that is not one of the pages' own forms (:data:`FORM_ENDPOINTS`).
    """
    return req.endpoint == CALLBACK_ENDPOINT or req.path.startswith(SCRIPT_PREFIXES) \
        or (req.method not in ("GET", "HEAD") and req.endpoint not in FORM_ENDPOINTS)
_EXTENSION = "cockpit_policy"


@dataclass
class Policy:
    """The access rules of one app: by endpoint, by callback output and by page path."""

    endpoints: dict[str, Rule] = field(default_factory=dict)
    callbacks_: dict[str, Rule] = field(default_factory=dict)
    pages: dict[str, Capability] = field(default_factory=dict)
    prefixes: list[tuple[str, Capability]] = field(default_factory=list)
    homes: dict[Role, str] = field(default_factory=dict)

    @classmethod
    def of(cls, app: dash.Dash) -> Policy:
        """The app's policy (created on first use)."""
        return app.server.extensions.setdefault(_EXTENSION, cls())

    def route(self, endpoint: str, rule: Rule) -> None:
        """Declare the rule of a Flask endpoint (``api_incidents``, ``signin``)."""
        self.endpoints[endpoint] = rule

    @contextmanager
    def callbacks(self, app: dash.Dash, capability: Rule) -> Iterator[None]:
        """Give ``capability`` (or :data:`SIGNED_IN`) to every callback registered inside."""
        before = set(app.callback_map)
        yield
        for key in set(app.callback_map) - before:
            self.callbacks_[key] = capability

    def page(self, path: str, capability: Capability) -> None:
        """Declare a page path (``/incidents``) or prefix (``/incidents/*``) and its rule."""
        if path.endswith("/*"):
            self.prefixes.append((path[:-1], capability))
            self.prefixes.sort(key=lambda pc: -len(pc[0]))
        else:
            self.pages[path.rstrip("/") or "/"] = capability

    def pages_of(self, routes: Mapping[str, Capability]) -> None:
        """Declare several pages at once."""
        for path, capability in routes.items():
            self.page(path, capability)

    def page_rule(self, path: str) -> Capability | None:
        """The rule of a page path; None for a path that is no page (shown as not found)."""
        path = path.rstrip("/") or "/"
        if path in self.pages:
            return self.pages[path]
        for prefix, capability in self.prefixes:
            if path.startswith(prefix) and len(path) > len(prefix):
                return capability
        return None

    def allows_page(self, viewer: Viewer, path: str) -> bool:
        """True when ``viewer`` may open ``path`` (an unknown path needs :data:`UNKNOWN_PAGE`)."""
        rule = self.page_rule(path)
        return viewer.can(rule if rule is not None else UNKNOWN_PAGE)

    def home(self, role: Role, path: str) -> None:
        """Declare the page a role lands on when it may not open the wall (``/landlord``)."""
        self.homes[role] = path

    def landing(self, viewer: Viewer, path: str = "/") -> str:
        """Where to send ``viewer`` for ``path``: the path if allowed, else the role's home."""
        if self.allows_page(viewer, path.split("?", 1)[0]) or viewer.role not in self.homes:
            return path
        return self.homes[viewer.role]

    def decide(self, viewer: Viewer, endpoint: str | None, path: str,
               callback_output: str | None = None) -> int:
        """HTTP status for a request: 200 (go on), 401 (sign in first) or 403 (not allowed).

        Parameters
        ----------
        endpoint : str or None
            Flask's endpoint of the request; None when no route matched (Flask answers 404/405
            itself after this: 200 here).
        path : str
            The request path (pages take their rule from it).
        callback_output : str, optional
            For a callback POST, the ``output`` of its body (the key of ``app.callback_map``).
        """
        if endpoint is None:
            return 200
        if endpoint in PAGE_ENDPOINTS:
            if not viewer.signed_in:
                return 401
            return 200 if self.allows_page(viewer, path) else 403
        if endpoint == CALLBACK_ENDPOINT:
            rule: Rule | None = self.callbacks_.get(callback_output or "")
            if rule is None:
                if callback_output:  # a callback without a rule: a bug of ours, said loudly
                    log.error("callback output %r has no access rule", callback_output)
                return 403 if viewer.signed_in else 401
        else:
            rule = self.endpoints.get(endpoint)
            if rule is None:
                log.error("endpoint %r has no access rule", endpoint)
                return 403 if viewer.signed_in else 401
        if rule == PUBLIC:
            return 200
        if not viewer.signed_in:
            return 401
        if rule == SIGNED_IN:
            return 200
        return 200 if viewer.can(Capability(rule)) else 403
