"""``cockpit demo``: embedded Redis, ingest, a replay, simulated feeds and the web app.

Each part runs as its own process, as in production (``cockpit ingest``, ``replay``,
``simulate-volunteers``, ``simulate-waste``, ``simulate-metrics``, ``serve``); this
supervisor starts them with one shared ``REDIS_URL`` and ``DATABASE_URL``, prints where to
look, restarts a part that fails, and stops them all on Ctrl-C, SIGTERM or a closed terminal
(SIGHUP). A lock on the data folder keeps a second demo from attaching to the first one's
data.

Access: a secret not set in the environment (``COCKPIT_SECRET_KEY``, ``COCKPIT_PD_KEY``) is
generated once and kept in ``<data_dir>/secrets/<VARIABLE>`` (0600), so sessions, kiosk links
and ID hashes stay valid from one start to the next. Every start gives the account ``admin`` a
new password and makes sure the kiosk ``demo-wall`` is live; both are printed to the terminal
only (stdout), never logged.

The supervision itself (children, restarts, the data-folder lock, the port check) is
:mod:`cockpit.supervisor`.
"""

from __future__ import annotations

import logging
import math
import os
import secrets
import signal
import sys
import threading
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from cockpit.settings import MIN_SECRET_LEN, SECRETS, Settings
from cockpit.store.db import engine_for, session_factory
from cockpit.store.migrate import upgrade
from cockpit.streams import EmbeddedRedis, client_for_url
from cockpit.supervisor import (  # noqa: F401 - re-exported: the demo's supervision
    MAX_RESTARTS_PER_MIN,
    USAGE_ERROR,
    DemoError,
    Supervisor,
    check_port_free,
    data_dir_lock,
    wait_http,
)
from cockpit.volunteers.sim_people import DEFAULT_VOLUNTEERS
from cockpit.waste.sim_world import COMMUNITY_NAME, DEFAULT_HOUSEHOLDS

log = logging.getLogger(__name__)

#: The shared data folder beside the checkout (../shared/data), where the recorded feeds are.
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DEFAULT_FEED = SHARED_DATA / "incidents" / "sf_fire_calls_2020-04-07_to_04-20.csv"
#: The demo's replay: arrivals ten times as fast as recorded (the 14 days of the SF file in
#: 1.4 days), each incident's stages at their real durations, so the stage limits of the
#: governance rules are met or missed as they were and the overdue board fills and empties.
DEMO_SPEED = 10.0
DEMO_STAGE_SPEED = 1.0
#: The account whose new password every start prints, and the wall screen's kiosk.
DEMO_ADMIN = "admin"
DEMO_KIOSK = "demo-wall"
#: Who the demo's account and kiosk changes are by, in the audit log.
DEMO_BY = "demo"


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "cockpit.cli", *args]


def masked(url: str) -> str:
    """``url`` with its password replaced by ``***`` (for printing)."""
    if url.startswith("unix://"):
        return url
    return make_url(url.replace("redis://", "redis+x://", 1)).render_as_string(
        hide_password=True).replace("redis+x://", "redis://", 1)


def redis_cli_line(redis_url: str, cli: str, stream: str) -> str:
    """A ready-to-paste ``redis-cli XADD`` of one valid incident for the Redis at ``redis_url``.

    A password in the URL is shown as ``***``; put it back (or set ``REDISCLI_AUTH``).
    """
    if redis_url.startswith("unix://"):
        target = f"-s {redis_url.removeprefix('unix://')}"
    else:
        target = f"-u {masked(redis_url)}"
    # $(date ...) makes every paste a new incident at the current time (POSIX shells)
    return (f"{cli} {target} XADD {stream} '*' event_id \"manual-$(date +%s%N)\" "
            f"type incident.reported occurred_at \"$(date +%s)000\" source redis-cli "
            f"incident_id \"manual-$(date +%s%N)\" category 火情 priority 紧急 "
            f"title '农贸市场东门冒烟' address '乔司农贸市场' lon 120.2868 lat 30.3493 crs gcj02")


