"""Checkpoints of the as-of stores: the state at each local midnight, kept on disk.

Building a past moment from the whole history costs about a second per 10,000 volunteer and
waste events before it (docs/timemachine.md). A checkpoint is the image of an as-of store at a
local midnight (:class:`cockpit.asof.Shadow`, :mod:`cockpit.asof_memory`), compressed, in a
folder: a moment is then the newest valid checkpoint before it, moved forward with the events
of at most one day (:meth:`cockpit.asof.Shadow.advance`) — the same fold a replay runs, which
the tests hold equal to a fresh build.

A file is ``<folder>/<key>/<UTC moment>.ckpt``: a 4-byte length, a JSON header (the moment,
the store's latest ``received_at`` when it was made, its counts, the map layers' fingerprint)
and the zlib-compressed image. ``key`` names the store (its database URL, without password)
and everything that shapes the fold (the schema and the governance, volunteer and waste
rules): another store, or changed rules, never read these files. Writes go to a temporary
file renamed into place, so the web workers of one host share the folder safely.

A checkpoint stays valid while no event that happened at or before its moment was stored after
it was made (a late event): :meth:`Checkpoints.load` looks for such rows and, finding one that
the checkpoint lacks (or fewer events in the store than in it: a restored backup), deletes it
and every later one (they lack it too) and tries the one before. The folder is bounded by
bytes, oldest first (:attr:`Checkpoints.limit`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import struct
import tempfile
import zlib
from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from cockpit.asof import COMMIT_MARGIN, Shadow
from cockpit.asof_history import HISTORY, held_keys
from cockpit.settings import Settings
from cockpit.store.map_models import BoundaryImport
from cockpit.store.models import Base

log = logging.getLogger(__name__)

#: The file layout; a new one never reads an old one's files.
FORMAT = 1
SUFFIX = ".ckpt"
_STAMP = "%Y%m%dT%H%M%SZ"


def midnight_before(at: datetime, tz: ZoneInfo) -> datetime:
    """Return the latest local midnight (in ``tz``) at or before ``at`` (aware), in UTC."""
    local = at.astimezone(tz)
    return datetime.combine(local.date(), time(0), tz).astimezone(UTC)


def midnight_after(at: datetime, tz: ZoneInfo) -> datetime:
    """Return the first local midnight (in ``tz``) after ``at`` (aware), in UTC."""
    local = at.astimezone(tz)
    return datetime.combine(local.date() + timedelta(days=1), time(0), tz).astimezone(UTC)


def store_key(settings: Settings, database_url: str) -> str:
    """A short name of the store and of what shapes its fold (16 hex digits)."""
    url = make_url(database_url).set(password=None).render_as_string(hide_password=False)
    schema = sorted((t.name, sorted((c.name, str(c.type)) for c in t.columns),
                     sorted(i.name or "" for i in t.indexes))
                    for t in Base.metadata.sorted_tables)
    rules = [settings.governance.model_dump_json(), settings.volunteer_rules.model_dump_json(),
             settings.waste_rules.model_dump_json(), settings.timezone]
    text = json.dumps([FORMAT, url, schema, rules], default=str, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def layers_of(session: Session) -> list[int]:
    """The map layers' fingerprint: how many imports and the latest one's id."""
    count, latest = session.execute(select(func.count(), func.max(BoundaryImport.import_id))
                                    ).one()
    return [int(count or 0), int(latest or 0)]


class Checkpoints:
    """The checkpoints of one store in ``folder``, at most ``limit`` bytes of them."""

    def __init__(self, folder: Path, settings: Settings, limit: int) -> None:
        self.folder = Path(folder)
        self.settings = settings
        self.limit = limit

    def path(self, moment: datetime) -> Path:
        """The file of the checkpoint at ``moment``."""
        return self.folder / (moment.astimezone(UTC).strftime(_STAMP) + SUFFIX)

    def moments(self) -> list[datetime]:
        """The moments checkpointed, oldest first (aware, UTC)."""
        found = []
        for path in self.folder.glob(f"*{SUFFIX}") if self.folder.is_dir() else ():
            try:
                found.append(datetime.strptime(path.stem, _STAMP).replace(tzinfo=UTC))
            except ValueError:
                continue
        return sorted(found)

    def latest_before(self, at: datetime) -> datetime | None:
        """The newest checkpointed moment at or before ``at``, None without one."""
        earlier = [m for m in self.moments() if m <= at]
        return earlier[-1] if earlier else None

    def save(self, shadow: Shadow, main: sessionmaker[Session]) -> Path | None:
        """Save ``shadow`` (held at a local midnight) unless its moment is saved; return the file.

        Raises
        ------
        ValueError
            When the shadow's moment is not a local midnight.
        OSError
            When the folder cannot be written (the caller logs it and goes on without).
        """
        moment = shadow.at
        if midnight_before(moment, self.settings.tz) != moment:
            raise ValueError(f"at: {moment.isoformat()} is not a local midnight")
        path = self.path(moment)
        if path.exists():
            return None
        with main() as session:
            layers = layers_of(session)
        header = {"format": FORMAT, "at": moment.isoformat(), "layers": layers,
                  "seen_received": shadow.seen_received.isoformat()
                  if shadow.seen_received else None,
                  "copied": shadow.copied, "applied": shadow.applied, "skipped": shadow.skipped}
        body = zlib.compress(shadow.image(), 1)
        head = json.dumps(header).encode()
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=self.folder, suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(struct.pack("<I", len(head)) + head)
                out.write(body)
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        self.prune()
        return path

    def load(self, main: sessionmaker[Session], at: datetime) -> Shadow | None:
        """Return the newest valid checkpoint at or before ``at`` as a shadow; None without one.

        A checkpoint that a late event makes stale is deleted with every later one, and the one
        before is tried. An unreadable file is deleted (logged).
        """
        for moment in reversed([m for m in self.moments() if m <= at]):
            path = self.path(moment)
            try:
                header, image = _read(path)
            except (OSError, ValueError, zlib.error, struct.error) as exc:
                log.warning("time machine: checkpoint %s unreadable (%s); deleted", path.name,
                            exc)
                path.unlink(missing_ok=True)
                continue
            with main() as session:
                if header.get("layers") != layers_of(session):
                    self.drop_from(moment)  # the map layers changed: every checkpoint
                    continue
            shadow = Shadow.empty(self.settings, image, at=moment)
            seen = header.get("seen_received")
            shadow.seen_received = datetime.fromisoformat(seen) if seen else None
            shadow.copied, shadow.applied = header["copied"], header["applied"]
            shadow.skipped = header["skipped"]
            if self._stale(main, shadow):
                shadow.close()
                log.info("time machine: checkpoint %s differs from the stored history (events "
                         "stored late); dropped with the later ones", path.name)
                self.drop_from(moment)
                continue
            return shadow
        return None

    def _stale(self, main: sessionmaker[Session], shadow: Shadow) -> bool:
        """True when the store's history up to the shadow's moment is not what it holds.

        Per history table, the events at or before the moment are counted in both: equal
        counts of an append-only history are the same events. More in the shadow: the store
        lost some (restored from an older backup under the same URL). More in the store: the
        events stored after the shadow was read (``received_at`` from its last look, less
        :data:`cockpit.asof.COMMIT_MARGIN`) are looked up in the shadow; one it lacks is a late
        event (others are rows the fold refused or could not rebuild, never stored in it).
        """
        since = shadow.seen_received - COMMIT_MARGIN if shadow.seen_received else None
        with main() as source, shadow.sessions() as mine:
            for model, _ in HISTORY:
                upto = model.occurred_at <= shadow.at
                count = select(func.count()).select_from(model).where(upto)
                held, stored = mine.scalar(count) or 0, source.scalar(count) or 0
                if held > stored:
                    return True
                if held == stored:
                    continue
                query = select(model.event_id, model.source).where(upto)
                if since is not None:
                    query = query.where(model.received_at > since)
                keys = [tuple(row) for row in source.execute(query)]
                if len(held_keys(mine, model, keys)) != len(set(keys)):
                    return True
        return False

    def drop_from(self, moment: datetime) -> None:
        """Delete the checkpoints at or after ``moment``."""
        self._delete(m for m in self.moments() if m >= moment)

    def prune(self) -> None:
        """Delete the oldest checkpoints until the folder holds at most :attr:`limit` bytes."""
        sizes = [(m, self.path(m).stat().st_size) for m in self.moments()
                 if self.path(m).exists()]
        total = sum(size for _, size in sizes)
        gone = []
        for moment, size in sizes:
            if total <= self.limit:
                break
            gone.append(moment)
            total -= size
        self._delete(gone)

    def bytes(self) -> int:
        """The bytes of the checkpoint files."""
        return sum(p.stat().st_size for p in self.folder.glob(f"*{SUFFIX}"))

    def _delete(self, moments: Iterable[datetime]) -> None:
        for moment in list(moments):
            self.path(moment).unlink(missing_ok=True)


def read_header(path: Path) -> dict:
    """The header of a checkpoint file (moment, counts; no image read).

    Raises
    ------
    OSError, ValueError
        When the file cannot be read or is not a checkpoint of this :data:`FORMAT`.
    """
    with path.open("rb") as source:
        return _header(source)


def _header(source) -> dict:
    try:
        (length,) = struct.unpack("<I", source.read(4))
        header = json.loads(source.read(length))
    except struct.error as exc:
        raise ValueError(f"not a checkpoint: {exc}") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValueError(f"format {header.get('format') if isinstance(header, dict) else None!r}"
                         f", not {FORMAT}")
    return header


def _read(path: Path) -> tuple[dict, bytes]:
    with path.open("rb") as source:
        header = _header(source)
        return header, zlib.decompress(source.read())
