"""What We Know updates: drafted from the incident's facts per audience, published by a person.

A draft is never stored and never sent: it is text for a person to edit. Publishing records the
full text on the timeline (`update.published`) and sends it through the incident's notifiers.
Templates are deterministic: the same facts give the same draft.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from quell.communication import cadence
from quell.errors import InvalidInput
from quell.incidents.lifecycle import OPEN_STATUSES
from quell.incidents.models import Incident, TimelineEvent
from quell.incidents.service import current_roles, get_incident
from quell.incidents.timeline import append_event
from quell.timeutil import as_utc, iso, parse_time, utcnow
from quell.triage import sources

AUDIENCES = ("internal", "executive", "customer", "regulator")
FIELDS = ("what_happened", "what_we_are_testing", "what_we_are_doing", "what_we_do_not_know")
FIELD_TITLES = {
    "what_happened": "What happened",
    "what_we_are_testing": "What we are testing",
    "what_we_are_doing": "What we are doing",
    "what_we_do_not_know": "What we do not know yet",
}
MAX_FIELD_CHARS = 20_000

# Plain-language wording of each archetype for people outside the response team.
PLAIN_ARCHETYPE = {
    "prompt_injection": "crafted input made the AI assistant ignore its instructions",
    "data_exfiltration": "the AI system revealed information it should not have",
    "model_manipulation": "manipulated input led the AI system to give wrong results",
    "misinformation_cascade": "the AI system produced incorrect information that spread further",
    "toxicity_abuse": "the AI system produced harmful or offensive content",
    "agentic_misalignment": "an automated assistant took actions outside what it was allowed",
    "unclassified": "an AI-powered feature behaved unexpectedly",
}
# Decision gates whose answer every audience cares about, with the question in plain words.
GATE_QUESTIONS = {
    "personal_data_exposed": "whether personal data was exposed",
    "safety_critical": "whether the affected decisions are safety-critical",
    "unauthorized_action_taken": "whether any unauthorised action was taken",
    "harmful_output_reached_users": "whether harmful or false output reached users",
}


def check_audience(audience: str) -> str:
    if audience not in AUDIENCES:
        raise InvalidInput(
            f"unknown audience {audience!r}; expected one of {', '.join(AUDIENCES)}",
            field="audience",
        )
    return audience


@dataclass
class IncidentFacts:
    """What is established about an incident, gathered once for every audience's template."""

    incident: Incident
    roles: dict[str, str]
    systems: list[dict[str, Any]]
    gates: dict[str, Any]
    actions: list[dict[str, Any]]
    steps_done: list[str]
    notes: list[str]
    changes: list[dict[str, Any]]
    alert_kinds: list[str]
    first_signal_at: datetime | None
    next_update_at: datetime | None
    public_names: list[str] = field(default_factory=list)
    open_questions: dict[str, str] = field(default_factory=dict)  # gate key -> question
    deadlines: list[str] = field(default_factory=list)  # running regulatory clocks, one line each


def gather_facts(session: Session, incident: Incident) -> IncidentFacts:
    """Read the facts a What We Know update may state, from the incident and its timeline."""
    gates: dict[str, Any] = {}
    actions: dict[str, dict[str, Any]] = {}
    steps: list[str] = []
    notes: list[str] = []
    events = session.scalars(
        select(TimelineEvent)
        .where(TimelineEvent.incident_id == incident.id)
        .order_by(TimelineEvent.seq)
        .limit(5000)
    )
    for event in events:
        data = event.data or {}
        if event.kind == "gate.answered" and "key" in data:
            gates[str(data["key"])] = data.get("answer")
        elif event.kind.startswith("action."):
            key = str(data.get("action_id") or data.get("id") or event.id)
            entry = actions.setdefault(key, {"type": None, "state": None})
            entry["type"] = data.get("type") or data.get("action_type") or entry["type"]
            entry["state"] = event.kind.split(".", 1)[1]
        elif event.kind == "checklist.step_done":
            steps.append(str(data.get("text", "")))
        elif event.kind == "note":
            notes.append(str(data.get("text", "")))
    for key in GATE_QUESTIONS:
        if key not in gates and key in incident.facts:
            gates[key] = incident.facts[key]
    systems = [
        {
            "name": s.name,
            "kind": s.kind,
            "criticality": s.criticality,
            "model_version": s.current_model_version,
            "data_classes": list(s.data_classes or []),
            "regimes": list(s.regimes or []),
            "fallback": s.safe_fallback,
            "public_name": (s.labels or {}).get("public_name"),
        }
        for s in incident.systems
    ]
    names = [s.name for s in incident.systems]
    changes, _ = sources.changes(
        session, names, incident.detected_at - timedelta(hours=24), incident.detected_at, limit=5
    )
    alerts, _ = sources.incident_alerts(session, incident.id, limit=50)
    first = min((a["first_seen_at"] for a in alerts), default=None)
    return IncidentFacts(
        incident=incident,
        roles=current_roles(incident),
        systems=systems,
        gates=gates,
        actions=list(actions.values()),
        steps_done=[s for s in steps if s],
        notes=notes[-3:],
        changes=changes,
        alert_kinds=sorted({a["kind"] for a in alerts}),
        first_signal_at=first,
        next_update_at=cadence.next_update_due(session, incident),
        public_names=[str(s["public_name"]) for s in systems if s["public_name"]],
        open_questions=_open_questions(session, incident, gates),
        deadlines=_deadlines(session, incident),
    )


