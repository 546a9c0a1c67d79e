"""Personal data: validation, the keyed hash of ID numbers, and masking for display.

The rules (docs/access.md): a name shows its first character (周杰伦 → 周**); a phone number its
first three and last four digits (13812341234 → 138****1234); an ID number is never shown and
never stored, only its keyed hash (HMAC-SHA256 under ``COCKPIT_PD_KEY``) for deduplication; an
address loses its house numbers (乔司街道三角村12号 → 乔司街道三角村**号). Nothing here logs.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from collections.abc import Mapping

#: Event fields that carry an ID number; replaced by their keyed hash before anything stores them.
ID_NUMBER_FIELDS = frozenset({"reporter_id_number", "id_number"})
#: Prefix of a keyed hash written where an ID number was (dead letters, history).
HASH_PREFIX = "hmac-sha256:"
#: GB 11643-1999 weights and check characters of the 18-character resident ID number.
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_SHAPE = re.compile(r"^\d{17}[\dX]$")
_PHONE_KEEP = re.compile(r"[\d+]")
_PHONE_SHAPE = re.compile(r"^\+?\d{5,15}$")
_DIGITS = re.compile(r"\d+")


class InvalidPersonalData(ValueError):
    """A name, phone number or ID number that cannot be used; the message never echoes it."""


def normalize_id_number(value: str) -> str:
    """Return a resident ID number in canonical form (18 characters, upper-case X).

    Raises
    ------
    InvalidPersonalData
        If it is not 18 characters of GB 11643 shape or its check character is wrong. The
        message does not contain the number.
    """
    text = value.strip().upper()
    if not _ID_SHAPE.match(text):
        raise InvalidPersonalData("ID number is not 17 digits and a check digit or X")
    total = sum(int(c) * w for c, w in zip(text[:17], _ID_WEIGHTS, strict=True))
    if _ID_CHECK[total % 11] != text[17]:
        raise InvalidPersonalData("ID number check character is wrong")
    return text


def id_hash(key: bytes, id_number: str) -> str:
    """Keyed hash of an ID number: ``hmac-sha256:<64 hex>`` over its canonical form.

    Parameters
    ----------
    key : bytes
        ``COCKPIT_PD_KEY``; the same key gives the same hash, so records deduplicate.
    id_number : str
        A resident ID number, any case and surrounding spaces.

    Raises
    ------
    InvalidPersonalData
        As :func:`normalize_id_number`.
    """
    canonical = normalize_id_number(id_number)
    return HASH_PREFIX + hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()


def redact_id_numbers(fields: Mapping[str, str], key: bytes | None) -> dict[str, str]:
    """A copy of raw stream fields with every ID number replaced by its keyed hash.

    A value that is not a valid ID number is hashed as given (still never kept); without a key
    it becomes ``"redacted"``. Used before a raw entry is written anywhere (dead letters).
    """
    out = dict(fields)
    for name in ID_NUMBER_FIELDS & out.keys():
        raw = str(out[name])
        if key is None:
            out[name] = "redacted"
            continue
        try:
            out[name] = id_hash(key, raw)
        except InvalidPersonalData:
            out[name] = HASH_PREFIX + hmac.new(key, raw.encode(), hashlib.sha256).hexdigest()
    return out


#: Fields of the contract that carry a person's name or phone (masked in dead letters).
NAME_FIELDS = frozenset({"name", "reporter_name", "head_name", "landlord_name"})
PHONE_FIELDS = frozenset({"phone", "reporter_phone", "head_phone", "landlord_phone"})
#: Event types whose ``address`` is a home (a household's), not an incident's place.
HOME_ADDRESS_TYPES = frozenset({"household.registered"})


def redact_personal(fields: Mapping[str, str], key: bytes | None) -> dict[str, str]:
    """A copy of raw stream fields fit to be written anywhere (dead letters).

    ID numbers become their keyed hash (:func:`redact_id_numbers`); names and phones are
    masked as on screen (周**, 138****1234); a household's address has its numbers masked.
    The producer still sees which field was sent and roughly what it held.
    """
    out = redact_id_numbers(fields, key)
    for name in NAME_FIELDS & out.keys():
        out[name] = mask_name(str(out[name])[:64])
    for name in PHONE_FIELDS & out.keys():
        out[name] = mask_phone(str(out[name]).strip()[:32])
    if str(out.get("type", "")).strip() in HOME_ADDRESS_TYPES:
        if "address" in out:
            out["address"] = mask_address(str(out["address"]))
        for axis in ("lon", "lat") & out.keys():  # a home's position: about 1 km is kept
            out[axis] = _coarse(out[axis])
    return out


def _coarse(value: object) -> str:
    """A coordinate rounded to 2 decimals (about 1 km); text that is no number is masked."""
    try:
        number = float(str(value).strip())
    except ValueError:
        return "***"
    return f"{number:.2f}" if math.isfinite(number) else "***"


_LONG_DIGITS = re.compile(r"\d[\d\s-]{5,}\d")


def redact_digits(text: str | None) -> str | None:
    """Free text with every run of 7 or more digits (a phone or ID number) masked.

    ``户主电话138 1234 5678`` → ``户主电话***``; shorter numbers (``3组12号``, ``2.5 kg``) stay.
    """
    if not text:
        return text
    return _LONG_DIGITS.sub(lambda m: m.group(0) if sum(c.isdigit() for c in m.group(0)) < 7
                            else "***", text)


def normalize_phone(value: str) -> str:
    """Return a phone number as its digits (a leading + kept): ``138-1234 1234`` → ``13812341234``.

    A mainland mobile written with its country code (``+86``, ``0086``) loses it, so one
    number always compares equal.

    Raises
    ------
    InvalidPersonalData
        If fewer than 5 or more than 15 digits remain (E.164 allows 15).
    """
    text = "".join(_PHONE_KEEP.findall(value))
    if text.count("+") > 1 or "+" in text[1:] or not _PHONE_SHAPE.match(text):
        raise InvalidPersonalData("phone number is not 5 to 15 digits")
    for prefix in ("+86", "0086"):  # mainland numbers compare without the country code
        if text.startswith(prefix) and len(text) - len(prefix) == 11:
            return text[len(prefix):]
    return text


def mask_name(name: str | None) -> str | None:
    """周杰伦 → 周**, Zhou Jielun → Z**; None and "" stay as they are."""
    if not name:
        return name
    text = name.strip()
    return (text[:1] + "**") if text else ""


def mask_phone(phone: str | None) -> str | None:
    """13812341234 → 138****1234; short numbers keep only their last two digits."""
    if not phone:
        return phone
    if len(phone) >= 11:
        return phone[:3] + "****" + phone[-4:]
    return "*" * max(len(phone) - 2, 3) + phone[-2:]


def mask_address(address: str | None) -> str | None:
    """Every run of digits becomes ``**``: 三角村12号 → 三角村**号, 100 Block of X → ** Block of X.

    An address is personal where it is a home; roles that may not see it see this form.
    """
    if not address:
        return address
    return _DIGITS.sub("**", address)
