"""The guard's per-agent state: each agent's policy, its containment state, and the kill switch
(``revoke_agent`` / ``restore_agent``) that moves it between active and revoked."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from quell.config import register_section
from quell.errors import InvalidInput, NotFound
from quell.incidents.models import Incident
from quell.incidents.service import get_incident
from quell.incidents.timeline import append_event
from quell.inventory.models import AISystem
from quell.remediation.guard_models import AgentContainment, AgentPolicy
from quell.remediation.guard_policy import (
    AgentPoliciesSection,
    GuardPolicySpec,
    effective_fail_mode,
)
from quell.store.db import first_or_missing
from quell.timeutil import iso, utcnow


def agent_system(session: Session, name: str) -> AISystem:
    """The inventory's system of this name (NotFound when there is none)."""
    return first_or_missing(
        session,
        select(AISystem).where(AISystem.name == name),
        f"AI system {name!r} does not exist; add it to the inventory first",
    )


def agent_policy_row(session: Session, system: str) -> AgentPolicy | None:
    """The stored policy row of an agent, if it has one."""
    return session.scalars(select(AgentPolicy).where(AgentPolicy.system == system)).first()


def policy_spec(row: AgentPolicy | None) -> GuardPolicySpec | None:
    """The policy a stored row holds, parsed."""
    return GuardPolicySpec.model_validate(row.policy) if row is not None else None


def set_policy(session: Session, system: str, spec: GuardPolicySpec, *, field: str = "") -> str:
    """Create or replace an agent's policy; the version goes up only when the policy changed."""
    _system_or_invalid(session, system, field)
    wanted = spec.model_dump(mode="json", exclude_unset=True)
    row = agent_policy_row(session, system)
    if row is None:
        session.add(AgentPolicy(system=system, policy=wanted, version=1))
        session.flush()
        return "created"
    if row.policy == wanted:
        return "unchanged"
    row.policy = wanted
    row.version += 1
    session.flush()
    return "updated"


def _system_or_invalid(session: Session, system: str, field: str) -> AISystem:
    try:
        return agent_system(session, system)
    except NotFound as exc:
        raise InvalidInput(exc.message, field=field or "system") from None


def apply_agent_policies(session: Session, section: AgentPoliciesSection) -> dict[str, str]:
    """Apply quell.yaml's ``agent_policies:`` (idempotent; policies not named are left alone)."""
    return {
        name: set_policy(session, name, spec, field=f"agent_policies.{name}")
        for name, spec in section.root.items()
    }


register_section("agent_policies", AgentPoliciesSection, apply_agent_policies)


def containment_row(session: Session, system: str) -> AgentContainment | None:
    """The agent's containment state row (None: it was never revoked, so it is active)."""
    return session.scalars(
        select(AgentContainment).where(AgentContainment.system == system)
    ).first()


def containment_to_dict(system: str, row: AgentContainment | None) -> dict[str, Any]:
    if row is None:
        return {
            "system": system,
            "state": "active",
            "actor": None,
            "reason": "",
            "since": None,
            "incident_id": None,
        }
    return {
        "system": system,
        "state": row.state,
        "actor": row.actor,
        "reason": row.reason,
        "since": iso(row.since),
        "incident_id": row.incident_id,
    }


def guard_status(session: Session, system: str) -> dict[str, Any]:
    """An agent's policy, its version, its fail mode and its containment state."""
    found = agent_system(session, system)
    row = agent_policy_row(session, system)
    spec = policy_spec(row)
    return {
        "system": system,
        "criticality": found.criticality,
        "policy": spec.model_dump(mode="json") if spec else None,
        "policy_version": row.version if row else 0,
        "fail_mode": effective_fail_mode(spec, found.criticality),
        "containment": containment_to_dict(system, containment_row(session, system)),
    }


# --- the kill switch --------------------------------------------------------------------------


def _set_state(
    session: Session,
    system: str,
    state: str,
    *,
    actor: str,
    reason: str,
    incident_id: int | None,
) -> dict[str, Any]:
    agent_system(session, system)
    if not reason.strip():
        raise InvalidInput("say why: a reason is required", field="reason")
    incident: Incident | None = None
    if incident_id is not None:
        incident = get_incident(session, incident_id)
    row = containment_row(session, system)
    previous = row.state if row else "active"
    changed = previous != state
    if row is None:
        row = AgentContainment(system=system, state=state, actor=actor, reason=reason)
        session.add(row)
    if changed or row.id is None:
        row.state, row.actor, row.reason, row.since = state, actor, reason, utcnow()
        row.incident_id = incident_id
    session.flush()
    if incident is not None and changed:
        append_event(
            session,
            incident,
            actor=actor,
            kind=f"guard.{'revoked' if state == 'revoked' else 'restored'}",
            data={"system": system, "from": previous, "to": state},
            reason=reason,
        )
    return {**containment_to_dict(system, row), "changed": changed}


def revoke_agent(
    session: Session, system: str, *, actor: str, reason: str, incident_id: int | None = None
) -> dict[str, Any]:
    """Stop an agent acting: from now on every decision for it is deny, whatever its policy.

    Idempotent: revoking a revoked agent changes nothing (``changed`` is False) and adds no
    timeline event. With an incident, ``guard.revoked`` goes on its timeline.
    """
    return _set_state(
        session, system, "revoked", actor=actor, reason=reason, incident_id=incident_id
    )


def restore_agent(
    session: Session, system: str, *, actor: str, reason: str, incident_id: int | None = None
) -> dict[str, Any]:
    """Let a revoked agent act again under its policy (``guard.restored`` on the incident)."""
    return _set_state(
        session, system, "active", actor=actor, reason=reason, incident_id=incident_id
    )