def _deadlines(session: Session, incident: Incident) -> list[str]:
    """The regulatory clocks the incident has started, as 'regime stage: due by ...' lines."""
    try:
        from quell.compliance.clocks import clocks
    except ImportError:  # regulatory clocks are not installed
        return []
    out = []
    for clock in clocks(session, incident.id)["clocks"]:
        if clock.get("deadline") and not clock.get("met_at"):
            when = _when(parse_time(str(clock["deadline"])))
            out.append(f"{clock['title']} ({clock['stage']}): due by {when}, {clock['status']}")
    return out


def _open_questions(session: Session, incident: Incident, gates: dict[str, Any]) -> dict[str, str]:
    """Decision gates that apply to the incident and are still unanswered: explicit unknowns."""
    try:
        from quell.remediation.gates import incident_gates
    except ImportError:  # no decision gates installed: fall back to the questions every
        # AI incident must settle
        return {k: q for k, q in GATE_QUESTIONS.items() if k not in gates}
    out = {}
    for gate in incident_gates(session, incident):
        if not gate["answered"] and gate["key"] not in gates:
            question = str(gate["question"]).rstrip("?")
            out[gate["key"]] = GATE_QUESTIONS.get(gate["key"], f"the answer to: {question}")
    return out


def _when(value: datetime | None) -> str:
    return as_utc(value).strftime("%Y-%m-%d %H:%M UTC") if value else "not set"


def _answer(value: Any) -> str:
    if value is True or str(value).lower() in ("yes", "true"):
        return "yes"
    if value is False or str(value).lower() in ("no", "false"):
        return "no"
    return str(value)


def _status_phrase(status: str) -> str:
    return {
        "triggered": "we are investigating",
        "acknowledged": "the response team is working on it",
        "mitigated": "the impact has been contained and we are monitoring",
        "resolved": "the incident is resolved",
        "closed": "the incident is closed",
    }.get(status, status)


def _action_lines(facts: IncidentFacts, *, plain: bool) -> list[str]:
    plain_words = {
        "revoke_agent": "stopped the automated assistant from taking further actions",
        "route_fallback": "switched the feature to a safe fallback",
        "rollback_model": "returned to the previous version of the model",
        "pause_decisions": "paused automated decisions",
        "tighten_filters": "tightened the safety filters",
        "rate_limit": "limited the rate of requests",
    }
    out = []
    for action in facts.actions:
        kind = str(action["type"] or "containment action")
        state = str(action["state"])
        if plain:
            if state in ("executed", "approved"):
                out.append(plain_words.get(kind, "took a containment step"))
        else:
            out.append(f"{kind} ({state})")
    return list(dict.fromkeys(out))


def _unknowns(facts: IncidentFacts, *, for_public: bool) -> list[str]:
    out = [
        f"We do not yet know {question}."
        for key, question in facts.open_questions.items()
        if key == "personal_data_exposed" or not for_public
    ]
    if facts.incident.status in ("triggered", "acknowledged"):
        out.append("The root cause is not confirmed yet.")
    if "users_affected" not in facts.incident.facts:
        out.append("We do not yet know how many people are affected.")
    if facts.first_signal_at is None and not for_public:
        out.append("When the problem first started is not established (no signals attached).")
    return out or ["No open questions are recorded; we will say so if that changes."]


