"""How a request that needs a past moment's build is answered when it cannot have one now.

The time machine builds one past moment at a time per process and queues a few
(:class:`cockpit.timemachine.TimeMachineBusy`), and a moment may outgrow SQLite's in-memory
bound (:class:`cockpit.asof_memory.ImageTooLarge`). Either is answered here for every route that
reads the past (the frame routes, the read API's ``?at=``, the staff map, the briefings): HTTP
503, JSON for scripts and the pages' own fetches, a line of text for a document (the staff map's
frame, a download link), with ``Retry-After`` when asking again will help (and ``Refresh`` on a
document: the browser asks again by itself). A page's band shows the frame it has and asks
again by itself.
"""

from __future__ import annotations

import logging

import flask

from cockpit.asof_memory import ImageTooLarge
from cockpit.timemachine import TimeMachineBusy
from layouts.i18n import normalize_lang, t

log = logging.getLogger(__name__)

#: Paths whose clients read JSON.
JSON_PREFIXES = ("/api/", "/timemachine/", "/map/item/")


def _answer(message: str, shown: str, retry_after: int | None):
    """``message`` (English, for scripts) as JSON, or ``shown`` (the viewer's language)."""
    request = flask.request
    wants_json = request.path.startswith(JSON_PREFIXES) or request.path.endswith(".json") or \
        request.accept_mimetypes.best == "application/json"
    if wants_json:
        response = flask.jsonify({"error": message})
    else:
        response = flask.Response(shown + "\n", content_type="text/plain; charset=utf-8")
    response.status_code = 503
    response.headers["Cache-Control"] = "no-store"
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
        if not wants_json:  # a document (the staff map's frame, a download) loads itself again
            response.headers["Refresh"] = str(retry_after)
    return response


def register(server: flask.Flask) -> None:
    """Answer :class:`TimeMachineBusy` and :class:`ImageTooLarge` with a 503 on ``server``."""

    @server.errorhandler(TimeMachineBusy)
    def busy(exc: TimeMachineBusy):
        lang = normalize_lang(flask.request.args.get("lang"))
        return _answer(f"{exc}; retry after {exc.retry_after} s",
                       t("tm_busy", lang, n=exc.retry_after), exc.retry_after)

    @server.errorhandler(ImageTooLarge)
    def too_large(exc: ImageTooLarge):
        log.warning("time machine: %s", exc)
        lang = normalize_lang(flask.request.args.get("lang"))
        return _answer("too large: the past moment outgrew the in-memory bound",
                       t("tm_too_large", lang), None)
