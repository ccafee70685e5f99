"""merge the phases' migration branches into one head, so later migrations form a line

Revision ID: 0009_one_head
Revises: 0002_ingest, 0005_escalation, 0006_remediation, 0007_guard, 0008_config_sections
"""

revision = "0009_one_head"
down_revision = (
    "0002_ingest",
    "0005_escalation",
    "0006_remediation",
    "0007_guard",
    "0008_config_sections",
)
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
