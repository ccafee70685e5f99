"""remediation: containment actions

Revision ID: 0006_remediation
Revises: 0001_foundation
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import quell.store.base

revision = "0006_remediation"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")
_TIME = quell.store.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "containment_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("system_id", sa.Integer(), nullable=True),
        sa.Column("system", sa.String(length=100), nullable=False),
        sa.Column("params", _JSON, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("approver_role", sa.String(length=20), nullable=False),
        sa.Column("two_person", sa.Boolean(), nullable=False),
        sa.Column("requirement", sa.Text(), nullable=False),
        sa.Column("proposed_by", sa.String(length=100), nullable=False),
        sa.Column("proposed_at", _TIME, nullable=False),
        sa.Column("approved_by", sa.String(length=100), nullable=True),
        sa.Column("approved_at", _TIME, nullable=True),
        sa.Column("policy", sa.String(length=100), nullable=True),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decided_at", _TIME, nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=False),
        sa.Column("connector", sa.String(length=100), nullable=True),
        sa.Column("started_at", _TIME, nullable=True),
        sa.Column("finished_at", _TIME, nullable=True),
        sa.Column("result", _JSON, nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_containment_actions_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["system_id"],
            ["ai_systems.id"],
            name=op.f("fk_containment_actions_system_id_ai_systems"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_containment_actions")),
    )
    op.create_index(
        "ix_containment_actions_incident_status",
        "containment_actions",
        ["incident_id", "status"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_containment_actions_incident_status", table_name="containment_actions")
    op.drop_table("containment_actions")
