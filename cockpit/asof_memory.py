"""Where an as-of store lives: one SQLite database image in memory that is given back whole.

A plain ``sqlite://`` database keeps its pages in SQLite's page cache, thousands of small
allocations that the C allocator keeps after the database is closed (a web process that had
built forty past moments held 2.5 GB with four of them cached). An as-of store is instead a
*deserialized* image (SQLite's ``memdb``: ``sqlite3.Connection.deserialize``): one buffer,
grown by ``realloc``, which above the allocator's mmap threshold is its own mapping and goes
back to the system when the database closes. The same image is what a checkpoint saves
(:meth:`sqlite3.Connection.serialize`, :mod:`cockpit.asof_checkpoint`).

SQLite bounds one memdb image (``SQLITE_MEMDB_DEFAULT_MAXSIZE``, 1 GiB unless built otherwise):
a past moment larger than that fails with ``database or disk is full``
(:class:`ImageTooLarge`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sqlite3
import threading

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import StaticPool

from cockpit.store.models import Base

log = logging.getLogger(__name__)

_SCHEMA: bytes | None = None
_SCHEMA_LOCK = threading.Lock()


class ImageTooLarge(RuntimeError):
    """An as-of store outgrew SQLite's bound on one in-memory image."""


def schema_image() -> bytes:
    """Return the image of an empty database with the store's schema (made once, bytes)."""
    global _SCHEMA
    with _SCHEMA_LOCK:
        if _SCHEMA is None:
            _SCHEMA = _image_of_new()
        return _SCHEMA


def _image_of_new() -> bytes:
    conn = sqlite3.connect(":memory:", check_same_thread=False)
    made = create_engine("sqlite://", creator=lambda: conn, poolclass=StaticPool)
    Base.metadata.create_all(made)
    image = conn.serialize()
    made.dispose()
    conn.close()
    return image


def image_engine(image: bytes | None = None) -> Engine:
    """Return an engine of one in-memory database loaded from ``image`` (else the schema's).

    Every session of the engine shares its one connection (use it under one lock); the
    memory is freed by ``engine.dispose()``.
    """
    conn = sqlite3.connect(":memory:", check_same_thread=False)
    conn.deserialize(image if image is not None else schema_image())
    return create_engine("sqlite://", creator=lambda: conn, poolclass=StaticPool)


def image_of(engine: Engine) -> bytes:
    """Return the database image of an :func:`image_engine` engine (a consistent copy)."""
    with engine.connect() as conn:
        return conn.connection.driver_connection.serialize()


def image_bytes(engine: Engine) -> int:
    """Return the size of the database held by ``engine``, bytes (pages × page size)."""
    with engine.connect() as conn:
        pages = conn.execute(text("PRAGMA page_count")).scalar()
        size = conn.execute(text("PRAGMA page_size")).scalar()
    return int(pages or 0) * int(size or 0)


def is_full(exc: BaseException) -> bool:
    """True when ``exc`` (or what it wraps) is SQLite's ``database or disk is full``."""
    seen = exc
    while seen is not None:
        if isinstance(seen, sqlite3.OperationalError) and "full" in str(seen):
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__
    return False


def _trimmer():
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        return libc.malloc_trim if libc is not None and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


_TRIM = _trimmer()


def give_back() -> None:
    """Return the C allocator's free memory to the system (glibc ``malloc_trim``; else none).

    Called after an as-of store is dropped or built: a build's Python objects and SQLite's
    statement caches leave free chunks that the allocator would otherwise keep.
    """
    if _TRIM is not None:
        _TRIM(0)
