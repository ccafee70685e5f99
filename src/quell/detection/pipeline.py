"""The correlation engine bound to a store: intake hands it signals, it writes incidents.

`Correlator.handle` runs inside intake's transaction. It routes each signal through the pure
stages of `quell.detection.correlation`, then writes what changed through
`quell.incidents.service`: a new incident when a held candidate is due, one `signal.attached`
event per incident and batch (with each alert's reason), new systems, archetype and severity
changes, reopens and links. Each decision is on the timeline with its reason.

The index lives in memory, one per engine, rebuilt from the store on first use: open and
recently resolved incidents (with their `correlation_groups` state) and recent alerts that
have no incident yet (the held candidates). If a transaction rolls back, the index is thrown
away and rebuilt, so memory never runs ahead of the store.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import Engine, event, or_, select
from sqlalchemy.orm import Session

from quell.detection.classify import EvidenceScores
from quell.detection.correlation import CorrelationIndex, held_since
from quell.detection.correlation_groups import (
    Decision,
    DependencyGraph,
    Group,
    SystemInfo,
    family,
)
from quell.detection.correlation_models import CorrelationGroup, IncidentLink
from quell.detection.rules import CorrelationRules, SeverityPolicies, load_rules, rules_version
from quell.detection.severity import SeverityDecision, evaluate, metric_breach
from quell.errors import Conflict
from quell.incidents import lifecycle
from quell.incidents import service as incidents
from quell.incidents.models import Incident
from quell.incidents.timeline import append_event
from quell.ingest.signal import Signal
from quell.inventory.models import AISystem
from quell.store.db import PerEngine, run_rows
from quell.timeutil import as_utc, utcnow

ACTOR = "quell-correlation"
MAX_LISTED = 50  # alerts named in one signal.attached event; the rest are counted
RELOAD_EVERY_S = 5.0  # how often a running correlator checks for new rules and inventory
# Opening a held candidate links the alerts it gathered in earlier batches to the new incident.
# Up to this many are linked in the opening transaction; beyond it (an alert storm held for
# group_wait), a caller that asks for it (intake's writer) gets a durable job instead, run right
# after its answer in short chunks (see HeldLinks).
LINK_INLINE_MAX: Final = 200
LINK_CHUNK: Final = 500  # alerts linked per transaction after the answer (~2 ms on SQLite)
LINK_PIECE: Final = 50  # ... per statement batch when a waiting request may cut the chunk short
LINK_JOB: Final = "correlation.link_held"
# The scheduler runs a link job only if its owner did not get to it (the process died first).
LINK_GRACE: Final = timedelta(seconds=10)
DEFERRED_LINKS: Final = "quell_deferred_links"  # session.info: HeldLinks made in the transaction
ARCHETYPE_TITLES = {
    "prompt_injection": "Prompt injection",
    "data_exfiltration": "Data exfiltration",
    "model_manipulation": "Model manipulation",
    "misinformation_cascade": "Misinformation cascade",
    "toxicity_abuse": "Toxic or abusive output",
    "agentic_misalignment": "Agentic misalignment",
}

log = logging.getLogger("quell.ingest")  # the intake writer and linker run HeldLinks


@dataclass(slots=True)
class Incoming:
    """One stored signal handed to correlation by intake."""

    signal: Signal
    signal_id: int
    alert_id: int
    new_alert: bool  # False when it was a duplicate of an open alert


@dataclass(slots=True)
class Outcome:
    """What correlation did with one alert; intake records `incident_id` on the alert."""

    alert_id: int
    incident_id: int | None
    action: str  # created | attached | held | duplicate | reopened | resolved_alert | unmapped ...
    reason: str


_WATCHED: Final = "quell_correlation_watched"


@event.listens_for(Session, "after_rollback")
def _invalidate_after_rollback(session: Session) -> None:
    correlator = session.info.get(_WATCHED)
    if correlator is not None:
        correlator.invalidate()


class Correlator(PerEngine):
    """The process-wide correlation engine of one database engine (`Correlator.for_engine`;
    its index is rebuilt from the store at first use)."""

    engine: Engine | None

    def __init__(self, engine: Engine | None = None) -> None:
        self.engine = engine
        self.index: CorrelationIndex | None = None
        self.policies = SeverityPolicies()
        self._lock = threading.RLock()
        self._version: datetime | None = None
        self._checked = 0.0

    # -- index lifecycle

    def invalidate(self) -> None:
        """Throw the in-memory index away; the next call rebuilds it from the store."""
        self.index = None

    def _watch(self, session: Session) -> None:
        """Rebuild after a rollback: the index must never hold what the store does not.

        One listener for every session (below) finds the correlator in the session's info:
        listening on each session took intake's writer ~50 µs per transaction.
        """
        session.info.setdefault(_WATCHED, self)

    def _ensure(
        self, session: Session, now: datetime, skip_signals: frozenset[int] = frozenset()
    ) -> CorrelationIndex:
        if self.index is None:
            self.index = self.rebuild(session, now, skip_signals)
        elif time.monotonic() - self._checked > RELOAD_EVERY_S:
            self.reload(session)
        return self.index

    def reload(self, session: Session) -> None:
        """Pick up new rules (quell.yaml applied) and inventory changes without a rebuild."""
        self._checked = time.monotonic()
        version = rules_version(session)
        if self.index is None:
            return
        rules, policies = load_rules(session) if version != self._version else (None, None)
        if rules is not None and policies is not None:
            self._version, self.policies = version, policies
        graph, infos = _inventory(session)
        self.index.systems = infos
        self.index.configure(rules or self.index.rules, graph, self._breach_check(self.index))

    def rebuild(
        self, session: Session, now: datetime, skip_signals: frozenset[int] = frozenset()
    ) -> CorrelationIndex:
        """Build the index from the store: open and recent incidents, then held alerts.

        `skip_signals` are the signals of the batch being handled: stored already, not yet routed.
        """
        self._checked = time.monotonic()
        self._version = rules_version(session)
        rules, self.policies = load_rules(session)
        graph, infos = _inventory(session)
        index = CorrelationIndex(rules, graph, infos)
        index.configure(rules, graph, self._breach_check(index))
        since = now - timedelta(seconds=rules.link_within)
        finish_deferred_links(session)
        rows = session.execute(
            select(Incident, CorrelationGroup)
            .join(CorrelationGroup, CorrelationGroup.incident_id == Incident.id)
            .where(
                or_(
                    Incident.status.in_(lifecycle.OPEN_STATUSES),
                    Incident.resolved_at >= since,
                )
            )
        )
        for incident, stored in rows:
            _restore_group(index, incident, stored)
        _restore_alerts(session, index)
        _restore_held(session, index, now, skip_signals)
        return index

    # -- the two entry points

    def handle(
        self,
        session: Session,
        items: list[Incoming],
        *,
        held_outcomes: bool = True,
        defer_links: bool = False,
    ) -> list[Outcome]:
        """Correlate a batch of stored signals inside the caller's transaction.

        One outcome per item, then (`held_outcomes`) one per alert of an earlier batch that a
        held candidate opening now took into its incident. With `defer_links`, a candidate
        that gathered more than LINK_INLINE_MAX such alerts links them after the commit
        (a durable job, listed in ``session.info[DEFERRED_LINKS]`` for the caller to run);
        the incident, its timeline and this batch's alerts are written here either way.
        """
        if not items:
            return []
        with self._lock:
            self._watch(session)
            now = max(i.signal.received_at for i in items)
            index = self._ensure(session, now, frozenset(i.signal_id for i in items))
            self._refresh_statuses(session, index, now)
            decisions: list[tuple[Incoming, Decision]] = []
            for item in items:
                decisions.append((item, index.route(item.signal, item.alert_id, item.new_alert)))
            batch_alerts = {i.alert_id for i in items}
            opened = self._open_due(
                session,
                index,
                now,
                skip_alerts=batch_alerts,
                extra=held_outcomes,
                defer=defer_links,
            )
            self._write_touched(session, index, {id(d.group) for _, d in decisions if d.group})
            outcomes = [_outcome(item, decision, opened) for item, decision in decisions]
            return outcomes + [o for o in opened.extra if o.alert_id not in batch_alerts]

    def flush_due(
        self, session: Session, now: datetime | None = None, *, defer_links: bool = False
    ) -> list[Outcome]:
        """Open held candidates whose group_wait has passed; call every second or so."""
        now = now or utcnow()
        with self._lock:
            self._watch(session)
            index = self._ensure(session, now)
            self._refresh_statuses(session, index, now)
            opened = self._open_due(session, index, now, skip_alerts=set(), defer=defer_links)
            return opened.extra

    def flush_due_now(self) -> list[Outcome]:
        """flush_due in its own transaction, serialised with intake's writers; links of a large
        candidate are handed to intake's writer, which runs them between its transactions."""
        from quell.ingest.service import write_lock
        from quell.store.db import session_scope

        assert self.engine is not None
        with write_lock(self.engine), session_scope(self.engine) as session:
            outcomes = self.flush_due(session, defer_links=True)
            deferred: list[HeldLinks] = session.info.pop(DEFERRED_LINKS, [])
        if deferred:
            from quell.ingest.committer import Committer

            Committer.for_engine(self.engine).defer(deferred)
        return outcomes

    # -- store writes

    def _refresh_statuses(self, session: Session, index: CorrelationIndex, now: datetime) -> None:
        """Notice incidents a person resolved, closed or reopened since the last batch."""
        ids = [g.incident_id for g in index.groups.values() if g.incident_id is not None]
        if not ids:
            return
        query = select(Incident.id, Incident.status, Incident.resolved_at).where(
            Incident.id.in_(ids)
        )
        for incident_id, status, resolved_at in session.execute(query):
            group = index.groups[index.by_incident[incident_id]]
            if status in lifecycle.OPEN_STATUSES and group.status == "resolved":
                index.mark_reopened(incident_id, now)
            elif status not in lifecycle.OPEN_STATUSES and group.status == "open":
                when = as_utc(resolved_at) if resolved_at else now
                index.mark_resolved(incident_id, when, closed=status == "closed")
            elif status == "closed":
                group.closed = True

    def _open_due(
        self,
        session: Session,
        index: CorrelationIndex,
        now: datetime,
        *,
        skip_alerts: set[int],
        extra: bool = True,
        defer: bool = False,
    ) -> _Opened:
        opened = _Opened()
        for group, reason in index.due(now):
            incident = self._create(session, index, group, reason)
            opened.groups[id(group)] = incident.id
            if extra:
                why = f"opened with its candidate: {reason}"
                opened.extra.extend(
                    Outcome(a, incident.id, "created", why) for a in sorted(group.alert_ids)
                )
            earlier = sorted(group.alert_ids - skip_alerts)
            if defer and len(earlier) > LINK_INLINE_MAX:
                links = defer_held_links(session, incident.id, earlier)
                session.info.setdefault(DEFERRED_LINKS, []).append(links)
            else:
                link_held(session, incident.id, id_runs(earlier))
        return opened

    def _create(
        self, session: Session, index: CorrelationIndex, group: Group, reason: str
    ) -> Incident:
        decision = self._severity(index, group)
        root = index.graph.root(group.systems) or "unknown system"
        classified = group.archetype != "unclassified"
        what = ARCHETYPE_TITLES.get(group.archetype, "Incident")
        first = group.summaries[0] if group.summaries else ""
        title = f"{what} on {root}: {first}" if first else f"{what} on {root}"
        others = sorted(group.systems - {root})
        summary = f"{group.alert_count} alert(s), {group.signal_count} signal(s)" + (
            f"; also affects {', '.join(others)}" if others else ""
        )
        incident = incidents.create_incident(
            session,
            actor=ACTOR,
            title=title[:300],
            severity=decision.severity,
            summary=summary,
            archetype=group.archetype if classified else "unclassified",
            archetype_confidence=group.confidence if classified else None,
            systems=sorted(group.systems & set(index.systems)),
            source="correlation",
            detected_at=min(group.detected_at, utcnow()),
            reason=f"{reason}; severity {decision.severity} by rule {decision.rule}",
        )
        append_event(
            session,
            incident,
            actor=ACTOR,
            kind="incident.classified",
            data={
                "archetype": group.archetype,
                "confidence": group.confidence,
                "scores": group.evidence.scores(),
                "severity": decision.severity,
                "severity_rule": decision.rule,
                "conditions": list(decision.conditions),
            },
            reason=_archetype_reason(group),
        )
        index.mark_open(group, incident.id)
        group.applied_archetype = incident.archetype
        group.applied_severity = decision.severity
        if group.previous_incident is not None:
            _link(session, incident, group.previous_incident, group.previous_reason)
        self._attach_events(session, incident, group, reason=f"held candidate opened: {reason}")
        group.new_systems.clear()
        _save_state(session, group)
        return incident

    def _write_touched(self, session: Session, index: CorrelationIndex, touched: set[int]) -> None:
        """One timeline entry per open incident that gained alerts in this batch."""
        for group in list(index.groups.values()):
            if id(group) not in touched or group.incident_id is None or not group.dirty:
                continue
            # A plain primary-key get (the identity map when this batch loaded it already):
            # nothing here needs the incident's roles or systems loaded eagerly.
            incident = session.get(Incident, group.incident_id)
            if incident is None:
                continue
            if group.pending:
                reopen = [m for m in group.pending if m.reason.startswith("reopened")]
                if reopen and incident.status == "resolved":
                    # Closed meanwhile (Conflict): the signals still join its record.
                    with contextlib.suppress(Conflict):
                        incidents.transition(
                            session,
                            incident.id,
                            "acknowledged",
                            actor=ACTOR,
                            reason=reopen[0].reason,
                        )
                new_known = sorted(group.new_systems & set(index.systems))
                if new_known:
                    why = next(
                        (m.reason for m in group.pending if "cascade" in m.reason),
                        "signals from these systems joined",
                    )
                    incidents.add_systems(session, incident, new_known, actor=ACTOR, reason=why)
                group.new_systems.clear()
                self._attach_events(session, incident, group)
            self._reclassify(session, incident, group)
            self._raise_severity(session, index, incident, group)
            _save_state(session, group)

    def _attach_events(
        self, session: Session, incident: Incident, group: Group, *, reason: str = ""
    ) -> None:
        members = group.pending
        group.pending = []
        group.dirty = False
        if not members:
            return
        first_reason = members[0].reason
        one_reason = all(m.reason == first_reason for m in members)
        append_event(
            session,
            incident,
            actor=ACTOR,
            kind="signal.attached",
            data={
                "count": len(members),
                "alerts": [
                    {"alert_id": m.alert_id, "summary": m.summary[:200], "reason": m.reason}
                    for m in members[:MAX_LISTED]
                ],
                "signal_count": group.signal_count,
            },
            reason=reason or (first_reason if one_reason else f"{len(members)} alerts joined"),
        )

    def _reclassify(self, session: Session, incident: Incident, group: Group) -> None:
        if group.archetype == "unclassified" or group.archetype == incident.archetype:
            return
        if incident.archetype != group.applied_archetype:
            return  # a person set the archetype: the engine does not overrule them
        incidents.set_archetype(
            session,
            incident,
            group.archetype,
            actor=ACTOR,
            reason=_archetype_reason(group),
            confidence=group.confidence,
        )
        group.applied_archetype = group.archetype

    def _raise_severity(
        self, session: Session, index: CorrelationIndex, incident: Incident, group: Group
    ) -> None:
        decision = self._severity(index, group)
        if lifecycle.severity_rank(decision.severity) >= lifecycle.severity_rank(incident.severity):
            return  # severity rises as signals join; it never silently falls
        conditions = " or ".join(decision.conditions) if decision.conditions else "default"
        incidents.set_severity(
            session,
            incident,
            decision.severity,
            actor=ACTOR,
            reason=f"rule {decision.rule} fired ({conditions})",
        )
        group.applied_severity = decision.severity

    def _breach_check(self, index: CorrelationIndex) -> Callable[[Group], str | None]:
        """The paging gate's question: do this candidate's metrics breach a severity rule?"""

        def check(group: Group) -> str | None:
            worst = index.rules.page_on_breach
            if worst is None:
                return None
            found = metric_breach(
                self.policies.effective_rules(), group.impact(index.systems), worst
            )
            if found is None:
                return None
            return f"rule {found.rule} breached ({' or '.join(found.conditions)}): {found.severity}"

        return check

    def _severity(self, index: CorrelationIndex, group: Group) -> SeverityDecision:
        return evaluate(
            self.policies.effective_rules(), group.impact(index.systems), self.policies.default
        )


