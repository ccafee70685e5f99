"""Containment actions behind approval gates: propose, approve (or reject, cancel), execute.

A responder proposes an action on one affected system; a person with the right role approves
it (the admin role for high-risk actions; under the two-person rule, someone other than the
proposer); a connector carries it out; every step is a timeline event. A written containment
policy may pre-approve an action (see quell.remediation.policies); nothing else skips approval.
The action types live in quell.remediation.action_kinds, who may approve in
quell.remediation.approval_rules, the agent kill switch in quell.remediation.kill_switch.
"""

from __future__ import annotations

from typing import Any, Final

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from quell.auth.service import Principal
from quell.errors import Conflict, Forbidden, InvalidInput
from quell.incidents.models import Incident
from quell.incidents.service import get_incident
from quell.incidents.timeline import append_event
from quell.inventory.models import AISystem
from quell.remediation.action_kinds import ACTION_KINDS, ActionKind, eligible
from quell.remediation.action_models import ACTION_TYPES, ContainmentAction
from quell.remediation.approval_rules import (
    approval_refusal,
    containment_rules,
    requirement_for,
)
from quell.remediation.connectors import ActionRequest, ConnectorResult, resolve_connector
from quell.store.db import first_or_missing
from quell.timeutil import iso, utcnow
from quell.validation import describe, field_path

OPEN_ACTION_STATUSES: Final = frozenset({"proposed", "approved", "executing"})
SYSTEM_ACTOR: Final = "quell"  # the actor of steps quell takes by itself (policies)


# ---------------------------------------------------------------- views


def action_to_dict(action: ContainmentAction) -> dict[str, Any]:
    return {
        "id": action.id,
        "incident_id": action.incident_id,
        "type": action.type,
        "title": ACTION_KINDS[action.type].title if action.type in ACTION_KINDS else action.type,
        "system": action.system,
        "params": action.params,
        "reason": action.reason,
        "status": action.status,
        "approval": {
            "role": action.approver_role,
            "two_person": action.two_person,
            "why": action.requirement,
        },
        "proposed_by": action.proposed_by,
        "proposed_at": iso(action.proposed_at),
        "approved_by": action.approved_by,
        "approved_at": iso(action.approved_at),
        "policy": action.policy,
        "decided_by": action.decided_by,
        "decided_at": iso(action.decided_at),
        "decision_reason": action.decision_reason,
        "connector": action.connector,
        "started_at": iso(action.started_at),
        "finished_at": iso(action.finished_at),
        "result": action.result,
        "error": action.error,
    }


def list_actions(session: Session, incident_id: int) -> list[ContainmentAction]:
    get_incident(session, incident_id)
    return list(
        session.scalars(
            select(ContainmentAction)
            .where(ContainmentAction.incident_id == incident_id)
            .order_by(ContainmentAction.id)
        )
    )


def get_action(session: Session, action_id: int, *, lock: bool = False) -> ContainmentAction:
    query = select(ContainmentAction).where(ContainmentAction.id == action_id)
    if lock:
        query = query.with_for_update()
    return first_or_missing(session, query, f"containment action {action_id} does not exist")


# ---------------------------------------------------------------- propose


def _pick_system(incident: Incident, kind: ActionKind, name: str | None) -> AISystem:
    if name:
        found = next((s for s in incident.systems if s.name == name), None)
        if found is None:
            affected = ", ".join(s.name for s in incident.systems) or "none"
            raise InvalidInput(
                f"{name} is not an affected system of incident {incident.id} "
                f"(affected: {affected}); add it to the incident first",
                field="system",
            )
        problem = eligible(kind, found)
        if problem:
            raise InvalidInput(problem, field="system")
        return found
    candidates = [s for s in incident.systems if eligible(kind, s) is None]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        reasons = "; ".join(p for s in incident.systems if (p := eligible(kind, s))) or (
            "the incident has no affected systems"
        )
        raise InvalidInput(
            f"no affected system of incident {incident.id} can take {kind.name}: {reasons}",
            field="system",
        )
    raise InvalidInput(
        f"several systems can take {kind.name}; name one of "
        f"{', '.join(s.name for s in candidates)}",
        field="system",
    )


def _check_params(kind: ActionKind, params: dict[str, Any] | None) -> dict[str, Any]:
    try:
        model = kind.params.model_validate(params or {})
    except ValidationError as exc:
        error: dict[str, Any] = dict(exc.errors()[0])
        loc = ("params", *error.get("loc", ()))
        error["loc"] = loc
        raise InvalidInput(f"{kind.name}: {describe(error)}", field=field_path(loc)) from None
    return model.model_dump(mode="json")


