"""Inventory operations: upsert and read AI systems, teams and risk register entries.

Upserts compare before they write, so applying the same definition twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from quell.errors import InvalidInput
from quell.incidents.models import Incident
from quell.inventory.models import AISystem, Risk, Team, TeamMember
from quell.inventory.schemas import RiskIn, SystemIn, TeamIn
from quell.store.db import first_or_missing


def _assign(obj: Any, values: dict[str, Any]) -> bool:
    changed = False
    for key, value in values.items():
        if getattr(obj, key) != value:
            setattr(obj, key, value)
            changed = True
    return changed


def get_team(session: Session, name: str) -> Team:
    return first_or_missing(
        session,
        select(Team).where(Team.name == name).options(selectinload(Team.members)),
        f"team {name!r} does not exist",
    )


def list_teams(session: Session) -> list[Team]:
    return list(
        session.scalars(select(Team).options(selectinload(Team.members)).order_by(Team.name))
    )


def upsert_team(session: Session, spec: TeamIn) -> str:
    """Create or update a team and make its member list match the spec exactly."""
    team = session.scalars(select(Team).where(Team.name == spec.name)).first()
    created = team is None
    if team is None:
        team = Team(name=spec.name)
        session.add(team)
    changed = _assign(team, {"description": spec.description, "slack_channel": spec.slack_channel})
    existing = {m.name: m for m in team.members}
    wanted = {m.name for m in spec.members}
    for member in list(team.members):
        if member.name not in wanted:
            team.members.remove(member)
            changed = True
    for m in spec.members:
        values = {"email": m.email, "phone": m.phone, "timezone": m.timezone}
        current = existing.get(m.name)
        if current is None:
            team.members.append(TeamMember(name=m.name, **values))
            changed = True
        else:
            changed |= _assign(current, values)
    session.flush()
    return "created" if created else ("updated" if changed else "unchanged")


def get_system(session: Session, name: str) -> AISystem:
    return first_or_missing(
        session,
        select(AISystem)
        .where(AISystem.name == name)
        .options(selectinload(AISystem.upstream), selectinload(AISystem.downstream)),
        f"AI system {name!r} does not exist",
    )


def list_systems(session: Session) -> list[AISystem]:
    return list(
        session.scalars(
            select(AISystem)
            .options(
                selectinload(AISystem.upstream),
                selectinload(AISystem.downstream),
                selectinload(AISystem.owner_team),
            )
            .order_by(AISystem.name)
        )
    )


def _check_acyclic(graph: dict[str, set[str]], start: str, field: str) -> None:
    """Refuse a dependency edge set that would make `start` its own upstream."""
    stack, seen = list(graph.get(start, ())), set()
    while stack:
        node = stack.pop()
        if node == start:
            raise InvalidInput(f"dependency cycle through {start!r}", field=field)
        if node not in seen:
            seen.add(node)
            stack.extend(graph.get(node, ()))


def upsert_system(session: Session, spec: SystemIn, *, field: str = "") -> str:
    """Create or update an AI system; its upstream list is replaced by `spec.depends_on`."""
    prefix = f"{field}." if field else ""
    team = None
    if spec.owner_team:
        team = session.scalars(select(Team).where(Team.name == spec.owner_team)).first()
        if team is None:
            raise InvalidInput(
                f"owner team {spec.owner_team!r} does not exist", field=f"{prefix}owner_team"
            )
    if spec.name in spec.depends_on:
        raise InvalidInput("a system cannot depend on itself", field=f"{prefix}depends_on")
    upstream = []
    if spec.depends_on:
        found = {
            s.name: s
            for s in session.scalars(select(AISystem).where(AISystem.name.in_(spec.depends_on)))
        }
        missing = [n for n in spec.depends_on if n not in found]
        if missing:
            raise InvalidInput(
                f"unknown upstream system(s): {', '.join(missing)}", field=f"{prefix}depends_on"
            )
        upstream = [found[n] for n in dict.fromkeys(spec.depends_on)]
        graph = dependency_graph(session)
        graph[spec.name] = set(spec.depends_on)
        _check_acyclic(graph, spec.name, f"{prefix}depends_on")
    system = session.scalars(select(AISystem).where(AISystem.name == spec.name)).first()
    created = system is None
    if system is None:
        system = AISystem(name=spec.name, kind=spec.kind)
        session.add(system)
    changed = _assign(
        system,
        {
            "kind": spec.kind,
            "description": spec.description,
            "owner_team_id": team.id if team else None,
            "criticality": spec.criticality,
            "current_model_version": spec.current_model_version,
            "previous_model_version": spec.previous_model_version,
            "safe_fallback": spec.safe_fallback,
            "data_classes": list(spec.data_classes),
            "regimes": list(spec.regimes),
            "runbooks": list(spec.runbooks),
            "labels": dict(spec.labels),
        },
    )
    if {s.name for s in system.upstream} != {s.name for s in upstream}:
        system.upstream = upstream
        changed = True
    session.flush()
    return "created" if created else ("updated" if changed else "unchanged")


def dependency_graph(session: Session) -> dict[str, set[str]]:
    """System name -> names of its upstream systems."""
    graph: dict[str, set[str]] = {}
    for system in list_systems(session):
        graph[system.name] = {u.name for u in system.upstream}
    return graph


def system_to_dict(system: AISystem) -> dict[str, Any]:
    return {
        "id": system.id,
        "name": system.name,
        "kind": system.kind,
        "description": system.description,
        "owner_team": system.owner_team.name if system.owner_team else None,
        "criticality": system.criticality,
        "depends_on": [u.name for u in system.upstream],
        "dependents": [d.name for d in system.downstream],
        "current_model_version": system.current_model_version,
        "previous_model_version": system.previous_model_version,
        "safe_fallback": system.safe_fallback,
        "data_classes": system.data_classes,
        "regimes": system.regimes,
        "runbooks": system.runbooks,
        "labels": system.labels,
    }


def team_to_dict(team: Team) -> dict[str, Any]:
    return {
        "id": team.id,
        "name": team.name,
        "description": team.description,
        "slack_channel": team.slack_channel,
        "members": [
            {"name": m.name, "email": m.email, "phone": m.phone, "timezone": m.timezone}
            for m in team.members
        ],
    }


def get_risk(session: Session, key: str) -> Risk:
    return first_or_missing(
        session, select(Risk).where(Risk.key == key), f"risk {key!r} does not exist"
    )


def list_risks(session: Session, *, system: str | None = None) -> list[Risk]:
    query = select(Risk).order_by(Risk.key)
    if system:
        query = query.join(AISystem, Risk.system_id == AISystem.id).where(AISystem.name == system)
    return list(session.scalars(query))


def upsert_risk(session: Session, spec: RiskIn, *, field: str = "") -> str:
    prefix = f"{field}." if field else ""
    system_id = None
    if spec.system:
        system = session.scalars(select(AISystem).where(AISystem.name == spec.system)).first()
        if system is None:
            raise InvalidInput(f"unknown AI system {spec.system!r}", field=f"{prefix}system")
        system_id = system.id
    risk = session.scalars(select(Risk).where(Risk.key == spec.key)).first()
    created = risk is None
    if risk is None:
        risk = Risk(key=spec.key, title=spec.title)
        session.add(risk)
    changed = _assign(
        risk,
        {
            "title": spec.title,
            "description": spec.description,
            "system_id": system_id,
            "likelihood": spec.likelihood,
            "impact": spec.impact,
            "owner": spec.owner,
            "controls": list(spec.controls),
            "status": spec.status,
            "archetype": spec.archetype,
        },
    )
    session.flush()
    if spec.incidents:
        changed |= link_risk(session, risk, spec.incidents, field=f"{prefix}incidents")
    return "created" if created else ("updated" if changed else "unchanged")


def link_risk(
    session: Session, risk: Risk, incident_ids: Iterable[int], *, field: str = "incidents"
) -> bool:
    """Link incidents to a risk entry (links are only ever added)."""
    from quell.inventory.models import risk_incidents

    ids = list(dict.fromkeys(incident_ids))
    found = set(session.scalars(select(Incident.id).where(Incident.id.in_(ids))))
    missing = [i for i in ids if i not in found]
    if missing:
        raise InvalidInput(f"unknown incident(s): {missing}", field=field)
    linked = set(
        session.scalars(
            select(risk_incidents.c.incident_id).where(risk_incidents.c.risk_id == risk.id)
        )
    )
    new = [i for i in ids if i not in linked]
    for incident_id in new:
        session.execute(risk_incidents.insert().values(risk_id=risk.id, incident_id=incident_id))
    return bool(new)


def risk_incident_ids(session: Session, risk: Risk) -> list[int]:
    from quell.inventory.models import risk_incidents

    return sorted(
        session.scalars(
            select(risk_incidents.c.incident_id).where(risk_incidents.c.risk_id == risk.id)
        )
    )


def risk_to_dict(session: Session, risk: Risk) -> dict[str, Any]:
    return {
        "id": risk.id,
        "key": risk.key,
        "title": risk.title,
        "description": risk.description,
        "system": risk.system.name if risk.system else None,
        "likelihood": risk.likelihood,
        "impact": risk.impact,
        "score": risk.likelihood * risk.impact,
        "owner": risk.owner,
        "controls": risk.controls,
        "status": risk.status,
        "archetype": risk.archetype,
        "incidents": risk_incident_ids(session, risk),
    }