@dataclass(slots=True)
class _Opened:
    groups: dict[int, int]
    extra: list[Outcome]

    def __init__(self) -> None:
        self.groups = {}
        self.extra = []


def _outcome(item: Incoming, decision: Decision, opened: _Opened) -> Outcome:
    group = decision.group
    incident_id = group.incident_id if group is not None else None
    action = decision.action
    if group is not None and id(group) in opened.groups:
        action = "created"
    elif action == "held" and incident_id is not None:
        action = "attached"
    return Outcome(item.alert_id, incident_id, action, decision.reason)


def _archetype_reason(group: Group) -> str:
    if group.archetype == "unclassified":
        return f"unclassified: no archetype reached the threshold (best {group.confidence:.2f})"
    why = ", ".join(group.evidence.reasons.get(group.archetype, [])[:4])
    return f"{group.archetype} at confidence {group.confidence:.2f} from {why}"


def _inventory(session: Session) -> tuple[DependencyGraph, dict[str, SystemInfo]]:
    """The dependency graph and system facts, in two queries whatever the inventory's size."""
    from quell.inventory.models import system_dependencies as edges

    rows = session.execute(select(AISystem.id, AISystem.name, AISystem.kind, AISystem.criticality))
    names: dict[int, str] = {}
    infos: dict[str, SystemInfo] = {}
    for system_id, name, kind, criticality in rows:
        names[system_id] = name
        infos[name] = SystemInfo(kind, criticality)
    upstream: dict[str, set[str]] = {name: set() for name in infos}
    for up, down in session.execute(select(edges.c.upstream_id, edges.c.downstream_id)):
        if up in names and down in names:
            upstream[names[down]].add(names[up])
    return DependencyGraph(upstream), infos


