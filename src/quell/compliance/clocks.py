"""Regulatory clocks: the notification deadlines an incident may have started.

Deadlines come from the shipped data file (``data/regulations.yaml``); which incident facts
start which stage, and where each stage's clock is anchored, is in quell.compliance.clock_rules.
A clock applies when an affected system lists the regime and the incident's facts say the case
applies (facts come from decision gates, ``gate.answered`` events, or the incident's ``facts``).

This is a tracking aid, not legal advice: every payload says so.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from quell import scheduler
from quell.compliance.clock_rules import RULES, StageRule, add_period, fact_known_at, rule
from quell.compliance.models import ClockAnchor
from quell.compliance.regimes import regulations
from quell.errors import Conflict, InvalidInput
from quell.incidents import lifecycle
from quell.incidents.models import Incident, TimelineEvent
from quell.incidents.service import get_incident
from quell.incidents.timeline import append_event
from quell.timeutil import as_utc, iso, utcnow

DISCLAIMER = (
    "quell tracks these deadlines as an aid to planning; it is not legal advice. Whether an "
    "obligation applies, when its clock starts and what to file are for your legal counsel."
)
REMINDER_JOB = "clock.reminder"
REMINDER_POINTS = (50, 90, 100)  # percent of the time allowed; 100 marks it overdue


# ---------------------------------------------------------------- the clocks


def _human(seconds: float) -> str:
    sign = "-" if seconds < 0 else ""
    seconds = abs(int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{days}d"] if days else []
    parts += [f"{hours}h", f"{minutes:02d}m"]
    return sign + " ".join(parts)


def _stage_data(regime: str, index: int) -> dict[str, Any]:
    stages: list[dict[str, Any]] = regulations()[regime]["stages"]
    return stages[index]


def _status(deadline: datetime | None, met: datetime | None, now: datetime) -> str:
    if met is not None:
        return "met"
    if deadline is None:
        return "waiting"
    return "overdue" if now > deadline else "due"


def incident_regimes(incident: Incident) -> list[str]:
    return sorted({r for s in incident.systems for r in (s.regimes or [])})


def clocks(session: Session, incident_id: int, *, now: datetime | None = None) -> dict[str, Any]:
    """Every clock the incident has started (or may start soon), with deadline and status."""
    incident = get_incident(session, incident_id)
    at = as_utc(now) if now is not None else utcnow()
    events = list(
        session.scalars(
            select(TimelineEvent)
            .where(TimelineEvent.incident_id == incident_id)
            .order_by(TimelineEvent.seq)
        )
    )
    overrides = {
        (o.regime, o.stage): o
        for o in session.scalars(select(ClockAnchor).where(ClockAnchor.incident_id == incident_id))
    }
    regimes = set(incident_regimes(incident))
    out: list[dict[str, Any]] = []
    met_at: dict[tuple[str, str], datetime | None] = {}
    for r in RULES:
        if r.regime not in regimes:
            continue
        override = overrides.get((r.regime, r.stage))
        known = [t for t in (fact_known_at(incident, events, f) for f in r.facts) if t]
        started_by = sorted(f for f in r.facts if fact_known_at(incident, events, f) is not None)
        if not known and not (override and override.anchor_at):
            continue
        data = _stage_data(r.regime, r.index)
        anchor_source = "fact"
        if override and override.anchor_at:
            anchor, anchor_source = override.anchor_at, "override"
        elif r.anchor == "fact":
            anchor = min(known)
        elif r.anchor.startswith("met:"):
            anchor = met_at.get((r.regime, r.anchor[4:]))  # type: ignore[assignment]
            anchor_source = f"filing of {r.anchor[4:]}"
        else:  # resolved
            anchor, anchor_source = incident.resolved_at, "incident resolved"  # type: ignore[assignment]
        within = data["within"]
        deadline = add_period(anchor, within["value"], within["unit"]) if anchor else None
        cap = data.get("at_most")
        if deadline is not None and cap:
            # DORA: never later than a fixed time after the incident became known.
            deadline = min(deadline, add_period(incident.detected_at, cap["value"], cap["unit"]))
        met = override.met_at if override else None
        met_at[(r.regime, r.stage)] = met
        status = _status(deadline, met, at)
        remaining = (deadline - at).total_seconds() if deadline and not met else None
        regime = regulations()[r.regime]
        out.append(
            {
                "regime": r.regime,
                "stage": r.stage,
                "title": regime.get("title", r.regime),
                "case": data.get("case"),
                "to": data.get("to") or regime.get("to"),
                "ref": data.get("ref"),
                "qualifier": data.get("qualifier"),
                "within": within,
                "started_by": started_by,
                "anchor": {
                    "kind": r.anchor_kind,
                    "at": iso(anchor),
                    "source": anchor_source,
                    "reason": override.anchor_reason if override and override.anchor_at else "",
                    "set_by": override.anchor_set_by if override and override.anchor_at else None,
                },
                "deadline": iso(deadline),
                "status": status,
                "remaining_s": remaining,
                "remaining": _human(remaining) if remaining is not None else None,
                "met_at": iso(met),
                "met_by": override.met_by if override else None,
                "source_status": regime.get("status"),
                "disclaimer": DISCLAIMER,
            }
        )
    out.sort(key=lambda c: (c["deadline"] is None, c["deadline"] or "", c["regime"]))
    return {
        "incident_id": incident_id,
        "regimes": sorted(regimes),
        "now": iso(at),
        "clocks": out,
        "disclaimer": DISCLAIMER,
    }


def _override(session: Session, incident_id: int, regime: str, stage: str) -> ClockAnchor:
    row = session.scalars(
        select(ClockAnchor).where(
            ClockAnchor.incident_id == incident_id,
            ClockAnchor.regime == regime,
            ClockAnchor.stage == stage,
        )
    ).first()
    if row is None:
        row = ClockAnchor(incident_id=incident_id, regime=regime, stage=stage)
        session.add(row)
    return row


def _check_clock(incident: Incident, regime: str, stage: str) -> StageRule:
    found = rule(regime, stage)
    if regime not in incident_regimes(incident):
        raise InvalidInput(
            f"none of incident {incident.id}'s systems is subject to {regime}; "
            f"their regimes: {', '.join(incident_regimes(incident)) or 'none'}",
            field="regime",
        )
    return found


def set_anchor(
    session: Session,
    incident_id: int,
    regime: str,
    stage: str,
    at: datetime,
    *,
    actor: str,
    reason: str,
) -> dict[str, Any]:
    """Move a clock's anchor (e.g. awareness came earlier than the gate was answered)."""
    incident = get_incident(session, incident_id, lock=True)
    _check_clock(incident, regime, stage)
    when = as_utc(at)
    if when > utcnow():
        raise InvalidInput(
            f"the anchor {iso(when)} lies in the future; a clock can only start from a moment "
            "that has passed",
            field="at",
        )
    if not reason.strip():
        raise InvalidInput("say why the anchor moves (it goes on the timeline)", field="reason")
    before = clock_of(session, incident_id, regime, stage)
    row = _override(session, incident_id, regime, stage)
    row.anchor_at, row.anchor_reason, row.anchor_set_by = when, reason.strip(), actor
    session.flush()
    append_event(
        session,
        incident,
        actor=actor,
        kind="clock.anchor_set",
        data={
            "regime": regime,
            "stage": stage,
            "from": before["anchor"]["at"] if before else None,
            "to": iso(when),
        },
        reason=reason.strip(),
    )
    schedule_reminders(session, incident_id)
    found = clock_of(session, incident_id, regime, stage)
    assert found is not None
    return found


