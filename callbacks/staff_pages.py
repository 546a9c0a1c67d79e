"""What the staff pages' callbacks share: the refresh poll and the audited reveal.

A page remembers what its body was rendered from (``seen``: the data version and local
minute of :func:`minute_key`, and the :func:`digest` of the read models). Its poll
(:func:`refresh_body`) reads again only when the key moved (or a change was made on the
page), and sends the body only when the read models differ. A database or Redis error
shows 数据源连接中断 once, never a crash.

A reveal (the 显示 button of a personal-data panel, :func:`reveal_audited`) reads the unmasked
item, writes ``view_unmasked`` to the audit log, and only then sends it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import dash
from dash.exceptions import PreventUpdate
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from callbacks.auth import audit_view
from cockpit.access import Viewer
from cockpit.services import Services
from layouts.i18n import Lang, t

log = logging.getLogger(__name__)

#: What a page shows as 数据源连接中断 instead of failing.
DATA_ERRORS = (SQLAlchemyError, RedisError, OSError)


def minute_key(services: Services, now: datetime) -> str:
    """The data version and the local minute: the body is re-read when either moves."""
    return f"{services.version()}@{now.astimezone(services.settings.tz):%Y-%m-%dT%H:%M}"


def digest(models: Any) -> str:
    """A short hash of read models (the poll sends a body only when it changed)."""
    text = json.dumps(models, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def refresh_body(services: Services, seen: dict | None, now: datetime, read: Callable[[], Any],
                 build: Callable[[Any], Any], lang: Lang, where: str,
                 forced: bool = False) -> tuple:
    """Answer a page's poll: ``(body, alert, seen)`` with ``dash.no_update`` where unchanged.

    ``read()`` returns the read models (called only when :func:`minute_key` moved since
    ``seen``, or ``forced``), ``build(models)`` the body. ``where`` names the page in the log.

    Raises
    ------
    dash.exceptions.PreventUpdate
        When nothing moved, or the data source is still down (already shown).
    """
    seen = seen or {}
    try:
        key = minute_key(services, now)
        if key == seen.get("key") and not forced:
            raise PreventUpdate
        models = read()
    except DATA_ERRORS as exc:
        if seen.get("error"):
            raise PreventUpdate from exc
        log.warning("%s: data source unreachable: %s", where, type(exc).__name__)
        return dash.no_update, t("source_down", lang), {"key": None, "error": True}
    fresh = {"key": key, "digest": digest(models)}
    if fresh["digest"] == seen.get("digest") and not seen.get("error"):
        return dash.no_update, dash.no_update, fresh
    return build(models), "", fresh


def reveal_audited(services: Services, viewer: Viewer, lang: Lang, read: Callable[[], Any],
                   show: Callable[[Any], Any], target: str, where: str) -> tuple:
    """Answer a reveal click: ``(shown, note, button hidden)``, audited before it is sent.

    ``read()`` returns the unmasked item, or None when it is not the viewer's (无权查看:
    nothing is audited or shown); ``show(item)`` builds what the panel shows. The audit entry
    names ``target`` and ``where`` (the page). A data-source error shows 数据源连接中断.
    """
    try:
        item = read()
        if item is None:
            return dash.no_update, t("vol_refused", lang), False
        audit_view(services, viewer, target, where)
    except DATA_ERRORS as exc:
        log.warning("%s: reveal: data source unreachable: %s", where, type(exc).__name__)
        return dash.no_update, t("source_down", lang), False
    return show(item), t("pd_revealed", lang), True