def _internal(facts: IncidentFacts) -> dict[str, str]:
    inc = facts.incident
    systems = ", ".join(
        f"{s['name']} ({s['kind']}, model {s['model_version'] or 'unknown'})" for s in facts.systems
    )
    happened = (
        f"#{inc.id} {inc.title}. {inc.severity}, archetype {inc.archetype}, status {inc.status}. "
        f"Detected {_when(inc.detected_at)} via {inc.source}."
    )
    if systems:
        happened += f" Affected: {systems}."
    if facts.first_signal_at:
        happened += f" First signal {_when(facts.first_signal_at)}."
    if facts.alert_kinds:
        happened += f" Signals: {', '.join(facts.alert_kinds)}."
    testing = [
        f"Whether the {c['kind']} change on {c['system']} at {c['occurred_at'][:16]} "
        f"({c['from_version'] or '?'} -> {c['to_version'] or '?'}) caused it."
        if c["from_version"] or c["to_version"]
        else f"Whether the {c['kind']} change on {c['system']} ({c['summary']}) caused it."
        for c in facts.changes[:3]
    ]
    testing += [f"Note: {n}" for n in facts.notes]
    doing = [f"Action: {a}" for a in _action_lines(facts, plain=False)]
    doing += [f"Done: {s}" for s in facts.steps_done[-5:]]
    if facts.roles:
        doing.append("Roles: " + ", ".join(f"{k} {v}" for k, v in sorted(facts.roles.items())))
    gates = [f"{k}: {_answer(v)}" for k, v in sorted(facts.gates.items())]
    if gates:
        doing.append("Decisions: " + "; ".join(gates))
    if facts.deadlines:
        doing.append("Regulatory clocks: " + "; ".join(facts.deadlines) + ".")
    return {
        "what_happened": happened,
        "what_we_are_testing": " ".join(testing) or "Hypotheses are being formed from triage.",
        "what_we_are_doing": " ".join(doing) or f"Triage is under way; {inc.status}.",
        "what_we_do_not_know": " ".join(_unknowns(facts, for_public=False)),
    }


def _executive(facts: IncidentFacts) -> dict[str, str]:
    inc = facts.incident
    critical = [s["name"] for s in facts.systems if s["criticality"] in ("high", "critical")]
    elapsed = (utcnow() - as_utc(inc.detected_at)).total_seconds() / 60
    users = inc.facts.get("users_affected")
    names = [str(s["name"]) for s in facts.systems]
    happened = (
        f"{inc.severity} incident on {', '.join(names) or 'an AI system'}: "
        f"{PLAIN_ARCHETYPE.get(inc.archetype, inc.archetype)}. Open for {elapsed:.0f} minutes; "
        f"{_status_phrase(inc.status)}."
    )
    if critical:
        happened += f" High-criticality systems involved: {', '.join(critical)}."
    if users is not None:
        happened += f" People affected so far: {users}."
    decisions = [
        f"{GATE_QUESTIONS.get(k, k).capitalize()}: {_answer(v)}."
        for k, v in sorted(facts.gates.items())
    ]
    doing = [f"We have {a}." for a in _action_lines(facts, plain=True)]
    pending = [a for a in facts.actions if a["state"] == "proposed"]
    if pending:
        doing.append(f"{len(pending)} containment action(s) await approval.")
    return {
        "what_happened": happened,
        "what_we_are_testing": (
            "The team is confirming the cause"
            + (" and checking a recent change to the system." if facts.changes else ".")
        ),
        "what_we_are_doing": " ".join(doing + decisions) or "The response team is containing it.",
        "what_we_do_not_know": " ".join(_unknowns(facts, for_public=False)),
    }


def _customer(facts: IncidentFacts) -> dict[str, str]:
    inc = facts.incident
    # No system names, model versions, people or internal jargon: only what a customer can use.
    feature = " and ".join(facts.public_names) or "one of our AI-powered features"
    happened = (
        f"Since {_when(facts.first_signal_at or inc.detected_at)}, {feature} has not behaved as it "
        f"should: {PLAIN_ARCHETYPE.get(inc.archetype, 'it behaved unexpectedly')}."
    )
    if _answer(facts.gates.get("personal_data_exposed")) == "yes":
        happened += " Some personal data may have been exposed; affected people will be contacted."
    doing = [f"We have {a}." for a in _action_lines(facts, plain=True)]
    return {
        "what_happened": happened,
        "what_we_are_testing": "We are investigating the cause and checking recent changes.",
        "what_we_are_doing": " ".join(doing) or "Our team is working to contain the problem.",
        "what_we_do_not_know": " ".join(_unknowns(facts, for_public=True)),
    }