def kept_secret(path: Path) -> str:
    """The secret kept in ``path``; generated and written (mode 0600, folder 0700) if missing.

    Raises
    ------
    DemoError
        If the file holds fewer than :data:`~cockpit.settings.MIN_SECRET_LEN` characters.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    try:
        value = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        value = secrets.token_urlsafe(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(value + "\n")
        return value
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    if len(value) < MIN_SECRET_LEN:
        raise DemoError(f"{path} holds no usable secret (under {MIN_SECRET_LEN} characters); "
                        "delete it and the demo makes a new one")
    return value


def with_secrets(settings: Settings) -> Settings:
    """``settings`` with every secret set: from the environment, else kept under the data dir.

    A secret the environment does not set is read from (or first generated into)
    ``<data_dir>/secrets/<VARIABLE>`` by :func:`kept_secret`.
    """
    update = {name: SecretStr(kept_secret(settings.data_dir / "secrets" / variable))
              for name, variable in SECRETS.items() if getattr(settings, name) is None}
    return settings.model_copy(update=update) if update else settings


def demo_access(engine: Engine, settings: Settings) -> tuple[str, str]:
    """Give ``admin`` a new password and make sure the kiosk ``demo-wall`` is live.

    The account is created, enabled and made an admin as needed; the kiosk is created, or
    created again if it was revoked (a new link then). Changes are audited as ``demo``.

    Returns
    -------
    tuple of str
        The kiosk's link path (``/kiosk/<token>``) and the admin's new password.

    Raises
    ------
    cockpit.settings.MissingSecret
        Without ``COCKPIT_SECRET_KEY`` (call :func:`with_secrets` first).
    """
    from cockpit import accounts
    from cockpit.access import Role

    password = secrets.token_urlsafe(12)
    with session_factory(engine).begin() as db:
        admin = next((a for a in accounts.list_users(db) if a.username == DEMO_ADMIN), None)
        if admin is None:
            accounts.add_user(db, DEMO_ADMIN, Role.ADMIN.value, password, by=DEMO_BY)
        else:
            accounts.set_password(db, DEMO_ADMIN, password, by=DEMO_BY)
            if admin.disabled:
                accounts.set_disabled(db, DEMO_ADMIN, False, by=DEMO_BY)
            if admin.role is not Role.ADMIN:
                accounts.set_role(db, DEMO_ADMIN, Role.ADMIN.value, by=DEMO_BY)
        kiosk = next((k for k in accounts.list_kiosks(db)
                      if k.name == DEMO_KIOSK and k.revoked_at is None), None)
        if kiosk is None:
            kiosk = accounts.add_kiosk(db, DEMO_KIOSK, by=DEMO_BY)
        token = accounts.kiosk_token(settings.secret("secret_key"), kiosk)
    return f"/kiosk/{token}", password


def run_demo(settings: Settings, speed: float = DEMO_SPEED, feed: Path | None = None,
             mapping: str = "sf_fire_calls", stage_speed: float = DEMO_STAGE_SPEED) -> int:
    """Run the whole cockpit until interrupted; returns the exit code.

    Parameters
    ----------
    settings : Settings
        Redis, database, data folder, host and port of every part.
    speed : float
        Speed-up of the replayed incidents' arrivals (``cockpit replay --speed``), > 0.
    feed : Path, optional
        The recorded file; default :data:`DEFAULT_FEED`.
    mapping : str
        Its mapping file or name.
    stage_speed : float
        Speed-up within each incident (``--stage-speed``), > 0; 1 keeps the real stage
        durations.

    Returns
    -------
    int
        0 after Ctrl-C / SIGTERM / SIGHUP, 2 when a part was started wrongly, 1 when a part
        keeps failing.

    Raises
    ------
    DemoError
        If the feed is missing, the port is taken, another demo holds the data folder or a
        kept secret file is unusable.
    ValueError
        If a speed is not positive and finite.
    """
    for name, value in (("--speed", speed), ("--stage-speed", stage_speed)):
        if not (value > 0 and math.isfinite(value)):
            raise ValueError(f"{name} {value}: use a finite number > 0")
    settings.governance  # noqa: B018 - a bad rules file stops the demo before anything starts
    feed = feed or DEFAULT_FEED
    if not feed.is_file():
        raise DemoError(f"recorded feed not found: {feed} (the demo replays "
                        "../shared/data/incidents/ beside the checkout; or pass --feed FILE "
                        "--mapping NAME)")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    with data_dir_lock(settings.data_dir):
        check_port_free(settings.host, settings.port)
        settings = with_secrets(settings)
        return _run(settings, (speed, stage_speed), feed, mapping, stop)


def part_commands(feed: Path, mapping: str, speeds: tuple[float, float]
                  ) -> dict[str, list[str]]:
    """The command line of each part: ingest, web, replay, volunteers, waste, metrics, tm.

    The replay replays ``feed`` with ``mapping`` at ``speeds`` = ``(speed, stage_speed)``,
    over and over (``--loop``), continuing a stopped run (``--resume``). ``volunteers``,
    ``waste`` and ``metrics`` are the simulated volunteer, waste-sorting and scenario-KPI
    feeds (``sim:``) in real time. ``tm`` keeps the time machine's midnight checkpoints of
    the last week (``cockpit timemachine warm --follow``, at a low CPU priority).
    """
    speed, stage_speed = speeds
    return {
        "ingest": _cli("ingest"),
        "web": _cli("serve"),
        "replay": _cli("replay", str(feed), "--mapping", mapping, "--speed", str(speed),
                       "--stage-speed", str(stage_speed), "--loop", "--resume",
                       "--no-progress"),
        "volunteers": _cli("simulate-volunteers"), "waste": _cli("simulate-waste"),
        "metrics": _cli("simulate-metrics"), "tm": _cli("timemachine", "warm", "--follow"),
    }


def _run(settings: Settings, speeds: tuple[float, float], feed: Path, mapping: str,
         stop: threading.Event) -> int:
    speed, stage_speed = speeds
    embedded = None
    if settings.redis_url:
        redis_url, cli = settings.redis_url, "redis-cli"
    else:
        embedded = EmbeddedRedis(settings.data_dir)
        redis_url, cli = embedded.url, str(embedded.cli_path)
    supervisor = None
    try:
        client_for_url(redis_url).ping()
        engine = engine_for(settings)
        try:
            upgrade(engine)
            kiosk_path, password = demo_access(engine, settings)
            # the staff map's grids: generated (labelled so) until real ones are imported
            from cockpit.mapdata.grids import ensure_grids
            with session_factory(engine).begin() as db:
                ensure_grids(db, actor=DEMO_BY)
        finally:
            engine.dispose()
        env = {**os.environ, "REDIS_URL": redis_url,
               "DATABASE_URL": settings.effective_database_url,
               "COCKPIT_STREAM_PREFIX": settings.stream_prefix,
               "COCKPIT_TIMEZONE": settings.timezone, "COCKPIT_HOST": settings.host,
               "COCKPIT_PORT": str(settings.port), "COCKPIT_DATA_DIR": str(settings.data_dir),
               **{variable: settings.secret(name).decode() for name, variable in SECRETS.items()}}
        supervisor = Supervisor(part_commands(feed, mapping, speeds), env, stop)
        for name in supervisor.commands:
            supervisor.start(name)
        base = f"http://{settings.host}:{settings.port}"
        url = f"{base}/"
        if not wait_http(url, 60, stop) and not stop.is_set():
            log.error("the web app did not answer on %s within 60 s", url)
        if not stop.is_set():
            # stdout only: the password must not reach a log (logging goes to stderr)
            sys.stdout.write(
                f"\n  乔网智治·云上中心驾驶舱 is up: {url}\n"
                f"  Wall screen (kiosk link, no sign-in): {base}{kiosk_path}\n"
                f"  Sign in at {base}/signin as {DEMO_ADMIN}, password: {password}  "
                f"(new at every start)\n"
                f"  Redis: {masked(redis_url)}   "
                f"database: {masked(settings.effective_database_url)}\n"
                f"  Replaying {feed.name}: arrivals at ×{speed:g}, stage durations at "
                f"×{stage_speed:g}{' (real)' if stage_speed == 1 else ''}.\n"
                f"  Simulated (模拟, sources sim:*), in real time: {DEFAULT_VOLUNTEERS:,} "
                f"volunteers with activities, mobilisations and sign-ups; {DEFAULT_HOUSEHOLDS:,} "
                f"households ({COMMUNITY_NAME} ~96 %) with waste disposals and follow-ups; "
                f"the KPIs of the scenario tiles (cockpit/tiles.yaml) every 15 minutes.\n"
                f"  Add an incident by hand:\n\n"
                f"  {redis_cli_line(redis_url, cli, settings.stream('incidents'))}\n\n"
                f"  Ctrl-C stops everything.\n\n")
            sys.stdout.flush()
        return supervisor.watch()
    finally:
        if supervisor is not None:
            supervisor.stop_all()
        if embedded is not None:
            embedded.close()