def _derived(kind: ActionKind, system: AISystem) -> dict[str, Any]:
    """What the inventory says at proposal time, so the approver sees exactly what will run."""
    if kind.name == "route_fallback":
        return {"fallback": system.safe_fallback}
    if kind.name == "rollback_model":
        return {
            "from_version": system.current_model_version,
            "to_version": system.previous_model_version,
        }
    return {}


def open_duplicate(
    session: Session, incident_id: int, action_type: str, system: str
) -> ContainmentAction | None:
    """The action of this type on this system that is still open on the incident, if any."""
    return session.scalars(
        select(ContainmentAction).where(
            ContainmentAction.incident_id == incident_id,
            ContainmentAction.type == action_type,
            ContainmentAction.system == system,
            ContainmentAction.status.in_(OPEN_ACTION_STATUSES),
        )
    ).first()


def _event(
    session: Session,
    incident: Incident,
    action: ContainmentAction,
    kind: str,
    *,
    actor: str,
    reason: str,
    **extra: Any,
) -> None:
    incident.updated_at = utcnow()
    data = {"action_id": action.id, "type": action.type, "system": action.system, **extra}
    append_event(session, incident, actor=actor, kind=kind, data=data, reason=reason)


def create_action(
    session: Session,
    incident: Incident,
    action_type: str,
    *,
    proposed_by: str,
    system: str | None = None,
    params: dict[str, Any] | None = None,
    reason: str = "",
) -> ContainmentAction:
    """Validate and record a proposed action (no role check: callers decide who may propose)."""
    if incident.status == "closed":
        raise Conflict(f"incident {incident.id} is closed; reopen it before acting on it")
    kind = ACTION_KINDS.get(action_type)
    if kind is None:
        raise InvalidInput(
            f"unknown action type {action_type!r}; expected one of {', '.join(ACTION_TYPES)}",
            field="type",
        )
    target = _pick_system(incident, kind, system)
    checked = {**_check_params(kind, params), **_derived(kind, target)}
    duplicate = open_duplicate(session, incident.id, action_type, target.name)
    if duplicate is not None:
        raise Conflict(
            f"action {duplicate.id} ({action_type} on {target.name}) is already "
            f"{duplicate.status}; approve, reject or cancel it instead"
        )
    need = requirement_for(containment_rules(session), action_type, target)
    now = utcnow()
    action = ContainmentAction(
        incident_id=incident.id,
        type=action_type,
        system_id=target.id,
        system=target.name,
        params=checked,
        reason=reason.strip(),
        status="proposed",
        approver_role=need.role,
        two_person=need.two_person,
        requirement=need.why,
        proposed_by=proposed_by,
        proposed_at=now,
        decision_reason="",
        result={},
        error="",
        updated_at=now,
    )
    session.add(action)
    session.flush()
    _event(
        session,
        incident,
        action,
        "action.proposed",
        actor=proposed_by,
        reason=action.reason,
        params=checked,
        approval={"role": need.role, "two_person": need.two_person, "why": need.why},
    )
    return action


def propose_action(
    session: Session,
    incident_id: int,
    action_type: str,
    *,
    who: Principal,
    system: str | None = None,
    params: dict[str, Any] | None = None,
    reason: str = "",
) -> ContainmentAction:
    """A responder proposes a containment action; it waits for an approver."""
    who.require("responder")
    incident = get_incident(session, incident_id, lock=True)
    return create_action(
        session,
        incident,
        action_type,
        proposed_by=who.name,
        system=system,
        params=params,
        reason=reason,
    )


# ---------------------------------------------------------------- approve / reject / cancel


def _must_be_proposed(action: ContainmentAction, verb: str) -> None:
    if action.status != "proposed":
        raise Conflict(
            f"action {action.id} is {action.status}; only a proposed action can be {verb}"
        )


def approve_action(
    session: Session, action_id: int, *, who: Principal, reason: str = ""
) -> ContainmentAction:
    """Approve a proposed action and carry it out at once through its connector."""
    action = get_action(session, action_id, lock=True)
    _must_be_proposed(action, "approved")
    refusal = approval_refusal(action, who)
    if refusal:
        raise Forbidden(refusal)
    incident = get_incident(session, action.incident_id, lock=True)
    record_approval(session, incident, action, approved_by=who.name, reason=reason.strip())
    execute_action(session, incident, action)
    return action


def approve_by_policy(
    session: Session, incident: Incident, action: ContainmentAction, *, policy: str, why: str
) -> ContainmentAction:
    """A written policy pre-approves the action: it runs at once, naming the policy."""
    action.policy = policy
    record_approval(session, incident, action, approved_by=SYSTEM_ACTOR, reason=why, policy=policy)
    execute_action(session, incident, action)
    return action