def _regulator(facts: IncidentFacts) -> dict[str, str]:
    inc = facts.incident
    classes = sorted({c for s in facts.systems for c in s["data_classes"]})
    regimes = sorted({r for s in facts.systems for r in s["regimes"]})
    systems = "; ".join(
        f"{s['name']} ({s['kind']} AI system, criticality {s['criticality']})"
        for s in facts.systems
    )
    times = [
        f"detected {_when(inc.detected_at)}",
        f"first signal {_when(facts.first_signal_at)}" if facts.first_signal_at else "",
        f"acknowledged {_when(inc.acknowledged_at)}" if inc.acknowledged_at else "",
        f"contained {_when(inc.mitigated_at)}" if inc.mitigated_at else "",
        f"resolved {_when(inc.resolved_at)}" if inc.resolved_at else "",
    ]
    happened = (
        f"Incident {inc.id}, severity {inc.severity}, classified as {inc.archetype}. "
        f"Systems: {systems or 'none recorded'}. Times (UTC): {', '.join(t for t in times if t)}. "
        f"Data classes processed: {', '.join(classes) or 'none recorded'}. "
        f"Regimes considered: {', '.join(regimes) or 'none recorded'}."
    )
    decisions = [
        f"{GATE_QUESTIONS.get(k, k)}: {_answer(v)}" for k, v in sorted(facts.gates.items())
    ]
    if decisions:
        happened += " Determinations: " + "; ".join(decisions) + "."
    doing = [f"Containment: {a}." for a in _action_lines(facts, plain=False)]
    doing += [f"Notification: {d}." for d in facts.deadlines]
    return {
        "what_happened": happened,
        "what_we_are_testing": "Root cause analysis is in progress"
        + (
            f"; {len(facts.changes)} change(s) preceding detection are under review."
            if facts.changes
            else "."
        ),
        "what_we_are_doing": " ".join(doing) or "Containment measures are being assessed.",
        "what_we_do_not_know": " ".join(_unknowns(facts, for_public=False)),
    }


TEMPLATES = {
    "internal": _internal,
    "executive": _executive,
    "customer": _customer,
    "regulator": _regulator,
}


def render_text(audience: str, fields: dict[str, str], next_update_at: str | None) -> str:
    """The update as one plain text, as it is published and sent."""
    lines = [f"What We Know ({audience})", ""]
    for name in FIELDS:
        lines += [f"{FIELD_TITLES[name]}:", fields[name].strip(), ""]
    nxt = _when(parse_time(next_update_at)) if next_update_at else "no further scheduled update"
    lines.append(f"Next update: {nxt}")
    return "\n".join(lines)


def subject_for(incident: Incident, audience: str) -> str:
    if audience == "customer":
        return "Service update: an issue with one of our AI-powered features"
    return f"[{incident.severity}] What We Know: #{incident.id} {incident.title}"


def draft_update(
    session: Session, incident_id: int, audience: str, *, backend: str | None = None
) -> dict[str, Any]:
    """A draft update for one audience. Never stored or sent: a person edits and publishes it."""
    check_audience(audience)
    incident = get_incident(session, incident_id)
    facts = gather_facts(session, incident)
    fields = TEMPLATES[audience](facts)
    drafted_by, warning = "template", None
    config = cadence.settings(session)
    use = backend or ("model" if config.drafter else "template")
    if use not in ("template", "model"):
        raise InvalidInput("backend must be 'template' or 'model'", field="backend")
    if use == "model":
        if config.drafter is None:
            raise InvalidInput(
                "no drafting endpoint configured; set communication.drafter in quell.yaml",
                field="backend",
            )
        from quell.communication.drafter import DrafterError, model_draft

        try:
            fields = model_draft(config.drafter, audience, fields)
            drafted_by = f"model:{config.drafter.model}"
        except DrafterError as exc:
            warning = f"the drafting endpoint failed ({exc}); this is the template draft"
    # Publishing now would promise one cadence from now, whatever was due before.
    minutes = cadence.cadence_minutes(session, incident.severity)
    open_now = incident.status in OPEN_STATUSES
    next_at = iso(utcnow() + timedelta(minutes=minutes)) if minutes and open_now else None
    return {
        "incident_id": incident.id,
        "audience": audience,
        "draft": True,
        "machine_draft": drafted_by != "template",
        "drafted_by": drafted_by,
        "warning": warning,
        "subject": subject_for(incident, audience),
        **fields,
        "next_update_at": next_at,
        "text": render_text(audience, fields, next_at),
    }


