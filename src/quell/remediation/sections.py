"""Where the remediation sections of quell.yaml are kept, so every process reads the same.

They share the response phases' settings table (one JSON value per section key).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session


def stored_section(session: Session, key: str) -> Any | None:
    """The section `key` as quell.yaml last set it, or None."""
    from quell.postmortem.settings import get_setting

    value = get_setting(session, key)
    # Sections that are lists are wrapped, as the settings table keeps one mapping per key.
    if value is not None and set(value) == {"items"}:
        return value["items"]
    return value


def store_section(session: Session, key: str, value: Any) -> str:
    """Store a section; returns created / updated / unchanged."""
    from quell.postmortem.settings import put_setting

    return put_setting(session, key, value if isinstance(value, dict) else {"items": value})
