"""One settings object for the whole program, read from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_DATABASE_URL = "sqlite:///./quell.db"


@dataclass(frozen=True)
class Settings:
    """Runtime settings. Every field has an environment variable, named in its comment."""

    database_url: str = DEFAULT_DATABASE_URL  # QUELL_DATABASE_URL
    config_path: Path | None = None  # QUELL_CONFIG: the quell.yaml applied at start-up, if any
    secret_key: str = field(default="", repr=False)  # QUELL_SECRET_KEY: signs console sessions
    max_batch: int = 1000  # QUELL_MAX_BATCH: most signals in one intake request
    # QUELL_SCHEDULER=0 turns the background job worker off (on by default from the
    # environment; off for a Settings built in code, e.g. in tests, which drive it by hand).
    scheduler: bool = False

    @classmethod
    def from_env(cls) -> Settings:
        config = os.environ.get("QUELL_CONFIG")
        return cls(
            database_url=os.environ.get("QUELL_DATABASE_URL", DEFAULT_DATABASE_URL),
            config_path=Path(config) if config else None,
            secret_key=os.environ.get("QUELL_SECRET_KEY", ""),
            max_batch=int(os.environ.get("QUELL_MAX_BATCH", "1000")),
            scheduler=os.environ.get("QUELL_SCHEDULER", "1").lower() not in ("0", "false", "no"),
        )