def publish_update(
    session: Session,
    incident_id: int,
    *,
    audience: str,
    fields: dict[str, str],
    actor: str,
    next_update_at: datetime | None = None,
    machine_draft: bool = False,
) -> dict[str, Any]:
    """Publish an update a person wrote or approved: timeline first, then the notifiers."""
    check_audience(audience)
    for name in FIELDS:
        value = (fields.get(name) or "").strip()
        if not value:
            raise InvalidInput(
                f"{name} is empty; an update states each of the four parts "
                "(write 'nothing yet' rather than leave one out)",
                field=name,
            )
        if len(value) > MAX_FIELD_CHARS:
            raise InvalidInput(f"{name} is longer than {MAX_FIELD_CHARS} characters", field=name)
    incident = get_incident(session, incident_id, lock=True)
    now = utcnow()
    if next_update_at is not None:
        next_update_at = as_utc(next_update_at)
        if next_update_at <= now:
            raise InvalidInput("next_update_at must lie in the future", field="next_update_at")
    elif incident.status in OPEN_STATUSES:
        minutes = cadence.cadence_minutes(session, incident.severity)
        next_update_at = now + timedelta(minutes=minutes) if minutes else None
    clean = {name: fields[name].strip() for name in FIELDS}
    next_iso = iso(next_update_at)
    text = render_text(audience, clean, next_iso)
    subject = subject_for(incident, audience)
    number = 1 + len(published_updates(session, incident.id))
    event = append_event(
        session,
        incident,
        actor=actor,
        kind="update.published",
        data={
            "number": number,
            "audience": audience,
            **clean,
            "next_update_at": next_iso,
            "subject": subject,
            "text": text,
            "machine_draft": machine_draft,
        },
        at=now,
    )
    incident.updated_at = now
    deliveries, note = _broadcast(session, incident, subject, text, audience, actor)
    cadence.schedule_reminder(session, incident)
    return {**_update_to_dict(event), "deliveries": deliveries, "delivery_note": note}


def _broadcast(
    session: Session, incident: Incident, subject: str, body: str, audience: str, actor: str
) -> tuple[list[dict[str, Any]], str | None]:
    try:
        from quell.escalation.notify import broadcast
    except ImportError:
        return [], "no notifiers installed yet: the update is on the timeline only"
    from quell.escalation.notify import delivery_to_dict

    sent = broadcast(session, incident, subject=subject, body=body, audience=audience, actor=actor)
    out = [delivery_to_dict(d) for d in sent]
    return out, None if out else f"no notification channel is configured for {audience} updates"


def _update_to_dict(event: TimelineEvent) -> dict[str, Any]:
    data = event.data or {}
    return {
        "event_id": event.id,
        "seq": event.seq,
        "published_at": iso(event.at),
        "published_by": event.actor,
        **{k: data.get(k) for k in ("number", "audience", *FIELDS, "next_update_at", "subject")},
        "machine_draft": bool(data.get("machine_draft")),
        "text": data.get("text"),
    }


def published_updates(session: Session, incident_id: int) -> list[dict[str, Any]]:
    return [
        _update_to_dict(e)
        for e in session.scalars(
            select(TimelineEvent)
            .where(
                TimelineEvent.incident_id == incident_id,
                TimelineEvent.kind == "update.published",
            )
            .order_by(TimelineEvent.seq)
        )
    ]


def updates_overview(session: Session, incident_id: int) -> dict[str, Any]:
    """Published updates and the cadence state (ok, due, overdue, none)."""
    incident = get_incident(session, incident_id)
    return {
        "incident_id": incident.id,
        "cadence": cadence.update_state(session, incident),
        "updates": published_updates(session, incident.id),
    }
