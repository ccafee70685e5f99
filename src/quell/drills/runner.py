"""Run a drill: send a scenario's signals through intake as they would really arrive, then
check what the pipeline made of them (incident, archetype, severity, time to a coherent
candidate, the response steps it offers) and leave the incident open, marked as a drill, for
the team to work through.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from quell.errors import InvalidInput, NotFound
from quell.incidents import lifecycle
from quell.incidents.models import Incident
from quell.incidents.service import get_incident
from quell.incidents.timeline import append_event, events
from quell.ingest.models import Alert
from quell.ingest.service import correlator_for, receive_native
from quell.inventory.models import AISystem
from quell.inventory.schemas import SystemKind
from quell.store.db import session_scope
from quell.timeutil import utcnow
from quell.validation import describe


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Step(_Model):
    at: float = Field(ge=0, description="seconds after the drill starts")
    kind: str
    summary: str
    severity: str | None = None
    archetype: str | None = None
    target: str | None = None  # overrides the scenario's target for this step
    labels: dict[str, str] = Field(default_factory=dict)
    metrics: dict[str, float] = Field(default_factory=dict)


class Expect(_Model):
    archetype: str | None = None
    max_severity: str | None = None  # the incident should be at least this severe


class Scenario(_Model):
    title: str
    target: SystemKind
    expect: Expect = Field(default_factory=Expect)
    steps: list[Step] = Field(min_length=1)
    name: str = ""


def load_scenarios(path: Path | None = None) -> dict[str, Scenario]:
    """The shipped scenarios, or those of a file in the same format."""
    if path is None:
        text = (resources.files("quell.drills") / "scenarios.yaml").read_text("utf-8")
    else:
        try:
            text = path.read_text("utf-8")
        except FileNotFoundError:
            raise InvalidInput(f"{path}: no such file") from None
    raw = yaml.safe_load(text) or {}
    out: dict[str, Scenario] = {}
    for name, body in (raw.get("scenarios") or {}).items():
        try:
            scenario = Scenario.model_validate({**body, "name": name})
        except ValidationError as exc:
            error: dict[str, Any] = dict(exc.errors()[0])
            error["loc"] = ("scenarios", name, *tuple(error.get("loc", ())))
            raise InvalidInput(f"{path or 'scenarios.yaml'}: {describe(error)}") from None
        out[name] = scenario
    return out


def pick_system(session: Session, scenario: Scenario, system: str | None) -> AISystem:
    """The system a drill hits: the one named, or the most critical of the scenario's kind."""
    if system:
        found = session.scalars(select(AISystem).where(AISystem.name == system)).first()
        if found is None:
            raise InvalidInput(f"unknown AI system {system!r}", field="system")
        return found
    rank = {"critical": 0, "high": 1, "medium": 2, "low": 3}
    candidates = sorted(
        session.scalars(select(AISystem).where(AISystem.kind == scenario.target)),
        key=lambda s: (rank.get(s.criticality, 9), s.name),
    )
    if not candidates:
        raise InvalidInput(
            f"the {scenario.name} drill needs a {scenario.target} system in the inventory; "
            "add one with `quell apply` or name one with --system"
        )
    return candidates[0]


def plan_signals(
    scenario: Scenario, system: AISystem, drill_id: str, start: datetime
) -> list[tuple[float, dict[str, Any]]]:
    """(seconds after start, native signal) for each step, all labelled with the drill id."""
    upstream = system.upstream[0].name if system.upstream else system.name
    planned = []
    for index, step in enumerate(scenario.steps):
        target = upstream if (step.target or "") == "upstream_of_target" else system.name
        signal: dict[str, Any] = {
            "source": "drill",
            "system": target,
            "kind": step.kind,
            "summary": f"[drill] {step.summary}",
            "labels": {**step.labels, "drill": drill_id, "scenario": scenario.name},
            "metrics": step.metrics,
            "occurred_at": (start + timedelta(seconds=step.at)).isoformat(),
            "fingerprint": f"drill:{drill_id}:{index}",
        }
        if step.severity:
            signal["severity"] = step.severity
        if step.archetype:
            signal["archetype"] = step.archetype
        planned.append((step.at, signal))
    return planned


@dataclass
class Check:
    name: str
    passed: bool
    detail: str


@dataclass
class DrillReport:
    drill_id: str
    scenario: str
    system: str
    signals_sent: int
    incident_ids: list[int] = field(default_factory=list)
    archetype: str | None = None
    severity: str | None = None
    time_to_candidate_s: float | None = None
    joined_existing: bool = False
    playbook_steps: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "drill_id": self.drill_id,
            "scenario": self.scenario,
            "system": self.system,
            "signals_sent": self.signals_sent,
            "incidents": self.incident_ids,
            "archetype": self.archetype,
            "severity": self.severity,
            "time_to_candidate_s": self.time_to_candidate_s,
            "joined_existing": self.joined_existing,
            "playbook_steps": self.playbook_steps,
            "checks": [c.__dict__ for c in self.checks],
            "passed": self.passed,
        }


