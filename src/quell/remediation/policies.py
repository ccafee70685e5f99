"""Containment policies: written rules that pre-approve an action for incidents that match.

When an incident is created, or its severity, archetype or facts change, every active policy
is evaluated; a matching one creates its action already approved (or approves a pending one)
and it runs at once. The timeline's ``action.approved`` event names the policy. Built-in
policies live in ``default_policies.yaml``; quell.yaml ``containment_policies:`` adds or
replaces them by name, and ``containment:`` can switch them off.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any, Final

import yaml
from pydantic import Field, RootModel, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from quell.config import register_section
from quell.errors import QuellError
from quell.incidents import service as incidents
from quell.incidents.lifecycle import ARCHETYPES, SEVERITIES
from quell.incidents.models import Incident
from quell.inventory.models import AISystem
from quell.inventory.schemas import Criticality, Name, Strict, SystemKind
from quell.phases import warm_up
from quell.remediation.action_kinds import ACTION_KINDS, eligible
from quell.remediation.action_models import ACTION_TYPES, ContainmentAction
from quell.remediation.actions import SYSTEM_ACTOR, approve_by_policy, create_action
from quell.remediation.approval_rules import containment_rules
from quell.store.sections import store_section, stored_section

SECTION: Final = "containment_policies"


def _all_known(value: list[str], known: tuple[str, ...], what: str) -> list[str]:
    """`value` when every item is one of `known`; else a ValueError naming the first stranger."""
    bad = [v for v in value if v not in known]
    if bad:
        raise ValueError(f"unknown {what} {bad[0]!r}; expected one of {', '.join(known)}")
    return value


class PolicyWhen(Strict):
    """When a policy applies; every condition given must hold."""

    severities: list[str] = Field(default_factory=list)
    archetypes: list[str] = Field(default_factory=list)
    facts: dict[str, bool | int | float | str] = Field(default_factory=dict)
    system_kinds: list[SystemKind] = Field(default_factory=list)
    criticality: list[Criticality] = Field(default_factory=list)
    systems: list[str] = Field(default_factory=list)

    @field_validator("severities")
    @classmethod
    def _severities(cls, value: list[str]) -> list[str]:
        return _all_known(value, SEVERITIES, "severity")

    @field_validator("archetypes")
    @classmethod
    def _archetypes(cls, value: list[str]) -> list[str]:
        return _all_known(value, ARCHETYPES, "archetype")


class PolicyIn(Strict):
    """One containment policy: when it applies, which action it pre-approves, with what."""

    name: Name
    description: str = ""
    when: PolicyWhen
    action: str
    params: dict[str, Any] = Field(default_factory=dict)
    enabled: bool = True

    @field_validator("action")
    @classmethod
    def _known_action(cls, value: str) -> str:
        if value not in ACTION_TYPES:
            raise ValueError(
                f"unknown action type {value!r}; expected one of {', '.join(ACTION_TYPES)}"
            )
        return value

    @model_validator(mode="after")
    def _params_fit(self) -> PolicyIn:
        # Checked now, so a bad policy is refused by `quell apply`, not at 3am by an incident.
        ACTION_KINDS[self.action].params.model_validate(self.params)
        return self

    def systems_matching(self, incident: Incident) -> list[AISystem]:
        """The affected systems this policy acts on (empty when the incident does not match)."""
        when = self.when
        if when.severities and incident.severity not in when.severities:
            return []
        if when.archetypes and incident.archetype not in when.archetypes:
            return []
        facts = incident.facts or {}
        if any(facts.get(k) != v for k, v in when.facts.items()):
            return []
        return [
            s
            for s in incident.systems
            if (not when.system_kinds or s.kind in when.system_kinds)
            and (not when.criticality or s.criticality in when.criticality)
            and (not when.systems or s.name in when.systems)
        ]


class PoliciesSection(RootModel[list[PolicyIn]]):
    """quell.yaml `containment_policies:`, a list of policies with unique names."""

    @model_validator(mode="after")
    def _unique(self) -> PoliciesSection:
        names = [p.name for p in self.root]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"policy name(s) {', '.join(twice)} appear more than once")
        return self


@warm_up
@cache
def default_policies() -> tuple[PolicyIn, ...]:
    text = (resources.files("quell.remediation") / "default_policies.yaml").read_text("utf-8")
    return tuple(PolicyIn.model_validate(p) for p in yaml.safe_load(text)["policies"])


def configured_policies(session: Session) -> list[PolicyIn]:
    stored = stored_section(session, SECTION)
    return PoliciesSection.model_validate(stored).root if stored else []


def all_policies(session: Session) -> list[dict[str, Any]]:
    """Every known policy with where it comes from and whether it is active."""
    rules = containment_rules(session)
    mine = {p.name: p for p in configured_policies(session)}
    out: list[dict[str, Any]] = []
    for policy in default_policies():
        if policy.name in mine:
            continue
        active = rules.default_policies and policy.enabled
        out.append(
            _describe(policy, "built-in", active and policy.name not in rules.disabled_policies)
        )
    for policy in mine.values():
        out.append(
            _describe(
                policy, "quell.yaml", policy.enabled and policy.name not in rules.disabled_policies
            )
        )
    return out


def _describe(policy: PolicyIn, source: str, active: bool) -> dict[str, Any]:
    return {**policy.model_dump(mode="json"), "source": source, "active": active}


def active_policies(session: Session) -> list[PolicyIn]:
    rules = containment_rules(session)
    mine = configured_policies(session)
    names = {p.name for p in mine}
    chosen = [p for p in default_policies() if rules.default_policies and p.name not in names]
    chosen += mine
    return [p for p in chosen if p.enabled and p.name not in rules.disabled_policies]


def evaluate_policies(
    session: Session, incident: Incident, *, trigger: str = ""
) -> list[ContainmentAction]:
    """Run every active policy against the incident; returns the actions it pre-approved.

    Idempotent: an action a policy already started (or a person already rejected) for that
    system is left alone, so re-evaluating after each change never repeats or overrides one.
    """
    if incident.status not in ("triggered", "acknowledged", "mitigated"):
        return []
    ran: list[ContainmentAction] = []
    for policy in active_policies(session):
        kind = ACTION_KINDS[policy.action]
        for system in policy.systems_matching(incident):
            if eligible(kind, system) is not None:
                continue  # e.g. no safe_fallback in the inventory: nothing to route to
            existing = session.scalars(
                select(ContainmentAction)
                .where(
                    ContainmentAction.incident_id == incident.id,
                    ContainmentAction.type == policy.action,
                    ContainmentAction.system == system.name,
                )
                .order_by(ContainmentAction.id.desc())
            ).first()
            why = f"pre-approved by containment policy {policy.name}" + (
                f": {policy.description}" if policy.description else ""
            )
            if trigger:
                why += f" (evaluated on {trigger})"
            if existing is not None and existing.status != "proposed":
                continue
            try:
                action = existing or create_action(
                    session,
                    incident,
                    policy.action,
                    proposed_by=SYSTEM_ACTOR,
                    system=system.name,
                    params=policy.params,
                    reason=why,
                )
            except QuellError:
                continue  # refused before anything was written; the responders still can act
            ran.append(approve_by_policy(session, incident, action, policy=policy.name, why=why))
    return ran


def _on_change(session: Session, incident: Incident, what: str, actor: str) -> None:
    evaluate_policies(session, incident, trigger=what)


def _apply_section(session: Session, section: PoliciesSection) -> dict[str, str]:
    outcome = store_section(session, SECTION, section.model_dump(mode="json"))
    return {p.name: outcome for p in section.root} or {"(none)": outcome}


register_section(SECTION, PoliciesSection, _apply_section)
if _on_change not in incidents.CHANGE_LISTENERS:
    incidents.CHANGE_LISTENERS.append(_on_change)
