"""The time machine on the pages: ``?at=`` / ``?from=&to=&speed=`` and the frame routes.

A page asked for a past moment (``?at=T``) or a past period (``?from=A&to=B&speed=N``, or
``?at=A&speed=N`` up to now) does not follow the live push: it shows the band of
:mod:`layouts.timemachine` and ``assets/timemachine.js`` fetches each frame from
``GET /timemachine/<page>?lang=…&at=<epoch ms>[&…]``, which runs the page's own live producer
once against the as-of store (:func:`cockpit.timemachine.read_at`) with ``now=at`` and answers
its outputs as the push does (``{"response": {id: {prop: value}}}``).

Who may: the frame route of a page has the page's own rule (the wall: every role with the
wall, so a kiosk screen shows a past moment when the link it was given carries ``?at=``;
the tablet and map: their roles, a staff account within its villages, as live). The opener
(the picker) is offered to the roles that read items (leader, staff, admin), never on a kiosk
screen. A past frame never carries the announcement queue: the wall speaks live incidents only.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import dash
import flask
from dash import ClientsideFunction, Input, Output
from plotly.utils import PlotlyJSONEncoder
from sqlalchemy.orm import Session

from callbacks.auth import current_viewer
from callbacks.policy import Policy, Rule
from callbacks.staff_pages import DATA_ERRORS
from cockpit.access import Capability
from cockpit.clock import utc_now
from cockpit.services import Services
from cockpit.timemachine import check_moment, parse_at, read_at
from layouts.i18n import Lang, normalize_lang
from layouts.timemachine import MAX_SPEED, MIN_SPEED, TimeIds, band, band_config, opener

log = logging.getLogger(__name__)

PREFIX = "/timemachine"
#: The page parameters the time machine reads (dropped by "back to live").
PARAMS = ("at", "from", "to", "speed")
#: A replayed staff map draws its frame again this often, ms of the viewer's clock.
FRAME_EVERY_MS = 5000


@dataclass(frozen=True)
class Past:
    """A page's past period: ``start``..``end`` (aware, UTC) at ``speed``; still if equal."""

    start: datetime
    end: datetime
    speed: float

    @property
    def still(self) -> bool:
        """True for one moment (no replay)."""
        return self.start == self.end


def past_of(query: Mapping[str, str], tz, now: datetime | None = None) -> Past | None:
    """Return the past a page's query asks for, None when it asks for none (live).

    Raises
    ------
    ValueError
        When a parameter cannot be used (naming it): not a moment, in the future, ``from``
        after ``to``, a speed outside [:data:`MIN_SPEED`, :data:`MAX_SPEED`].
    """
    asked = {k: (query.get(k) or "").strip() for k in PARAMS}
    if not asked["at"] and not asked["from"]:
        return None
    now = now or utc_now()
    start = check_moment(parse_at(asked["from"] or asked["at"], tz), now, tz)
    try:
        speed = float(asked["speed"] or (1 if asked["from"] else 0))
    except ValueError:
        raise ValueError(f"speed: {asked['speed'][:20]!r} is not a number") from None
    if not asked["from"] and speed == 0:
        return Past(start, start, 0.0)
    if not MIN_SPEED <= speed <= MAX_SPEED:
        raise ValueError(f"speed: {speed:g} is outside [{MIN_SPEED:g}, {MAX_SPEED:g}]")
    end = check_moment(parse_at(asked["to"], tz), now, tz) if asked["to"] else now
    if end < start:
        raise ValueError("to: before from")
    return Past(start, end, speed)


def moment_of(services: Services, query: Mapping[str, str]
              ) -> tuple[datetime, Callable[[], Any]]:
    """``(now, read)`` of a request that may carry the time machine's parameters.

    ``at`` wins (a replay's frame names its moment), else ``from``; without either, or with
    parameters that cannot be used (the page's band says so), the live store now.
    """
    moment = (query.get("at") or query.get("from") or "").strip()
    if not moment:
        return utc_now(), services.read
    try:
        at = check_moment(parse_at(moment, services.settings.tz))
    except ValueError:
        return utc_now(), services.read
    who = current_viewer().name or None
    return at, lambda: read_at(services, at, who)


def live_url(path: str, query: Mapping[str, str]) -> str:
    """``path`` with the query less the time machine's parameters ("back to live")."""
    rest = {k: v for k, v in query.items() if k not in PARAMS and v}
    return path + (f"?{urlencode(rest)}" if rest else "")


