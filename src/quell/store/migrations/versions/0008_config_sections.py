"""one table for applied quell.yaml sections (replaces correlation_settings and response_settings)

Revision ID: 0008_config_sections
Revises: 0003_correlation, 0004_response
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text  # noqa: F401
from sqlalchemy.dialects import postgresql

import quell.store.base

revision = "0008_config_sections"
down_revision = ("0003_correlation", "0004_response")
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    table = op.create_table(
        "config_sections",
        sa.Column("key", sa.String(length=60), nullable=False),
        sa.Column("value", _JSON, nullable=False),
        sa.Column("updated_at", quell.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_config_sections")),
    )
    bind = op.get_bind()
    for old in ("correlation_settings", "response_settings"):
        rows = bind.execute(sa.text(f"SELECT key, value, updated_at FROM {old}")).mappings()
        copied = []
        for row in rows:
            value = row["value"]
            if isinstance(value, str):  # SQLite hands JSON back as text here
                import json

                value = json.loads(value)
            if isinstance(value, dict) and set(value) == {"items"}:
                value = value["items"]  # list sections were wrapped in the old table
            copied.append({"key": row["key"], "value": value, "updated_at": row["updated_at"]})
        if copied:
            op.bulk_insert(table, copied)
        op.drop_table(old)


def downgrade() -> None:
    for old in ("correlation_settings", "response_settings"):
        op.create_table(
            old,
            sa.Column("key", sa.String(length=60), nullable=False),
            sa.Column("value", _JSON, nullable=False),
            sa.Column("updated_at", quell.store.base.UTCDateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("key", name=op.f(f"pk_{old}")),
        )
    op.drop_table("config_sections")
