"""Tables of the correlation engine: its stored rules, each incident's grouping state, links.

The in-memory index is rebuilt from these (and from alerts without an incident) at start-up.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from quell.store.base import Base, JSONType
from quell.timeutil import utcnow


class CorrelationGroup(Base):
    """What the correlator knows about an incident it feeds: group key, counts, metrics."""

    __tablename__ = "correlation_groups"

    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    first_signal_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_signal_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class IncidentLink(Base):
    """A relation between two incidents, e.g. a recurrence opened after the old one resolved."""

    __tablename__ = "incident_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    related_incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    relation: Mapped[str] = mapped_column(String(40))  # "recurrence_of"
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
