"""Who a page reaches: the people and teams behind a policy level, and who is best placed to
respond first (on call now, or resolved recent incidents on the same systems)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from quell.escalation.oncall import get_schedule, who_is_on_call
from quell.escalation.schemas import LevelIn, PolicyIn
from quell.incidents.models import Incident, TimelineEvent, incident_systems
from quell.inventory.models import Team, TeamMember
from quell.timeutil import iso


@dataclass
class Recipients:
    """The people and channels one level reaches."""

    people: list[str] = field(default_factory=list)
    teams: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def find_member(session: Session, name: str) -> TeamMember | None:
    """The team member of this name, if any team has one."""
    return session.scalars(select(TeamMember).where(TeamMember.name == name)).first()


def resolve_level(session: Session, level: LevelIn, at: datetime) -> Recipients:
    out = Recipients()

    def add_person(name: str) -> None:
        if name not in out.people:
            out.people.append(name)

    def add_team(name: str) -> None:
        if name not in out.teams:
            out.teams.append(name)

    for target in level.targets:
        if target.schedule:
            row = get_schedule(session, target.schedule)
            who = who_is_on_call(session, row, at)
            if who.person:
                add_person(who.person)
                out.notes.append(f"{who.person} is on call for {row.name}")
            else:
                out.notes.append(f"schedule {row.name} has nobody on call")
            if row.team:
                add_team(row.team)
        elif target.team:
            team = session.scalars(select(Team).where(Team.name == target.team)).first()
            if team is not None:
                add_team(team.name)
                for member in team.members:
                    add_person(member.name)
        elif target.person:
            add_person(target.person)
            person = find_member(session, target.person)
            if person is not None:
                add_team(person.team.name)
    return out


def suggest_first_responder(
    session: Session, incident: Incident, policy: PolicyIn | None, at: datetime
) -> list[dict[str, Any]]:
    """Ranked candidates: who is on call at level 1, then who resolved recent incidents on the
    same systems (most recent first)."""
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    if policy is not None:
        level = policy.levels[0]
        for target in level.targets:
            if target.schedule:
                who = who_is_on_call(session, target.schedule, at)
                if who.person and who.person not in seen:
                    seen.add(who.person)
                    out.append(
                        {
                            "person": who.person,
                            "reason": f"on call for {target.schedule} until {iso(who.until)}",
                        }
                    )
            elif target.person and target.person not in seen:
                seen.add(target.person)
                out.append({"person": target.person, "reason": "level-1 target of the policy"})
    for person, count, last_id in past_resolvers(session, incident):
        if person not in seen:
            seen.add(person)
            out.append(
                {
                    "person": person,
                    "reason": f"resolved {count} recent incident(s) on these systems "
                    f"(last #{last_id})",
                }
            )
    return out


def past_resolvers(
    session: Session, incident: Incident, *, limit: int = 20
) -> list[tuple[str, int, int]]:
    """(person, incidents resolved, most recent incident id) over the last `limit` resolved
    incidents sharing a system with this one, most recent resolver first."""
    system_ids = [s.id for s in incident.systems]
    if not system_ids:
        return []
    recent = list(
        session.execute(
            select(Incident.id)
            .join(incident_systems, incident_systems.c.incident_id == Incident.id)
            .where(
                incident_systems.c.system_id.in_(system_ids),
                Incident.id != incident.id,
                Incident.resolved_at.is_not(None),
            )
            .group_by(Incident.id, Incident.resolved_at)
            .order_by(Incident.resolved_at.desc())
            .limit(limit)
        ).scalars()
    )
    if not recent:
        return []
    rows = session.execute(
        select(TimelineEvent.incident_id, TimelineEvent.actor, TimelineEvent.seq)
        .where(TimelineEvent.incident_id.in_(recent), TimelineEvent.kind == "incident.resolved")
        .order_by(TimelineEvent.seq)
    ).all()
    resolver = {incident_id: actor for incident_id, actor, _seq in rows}  # the last resolve wins
    counts: dict[str, list[int]] = {}
    for incident_id in recent:  # most recent first
        person = resolver.get(incident_id)
        if person:
            counts.setdefault(person, []).append(incident_id)
    return [(person, len(ids), ids[0]) for person, ids in counts.items()]
