"""A disposal's photo reference and weight as the waste contract reads them (plain Python).

:func:`parse_photo_ref` takes a photo by reference only (a key in the photo store or an
object-store URL), never its content; :func:`parse_weight` reads ``2.4``, ``2.4kg`` or
``2.4 公斤`` and refuses what no household's disposal weighs. Both raise ValueError with the
reason, which the ingest's dead letter shows (:mod:`cockpit.waste.events`).
"""

from __future__ import annotations

import math
import re

#: The sane range of one household disposal's weight, kg: above 0 and at most this.
MAX_WEIGHT_KG = 100.0
#: Longest photo reference accepted (a key, not content).
MAX_PHOTO_REF = 512

_SCHEMES = ("s3://", "oss://", "obs://", "cos://", "minio://", "https://")
#: A file key: letters (any script), digits, ``_ - .`` and ``/`` between parts; no ``%``,
#: ``:``, backslash or space, so it cannot be a URL, a drive path or an encoded ``..``.
_FILE_KEY = re.compile(r"^[\w\-.]+(?:/[\w\-.]+)*$")
_OBJECT_URL = re.compile(r"^[A-Za-z0-9]+://[^\s\\\"'<>`]+$")


def parse_photo_ref(value: object) -> str | None:
    """A photo's reference: a relative file key or an object-store URL.

    A key like ``2026/11/29/QS-ST-01-000123.jpg`` names a file in the photo store; a URL
    (``oss://bucket/key``, ``s3://...``, ``https://...``) an object elsewhere. Never the photo
    itself: data URIs, base64 blobs and anything over :data:`MAX_PHOTO_REF` characters are
    refused, as are absolute paths and ``..`` (a file key must stay inside the photo store).
    Raises ValueError.
    """
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    if text.lower().startswith("data:") or len(text) > MAX_PHOTO_REF:
        raise ValueError("must be a file or object key, not the photo itself "
                         f"(at most {MAX_PHOTO_REF} characters, no data: URI)")
    if any(ord(c) < 32 for c in text):
        raise ValueError("contains a control character")
    if "://" in text:
        scheme = text.split("://", 1)[0].lower()
        if not text.lower().startswith(_SCHEMES):
            raise ValueError(f"scheme {scheme[:20]!r} is not supported (s3, oss, obs, cos, "
                             "minio, https, or a key relative to the photo store)")
        if not _OBJECT_URL.match(text):
            raise ValueError("an object URL may not contain spaces, quotes, <, > or backslashes")
        return text
    if text.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", text):
        raise ValueError("a file key is relative to the photo store, not an absolute path")
    if ".." in re.split(r"[\\/]", text):
        raise ValueError("a file key may not contain '..'")
    if not _FILE_KEY.match(text):
        raise ValueError("a file key is letters, digits, '_', '-', '.' and '/' only "
                         "(no '%', ':', '\\' or spaces)")
    return text


def parse_weight(value: object) -> float:
    """Weight in kg, above 0 and at most :data:`MAX_WEIGHT_KG`; ``2.4``, ``2.4kg``, ``2.4 公斤``.

    Raises ValueError with the value and the range.
    """
    text = str(value).strip().lower()
    for unit in ("kg", "公斤", "千克"):
        text = text.removesuffix(unit).strip()
    try:
        weight = float(text)
    except ValueError:
        raise ValueError(f"{value!r} is not a number of kg") from None
    if not math.isfinite(weight):
        raise ValueError("is not a finite number")
    if weight <= 0:
        raise ValueError(f"{weight:g} kg is not a weight (must be above 0 kg)")
    if weight > MAX_WEIGHT_KG:
        raise ValueError(f"{weight:g} kg is outside the sane range of one household disposal "
                         f"(0-{MAX_WEIGHT_KG:g} kg); a scale or unit error (g instead of kg?)")
    return weight