# --- linking a held candidate's earlier alerts ---------------------------------------------


def id_runs(ids: Sequence[int]) -> list[tuple[int, int]]:
    """Sorted ids as runs of consecutive ids, (first, last): a storm's alerts, created in
    batches, make a few long runs, so one range statement each links them."""
    runs: list[tuple[int, int]] = []
    if not ids:
        return runs
    first = last = ids[0]
    for i in ids[1:]:
        if i != last + 1:
            runs.append((first, last))
            first = i
        last = i
    runs.append((first, last))
    return runs


_LINK_SQL = (
    "UPDATE alerts SET incident_id = {m} WHERE id BETWEEN {m} AND {m} AND incident_id IS NULL"
)


def link_held(session: Session, incident_id: int, runs: Sequence[Sequence[int]]) -> None:
    """Record the incident on the alerts with ids in `runs` that have none yet.

    Set-based (one range statement per run, on the driver's cursor) and idempotent: an alert
    linked already, by intake or an earlier run, is left alone.
    """
    if not runs:
        return
    connection = session.connection()
    mark = "%s" if connection.dialect.name == "postgresql" else "?"
    sql = _LINK_SQL.format(m=mark)
    params = [(incident_id, int(first), int(last)) for first, last in runs]
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        run_rows(cursor, sql, params)
    finally:
        cursor.close()


