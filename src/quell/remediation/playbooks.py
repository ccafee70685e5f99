"""Playbooks as data: response steps per system kind, archetype and symptom, and the checklist.

The built-in steps live in ``data/playbooks.yaml`` (the playbook's remediation table and its
per-system-type response priorities). A quell.yaml ``playbooks:`` section adds steps or
replaces one by its id. An incident's checklist is those steps with done/undone state read
off its timeline (``checklist.step_done`` / ``checklist.step_undone`` events).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from importlib import resources
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from quell.config import register_section
from quell.errors import InvalidInput, NotFound
from quell.incidents.lifecycle import Archetype
from quell.incidents.models import Incident, TimelineEvent
from quell.incidents.timeline import append_event
from quell.inventory.schemas import SystemKind
from quell.phases import warm_up
from quell.remediation.action_models import ContainmentType
from quell.timeutil import iso

SETTING_KEY = "playbooks"


@dataclass(frozen=True)
class Step:
    """One response step a responder can tick off."""

    id: str
    text: str
    group: str  # "system:agent", "archetype:prompt_injection", "symptom:latency"
    action: str | None = None
    gate: str | None = None
    when: bool | None = None  # with gate: the answer under which the step applies
    symptoms: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["symptoms"] = list(self.symptoms)
        return data


class StepIn(BaseModel):
    """A step as written in playbooks.yaml or the quell.yaml `playbooks:` section."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
    text: Annotated[str, Field(min_length=1, max_length=2000)]
    action: ContainmentType | None = None
    gate: Annotated[str, Field(min_length=1, max_length=80)] | None = None
    when: bool | None = None
    symptoms: list[str] = Field(default_factory=list)


class PlaybooksSection(BaseModel):
    """quell.yaml `playbooks:`: extra steps per system kind, archetype and symptom."""

    model_config = ConfigDict(extra="forbid")

    systems: dict[SystemKind, list[StepIn]] = Field(default_factory=dict)
    archetypes: dict[Archetype, list[StepIn]] = Field(default_factory=dict)
    symptoms: dict[str, list[StepIn]] = Field(default_factory=dict)


Catalogue = dict[str, list[Step]]  # group -> steps in order


def _catalogue(section: PlaybooksSection) -> Catalogue:
    out: Catalogue = {}
    for prefix, groups in (
        ("system", section.systems),
        ("archetype", section.archetypes),
        ("symptom", section.symptoms),
    ):
        for name, steps in groups.items():
            out[f"{prefix}:{name}"] = [
                Step(
                    id=s.id,
                    text=s.text,
                    group=f"{prefix}:{name}",
                    action=s.action,
                    gate=s.gate,
                    when=s.when,
                    symptoms=tuple(s.symptoms),
                )
                for s in steps
            ]
    return out


@warm_up
@cache
def builtin_catalogue() -> Catalogue:
    """The shipped playbooks, validated once per process."""
    text = (resources.files("quell.remediation") / "data" / "playbooks.yaml").read_text("utf-8")
    raw = yaml.safe_load(text)
    raw.pop("version", None)
    return _catalogue(PlaybooksSection.model_validate(raw))


def _merged(extra: Catalogue | None) -> Catalogue:
    """Built-in steps with the configured ones on top (same id: the configured one wins)."""
    merged = {group: list(steps) for group, steps in builtin_catalogue().items()}
    if not extra:
        return merged
    replaced = {step.id: step for steps in extra.values() for step in steps}
    for group, steps in merged.items():
        merged[group] = [replaced.pop(s.id) if s.id in replaced else s for s in steps]
    for group, steps in extra.items():
        # Steps that replaced a built-in one were placed above; the rest are appended.
        merged.setdefault(group, []).extend(s for s in steps if s.id in replaced)
    return merged


def configured_catalogue(session: Session) -> Catalogue | None:
    """The quell.yaml `playbooks:` section as stored, or None."""
    from quell.store.sections import stored_section

    stored = stored_section(session, SETTING_KEY)
    return _catalogue(PlaybooksSection.model_validate(stored)) if stored else None


def steps_for(
    archetype: str,
    system_kind: str | Iterable[str],
    symptoms: Sequence[str] = (),
    *,
    session: Session | None = None,
) -> list[Step]:
    """The steps for an archetype on a system kind (or several), with symptom-matched ones.

    Order: the system kinds' response priorities, then the archetype's remediation, then steps
    triggered by symptoms; within that, steps tagged with a seen symptom are not reordered,
    because the playbook's priorities are deliberately ordered (isolate before filtering).
    """
    kinds = [system_kind] if isinstance(system_kind, str) else list(system_kind)
    catalogue = _merged(configured_catalogue(session) if session is not None else None)
    groups = [f"system:{k}" for k in dict.fromkeys(kinds)]
    groups.append(f"archetype:{archetype}")
    groups.extend(f"symptom:{s}" for s in dict.fromkeys(symptoms))
    seen: set[str] = set()
    out: list[Step] = []
    for group in groups:
        for step in catalogue.get(group, ()):
            if step.id not in seen:
                seen.add(step.id)
                out.append(step)
    return out


