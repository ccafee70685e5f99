"""Routes for the guard: agents ask before acting and record what they did; responders revoke."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import Field
from sqlalchemy.orm import Session

from quell.api.deps import admin, get_session, reporter, responder, viewer
from quell.auth.service import Principal
from quell.inventory.schemas import Strict
from quell.remediation import guard
from quell.remediation.guard_policy import GuardPolicySpec

router = APIRouter(tags=["guard"])

Tool = Annotated[str, Field(min_length=1, max_length=200)]
Ident = Annotated[str, Field(min_length=1, max_length=200)]


class DecideIn(Strict):
    system: Annotated[str, Field(min_length=1, max_length=100)]
    tool: Tool
    arguments: dict[str, Any] = Field(default_factory=dict)
    agent_id: Ident | None = None
    run_id: Ident | None = None
    cost: Annotated[float, Field(ge=0)] | None = None
    data_classes: list[str] = Field(default_factory=list)
    approval_id: int | None = None


class ActionIn(Strict):
    system: Annotated[str, Field(min_length=1, max_length=100)]
    tool: Tool
    arguments: dict[str, Any] = Field(default_factory=dict)
    outcome: Literal["ok", "error"] = "ok"
    result: Any = None
    undo: dict[str, Any] | None = None
    agent_id: Ident | None = None
    run_id: Ident | None = None
    cost: Annotated[float, Field(ge=0)] | None = None
    decision_id: int | None = None
    at: datetime | None = None


class ContainmentIn(Strict):
    reason: Annotated[str, Field(min_length=1, max_length=2000)]
    incident_id: int | None = None


class UndoIn(Strict):
    note: Annotated[str, Field(max_length=2000)] = ""
    result: Any = None


@router.post("/guard/decide")
def decide(
    body: DecideIn, session: Session = Depends(get_session), _: Principal = Depends(reporter)
) -> dict[str, Any]:
    """Allow, deny or needs_approval for one proposed tool call (the attempt is recorded)."""
    return guard.decide(session, body.system, **body.model_dump(exclude={"system"}))


@router.post("/guard/actions", status_code=201)
def record_action(
    body: ActionIn, session: Session = Depends(get_session), _: Principal = Depends(reporter)
) -> dict[str, Any]:
    """Record what an agent did, with an optional undo descriptor."""
    return guard.record_action(session, body.system, **body.model_dump(exclude={"system"}))


@router.get("/guard/actions")
def list_actions(
    system: str | None = None,
    since: datetime | None = None,
    incident: int | None = None,
    phase: Literal["decided", "done"] | None = None,
    limit: int = Query(default=500, ge=1, le=5000),
    session: Session = Depends(get_session),
    _: Principal = Depends(viewer),
) -> list[dict[str, Any]]:
    """What did the agent do? Decisions and records, newest first."""
    return guard.list_actions(
        session, system=system, since=since, incident_id=incident, phase=phase, limit=limit
    )


@router.post("/guard/actions/{action_id}/approve")
def approve_action(
    action_id: int, session: Session = Depends(get_session), who: Principal = Depends(responder)
) -> dict[str, Any]:
    return guard.approve_action(session, action_id, actor=who.name)


@router.post("/guard/actions/{action_id}/undo")
def undo_action(
    action_id: int,
    body: UndoIn,
    session: Session = Depends(get_session),
    who: Principal = Depends(responder),
) -> dict[str, Any]:
    return guard.undo_action(session, action_id, actor=who.name, note=body.note, result=body.result)


@router.get("/guard/{system}")
def guard_status(
    system: str, session: Session = Depends(get_session), _: Principal = Depends(viewer)
) -> dict[str, Any]:
    return guard.guard_status(session, system)


@router.put("/guard/{system}/policy")
def set_policy(
    system: str,
    body: GuardPolicySpec,
    session: Session = Depends(get_session),
    _: Principal = Depends(admin),
) -> dict[str, Any]:
    outcome = guard.set_policy(session, system, body)
    return {"outcome": outcome, **guard.guard_status(session, system)}


@router.post("/guard/{system}/revoke")
def revoke(
    system: str,
    body: ContainmentIn,
    session: Session = Depends(get_session),
    who: Principal = Depends(responder),
) -> dict[str, Any]:
    """The kill switch: every later decision for this agent is deny."""
    return guard.revoke_agent(
        session, system, actor=who.name, reason=body.reason, incident_id=body.incident_id
    )


@router.post("/guard/{system}/restore")
def restore(
    system: str,
    body: ContainmentIn,
    session: Session = Depends(get_session),
    who: Principal = Depends(responder),
) -> dict[str, Any]:
    return guard.restore_agent(
        session, system, actor=who.name, reason=body.reason, incident_id=body.incident_id
    )
