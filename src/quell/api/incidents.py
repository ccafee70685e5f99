"""Routes for incidents: list, read, create, move along the lifecycle, roles, notes, timeline."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from quell.api.deps import get_session, responder, viewer
from quell.auth.service import Principal
from quell.incidents import service
from quell.incidents.schemas import IncidentCreate, NoteIn, RoleIn, TransitionIn
from quell.incidents.timeline import events, verify_chain
from quell.incidents.views import event_to_dict, incident_to_dict, role_to_dict

router = APIRouter(tags=["incidents"])


@router.get("/incidents")
def list_incidents(
    status: list[str] = Query(default=[]),
    severity: list[str] = Query(default=[]),
    archetype: list[str] = Query(default=[]),
    system: str | None = None,
    open: bool = False,
    limit: int = Query(default=100, ge=1, le=1000),
    offset: int = Query(default=0, ge=0),
    session: Session = Depends(get_session),
    _: Principal = Depends(viewer),
) -> list[dict[str, Any]]:
    found = service.list_incidents(
        session,
        status=status,
        severity=severity,
        archetype=archetype,
        system=system,
        open_only=open,
        limit=limit,
        offset=offset,
    )
    return [incident_to_dict(i) for i in found]


@router.post("/incidents", status_code=201)
def create_incident(
    body: IncidentCreate,
    session: Session = Depends(get_session),
    who: Principal = Depends(responder),
) -> dict[str, Any]:
    incident = service.create_incident(session, actor=who.name, **body.model_dump())
    return incident_to_dict(incident)


@router.get("/incidents/{incident_id}")
def get_incident(
    incident_id: int, session: Session = Depends(get_session), _: Principal = Depends(viewer)
) -> dict[str, Any]:
    incident = service.get_incident(session, incident_id)
    return {**incident_to_dict(incident), "role_history": [role_to_dict(r) for r in incident.roles]}


@router.post("/incidents/{incident_id}/transition")
def transition(
    incident_id: int,
    body: TransitionIn,
    session: Session = Depends(get_session),
    who: Principal = Depends(responder),
) -> dict[str, Any]:
    incident = service.transition(session, incident_id, body.to, actor=who.name, reason=body.reason)
    return incident_to_dict(incident)


@router.post("/incidents/{incident_id}/roles")
def assign_role(
    incident_id: int,
    body: RoleIn,
    session: Session = Depends(get_session),
    who: Principal = Depends(responder),
) -> dict[str, Any]:
    service.assign_role(
        session, incident_id, body.role, body.person, actor=who.name, reason=body.reason
    )
    incident = service.get_incident(session, incident_id)
    return {**incident_to_dict(incident), "role_history": [role_to_dict(r) for r in incident.roles]}


@router.post("/incidents/{incident_id}/notes", status_code=201)
def add_note(
    incident_id: int,
    body: NoteIn,
    session: Session = Depends(get_session),
    who: Principal = Depends(responder),
) -> dict[str, Any]:
    return event_to_dict(service.add_note(session, incident_id, body.text, actor=who.name))


@router.get("/incidents/{incident_id}/timeline")
def timeline(
    incident_id: int, session: Session = Depends(get_session), _: Principal = Depends(viewer)
) -> list[dict[str, Any]]:
    service.get_incident(session, incident_id)
    return [event_to_dict(e) for e in events(session, incident_id)]


@router.get("/timeline/verify")
def verify(
    incident_id: int | None = None,
    session: Session = Depends(get_session),
    _: Principal = Depends(viewer),
) -> dict[str, Any]:
    report = verify_chain(session, incident_id)
    return {
        "ok": report.ok,
        "incidents": report.incidents,
        "events": report.events,
        "breaks": [b.__dict__ for b in report.breaks],
    }
