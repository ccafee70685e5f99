"""Plain-data views of incidents, shared by the API, the CLI and the console."""

from __future__ import annotations

from typing import Any

from quell.compliance.frameworks import mappings_for
from quell.incidents.models import Incident, RoleAssignment, TimelineEvent
from quell.incidents.service import current_roles, durations
from quell.timeutil import iso


def incident_to_dict(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.id,
        "title": incident.title,
        "summary": incident.summary,
        "severity": incident.severity,
        "archetype": incident.archetype,
        "archetype_confidence": incident.archetype_confidence,
        "frameworks": mappings_for(incident.archetype),
        "status": incident.status,
        "source": incident.source,
        "systems": [s.name for s in incident.systems],
        "roles": current_roles(incident),
        "facts": incident.facts,
        "detected_at": iso(incident.detected_at),
        "acknowledged_at": iso(incident.acknowledged_at),
        "mitigated_at": iso(incident.mitigated_at),
        "resolved_at": iso(incident.resolved_at),
        "closed_at": iso(incident.closed_at),
        "updated_at": iso(incident.updated_at),
        **durations(incident),
    }


def role_to_dict(role: RoleAssignment) -> dict[str, Any]:
    return {
        "role": role.role,
        "person": role.person,
        "assigned_by": role.assigned_by,
        "started_at": iso(role.started_at),
        "ended_at": iso(role.ended_at),
    }


def event_to_dict(event: TimelineEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "incident_id": event.incident_id,
        "seq": event.seq,
        "at": iso(event.at),
        "actor": event.actor,
        "kind": event.kind,
        "data": event.data,
        "reason": event.reason,
        "hash": event.hash,
        "prev_hash": event.prev_hash,
    }
