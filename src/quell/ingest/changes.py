"""Change events: deploys, model versions, prompts, config, feature flags, guardrail rules.

They are not signals (nothing pages on a deploy); they feed the triage pack's change snapshot
through ``quell.ingest.service.changes_for``. A ``model_version`` change to a system in the
inventory also moves its current model version, keeping the old one as previous.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from quell.errors import InvalidInput, PayloadTooLarge
from quell.ingest.models import ChangeEvent
from quell.ingest.normalise import MAX_SUMMARY, parse_when, text_field
from quell.inventory.models import AISystem
from quell.timeutil import utcnow

CHANGE_KINDS: Final = ("deploy", "model_version", "prompt", "config", "feature_flag", "guardrail")
FIELDS: Final = frozenset(
    {"kind", "system", "summary", "from_version", "to_version", "actor", "occurred_at", "details"}
)


def change_items(body: Any, *, max_batch: int) -> tuple[list[Any], str]:
    """The change objects of a body (one object, a list, or ``{"changes": [...]}``)."""
    if isinstance(body, dict) and "changes" in body:
        items, name = body["changes"], "changes"
        if not isinstance(items, list):
            raise InvalidInput("changes: expected a list of change objects", field="changes")
    elif isinstance(body, list):
        items, name = body, ""
    elif isinstance(body, dict):
        return [body], ""
    else:
        raise InvalidInput("expected a change object or a list of them")
    if not items:
        raise InvalidInput("changes: the batch is empty", field="changes")
    if len(items) > max_batch:
        raise PayloadTooLarge(
            f"changes: {len(items)} in one request; the most is {max_batch}", field="changes"
        )
    return items, name


def record_changes(
    session: Session, body: Any, *, actor: str, max_batch: int
) -> list[dict[str, Any]]:
    """Validate every change first (all or nothing), then store them; returns what was done."""
    items, name = change_items(body, max_batch=max_batch)
    now = utcnow()
    rows = [
        _change_row(raw, f"{name}[{i}]" if len(items) > 1 or name else "", actor, now)
        for i, raw in enumerate(items)
    ]
    systems = {
        s.name: s
        for s in session.scalars(
            select(AISystem).where(AISystem.name.in_({r.system for r in rows}))
        )
    }
    out = []
    for row in rows:
        session.add(row)
        session.flush()
        entry: dict[str, Any] = {
            "id": row.id,
            "kind": row.kind,
            "system": row.system,
            "known_system": row.system in systems,
        }
        if row.kind == "model_version":
            entry["inventory"] = _move_model_version(systems.get(row.system), row)
        out.append(entry)
    return out


def _at(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _change_row(raw: Any, where: str, actor: str, now: Any) -> ChangeEvent:
    if not isinstance(raw, dict):
        raise InvalidInput(f"{where or 'body'}: expected a change object", field=where or None)
    unknown = raw.keys() - FIELDS
    if unknown:
        key = _at(where, sorted(unknown)[0])
        raise InvalidInput(
            f"{key}: unknown field; expected some of {', '.join(sorted(FIELDS))}", field=key
        )
    kind = raw.get("kind")
    if kind not in CHANGE_KINDS:
        key = _at(where, "kind")
        raise InvalidInput(f"{key}: expected one of {', '.join(CHANGE_KINDS)}", field=key)
    system = text_field(raw.get("system"), _at(where, "system"))
    summary = text_field(raw.get("summary"), _at(where, "summary"), limit=MAX_SUMMARY)
    from_version = text_field(
        raw.get("from_version"), _at(where, "from_version"), required=False, limit=200
    )
    to_version = text_field(
        raw.get("to_version"), _at(where, "to_version"), required=False, limit=200
    )
    if kind == "model_version" and not to_version:
        key = _at(where, "to_version")
        raise InvalidInput(f"{key}: a model_version change needs the new version", field=key)
    who = text_field(raw.get("actor"), _at(where, "actor"), required=False) or actor
    details = raw.get("details") or {}
    if not isinstance(details, dict):
        key = _at(where, "details")
        raise InvalidInput(f"{key}: expected an object", field=key)
    occurred = parse_when(raw.get("occurred_at"), _at(where, "occurred_at"), now=now, default=now)
    assert system is not None and summary is not None
    return ChangeEvent(
        kind=kind,
        system=system,
        summary=summary,
        from_version=from_version,
        to_version=to_version,
        actor=who,
        occurred_at=occurred,
        received_at=now,
        details=details,
    )


def _move_model_version(system: AISystem | None, change: ChangeEvent) -> dict[str, Any]:
    """Point the inventory at the new model version, keeping the old one as previous."""
    if system is None:
        return {"updated": False, "reason": f"{change.system!r} is not in the inventory"}
    if system.current_model_version == change.to_version:
        return {"updated": False, "reason": "the inventory already names this version"}
    previous = change.from_version or system.current_model_version
    system.previous_model_version = previous
    system.current_model_version = change.to_version
    return {
        "updated": True,
        "current_model_version": system.current_model_version,
        "previous_model_version": system.previous_model_version,
    }


def change_to_dict(change: ChangeEvent) -> dict[str, Any]:
    return {
        "id": change.id,
        "kind": change.kind,
        "system": change.system,
        "summary": change.summary,
        "from_version": change.from_version,
        "to_version": change.to_version,
        "actor": change.actor,
        "occurred_at": change.occurred_at.isoformat(),
        "received_at": change.received_at.isoformat(),
        "details": change.details,
    }
