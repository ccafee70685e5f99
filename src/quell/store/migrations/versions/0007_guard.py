"""guard: agent policies, containment state, agent actions

Revision ID: 0007_guard
Revises: 0001_foundation
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import quell.store.base

revision = "0007_guard"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "guard_policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("system", sa.String(length=100), nullable=False),
        sa.Column("policy", _json(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", quell.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guard_policies")),
        sa.UniqueConstraint("system", name=op.f("uq_guard_policies_system")),
    )
    op.create_table(
        "guard_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("system", sa.String(length=100), nullable=False),
        sa.Column("at", quell.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("phase", sa.String(length=10), nullable=False),
        sa.Column("tool", sa.String(length=200), nullable=False),
        sa.Column("arguments", _json(), nullable=False),
        sa.Column("agent_id", sa.String(length=200), nullable=True),
        sa.Column("run_id", sa.String(length=200), nullable=True),
        sa.Column("cost", sa.Float(), nullable=True),
        sa.Column("decision", sa.String(length=20), nullable=True),
        sa.Column("reasons", _json(), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=10), nullable=True),
        sa.Column("result", _json(), nullable=True),
        sa.Column("approved_by", sa.String(length=100), nullable=True),
        sa.Column("approved_at", quell.store.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("undo", _json(), nullable=True),
        sa.Column("undo_status", sa.String(length=10), nullable=True),
        sa.Column("undo_result", _json(), nullable=True),
        sa.Column("undone_by", sa.String(length=100), nullable=True),
        sa.Column("undone_at", quell.store.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_guard_actions_incident_id_incidents"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guard_actions")),
    )
    with op.batch_alter_table("guard_actions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_guard_actions_incident_id"), ["incident_id"], unique=False
        )
        batch_op.create_index("ix_guard_actions_system_at", ["system", "at"], unique=False)

    op.create_table(
        "guard_containment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("system", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("since", quell.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_guard_containment_incident_id_incidents"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guard_containment")),
        sa.UniqueConstraint("system", name=op.f("uq_guard_containment_system")),
    )


def downgrade() -> None:
    op.drop_table("guard_containment")
    with op.batch_alter_table("guard_actions", schema=None) as batch_op:
        batch_op.drop_index("ix_guard_actions_system_at")
        batch_op.drop_index(batch_op.f("ix_guard_actions_incident_id"))
    op.drop_table("guard_actions")
    op.drop_table("guard_policies")
