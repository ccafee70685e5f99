"""Tables of the incident: the incident itself, its systems, role history and timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from quell.inventory.models import AISystem
from quell.store.base import Base, JSONType
from quell.timeutil import utcnow

incident_systems = Table(
    "incident_systems",
    Base.metadata,
    Column("incident_id", ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True),
    Column("system_id", ForeignKey("ai_systems.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_incident_systems_system_id", "system_id"),  # "incidents of this system"
)


class Incident(Base):
    __tablename__ = "incidents"
    # Similar past incidents in the triage pack are looked up by archetype, newest first.
    __table_args__ = (Index("ix_incidents_archetype_detected", "archetype", "detected_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(Text, default="")
    severity: Mapped[str] = mapped_column(String(8), index=True)
    archetype: Mapped[str] = mapped_column(String(40), default="unclassified", index=True)
    archetype_confidence: Mapped[float | None] = mapped_column(Float, default=None)
    status: Mapped[str] = mapped_column(String(20), default="triggered", index=True)
    source: Mapped[str] = mapped_column(String(40), default="manual")
    facts: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    detected_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(default=None)
    mitigated_at: Mapped[datetime | None] = mapped_column(default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    systems: Mapped[list[AISystem]] = relationship(
        secondary=incident_systems, order_by=lambda: AISystem.name
    )
    roles: Mapped[list[RoleAssignment]] = relationship(
        back_populates="incident", order_by="RoleAssignment.id", cascade="all, delete-orphan"
    )


class RoleAssignment(Base):
    """Who held which playbook role on an incident, from when to when (ended_at None: now)."""

    __tablename__ = "role_assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(40))
    person: Mapped[str] = mapped_column(String(100))
    assigned_by: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    incident: Mapped[Incident] = relationship(back_populates="roles")


class TimelineEvent(Base):
    """One append-only entry of an incident's timeline, chained to the previous by hash."""

    __tablename__ = "timeline_events"
    __table_args__ = (
        UniqueConstraint("incident_id", "seq"),
        Index("ix_timeline_events_incident_kind", "incident_id", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(60), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    reason: Mapped[str] = mapped_column(Text, default="")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
