"""Tables of the guard: each agent's policy, its containment state and what it did."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from quell.store.base import Base, JSONType
from quell.timeutil import utcnow


class AgentPolicy(Base):
    """The action policy of one agent system, as last applied from quell.yaml or the API."""

    __tablename__ = "guard_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    system: Mapped[str] = mapped_column(String(100), unique=True)
    policy: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # Bumped on every change, so an agent can tell which policy answered it.
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AgentContainment(Base):
    """Whether an agent may act at all: active, or revoked by a responder (the kill switch)."""

    __tablename__ = "guard_containment"

    id: Mapped[int] = mapped_column(primary_key=True)
    system: Mapped[str] = mapped_column(String(100), unique=True)
    state: Mapped[str] = mapped_column(String(10), default="active")  # active | revoked
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text, default="")
    since: Mapped[datetime] = mapped_column(default=utcnow)
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), default=None
    )


class AgentAction(Base):
    """One action an agent asked about (a decision) or reported doing (a record), with its undo."""

    __tablename__ = "guard_actions"
    __table_args__ = (Index("ix_guard_actions_system_at", "system", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    system: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    phase: Mapped[str] = mapped_column(String(10))  # decided | done
    tool: Mapped[str] = mapped_column(String(200))
    arguments: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    agent_id: Mapped[str | None] = mapped_column(String(200), default=None)
    run_id: Mapped[str | None] = mapped_column(String(200), default=None)
    cost: Mapped[float | None] = mapped_column(Float, default=None)
    # For a decision: allow | deny | needs_approval. For a record: the decision it acted on.
    decision: Mapped[str | None] = mapped_column(String(20), default=None)
    reasons: Mapped[list[str]] = mapped_column(JSONType, default=list)
    policy_version: Mapped[int | None] = mapped_column(Integer, default=None)
    # For a record: ok | error, and what the tool returned (kept small by the API).
    outcome: Mapped[str | None] = mapped_column(String(10), default=None)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    # Approval of a needs_approval decision by a person.
    approved_by: Mapped[str | None] = mapped_column(String(100), default=None)
    approved_at: Mapped[datetime | None] = mapped_column(default=None)
    # Undo: how to reverse the action, and whether a responder did.
    undo: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    undo_status: Mapped[str | None] = mapped_column(String(10), default=None)  # done | failed
    undo_result: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    undone_by: Mapped[str | None] = mapped_column(String(100), default=None)
    undone_at: Mapped[datetime | None] = mapped_column(default=None)
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), default=None, index=True
    )
