"""Simulated waste sorting (模拟): the placeholder photos its disposals refer to.

A disposal travels with a photo *reference* (一拍); the simulator does not write one file per
disposal. It writes a fixed set of :data:`VARIANTS` small PNG images per class and rating into
the photo store (``settings.photo_store``, default ``<data_dir>/photos``) under ``sim/``, e.g.
``sim/perishable-incorrect-2.png``, and each disposal names one of them. Each image is the
colour of its class's bin in Hangzhou (可回收物 blue, 易腐垃圾 green, 其他垃圾 grey, 有害垃圾
red) with diagonal stripes and a white tick (correct) or cross (incorrect); the staff page labels
them 模拟照片.

The PNG encoder is a few lines of :mod:`zlib` and :mod:`struct` (8-bit RGB, no interlace), so
no imaging library is needed.
"""

from __future__ import annotations

import math
import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

from cockpit.waste.events import Rating, WasteClass

#: Folder of the simulated photos inside the photo store.
PHOTO_DIR = "sim"
#: Images per class and rating (stripe spacing differs), and their size in pixels.
VARIANTS = 2
WIDTH, HEIGHT = 160, 120
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Bin colours (RGB) of Hangzhou's four classes.
CLASS_COLOURS: dict[WasteClass, tuple[int, int, int]] = {
    WasteClass.RECYCLABLE: (30, 111, 200),
    WasteClass.PERISHABLE: (46, 150, 72),
    WasteClass.RESIDUAL: (92, 96, 104),
    WasteClass.HAZARDOUS: (204, 46, 46),
}
_WHITE = (255, 255, 255)


def photo_key(kind: WasteClass | str, rating: Rating | str, variant: int) -> str:
    """The photo store key of one placeholder, e.g. ``sim/perishable-correct-1.png``."""
    return f"{PHOTO_DIR}/{WasteClass(kind).value}-{Rating(rating).value}-{variant}.png"


def photo_keys() -> list[str]:
    """Every placeholder key: 4 classes x 2 ratings x :data:`VARIANTS` (16)."""
    return [photo_key(k, r, v) for k in WasteClass for r in Rating
            for v in range(1, VARIANTS + 1)]


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def encode_png(width: int, height: int,
               pixel: Callable[[int, int], tuple[int, int, int]]) -> bytes:
    """A PNG file (8-bit RGB) of ``width`` x ``height`` pixels coloured by ``pixel(x, y)``.

    Raises
    ------
    ValueError
        If a side is not between 1 and 4,096 pixels.
    """
    if not (0 < width <= 4096 and 0 < height <= 4096):
        raise ValueError(f"{width}x{height}: each side must be 1-4096 pixels")
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter type 0 (None) for each scanline
        for x in range(width):
            rows.extend(pixel(x, y))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(rows, 9))
            + _chunk(b"IEND", b""))


def _near(x: float, y: float, segment: tuple[float, float, float, float], width: float) -> bool:
    x0, y0, x1, y1 = segment
    dx, dy = x1 - x0, y1 - y0
    t = max(0.0, min(1.0, ((x - x0) * dx + (y - y0) * dy) / (dx * dx + dy * dy)))
    return math.hypot(x - x0 - t * dx, y - y0 - t * dy) <= width


def placeholder(kind: WasteClass, rating: Rating, variant: int) -> bytes:
    """The PNG of one placeholder photo (:data:`WIDTH` x :data:`HEIGHT`)."""
    base = CLASS_COLOURS[kind]
    light = tuple(min(255, c + 36) for c in base)
    spacing = 10 + 6 * variant
    cx, cy, s = WIDTH / 2, HEIGHT / 2, HEIGHT * 0.3
    if rating is Rating.CORRECT:
        marks = ((cx - s, cy, cx - s / 3, cy + s * 0.7), (cx - s / 3, cy + s * 0.7, cx + s, cy - s))
    else:
        marks = ((cx - s, cy - s, cx + s, cy + s), (cx - s, cy + s, cx + s, cy - s))

    def pixel(x: int, y: int) -> tuple[int, int, int]:
        if any(_near(x, y, m, 6.0) for m in marks):
            return _WHITE
        return light if (x + y) % spacing < spacing // 3 else base

    return encode_png(WIDTH, HEIGHT, pixel)


def write_photos(store: Path) -> list[Path]:
    """Write the placeholders missing under ``store/sim/``; return the files written.

    A file already there is left alone, so the set is written once per photo store. Each is
    written to a temporary name and renamed, so a reader never sees half a file.

    Parameters
    ----------
    store : Path
        The photo store (``settings.photo_store``); created if missing.

    Returns
    -------
    list of Path
        The files written by this call (empty when all 16 were there).

    Raises
    ------
    OSError
        If the folder or a file cannot be written.
    """
    folder = store / PHOTO_DIR
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in WasteClass:
        for rating in Rating:
            for variant in range(1, VARIANTS + 1):
                path = store / photo_key(kind, rating, variant)
                if path.exists():
                    continue
                tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
                tmp.write_bytes(placeholder(kind, rating, variant))
                os.replace(tmp, path)
                written.append(path)
    return written
