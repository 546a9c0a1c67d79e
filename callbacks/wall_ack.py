"""On-screen acknowledgements of the wall's announcements, written as contract events.

``assets/announce.js`` sends the ids a screen acknowledged (确认 / 确认全部) and the screen's
name; :func:`parse_ack_request` checks them and :func:`send_acknowledgements` XADDs one
``notification.acknowledged`` per id to the incidents stream, which the ingest applies like any
other event (who, when, from which address).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import dash
from dash import Input, Output
from dash.exceptions import PreventUpdate
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from callbacks.auth import client_address, current_viewer
from cockpit import governance_queries
from cockpit.clock import utc_now
from cockpit.notices import MAX_ID
from cockpit.services import Services
from cockpit.settings import Settings
from layouts.wall_governance import GovIds

log = logging.getLogger(__name__)
DATA_ERRORS = (SQLAlchemyError, RedisError, OSError)
#: Acknowledgements accepted in one request (确认全部: the announcements a screen holds), and
#: the longest id and screen name.
MAX_ACKS = 50
#: Queued notices one 确认全部 acknowledges at most (the whole queue, in practice).
MAX_ACK_ALL = 2000
MAX_ID_CHARS = MAX_ID
MAX_BY_CHARS = 64


def acknowledgement_fields(notification_id: str, by: str, origin: str | None,
                           now: datetime) -> dict[str, str]:
    """Return the stream entry of one on-screen acknowledgement (event contract fields)."""
    fields = {"event_id": str(uuid.uuid4()), "type": "notification.acknowledged",
              "occurred_at": now.isoformat(), "source": "wall",
              "notification_id": notification_id, "channel": "screen", "by": by}
    if origin:
        fields["origin"] = origin
    return fields


def parse_ack_request(request: Any) -> tuple[list[str], str, bool]:
    """Return the notification ids, screen name and "all" flag of an acknowledgement request.

    Anything malformed is dropped: ids must be non-empty strings of at most
    :data:`MAX_ID_CHARS` characters, at most :data:`MAX_ACKS` of them; the screen name is
    cut to :data:`MAX_BY_CHARS` and defaults to ``wall``; ``all`` (确认全部) is True only when
    the request says so with a JSON ``true``.
    """
    if not isinstance(request, dict):
        return [], "wall", False
    raw = request.get("ids")
    ids = [i.strip() for i in raw if isinstance(i, str)] if isinstance(raw, list) else []
    ids = list(dict.fromkeys(i for i in ids if 0 < len(i) <= MAX_ID_CHARS))[:MAX_ACKS]
    by = request.get("by")
    by = " ".join(by.split())[:MAX_BY_CHARS] if isinstance(by, str) else ""
    return ids, by or "wall", request.get("all") is True


def with_queue(services: Services, ids: Sequence[str], now: datetime) -> list[str]:
    """Return ``ids`` followed by every other queued notice (at most :data:`MAX_ACK_ALL`).

    Raises
    ------
    sqlalchemy.exc.SQLAlchemyError
        When the store cannot be read.
    """
    with services.read() as session:
        queued = governance_queries.queued_ids(session, services.settings.governance, now,
                                               limit=MAX_ACK_ALL)
    return list(dict.fromkeys([*ids, *queued]))


def send_acknowledgements(services: Services, ids: Sequence[str], by: str,
                          origin: str | None) -> None:
    """XADD one ``notification.acknowledged`` entry per id to the incidents stream."""
    settings: Settings = services.settings
    now = datetime.now(settings.tz)
    pipe = services.redis.pipeline(transaction=False)
    for notification_id in ids:
        pipe.xadd(settings.stream("incidents"),
                  acknowledgement_fields(notification_id, by, origin, now))
    pipe.execute()


def register_ack(app: dash.Dash, services: Services) -> None:
    """Register the wall's acknowledgement (确认 / 确认全部).

    The signed-in account acknowledges and the screen is where from; a data-source failure
    answers which ids were not sent.
    """

    @app.callback(Output(GovIds.ACK_DONE, "data"), Input(GovIds.ACK_REQUEST, "data"),
                  prevent_initial_call=True)
    def acknowledge(request: dict | None) -> dict[str, Any]:
        ids, by, every = parse_ack_request(request)
        if not ids and not every:
            raise PreventUpdate
        nonce = request.get("nonce") if isinstance(request, dict) else None
        try:
            if every:  # 确认全部: the whole queue, not only what this screen holds
                ids = with_queue(services, ids, utc_now())
            if not ids:
                raise PreventUpdate
            viewer = current_viewer()  # the account acknowledges; the screen says where
            send_acknowledgements(services, ids, viewer.name,
                                  by or client_address(services.settings))
        except DATA_ERRORS as exc:
            log.warning("acknowledgement of %d notice(s) not sent: %s: %s", len(ids),
                        type(exc).__name__, exc)
            return {"nonce": nonce, "sent": [], "failed": ids, "all": every}
        shown = ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
        log.info("%s (screen %s) acknowledged %s", viewer.name, by, shown)
        return {"nonce": nonce, "sent": ids, "failed": [], "all": every}
