"""Routes for containment actions, the agent kill switch, policies and decision gates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from quell.api.deps import get_session, responder, viewer
from quell.auth.service import Principal
from quell.incidents.service import get_incident
from quell.remediation import actions, approval_rules, gates, policies
from quell.remediation.action_models import ContainmentAction
from quell.remediation.connectors import configured_connectors
from quell.remediation.kill_switch import kill_switch as press_kill_switch

router = APIRouter(tags=["remediation"])


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ProposeIn(_Body):
    type: str
    system: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    reason: Annotated[str, Field(max_length=5000)] = ""


class DecisionIn(_Body):
    reason: Annotated[str, Field(max_length=5000)] = ""


class KillSwitchIn(_Body):
    reason: Annotated[str, Field(max_length=5000)] = ""


class AnswerIn(_Body):
    answer: bool | str = Field(description="yes or no (true or false)")
    note: Annotated[str, Field(max_length=5000)] = ""


@router.get("/incidents/{incident_id}/actions")
def list_actions(
    incident_id: int, session: Session = Depends(get_session), _: Principal = Depends(viewer)
) -> list[dict[str, Any]]:
    return [actions.action_to_dict(a) for a in actions.list_actions(session, incident_id)]


@router.post("/incidents/{incident_id}/actions", status_code=201)
def propose(
    incident_id: int,
    body: ProposeIn,
    session: Session = Depends(get_session),
    who: Principal = Depends(responder),
) -> dict[str, Any]:
    action = actions.propose_action(
        session,
        incident_id,
        body.type,
        who=who,
        system=body.system,
        params=body.params,
        reason=body.reason,
    )
    return actions.action_to_dict(action)


@router.get("/actions/{action_id}")
def get_action(
    action_id: int, session: Session = Depends(get_session), _: Principal = Depends(viewer)
) -> dict[str, Any]:
    return actions.action_to_dict(actions.get_action(session, action_id))


def _decided(
    decide: Callable[..., ContainmentAction],
    session: Session,
    action_id: int,
    who: Principal,
    reason: str,
) -> dict[str, Any]:
    """Approve, reject or cancel an action as `who`, and answer with the action."""
    return actions.action_to_dict(decide(session, action_id, who=who, reason=reason))


@router.post("/actions/{action_id}/approve")
def approve(
    action_id: int,
    body: DecisionIn | None = None,
    session: Session = Depends(get_session),
    who: Principal = Depends(responder),
) -> dict[str, Any]:
    return _decided(actions.approve_action, session, action_id, who, body.reason if body else "")


@router.post("/actions/{action_id}/reject")
def reject(
    action_id: int,
    body: DecisionIn,
    session: Session = Depends(get_session),
    who: Principal = Depends(responder),
) -> dict[str, Any]:
    return _decided(actions.reject_action, session, action_id, who, body.reason)


@router.post("/actions/{action_id}/cancel")
def cancel(
    action_id: int,
    body: DecisionIn | None = None,
    session: Session = Depends(get_session),
    who: Principal = Depends(responder),
) -> dict[str, Any]:
    return _decided(actions.cancel_action, session, action_id, who, body.reason if body else "")


@router.post("/incidents/{incident_id}/kill-switch")
def kill_switch(
    incident_id: int,
    response: Response,
    body: KillSwitchIn | None = None,
    session: Session = Depends(get_session),
    who: Principal = Depends(responder),
) -> dict[str, Any]:
    """Revoke the incident's agent(s) now, or propose it when a second approver is needed."""
    result = press_kill_switch(session, incident_id, who=who, reason=body.reason if body else "")
    if result["needs_second_approver"]:
        response.status_code = 202
    return result


@router.get("/incidents/{incident_id}/gates")
def list_gates(
    incident_id: int, session: Session = Depends(get_session), _: Principal = Depends(viewer)
) -> list[dict[str, Any]]:
    return gates.incident_gates(session, get_incident(session, incident_id))


@router.post("/incidents/{incident_id}/gates/{key}")
def answer_gate(
    incident_id: int,
    key: str,
    body: AnswerIn,
    session: Session = Depends(get_session),
    who: Principal = Depends(responder),
) -> dict[str, Any]:
    return gates.answer_gate(session, incident_id, key, body.answer, who=who, note=body.note)


@router.get("/containment/policies")
def list_policies(
    session: Session = Depends(get_session), _: Principal = Depends(viewer)
) -> list[dict[str, Any]]:
    return policies.all_policies(session)


@router.get("/containment/rules")
def get_rules(
    session: Session = Depends(get_session), _: Principal = Depends(viewer)
) -> dict[str, Any]:
    return approval_rules.containment_rules(session).model_dump(mode="json")


@router.get("/containment/connectors")
def list_connectors(
    session: Session = Depends(get_session), _: Principal = Depends(viewer)
) -> list[dict[str, Any]]:
    # The secret itself never leaves the server process's environment; only its variable name.
    return [c.model_dump(mode="json") for c in configured_connectors(session)]
