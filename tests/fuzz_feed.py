"""A seeded, mixed feed of valid and hostile stream entries, with its own oracle.

Every entry is built valid for the contract (docs/events.md) and then, for the invalid ones,
broken in one known way; the generator records what the ingest must do with it, without asking
the validator: ``valid`` (stored once, or counted as a duplicate when ``repeat_of`` is set) or
invalid with ``expect``, a word the dead letter's reason must contain (the field, or the
phrase naming the problem). Field names and values are bytes, as a producer XADDs them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tests.fuzz_hostile import break_entry, carry_junk, encoded

#: The four streams the ingest reads, and the share of the feed each gets.
STREAMS = {"incidents": 0.4, "volunteers": 0.2, "waste": 0.2, "metrics": 0.2}
#: Text that must be stored verbatim in a valid event and shown as text, never as markup.
SQL = "'; DROP TABLE incidents; --"
HTML = "<script>alert(1)</script>"
HOSTILE_TEXT = [
    SQL, HTML, "<img src=x onerror=alert(1)>", "\" onmouseover=\"alert(1)",
    "Robert'); DELETE FROM volunteers;--", "1 OR 1=1; SELECT pg_sleep(10)--",
    "{{7*7}} ${7*7} %s %n %x", "../../../etc/passwd", "\u202eevil\u202c 右到左",
    "零宽\u200b字符", "😀🔥🚒", "\x1b[31mred\x1b[0m", "multi\nline\ttext", "back\\slash \\x00",
    '{"a": [1, 2], "b": null}', "长" * 2000, "乔司街道朝阳村3组", "a",
]
#: An inner box of the service area (WGS-84; GCJ-02 and BD-09 offsets stay inside it).
BOX = (120.25, 30.32, 120.33, 30.40)
CATEGORIES = ["fire", "火情", "police", "警情", "medical", "traffic", "urban_management", "其他"]
PRIORITIES = ["critical", "紧急", "normal", "low", "1", "4", ""]


@dataclass
class Entry:
    """One entry of the feed and what the ingest must do with it."""

    stream: str
    fields: dict[bytes, bytes]
    case: str
    valid: bool
    expect: str = ""
    #: ``(source, event_id)`` as sent (an invalid entry's: as built, before it was broken).
    key: tuple[str, str] | None = None
    repeat_of: int | None = None
    #: Text fields of a valid entry, as they must be stored (stripped), by field name.
    texts: dict[str, str] = field(default_factory=dict)
    entry_id: str = ""



class Feed:
    """Builds the feed; ``entries`` in the order they are sent."""

    def __init__(self, seed: int, now: datetime):
        self.rng = random.Random(seed)
        self.now = now
        self.n = 0
        #: incident id -> time of its incident.reported; later stages follow it
        self.incidents: dict[str, datetime] = {}
        self.incident_ids: list[str] = []
        self.entries: list[Entry] = []

    # -- valid builders ------------------------------------------------------------------------
    def _envelope(self, kind: str, stream: str, after: datetime | None = None
                  ) -> dict[str, str]:
        self.n += 1
        when = self.now - timedelta(seconds=self.rng.randint(600, 5 * 86400))
        if after is not None:
            when = min(after + timedelta(seconds=self.rng.randint(60, 7200)),
                       self.now - timedelta(seconds=60))
        at = (when.isoformat() if self.rng.random() < 0.7
              else str(int(when.timestamp() * 1000)))
        return {"event_id": f"fz-{stream[:3]}-{self.n:06d}", "type": kind, "occurred_at": at,
                "source": self.rng.choice(["fuzz-a", "fuzz-b"])}

    @staticmethod
    def _time_of(text: str) -> datetime:
        if text.isdigit():
            return datetime.fromtimestamp(int(text) / 1000, UTC)
        return datetime.fromisoformat(text)

    def _text(self) -> str:
        return self.rng.choice(HOSTILE_TEXT)

    def _position(self, fields: dict[str, str]) -> None:
        lon = self.rng.uniform(BOX[0], BOX[2])
        lat = self.rng.uniform(BOX[1], BOX[3])
        fields.update(lon=f"{lon:.6f}", lat=f"{lat:.6f}",
                      crs=self.rng.choice(["wgs84", "gcj02", "bd09"]))

    def incident(self) -> dict[str, str]:
        if self.incidents and self.rng.random() < 0.35:
            stage = self.rng.choice(["dispatched", "arrived", "resolved", "closed", "assessed"])
            incident_id = self.rng.choice(self.incident_ids)
            f = self._envelope(f"incident.{stage}", "incidents", self.incidents[incident_id])
            f["incident_id"] = incident_id
            if stage == "closed":
                f["satisfaction"] = str(self.rng.randint(1, 5))
            if stage == "dispatched":
                f["unit"] = self._text()
        elif self.rng.random() < 0.08:
            f = self._envelope(self.rng.choice(["notification.delivered",
                                                "notification.acknowledged"]), "incidents")
            f.update(notification_id=f"FZ-{self.rng.randint(1, 50)}/new", channel="sms")
        else:
            f = self._envelope("incident.reported", "incidents")
            f["incident_id"] = f"FZ-INC-{self.n:06d}"
            self.incidents[f["incident_id"]] = self._time_of(f["occurred_at"])
            self.incident_ids.append(f["incident_id"])
            f.update(category=self.rng.choice(CATEGORIES), title=self._text(),
                     address=self._text())
            if priority := self.rng.choice(PRIORITIES):
                f["priority"] = priority
            if self.rng.random() < 0.8:
                self._position(f)
            if self.rng.random() < 0.2:
                f["reporter_phone"] = f"138{self.rng.randint(0, 99_999_999):08d}"
        if self.rng.random() < 0.6:
            f["note"] = self._text()
        return f

    def volunteer(self) -> dict[str, str]:
        pick = self.rng.random()
        if pick < 0.5:
            f = self._envelope("volunteer.registered", "volunteers")
            f.update(volunteer_id=f"FZ-V-{self.n:06d}", name=self.rng.choice(["周杰", "王芳"]),
                     team=self._text(), skills="急救,驾驶、心理疏导")
            if self.rng.random() < 0.5:
                f["phone"] = f"139{self.rng.randint(0, 99_999_999):08d}"
        elif pick < 0.8:
            f = self._envelope("recruitment.signed_up", "volunteers")
            f.update(campaign_id="fz-campaign", campaign=self._text(), channel=self._text(),
                     target="1000")
        else:
            f = self._envelope("activity.published", "volunteers")
            start = self.now - timedelta(days=self.rng.randint(1, 4))
            f.update(activity_id=f"FZ-A-{self.n:06d}", title="垃圾分类桶边督导",
                     place=self._text(), starts_at=start.isoformat(),
                     ends_at=(start + timedelta(hours=2)).isoformat(), needed="5")
            if self.rng.random() < 0.5:
                self._position(f)
        return f

    def waste(self) -> dict[str, str]:
        pick = self.rng.random()
        if pick < 0.2:
            f = self._envelope("station.registered", "waste")
            f.update(station_id=f"FZ-ST-{self.n:06d}", name="朝阳村3组投放点", village="朝阳村")
            self._position(f)
        elif pick < 0.45:
            f = self._envelope("household.registered", "waste")
            f.update(household_id=f"FZ-H-{self.n:06d}", kind=self.rng.choice(["local", "本地"]),
                     village="朝阳村", address=self._text(), members="3")
        elif pick < 0.55:
            f = self._envelope("household.moved_out", "waste")
            f.update(household_id=f"FZ-H-{self.n - 1:06d}", reason=self._text())
        else:
            f = self._envelope("waste.disposal", "waste")
            holder = ("house_id" if self.rng.random() < 0.2 else "household_id")
            f.update({holder: f"FZ-H-{self.rng.randint(1, self.n):06d}"},
                     station_id="FZ-ST-000001", weight_kg=f"{self.rng.uniform(0.1, 20):.2f}",
                     declared_class=self.rng.choice(["可回收物", "易腐垃圾", "perishable"]),
                     rating="correct", photo="2026/11/29/fz.jpg")
        return f

    def metric(self) -> dict[str, str]:
        f = self._envelope("metric.observed", "metrics")
        f.update(module=self.rng.choice(["economy", "service"]), key="enterprises_served",
                 value=self.rng.choice(["0", "-3.5", "1e6", "42", "0.0001"]),
                 unit=self._text())
        return f

    def valid(self, stream: str) -> dict[str, str]:
        return {"incidents": self.incident, "volunteers": self.volunteer, "waste": self.waste,
                "metrics": self.metric}[stream]()


def _texts(f: dict[str, str]) -> dict[str, str]:
    """The free-text fields of a valid entry, as the store must keep them (stripped)."""
    return {k: v.strip() for k, v in f.items()
            if k in ("note", "title", "address", "unit", "campaign", "reason", "team")}


def build(seed: int, count: int, now: datetime | None = None) -> list[Entry]:
    """The feed: ``count`` entries over the four streams, about 55 % valid, 5 % repeats.

    Includes 5 junk-carrying valid entries and one invalid, 3 entries with a 1 MB field, and
    2 follow-up visits of tasks that do not exist (valid for the contract, refused when
    applied). About 1 % re-send an invalid entry corrected (same ``event_id``: stored),
    1 % repeat an ``event_id`` from another source (another event: stored).
    """
    feed = Feed(seed, now or datetime.now(UTC))
    rng, out = feed.rng, feed.entries
    names, weights = list(STREAMS), list(STREAMS.values())
    bombs = set(rng.sample(range(count), 6))
    huge = set(rng.sample(sorted(set(range(count)) - bombs), 3))
    unknown_task = set(rng.sample(sorted(set(range(count)) - bombs - huge), 2))
    stored: list[int] = []
    broken: list[tuple[str, dict[str, str]]] = []  # invalid entries' valid originals
    taken: set[tuple[str, str]] = set()
    for i in range(count):
        stream = rng.choices(names, weights)[0]
        f = feed.valid(stream)
        pick = rng.random()
        if broken and pick > 0.98:  # the producer fixes an entry and sends it again
            stream, f = broken.pop(rng.randrange(len(broken)))
            out.append(Entry(stream, encoded(f), "corrected resend", True,
                             key=(f["source"], f["event_id"]), texts=_texts(f)))
            stored.append(i)
        elif pick > 0.97 and stored and (first := out[rng.choice(stored)]).key[0] != "fuzz-other" \
                and ("fuzz-other", first.key[1]) not in taken:
            # the same event_id from another producer is another event
            f = {k.decode(): v.decode() for k, v in first.fields.items()
                 if not k.startswith(b"x_") and k != b"vendor_blob" and b"vendor" not in k}
            f["source"] = "fuzz-other"
            taken.add(("fuzz-other", f["event_id"]))
            out.append(Entry(first.stream, encoded(f), "same event_id, other source", True,
                             key=(f["source"], f["event_id"]), texts=_texts(f)))
            stored.append(i)
        elif i in unknown_task:  # valid for the contract, refused when applied
            f = feed._envelope("followup.visited", "waste")
            f.update(followup_id=f"FU-NOPE-{i}", outcome="educated")
            out.append(Entry("waste", encoded(f), "follow-up of no task", False,
                             "no such follow-up", key=(f["source"], f["event_id"])))
        elif i in huge:
            name = ("channel" if f["type"].startswith("notification.")
                    else {"incidents": "note", "metrics": "unit"}.get(stream, "event_id"))
            f[name] = "巨" * 350_000  # 1 MB of UTF-8
            out.append(Entry(stream, encoded(f), f"1 MB {name}", False, name,
                             key=(f["source"], f["event_id"])))
        elif i == min(bombs):
            key = (f.pop("source"), f["event_id"])
            raw = encoded(f) | {f"x_{i}".encode(): b"junk" for i in range(10_000)}
            out.append(Entry(stream, raw, "10000 fields, no source", False, "source", key=key))
        elif i in bombs:
            raw, case = carry_junk(feed, stream, f)
            out.append(Entry(stream, raw, case, True, key=(f["source"], f["event_id"])))
            stored.append(i)
        elif stored and pick < 0.05:
            index = rng.choice(stored)
            first = out[index]
            raw = dict(first.fields)
            if rng.random() < 0.5:
                case = "repeat, same content"
            else:  # same (source, event_id), other content: ignored, the first one stays
                raw[b"note" if first.stream == "incidents" else b"unknown_extra"] = b"changed"
                case = "repeat, other content"
            out.append(Entry(first.stream, raw, case, True, key=first.key,
                             repeat_of=index))
        elif pick < 0.45:
            wrong, key, original = stream, (f["source"], f["event_id"]), dict(f)
            raw, case, expect = break_entry(feed, stream, f)
            if rng.random() < 0.1:
                broken.append((stream, original))
            if case == "type on another stream":
                wrong = rng.choice([s for s in STREAMS if s != stream])
            out.append(Entry(wrong, raw, case, False, expect, key=key))
        else:
            out.append(Entry(stream, encoded(f), f"valid {f['type']}", True,
                             key=(f["source"], f["event_id"]), texts=_texts(f)))
            stored.append(i)
    return out
