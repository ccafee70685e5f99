"""Routes for the triage pack and the incident's playbook checklist."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from quell.api.deps import get_session, responder, viewer
from quell.auth.service import Principal
from quell.incidents.service import get_incident
from quell.remediation import playbooks
from quell.triage.pack import DEFAULT_WINDOW_HOURS, triage_pack

router = APIRouter(tags=["triage"])


class StepMark(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    done: bool = True
    note: Annotated[str, Field(max_length=2000)] = ""


@router.get("/incidents/{incident_id}/triage")
def get_triage_pack(
    incident_id: int,
    window_hours: float = Query(default=DEFAULT_WINDOW_HOURS),
    session: Session = Depends(get_session),
    _: Principal = Depends(viewer),
) -> dict[str, Any]:
    return triage_pack(session, incident_id, window_hours=window_hours)


@router.get("/incidents/{incident_id}/checklist")
def get_checklist(
    incident_id: int, session: Session = Depends(get_session), _: Principal = Depends(viewer)
) -> dict[str, Any]:
    return playbooks.checklist(session, get_incident(session, incident_id))


@router.post("/incidents/{incident_id}/checklist/{step_id}")
def mark_step(
    incident_id: int,
    step_id: str,
    body: StepMark | None = None,
    session: Session = Depends(get_session),
    who: Principal = Depends(responder),
) -> dict[str, Any]:
    mark = body or StepMark()
    incident = get_incident(session, incident_id, lock=True)
    return playbooks.mark_step(
        session, incident, step_id, done=mark.done, actor=who.name, note=mark.note
    )
