"""Alembic environment: runs against the engine quell hands it."""

from __future__ import annotations

from alembic import context

import quell.models  # noqa: F401  (registers every table on Base.metadata)
from quell.store.base import Base

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    context.run_migrations()
