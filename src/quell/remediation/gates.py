"""Decision gates: questions that must be answered before an incident moves on.

The gates an incident gets depend on its archetype, severity and affected systems (data in
``gates.yaml``, extended by quell.yaml ``decision_gates:``). An answer is a ``gate.answered``
timeline event and ``incident.facts[key]``; it drives the next steps (roles, playbook steps,
proposed containment actions, and any containment policy that reads the fact). A transition
guard refuses ``mitigated``/``resolved`` (409) while a required gate is open.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Annotated, Any, Final, Literal

import yaml
from pydantic import Field, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from quell.auth.service import Principal
from quell.config import register_section
from quell.errors import Conflict, InvalidInput, QuellError
from quell.incidents import service as incidents
from quell.incidents.lifecycle import ARCHETYPES, ROLE_TITLES, ROLES, SEVERITIES
from quell.incidents.models import Incident, TimelineEvent
from quell.incidents.service import current_roles, get_incident
from quell.incidents.timeline import append_event
from quell.inventory.schemas import Criticality, Strict, SystemKind
from quell.phases import warm_up
from quell.remediation.action_kinds import ACTION_KINDS, eligible
from quell.remediation.action_models import ACTION_TYPES, ContainmentAction
from quell.remediation.actions import action_to_dict, create_action
from quell.store.sections import store_section, stored_section
from quell.timeutil import iso, utcnow

SECTION: Final = "decision_gates"
GUARDED: Final = ("mitigated", "resolved")


class GateMatch(Strict):
    """Conditions on an incident; all given must hold (a list matches any of its values)."""

    severities: list[str] = Field(default_factory=list)
    archetypes: list[str] = Field(default_factory=list)
    system_kinds: list[SystemKind] = Field(default_factory=list)
    criticality: list[Criticality] = Field(default_factory=list)
    data_classes: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _known(self) -> GateMatch:
        for value in self.severities:
            if value not in SEVERITIES:
                raise ValueError(f"unknown severity {value!r}")
        for value in self.archetypes:
            if value not in ARCHETYPES:
                raise ValueError(f"unknown archetype {value!r}")
        return self

    def matches(self, incident: Incident) -> bool:
        systems = incident.systems
        return (
            (not self.severities or incident.severity in self.severities)
            and (not self.archetypes or incident.archetype in self.archetypes)
            and (not self.system_kinds or any(s.kind in self.system_kinds for s in systems))
            and (not self.criticality or any(s.criticality in self.criticality for s in systems))
            and (
                not self.data_classes
                or any(set(s.data_classes or ()) & set(self.data_classes) for s in systems)
            )
        )


class Effects(Strict):
    """What an answer calls for."""

    roles: list[str] = Field(default_factory=list)
    steps: list[str] = Field(default_factory=list, description="playbook step ids")
    actions: list[str] = Field(default_factory=list, description="containment actions to propose")

    @model_validator(mode="after")
    def _known(self) -> Effects:
        for role in self.roles:
            if role not in ROLES:
                raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
        for action in self.actions:
            if action not in ACTION_TYPES:
                raise ValueError(f"unknown action type {action!r}")
        return self


class GateIn(Strict):
    """One decision gate."""

    key: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,59}$")]
    question: Annotated[str, Field(min_length=1, max_length=300)]
    help: str = ""
    applies_to: list[GateMatch] = Field(default_factory=list)
    required_when: list[GateMatch] | None = None
    required_before: Literal["mitigated", "resolved"] = "resolved"
    on_yes: Effects = Field(default_factory=Effects)
    on_no: Effects = Field(default_factory=Effects)

    def applies(self, incident: Incident) -> bool:
        return not self.applies_to or any(m.matches(incident) for m in self.applies_to)

    def required(self, incident: Incident) -> bool:
        if self.required_when is None:
            return True
        return any(m.matches(incident) for m in self.required_when)


class GatesSection(Strict):
    """quell.yaml `decision_gates:` — more gates (or replacements by key), and the switch."""

    enforce: bool = Field(default=True, description="open required gates block transitions")
    gates: list[GateIn] = Field(default_factory=list)

    @field_validator("gates")
    @classmethod
    def _unique(cls, value: list[GateIn]) -> list[GateIn]:
        keys = [g.key for g in value]
        twice = sorted({k for k in keys if keys.count(k) > 1})
        if twice:
            raise ValueError(f"gate key(s) {', '.join(twice)} appear more than once")
        return value


@warm_up
@cache
def builtin_gates() -> tuple[GateIn, ...]:
    text = (resources.files("quell.remediation") / "gates.yaml").read_text("utf-8")
    return tuple(GateIn.model_validate(g) for g in yaml.safe_load(text)["gates"])


def _section(session: Session) -> GatesSection:
    stored = stored_section(session, SECTION)
    return GatesSection.model_validate(stored) if stored else GatesSection()


def catalogue(session: Session) -> dict[str, GateIn]:
    """Every gate by key: the built-in ones, then quell.yaml's (which replace by key)."""
    gates = {g.key: g for g in builtin_gates()}
    gates.update({g.key: g for g in _section(session).gates})
    return gates


