"""Read-only access to what other phases store, tolerant of a phase that is not installed.

The triage pack, the What We Know drafts and the postmortem all read change events and alerts
written by ingest. Each reader here returns plain dicts and says so when the source is missing,
so a pack degrades to an empty section with a note instead of failing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from quell.timeutil import as_utc, iso

# Change kinds that replace the model itself; the triage pack flags them first.
MODEL_CHANGE_KINDS = frozenset({"model_version", "model", "model_rollback", "weights"})

NO_CHANGE_FEED = "no change feed yet: ingest's change events are not installed"
NO_ALERTS = "no alert store yet: ingest's alerts are not installed"


def _get(row: Any, name: str, default: Any = None) -> Any:
    if isinstance(row, dict):
        return row.get(name, default)
    return getattr(row, name, default)


def change_to_dict(row: Any) -> dict[str, Any]:
    kind = str(_get(row, "kind", "") or "")
    from_version = _get(row, "from_version")
    to_version = _get(row, "to_version")
    occurred = _get(row, "occurred_at")
    return {
        "id": _get(row, "id"),
        "system": _get(row, "system"),
        "kind": kind,
        "summary": _get(row, "summary", "") or "",
        "from_version": from_version,
        "to_version": to_version,
        "actor": _get(row, "actor", "") or "",
        "occurred_at": iso(occurred) if isinstance(occurred, datetime) else occurred,
        "model_version_change": kind in MODEL_CHANGE_KINDS,
    }


def changes(
    session: Session, systems: Sequence[str], since: datetime, until: datetime, *, limit: int = 200
) -> tuple[list[dict[str, Any]], str | None]:
    """Change events on `systems` in [since, until], newest first, and a note if unavailable."""
    if not systems:
        return [], None
    rows: list[Any]
    try:
        from quell.ingest.service import changes_for
    except ImportError:
        changes_for = None  # type: ignore[assignment]
    if changes_for is not None:
        rows = list(changes_for(session, list(systems), since, until))
    else:
        try:
            from quell.ingest.models import ChangeEvent
        except ImportError:
            return [], NO_CHANGE_FEED
        rows = list(
            session.scalars(
                select(ChangeEvent)
                .where(
                    ChangeEvent.system.in_(list(systems)),
                    ChangeEvent.occurred_at >= since,
                    ChangeEvent.occurred_at <= until,
                )
                .order_by(ChangeEvent.occurred_at.desc(), ChangeEvent.id.desc())
                .limit(limit)
            )
        )
    out = [change_to_dict(r) for r in rows]
    out.sort(key=lambda c: (c["occurred_at"] or "", c["id"] or 0), reverse=True)
    return out[:limit], None


def incident_alerts(
    session: Session, incident_id: int, *, limit: int = 200
) -> tuple[list[dict[str, Any]], str | None]:
    """The deduplicated alerts attached to an incident, and a note if ingest is missing."""
    try:
        from quell.ingest.models import Alert
    except ImportError:
        return [], NO_ALERTS
    rows = session.scalars(
        select(Alert)
        .where(Alert.incident_id == incident_id)
        .order_by(Alert.first_seen_at, Alert.id)
        .limit(limit)
    )
    return [
        {
            "id": a.id,
            "system": a.system,
            "kind": a.kind,
            "source": a.source,
            "summary": a.summary,
            "severity_hint": a.severity_hint,
            "status": a.status,
            "count": a.count,
            "first_seen_at": as_utc(a.first_seen_at),
            "last_seen_at": as_utc(a.last_seen_at),
        }
        for a in rows
    ], None


def open_alert_counts(session: Session, systems: Sequence[str]) -> dict[str, int]:
    """Firing alerts per system, for the symptoms on the dependency graph snippet."""
    if not systems:
        return {}
    try:
        from quell.ingest.models import Alert
    except ImportError:
        return {}
    from sqlalchemy import func

    rows = session.execute(
        select(Alert.system, func.count(Alert.id))
        .where(Alert.system.in_(list(systems)), Alert.status == "firing")
        .group_by(Alert.system)
    )
    return {str(name): int(count) for name, count in rows}


def first_signal_at(session: Session, incident_ids: Sequence[int]) -> dict[int, datetime]:
    """When the first signal of each incident occurred (its alerts' earliest first sighting)."""
    if not incident_ids:
        return {}
    try:
        from quell.ingest.models import Alert
    except ImportError:
        return {}
    from sqlalchemy import func

    out: dict[int, datetime] = {}
    ids = list(incident_ids)
    # Chunked so a long period does not build one enormous IN list.
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for incident_id, first in session.execute(
            select(Alert.incident_id, func.min(Alert.first_seen_at))
            .where(Alert.incident_id.in_(chunk))
            .group_by(Alert.incident_id)
        ):
            if incident_id is not None and first is not None:
                out[int(incident_id)] = as_utc(first)
    return out
