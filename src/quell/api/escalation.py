"""Routes for escalation: on-call, schedules, escalation policies, paging, role suggestions,
notification channels and deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from quell.api.deps import admin, get_session, responder, same_as_url, viewer
from quell.auth.service import Principal
from quell.escalation import notify, oncall, policies, roles, service
from quell.escalation.models import Delivery
from quell.escalation.schemas import PolicyIn, ScheduleIn
from quell.incidents.service import get_incident
from quell.inventory.schemas import Strict
from quell.timeutil import as_utc

router = APIRouter(tags=["escalation"])


class PageIn(Strict):
    level: int = Field(default=1, ge=1, le=20)
    reason: str = ""


@router.get("/oncall")
def get_oncall(
    schedule: str | None = None,
    at: datetime | None = None,
    session: Session = Depends(get_session),
    _: Principal = Depends(viewer),
) -> list[dict[str, Any]]:
    """Who is on call now (or `at`), for one schedule or for all."""
    when = as_utc(at) if at else None
    rows = [oncall.get_schedule(session, schedule)] if schedule else oncall.list_schedules(session)
    return [oncall.who_is_on_call(session, row, when).to_dict() for row in rows]


@router.get("/schedules")
def list_schedules(
    session: Session = Depends(get_session), _: Principal = Depends(viewer)
) -> list[dict[str, Any]]:
    return [oncall.schedule_to_dict(row) for row in oncall.list_schedules(session)]


@router.get("/schedules/{name}")
def get_schedule(
    name: str, session: Session = Depends(get_session), _: Principal = Depends(viewer)
) -> dict[str, Any]:
    return oncall.schedule_to_dict(oncall.get_schedule(session, name))


@router.put("/schedules/{name}")
def put_schedule(
    name: str,
    body: ScheduleIn,
    session: Session = Depends(get_session),
    _: Principal = Depends(admin),
) -> dict[str, Any]:
    """Create or replace a schedule; one with a gap or an overlap is refused (422)."""
    same_as_url(body.name, name)
    outcome = oncall.upsert_schedule(session, body)
    return {"outcome": outcome, **oncall.schedule_to_dict(oncall.get_schedule(session, name))}


@router.get("/escalation-policies")
def list_policies(
    session: Session = Depends(get_session), _: Principal = Depends(viewer)
) -> list[dict[str, Any]]:
    return [policies.policy_to_dict(p) for p in policies.list_policies(session)]


@router.get("/escalation-policies/{name}")
def get_policy(
    name: str, session: Session = Depends(get_session), _: Principal = Depends(viewer)
) -> dict[str, Any]:
    return policies.policy_to_dict(policies.get_policy(session, name))


@router.put("/escalation-policies/{name}")
def put_policy(
    name: str,
    body: PolicyIn,
    session: Session = Depends(get_session),
    _: Principal = Depends(admin),
) -> dict[str, Any]:
    same_as_url(body.name, name)
    outcome = policies.upsert_policy(session, body)
    return {"outcome": outcome, **policies.policy_to_dict(policies.get_policy(session, name))}


@router.post("/incidents/{incident_id}/page")
def page_incident(
    incident_id: int,
    body: PageIn | None = None,
    session: Session = Depends(get_session),
    who: Principal = Depends(responder),
) -> dict[str, Any]:
    """Page the owning team now (from `level`), and start the escalation timer."""
    body = body or PageIn()
    service.page(session, incident_id, actor=who.name, reason=body.reason, level=body.level)
    return service.escalation_view(session, incident_id)


@router.get("/incidents/{incident_id}/escalation")
def get_escalation(
    incident_id: int, session: Session = Depends(get_session), _: Principal = Depends(viewer)
) -> dict[str, Any]:
    return service.escalation_view(session, incident_id)


@router.post("/incidents/{incident_id}/roles/suggest")
def suggest_roles(
    incident_id: int, session: Session = Depends(get_session), _: Principal = Depends(responder)
) -> dict[str, Any]:
    """Suggested people for the five roles; assign them with POST /incidents/{id}/roles."""
    return roles.suggest_roles(session, get_incident(session, incident_id))


@router.get("/incidents/{incident_id}/deliveries")
def incident_deliveries(
    incident_id: int, session: Session = Depends(get_session), _: Principal = Depends(viewer)
) -> list[dict[str, Any]]:
    get_incident(session, incident_id)
    rows = session.scalars(
        select(Delivery).where(Delivery.incident_id == incident_id).order_by(Delivery.id)
    )
    return [notify.delivery_to_dict(d) for d in rows]


@router.get("/notification-channels")
def list_channels(
    session: Session = Depends(get_session), _: Principal = Depends(viewer)
) -> list[dict[str, Any]]:
    return [notify.channel_to_dict(c) for c in notify.list_channels(session)]


@router.get("/deliveries")
def list_deliveries(
    status: str | None = Query(default=None),
    limit: int = Query(default=100, ge=1, le=1000),
    session: Session = Depends(get_session),
    _: Principal = Depends(viewer),
) -> list[dict[str, Any]]:
    query = select(Delivery).order_by(Delivery.id.desc()).limit(limit)
    if status:
        query = query.where(Delivery.status == status)
    return [notify.delivery_to_dict(d) for d in session.scalars(query)]
