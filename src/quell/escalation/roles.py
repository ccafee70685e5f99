"""Role suggestions: which of the playbook's five roles an incident needs, and who could take
each, from severity, archetype, the data and regimes involved, on-call and past incidents.
quell suggests; a person assigns (through ``quell.incidents.service.assign_role``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from quell import scheduler
from quell.escalation.policies import owning_team, policy_for
from quell.escalation.recipients import past_resolvers, suggest_first_responder
from quell.incidents.lifecycle import ROLE_TITLES, ROLES, severity_rank
from quell.incidents.models import Incident
from quell.incidents.service import current_roles

# Archetypes whose harm reaches customers directly, so someone owns what they are told.
CUSTOMER_FACING = frozenset(
    {"data_exfiltration", "misinformation_cascade", "toxicity_abuse", "prompt_injection"}
)
PICK_ORDER = ("incident_commander", "technical_lead", "legal_liaison", "comms_lead", "scribe")
SENSITIVE_DATA = frozenset(
    {"personal_data", "special_category_data", "financial_data", "health_data"}
)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("yes", "true", "y")
    return bool(value)


def regulated_reasons(incident: Incident) -> list[str]:
    """Why a legal/compliance liaison is needed (empty: not needed)."""
    reasons = []
    if _truthy(incident.facts.get("personal_data_exposed")):
        reasons.append("personal data was exposed")
    regimes = sorted({r for s in incident.systems for r in (s.regimes or [])})
    if regimes:
        reasons.append(f"affected systems fall under {', '.join(regimes)}")
    data = sorted({d for s in incident.systems for d in (s.data_classes or [])} & SENSITIVE_DATA)
    if data:
        reasons.append(f"systems hold {', '.join(data)}")
    if incident.archetype == "data_exfiltration":
        reasons.append("data exfiltration")
    return reasons


def needed_roles(incident: Incident) -> dict[str, str]:
    """role -> why it is needed, for this incident's severity, archetype and data."""
    rank = severity_rank(incident.severity)
    needed: dict[str, str] = {}
    if rank <= 3:
        needed["incident_commander"] = f"{incident.severity}: someone coordinates"
    needed["technical_lead"] = "every incident needs someone leading diagnosis and remediation"
    if rank <= 2:
        needed["scribe"] = f"{incident.severity}: keep the timeline and decisions"
    if rank <= 2 or (rank == 3 and incident.archetype in CUSTOMER_FACING):
        needed["comms_lead"] = (
            f"{incident.severity}: stakeholders need updates"
            if rank <= 2
            else f"{incident.archetype.replace('_', ' ')} reaches customers"
        )
    legal = regulated_reasons(incident)
    if legal:
        needed["legal_liaison"] = "; ".join(legal)
    return needed


def suggest_roles(session: Session, incident: Incident) -> dict[str, Any]:
    """For each of the five roles: whether it is needed, who holds it, whom quell suggests."""
    policy = policy_for(session, incident)
    at = scheduler.now()
    first = suggest_first_responder(session, incident, policy, at)
    resolvers = [person for person, _count, _last in past_resolvers(session, incident)]
    team = owning_team(incident)
    members = [m.name for m in team.members] if team is not None else []
    fixed = dict(policy.roles) if policy is not None else {}
    held = current_roles(incident)
    needed = needed_roles(incident)
    taken: set[str] = set(held.values())
    suggestions = []

    def pick(candidates: list[tuple[str, str]]) -> tuple[str | None, str]:
        for person, why in candidates:
            if person not in taken:
                taken.add(person)
                return person, why
        return candidates[0] if candidates else (None, "nobody available")

    on_call = [(c["person"], c["reason"]) for c in first]
    team_pool = [(m, f"member of {team.name}") for m in members] if team is not None else []
    pools: dict[str, list[tuple[str, str]]] = {
        "incident_commander": on_call + team_pool,
        "technical_lead": [(p, "resolved recent incidents on these systems") for p in resolvers]
        + on_call
        + team_pool,
        "scribe": team_pool,
        "comms_lead": team_pool,
        "legal_liaison": [],
    }
    # People named by the policy are reserved first; the others are picked in order of
    # importance, so the commander and technical lead get the best-placed people.
    taken.update(p for r, p in fixed.items() if r in needed and r not in held)
    chosen: dict[str, tuple[str | None, str]] = {}
    for role in PICK_ORDER:
        if role in held:
            chosen[role] = (held[role], "already holds the role")
        elif role in fixed and role in needed:
            policy_name = policy.name if policy is not None else ""
            chosen[role] = (fixed[role], f"named for {role} by policy {policy_name}")
        elif role in needed:
            person, why = pick(pools[role])
            if role == "legal_liaison" and person is None:
                why = "no liaison configured: set roles.legal_liaison in the escalation policy"
            chosen[role] = (person, why)
        else:
            chosen[role] = (None, "not needed at this severity")
    for role in ROLES:
        person, why = chosen[role]
        suggestions.append(
            {
                "role": role,
                "title": ROLE_TITLES[role],
                "needed": role in needed,
                "why_needed": needed.get(role),
                "current": held.get(role),
                "person": person,
                "reason": why,
            }
        )
    return {
        "incident_id": incident.id,
        "severity": incident.severity,
        "archetype": incident.archetype,
        "owning_team": team.name if team is not None else None,
        "first_responder": first,
        "roles": suggestions,
    }
