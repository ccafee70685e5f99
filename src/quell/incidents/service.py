"""Incident operations: plain functions over a session, shared by the API, the CLI and the engine.

Every change appends exactly one timeline event in the same transaction as the change itself,
so the record and the state can never disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from quell.errors import InvalidInput
from quell.incidents import lifecycle
from quell.incidents.models import Incident, RoleAssignment, TimelineEvent, incident_systems
from quell.incidents.timeline import append_event
from quell.inventory.models import AISystem
from quell.store.db import first_or_missing
from quell.timeutil import utcnow

# Seams for other phases (declared here so that each hook lives in one place):
# - a transition guard runs before a status change and raises Conflict to refuse it
#   (e.g. open decision gates before "mitigated", a missing postmortem before "closed");
# - a transition listener runs after the change, in the same transaction
#   (e.g. cancel pending escalations on "acknowledged");
# - a change listener runs after a new incident or a severity/archetype change
#   (e.g. containment policies that pre-approve an action at SEV-1).
TransitionGuard = Callable[[Session, Incident, str, str], None]  # (session, incident, from, to)
TransitionListener = Callable[[Session, Incident, str, str, str], None]  # ..., actor
ChangeListener = Callable[[Session, Incident, str, str], None]  # (session, incident, what, actor)
TRANSITION_GUARDS: list[TransitionGuard] = []
TRANSITION_LISTENERS: list[TransitionListener] = []
CHANGE_LISTENERS: list[ChangeListener] = []


def _load_phases() -> None:
    """Make sure every phase has registered its hooks before an incident changes."""
    from quell import phases

    phases.load()


def _changed(session: Session, incident: Incident, what: str, actor: str) -> None:
    _load_phases()
    for listener in CHANGE_LISTENERS:
        listener(session, incident, what, actor)


def systems_by_name(
    session: Session, names: Sequence[str], *, field: str = "systems"
) -> list[AISystem]:
    """Resolve system names, refusing the whole request if any is unknown."""
    if not names:
        return []
    found = {s.name: s for s in session.scalars(select(AISystem).where(AISystem.name.in_(names)))}
    missing = [n for n in names if n not in found]
    if missing:
        raise InvalidInput(
            f"unknown AI system(s): {', '.join(missing)}; add them to the inventory first",
            field=field,
        )
    return [found[n] for n in dict.fromkeys(names)]


def create_incident(
    session: Session,
    *,
    actor: str,
    title: str,
    severity: str,
    summary: str = "",
    archetype: str = "unclassified",
    archetype_confidence: float | None = None,
    systems: Sequence[str] = (),
    source: str = "manual",
    detected_at: datetime | None = None,
    facts: dict[str, Any] | None = None,
    reason: str = "",
) -> Incident:
    if not title.strip():
        raise InvalidInput("title must not be empty", field="title")
    lifecycle.check_severity(severity)
    lifecycle.check_archetype(archetype)
    resolved_systems = systems_by_name(session, systems)
    now = utcnow()
    detected = detected_at or now
    if detected > now:
        raise InvalidInput("detected_at lies in the future", field="detected_at")
    incident = Incident(
        title=title.strip(),
        summary=summary,
        severity=severity,
        archetype=archetype,
        archetype_confidence=archetype_confidence,
        status="triggered",
        source=source,
        facts=dict(facts or {}),
        detected_at=detected,
        created_at=now,
        updated_at=now,
    )
    incident.systems = resolved_systems
    session.add(incident)
    session.flush()
    append_event(
        session,
        incident,
        actor=actor,
        kind="incident.created",
        data={
            "title": incident.title,
            "severity": severity,
            "archetype": archetype,
            "systems": [s.name for s in resolved_systems],
            "source": source,
            "detected_at": detected.isoformat(),
        },
        reason=reason,
    )
    _changed(session, incident, "created", actor)
    return incident


def get_incident(session: Session, incident_id: int, *, lock: bool = False) -> Incident:
    query = (
        select(Incident)
        .where(Incident.id == incident_id)
        .options(selectinload(Incident.systems), selectinload(Incident.roles))
    )
    if lock:
        query = query.with_for_update()
    return first_or_missing(session, query, f"incident {incident_id} does not exist")


def list_incidents(
    session: Session,
    *,
    status: Sequence[str] = (),
    severity: Sequence[str] = (),
    system: str | None = None,
    archetype: Sequence[str] = (),
    open_only: bool = False,
    limit: int = 100,
    offset: int = 0,
) -> list[Incident]:
    for value in status:
        if value not in lifecycle.STATUSES:
            raise InvalidInput(f"unknown status {value!r}", field="status")
    for value in severity:
        lifecycle.check_severity(value)
    for value in archetype:
        lifecycle.check_archetype(value)
    query = select(Incident).options(selectinload(Incident.systems), selectinload(Incident.roles))
    if status:
        query = query.where(Incident.status.in_(status))
    if open_only:
        query = query.where(Incident.status.in_(lifecycle.OPEN_STATUSES))
    if severity:
        query = query.where(Incident.severity.in_(severity))
    if archetype:
        query = query.where(Incident.archetype.in_(archetype))
    if system:
        query = query.join(incident_systems).join(AISystem).where(AISystem.name == system)
    query = (
        query.order_by(Incident.detected_at.desc(), Incident.id.desc()).limit(limit).offset(offset)
    )
    return list(session.scalars(query))


def transition(
    session: Session, incident_id: int, target: str, *, actor: str, reason: str = ""
) -> Incident:
    """Move the incident along the state machine; an illegal move raises Conflict (409)."""
    incident = get_incident(session, incident_id, lock=True)
    current = incident.status
    lifecycle.check_transition(current, target)
    _load_phases()
    for guard in TRANSITION_GUARDS:
        guard(session, incident, current, target)
    now = utcnow()
    incident.status = target
    stamp = lifecycle.STATUS_TIMESTAMP.get(target)
    if stamp and getattr(incident, stamp) is None:
        setattr(incident, stamp, now)
    if current in ("resolved", "closed") and target in lifecycle.OPEN_STATUSES:
        incident.resolved_at = None
    incident.updated_at = now
    kind = "incident.reopened" if current == "resolved" else f"incident.{target}"
    append_event(
        session,
        incident,
        actor=actor,
        kind=kind,
        data={"from": current, "to": target},
        reason=reason,
        at=now,
    )
    for listener in TRANSITION_LISTENERS:
        listener(session, incident, current, target, actor)
    return incident


def assign_role(
    session: Session, incident_id: int, role: str, person: str, *, actor: str, reason: str = ""
) -> RoleAssignment:
    """Give `person` the role; whoever held it before is relieved at the same instant."""
    lifecycle.check_role(role)
    if not person.strip():
        raise InvalidInput("person must not be empty", field="person")
    incident = get_incident(session, incident_id, lock=True)
    now = utcnow()
    previous = None
    for held in incident.roles:
        if held.role == role and held.ended_at is None:
            if held.person == person:
                return held
            held.ended_at = now
            previous = held.person
    assignment = RoleAssignment(
        incident=incident, role=role, person=person.strip(), assigned_by=actor, started_at=now
    )
    session.add(assignment)
    incident.updated_at = now
    append_event(
        session,
        incident,
        actor=actor,
        kind="role.assigned",
        data={"role": role, "person": assignment.person, "previous": previous},
        reason=reason,
        at=now,
    )
    return assignment


def current_roles(incident: Incident) -> dict[str, str]:
    return {r.role: r.person for r in incident.roles if r.ended_at is None}


def add_note(session: Session, incident_id: int, text: str, *, actor: str) -> TimelineEvent:
    if not text.strip():
        raise InvalidInput("a note must have some text", field="text")
    incident = get_incident(session, incident_id)
    incident.updated_at = utcnow()
    return append_event(session, incident, actor=actor, kind="note", data={"text": text.strip()})


def set_severity(
    session: Session, incident: Incident, severity: str, *, actor: str, reason: str
) -> bool:
    """Change the severity with a timeline event; returns False when nothing changed."""
    lifecycle.check_severity(severity)
    if incident.severity == severity:
        return False
    previous = incident.severity
    incident.severity = severity
    incident.updated_at = utcnow()
    append_event(
        session,
        incident,
        actor=actor,
        kind="incident.severity_changed",
        data={"from": previous, "to": severity},
        reason=reason,
    )
    _changed(session, incident, "severity", actor)
    return True


def set_archetype(
    session: Session,
    incident: Incident,
    archetype: str,
    *,
    actor: str,
    reason: str,
    confidence: float | None = None,
) -> bool:
    lifecycle.check_archetype(archetype)
    if incident.archetype == archetype and incident.archetype_confidence == confidence:
        return False
    previous = incident.archetype
    incident.archetype = archetype
    incident.archetype_confidence = confidence
    incident.updated_at = utcnow()
    append_event(
        session,
        incident,
        actor=actor,
        kind="incident.archetype_changed",
        data={"from": previous, "to": archetype, "confidence": confidence},
        reason=reason,
    )
    _changed(session, incident, "archetype", actor)
    return True


def add_systems(
    session: Session, incident: Incident, names: Sequence[str], *, actor: str, reason: str
) -> list[str]:
    """Attach more affected systems; returns the names that were newly added."""
    new = [s for s in systems_by_name(session, names) if s not in incident.systems]
    if not new:
        return []
    incident.systems.extend(new)
    incident.updated_at = utcnow()
    added = [s.name for s in new]
    append_event(
        session,
        incident,
        actor=actor,
        kind="incident.systems_added",
        data={"systems": added},
        reason=reason,
    )
    return added


def durations(incident: Incident) -> dict[str, float | None]:
    """Seconds from detection to acknowledge, mitigate and resolve (None until reached)."""

    def since(value: datetime | None) -> float | None:
        return (value - incident.detected_at).total_seconds() if value else None

    return {
        "time_to_acknowledge_s": since(incident.acknowledged_at),
        "time_to_mitigate_s": since(incident.mitigated_at),
        "time_to_resolve_s": since(incident.resolved_at),
    }
