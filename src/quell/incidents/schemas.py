"""Request bodies for incident operations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class IncidentCreate(_Body):
    title: Annotated[str, Field(min_length=1, max_length=300)]
    severity: str = "SEV-3"
    summary: str = ""
    archetype: str = "unclassified"
    systems: list[str] = Field(default_factory=list)
    source: Annotated[str, Field(max_length=40)] = "manual"
    detected_at: datetime | None = None
    facts: dict[str, Any] = Field(default_factory=dict)


class TransitionIn(_Body):
    to: str
    reason: str = ""


class RoleIn(_Body):
    role: str
    person: Annotated[str, Field(min_length=1, max_length=100)]
    reason: str = ""


class NoteIn(_Body):
    text: Annotated[str, Field(min_length=1, max_length=20000)]