def _incidents_of(session: Session, drill_id: str) -> list[int]:
    fingerprints = [f"drill:{drill_id}:%"]
    rows = session.scalars(
        select(Alert.incident_id)
        .where(Alert.fingerprint.like(fingerprints[0]), Alert.incident_id.is_not(None))
        .distinct()
    )
    return sorted(i for i in rows if i is not None)


def run_drill(
    engine: Engine,
    name: str,
    *,
    system: str | None = None,
    speed: float = 1.0,
    wait_s: float = 60.0,
    actor: str = "drill",
    scenarios: dict[str, Scenario] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[int, int], None] | None = None,
) -> DrillReport:
    """Send the scenario's signals in (scaled) real time and report what the pipeline made."""
    scenarios = scenarios if scenarios is not None else load_scenarios()
    if name not in scenarios:
        raise NotFound(f"no drill scenario {name!r}; known: {', '.join(sorted(scenarios))}")
    if speed <= 0:
        raise InvalidInput("speed must be above 0", field="speed")
    scenario = scenarios[name]
    drill_id = uuid.uuid4().hex[:8]
    with session_scope(engine) as session:
        target = pick_system(session, scenario, system)
        system_name, system_kind = target.name, target.kind
        planned = plan_signals(scenario, target, drill_id, utcnow())
    started = time.monotonic()
    first_sent = utcnow()
    for index, (at, signal) in enumerate(planned):
        delay = at / speed - (time.monotonic() - started)
        if delay > 0:
            sleep(delay)
        signal["occurred_at"] = utcnow().isoformat()
        receive_native(engine, signal, actor=actor, source="drill")
        if progress:
            progress(index + 1, len(planned))
    # Give held candidates the time the rules allow to open, as they would in production.
    deadline = time.monotonic() + wait_s
    correlator = correlator_for(engine)
    while True:
        correlator.flush_due_now()
        with session_scope(engine) as session:
            found = _incidents_of(session, drill_id)
        if found or time.monotonic() >= deadline:
            break
        sleep(min(1.0, max(0.0, deadline - time.monotonic())))
    report = DrillReport(drill_id, name, system_name, len(planned), incident_ids=found)
    with session_scope(engine) as session:
        _assess(session, report, scenario, system_kind, first_sent, actor)
    return report


def _assess(
    session: Session,
    report: DrillReport,
    scenario: Scenario,
    system_kind: str,
    first_sent: datetime,
    actor: str,
) -> None:
    report.checks.append(
        Check(
            "incident opened",
            bool(report.incident_ids),
            f"incident(s) {report.incident_ids}" if report.incident_ids else "no incident",
        )
    )
    if len(report.incident_ids) > 1:
        report.checks.append(
            Check("one incident", False, f"split into {len(report.incident_ids)} incidents")
        )
    if not report.incident_ids:
        return
    incident = get_incident(session, report.incident_ids[0])
    report.archetype, report.severity = incident.archetype, incident.severity
    created = next(e for e in events(session, incident.id) if e.kind == "incident.created")
    # Signals that join an incident already open (a real one, or an earlier drill's) are
    # coherent at once: no new candidate had to form.
    report.joined_existing = created.at < first_sent
    report.time_to_candidate_s = max(0.0, round((created.at - first_sent).total_seconds(), 3))
    expect = scenario.expect
    if expect.archetype:
        report.checks.append(
            Check(
                "archetype",
                incident.archetype == expect.archetype,
                f"expected {expect.archetype}, got {incident.archetype}",
            )
        )
    if expect.max_severity:
        ok = lifecycle.severity_rank(incident.severity) <= lifecycle.severity_rank(
            expect.max_severity
        )
        report.checks.append(
            Check(
                "severity",
                ok,
                f"expected {expect.max_severity} or worse, got {incident.severity}",
            )
        )
    report.playbook_steps = _playbook_steps(session, incident.archetype, system_kind)
    _mark(session, incident, report, actor)


def _playbook_steps(session: Session, archetype: str, system_kind: str) -> list[str]:
    from quell.remediation.playbooks import steps_for

    return [step.text for step in steps_for(archetype, system_kind, session=session)]


def _mark(session: Session, incident: Incident, report: DrillReport, actor: str) -> None:
    """Say on the incident, for everyone who opens it, that it is a rehearsal."""
    incident.facts = {**incident.facts, "drill": report.drill_id}
    append_event(
        session,
        incident,
        actor=actor,
        kind="drill.report",
        data={k: v for k, v in report.to_dict().items() if k != "playbook_steps"},
        reason=f"drill {report.drill_id} ({report.scenario}): this incident is a rehearsal",
    )
