"""``GET /waste/photos/<key>``: a disposal's photo from the photo store (一拍), for the pages.

A disposal carries its photo by reference (docs/waste.md): a key relative to the photo store
(``settings.photo_store``) or an object-store URL, which the pages show as text and never
fetch. This route serves a key's file, and only when:

- the viewer may read items (:attr:`Capability.ITEMS`, declared with the route);
- the key is a relative file key of an image (``.jpg``, ``.jpeg``, ``.png``, ``.webp``), with
  no ``..``, no absolute path, no backslash (400 otherwise);
- a stored disposal names the key, of one of a staff account's villages (404 otherwise: the
  photo's existence is not shown);
- the file, symlinks followed, lies strictly inside the photo store (404 otherwise).

It is sent with its image type and ``Cache-Control: no-store``; a refusal is plain text.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import dash
from flask import Response, request, send_file

from callbacks.auth import current_viewer
from callbacks.policy import Policy
from cockpit.access import Capability
from cockpit.services import Services
from cockpit.waste import page_queries
from layouts.i18n import lang_from_search, t
from layouts.waste_query import PHOTO_PATH

log = logging.getLogger(__name__)

ENDPOINT = "waste_photo"
#: The image types served, by file suffix.
PHOTO_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png",
               ".webp": "image/webp"}
MAX_KEY = 512
_DRIVE = re.compile(r"^[A-Za-z]:")


class BadKey(ValueError):
    """A photo key that can never name a file of the store (traversal, absolute, not an image)."""


def check_key(key: str) -> str:
    """Return ``key`` if it is a relative image key of the store.

    Raises
    ------
    BadKey
        Empty or too long; absolute (``/``, ``C:``), with a backslash, a control character,
        an empty, ``.`` or ``..`` segment; or not ending in one of :data:`PHOTO_TYPES`.
    """
    if not key or len(key) > MAX_KEY or any(ord(c) < 32 for c in key):
        raise BadKey("empty, too long or with a control character")
    if key.startswith("/") or "\\" in key or _DRIVE.match(key):
        raise BadKey("absolute or with a backslash")
    if any(part in ("", ".", "..") for part in key.split("/")):
        raise BadKey("an empty, '.' or '..' segment")
    if Path(key).suffix.lower() not in PHOTO_TYPES:
        raise BadKey("not a .jpg, .jpeg, .png or .webp file")
    return key


def resolve_photo(store: Path, key: str) -> Path | None:
    """The file of a checked ``key``, strictly inside ``store`` with symlinks followed.

    Returns None when the store or the file is missing, when the path (a symlink on the way,
    say) leads out of the store, or when the file it leads to is no image of
    :data:`PHOTO_TYPES`.
    """
    root = store.resolve()
    if not root.is_dir():
        return None
    path = (root / check_key(key)).resolve()
    if not path.is_relative_to(root) or path == root:
        return None
    if path.suffix.lower() not in PHOTO_TYPES or not path.is_file():
        return None
    return path


def _refusal(status: int) -> Response:
    lang = lang_from_search(request.query_string.decode(errors="replace"))
    text = t("wst_photo_bad_key" if status == 400 else "wst_photo_missing", lang)
    return Response(text + "\n", status=status, mimetype="text/plain",
                    headers={"Cache-Control": "no-store"})


def register(app: dash.Dash, services: Services, policy: Policy | None = None) -> None:
    """Add the photo route; it needs :attr:`Capability.ITEMS`."""
    policy = policy or Policy.of(app)
    store = services.settings.photo_store

    @app.server.get(f"{PHOTO_PATH}/<path:key>", endpoint=ENDPOINT)
    def waste_photo(key: str):
        viewer = current_viewer()
        try:
            check_key(key)
        except BadKey as exc:
            log.info("photo refused: %s", exc)
            return _refusal(400)
        scope = viewer.villages if viewer.scoped else None
        with services.read() as session:
            known = page_queries.photo_in_scope(session, key, scope)
        path = resolve_photo(store, key) if known else None
        if path is None:
            return _refusal(404)
        response = send_file(path, mimetype=PHOTO_TYPES[path.suffix.lower()],
                             conditional=False, etag=False, max_age=None)
        response.headers["Cache-Control"] = "no-store"
        return response

    policy.route(ENDPOINT, Capability.ITEMS)
