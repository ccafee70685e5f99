"""Correlation, the pure part: signals in, grouping decisions out, no database.

A signal passes a pipeline of small stages, each one a type with one method:

    Admission   -> is the signal correlated at all (unmapped, resolve, change, duplicate)?
    Matcher     -> which live candidate does it join (system, dependency graph, keys, window)?
    Recurrence  -> else: does it reopen a recently resolved incident, or follow an older one?
    Grouper     -> attach it to the chosen candidate or start a new held one
    PagingGate  -> is a held candidate due to be opened (group_wait, min_signals, hints)?

The state is a `CorrelationIndex` of candidates ("groups") in memory. A group is `held`
(gathering signals, no incident yet), `open` (has an incident) or `resolved`. Every lookup goes
through per-system sets, so the cost of a signal depends on the few live groups of its system
and its neighbours, never on how many signals were stored before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from quell.detection.classify import UNCLASSIFIED, EvidenceScores, classify, decide
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


def _age(now: datetime, then: datetime) -> float:
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
        return _age(now, self.last_at) <= rules.window and _age(now, self.first_at) <= rules.max_age

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


# --- stages ---------------------------------------------------------------------------------


class Admission:
    """Stage 1: decide whether a signal takes part in grouping at all."""

    def admit(self, signal: Signal, alert_group: Group | None, new_alert: bool) -> Decision | None:
        if signal.status == "resolved":
            return Decision(
                "resolved_alert", "resolve closes the alert, not the incident", alert_group
            )
        if signal.kind in NOT_CORRELATED_KINDS:
            return Decision("not_correlated", f"{signal.kind} events feed the triage pack")
        if not signal.system:
            return Decision("unmapped", "no AI system could be mapped; kept, not grouped")
        if not new_alert and alert_group is not None:
            return Decision(
                "duplicate", f"repeat of alert already in candidate {alert_group.gid}", alert_group
            )
        return None


class Matcher:
    """Stage 2: find the live candidate a signal joins, and say why."""

    def __init__(self, rules: CorrelationRules, graph: DependencyGraph) -> None:
        self.rules = rules
        self.graph = graph

    def keys_of(self, signal: Signal) -> dict[str, str]:
        key: dict[str, str] = {}
        for name in self.rules.group_by:
            if name == "kind":
                key["kind"] = signal.kind
            elif name.startswith("label:"):
                key[name] = signal.labels.get(name[6:], "")
        return key

    def compatible(self, group: Group, signal_key: dict[str, str], archetype: str) -> bool:
        if any(group.key.get(k) != v for k, v in signal_key.items()):
            return False
        if "archetype" in self.rules.group_by:
            return archetypes_agree(archetype, group.archetype)
        return True

    def coherent(self, signal: Signal, archetype: str, group: Group, lean: str = "") -> bool:
        """Whether a signal plausibly shares the candidate's cause (not just its neighbourhood).

        The same alert type on the same system, both sides classified into related
        archetypes, or kinds of families that fail together (see FAMILY_AFFINITY).
        """
        if not self.rules.require_coherence or not group.streams:
            return True
        if (signal.system or "", signal.kind) in group.streams:
            return True
        if archetype != UNCLASSIFIED and group.archetype != UNCLASSIFIED:
            return archetypes_agree(archetype, group.archetype)
        # Weak evidence (a user report saying "wrong answer") still points somewhere.
        if lean and group.archetype != UNCLASSIFIED and archetypes_agree(lean, group.archetype):
            return True
        return bool(FAMILY_AFFINITY[family(signal.kind)] & group.families)

    def neighbourhood(self, system: str) -> set[str]:
        if "system" not in self.rules.group_by:
            return set()
        if self.rules.follow_dependencies:
            return {system} | self.graph.related(system)
        return {system}

    def match(
        self,
        signal: Signal,
        archetype: str,
        candidates: Iterable[Group],
        now: datetime,
        lean: str = "",
    ) -> tuple[Group, str] | None:
        system = signal.system or ""
        signal_key = self.keys_of(signal)
        best: tuple[tuple[int, int, float], Group] | None = None
        for group in candidates:
            if group.status == "resolved" or not group.accepts_at(now, self.rules):
                continue
            if not self.compatible(group, signal_key, archetype):
                continue
            if not self.coherent(signal, archetype, group, lean):
                continue
            rank = (
                0 if system in group.systems or "system" not in self.rules.group_by else 1,
                0 if group.status == "open" else 1,
                _age(now, group.last_at),
            )
            if best is None or rank < best[0]:
                best = (rank, group)
        if best is None:
            return None
        group = best[1]
        return group, self.explain(signal, group, now)

    def explain(self, signal: Signal, group: Group, now: datetime) -> str:
        system = signal.system or ""
        last = (
            f"last signal {human(_age(now, group.last_at))} ago (window {human(self.rules.window)})"
        )
        target = (
            f"incident {group.incident_id}" if group.incident_id else f"held candidate {group.gid}"
        )
        if system in group.systems or "system" not in self.rules.group_by:
            why = f"same system {system}" if system in group.systems else "same keys"
        else:
            relation = self.graph.relation(system, group.systems)
            if relation and relation[0] == "upstream":
                why = f"cascade: {system} depends on {relation[1]}, which {target} covers"
            elif relation:
                why = f"cascade: {relation[1]} depends on {system}, the likely cause upstream"
            else:
                why = "related system"
        arch = f"; archetype {group.archetype}" if group.archetype != "unclassified" else ""
        return f"joined {target}: {why}; {last}{arch}"


class Recurrence:
    """Stage 3: the reopen-or-new rule for signals that match no live candidate.

    A signal that matches a resolved incident reopens it when the incident resolved at most
    `reopen_within` ago. Otherwise it starts a new candidate that, once opened, is linked to
    the old incident (resolved within `link_within`, or open but past `max_age`/`window`).
    """

    def __init__(self, rules: CorrelationRules, matcher: Matcher) -> None:
        self.rules = rules
        self.matcher = matcher

    def find(
        self, signal: Signal, archetype: str, candidates: Iterable[Group], now: datetime
    ) -> tuple[str, Group, str] | None:
        signal_key = self.matcher.keys_of(signal)
        found: tuple[str, Group, str] | None = None
        for group in sorted(candidates, key=lambda g: g.last_at, reverse=True):
            if group.incident_id is None or not self.matcher.compatible(
                group, signal_key, archetype
            ):
                continue
            if not self.matcher.coherent(signal, archetype, group):
                continue
            if group.status == "resolved" and group.resolved_at is not None:
                since = _age(now, group.resolved_at)
                if since <= self.rules.reopen_within and not group.closed:
                    why = (
                        f"reopened incident {group.incident_id}: it resolved {human(since)} ago, "
                        f"within reopen_within {human(self.rules.reopen_within)}"
                    )
                    return "reopen", group, why
                if since <= self.rules.link_within and found is None:
                    why = (
                        f"new incident, a recurrence of incident {group.incident_id} which "
                        f"resolved {human(since)} ago "
                        f"(reopen_within {human(self.rules.reopen_within)})"
                    )
                    found = ("link", group, why)
            elif group.status == "open" and found is None:
                idle = _age(now, group.last_at)
                if idle > self.rules.window:
                    limit = (
                        f"its last signal was {human(idle)} ago (window {human(self.rules.window)})"
                    )
                else:
                    limit = (
                        f"its first signal was {human(_age(now, group.first_at))} ago "
                        f"(max_age {human(self.rules.max_age)})"
                    )
                why = (
                    f"new incident, continuing incident {group.incident_id} which no longer "
                    f"accepts signals: {limit}"
                )
                found = ("link", group, why)
        return found


class PagingGate:
    """Stage 5: when a held candidate becomes an incident (Alertmanager's group_wait).

    After `group_wait`, a candidate opens when its firing alerts weigh `min_signals` (each
    alert once, weighted by hint and kind), or when its metrics breach a severity rule at
    `page_on_breach` or worse. A `page_immediately` hint opens it at once.
    """

    def __init__(
        self, rules: CorrelationRules, breach: Callable[[Group], str | None] | None = None
    ) -> None:
        self.rules = rules
        self.breach = breach

    def due(self, group: Group, now: datetime) -> str | None:
        """The reason to open `group` now, or None to keep holding it."""
        if group.status != "held":
            return None
        if group.paging:
            return f"a {group.hint} signal pages at once (page_immediately)"
        waited = _age(now, group.first_at)
        if waited < self.rules.group_wait or not group.firing:
            return None
        weight = group.evidence_weight()
        if weight >= self.rules.min_signals:
            return (
                f"{len(group.firing)} firing alert(s) weighing {weight:g} after waiting "
                f"{human(waited)} (group_wait {human(self.rules.group_wait)}, "
                f"min_signals {self.rules.min_signals:g})"
            )
        breached = self.breach(group) if self.breach is not None else None
        if breached:
            return f"{breached} after waiting {human(waited)}"
        return None

    def due_at(self, group: Group) -> datetime | None:
        """When the serve loop's next whole-second flush would open `group`, if nothing else
        arrives; None when it would not (too light) or it is past its wait already."""
        if group.status != "held":
            return None
        end = group.first_at + timedelta(seconds=self.rules.group_wait)
        tick = end.replace(microsecond=0) + timedelta(seconds=0 if end.microsecond == 0 else 1)
        return tick if self.due(group, tick) else None

    def expired(self, group: Group, now: datetime) -> bool:
        """A held candidate that never reached min_signals within the window is dropped."""
        return group.status == "held" and _age(now, group.last_at) > self.rules.window


# --- the index ------------------------------------------------------------------------------


class CorrelationIndex:
    """Live and recent candidates in memory, found through per-system sets."""

    def __init__(
        self,
        rules: CorrelationRules,
        graph: DependencyGraph | None = None,
        systems: dict[str, SystemInfo] | None = None,
    ) -> None:
        self.groups: dict[int, Group] = {}
        self.by_system: dict[str, set[int]] = {}
        self.by_incident: dict[int, int] = {}
        self.alert_group: dict[int, int] = {}
        self.systems = systems or {}
        self._next = 1
        self.configure(rules, graph or DependencyGraph())

    def configure(
        self,
        rules: CorrelationRules,
        graph: DependencyGraph,
        breach: Callable[[Group], str | None] | None = None,
    ) -> None:
        self.rules = rules
        self.graph = graph
        self.admission = Admission()
        self.matcher = Matcher(rules, graph)
        self.recurrence = Recurrence(rules, self.matcher)
        self.gate = PagingGate(rules, breach)

    # -- bookkeeping

    def new_group(self, signal: Signal, key: dict[str, str]) -> Group:
        group = Group(
            gid=self._next,
            key=key,
            systems=set(),
            first_at=signal.received_at,
            last_at=signal.received_at,
            detected_at=signal.occurred_at,
        )
        self._next += 1
        self.groups[group.gid] = group
        return group

    def index_system(self, group: Group, system: str) -> None:
        self.by_system.setdefault(system, set()).add(group.gid)

    def drop(self, group: Group) -> None:
        self.groups.pop(group.gid, None)
        for system in group.systems:
            members = self.by_system.get(system)
            if members is not None:
                members.discard(group.gid)
                if not members:
                    del self.by_system[system]
        for alert_id in group.alert_ids:
            if self.alert_group.get(alert_id) == group.gid:
                del self.alert_group[alert_id]
        if group.incident_id is not None and self.by_incident.get(group.incident_id) == group.gid:
            del self.by_incident[group.incident_id]

    def candidates(self, system: str) -> list[Group]:
        if "system" not in self.rules.group_by:
            return list(self.groups.values())
        ids: set[int] = set()
        for name in self.matcher.neighbourhood(system):
            ids |= self.by_system.get(name, set())
        return [self.groups[i] for i in ids]

    def group_of_alert(self, alert_id: int) -> Group | None:
        gid = self.alert_group.get(alert_id)
        return self.groups.get(gid) if gid is not None else None

    # -- the pipeline

    def route(self, signal: Signal, alert_id: int, new_alert: bool) -> Decision:
        """Pass one signal through the stages and apply the grouping to the index."""
        now = signal.received_at
        alert_group = self.group_of_alert(alert_id)
        early = self.admission.admit(signal, alert_group, new_alert)
        if early is not None:
            if early.action == "duplicate" and early.group is not None:
                weight = signal_weight(signal, self.rules)
                early.group.add(signal, alert_id, new_alert=False, classify_it=False, weight=weight)
            elif early.action == "resolved_alert" and early.group is not None:
                early.group.firing.discard(signal.fingerprint)
            return early
        system = signal.system or ""
        verdict = classify([signal], self.rules.classify_threshold)
        own = verdict.archetype
        lean = max(verdict.scores, key=verdict.scores.__getitem__) if verdict.scores else ""
        candidates = self.candidates(system)
        matched = self.matcher.match(signal, own, candidates, now, lean)
        if matched is not None:
            group, reason = matched
            self._attach(group, signal, alert_id, new_alert, reason)
            return Decision("attached" if group.status == "open" else "held", reason, group)
        recurrence = self.recurrence.find(signal, own, candidates, now)
        if recurrence is not None and recurrence[0] == "reopen":
            _kind, group, reason = recurrence
            group.status = "open"
            group.first_at = now  # the joining clock restarts at the reopen
            group.resolved_at = None
            self._attach(group, signal, alert_id, new_alert, reason)
            return Decision("reopened", reason, group)
        group = self.new_group(signal, self.matcher.keys_of(signal))
        reason = self._why_new(signal, own, candidates, now)
        if recurrence is not None:
            group.previous_incident = recurrence[1].incident_id
            group.previous_reason = recurrence[2]
            reason = recurrence[2]
        self._attach(group, signal, alert_id, new_alert, reason)
        return Decision("held", reason, group)

    def _why_new(
        self, signal: Signal, archetype: str, candidates: list[Group], now: datetime
    ) -> str:
        system = signal.system or ""
        live = [
            g
            for g in candidates
            if g.status != "resolved"
            and g.accepts_at(now, self.rules)
            and self.matcher.compatible(g, self.matcher.keys_of(signal), archetype)
        ]
        if not live:
            return f"new candidate for {system}: no live candidate of {system} or its dependencies"
        kinds = sorted({k for g in live for k in g.kinds})
        return (
            f"new candidate for {system}: {signal.kind} is unrelated to the live "
            f"candidate(s) nearby ({', '.join(kinds)})"
        )

    def _attach(
        self, group: Group, signal: Signal, alert_id: int, new_alert: bool, reason: str
    ) -> None:
        weight = signal_weight(signal, self.rules)
        group.add(signal, alert_id, new_alert=new_alert, classify_it=True, weight=weight)
        if signal.severity_hint in self.rules.page_immediately:
            group.paging = True
        for system in group.systems:
            self.index_system(group, system)
        self.alert_group[alert_id] = group.gid
        group.pending.append(Member(alert_id, reason, signal.summary))
        verdict = decide(group.evidence, self.rules.classify_threshold)
        # Only ever move to a classified archetype: new doubt does not erase what was shown.
        if verdict.classified:
            group.archetype, group.confidence = verdict.archetype, verdict.confidence
        elif group.archetype == "unclassified":
            group.confidence = verdict.confidence

    def next_due(self) -> datetime | None:
        """The earliest whole second a flush would open a held candidate, if one will."""
        times = [t for g in self.groups.values() if (t := self.gate.due_at(g)) is not None]
        return min(times) if times else None

    def due(self, now: datetime) -> list[tuple[Group, str]]:
        """Held candidates to open now; drops the ones that expired and forgets stale groups."""
        out: list[tuple[Group, str]] = []
        for group in list(self.groups.values()):
            if group.status == "held":
                reason = self.gate.due(group, now)
                if reason:
                    out.append((group, reason))
                elif self.gate.expired(group, now):
                    self.drop(group)
            elif self._forgettable(group, now):
                self.drop(group)
        return out

    def _forgettable(self, group: Group, now: datetime) -> bool:
        keep = max(self.rules.window, self.rules.max_age) + self.rules.link_within
        if group.status == "resolved" and group.resolved_at is not None:
            return _age(now, group.resolved_at) > self.rules.link_within
        return _age(now, group.last_at) > keep

    def mark_open(self, group: Group, incident_id: int) -> None:
        group.status = "open"
        group.incident_id = incident_id
        self.by_incident[incident_id] = group.gid
        # An open incident no longer needs paging evidence: forget it, so a storm of ten
        # thousand alerts does not carry ten thousand weights in memory and in its state.
        group.weights = {}
        group.firing = set()

    def mark_resolved(self, incident_id: int, resolved_at: datetime, *, closed: bool) -> None:
        """A person resolved (or closed) the incident: it stops taking signals."""
        gid = self.by_incident.get(incident_id)
        group = self.groups.get(gid) if gid is not None else None
        if group is not None:
            group.status = "resolved"
            group.resolved_at = resolved_at
            group.closed = closed

    def mark_reopened(self, incident_id: int, now: datetime) -> None:
        """A person reopened the incident: it takes signals again, its joining clock restarts."""
        gid = self.by_incident.get(incident_id)
        group = self.groups.get(gid) if gid is not None else None
        if group is not None and group.status == "resolved":
            group.status = "open"
            group.resolved_at = None
            group.closed = False
            group.first_at = group.last_at = now


def held_since(now: datetime, rules: CorrelationRules) -> datetime:
    """Oldest receipt time a held candidate can still have a live signal from."""
    return now - timedelta(seconds=rules.window)