def mark_met(
    session: Session,
    incident_id: int,
    regime: str,
    stage: str,
    *,
    actor: str,
    reference: str = "",
    at: datetime | None = None,
) -> dict[str, Any]:
    """Record that the notification was filed: the clock stops and shows as met."""
    incident = get_incident(session, incident_id, lock=True)
    _check_clock(incident, regime, stage)
    when = as_utc(at) if at else utcnow()
    if when > utcnow():
        raise InvalidInput("a filing cannot be recorded in the future", field="at")
    if clock_of(session, incident_id, regime, stage) is None:
        raise Conflict(
            f"the {regime}/{stage} clock has not started for incident {incident_id}; "
            "answer the decision gate that starts it or set its anchor first"
        )
    row = _override(session, incident_id, regime, stage)
    if row.met_at is not None:
        raise Conflict(f"{regime}/{stage} was already recorded as met at {iso(row.met_at)}")
    row.met_at, row.met_by, row.met_reference = when, actor, reference.strip()
    session.flush()
    append_event(
        session,
        incident,
        actor=actor,
        kind="clock.met",
        data={"regime": regime, "stage": stage, "at": iso(when), "reference": reference.strip()},
    )
    for pct in REMINDER_POINTS:
        scheduler.cancel(session, _reminder_key(incident_id, regime, stage, pct))
    schedule_reminders(session, incident_id)  # a later stage may now have started
    found = clock_of(session, incident_id, regime, stage)
    assert found is not None
    return found


def clock_of(session: Session, incident_id: int, regime: str, stage: str) -> dict[str, Any] | None:
    for clock in clocks(session, incident_id)["clocks"]:
        if clock["regime"] == regime and clock["stage"] == stage:
            return clock
    return None


