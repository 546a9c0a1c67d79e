"""Server push of live pages: Server-Sent Events, and the same updates for screens that poll.

Each live page has a producer per channel: ``produce(seen) -> (update | None, seen)``, where an
update is ``{"response": {component_id: {prop: value}}}`` — the shape of a Dash callback's
answer, with components and :class:`dash.Patch` objects as values — and ``seen`` what the
screens were last sent. The process's :class:`cockpit.push.PushHub` runs it once per change and
channel and fans the encoded frame out. The wall has one channel per language
(:func:`add_page`); the tablet one per language, viewer's scope and view, made on demand by the
first screen that asks (:func:`add_routes` with a resolver; bounded by
``Settings.push_max_channels``). Two routes per page:

* ``GET /push/<page>/events?lang=zh[&…]`` — ``text/event-stream``: a snapshot, then deltas and
  beats. Over ``Settings.push_max_clients`` open streams (or a new channel past the bound) the
  answer is 503 and the screen polls.
* ``GET /push/<page>/snapshot?lang=zh[&…][&digest=…]`` — the current snapshot as JSON, for a screen
  that polls (no EventSource, or a proxy that buffers streams) and for a tab that follows another
  tab's stream (``assets/push.js``). With the ``digest`` of the snapshot it already holds, the
  answer omits ``response`` when nothing changed.

``assets/push.js`` applies updates with ``dash_clientside.set_props`` (Patch objects included),
one batch per animation frame.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlencode

import dash
import flask
from plotly.utils import PlotlyJSONEncoder

from callbacks.policy import Policy, Rule
from cockpit import metrics
from cockpit.push import ChangeListener, Mailbox, Producer, ProducerFactory, PushHub
from cockpit.services import Services
from layouts.i18n import LANGS, Lang, normalize_lang

log = logging.getLogger(__name__)

PUSH_PREFIX = "/push"
#: The SSE ``retry:`` a browser waits before reconnecting after the stream broke, ms.
RETRY_MS = 2000
#: Where the app keeps its hub (``app.server.extensions``).
EXTENSION = "cockpit_push"
#: Inside a push request: the name of the channel it follows and a factory of that channel's
#: producer (used when the channel is new).
Resolver = Callable[[], tuple[str, ProducerFactory]]


def events_path(page: str) -> str:
    """The SSE route of ``page`` (``/push/wall/events``)."""
    return f"{PUSH_PREFIX}/{page}/events"


def snapshot_path(page: str) -> str:
    """The polling route of ``page`` (``/push/wall/snapshot``)."""
    return f"{PUSH_PREFIX}/{page}/snapshot"


def encode(payload: dict[str, Any]) -> str:
    """Encode an update as one line of JSON (Dash components and Patch objects included).

    Chinese text goes as UTF-8, not as escapes (half the bytes on every screen's wire).
    """
    return json.dumps(payload, cls=PlotlyJSONEncoder, ensure_ascii=False, separators=(",", ":"))


def hub_of(app: dash.Dash, services: Services) -> PushHub:
    """Return the app's push hub, creating it on the first call (one per app and process)."""
    extensions = app.server.extensions
    hub = extensions.get(EXTENSION)
    if hub is None:
        settings = services.settings
        listener = ChangeListener(services.redis, settings.key("changes"))
        hub = PushHub(listener, encode_frame, max_clients=settings.push_max_clients,
                      max_channels=settings.push_max_channels)
        extensions[EXTENSION] = hub
    return hub


def digest(response: Any) -> str:
    """A short digest of an update's ``response`` (what the polling screen already holds)."""
    return hashlib.blake2b(encode(response).encode(), digest_size=8).hexdigest()


def encode_frame(payload: dict[str, Any]) -> str:
    """The hub's encoder: :func:`encode`, a snapshot carrying the :func:`digest` of its response.

    A screen that shows that picture already (a page rendered with its data passes the digest
    of its first paint to ``assets/push.js``) does not redraw it.
    """
    if payload.get("kind") == "snapshot" and "response" in payload:
        payload = {**payload, "digest": digest(payload["response"])}
    return encode(payload)


def add_page(app: dash.Dash, services: Services, page: str,
             producers: Callable[[Lang], Producer], rule: Rule,
             policy: Policy | None = None) -> PushHub:
    """Serve a page whose picture depends on the language alone (the wall), behind ``rule``.

    Declares its channels ``<page>:<lang>`` (kept for the process's life) and adds the two
    routes (:func:`add_routes`), which pick the channel by the query's ``lang``.

    Parameters
    ----------
    page : str
        Path segment and channel prefix (``wall``).
    producers : callable
        ``producers(lang)`` returns the producer of that language's channel (called once per
        language).
    rule : Capability or access rule
        Who may open the stream and the snapshot (the page's own rule).
    """
    hub = hub_of(app, services)
    for lang in LANGS:
        hub.add_channel(f"{page}:{lang}", producers(lang))

    def resolve() -> tuple[str, ProducerFactory]:
        lang = normalize_lang(flask.request.args.get("lang"))
        return f"{page}:{lang}", functools.partial(producers, lang)

    return add_routes(app, services, page, resolve, rule, policy)


def add_routes(app: dash.Dash, services: Services, page: str, resolve: Resolver, rule: Rule,
               policy: Policy | None = None) -> PushHub:
    """Add ``page``'s two routes, behind ``rule``; each request's channel comes from ``resolve``.

    Parameters
    ----------
    page : str
        Path segment (``/push/<page>/events``).
    resolve : callable
        Called inside each request (after the access check): returns the name of the channel
        the request follows and a factory of its producer, used when that channel is new
        (:meth:`cockpit.push.PushHub.subscribe`). It reads what it needs from the query and
        the signed-in viewer; whatever it reads from the query it must validate.
    rule : Capability or access rule
        Who may open the stream and the snapshot (the page's own rule).

    A new channel past the hub's bound (``Settings.push_max_channels``) is refused like a
    stream past ``Settings.push_max_clients``: 503 with ``Retry-After``, and the screen polls the
    snapshot route, which builds that request's snapshot without keeping a channel.
    """
    policy = policy or Policy.of(app)
    hub = hub_of(app, services)
    server = app.server
    events_endpoint, snapshot_endpoint = f"push_{page}_events", f"push_{page}_snapshot"
    if events_endpoint in server.view_functions:
        return hub

    @server.get(events_path(page), endpoint=events_endpoint)
    def events() -> flask.Response:
        name, factory = resolve()
        opened = hub.subscribe(name, factory)
        if opened is None:
            log.warning("push: a stream of %s refused (%d streams, %d channels); it polls",
                        page, hub.clients, len(hub.channels))
            return _refusal()
        mailbox, first = opened
        access = server.extensions.get("cockpit_access")
        holds = access.guard() if access is not None else None
        response = flask.Response(_Stream(hub, name, mailbox, first, holds, page=page),
                                  mimetype="text/event-stream")
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Accel-Buffering"] = "no"  # nginx: pass frames through at once
        return response

    @server.get(snapshot_path(page), endpoint=snapshot_endpoint)
    def snapshot() -> flask.Response:
        payload = flask.json.loads(hub.snapshot_for(*resolve()))
        payload.setdefault("digest", digest(payload.get("response")))
        if flask.request.args.get("digest") == payload["digest"]:
            payload.pop("response", None)
        response = flask.Response(encode(payload), mimetype="application/json")
        response.headers["Cache-Control"] = "no-store"
        return response

    policy.route(events_endpoint, rule)
    policy.route(snapshot_endpoint, rule)
    return hub


def _refusal() -> flask.Response:
    response = flask.Response("too many open streams; poll /snapshot\n", status=503,
                              mimetype="text/plain")
    response.headers["Retry-After"] = "60"
    response.headers["Cache-Control"] = "no-store"
    return response


class _Stream:
    """One screen's frames, until it goes away.

    The server's write then fails and it closes this iterable (also when that happens before
    the first frame was sent: a generator's ``finally`` would not run then). ``holds`` (from
    :meth:`callbacks.auth.Access.guard`) is asked before every frame after the first: when the
    session no longer holds (account disabled or changed, kiosk revoked, session over) the
    stream ends, and the screen's reconnect meets the access check (401: it signs in again).
    """

    def __init__(self, hub: PushHub, name: str, mailbox: Mailbox, first: bytes,
                 holds: Callable[[], bool] | None = None, page: str = "") -> None:
        self.hub, self.name, self.mailbox, self.first = hub, name, mailbox, first
        self.holds, self.page, self.open = holds, page, True
        metrics.push_opened(page)  # cockpit_push_connections, until close()

    def __iter__(self) -> Iterator[bytes]:
        hub, mailbox = self.hub, self.mailbox
        yield f"retry: {RETRY_MS}\n\n".encode() + self.first
        last = time.monotonic()
        while not mailbox.closed:
            if self.holds is not None and not self.holds():
                log.info("push: a stream of %s ended: its session no longer holds", self.name)
                return
            frames, behind = mailbox.take(hub.beat_s)
            if behind:
                frames = [hub.snapshot_frame(self.name)]
            if frames:
                yield b"".join(frames)
                last = time.monotonic()
            elif time.monotonic() - last >= hub.beat_s:
                yield hub.beat_frame()
                last = time.monotonic()

    def close(self) -> None:
        """Close the subscription (idempotent)."""
        self.hub.unsubscribe(self.name, self.mailbox)
        if self.open:
            self.open = False
            metrics.push_closed(self.page)


def client_config(page: str, lang: Lang, settings: Any, params: Mapping[str, str] | None = None,
                  channel: str | None = None) -> dict[str, Any]:
    """Return what ``assets/push.js`` needs for ``page`` in ``lang``.

    ``events``/``snapshot`` are the routes (with the language and ``params`` in their query),
    ``channel`` names the cross-tab lock and broadcast channel (one stream per browser and
    server channel: ``channel``, by default ``<page>:<lang>``), ``poll_ms`` the polling period,
    ``stale_ms`` when the watermark shows, ``push`` False when the server keeps no streams
    (``COCKPIT_PUSH_MAX_CLIENTS=0``).
    """
    query = "?" + urlencode({"lang": lang, **(params or {})})
    return {"events": events_path(page) + query, "snapshot": snapshot_path(page) + query,
            "channel": f"qiaosi-push:{channel or f'{page}:{lang}'}",
            "poll_ms": settings.refresh_ms,
            "stale_ms": int(settings.stale_s * 1000), "push": settings.push_max_clients > 0,
            "tz": settings.timezone}