def page_band(services: Services, page: str, lang: Lang, path: str,
              query: Mapping[str, str], kiosk: bool = False, root: str | None = None,
              extra: Mapping[str, str] | None = None, frame: str | None = None) -> Any:
    """Return the band of a page asked for the past; None when it is live.

    ``extra`` are parameters the frame route needs besides the language (the tablet's view).
    ``frame`` names an iframe that draws the page (the staff map's): a replay sets its
    ``at`` every :data:`FRAME_EVERY_MS` instead of fetching frames.
    """
    try:
        past = past_of(query, services.settings.tz)
    except ValueError as exc:
        log.info("time machine parameters refused on %s: %s", path, exc)
        bad = "tm_band_bad_speed" if str(exc).startswith("speed:") else "tm_band_bad"
        return band(lang, None, live_url(path, query), bad=bad)
    if past is None:
        return None
    url = f"{PREFIX}/{page}?{urlencode({'lang': lang, **(extra or {})})}"
    config = band_config(lang, url=None if frame else url, live_url=live_url(path, query),
                         start_ms=_ms(past.start), end_ms=_ms(past.end), speed=past.speed,
                         still=past.still, timezone=services.settings.timezone, root=root,
                         frame={"id": frame, "every_ms": FRAME_EVERY_MS} if frame else None)
    return band(lang, config, live_url(path, query), kiosk)


def page_opener(services: Services, lang: Lang, path: str, query: Mapping[str, str],
                kiosk: bool = False) -> Any:
    """Return the opener for a viewer who may open the time machine; None for others."""
    if kiosk or not current_viewer().can(Capability.ITEMS):
        return None
    keep = {k: v for k, v in query.items() if k not in PARAMS}
    local = (utc_now().astimezone(services.settings.tz)).strftime("%Y-%m-%dT%H:%M")
    return opener(lang, path, keep, local)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class PastServices:
    """What a page's producer reads, as it was at ``at``: :meth:`read` is the as-of store.

    Duck-types :class:`cockpit.services.Services` for the readers of the pages (settings, the
    engine's identity, ``read()``, the data version), never for writing.
    """

    def __init__(self, live: Services, at: datetime, who: str | None = None) -> None:
        self.live = live
        self.at = at
        #: The viewer asking (one build queued per viewer: :func:`cockpit.timemachine.read_at`).
        self.who = who
        self.settings = live.settings
        self.engine = live.engine
        self.redis = live.redis
        #: The tiles file as it is now: a past moment shows today's tiles with its values.
        self.tiles = live.tiles

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session of the as-of store at :attr:`at`."""
        with read_at(self.live, self.at, self.who) as session:
            yield session

    def version(self) -> int:
        """The live data version (the village layer is checked against it)."""
        return self.live.version()

    def last_commit_ms(self) -> int:
        """The moment shown, epoch ms."""
        return _ms(self.at)

    def replay_status(self) -> None:
        """No feed replay runs in the past."""
        return None


#: Outputs a past frame never carries: the announcement queue (nothing past is spoken), the
#: live status and replay badge (the band says what the page shows).
NOT_PAST = ("queue", "status", "replay")

#: ``frame(past_services, lang, at, args) -> {component_id: {prop: value}}`` of one page.
Frame = Callable[[PastServices, Lang, datetime, Mapping[str, str]], dict[str, Any]]


def register(app: dash.Dash, policy: Policy | None = None) -> None:
    """Register the band's clientside start (shared by every page that shows the band)."""
    with (policy or Policy.of(app)).callbacks(app, Capability.WALL):
        app.clientside_callback(ClientsideFunction("timemachine", "start"),
                                Output(TimeIds.STARTED, "data"), Input(TimeIds.CONFIG, "data"))


def validation_band() -> Any:
    """The band with every id, for the app's validation layout."""
    config = band_config("zh", url=f"{PREFIX}/wall?lang=zh", live_url="/", start_ms=0,
                         end_ms=0, speed=1.0, still=False, timezone="Asia/Shanghai")
    return band("zh", config, "/")


def add_frame_route(app: dash.Dash, services: Services, page: str, frame: Frame,
                    rule: Rule, policy: Policy | None = None) -> None:
    """Add ``GET /timemachine/<page>?lang=…&at=…``: one frame of ``page`` at ``at``.

    Answers ``{"response": …, "at": ISO-8601, "at_ms": int}``; a bad ``at`` is a 400
    ``{"error": "at: …"}``, an unreadable store a 503.
    """
    endpoint = f"timemachine_{page}"
    (policy or Policy.of(app)).route(endpoint, rule)

    def view():
        args = flask.request.args
        try:
            at = check_moment(parse_at(args.get("at") or "", services.settings.tz),
                              tz=services.settings.tz)
        except ValueError as exc:
            return flask.jsonify({"error": str(exc)}), 400
        lang = normalize_lang(args.get("lang"))
        try:
            response = frame(PastServices(services, at, current_viewer().name or None), lang,
                             at, args)
        except DATA_ERRORS as exc:
            log.warning("time machine frame of %s failed: %s: %s", page, type(exc).__name__,
                        exc)
            return flask.jsonify({"error": "store unreachable"}), 503
        body = json.dumps({"response": response, "at": at.astimezone(
            services.settings.tz).isoformat(), "at_ms": _ms(at)}, cls=PlotlyJSONEncoder)
        return flask.Response(body, mimetype="application/json",
                              headers={"Cache-Control": "no-store"})

    app.server.add_url_rule(f"{PREFIX}/{page}", endpoint, view, methods=["GET"])

