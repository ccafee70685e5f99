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

The groups and their data are in quell.detection.correlation_groups, the stages in
quell.detection.correlation_stages; this module holds the index that runs them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from quell.detection.classify import decide, leaning
from quell.detection.correlation_groups import (
    Decision,
    DependencyGraph,
    Group,
    Member,
    SystemInfo,
    age_s,
    signal_weight,
)
from quell.detection.correlation_stages import Admission, Matcher, PagingGate, Recurrence
from quell.detection.rules import CorrelationRules
from quell.ingest.signal import Signal

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
        own, lean = leaning(signal, self.rules.classify_threshold)
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
        if signal.system:  # the one system `add` may have brought; the others are indexed
            self.index_system(group, signal.system)
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
            return age_s(now, group.resolved_at) > self.rules.link_within
        return age_s(now, group.last_at) > keep

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
