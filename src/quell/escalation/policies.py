"""Escalation policies: stored specs, their checks against the inventory, and which one an
incident uses (a policy naming an affected system wins over one naming the owning team)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from quell.errors import InvalidInput, NotFound
from quell.escalation.models import EscalationPolicy
from quell.escalation.oncall import get_schedule
from quell.escalation.schemas import PolicyIn
from quell.incidents.models import Incident
from quell.inventory.models import AISystem, Team, TeamMember
from quell.store.db import first_or_missing

CRITICALITY_ORDER = ("critical", "high", "medium", "low")


def get_policy(session: Session, name: str) -> EscalationPolicy:
    return first_or_missing(
        session,
        select(EscalationPolicy).where(EscalationPolicy.name == name),
        f"escalation policy {name!r} does not exist",
    )


def list_policies(session: Session) -> list[EscalationPolicy]:
    return list(session.scalars(select(EscalationPolicy).order_by(EscalationPolicy.name)))


def policy_spec(row: EscalationPolicy) -> PolicyIn:
    return PolicyIn.model_validate(row.spec)


def _check_targets(session: Session, spec: PolicyIn) -> None:
    teams = set(session.scalars(select(Team.name)))
    people = set(session.scalars(select(TeamMember.name)))
    systems = set(session.scalars(select(AISystem.name)))
    for index, level in enumerate(spec.levels):
        for t_index, target in enumerate(level.targets):
            where = f"levels[{index}].targets[{t_index}]"
            if target.schedule:
                try:
                    get_schedule(session, target.schedule)
                except NotFound as exc:
                    raise InvalidInput(
                        f"policy {spec.name!r}: {exc.message}", field=f"{where}.schedule"
                    ) from None
            if target.team and target.team not in teams:
                raise InvalidInput(
                    f"policy {spec.name!r}: team {target.team!r} does not exist",
                    field=f"{where}.team",
                )
            if target.person and target.person not in people:
                raise InvalidInput(
                    f"policy {spec.name!r}: {target.person!r} is not a member of any team",
                    field=f"{where}.person",
                )
    for name in spec.teams:
        if name not in teams:
            raise InvalidInput(f"policy {spec.name!r}: team {name!r} does not exist", field="teams")
    for name in spec.systems:
        if name not in systems:
            raise InvalidInput(
                f"policy {spec.name!r}: AI system {name!r} does not exist", field="systems"
            )


def upsert_policy(session: Session, spec: PolicyIn) -> str:
    _check_targets(session, spec)
    data = spec.model_dump(mode="json", exclude_none=True)
    row = session.scalars(
        select(EscalationPolicy).where(EscalationPolicy.name == spec.name)
    ).first()
    if row is None:
        session.add(EscalationPolicy(name=spec.name, spec=data))
        session.flush()
        return "created"
    if row.spec == data:
        return "unchanged"
    row.spec = data
    session.flush()
    return "updated"


def policy_to_dict(row: EscalationPolicy) -> dict[str, Any]:
    return policy_spec(row).model_dump(mode="json", exclude_none=True)


def owning_team(incident: Incident) -> Team | None:
    """The owner of the most critical affected system that has one."""
    ranked = sorted(
        (s for s in incident.systems if s.owner_team is not None),
        key=lambda s: (
            CRITICALITY_ORDER.index(s.criticality) if s.criticality in CRITICALITY_ORDER else 9,
            s.name,
        ),
    )
    return ranked[0].owner_team if ranked else None


def policy_for(session: Session, incident: Incident) -> PolicyIn | None:
    """A policy naming one of the incident's systems wins over one naming the owning team."""
    policies = [policy_spec(p) for p in list_policies(session)]
    names = {s.name for s in incident.systems}
    for spec in policies:
        if names & set(spec.systems):
            return spec
    team = owning_team(incident)
    if team is not None:
        for spec in policies:
            if team.name in spec.teams:
                return spec
    return None
