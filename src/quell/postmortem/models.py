"""Tables of the response phases: postmortems, and settings that quell.yaml gives them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from quell.store.base import Base, JSONType
from quell.timeutil import utcnow


class Postmortem(Base):
    """The postmortem of one incident: pre-filled from its timeline, then edited by people."""

    __tablename__ = "postmortems"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), unique=True
    )
    status: Mapped[str] = mapped_column(String(20), default="draft")  # draft | final
    summary: Mapped[str] = mapped_column(Text, default="")
    root_cause: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    impact: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    detection_review: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    response_review: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    action_items: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    risks: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[str] = mapped_column(String(100))
    updated_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