def _apply_section(session: Session, section: PlaybooksSection) -> dict[str, str]:
    from quell.store.sections import store_section

    ids = [s.id for steps in _catalogue(section).values() for s in steps]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise InvalidInput(
            f"step id(s) {', '.join(duplicates)} appear more than once", field="playbooks"
        )
    outcome = store_section(session, SETTING_KEY, section.model_dump(mode="json"))
    return {"steps": f"{outcome} ({len(ids)} configured)"}


register_section(SETTING_KEY, PlaybooksSection, _apply_section)


# ---------------------------------------------------------------- the incident's checklist


def incident_symptoms(session: Session, incident: Incident) -> list[str]:
    """Kinds of the signals attached to the incident (empty until ingest has stored alerts)."""
    try:
        from quell.ingest.models import Alert
    except ImportError:  # the ingest tables are not installed
        return []
    kinds = session.scalars(
        select(Alert.kind).where(Alert.incident_id == incident.id).distinct().limit(50)
    )
    return sorted(set(kinds))


def gate_answers(session: Session, incident_id: int) -> dict[str, Any]:
    """The latest answer of each decision gate, from `gate.answered` timeline events."""
    answers: dict[str, Any] = {}
    for data in session.scalars(
        select(TimelineEvent.data)
        .where(TimelineEvent.incident_id == incident_id, TimelineEvent.kind == "gate.answered")
        .order_by(TimelineEvent.seq)
    ):
        if isinstance(data, dict) and "key" in data:
            answers[str(data["key"])] = data.get("answer")
    return answers


def incident_steps(session: Session, incident: Incident) -> list[Step]:
    kinds = [s.kind for s in incident.systems]
    return steps_for(
        incident.archetype, kinds, incident_symptoms(session, incident), session=session
    )


def _truthy(answer: Any) -> bool | None:
    if isinstance(answer, bool):
        return answer
    if isinstance(answer, str):
        lowered = answer.strip().lower()
        if lowered in ("yes", "true", "y"):
            return True
        if lowered in ("no", "false", "n"):
            return False
    return None


def checklist(session: Session, incident: Incident) -> dict[str, Any]:
    """The incident's checklist: each step with whether it applies and who ticked it when."""
    state: dict[str, dict[str, Any]] = {}
    for event in session.scalars(
        select(TimelineEvent)
        .where(
            TimelineEvent.incident_id == incident.id,
            TimelineEvent.kind.in_(("checklist.step_done", "checklist.step_undone")),
        )
        .order_by(TimelineEvent.seq)
    ):
        step_id = str(event.data.get("step_id"))
        state[step_id] = {
            "done": event.kind == "checklist.step_done",
            "by": event.actor,
            "at": iso(event.at),
            "note": event.reason,
        }
    answers = gate_answers(session, incident.id)
    # The latest state of each containment action type on this incident, so a step whose action
    # already ran (e.g. pre-approved by a policy) shows it even before anyone ticks it.
    action_states: dict[str, str] = {}
    for kind, data in session.execute(
        select(TimelineEvent.kind, TimelineEvent.data)
        .where(TimelineEvent.incident_id == incident.id, TimelineEvent.kind.like("action.%"))
        .order_by(TimelineEvent.seq)
    ):
        if isinstance(data, dict) and data.get("type"):
            action_states[str(data["type"])] = kind.split(".", 1)[1]
    items = []
    for step in incident_steps(session, incident):
        applies: bool | None = True
        if step.gate and step.when is not None:
            answer = _truthy(answers.get(step.gate))
            applies = None if answer is None else answer == step.when
        mark = state.get(step.id, {})
        items.append(
            {
                **step.to_dict(),
                "applies": applies,
                "gate_answer": answers.get(step.gate) if step.gate else None,
                "action_status": action_states.get(step.action) if step.action else None,
                "done": bool(mark.get("done")),
                "done_by": mark.get("by") if mark.get("done") else None,
                "done_at": mark.get("at") if mark.get("done") else None,
            }
        )
    done = sum(1 for i in items if i["done"])
    return {
        "incident_id": incident.id,
        "archetype": incident.archetype,
        "system_kinds": sorted({s.kind for s in incident.systems}),
        "steps": items,
        "done": done,
        "total": len(items),
    }


def mark_step(
    session: Session, incident: Incident, step_id: str, *, done: bool, actor: str, note: str = ""
) -> dict[str, Any]:
    """Tick (or untick) a checklist step; the timeline records who and when."""
    steps = {s.id: s for s in incident_steps(session, incident)}
    step = steps.get(step_id)
    if step is None:
        raise NotFound(
            f"step {step_id!r} is not on incident {incident.id}'s checklist; "
            f"its steps are: {', '.join(steps) or 'none'}"
        )
    current = {i["id"]: i for i in checklist(session, incident)["steps"]}[step_id]
    if current["done"] != done:
        append_event(
            session,
            incident,
            actor=actor,
            kind="checklist.step_done" if done else "checklist.step_undone",
            data={"step_id": step.id, "text": step.text, "action": step.action},
            reason=note,
        )
    return checklist(session, incident)
