"""How the fuzz feed breaks an entry, and the junk a valid entry may carry (tests/fuzz_feed.py).

Each way says which word the dead letter's reason must contain; the tables follow
docs/events.md, not the validator.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Protocol


class Source(Protocol):
    """What breaking needs of the feed: its random generator and its clock."""

    rng: random.Random
    now: datetime


#: Numbers that are not finite (or not numbers to a finite float).
BAD_NUMBERS = ["nan", "NaN", "inf", "-inf", "Infinity", "1e309", "-1e309"]
#: Times the contract refuses, by case.
BAD_TIMES = {
    "future +1 day": lambda now: (now + timedelta(days=1)).isoformat(),
    "future +10 min": lambda now: (now + timedelta(minutes=10)).isoformat(),
    "year 9999": lambda now: "9999-12-31T23:59:59+08:00",
    "year 1900": lambda now: "1900-01-01T00:00:00+08:00",
    "epoch 0": lambda now: "0",
    "negative": lambda now: "-1",
    "negative epoch ms": lambda now: "-99999999999999",
    "epoch seconds": lambda now: str(int(now.timestamp()) - 3600),
    "NaN time": lambda now: "NaN",
    "words": lambda now: "yesterday",
    "bad offset": lambda now: "2026-12-01T10:00:00+25:00",
}


def encoded(fields: dict[str, str]) -> dict[bytes, bytes]:
    return {k.encode(): v.encode() for k, v in fields.items()}


#: Required fields of the types the feed builds, as docs/events.md lists them.
ENVELOPE = ["event_id", "type", "occurred_at", "source"]
REQUIRED = {
    "incident.reported": ["incident_id", "category"],
    **{f"incident.{s}": ["incident_id"]
       for s in ("assessed", "dispatched", "arrived", "resolved", "closed")},
    "notification.delivered": ["notification_id"],
    "notification.acknowledged": ["notification_id"],
    "volunteer.registered": ["volunteer_id", "name"],
    "recruitment.signed_up": ["campaign_id"],
    "activity.published": ["activity_id", "title", "starts_at", "ends_at"],
    "station.registered": ["station_id", "name", "village"],
    "household.registered": ["household_id", "kind", "village"],
    "household.moved_out": ["household_id"],
    "waste.disposal": ["station_id", "weight_kg", "declared_class", "rating"],
    "metric.observed": ["module", "key", "value"],
}
#: Wrong values of one field of a type: (field, value, word the reason must contain).
WRONG = {
    "incident.reported": [("category", "bogus", "category"), ("priority", "9", "priority"),
                          ("priority", "urgent!!", "priority"),
                          ("reporter_phone", "call me", "reporter_phone"),
                          ("reporter_id_number", "123456", "reporter_id_number"),
                          ("title", "t" * 2001, "title")],
    "incident.closed": [("satisfaction", "6", "satisfaction"),
                        ("satisfaction", "five", "satisfaction"),
                        ("satisfaction", "4.5", "satisfaction"),
                        ("satisfaction", "nan", "satisfaction")],
    "metric.observed": [("value", v, "value") for v in [*BAD_NUMBERS, "abc", "1,5", "[1]"]],
    "volunteer.registered": [("phone", "12", "phone"),
                             ("id_number", "11010519491231002", "id_number"),
                             ("team_kind", "martians", "team_kind"),
                             ("skills", ",".join(f"s{i}" for i in range(21)), "skills"),
                             ("name", "n" * 65, "name")],
    "recruitment.signed_up": [("target", "0", "target"), ("target", "lots", "target")],
    "activity.published": [("needed", "-1", "needed"), ("title", "t" * 201, "title"),
                           ("starts_at", "9999-01-01T00:00:00", "starts_at")],
    "station.registered": [("status", "deleted", "status"), ("name", "a\nb", "name")],
    "household.registered": [("members", "0", "members"), ("kind", "alien", "kind"),
                             ("kind", "tenant", "house_id")],
    "waste.disposal": [("weight_kg", v, "weight_kg")
                       for v in ["0", "-1", "101", "heavy", *BAD_NUMBERS[:4]]]
    + [("declared_class", "plastic", "declared_class"), ("rating", "maybe", "rating"),
       ("rating", "incorrect", "found_class"), ("photo", "data:image/png;base64,iVBORw0K", "photo"),
       ("photo", "../../etc/passwd", "photo"), ("photo", "javascript:alert(1)", "photo")],
}
POSITIONED = {"incident.reported", "station.registered", "activity.published"}


def _coords(rng: random.Random, f: dict[str, str]) -> tuple[str, str]:
    """Break the position of ``f``: returns (case, word the reason must contain)."""
    if "lon" not in f:
        f.update(lon="120.28", lat="30.35", crs="wgs84")
    how = rng.choice(["nan", "range", "area", "swapped", "alone", "crs", "no crs", "text"])
    if how == "nan":
        name = rng.choice(["lon", "lat"])
        f[name] = rng.choice(BAD_NUMBERS)
        return f"{name} {f[name]}", name
    if how == "range":
        f["lat"] = rng.choice(["91", "-90.5", "1e300"]) if rng.random() < 0.5 else f["lat"]
        if f["lat"] in ("91", "-90.5"):
            return "lat out of range", "lat"
        if f["lat"] == "1e300":
            return "lat 1e300", "lat"
        f["lon"] = "181"
        return "lon out of range", "lon"
    if how == "area":
        f.update(lon=rng.choice(["116.40", "0", "-120.28", "120.9"]),
                 lat=rng.choice(["39.9", "0", "30.35"]))
        return "outside the service area", "service area"
    if how == "swapped":
        f["lon"], f["lat"] = f["lat"], f["lon"]
        return "lon/lat swapped", "lat"
    if how == "alone":
        gone = rng.choice(["lon", "lat"])
        del f[gone]
        return f"{gone} missing", gone
    if how == "crs":
        f["crs"] = rng.choice(["mercator", "WGS-84", "epsg:4326"])
        return "unknown crs", "crs"
    if how == "no crs":
        del f["crs"]
        return "no crs", "crs"
    f["lon"] = rng.choice(["abc", "120,28", "１２０.２８", "0x78"])
    return "lon not a number", "lon"


def break_entry(feed: Source, stream: str, f: dict[str, str]
                ) -> tuple[dict[bytes, bytes], str, str]:
    """Break a valid field map in one known way: (bytes fields, case, expected word)."""
    rng, kind = feed.rng, f["type"]
    how = rng.choices(
        ["missing", "blank", "long id", "nul", "utf8 value", "utf8 name", "time", "type",
         "stream", "wrong", "coords"],
        weights=[14, 6, 4, 4, 8, 4, 14, 5, 5, 16, 12 if kind in POSITIONED else 0])[0]
    if how == "missing":
        name = rng.choice(ENVELOPE + REQUIRED[kind])
        del f[name]
        return encoded(f), f"missing {name}", name
    if how == "blank":
        name = rng.choice(["event_id", "source", "occurred_at", *REQUIRED[kind][:1]])
        f[name] = rng.choice(["", " ", "\t \n"])
        return encoded(f), f"blank {name}", name
    if how == "long id":
        name = rng.choice(["event_id", "source"])
        f[name] = "x" * rng.choice([129, 5000])
        return encoded(f), f"over-long {name}", name
    if how == "nul":
        name = rng.choice(["event_id", "source", *REQUIRED[kind][:1]])
        f[name] = f[name][:3] + "\x00" + f[name][3:]
        return encoded(f), f"NUL in {name}", name
    if how == "utf8 value":
        name = rng.choice(ENVELOPE + REQUIRED[kind])
        raw = encoded(f)
        bad = rng.choice([b"\xff\xfe", b"\xc0\xaf", b"\xed\xa0\x80", b"\x80", b"\xe4\xb8"])
        raw[name.encode()] = bad + raw[name.encode()]  # a prefix: it cannot complete a character
        return raw, f"invalid UTF-8 in {name}", name
    if how == "utf8 name":
        name = rng.choice(["event_id", "occurred_at", "source", *REQUIRED[kind]])
        raw = encoded(f)
        raw[name.encode() + b"\xff"] = raw.pop(name.encode())
        return raw, "invalid UTF-8 in a required field's name", name
    if how == "time":
        case = rng.choice(list(BAD_TIMES))
        f["occurred_at"] = BAD_TIMES[case](feed.now)
        return encoded(f), f"time: {case}", "occurred_at"
    if how == "type":
        f["type"] = rng.choice(["incident.exploded", "INCIDENT.REPORTED", "metric", "<b>x</b>",
                                "'; DROP TABLE x; --", "volunteer.deleted"])
        return encoded(f), "unknown type", "type"
    if how == "stream":
        return encoded(f), "type on another stream", "belongs on"
    if how == "coords":
        case, word = _coords(rng, f)
        return encoded(f), f"coords: {case}", word
    choices = WRONG.get(kind) or [("occurred_at", "2026-02-30T10:00:00", "occurred_at")]
    name, value, word = rng.choice(choices)
    f[name] = value
    return encoded(f), f"wrong {name}", word


def carry_junk(feed: Source, stream: str, f: dict[str, str]) -> tuple[dict[bytes, bytes], str]:
    """A valid entry carrying junk the contract ignores: unknown fields, many or huge or binary."""
    raw = encoded(f)
    how = feed.rng.choice(["10000 fields", "1 MB unknown field", "binary unknown field",
                           "1 MB field name"])
    if how == "10000 fields":
        raw.update({f"x_{i}".encode(): str(i).encode() for i in range(10_000)})
    elif how == "1 MB field name":
        raw[b"x" * 1_048_576] = b"1"
    elif how == "1 MB unknown field":
        raw[b"vendor_blob"] = b"A" * 1_048_576
    else:
        raw[b"vendor\xff\xfe"] = b"\x00\xff\xc0\x80binary"
        raw[b"vendor_bin"] = bytes(range(256))
    return raw, how

