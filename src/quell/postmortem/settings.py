"""Stored quell.yaml sections of the response phases, read by every process from the store."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from quell.postmortem.models import ResponseSetting
from quell.timeutil import utcnow


def get_setting(session: Session, key: str) -> dict[str, Any] | None:
    """The stored section `key`, or None when quell.yaml never set it."""
    row = session.scalars(select(ResponseSetting).where(ResponseSetting.key == key)).first()
    return dict(row.value) if row else None


def put_setting(session: Session, key: str, value: dict[str, Any]) -> str:
    """Store a section; returns created / updated / unchanged, as quell apply reports."""
    row = session.scalars(select(ResponseSetting).where(ResponseSetting.key == key)).first()
    if row is None:
        session.add(ResponseSetting(key=key, value=value, updated_at=utcnow()))
        session.flush()
        return "created"
    if row.value == value:
        return "unchanged"
    row.value = value
    row.updated_at = utcnow()
    session.flush()
    return "updated"
