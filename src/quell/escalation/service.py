"""Paging: the owning team from the inventory, the policy it uses, level after level until
somebody acknowledges. Each level's timeout is a durable scheduler job keyed by incident, so an
acknowledgement cancels it and a restart does not lose it. Policies live in
quell.escalation.policies, who a level reaches in quell.escalation.recipients."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from quell import scheduler
from quell.errors import Conflict, InvalidInput
from quell.escalation import notify
from quell.escalation.models import Escalation, EscalationPolicy
from quell.escalation.policies import owning_team, policy_for, policy_spec
from quell.escalation.recipients import (
    Recipients,
    find_member,
    resolve_level,
    suggest_first_responder,
)
from quell.escalation.schemas import LevelIn, PolicyIn, TargetIn
from quell.incidents import lifecycle
from quell.incidents.models import Incident, TimelineEvent
from quell.incidents.service import get_incident
from quell.incidents.timeline import append_event
from quell.inventory.models import Team
from quell.timeutil import iso

PAGE_JOB = "escalation.page"
TIMEOUT_JOB = "escalation.timeout"
FALLBACK_SUFFIX = " (no policy)"


def job_key(incident_id: int) -> str:
    """One pending escalation timer per incident, under this key."""
    return f"escalation:{incident_id}"


# ---------------------------------------------------------------- paging


def _page_text(
    incident: Incident, level: int, total: int, recipients: Recipients, first: str | None
) -> tuple[str, str]:
    subject = f"[{incident.severity}] Page: incident #{incident.id} {incident.title}"
    lines = [
        f"Incident #{incident.id}: {incident.title}",
        f"Severity {incident.severity}, archetype {incident.archetype}, status {incident.status}.",
        f"Systems: {', '.join(s.name for s in incident.systems) or '-'}.",
        f"Escalation level {level} of {total}; paging {', '.join(recipients.people) or 'nobody'}.",
    ]
    if first:
        lines.append(f"Suggested first responder: {first}.")
    lines.append(f"Acknowledge to stop escalation: quell incidents ack {incident.id}")
    return subject, "\n".join(lines)


def _page_level(
    session: Session,
    incident: Incident,
    escalation: Escalation,
    policy: PolicyIn,
    level_no: int,
    *,
    actor: str,
    at: datetime,
    reason: str = "",
) -> None:
    level = policy.levels[level_no - 1]
    recipients = resolve_level(session, level, at)
    subject, body = _page_text(
        incident, level_no, len(policy.levels), recipients, escalation.first_responder
    )
    deliveries = []
    emailing = notify.SmtpSettings.configured()
    if recipients.people and not emailing:
        recipients.notes.append("people not emailed: QUELL_SMTP_HOST is not set")
    for person in recipients.people:
        member = find_member(session, person)
        if emailing and member is not None and member.email:
            deliveries.append(
                notify.send(
                    session,
                    incident,
                    f"mailto:{member.email}",
                    subject=subject,
                    body=f"{person},\n\n{body}",
                    actor=actor,
                    audience="internal",
                )
            )
    seen: set[str] = set()
    for team in recipients.teams:
        for channel in notify.channels_for_team(session, team):
            if channel.name not in seen:
                seen.add(channel.name)
                deliveries.append(
                    notify.send(
                        session,
                        incident,
                        channel,
                        subject=subject,
                        body=body,
                        actor=actor,
                        audience="internal",
                    )
                )
    escalation.level = level_no
    escalation.status = "paging"
    # After the last level's timeout the escalation is marked exhausted (or starts again).
    due = at + timedelta(minutes=level.timeout_minutes)
    escalation.next_due_at = due
    scheduler.schedule(
        session,
        TIMEOUT_JOB,
        due,
        {"incident_id": incident.id, "level": level_no, "cycle": escalation.cycle},
        key=job_key(incident.id),
    )
    append_event(
        session,
        incident,
        actor=actor,
        kind="escalation.paged",
        data={
            "policy": policy.name,
            "level": level_no,
            "cycle": escalation.cycle,
            "targets": [t.describe() for t in level.targets],
            "people": recipients.people,
            "notes": recipients.notes,
            "deliveries": [
                {"id": d.id, "channel": d.channel, "status": d.status} for d in deliveries
            ],
            "first_responder": escalation.first_responder,
            "escalates_at": iso(due),
        },
        reason=reason,
    )


def _fallback_policy(team: Team) -> PolicyIn:
    """No policy names the team or its systems: page the owning team once, as one level."""
    # Built without validation: the name is deliberately not a valid policy name, so it can
    # never collide with (or be looked up as) a configured policy.
    return PolicyIn.model_construct(
        name=f"{team.name}{FALLBACK_SUFFIX}",
        description="",
        teams=[team.name],
        systems=[],
        levels=[LevelIn(targets=[TargetIn(team=team.name)])],
        repeat=0,
        roles={},
    )


def page(
    session: Session,
    incident_id: int,
    *,
    actor: str,
    reason: str = "",
    level: int = 1,
    explicit: bool = True,
) -> Escalation:
    """Page the incident's owning team from `level` on. Explicit pages refuse what cannot be
    routed; the automatic page on open records it on the timeline instead."""
    incident = get_incident(session, incident_id, lock=True)
    if incident.status not in lifecycle.OPEN_STATUSES:
        raise Conflict(f"incident {incident_id} is {incident.status}; there is nobody to page")
    at = scheduler.now()
    team = owning_team(incident)
    policy = policy_for(session, incident)
    if policy is None and team is not None:
        policy = _fallback_policy(team)
    escalation = session.scalars(
        select(Escalation).where(Escalation.incident_id == incident.id)
    ).first()
    if escalation is None:
        escalation = Escalation(incident_id=incident.id, started_at=at, level=0, cycle=0)
        session.add(escalation)
    if policy is None:
        message = (
            f"incident {incident_id} has no owning team: give one of its systems an owner_team "
            "or name a system in an escalation policy"
        )
        if explicit:
            raise Conflict(message)
        escalation.status = "unrouted"
        append_event(
            session, incident, actor=actor, kind="escalation.unrouted", data={"message": message}
        )
        session.flush()
        return escalation
    if not 1 <= level <= len(policy.levels):
        raise InvalidInput(
            f"level must be between 1 and {len(policy.levels)} for policy {policy.name!r}",
            field="level",
        )
    suggestions = suggest_first_responder(session, incident, policy, at)
    escalation.policy = policy.name
    escalation.team = team.name if team is not None else None
    escalation.suggestions = suggestions
    escalation.first_responder = suggestions[0]["person"] if suggestions else None
    _page_level(session, incident, escalation, policy, level, actor=actor, at=at, reason=reason)
    session.flush()
    return escalation


def _policy_by_name(
    session: Session, escalation: Escalation, incident: Incident
) -> PolicyIn | None:
    if escalation.policy and not escalation.policy.endswith(FALLBACK_SUFFIX):
        row = session.scalars(
            select(EscalationPolicy).where(EscalationPolicy.name == escalation.policy)
        ).first()
        return policy_spec(row) if row is not None else None
    team = owning_team(incident)
    return _fallback_policy(team) if team is not None else None


def _on_timeout(session: Session, payload: dict[str, Any]) -> None:
    """Scheduler job: nobody acknowledged in time; page the next level (or give up)."""
    incident = session.get(Incident, int(payload["incident_id"]))
    escalation = session.scalars(
        select(Escalation).where(Escalation.incident_id == int(payload["incident_id"]))
    ).first()
    if incident is None or escalation is None or escalation.status != "paging":
        return
    if payload.get("level") != escalation.level or payload.get("cycle") != escalation.cycle:
        return  # a stale timer from before a manual re-page
    if incident.status != "triggered":
        escalation.status = "acknowledged"
        return
    policy = _policy_by_name(session, escalation, incident)
    if policy is None:
        return
    at = scheduler.now()
    nxt = escalation.level + 1
    if nxt > len(policy.levels):
        if escalation.cycle < policy.repeat:
            escalation.cycle += 1
            nxt = 1
        else:
            escalation.status, escalation.next_due_at = "exhausted", None
            append_event(
                session,
                incident,
                actor="quell",
                kind="escalation.exhausted",
                data={
                    "policy": policy.name,
                    "levels": len(policy.levels),
                    "cycles": escalation.cycle + 1,
                },
                reason="nobody acknowledged after the last level",
            )
            return
    _page_level(
        session,
        incident,
        escalation,
        policy,
        nxt,
        actor="quell",
        at=at,
        reason=f"not acknowledged within {policy.levels[escalation.level - 1].timeout_minutes} min",
    )


def _on_open(session: Session, payload: dict[str, Any]) -> None:
    """Scheduler job: the automatic first page of a new incident."""
    incident = session.get(Incident, int(payload["incident_id"]))
    if incident is None or incident.status != "triggered":
        return
    existing = session.scalars(
        select(Escalation).where(Escalation.incident_id == incident.id)
    ).first()
    if existing is not None and existing.status != "unrouted":
        return
    page(session, incident.id, actor="quell", explicit=False, reason="incident opened")


def on_incident_change(session: Session, incident: Incident, what: str, actor: str) -> None:
    """Change listener: a new incident gets its first page from the worker, at once.

    Paging runs in a job rather than inline so that creating an incident (on the ingest
    path) never waits on a webhook or an SMTP server.
    """
    if what == "created" and incident.status == "triggered":
        scheduler.schedule(
            session,
            PAGE_JOB,
            scheduler.now(),
            {"incident_id": incident.id},
            key=job_key(incident.id),
        )


def on_transition(
    session: Session, incident: Incident, current: str, target: str, actor: str
) -> None:
    """Transition listener: leaving 'triggered' (acknowledged, or straight to mitigated or
    resolved) cancels the pending escalation timer. The timeline says so only when somebody
    had been paged; an unsent first page just disappears with the acknowledgement."""
    if current != "triggered":
        return
    cancelled = scheduler.cancel(session, job_key(incident.id))
    escalation = session.scalars(
        select(Escalation).where(Escalation.incident_id == incident.id)
    ).first()
    if escalation is None or escalation.status != "paging":
        return
    escalation.status, escalation.next_due_at = "acknowledged", None
    append_event(
        session,
        incident,
        actor=actor,
        kind="escalation.stopped",
        data={"level": escalation.level, "status": target, "timer_cancelled": cancelled},
    )


def escalation_view(session: Session, incident_id: int) -> dict[str, Any]:
    """The incident's escalation: policy, level, status, pending timer, pages and deliveries."""
    incident = get_incident(session, incident_id)
    escalation = session.scalars(
        select(Escalation).where(Escalation.incident_id == incident_id)
    ).first()
    pages = session.scalars(
        select(TimelineEvent)
        .where(
            TimelineEvent.incident_id == incident_id,
            TimelineEvent.kind.in_(
                (
                    "escalation.paged",
                    "escalation.exhausted",
                    "escalation.stopped",
                    "escalation.unrouted",
                )
            ),
        )
        .order_by(TimelineEvent.seq)
    )
    jobs = scheduler.pending(session, key=job_key(incident_id))
    team = owning_team(incident)
    return {
        "incident_id": incident_id,
        "owning_team": team.name if team is not None else None,
        "policy": escalation.policy if escalation else None,
        "status": escalation.status if escalation else "not_started",
        "level": escalation.level if escalation else 0,
        "cycle": escalation.cycle if escalation else 0,
        "first_responder": escalation.first_responder if escalation else None,
        "suggestions": escalation.suggestions if escalation else [],
        "next_due_at": iso(jobs[0].due_at) if jobs else None,
        "history": [{"at": iso(e.at), "kind": e.kind, "actor": e.actor, **e.data} for e in pages],
    }


scheduler.register(TIMEOUT_JOB, _on_timeout)
scheduler.register(PAGE_JOB, _on_open)
