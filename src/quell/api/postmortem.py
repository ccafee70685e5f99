"""Routes for postmortems: read (stored or pre-filled), edit, export as Markdown or HTML."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends
from fastapi.responses import HTMLResponse, PlainTextResponse
from sqlalchemy.orm import Session

from quell.api.deps import get_session, responder, viewer
from quell.auth.service import Principal
from quell.postmortem.export import render_postmortem
from quell.postmortem.service import get_postmortem, parse_postmortem, save_postmortem

router = APIRouter(tags=["postmortem"])


@router.get("/incidents/{incident_id}/postmortem")
def read(
    incident_id: int, session: Session = Depends(get_session), _: Principal = Depends(viewer)
) -> dict[str, Any]:
    return get_postmortem(session, incident_id)


@router.put("/incidents/{incident_id}/postmortem")
def write(
    incident_id: int,
    body: dict[str, Any] = Body(...),
    session: Session = Depends(get_session),
    who: Principal = Depends(responder),
) -> dict[str, Any]:
    # Validated by the service so the error names the field as the body spells it.
    return save_postmortem(session, incident_id, parse_postmortem(body), actor=who.name)


@router.get("/incidents/{incident_id}/postmortem.md", response_class=PlainTextResponse)
def export_markdown(
    incident_id: int, session: Session = Depends(get_session), _: Principal = Depends(viewer)
) -> PlainTextResponse:
    return PlainTextResponse(
        render_postmortem(session, incident_id, "md"), media_type="text/markdown; charset=utf-8"
    )


@router.get("/incidents/{incident_id}/postmortem.html", response_class=HTMLResponse)
def export_html(
    incident_id: int, session: Session = Depends(get_session), _: Principal = Depends(viewer)
) -> HTMLResponse:
    return HTMLResponse(render_postmortem(session, incident_id, "html"))
