"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

import quell.models  # noqa: F401  (every table on the metadata)
from quell.store.base import Base
from quell.store.db import current_revisions


def test_models_and_migrations_agree(db: Engine) -> None:
    with db.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert differences == []


def test_the_store_is_at_a_single_head(db: Engine) -> None:
    # Branches merge back (0008 merges 0003 and 0004); a second head would mean a migration
    # that some upgrade path skips.
    assert len(current_revisions(db)) == 1