# ---------------------------------------------------------------- reading


def _answers(session: Session, incident_id: int) -> dict[str, TimelineEvent]:
    """The latest gate.answered event per key."""
    latest: dict[str, TimelineEvent] = {}
    for event in session.scalars(
        select(TimelineEvent)
        .where(TimelineEvent.incident_id == incident_id, TimelineEvent.kind == "gate.answered")
        .order_by(TimelineEvent.seq)
    ):
        latest[str(event.data.get("key"))] = event
    return latest


def incident_gates(session: Session, incident: Incident) -> list[dict[str, Any]]:
    """The gates of this incident, answered or open, with what each answer calls for."""
    answers = _answers(session, incident.id)
    facts = incident.facts or {}
    out = []
    for gate in catalogue(session).values():
        if not gate.applies(incident) and gate.key not in answers:
            continue
        event = answers.get(gate.key)
        # A fact set another way (at creation, by a detector) answers the gate as well.
        answered = gate.key in facts
        answer = facts.get(gate.key) if answered else None
        out.append(
            {
                "key": gate.key,
                "question": gate.question,
                "help": gate.help,
                "required": gate.required(incident),
                "required_before": gate.required_before,
                "answered": answered,
                "answer": answer,
                "note": event.data.get("note", "") if event else "",
                "answered_by": event.actor if event else ("facts" if answered else None),
                "answered_at": iso(event.at) if event else None,
                "calls_for": _calls_for(session, incident, gate, answer) if answered else None,
            }
        )
    return out


def open_gates(session: Session, incident: Incident, target: str) -> list[dict[str, Any]]:
    """Required gates still unanswered that stand in the way of moving to `target`."""
    if target not in GUARDED:
        return []
    return [
        g
        for g in incident_gates(session, incident)
        if g["required"]
        and not g["answered"]
        and (target == "resolved" or g["required_before"] == "mitigated")
    ]


def _step_texts(session: Session, incident: Incident) -> dict[str, str]:
    try:
        from quell.remediation import playbooks
    except ImportError:  # playbooks not installed: the ids alone still say what to do
        return {}
    try:
        return {s.id: s.text for s in playbooks.incident_steps(session, incident)}
    except Exception:  # the checklist is a nicety here; never let it block an answer
        return {}


def _calls_for(session: Session, incident: Incident, gate: GateIn, answer: Any) -> dict[str, Any]:
    effects = gate.on_yes if answer is True else gate.on_no if answer is False else Effects()
    held = current_roles(incident)
    texts = _step_texts(session, incident) if effects.steps else {}
    return {
        "roles": [
            {"role": r, "title": ROLE_TITLES[r], "assigned_to": held.get(r)} for r in effects.roles
        ],
        "steps": [{"id": s, "text": texts.get(s)} for s in effects.steps],
        "actions": list(effects.actions),
    }


# ---------------------------------------------------------------- answering