@dataclass(slots=True)
class HeldLinks:
    """Earlier alerts of a candidate that opened, linked to its incident after the answer.

    The job row (kind LINK_JOB) is written in the opening transaction, so the work survives a
    crash: the next index rebuild (see `finish_deferred_links`) or the scheduler does it. The
    owner runs it in chunks of LINK_CHUNK alerts, each in a short transaction of its own, and
    the last chunk marks the job done:

        with session_scope(engine) as session:
            rest = links.step(session)
        links.runs = rest  # only once committed: a failed chunk is simply run again
    """

    job_id: int
    incident_id: int
    runs: list[tuple[int, int]]  # the alerts still to link, as runs of consecutive ids

    def step(
        self,
        session: Session,
        budget: int = LINK_CHUNK,
        *,
        yield_to: Callable[[], bool] | None = None,
    ) -> list[tuple[int, int]]:
        """Link up to `budget` alerts and return the runs left after them: [] when that was
        the last of them, or when the job is no longer pending (an index rebuild or the
        scheduler did it meanwhile). Changes nothing in memory.

        With `yield_to`, the alerts go in pieces of LINK_PIECE and the step stops early once
        it returns True (a request is waiting), so that request waits for one piece at most.
        """
        from quell import scheduler

        job = session.get(scheduler.ScheduledJob, self.job_id)
        if job is None or job.status != "pending":
            return []
        rest = self.runs
        piece = LINK_PIECE if yield_to is not None else budget
        while rest and budget > 0:
            chunk, rest = _take(rest, min(piece, budget))
            link_held(session, self.incident_id, chunk)
            budget -= sum(last - first + 1 for first, last in chunk)
            if yield_to is not None and yield_to():
                break
        if not rest:
            scheduler.finish(session, self.job_id)
        return rest

    def give_up(self) -> None:
        """Stop running this job here after a failure, logged with the exception being handled.

        It stays pending in the store, so the scheduler runs it once its grace time is over.
        """
        log.exception("intake: linking the alerts of incident %s failed", self.incident_id)
        self.runs = []