# ---------------------------------------------------------------- reminders


def _reminder_key(incident_id: int, regime: str, stage: str, pct: int) -> str:
    return f"clock:{incident_id}:{regime}:{stage}:{pct}"


def _reminded(events: list[TimelineEvent], regime: str, stage: str, pct: int, anchor: str) -> bool:
    return any(
        e.kind in ("clock.reminder", "clock.overdue")
        and e.data.get("regime") == regime
        and e.data.get("stage") == stage
        and e.data.get("percent") == pct
        and e.data.get("anchor") == anchor
        for e in events
    )


def schedule_reminders(session: Session, incident_id: int) -> int:
    """Plan a reminder at 50% and 90% of each running clock's time and an overdue mark at
    its deadline; already-sent ones are skipped. Returns how many are pending."""
    view = clocks(session, incident_id)
    events = list(
        session.scalars(
            select(TimelineEvent).where(
                TimelineEvent.incident_id == incident_id,
                TimelineEvent.kind.in_(("clock.reminder", "clock.overdue")),
            )
        )
    )
    count = 0
    for clock in view["clocks"]:
        if clock["status"] not in ("due", "overdue") or not clock["deadline"]:
            continue
        anchor = datetime.fromisoformat(clock["anchor"]["at"])
        deadline = datetime.fromisoformat(clock["deadline"])
        for pct in REMINDER_POINTS:
            if _reminded(events, clock["regime"], clock["stage"], pct, clock["anchor"]["at"]):
                continue
            due = anchor + (deadline - anchor) * (pct / 100)
            scheduler.schedule(
                session,
                REMINDER_JOB,
                due,
                {
                    "incident_id": incident_id,
                    "regime": clock["regime"],
                    "stage": clock["stage"],
                    "percent": pct,
                    "anchor": clock["anchor"]["at"],
                },
                key=_reminder_key(incident_id, clock["regime"], clock["stage"], pct),
            )
            count += 1
    return count


def _on_reminder(session: Session, payload: dict[str, Any]) -> None:
    """Scheduler job: a clock reached 50% / 90% of its time, or its deadline."""
    from quell.escalation import notify

    incident_id = int(payload["incident_id"])
    regime, stage, pct = payload["regime"], payload["stage"], int(payload["percent"])
    clock = clock_of(session, incident_id, regime, stage)
    if clock is None or clock["status"] == "met" or clock["anchor"]["at"] != payload["anchor"]:
        return  # filed, or re-anchored since (a fresh reminder was planned then)
    events = list(
        session.scalars(
            select(TimelineEvent).where(
                TimelineEvent.incident_id == incident_id,
                TimelineEvent.kind.in_(("clock.reminder", "clock.overdue")),
            )
        )
    )
    if _reminded(events, regime, stage, pct, payload["anchor"]):
        return
    incident = get_incident(session, incident_id)
    kind = "clock.overdue" if pct >= 100 else "clock.reminder"
    append_event(
        session,
        incident,
        actor="quell",
        kind=kind,
        data={
            "regime": regime,
            "stage": stage,
            "percent": pct,
            "anchor": payload["anchor"],
            "deadline": clock["deadline"],
        },
    )
    title = clock["title"].split(":")[0]
    subject = (
        f"[{incident.severity}] #{incident.id}: {title} ({stage}) deadline passed"
        if pct >= 100
        else f"[{incident.severity}] #{incident.id}: {title} ({stage}) {pct}% of time used"
    )
    body = (
        f"Incident #{incident.id} {incident.title}\n"
        f"{clock['title']}, stage {stage}: deadline {clock['deadline']}.\n"
        f"Mark it met once filed: quell clocks {incident.id} --met {regime}/{stage}\n\n"
        f"{DISCLAIMER}"
    )
    if incident.status in lifecycle.OPEN_STATUSES or pct >= 90:
        notify.broadcast(
            session, incident, subject=subject, body=body, audience="internal", actor="quell"
        )


def sweep(engine: Any) -> None:
    """Periodic: plan reminders for clocks started since the last sweep (e.g. by a gate)."""
    from quell.store.db import session_scope

    with session_scope(engine) as session:
        ids = list(
            session.scalars(select(Incident.id).where(Incident.status.in_(lifecycle.OPEN_STATUSES)))
        )
    for incident_id in ids:
        with session_scope(engine) as session:
            incident = session.get(Incident, incident_id)
            if incident is not None and incident_regimes(incident):
                schedule_reminders(session, incident_id)


scheduler.register(REMINDER_JOB, _on_reminder)
scheduler.register_periodic("clocks.reminders", sweep, every_s=60.0)
