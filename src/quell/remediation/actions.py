"""Containment actions behind approval gates: propose, approve (or reject, cancel), execute.

A responder proposes an action on one affected system; a person with the right role approves
it (the admin role for high-risk actions; under the two-person rule, someone other than the
proposer); a connector carries it out; every step is a timeline event. A written containment
policy may pre-approve an action (see quell.remediation.policies); nothing else skips approval.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from quell.auth.service import Principal
from quell.config import register_section
from quell.errors import Conflict, Forbidden, InvalidInput, NotFound
from quell.incidents.models import Incident
from quell.incidents.service import get_incident
from quell.incidents.timeline import append_event
from quell.inventory.models import AISystem
from quell.inventory.schemas import Criticality, Strict
from quell.remediation.action_models import ACTION_TYPES, ContainmentAction
from quell.remediation.connectors import ActionRequest, ConnectorResult, resolve_connector
from quell.store.sections import store_section, stored_section
from quell.timeutil import iso, utcnow
from quell.validation import describe, field_path

RULES_SECTION: Final = "containment"
OPEN_ACTION_STATUSES: Final = frozenset({"proposed", "approved", "executing"})
SYSTEM_ACTOR: Final = "quell"  # the actor of steps quell takes by itself (policies)


# ---------------------------------------------------------------- action types and parameters


class NoParams(Strict):
    """Actions that take no parameters: the inventory says what to do."""


class PauseParams(Strict):
    mode: Literal["human_review", "hold"] = Field(
        default="human_review", description="send cases to people, or hold them"
    )


class FilterParams(Strict):
    direction: Literal["input", "output", "both"] = "both"
    level: Literal["strict", "maximum"] = "strict"
    patterns: list[Annotated[str, Field(min_length=1, max_length=500)]] = Field(
        default_factory=list, max_length=100, description="patterns to block, e.g. the injection"
    )
    categories: list[Annotated[str, Field(min_length=1, max_length=60)]] = Field(
        default_factory=list, max_length=50, description="content categories to block"
    )


class RateLimitParams(Strict):
    requests_per_minute: Annotated[int, Field(ge=1, le=1_000_000)]
    scope: Literal["system", "user", "ip", "api_key"] = "user"
    duration_minutes: Annotated[int, Field(ge=1, le=10_080)] | None = None


@dataclass(frozen=True)
class ActionKind:
    """What an action type applies to, what it takes, and what the inventory must know first."""

    name: str
    title: str
    system_kinds: frozenset[str]
    params: type[BaseModel]
    needs: str | None = None  # an AISystem field that must be set, e.g. safe_fallback


ALL_KINDS: Final = frozenset({"generative", "agent", "predictive"})
ACTION_KINDS: Final[dict[str, ActionKind]] = {
    k.name: k
    for k in (
        ActionKind(
            "revoke_agent", "Revoke the agent's permissions", frozenset({"agent"}), NoParams
        ),
        ActionKind(
            "restore_agent", "Restore the agent's permissions", frozenset({"agent"}), NoParams
        ),
        ActionKind(
            "route_fallback", "Route to the safe fallback", ALL_KINDS, NoParams, "safe_fallback"
        ),
        ActionKind(
            "rollback_model",
            "Roll back to the previous model version",
            ALL_KINDS,
            NoParams,
            "previous_model_version",
        ),
        ActionKind(
            "pause_decisions",
            "Pause automated decisions",
            frozenset({"predictive"}),
            PauseParams,
        ),
        ActionKind(
            "tighten_filters",
            "Tighten input/output filters",
            frozenset({"generative", "agent"}),
            FilterParams,
        ),
        ActionKind("rate_limit", "Rate limit", ALL_KINDS, RateLimitParams),
    )
}
assert set(ACTION_KINDS) == set(ACTION_TYPES)


# ---------------------------------------------------------------- who may approve (quell.yaml)


class RuleMatch(Strict):
    """Which actions a rule covers: by action type, or by the criticality of the system."""

    action_types: list[str] = Field(default_factory=list)
    criticality: list[Criticality] = Field(default_factory=list)

    def covers(self, action_type: str, criticality: str) -> list[str]:
        """Why this rule covers the action (empty when it does not)."""
        why = []
        if action_type in self.action_types:
            why.append(f"action type {action_type}")
        if criticality in self.criticality:
            why.append(f"system criticality {criticality}")
        return why


class ContainmentRules(Strict):
    """quell.yaml `containment:` — who may approve, the two-person rule, policy switches."""

    approver_role: Literal["responder", "admin"] = "responder"
    high_risk: RuleMatch = Field(
        default_factory=lambda: RuleMatch(action_types=["rollback_model", "pause_decisions"]),
        description="actions only an admin may approve",
    )
    two_person_rule: RuleMatch = Field(
        default_factory=lambda: RuleMatch(criticality=["critical"]),
        description="actions the proposer may not approve themselves",
    )
    default_policies: bool = Field(
        default=True, description="use quell's built-in pre-approval policies"
    )
    disabled_policies: list[str] = Field(
        default_factory=list, description="policies (built-in or yours) switched off by name"
    )


def containment_rules(session: Session) -> ContainmentRules:
    stored = stored_section(session, RULES_SECTION)
    return ContainmentRules.model_validate(stored) if stored else ContainmentRules()


def _apply_rules(session: Session, section: ContainmentRules) -> dict[str, str]:
    for rule in (section.high_risk, section.two_person_rule):
        unknown = [t for t in rule.action_types if t not in ACTION_TYPES]
        if unknown:
            raise InvalidInput(
                f"unknown action type(s) {', '.join(unknown)}; known: {', '.join(ACTION_TYPES)}",
                field="containment.action_types",
            )
    return {"rules": store_section(session, RULES_SECTION, section.model_dump(mode="json"))}


register_section(RULES_SECTION, ContainmentRules, _apply_rules)


@dataclass(frozen=True)
class Requirement:
    """What approving an action takes."""

    role: str
    two_person: bool
    why: str


def requirement_for(rules: ContainmentRules, action_type: str, system: AISystem) -> Requirement:
    high = rules.high_risk.covers(action_type, system.criticality)
    pair = rules.two_person_rule.covers(action_type, system.criticality)
    parts = []
    if high:
        parts.append(f"high-risk ({', '.join(high)}): the admin role approves")
    if pair:
        parts.append(f"two-person rule ({', '.join(pair)}): the proposer may not approve")
    return Requirement(
        role="admin" if high else rules.approver_role,
        two_person=bool(pair),
        why="; ".join(parts) or f"the {rules.approver_role} role approves",
    )


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
    action = session.scalars(query).first()
    if action is None:
        raise NotFound(f"containment action {action_id} does not exist")
    return action


# ---------------------------------------------------------------- propose


def eligible(kind: ActionKind, system: AISystem) -> str | None:
    """Why `system` cannot take this action (None when it can)."""
    if system.kind not in kind.system_kinds:
        allowed = ", ".join(sorted(kind.system_kinds))
        return f"{kind.name} applies to {allowed} systems; {system.name} is {system.kind}"
    if kind.needs and not getattr(system, kind.needs):
        return f"{system.name} has no {kind.needs} in the inventory; set it first"
    return None


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


def _open_duplicate(
    session: Session, incident_id: int, action_type: str, system: str
) -> ContainmentAction | None:
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
    duplicate = _open_duplicate(session, incident.id, action_type, target.name)
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


def approval_refusal(action: ContainmentAction, who: Principal) -> str | None:
    """Why `who` may not approve this action (None when they may)."""
    if not who.can(action.approver_role):
        return (
            f"approving {action.type} on {action.system} needs the {action.approver_role} role "
            f"({action.requirement}); {who.name} has {who.role}"
        )
    if action.two_person and who.name == action.proposed_by:
        return (
            f"two-person rule: {who.name} proposed action {action.id} ({action.type} on "
            f"{action.system}) and cannot also approve it; another person must"
        )
    return None


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
    _approve(session, incident, action, approved_by=who.name, reason=reason.strip())
    execute_action(session, incident, action)
    return action


def approve_by_policy(
    session: Session, incident: Incident, action: ContainmentAction, *, policy: str, why: str
) -> ContainmentAction:
    """A written policy pre-approves the action: it runs at once, naming the policy."""
    action.policy = policy
    _approve(session, incident, action, approved_by=SYSTEM_ACTOR, reason=why, policy=policy)
    execute_action(session, incident, action)
    return action


def _approve(
    session: Session,
    incident: Incident,
    action: ContainmentAction,
    *,
    approved_by: str,
    reason: str,
    policy: str | None = None,
) -> None:
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


# ---------------------------------------------------------------- the kill switch


def agent_revoked(session: Session, incident_id: int, system: str) -> ContainmentAction | None:
    """The revoke that is in force for this agent on this incident, if any (no later restore)."""
    last = session.scalars(
        select(ContainmentAction)
        .where(
            ContainmentAction.incident_id == incident_id,
            ContainmentAction.system == system,
            ContainmentAction.type.in_(("revoke_agent", "restore_agent")),
            ContainmentAction.status == "succeeded",
        )
        .order_by(ContainmentAction.finished_at.desc(), ContainmentAction.id.desc())
    ).first()
    return last if last is not None and last.type == "revoke_agent" else None


def kill_switch(
    session: Session, incident_id: int, *, who: Principal, reason: str = ""
) -> dict[str, Any]:
    """Revoke every affected agent of the incident in one call, as far as `who` may alone.

    Where `who` may approve alone, the revoke is proposed, approved and carried out now; where
    the rules need another person (two-person rule, admin role), it is proposed and waits.
    """
    who.require("responder")
    incident = get_incident(session, incident_id, lock=True)
    agents = [s for s in incident.systems if s.kind == "agent"]
    if not agents:
        raise Conflict(f"incident {incident_id} has no affected agent system to revoke")
    why = reason.strip() or "kill switch"
    results: list[dict[str, Any]] = []
    waiting = False
    for agent in agents:
        in_force = agent_revoked(session, incident_id, agent.name)
        if in_force is not None:
            results.append({**action_to_dict(in_force), "note": "already revoked"})
            continue
        action = _open_duplicate(session, incident_id, "revoke_agent", agent.name)
        if action is None:
            action = create_action(
                session,
                incident,
                "revoke_agent",
                proposed_by=who.name,
                system=agent.name,
                reason=why,
            )
        refusal = approval_refusal(action, who) if action.status == "proposed" else None
        if action.status == "proposed" and refusal is None:
            _approve(session, incident, action, approved_by=who.name, reason=why)
            execute_action(session, incident, action)
        elif action.status == "proposed":
            waiting = True
            results.append({**action_to_dict(action), "note": refusal})
            continue
        results.append(action_to_dict(action))
    failed = [r for r in results if r["status"] == "failed"]
    if waiting:
        message = "proposed; a second approver is needed (see each action's note)"
    elif failed:
        message = "the revoke failed for " + ", ".join(r["system"] for r in failed)
    else:
        message = "revoked: " + ", ".join(r["system"] for r in results)
    return {
        "incident_id": incident_id,
        "executed": not waiting and not failed,
        "needs_second_approver": waiting,
        "message": message,
        "actions": results,
    }
