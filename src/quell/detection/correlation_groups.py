"""Correlation's data: signal kind families, the dependency graph, and the candidate groups
(held, open or resolved) that the stages and the index work on. Pure: no database."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from quell.detection.classify import UNCLASSIFIED, EvidenceScores
from quell.detection.rules import CorrelationRules
from quell.detection.severity import CRITICALITY_ORDER, HINT_ORDER, Impact
from quell.ingest.signal import Signal

GroupStatus = Literal["held", "open", "resolved"]
HINT_RANK = {hint: rank for rank, hint in enumerate(HINT_ORDER)}
NOT_CORRELATED_KINDS = frozenset({"change"})  # change events feed the triage pack, not incidents

# Kind families, for coherence: which signals plausibly share a cause. Unknown kinds are
# service symptoms (an alert from a monitoring tool is usually about availability or speed).
KIND_FAMILY: dict[str, str] = {
    "latency": "service",
    "error_rate": "service",
    "task_completion": "service",
    "alert": "service",
    "drift": "model",
    "output_pattern": "model",
    "hallucination": "model",
    "agent_action": "agent",
    "prompt_injection": "security",
    "jailbreak": "security",
    "canary": "security",
    "pii": "security",
    "secrets": "security",
    "toxicity": "security",
    "cost": "business",
    "user_report": "business",
}
# Families whose signals may be one incident: a failing model shows up as errors and slow
# answers downstream and as an agent acting on bad inputs; an attack shows up in detector
# findings and in what an agent does. Business signals (spend, complaints) join only their own
# alert type or a matching archetype: on their own they explain nothing.
FAMILY_AFFINITY: dict[str, frozenset[str]] = {
    "service": frozenset({"service", "model", "agent"}),
    "model": frozenset({"service", "model", "agent"}),
    "agent": frozenset({"service", "model", "agent", "security"}),
    "security": frozenset({"security", "agent"}),
    "business": frozenset(),
}
# Archetypes that are often one attack seen from two sides (an injection that leaks data or
# steers an agent, a jailbreak that makes a model abusive): they may share a candidate.
RELATED_ARCHETYPES: frozenset[frozenset[str]] = frozenset(
    frozenset(pair)
    for pair in (
        ("prompt_injection", "data_exfiltration"),
        ("prompt_injection", "agentic_misalignment"),
        ("prompt_injection", "model_manipulation"),
        ("model_manipulation", "toxicity_abuse"),
        ("model_manipulation", "data_exfiltration"),
    )
)


def family(kind: str) -> str:
    return KIND_FAMILY.get(kind, "service")


def archetypes_agree(a: str, b: str) -> bool:
    """Equal, related, or one of them unclassified (a symptom that names no cause)."""
    return UNCLASSIFIED in (a, b) or a == b or frozenset((a, b)) in RELATED_ARCHETYPES


def signal_weight(signal: Signal, rules: CorrelationRules) -> float:
    """How much one alert counts towards min_signals: hint weight times kind weight."""
    hint = rules.hint_weights.get(signal.severity_hint or "warning", 1.0)
    kind = rules.kind_weights.get(signal.kind, 1.0)
    if signal.archetype_hint:
        kind = max(kind, 1.0)  # a detector that names an archetype is not a weak signal
    return hint * kind


def age_s(now: datetime, then: datetime) -> float:
    """Seconds from `then` to `now`."""
    return (now - then).total_seconds()


def human(seconds: float) -> str:
    """12 -> '12s', 600 -> '10m', 5400 -> '1h30m'."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        minutes, rest = divmod(seconds, 60)
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60}m" if rest >= 60 else f"{hours}h"


class DependencyGraph:
    """The inventory's upstream edges, with each system's neighbours precomputed."""

    def __init__(self, upstream: dict[str, set[str]] | None = None) -> None:
        self.upstream = {k: set(v) for k, v in (upstream or {}).items()}
        downstream: dict[str, set[str]] = {}
        for system, ups in self.upstream.items():
            for up in ups:
                downstream.setdefault(up, set()).add(system)
        self.ancestors = {s: self._walk(s, self.upstream) for s in self.upstream}
        self.descendants = {
            s: self._walk(s, downstream) for s in set(self.upstream) | set(downstream)
        }

    @staticmethod
    def _walk(start: str, edges: dict[str, set[str]]) -> set[str]:
        seen: set[str] = set()
        stack = list(edges.get(start, ()))
        while stack:
            node = stack.pop()
            if node not in seen:
                seen.add(node)
                stack.extend(edges.get(node, ()))
        return seen

    def related(self, system: str) -> set[str]:
        return self.ancestors.get(system, set()) | self.descendants.get(system, set())

    def relation(self, system: str, others: Iterable[str]) -> tuple[str, str] | None:
        """('upstream'|'downstream', other) for the first neighbour of `system` in `others`."""
        for other in sorted(others):
            if other in self.ancestors.get(system, ()):
                return "upstream", other
            if other in self.descendants.get(system, ()):
                return "downstream", other
        return None

    def root(self, systems: Iterable[str]) -> str | None:
        """The most upstream of `systems`: the one with no other of them above it."""
        names = sorted(systems)
        for name in names:
            if not (self.ancestors.get(name, set()) & set(names)):
                return name
        return names[0] if names else None


@dataclass(slots=True)
class SystemInfo:
    kind: str = "generative"
    criticality: str = "medium"


@dataclass(slots=True)
class Member:
    """One alert of a group, as remembered for the timeline and the evaluation."""

    alert_id: int
    reason: str
    summary: str


