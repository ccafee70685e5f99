"""Routes for regulatory clocks: list an incident's clocks, move an anchor, record a filing.

A tracking aid, not legal advice: every payload carries that statement."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from quell.api.deps import get_session, responder, viewer
from quell.auth.service import Principal
from quell.compliance import clocks
from quell.inventory.schemas import Strict

router = APIRouter(tags=["compliance"])


class AnchorIn(Strict):
    at: datetime
    reason: str


class MetIn(Strict):
    reference: str = ""
    at: datetime | None = None


@router.get("/incidents/{incident_id}/clocks")
def get_clocks(
    incident_id: int, session: Session = Depends(get_session), _: Principal = Depends(viewer)
) -> dict[str, Any]:
    return clocks.clocks(session, incident_id)


@router.put("/incidents/{incident_id}/clocks/{regime}/{stage}/anchor")
def put_anchor(
    incident_id: int,
    regime: str,
    stage: str,
    body: AnchorIn,
    session: Session = Depends(get_session),
    who: Principal = Depends(responder),
) -> dict[str, Any]:
    """Move the clock's anchor to a past moment, with a reason (on the timeline)."""
    return clocks.set_anchor(
        session, incident_id, regime, stage, body.at, actor=who.name, reason=body.reason
    )


@router.post("/incidents/{incident_id}/clocks/{regime}/{stage}/met")
def post_met(
    incident_id: int,
    regime: str,
    stage: str,
    body: MetIn | None = None,
    session: Session = Depends(get_session),
    who: Principal = Depends(responder),
) -> dict[str, Any]:
    """Record that the notification was filed (reference: the authority's case number...)."""
    body = body or MetIn()
    return clocks.mark_met(
        session, incident_id, regime, stage, actor=who.name, reference=body.reference, at=body.at
    )
