"""Table of containment actions: what was proposed, who approved it, what the connector did."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal, get_args

from sqlalchemy import Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from quell.store.base import Base, JSONType
from quell.timeutil import utcnow


class ContainmentAction(Base):
    """One containment action on one AI system of an incident, through its whole lifecycle.

    proposed -> approved -> executing -> succeeded | failed, or proposed -> rejected | cancelled.
    """

    __tablename__ = "containment_actions"
    __table_args__ = (Index("ix_containment_actions_incident_status", "incident_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(40))
    # The system's name is kept as well as its id, so the record survives the system's removal.
    system_id: Mapped[int | None] = mapped_column(
        ForeignKey("ai_systems.id", ondelete="SET NULL"), default=None
    )
    system: Mapped[str] = mapped_column(String(100))
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    reason: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="proposed")
    # What approving it takes, fixed when it is proposed: the role, and the two-person rule.
    approver_role: Mapped[str] = mapped_column(String(20), default="responder")
    two_person: Mapped[bool] = mapped_column(Boolean, default=False)
    requirement: Mapped[str] = mapped_column(Text, default="")  # why, in words
    proposed_by: Mapped[str] = mapped_column(String(100))
    proposed_at: Mapped[datetime] = mapped_column(default=utcnow)
    approved_by: Mapped[str | None] = mapped_column(String(100), default=None)
    approved_at: Mapped[datetime | None] = mapped_column(default=None)
    policy: Mapped[str | None] = mapped_column(String(100), default=None)  # pre-approved by
    decided_by: Mapped[str | None] = mapped_column(String(100), default=None)  # reject/cancel
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    connector: Mapped[str | None] = mapped_column(String(100), default=None)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    result: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    error: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# The containment action types quell knows, in the playbook's words. Which system kinds each
# applies to and which parameters it takes live in quell.remediation.action_kinds.
# Containment proper (what a playbook step may propose); restoring an agent undoes one.
ContainmentType = Literal[
    "revoke_agent",
    "route_fallback",
    "rollback_model",
    "pause_decisions",
    "tighten_filters",
    "rate_limit",
]
ActionType = Literal[ContainmentType, "restore_agent"]
ACTION_TYPES: tuple[str, ...] = get_args(ActionType)
ACTION_STATUSES = (
    "proposed",
    "approved",
    "executing",
    "succeeded",
    "failed",
    "rejected",
    "cancelled",
)


def unknown_action_types(values: Iterable[str]) -> str | None:
    """Why a list of action types is refused (None when every one is known)."""
    unknown = [t for t in values if t not in ACTION_TYPES]
    if not unknown:
        return None
    return f"unknown action type(s) {', '.join(unknown)}; known: {', '.join(ACTION_TYPES)}"
