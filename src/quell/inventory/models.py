"""Tables of the inventory: AI systems, teams and the AI risk register."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, ForeignKey, Integer, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from quell.store.base import Base, JSONType
from quell.timeutil import utcnow

system_dependencies = Table(
    "system_dependencies",
    Base.metadata,
    Column("upstream_id", ForeignKey("ai_systems.id", ondelete="CASCADE"), primary_key=True),
    Column("downstream_id", ForeignKey("ai_systems.id", ondelete="CASCADE"), primary_key=True),
)


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    slack_channel: Mapped[str | None] = mapped_column(String(200), default=None)
    members: Mapped[list[TeamMember]] = relationship(
        back_populates="team", cascade="all, delete-orphan", order_by="TeamMember.id"
    )


class TeamMember(Base):
    __tablename__ = "team_members"
    __table_args__ = (UniqueConstraint("team_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(200), default=None)
    phone: Mapped[str | None] = mapped_column(String(50), default=None)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    team: Mapped[Team] = relationship(back_populates="members")


class AISystem(Base):
    __tablename__ = "ai_systems"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # generative | agent | predictive
    description: Mapped[str] = mapped_column(Text, default="")
    owner_team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="SET NULL"), default=None
    )
    criticality: Mapped[str] = mapped_column(String(20), default="medium")
    current_model_version: Mapped[str | None] = mapped_column(String(200), default=None)
    previous_model_version: Mapped[str | None] = mapped_column(String(200), default=None)
    safe_fallback: Mapped[str | None] = mapped_column(Text, default=None)
    data_classes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    regimes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    runbooks: Mapped[list[str]] = mapped_column(JSONType, default=list)
    labels: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    owner_team: Mapped[Team | None] = relationship()
    upstream: Mapped[list[AISystem]] = relationship(
        secondary=system_dependencies,
        primaryjoin=lambda: AISystem.id == system_dependencies.c.downstream_id,
        secondaryjoin=lambda: AISystem.id == system_dependencies.c.upstream_id,
        back_populates="downstream",
        order_by=lambda: AISystem.name,
    )
    downstream: Mapped[list[AISystem]] = relationship(
        secondary=system_dependencies,
        primaryjoin=lambda: AISystem.id == system_dependencies.c.upstream_id,
        secondaryjoin=lambda: AISystem.id == system_dependencies.c.downstream_id,
        back_populates="upstream",
        order_by=lambda: AISystem.name,
    )


risk_incidents = Table(
    "risk_incidents",
    Base.metadata,
    Column("risk_id", ForeignKey("risks.id", ondelete="CASCADE"), primary_key=True),
    Column("incident_id", ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True),
)


class Risk(Base):
    """An entry of the AI risk register."""

    __tablename__ = "risks"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    system_id: Mapped[int | None] = mapped_column(
        ForeignKey("ai_systems.id", ondelete="SET NULL"), default=None, index=True
    )
    likelihood: Mapped[int] = mapped_column(Integer, default=3)  # 1 (rare) .. 5 (almost certain)
    impact: Mapped[int] = mapped_column(Integer, default=3)  # 1 (minor) .. 5 (severe)
    owner: Mapped[str | None] = mapped_column(String(100), default=None)
    controls: Mapped[list[str]] = mapped_column(JSONType, default=list)
    status: Mapped[str] = mapped_column(String(20), default="open")  # open | mitigated | accepted
    archetype: Mapped[str | None] = mapped_column(String(40), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    system: Mapped[AISystem | None] = relationship()
