"""The agent kill switch: revoke every affected agent of an incident in one call."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from quell.auth.service import Principal
from quell.errors import Conflict
from quell.incidents.service import get_incident
from quell.remediation.action_models import ContainmentAction
from quell.remediation.actions import (
    action_to_dict,
    create_action,
    execute_action,
    open_duplicate,
    record_approval,
)
from quell.remediation.approval_rules import approval_refusal


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
        action = open_duplicate(session, incident_id, "revoke_agent", agent.name)
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
            record_approval(session, incident, action, approved_by=who.name, reason=why)
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
