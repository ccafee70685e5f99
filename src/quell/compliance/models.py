"""Tables of compliance: per-incident regulatory clock anchors set by responders."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from quell.store.base import Base
from quell.timeutil import utcnow


class ClockAnchor(Base):
    """A responder's override of a regulatory clock's anchor, and when the clock was met."""

    __tablename__ = "clock_anchors"
    __table_args__ = (UniqueConstraint("incident_id", "regime", "stage"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    regime: Mapped[str] = mapped_column(String(60))
    stage: Mapped[str] = mapped_column(String(60))
    anchor_at: Mapped[datetime | None] = mapped_column(default=None)
    anchor_reason: Mapped[str] = mapped_column(Text, default="")
    anchor_set_by: Mapped[str | None] = mapped_column(String(100), default=None)
    met_at: Mapped[datetime | None] = mapped_column(default=None)
    met_by: Mapped[str | None] = mapped_column(String(100), default=None)
    met_reference: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
