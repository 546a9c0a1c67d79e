"""Per-process caching of read models shared by the pages' callbacks (flask-caching)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from flask_caching import Cache

#: Cached read models and views live this long, seconds; their keys change with the data.
CACHE_TIMEOUT_S = 120


def single_flight(cache: Cache | None, lock: threading.Lock, key: str,
                  compute: Callable[[], Any], timeout: int = CACHE_TIMEOUT_S) -> Any:
    """Return ``cache[key]``, computing it once per process when missing (no stampede).

    ``cache`` None computes every time (tests, or caching switched off).
    """
    if cache is None:
        return compute()
    value = cache.get(key)
    if value is None:
        with lock:
            value = cache.get(key)
            if value is None:
                value = compute()
                cache.set(key, value, timeout=timeout)
    return value