def record_approval(
    session: Session,
    incident: Incident,
    action: ContainmentAction,
    *,
    approved_by: str,
    reason: str,
    policy: str | None = None,
) -> None:
    """Mark the action approved and put the approval on the timeline."""
    now = utcnow()
    action.status = "approved"
    action.approved_by = approved_by
    action.approved_at = now
    action.updated_at = now
    session.flush()
    extra = {"policy": policy} if policy else {}
    _event(session, incident, action, "action.approved", actor=approved_by, reason=reason, **extra)


def reject_action(
    session: Session, action_id: int, *, who: Principal, reason: str
) -> ContainmentAction:
    """Refuse a proposed action; the reason is required, for the record."""
    who.require("responder")
    if not reason.strip():
        raise InvalidInput("say why the action is rejected", field="reason")
    return _close(session, action_id, who=who, reason=reason.strip(), status="rejected")


def cancel_action(
    session: Session, action_id: int, *, who: Principal, reason: str = ""
) -> ContainmentAction:
    """Withdraw a proposed action (the proposer changed their mind, or it is no longer needed)."""
    who.require("responder")
    return _close(session, action_id, who=who, reason=reason.strip(), status="cancelled")


def _close(
    session: Session, action_id: int, *, who: Principal, reason: str, status: str
) -> ContainmentAction:
    action = get_action(session, action_id, lock=True)
    _must_be_proposed(action, status)
    incident = get_incident(session, action.incident_id, lock=True)
    now = utcnow()
    action.status = status
    action.decided_by = who.name
    action.decided_at = now
    action.decision_reason = reason
    action.updated_at = now
    session.flush()
    _event(session, incident, action, f"action.{status}", actor=who.name, reason=reason)
    return action


# ---------------------------------------------------------------- execute


def _request(
    incident: Incident, action: ContainmentAction, system: AISystem | None
) -> ActionRequest:
    return ActionRequest(
        action_id=action.id,
        type=action.type,
        incident={
            "id": incident.id,
            "title": incident.title,
            "severity": incident.severity,
            "archetype": incident.archetype,
            "status": incident.status,
        },
        system={
            "name": action.system,
            "kind": system.kind if system else None,
            "criticality": system.criticality if system else None,
            "safe_fallback": system.safe_fallback if system else None,
            "current_model_version": system.current_model_version if system else None,
            "previous_model_version": system.previous_model_version if system else None,
        },
        params=action.params,
        reason=action.reason,
        approved_by=action.approved_by or "",
        policy=action.policy,
    )


def execute_action(session: Session, incident: Incident, action: ContainmentAction) -> None:
    """Hand an approved action to its connector and record the outcome on it and the timeline.

    The connector runs inside a savepoint: if it fails half way (the guard refusing, say), its
    own writes are undone while the failure itself is still recorded.
    """
    system = session.get(AISystem, action.system_id) if action.system_id else None
    now = utcnow()
    action.status = "executing"
    action.started_at = now
    action.updated_at = now
    session.flush()
    connector = resolve_connector(session, action.type, action.system)
    if connector is None:
        outcome = ConnectorResult(
            False,
            f"no connector is configured for {action.type} on {action.system}; add one to "
            "the connectors: section of quell.yaml",
        )
    else:
        action.connector = connector.spec.name
        try:
            with session.begin_nested():
                outcome = connector.execute(session, _request(incident, action, system))
                if not outcome.ok:
                    raise _Undo
        except _Undo:
            pass
        except Exception as exc:  # a connector bug must not lose the record of the attempt
            outcome = ConnectorResult(False, f"{connector.spec.name}: {type(exc).__name__}: {exc}")
    extra: dict[str, Any] = {}
    if outcome.ok and action.type == "rollback_model" and system is not None:
        extra["model_version"] = _swap_model_versions(system)
    done = utcnow()
    action.status = "succeeded" if outcome.ok else "failed"
    action.finished_at = done
    action.updated_at = done
    action.result = {**outcome.data, **extra, "detail": outcome.detail}
    action.error = "" if outcome.ok else outcome.detail
    session.flush()
    _event(
        session,
        incident,
        action,
        "action.executed" if outcome.ok else "action.failed",
        actor=action.connector or SYSTEM_ACTOR,
        reason=outcome.detail,
        connector=action.connector,
        policy=action.policy,
        result=action.result,
    )


class _Undo(Exception):
    """Raised inside the savepoint to roll back a connector's writes when it reports failure."""


def _swap_model_versions(system: AISystem) -> dict[str, str | None]:
    """After a rollback the previous version serves, and the bad one becomes 'previous'."""
    before = system.current_model_version
    system.current_model_version, system.previous_model_version = (
        system.previous_model_version,
        before,
    )
    system.updated_at = utcnow()
    return {"from": before, "to": system.current_model_version}
