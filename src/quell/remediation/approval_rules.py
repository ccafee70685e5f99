"""Who may approve a containment action: quell.yaml `containment:` rules and the checks they make.

The high-risk rule (the admin role approves), the two-person rule (the proposer may not
approve) and the switches for pre-approval policies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from pydantic import Field
from sqlalchemy.orm import Session

from quell.auth.service import Principal
from quell.config import register_section
from quell.errors import InvalidInput
from quell.inventory.models import AISystem
from quell.inventory.schemas import Criticality, Strict
from quell.remediation.action_models import ContainmentAction, unknown_action_types
from quell.store.sections import store_section, stored_section

RULES_SECTION: Final = "containment"


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
        refused = unknown_action_types(rule.action_types)
        if refused:
            raise InvalidInput(refused, field="containment.action_types")
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
