"""correlation: stored detection rules, per-incident grouping state, incident links

Revision ID: 0003_correlation
Revises: 0001_foundation
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import quell.store.base

revision = "0003_correlation"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "correlation_settings",
        sa.Column("key", sa.String(length=60), nullable=False),
        sa.Column(
            "value",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("updated_at", quell.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_correlation_settings")),
    )
    op.create_table(
        "correlation_groups",
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("first_signal_at", quell.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_signal_at", quell.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "state",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_correlation_groups_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("incident_id", name=op.f("pk_correlation_groups")),
    )
    with op.batch_alter_table("correlation_groups", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_correlation_groups_last_signal_at"), ["last_signal_at"], unique=False
        )

    op.create_table(
        "incident_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("related_incident_id", sa.Integer(), nullable=False),
        sa.Column("relation", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", quell.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_links_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["related_incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_links_related_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_links")),
    )
    with op.batch_alter_table("incident_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_incident_links_incident_id"), ["incident_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_incident_links_related_incident_id"),
            ["related_incident_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("incident_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_links_related_incident_id"))
        batch_op.drop_index(batch_op.f("ix_incident_links_incident_id"))

    op.drop_table("incident_links")
    with op.batch_alter_table("correlation_groups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_correlation_groups_last_signal_at"))

    op.drop_table("correlation_groups")
    op.drop_table("correlation_settings")
