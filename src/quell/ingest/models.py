"""Tables of intake: request bodies verbatim, the signals read from them, alerts, changes.

A request body is stored once in ``payloads``, byte for byte; each signal read from it points
back at it with a JSON pointer (``/alerts/2``), so every received payload stays retrievable
while the normalised columns stay small. ``alerts`` is the deduplicated view: one row per
firing episode of a fingerprint, however many times it was sent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from quell.store.base import Base, JSONType
from quell.timeutil import utcnow


class Payload(Base):
    """One request body as it arrived (or one line of a replayed file)."""

    __tablename__ = "payloads"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(20))  # alertmanager | pagerduty | native | ...
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    received_by: Mapped[str] = mapped_column(String(100), default="")  # token name or routing key
    body: Mapped[str] = mapped_column(Text)


class SignalRow(Base):
    """A normalised signal (``quell.ingest.signal.Signal``) as stored, with its alert."""

    __tablename__ = "signals"
    __table_args__ = (Index("ix_signals_system_received", "system", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    payload_id: Mapped[int] = mapped_column(ForeignKey("payloads.id", ondelete="CASCADE"))
    item_path: Mapped[str] = mapped_column(String(40), default="")  # RFC 6901 pointer in body
    source: Mapped[str] = mapped_column(String(20))
    system: Mapped[str | None] = mapped_column(String(100), default=None)
    kind: Mapped[str] = mapped_column(String(100))
    summary: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10))  # firing | resolved
    severity_hint: Mapped[str | None] = mapped_column(String(10), default=None)
    fingerprint: Mapped[str] = mapped_column(String(200))
    labels: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    archetype_hint: Mapped[str | None] = mapped_column(String(40), default=None)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    occurred_at: Mapped[datetime] = mapped_column()
    received_at: Mapped[datetime] = mapped_column()
    # None when the signal matched no alert (an acknowledge or resolve of an unknown fingerprint).
    alert_id: Mapped[int | None] = mapped_column(
        ForeignKey("alerts.id", ondelete="SET NULL"), default=None, index=True
    )


class Alert(Base):
    """One firing episode of a fingerprint: repeats raise its count, a resolve closes it."""

    __tablename__ = "alerts"
    __table_args__ = (
        # At most one open alert per fingerprint, across every quell process on the store.
        Index(
            "uq_alerts_open_fingerprint",
            "fingerprint",
            unique=True,
            sqlite_where=text("status = 'firing'"),
            postgresql_where=text("status = 'firing'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(20))
    system: Mapped[str | None] = mapped_column(String(100), default=None, index=True)
    kind: Mapped[str] = mapped_column(String(100))
    summary: Mapped[str] = mapped_column(Text)
    severity_hint: Mapped[str | None] = mapped_column(String(10), default=None)
    status: Mapped[str] = mapped_column(String(10), default="firing")  # firing | resolved
    count: Mapped[int] = mapped_column(Integer, default=1)
    first_seen_at: Mapped[datetime] = mapped_column()
    last_seen_at: Mapped[datetime] = mapped_column()
    acknowledged_at: Mapped[datetime | None] = mapped_column(default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), default=None, index=True
    )


class ChangeEvent(Base):
    """A change to an AI system (deploy, model version, prompt, config, flag, guardrail)."""

    __tablename__ = "change_events"
    __table_args__ = (Index("ix_change_events_system_occurred", "system", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    system: Mapped[str] = mapped_column(String(100))
    summary: Mapped[str] = mapped_column(Text)
    from_version: Mapped[str | None] = mapped_column(String(200), default=None)
    to_version: Mapped[str | None] = mapped_column(String(200), default=None)
    actor: Mapped[str] = mapped_column(String(100), default="")
    occurred_at: Mapped[datetime] = mapped_column()
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class Integration(Base):
    """A sender that cannot send headers (PagerDuty Events v2): its routing key names a system."""

    __tablename__ = "integrations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    routing_key: Mapped[str] = mapped_column(String(100), unique=True)
    system: Mapped[str | None] = mapped_column(String(100), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
