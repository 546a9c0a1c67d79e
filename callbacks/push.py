"""Server push of live pages: Server-Sent Events, and the same updates for screens that poll.

Each live page (the wall; the tablet) declares a producer per language
(:func:`add_page`): ``produce(seen) -> (update | None, seen)``, where an update is
``{"response": {component_id: {prop: value}}}`` — the shape of a Dash callback's answer, with
components and :class:`dash.Patch` objects as values — and ``seen`` what the screens were last
sent. The process's :class:`cockpit.push.PushHub` runs it once per change and channel and fans
the encoded frame out. Two routes per page:

* ``GET /push/<page>/events?lang=zh`` — ``text/event-stream``: a snapshot, then deltas and
  beats. Over ``Settings.push_max_clients`` open streams the answer is 503 and the screen polls.
* ``GET /push/<page>/snapshot?lang=zh[&digest=…]`` — the current snapshot as JSON, for a screen
  that polls (no EventSource, or a proxy that buffers streams) and for a tab that follows another
  tab's stream (``assets/push.js``). With the ``digest`` of the snapshot it already holds, the
  answer omits ``response`` when nothing changed.

``assets/push.js`` applies updates with ``dash_clientside.set_props`` (Patch objects included),
one batch per animation frame.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import dash
import flask
from plotly.utils import PlotlyJSONEncoder

from callbacks.policy import Policy, Rule
from cockpit.push import ChangeListener, Mailbox, Producer, PushHub
from cockpit.services import Services
from layouts.i18n import LANGS, Lang, normalize_lang

log = logging.getLogger(__name__)

PUSH_PREFIX = "/push"
#: The SSE ``retry:`` a browser waits before reconnecting after the stream broke, ms.
RETRY_MS = 2000
#: Where the app keeps its hub (``app.server.extensions``).
EXTENSION = "cockpit_push"


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
        hub = PushHub(listener, encode, max_clients=settings.push_max_clients)
        extensions[EXTENSION] = hub
    return hub


def digest(response: Any) -> str:
    """A short digest of an update's ``response`` (what the polling screen already holds)."""
    return hashlib.blake2b(encode(response).encode(), digest_size=8).hexdigest()


def add_page(app: dash.Dash, services: Services, page: str,
             producers: Callable[[Lang], Producer], rule: Rule,
             policy: Policy | None = None) -> PushHub:
    """Serve ``page``'s updates: a channel per language and the two routes, behind ``rule``.

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
    policy = policy or Policy.of(app)
    hub = hub_of(app, services)
    for lang in LANGS:
        hub.add_channel(f"{page}:{lang}", producers(lang))
    server = app.server
    events_endpoint, snapshot_endpoint = f"push_{page}_events", f"push_{page}_snapshot"
    if events_endpoint in server.view_functions:
        return hub

    def channel_of() -> str:
        return f"{page}:{normalize_lang(flask.request.args.get('lang'))}"

    @server.get(events_path(page), endpoint=events_endpoint)
    def events() -> flask.Response:
        name = channel_of()
        opened = hub.subscribe(name)
        if opened is None:
            log.warning("push: %d streams open, a screen of %s polls instead", hub.clients, page)
            return _refusal()
        mailbox, first = opened
        response = flask.Response(_Stream(hub, name, mailbox, first),
                                  mimetype="text/event-stream")
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Accel-Buffering"] = "no"  # nginx: pass frames through at once
        return response

    @server.get(snapshot_path(page), endpoint=snapshot_endpoint)
    def snapshot() -> flask.Response:
        payload = flask.json.loads(hub.snapshot(channel_of()))
        payload["digest"] = digest(payload.get("response"))
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
    the first frame was sent: a generator's ``finally`` would not run then).
    """

    def __init__(self, hub: PushHub, name: str, mailbox: Mailbox, first: bytes) -> None:
        self.hub, self.name, self.mailbox, self.first = hub, name, mailbox, first

    def __iter__(self) -> Iterator[bytes]:
        hub, mailbox = self.hub, self.mailbox
        yield f"retry: {RETRY_MS}\n\n".encode() + self.first
        last = time.monotonic()
        while not mailbox.closed:
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


def client_config(page: str, lang: Lang, settings: Any) -> dict[str, Any]:
    """Return what ``assets/push.js`` needs for ``page`` in ``lang``.

    ``events``/``snapshot`` are the routes (with the language), ``channel`` names the
    cross-tab lock and broadcast channel (one stream per browser, page and language),
    ``poll_ms`` the polling period, ``stale_ms`` when the watermark shows, ``push`` False when
    the server keeps no streams (``COCKPIT_PUSH_MAX_CLIENTS=0``).
    """
    query = f"?lang={lang}"
    return {"events": events_path(page) + query, "snapshot": snapshot_path(page) + query,
            "channel": f"qiaosi-push:{page}:{lang}", "poll_ms": settings.refresh_ms,
            "stale_ms": int(settings.stale_s * 1000), "push": settings.push_max_clients > 0,
            "tz": settings.timezone}
