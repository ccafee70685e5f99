"""escalation: scheduled jobs, notification channels and deliveries, on-call schedules,
escalation policies, per-incident escalations, regulatory clock anchors

Revision ID: 0005_escalation
Revises: 0001_foundation
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import quell.store.base

revision = "0005_escalation"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "escalation_policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "spec",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("updated_at", quell.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalation_policies")),
        sa.UniqueConstraint("name", name=op.f("uq_escalation_policies_name")),
    )
    op.create_table(
        "notification_channels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column(
            "config",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "audiences",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "teams",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("updated_at", quell.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_channels")),
        sa.UniqueConstraint("name", name=op.f("uq_notification_channels_name")),
    )
    op.create_table(
        "oncall_schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("team", sa.String(length=100), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column(
            "spec",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("updated_at", quell.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oncall_schedules")),
        sa.UniqueConstraint("name", name=op.f("uq_oncall_schedules_name")),
    )
    op.create_table(
        "scheduled_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=80), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=True),
        sa.Column("pending_key", sa.String(length=200), nullable=True),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("due_at", quell.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("lease_until", quell.store.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", quell.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", quell.store.base.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduled_jobs")),
        sa.UniqueConstraint("pending_key", name=op.f("uq_scheduled_jobs_pending_key")),
    )
    op.create_index(op.f("ix_scheduled_jobs_due_at"), "scheduled_jobs", ["due_at"], unique=False)
    op.create_index(
        op.f("ix_scheduled_jobs_incident_id"), "scheduled_jobs", ["incident_id"], unique=False
    )
    op.create_index(op.f("ix_scheduled_jobs_key"), "scheduled_jobs", ["key"], unique=False)
    op.create_index(op.f("ix_scheduled_jobs_kind"), "scheduled_jobs", ["kind"], unique=False)
    op.create_index(op.f("ix_scheduled_jobs_status"), "scheduled_jobs", ["status"], unique=False)
    op.create_table(
        "clock_anchors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("regime", sa.String(length=60), nullable=False),
        sa.Column("stage", sa.String(length=60), nullable=False),
        sa.Column("anchor_at", quell.store.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("anchor_reason", sa.Text(), nullable=False),
        sa.Column("anchor_set_by", sa.String(length=100), nullable=True),
        sa.Column("met_at", quell.store.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("met_by", sa.String(length=100), nullable=True),
        sa.Column("met_reference", sa.Text(), nullable=False),
        sa.Column("updated_at", quell.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_clock_anchors_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clock_anchors")),
        sa.UniqueConstraint(
            "incident_id", "regime", "stage", name=op.f("uq_clock_anchors_incident_id")
        ),
    )
    op.create_index(
        op.f("ix_clock_anchors_incident_id"), "clock_anchors", ["incident_id"], unique=False
    )
    op.create_table(
        "escalations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("policy", sa.String(length=100), nullable=True),
        sa.Column("team", sa.String(length=100), nullable=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("first_responder", sa.String(length=100), nullable=True),
        sa.Column(
            "suggestions",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("next_due_at", quell.store.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("started_at", quell.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", quell.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_escalations_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalations")),
        sa.UniqueConstraint("incident_id", name=op.f("uq_escalations_incident_id")),
    )
    op.create_table(
        "notification_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=100), nullable=False),
        sa.Column("channel_type", sa.String(length=20), nullable=False),
        sa.Column("target", sa.String(length=300), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("audience", sa.String(length=20), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", quell.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", quell.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_notification_deliveries_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_deliveries")),
    )
    op.create_index(
        op.f("ix_notification_deliveries_incident_id"),
        "notification_deliveries",
        ["incident_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_notification_deliveries_incident_id"), table_name="notification_deliveries"
    )
    op.drop_table("notification_deliveries")
    op.drop_table("escalations")
    op.drop_index(op.f("ix_clock_anchors_incident_id"), table_name="clock_anchors")
    op.drop_table("clock_anchors")
    op.drop_index(op.f("ix_scheduled_jobs_status"), table_name="scheduled_jobs")
    op.drop_index(op.f("ix_scheduled_jobs_kind"), table_name="scheduled_jobs")
    op.drop_index(op.f("ix_scheduled_jobs_key"), table_name="scheduled_jobs")
    op.drop_index(op.f("ix_scheduled_jobs_incident_id"), table_name="scheduled_jobs")
    op.drop_index(op.f("ix_scheduled_jobs_due_at"), table_name="scheduled_jobs")
    op.drop_table("scheduled_jobs")
    op.drop_table("oncall_schedules")
    op.drop_table("notification_channels")
    op.drop_table("escalation_policies")
