"""Tables of escalation: notification channels and deliveries, on-call schedules, escalation
policies and each incident's escalation. (Scheduled jobs live in ``quell.scheduler``.)"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from quell.store.base import Base, JSONType
from quell.timeutil import utcnow


class NotificationChannel(Base):
    """A named place quell sends to (Slack webhook, signed webhook, email list), from quell.yaml."""

    __tablename__ = "notification_channels"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    type: Mapped[str] = mapped_column(String(20))  # slack | webhook | email
    config: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    audiences: Mapped[list[str]] = mapped_column(JSONType, default=list)
    teams: Mapped[list[str]] = mapped_column(JSONType, default=list)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Delivery(Base):
    """One message to one target and what became of it, attempt by attempt."""

    __tablename__ = "notification_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), default=None, index=True
    )
    channel: Mapped[str] = mapped_column(String(100))  # channel name, or "email" for a person
    channel_type: Mapped[str] = mapped_column(String(20))
    target: Mapped[str] = mapped_column(String(300))  # URL host or address, never a secret
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    audience: Mapped[str | None] = mapped_column(String(20), default=None)
    actor: Mapped[str] = mapped_column(String(100))
    # pending -> sent | retrying -> ... -> sent | failed
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class OnCallSchedule(Base):
    """An on-call schedule: rotations and overrides, kept as validated JSON (see schemas)."""

    __tablename__ = "oncall_schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    team: Mapped[str | None] = mapped_column(String(100), default=None)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    spec: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class EscalationPolicy(Base):
    """Levels with timeouts, and the teams and systems that use the policy."""

    __tablename__ = "escalation_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Escalation(Base):
    """The paging state of one incident: which policy, which level, whether it still runs."""

    __tablename__ = "escalations"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), unique=True
    )
    policy: Mapped[str | None] = mapped_column(String(100), default=None)
    team: Mapped[str | None] = mapped_column(String(100), default=None)
    level: Mapped[int] = mapped_column(Integer, default=0)
    cycle: Mapped[int] = mapped_column(Integer, default=0)
    # paging | acknowledged | exhausted | unrouted
    status: Mapped[str] = mapped_column(String(16), default="paging")
    first_responder: Mapped[str | None] = mapped_column(String(100), default=None)
    suggestions: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    next_due_at: Mapped[datetime | None] = mapped_column(default=None)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
