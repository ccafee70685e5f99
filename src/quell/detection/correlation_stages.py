"""Correlation's stages, each a small type with one job: Admission, Matcher, Recurrence and
PagingGate (see quell.detection.correlation for the order they run in). Pure: no database."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from quell.detection.classify import UNCLASSIFIED
from quell.detection.correlation_groups import (
    FAMILY_AFFINITY,
    NOT_CORRELATED_KINDS,
    Decision,
    DependencyGraph,
    Group,
    age_s,
    archetypes_agree,
    family,
    human,
)
from quell.detection.rules import CorrelationRules
from quell.ingest.signal import Signal


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
                age_s(now, group.last_at),
            )
            if best is None or rank < best[0]:
                best = (rank, group)
        if best is None:
            return None
        group = best[1]
        return group, self.explain(signal, group, now)

    def explain(self, signal: Signal, group: Group, now: datetime) -> str:
        system = signal.system or ""
        since = human(age_s(now, group.last_at))
        last = f"last signal {since} ago (window {human(self.rules.window)})"
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
                since = age_s(now, group.resolved_at)
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
                idle = age_s(now, group.last_at)
                if idle > self.rules.window:
                    limit = (
                        f"its last signal was {human(idle)} ago (window {human(self.rules.window)})"
                    )
                else:
                    limit = (
                        f"its first signal was {human(age_s(now, group.first_at))} ago "
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
        waited = age_s(now, group.first_at)
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
        return group.status == "held" and age_s(now, group.last_at) > self.rules.window
