"""Applied quell.yaml sections, kept in the store so that every quell process reads the same.

A phase whose section is plain configuration (correlation rules, severity policies, the
communication cadence, playbooks, containment rules...) stores the validated section here,
under its quell.yaml key, rather than in a table of its own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from quell.store.base import Base, JSONType
from quell.timeutil import utcnow


class ConfigSection(Base):
    """One applied quell.yaml section, by its top-level key."""

    __tablename__ = "config_sections"

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[Any] = mapped_column(JSONType)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


def stored_section(session: Session, key: str) -> Any | None:
    """The section `key` as quell.yaml last set it, or None when it never did."""
    row = session.get(ConfigSection, key)
    return row.value if row is not None else None


def store_section(session: Session, key: str, value: Any) -> str:
    """Store a validated section; returns created / updated / unchanged, as `quell apply` says."""
    row = session.get(ConfigSection, key)
    if row is None:
        session.add(ConfigSection(key=key, value=value, updated_at=utcnow()))
        session.flush()
        return "created"
    if row.value == value:
        return "unchanged"
    row.value = value
    row.updated_at = utcnow()
    session.flush()
    return "updated"


def sections_changed_at(session: Session, keys: tuple[str, ...]) -> datetime | None:
    """When any of these sections last changed: a cheap way for a cache to notice an apply."""
    return session.scalar(
        select(func.max(ConfigSection.updated_at)).where(ConfigSection.key.in_(keys))
    )
