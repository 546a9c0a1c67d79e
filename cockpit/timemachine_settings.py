"""Settings of the time machine's memory and disk (``COCKPIT_TM_*``; docs/timemachine.md)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class TimeMachineSettings(BaseSettings):
    """How much the time machine of one web process may hold and build.

    Attributes
    ----------
    cache_mb : int
        ``COCKPIT_TM_CACHE_MB``; as-of stores kept in memory per process, MiB in all (default
        512; the least recently used is dropped past it; the newest is kept whatever its size).
    idle_s : float
        ``COCKPIT_TM_IDLE_S``; a past moment no one has read for this long is dropped from
        memory (default 600 s): a web process at rest holds none.
    checkpoint_dir : Path or None
        ``COCKPIT_TM_CHECKPOINT_DIR``; where the midnight checkpoints are kept (default
        ``<data_dir>/timemachine``; one sub-folder per store and rules).
    checkpoint_mb : int
        ``COCKPIT_TM_CHECKPOINT_MB``; the checkpoints' bound on disk per store, MiB (default
        2048, oldest deleted first; 0: no checkpoints, every moment built from the history).
    builds_waiting : int
        ``COCKPIT_TM_BUILDS_WAITING``; past moments that may wait for the one build a process
        runs at a time (default 2); more are answered "busy" (HTTP 503 with Retry-After), and a
        viewer whose own build is running or waiting is answered so for another moment.
    build_wait_s : float
        ``COCKPIT_TM_BUILD_WAIT_S``; how long a request waits for a build before it is answered
        "busy" (default 20 s; a page's band retries by itself).
    """

    model_config = SettingsConfigDict(env_prefix="COCKPIT_TM_", extra="ignore", frozen=True)

    cache_mb: int = Field(default=512, ge=16, le=1_048_576)
    idle_s: float = Field(default=600.0, ge=1, le=86_400)
    checkpoint_dir: Path | None = None
    checkpoint_mb: int = Field(default=2048, ge=0, le=10_485_760)
    builds_waiting: int = Field(default=2, ge=0, le=64)
    build_wait_s: float = Field(default=20.0, gt=0, le=3600)