def parse_answer(value: Any) -> bool:
    """yes/no (or true/false) to a bool; anything else is refused."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("yes", "y", "true"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("no", "n", "false"):
        return False
    raise InvalidInput(f"answer {value!r} is not yes or no", field="answer")


def answer_gate(
    session: Session,
    incident_id: int,
    key: str,
    answer: Any,
    *,
    who: Principal,
    note: str = "",
) -> dict[str, Any]:
    """Record an answer: timeline event, incident fact, then the next steps it calls for."""
    who.require("responder")
    value = parse_answer(answer)
    gates = catalogue(session)
    gate = gates.get(key)
    if gate is None:
        raise InvalidInput(
            f"unknown decision gate {key!r}; known: {', '.join(sorted(gates))}", field="key"
        )
    incident = get_incident(session, incident_id, lock=True)
    if incident.status == "closed":
        raise Conflict(f"incident {incident_id} is closed; reopen it to change its facts")
    note = note.strip()
    previous = (incident.facts or {}).get(key)
    changed = previous != value or key not in (incident.facts or {})
    proposed: list[ContainmentAction] = []
    if changed or note:
        # A new dict, so the JSON column is seen as changed.
        incident.facts = {**(incident.facts or {}), key: value}
        incident.updated_at = utcnow()
        append_event(
            session,
            incident,
            actor=who.name,
            kind="gate.answered",
            data={"key": key, "answer": value, "note": note, "previous": previous},
            reason=note,
        )
    if changed:
        effects = gate.on_yes if value else gate.on_no
        proposed = _propose(session, incident, gate, effects.actions, who=who)
        # A fact can be what a containment policy waits for (unauthorized_action_taken).
        from quell.remediation.policies import evaluate_policies

        evaluate_policies(session, incident, trigger=f"gate {key}")
    state = next(g for g in incident_gates(session, incident) if g["key"] == key)
    return {
        "gate": state,
        "changed": changed,
        "proposed_actions": [action_to_dict(a) for a in proposed],
    }


def _propose(
    session: Session, incident: Incident, gate: GateIn, types: list[str], *, who: Principal
) -> list[ContainmentAction]:
    """Propose what the answer calls for (an approver still decides), skipping repeats."""
    made: list[ContainmentAction] = []
    for action_type in types:
        for system in incident.systems:
            if eligible(ACTION_KINDS[action_type], system) is not None:
                continue
            exists = session.scalars(
                select(ContainmentAction.id).where(
                    ContainmentAction.incident_id == incident.id,
                    ContainmentAction.type == action_type,
                    ContainmentAction.system == system.name,
                    ContainmentAction.status.not_in(("rejected", "cancelled", "failed")),
                )
            ).first()
            if exists is not None:
                continue
            try:
                made.append(
                    create_action(
                        session,
                        incident,
                        action_type,
                        proposed_by=who.name,
                        system=system.name,
                        reason=f"decision gate {gate.key} answered "
                        f"{'yes' if incident.facts.get(gate.key) else 'no'}",
                    )
                )
            except QuellError:
                continue
    return made


# ---------------------------------------------------------------- the transition guard


def _guard(session: Session, incident: Incident, current: str, target: str) -> None:
    if target not in GUARDED or not _section(session).enforce:
        return
    blocking = open_gates(session, incident, target)
    if blocking:
        listed = "; ".join(f"{g['key']} ({g['question']})" for g in blocking)
        raise Conflict(
            f"incident {incident.id} cannot move to {target} while decision gate(s) are "
            f"unanswered: {listed}. Answer with POST /api/v1/incidents/{incident.id}/gates/<key> "
            f"or `quell gate answer {incident.id} <key> yes|no`",
            field="gates",
        )


def _apply_section(session: Session, section: GatesSection) -> dict[str, str]:
    outcome = store_section(session, SECTION, section.model_dump(mode="json"))
    return {"gates": f"{outcome} ({len(section.gates)} configured, enforce={section.enforce})"}


register_section(SECTION, GatesSection, _apply_section)
if _guard not in incidents.TRANSITION_GUARDS:
    incidents.TRANSITION_GUARDS.append(_guard)