@dataclass(slots=True)
class Group:
    """An incident candidate: the signals grouped so far and what they add up to."""

    gid: int
    key: dict[str, str]
    systems: set[str]
    first_at: datetime  # correlation clock (receipt time) of its first signal, or of its reopen
    last_at: datetime
    detected_at: datetime  # earliest time of occurrence, for the incident's detected_at
    status: GroupStatus = "held"
    incident_id: int | None = None
    resolved_at: datetime | None = None
    closed: bool = False  # closed is final: a recurrence opens a new incident
    signal_count: int = 0
    alert_ids: set[int] = field(default_factory=set)
    alert_count: int = 0
    evidence: EvidenceScores = field(default_factory=EvidenceScores)
    archetype: str = "unclassified"
    confidence: float = 0.0
    kinds: set[str] = field(default_factory=set)
    streams: set[tuple[str, str]] = field(default_factory=set)  # (system, kind) seen
    families: set[str] = field(default_factory=set)
    # Paging evidence: each alert identity (fingerprint) counts once, with its highest weight,
    # and only while it is firing, so repeats and flapping do not add up.
    weights: dict[str, float] = field(default_factory=dict)
    firing: set[str] = field(default_factory=set)
    hint: str | None = None
    paging: bool = False
    metrics_max: dict[str, float] = field(default_factory=dict)
    metrics_min: dict[str, float] = field(default_factory=dict)
    summaries: list[str] = field(default_factory=list)
    previous_incident: int | None = None
    previous_reason: str = ""
    applied_archetype: str | None = None
    applied_severity: str | None = None
    # Work for the store, collected during a batch and cleared when written.
    pending: list[Member] = field(default_factory=list)
    new_systems: set[str] = field(default_factory=set)
    dirty: bool = False

    def accepts_at(self, now: datetime, rules: CorrelationRules) -> bool:
        return (
            age_s(now, self.last_at) <= rules.window and age_s(now, self.first_at) <= rules.max_age
        )

    def evidence_weight(self) -> float:
        """The paging evidence now: weights of the distinct alerts still firing."""
        return sum(self.weights.get(fp, 0.0) for fp in self.firing)

    def add(
        self,
        signal: Signal,
        alert_id: int,
        *,
        new_alert: bool,
        classify_it: bool,
        weight: float = 1.0,
    ) -> None:
        """Fold one firing signal into the group's counts, metrics and evidence.

        This runs for every signal on intake's hot path: it stays a handful of dict and set
        operations, whatever the size of the group.
        """
        if self.status == "held":  # paging evidence matters only until the candidate opens
            fp = signal.fingerprint
            if weight > self.weights.get(fp, -1.0):
                self.weights[fp] = weight
            self.firing.add(fp)
        at = signal.received_at
        if at > self.last_at:
            self.last_at = at
        if signal.occurred_at < self.detected_at:
            self.detected_at = signal.occurred_at
        self.signal_count += 1
        if new_alert or alert_id not in self.alert_ids:
            self.alert_ids.add(alert_id)
            self.alert_count += 1
        if classify_it:
            self.evidence.add(signal)
        system, kind = signal.system, signal.kind
        if system and (system, kind) not in self.streams:
            self.streams.add((system, kind))
            self.kinds.add(kind)
            self.families.add(family(kind))
        elif kind not in self.kinds:
            self.kinds.add(kind)
            self.families.add(family(kind))
        hint = signal.severity_hint
        if hint and (self.hint is None or HINT_RANK[hint] > HINT_RANK[self.hint]):
            self.hint = hint
        if signal.metrics:
            for name, value in signal.metrics.items():
                number = float(value)
                high, low = self.metrics_max.get(name), self.metrics_min.get(name)
                if high is None or number > high:
                    self.metrics_max[name] = number
                if low is None or number < low:
                    self.metrics_min[name] = number
        if len(self.summaries) < 5 and signal.summary not in self.summaries:
            self.summaries.append(signal.summary)
        if system and system not in self.systems:
            self.systems.add(system)
            self.new_systems.add(system)
        self.dirty = True

    def impact(self, systems: dict[str, SystemInfo]) -> Impact:
        infos = [systems.get(s, SystemInfo()) for s in self.systems]
        criticality = max(
            (i.criticality for i in infos), key=CRITICALITY_ORDER.index, default="medium"
        )
        return Impact(
            systems=set(self.systems),
            system_kinds={i.kind for i in infos},
            criticality=criticality,
            archetype=self.archetype,
            archetype_confidence=self.confidence,
            signal_count=self.signal_count,
            alert_count=self.alert_count,
            severity_hint=self.hint,
            kinds=set(self.kinds),
            metrics_max=dict(self.metrics_max),
            metrics_min=dict(self.metrics_min),
        )

    def state(self) -> dict[str, Any]:
        """What the store keeps to rebuild this group after a restart."""
        return {
            "key": self.key,
            "systems": sorted(self.systems),
            "detected_at": self.detected_at.isoformat(),
            "signal_count": self.signal_count,
            "alert_count": self.alert_count,
            "evidence": self.evidence.to_dict(),
            "kinds": sorted(self.kinds),
            "streams": sorted([s, k] for s, k in self.streams),
            # Open groups drop their paging evidence (see mark_open): the state stays small.
            "weights": self.weights,
            "firing": sorted(self.firing),
            "hint": self.hint,
            "metrics_max": self.metrics_max,
            "metrics_min": self.metrics_min,
            "summaries": self.summaries,
            "applied_archetype": self.applied_archetype,
            "applied_severity": self.applied_severity,
        }


@dataclass(frozen=True, slots=True)
class Decision:
    """What correlation decided for one signal."""

    action: (
        str  # attached | held | duplicate | resolved_alert | unmapped | not_correlated | reopened
    )
    reason: str
    group: Group | None = None
