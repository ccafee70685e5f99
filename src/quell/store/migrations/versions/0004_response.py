"""response: postmortems, response settings, indexes for the triage pack

Revision ID: 0004_response
Revises: 0001_foundation
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import quell.store.base

revision = "0004_response"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "postmortems",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("root_cause", _JSON, nullable=False),
        sa.Column("impact", _JSON, nullable=False),
        sa.Column("detection_review", _JSON, nullable=False),
        sa.Column("response_review", _JSON, nullable=False),
        sa.Column("action_items", _JSON, nullable=False),
        sa.Column("risks", _JSON, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", quell.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", quell.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_postmortems_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_postmortems")),
        sa.UniqueConstraint("incident_id", name=op.f("uq_postmortems_incident_id")),
    )
    op.create_table(
        "response_settings",
        sa.Column("key", sa.String(length=60), nullable=False),
        sa.Column("value", _JSON, nullable=False),
        sa.Column("updated_at", quell.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_response_settings")),
    )
    # The triage pack looks past incidents up by system and by archetype, newest first; the
    # foundation's incident_systems key starts with incident_id, so it cannot serve the first.
    op.create_index("ix_incident_systems_system_id", "incident_systems", ["system_id"])
    op.create_index("ix_incidents_archetype_detected", "incidents", ["archetype", "detected_at"])
    op.create_index("ix_timeline_events_incident_kind", "timeline_events", ["incident_id", "kind"])


def downgrade() -> None:
    op.drop_index("ix_timeline_events_incident_kind", table_name="timeline_events")
    op.drop_index("ix_incidents_archetype_detected", table_name="incidents")
    op.drop_index("ix_incident_systems_system_id", table_name="incident_systems")
    op.drop_table("response_settings")
    op.drop_table("postmortems")
