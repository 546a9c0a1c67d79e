"""Asking the wall's live channel what changed, as the push hub does for every screen."""

from __future__ import annotations

import json

from callbacks.push import EXTENSION, encode, snapshot_path

#: Where :func:`poll` puts the ``seen`` to pass to the next call (not a component id).
SEEN = "seen"


def poll(client, app, seen=None, lang="zh", page="wall") -> tuple[int, dict]:
    """Return ``(status, response)``: what ``page`` sends a screen that was last sent ``seen``.

    ``client`` first GETs the page's snapshot route (access is checked there, as for a screen);
    then the channel's producer answers as the hub would: 204 and nothing when nothing changed,
    else 200 and the update's ``{component_id: {prop: value}}`` (JSON, Patch objects as
    operations), with the new ``seen`` under :data:`SEEN`.
    """
    reply = client.get(f"{snapshot_path(page)}?lang={lang}")
    if reply.status_code != 200:
        return reply.status_code, {}
    producer = app.server.extensions[EXTENSION].producer(f"{page}:{lang}")
    fields, new_seen = producer(seen or {})
    if fields is None:
        return 204, {}
    response = json.loads(encode(fields))["response"]
    response[SEEN] = {"data": new_seen}
    return 200, response