def _take(
    runs: list[tuple[int, int]], count: int
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """The first `count` ids of `runs` (a long run is cut) and the runs left after them."""
    chunk: list[tuple[int, int]] = []
    taken = 0  # whole runs in the chunk
    while taken < len(runs) and count > 0:
        first, last = runs[taken]
        if last - first + 1 > count:
            chunk.append((first, first + count - 1))
            return chunk, [(first + count, last), *runs[taken + 1 :]]
        chunk.append((first, last))
        count -= last - first + 1
        taken += 1
    return chunk, runs[taken:]


def defer_held_links(session: Session, incident_id: int, alert_ids: Sequence[int]) -> HeldLinks:
    """Store the job that links `alert_ids` to the incident, in the caller's transaction."""
    from quell import scheduler

    runs = id_runs(alert_ids)
    job_id = scheduler.schedule(
        session,
        LINK_JOB,
        utcnow() + LINK_GRACE,
        {"incident_id": incident_id, "runs": [list(r) for r in runs], "alerts": len(alert_ids)},
    )
    return HeldLinks(job_id, incident_id, runs)


def _link_job(session: Session, payload: dict[str, Any]) -> None:
    """The scheduler's way to run a link job its owner did not finish (idempotent)."""
    link_held(session, int(payload["incident_id"]), payload.get("runs", []))


def finish_deferred_links(session: Session) -> int:
    """Do every link job still pending, in the caller's transaction; returns how many.

    Run before the index is rebuilt: an alert waiting for its link has no incident in the store
    yet, and would otherwise be taken for a held candidate and open a second incident.
    """
    from quell.scheduler import ScheduledJob, close_job

    jobs = list(
        session.scalars(
            select(ScheduledJob).where(
                ScheduledJob.kind == LINK_JOB, ScheduledJob.status.in_(("pending", "running"))
            )
        )
    )
    for job in jobs:
        _link_job(session, dict(job.payload))
        close_job(job, "done")
    if jobs:
        session.flush()
    return len(jobs)


def _link(session: Session, incident: Incident, previous_id: int, reason: str) -> None:
    session.add(
        IncidentLink(
            incident_id=incident.id,
            related_incident_id=previous_id,
            relation="recurrence_of",
            reason=reason,
        )
    )
    append_event(
        session,
        incident,
        actor=ACTOR,
        kind="incident.linked",
        data={"relation": "recurrence_of", "incident_id": previous_id},
        reason=reason,
    )
    previous = session.get(Incident, previous_id)
    if previous is not None:
        append_event(
            session,
            previous,
            actor=ACTOR,
            kind="incident.linked",
            data={"relation": "recurred_as", "incident_id": incident.id},
            reason=f"signals matching this incident opened incident {incident.id}",
        )


def _save_state(session: Session, group: Group) -> None:
    assert group.incident_id is not None
    row = session.get(CorrelationGroup, group.incident_id)
    if row is None:
        row = CorrelationGroup(incident_id=group.incident_id)
        session.add(row)
    row.first_signal_at = group.first_at
    row.last_signal_at = group.last_at
    row.state = group.state()


def _restore_group(index: CorrelationIndex, incident: Incident, stored: CorrelationGroup) -> None:
    state: dict[str, Any] = stored.state or {}
    group = Group(
        gid=index._next,
        key=dict(state.get("key", {})),
        systems=set(state.get("systems", [])),
        first_at=as_utc(stored.first_signal_at),
        last_at=as_utc(stored.last_signal_at),
        detected_at=as_utc(incident.detected_at),
    )
    index._next += 1
    group.signal_count = int(state.get("signal_count", 0))
    group.alert_count = int(state.get("alert_count", 0))
    group.evidence = EvidenceScores.from_dict(state.get("evidence", {}))
    group.archetype = incident.archetype
    group.confidence = incident.archetype_confidence or 0.0
    group.kinds = set(state.get("kinds", []))
    group.families = {family(k) for k in group.kinds}
    streams = state.get("streams")
    group.streams = (
        {(str(s), str(k)) for s, k in streams}
        if isinstance(streams, list)
        else {(s, k) for s in group.systems for k in group.kinds}  # state from before streams
    )
    group.weights = {str(k): float(v) for k, v in dict(state.get("weights", {})).items()}
    group.firing = set(state.get("firing", []))
    group.hint = state.get("hint")
    group.metrics_max = dict(state.get("metrics_max", {}))
    group.metrics_min = dict(state.get("metrics_min", {}))
    group.summaries = list(state.get("summaries", []))
    group.applied_archetype = state.get("applied_archetype")
    group.applied_severity = state.get("applied_severity")
    index.groups[group.gid] = group
    index.mark_open(group, incident.id)
    if incident.status not in lifecycle.OPEN_STATUSES:
        resolved = as_utc(incident.resolved_at) if incident.resolved_at else group.last_at
        index.mark_resolved(incident.id, resolved, closed=incident.status == "closed")
    for system in group.systems:
        index.index_system(group, system)


def _restore_alerts(session: Session, index: CorrelationIndex) -> None:
    """Map the firing alerts of indexed incidents, so their repeats count as duplicates."""
    from quell.ingest.models import Alert

    ids = list(index.by_incident)
    for start in range(0, len(ids), 500):
        query = select(Alert.id, Alert.incident_id).where(
            Alert.incident_id.in_(ids[start : start + 500]), Alert.status == "firing"
        )
        for alert_id, incident_id in session.execute(query):
            if incident_id is None:
                continue
            group = index.groups[index.by_incident[incident_id]]
            group.alert_ids.add(alert_id)
            index.alert_group[alert_id] = group.gid


def _restore_held(
    session: Session, index: CorrelationIndex, now: datetime, skip_signals: frozenset[int]
) -> None:
    """Held candidates are not stored: re-derive them from recent alerts without an incident."""
    from quell.ingest.models import Alert, SignalRow

    since = held_since(now, index.rules)
    alert_ids = list(
        session.scalars(
            select(Alert.id).where(
                Alert.incident_id.is_(None),
                Alert.status == "firing",
                Alert.system.is_not(None),
                Alert.last_seen_at >= since,
            )
        )
    )
    seen: set[int] = set()
    for start in range(0, len(alert_ids), 500):
        rows = session.scalars(
            select(SignalRow)
            .where(SignalRow.alert_id.in_(alert_ids[start : start + 500]))
            .where(SignalRow.status == "firing")
            .order_by(SignalRow.received_at, SignalRow.id)
        )
        for row in rows:
            if row.id in skip_signals or row.alert_id is None:
                continue
            index.route(_signal_of(row), row.alert_id, row.alert_id not in seen)
            seen.add(row.alert_id)
    for group in index.groups.values():
        if group.status == "held":
            group.dirty = False


def _signal_of(row: Any) -> Signal:
    return Signal(
        source=row.source,
        kind=row.kind,
        summary=row.summary,
        system=row.system,
        fingerprint=row.fingerprint,
        occurred_at=as_utc(row.occurred_at),
        received_at=as_utc(row.received_at),
        status=row.status,
        severity_hint=row.severity_hint,
        labels=dict(row.labels or {}),
        metrics={k: float(v) for k, v in (row.metrics or {}).items()},
        archetype_hint=row.archetype_hint,
        evidence=dict(row.evidence or {}),
    )


def correlation_rules(session: Session) -> CorrelationRules:
    """The correlation rules in force (stored section or defaults)."""
    return load_rules(session)[0]


def flush_due(engine: Engine) -> None:
    """The serve process's periodic task: open held candidates whose group_wait is over, so a
    candidate pages on time even when no further signal arrives."""
    Correlator.for_engine(engine).flush_due_now()


def _register_periodic() -> None:
    # Registered on import: intake imports this module, so every app that takes signals runs it.
    from quell import scheduler

    scheduler.register_periodic("correlation.flush_due", flush_due, every_s=1.0)
    scheduler.register(LINK_JOB, _link_job)


_register_periodic()
