"""Routes for What We Know updates: draft per audience, publish, list with cadence state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from quell.api.deps import get_session, responder, viewer
from quell.auth.service import Principal
from quell.communication import what_we_know

router = APIRouter(tags=["communication"])


class UpdateIn(BaseModel):
    """A What We Know update as a person publishes it (usually an edited draft)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    audience: str = "internal"
    what_happened: str = ""
    what_we_are_testing: str = ""
    what_we_are_doing: str = ""
    what_we_do_not_know: str = ""
    next_update_at: datetime | None = None
    machine_draft: bool = False


@router.post("/incidents/{incident_id}/updates/draft")
def draft(
    incident_id: int,
    audience: str = Query(default="internal"),
    backend: str | None = Query(default=None, description="template or model"),
    session: Session = Depends(get_session),
    _: Principal = Depends(responder),
) -> dict[str, Any]:
    return what_we_know.draft_update(session, incident_id, audience, backend=backend)


@router.post("/incidents/{incident_id}/updates", status_code=201)
def publish(
    incident_id: int,
    body: UpdateIn,
    session: Session = Depends(get_session),
    who: Principal = Depends(responder),
) -> dict[str, Any]:
    return what_we_know.publish_update(
        session,
        incident_id,
        audience=body.audience,
        fields={name: getattr(body, name) for name in what_we_know.FIELDS},
        actor=who.name,
        next_update_at=body.next_update_at,
        machine_draft=body.machine_draft,
    )


@router.get("/incidents/{incident_id}/updates")
def list_updates(
    incident_id: int, session: Session = Depends(get_session), _: Principal = Depends(viewer)
) -> dict[str, Any]:
    return what_we_know.updates_overview(session, incident_id)
