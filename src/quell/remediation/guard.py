"""The guard: the policy decision point agents ask before acting, and the agent kill switch.

Per agent system it keeps a policy (from quell.yaml's ``agent_policies:`` or the API) and a
containment state (active or revoked). ``decide`` answers allow / deny / needs_approval and
records the attempt; ``record_action`` records what the agent then did, with an optional undo
a responder can run later; ``revoke_agent`` is the one call that stops an agent acting.
Each agent's policy and containment state live in quell.remediation.guard_state, breaches
becoming signals in quell.remediation.guard_breaches.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from quell.detection.agent_policy import Decision, PastAction, ProposedAction
from quell.detection.agent_policy import decide as decide_action
from quell.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from quell.incidents.service import get_incident
from quell.incidents.timeline import append_event
from quell.remediation.guard_breaches import report_breach
from quell.remediation.guard_models import AgentAction
from quell.remediation.guard_policy import (
    DEFAULT_CACHE_TTL_S,
    GuardPolicySpec,
    effective_fail_mode,
    history_window,
    is_metered,
)
from quell.remediation.guard_state import (
    agent_policy_row,
    agent_system,
    containment_row,
    guard_status,
    policy_spec,
    restore_agent,
    revoke_agent,
    set_policy,
)
from quell.timeutil import iso, utcnow

# The guard's whole surface, so callers can use `guard.<name>` for the kill switch and policies too.
__all__ = [
    "MAX_ACTION_JSON",
    "UNDO_TIMEOUT_S",
    "GuardPolicySpec",
    "action_to_dict",
    "approve_action",
    "decide",
    "get_action",
    "guard_status",
    "list_actions",
    "record_action",
    "restore_agent",
    "revoke_agent",
    "set_policy",
    "undo_action",
]

# Largest JSON (bytes) kept for an action's arguments, result or undo descriptor.
MAX_ACTION_JSON = 64 * 1024
# How long an undo HTTP call may take before it counts as failed.
UNDO_TIMEOUT_S = 10.0


# --- decisions and records --------------------------------------------------------------------


def _json_size_ok(value: Any, field: str) -> None:
    size = len(orjson.dumps(value, default=str))
    if size > MAX_ACTION_JSON:
        raise PayloadTooLarge(
            f"{field} is {size} bytes of JSON; the most kept is {MAX_ACTION_JSON}", field=field
        )


def _recent(session: Session, system: str, seconds: float, now: datetime) -> list[PastAction]:
    if seconds <= 0:
        return []
    rows = session.execute(
        select(AgentAction.at, AgentAction.tool, AgentAction.cost).where(
            AgentAction.system == system,
            AgentAction.phase == "decided",
            AgentAction.decision == "allow",
            AgentAction.at > now - timedelta(seconds=seconds),
        )
    ).all()
    return [PastAction(tool=tool, at=at.timestamp(), cost=cost or 0.0) for at, tool, cost in rows]


def _approval(
    session: Session, approval_id: int, system: str, tool: str, arguments: dict[str, Any]
) -> AgentAction:
    row = session.get(AgentAction, approval_id)
    if row is None or row.system != system or row.decision != "needs_approval":
        raise InvalidInput(
            f"approval {approval_id} is not a pending approval of {system}", field="approval_id"
        )
    if row.tool != tool or row.arguments != arguments:
        raise InvalidInput(
            f"approval {approval_id} was for another call ({row.tool})", field="approval_id"
        )
    if row.approved_by is None:
        raise Conflict(f"approval {approval_id} has not been approved yet")
    return row


def decide(
    session: Session,
    system: str,
    *,
    tool: str,
    arguments: dict[str, Any] | None = None,
    agent_id: str | None = None,
    run_id: str | None = None,
    cost: float | None = None,
    data_classes: list[str] | None = None,
    approval_id: int | None = None,
) -> dict[str, Any]:
    """Answer one proposed tool call and record the attempt; a breach becomes a signal."""
    arguments = arguments or {}
    _json_size_ok(arguments, "arguments")
    found = agent_system(session, system)
    now = utcnow()
    policy_row = agent_policy_row(session, system)
    spec = policy_spec(policy_row)
    contained = containment_row(session, system)
    ttl = spec.cache_ttl_s if spec else DEFAULT_CACHE_TTL_S
    revoked = contained is not None and contained.state == "revoked"
    proposed = ProposedAction(
        tool=tool,
        arguments=arguments,
        cost=cost or 0.0,
        data_classes=frozenset(data_classes or ()),
        agent=agent_id,
    )
    if revoked:
        assert contained is not None
        verdict = Decision(
            "deny",
            (f"agent revoked by {contained.actor} at {iso(contained.since)}: {contained.reason}",),
        )
    elif spec is None:
        verdict = Decision("allow", ("no policy for this system: allowed",))
    else:
        policy = spec.action_policy()
        recent = _recent(session, system, history_window(policy), now)
        verdict = decide_action(policy, proposed, recent, now.timestamp())
        if is_metered(policy, tool):
            ttl = 0.0  # every call counts against a limit, so every call must ask
    if verdict.outcome == "needs_approval" and approval_id is not None:
        approved = _approval(session, approval_id, system, tool, arguments)
        verdict = Decision(
            "allow",
            (*verdict.reasons, f"approved by {approved.approved_by} (action {approved.id})"),
        )
    if verdict.outcome == "needs_approval":
        ttl = 0.0
    action = AgentAction(
        system=system,
        at=now,
        phase="decided",
        tool=tool,
        arguments=arguments,
        agent_id=agent_id,
        run_id=run_id,
        cost=cost,
        decision=verdict.outcome,
        reasons=list(verdict.reasons),
        policy_version=policy_row.version if policy_row else 0,
        incident_id=contained.incident_id if revoked and contained else None,
    )
    session.add(action)
    session.flush()
    if verdict.outcome == "deny" and not revoked:
        report_breach(session, action, proposed, verdict, rule="policy")
    return {
        "decision": verdict.outcome,
        "reasons": list(verdict.reasons),
        "ttl_s": ttl,
        "policy_version": action.policy_version,
        "action_id": action.id,
        "revoked": revoked,
        "fail_mode": effective_fail_mode(spec, found.criticality),
    }


def record_action(
    session: Session,
    system: str,
    *,
    tool: str,
    arguments: dict[str, Any] | None = None,
    outcome: str = "ok",
    result: Any = None,
    undo: dict[str, Any] | None = None,
    agent_id: str | None = None,
    run_id: str | None = None,
    cost: float | None = None,
    decision_id: int | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """Record what an agent actually did (and how to undo it), for "what did the agent do?"."""
    agent_system(session, system)
    arguments = arguments or {}
    for value, name in ((arguments, "arguments"), (result, "result"), (undo, "undo")):
        _json_size_ok(value, name)
    if outcome not in {"ok", "error"}:
        raise InvalidInput("outcome must be 'ok' or 'error'", field="outcome")
    if undo is not None:
        _check_undo(undo)
    decision: str | None = None
    if decision_id is not None:
        decided = session.get(AgentAction, decision_id)
        if decided is None or decided.system != system or decided.phase != "decided":
            raise InvalidInput(
                f"decision {decision_id} is not a decision of {system}", field="decision_id"
            )
        decision = decided.decision
    contained = containment_row(session, system)
    action = AgentAction(
        system=system,
        at=at or utcnow(),
        phase="done",
        tool=tool,
        arguments=arguments,
        agent_id=agent_id,
        run_id=run_id,
        cost=cost,
        decision=decision,
        outcome=outcome,
        result=result if isinstance(result, dict) or result is None else {"value": result},
        undo=undo,
        incident_id=contained.incident_id if contained and contained.state == "revoked" else None,
    )
    session.add(action)
    session.flush()
    if contained is not None and contained.state == "revoked":
        # The agent acted although revoked (a stale cache or no guard on that path): a breach.
        verdict = Decision("deny", (f"agent ran {tool!r} while revoked",))
        proposed = ProposedAction(tool=tool, arguments=arguments, cost=cost or 0.0, agent=agent_id)
        report_breach(session, action, proposed, verdict, rule="acted_while_revoked")
    return action_to_dict(action)


UNDO_KINDS = ("http", "tool", "manual")


def _check_undo(undo: dict[str, Any]) -> None:
    kind = undo.get("kind")
    if kind not in UNDO_KINDS:
        raise InvalidInput(f"undo.kind must be one of {', '.join(UNDO_KINDS)}", field="undo.kind")
    if kind == "http":
        url = undo.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise InvalidInput("an http undo needs an http(s) url", field="undo.url")
        method = str(undo.get("method", "POST")).upper()
        if method not in {"POST", "PUT", "PATCH", "DELETE", "GET"}:
            raise InvalidInput(f"unsupported undo method {method}", field="undo.method")
    if kind == "tool" and not isinstance(undo.get("tool"), str):
        raise InvalidInput("a tool undo names the compensating tool", field="undo.tool")


def get_action(session: Session, action_id: int) -> AgentAction:
    row = session.get(AgentAction, action_id)
    if row is None:
        raise NotFound(f"agent action {action_id} does not exist")
    return row


def approve_action(session: Session, action_id: int, *, actor: str) -> dict[str, Any]:
    """A person approves a needs_approval decision; the agent may then retry with its id."""
    row = get_action(session, action_id)
    if row.decision != "needs_approval":
        raise Conflict(f"action {action_id} did not ask for approval (it was {row.decision})")
    if row.approved_by is None:
        row.approved_by, row.approved_at = actor, utcnow()
        session.flush()
    return action_to_dict(row)


def undo_action(
    session: Session, action_id: int, *, actor: str, note: str = "", result: Any = None
) -> dict[str, Any]:
    """Run an action's undo (an HTTP call) or record that a responder carried it out by hand.

    An ``http`` undo is called from the server; a ``tool`` or ``manual`` undo is the
    responder's to perform, and this records that they did, with their note.
    """
    row = get_action(session, action_id)
    if row.phase != "done":
        raise Conflict(f"action {action_id} is a decision, not something the agent did")
    if row.undo_status == "done":
        raise Conflict(f"action {action_id} was already undone by {row.undone_by}")
    undo = row.undo or {"kind": "manual"}
    if undo.get("kind") == "http":
        status, outcome = _run_http_undo(undo)
    else:
        if not note.strip():
            raise InvalidInput(
                "say what was done to undo it: a note is required for a tool or manual undo",
                field="note",
            )
        status, outcome = "done", {"note": note, "result": result}
    row.undo_status, row.undo_result = status, outcome
    row.undone_by, row.undone_at = actor, utcnow()
    session.flush()
    if row.incident_id is not None:
        append_event(
            session,
            get_incident(session, row.incident_id),
            actor=actor,
            kind="guard.action_undone",
            data={"action_id": row.id, "system": row.system, "tool": row.tool, "status": status},
            reason=note,
        )
    return action_to_dict(row)


def _run_http_undo(undo: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    import httpx

    method = str(undo.get("method", "POST")).upper()
    try:
        response = httpx.request(
            method,
            undo["url"],
            json=undo.get("json"),
            headers={str(k): str(v) for k, v in (undo.get("headers") or {}).items()},
            timeout=UNDO_TIMEOUT_S,
        )
    except httpx.HTTPError as exc:
        return "failed", {"error": f"{type(exc).__name__}: {exc}"}
    body = response.text[:2000]
    return ("done" if response.is_success else "failed"), {
        "status_code": response.status_code,
        "body": body,
    }


def list_actions(
    session: Session,
    *,
    system: str | None = None,
    since: datetime | None = None,
    incident_id: int | None = None,
    phase: str | None = None,
    limit: int = 500,
) -> list[dict[str, Any]]:
    """What the agents did, newest first. ``incident_id`` selects the incident's systems."""
    query = select(AgentAction).order_by(AgentAction.at.desc(), AgentAction.id.desc())
    if system:
        query = query.where(AgentAction.system == system)
    if incident_id is not None:
        incident = get_incident(session, incident_id)
        names = [s.name for s in incident.systems]
        query = query.where(
            (AgentAction.system.in_(names)) | (AgentAction.incident_id == incident_id)
        )
    if since is not None:
        query = query.where(AgentAction.at >= since)
    if phase:
        query = query.where(AgentAction.phase == phase)
    return [action_to_dict(a) for a in session.scalars(query.limit(limit))]


def action_to_dict(action: AgentAction) -> dict[str, Any]:
    return {
        "id": action.id,
        "system": action.system,
        "at": iso(action.at),
        "phase": action.phase,
        "tool": action.tool,
        "arguments": action.arguments,
        "agent_id": action.agent_id,
        "run_id": action.run_id,
        "cost": action.cost,
        "decision": action.decision,
        "reasons": action.reasons,
        "policy_version": action.policy_version,
        "outcome": action.outcome,
        "result": action.result,
        "approved_by": action.approved_by,
        "undo": action.undo,
        "undo_status": action.undo_status,
        "undo_result": action.undo_result,
        "undone_by": action.undone_by,
        "undone_at": iso(action.undone_at),
        "incident_id": action.incident_id,
    }
