"""The triage pack: the context a responder needs in the first minutes, assembled in one call.

Five sections, as the playbook lists them: change snapshot, top anomalies, dependency graph
snippet, similar past incidents (with outcomes and what worked) and known mitigations. Every
query is indexed and limited, so assembly time does not grow with the size of the history.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from quell.errors import InvalidInput
from quell.incidents.lifecycle import OPEN_STATUSES, severity_rank
from quell.incidents.models import Incident, TimelineEvent, incident_systems
from quell.incidents.service import get_incident
from quell.inventory.models import AISystem, system_dependencies
from quell.remediation.playbooks import steps_for
from quell.timeutil import as_utc, iso, utcnow
from quell.triage import sources

DEFAULT_WINDOW_HOURS = 24
MAX_WINDOW_HOURS = 24 * 30
GRAPH_DEPTH = 2  # hops upstream and downstream shown in the snippet
SIMILAR_CANDIDATES = 300  # newest past incidents looked at per criterion
SIMILAR_SHOWN = 5
SEVERITY_HINT_RANK = {"critical": 4, "high": 3, "warning": 2, "info": 1}
# Timeline kinds that say what was done to mitigate a past incident.
MITIGATION_KINDS = ("incident.mitigated", "checklist.step_done", "action.executed")


def triage_pack(
    session: Session, incident_id: int, *, window_hours: float = DEFAULT_WINDOW_HOURS
) -> dict[str, Any]:
    """Assemble the triage pack of one incident (see docs/response.md for the shape)."""
    if not 0 < window_hours <= MAX_WINDOW_HOURS:
        raise InvalidInput(
            f"window_hours must be above 0 and at most {MAX_WINDOW_HOURS}", field="window_hours"
        )
    started = time.perf_counter()
    incident = get_incident(session, incident_id)
    names = [s.name for s in incident.systems]
    graph = dependency_snippet(session, incident)
    related = [n["name"] for n in graph["nodes"]]
    relation = {n["name"]: n["relation"] for n in graph["nodes"]}

    until = incident.detected_at
    since = until - timedelta(hours=window_hours)
    changes, change_note = sources.changes(session, related, since, until)
    for change in changes:
        change["relation"] = relation.get(change["system"], "affected")
        at = change["occurred_at"]
        if isinstance(at, str):
            delta = until - as_utc(datetime.fromisoformat(at))
            change["minutes_before_detection"] = round(delta.total_seconds() / 60, 1)

    anomalies = top_anomalies(session, incident, changes)
    symptoms = sorted({a["kind"] for a in anomalies["items"]})
    if changes:
        symptoms.append("change")
    similar = similar_incidents(session, incident, symptoms=anomalies["correlated_kinds"])
    mitigations = known_mitigations(session, incident, symptoms, similar)

    return {
        "incident": {
            "id": incident.id,
            "title": incident.title,
            "severity": incident.severity,
            "archetype": incident.archetype,
            "status": incident.status,
            "systems": names,
            "detected_at": iso(incident.detected_at),
        },
        "generated_at": iso(utcnow()),
        "change_snapshot": {
            "since": iso(since),
            "until": iso(until),
            "systems": related,
            "model_version_changes": sum(1 for c in changes if c["model_version_change"]),
            "changes": changes,
            "note": change_note,
        },
        "top_anomalies": anomalies,
        "dependency_graph": graph,
        "similar_incidents": similar,
        "known_mitigations": mitigations,
        "assembly_ms": round((time.perf_counter() - started) * 1000, 1),
    }


# ---------------------------------------------------------------- dependency graph snippet


def _neighbours(
    session: Session, start: set[int], *, upstream: bool, depth: int
) -> dict[int, tuple[int, set[tuple[int, int]]]]:
    """Systems within `depth` hops up (or down) the dependency edges: id -> (hops, edges)."""
    near, far = (
        (system_dependencies.c.downstream_id, system_dependencies.c.upstream_id)
        if upstream
        else (system_dependencies.c.upstream_id, system_dependencies.c.downstream_id)
    )
    found: dict[int, tuple[int, set[tuple[int, int]]]] = {}
    frontier = set(start)
    for hop in range(1, depth + 1):
        if not frontier:
            break
        rows = session.execute(select(near, far).where(near.in_(frontier))).all()
        frontier = set()
        for a, b in rows:
            edge = (b, a) if upstream else (a, b)  # always (upstream, downstream)
            if b in start:
                continue
            if b not in found:
                found[b] = (hop, set())
                frontier.add(b)
            found[b][1].add(edge)
    return found


def dependency_snippet(session: Session, incident: Incident) -> dict[str, Any]:
    """Upstream and downstream systems near the affected ones, and which show symptoms."""
    affected = {s.id for s in incident.systems}
    ups = _neighbours(session, affected, upstream=True, depth=GRAPH_DEPTH)
    downs = _neighbours(session, affected, upstream=False, depth=GRAPH_DEPTH)
    ids = affected | set(ups) | set(downs)
    systems = (
        {s.id: s for s in session.scalars(select(AISystem).where(AISystem.id.in_(ids)))}
        if ids
        else {}
    )
    edges: set[tuple[int, int]] = set()
    for _, found in ups.items():
        edges |= found[1]
    for _, found in downs.items():
        edges |= found[1]
    names = [s.name for s in systems.values()]
    alerts = sources.open_alert_counts(session, names)
    open_incidents: dict[int, list[int]] = defaultdict(list)
    if ids:
        for incident_id, system_id in session.execute(
            select(incident_systems.c.incident_id, incident_systems.c.system_id)
            .join(Incident, Incident.id == incident_systems.c.incident_id)
            .where(
                incident_systems.c.system_id.in_(ids),
                Incident.status.in_(OPEN_STATUSES),
                Incident.id != incident.id,
            )
            .limit(200)
        ):
            open_incidents[system_id].append(incident_id)

    def node(system_id: int, relation: str, hops: int) -> dict[str, Any]:
        system = systems[system_id]
        firing = alerts.get(system.name, 0)
        others = sorted(open_incidents.get(system_id, []))
        return {
            "name": system.name,
            "kind": system.kind,
            "criticality": system.criticality,
            "relation": relation,
            "hops": hops,
            "open_alerts": firing,
            "open_incidents": others,
            "symptomatic": bool(firing or others),
        }

    nodes = [node(i, "affected", 0) for i in sorted(affected, key=lambda i: systems[i].name)]
    nodes += [node(i, "upstream", h) for i, (h, _) in sorted(ups.items()) if i not in affected]
    nodes += [
        node(i, "downstream", h)
        for i, (h, _) in sorted(downs.items())
        if i not in affected and i not in ups
    ]
    return {
        "nodes": nodes,
        "edges": sorted(
            ({"upstream": systems[a].name, "downstream": systems[b].name} for a, b in edges),
            key=lambda e: (e["upstream"], e["downstream"]),
        ),
        "symptomatic": [n["name"] for n in nodes if n["symptomatic"]],
    }


# ---------------------------------------------------------------- top anomalies


def top_anomalies(
    session: Session, incident: Incident, changes: list[dict[str, Any]], *, shown: int = 10
) -> dict[str, Any]:
    """The incident's alerts ranked by severity hint, repeat count and how early they began."""
    alerts, note = sources.incident_alerts(session, incident.id)
    if not alerts:
        return {
            "items": [],
            "total": 0,
            "started": None,
            "correlated_kinds": [],
            "note": note or "no alerts attached yet",
        }
    first = min(a["first_seen_at"] for a in alerts)
    last = max(a["first_seen_at"] for a in alerts)
    span = max((last - first).total_seconds(), 1.0)
    top_count = max(a["count"] for a in alerts)
    for a in alerts:
        severity = SEVERITY_HINT_RANK.get(a["severity_hint"] or "", 0) / 4
        # Repeat counts are heavy-tailed: on a log scale one noisy alert cannot drown the rest.
        volume = math.log1p(a["count"]) / math.log1p(top_count)
        earliness = 1 - (a["first_seen_at"] - first).total_seconds() / span
        a["score"] = round(0.6 * severity + 0.2 * volume + 0.2 * earliness, 3)
        a["preceded_by_change"] = _preceding_change(a, changes)
    alerts.sort(key=lambda a: (-a["score"], a["first_seen_at"], a["id"]))
    origin = min(alerts, key=lambda a: (a["first_seen_at"], a["id"]))
    kinds = sorted({a["kind"] for a in alerts})
    items = [
        {**a, "first_seen_at": iso(a["first_seen_at"]), "last_seen_at": iso(a["last_seen_at"])}
        for a in alerts[:shown]
    ]
    return {
        "items": items,
        "total": len(alerts),
        "started": {
            "system": origin["system"],
            "kind": origin["kind"],
            "at": iso(origin["first_seen_at"]),
            "alert_id": origin["id"],
            "preceded_by_change": origin["preceded_by_change"],
        },
        "correlated_kinds": kinds,
        "note": None,
    }


def _preceding_change(alert: dict[str, Any], changes: list[dict[str, Any]]) -> int | None:
    """The newest change before the alert began, on the same system if there is one."""
    began = iso(alert["first_seen_at"]) or ""
    before = [c for c in changes if (c["occurred_at"] or "") <= began]  # newest first
    same = [c for c in before if c["system"] == alert["system"]]
    chosen = (same or before)[:1]
    return int(chosen[0]["id"]) if chosen and chosen[0]["id"] is not None else None


# ---------------------------------------------------------------- similar past incidents


def similar_incidents(
    session: Session,
    incident: Incident,
    *,
    symptoms: list[str] | None = None,
    shown: int = SIMILAR_SHOWN,
) -> list[dict[str, Any]]:
    """Past incidents like this one (archetype, systems, system and signal kinds), scored,
    with their outcomes and the mitigations that worked."""
    system_ids = [s.id for s in incident.systems]
    kinds = {s.kind for s in incident.systems}
    criteria = []
    if incident.archetype != "unclassified":
        criteria.append(
            select(Incident.id)
            .where(Incident.archetype == incident.archetype, Incident.id != incident.id)
            .order_by(Incident.detected_at.desc())
            .limit(SIMILAR_CANDIDATES)
        )
    if system_ids:
        criteria.append(
            select(incident_systems.c.incident_id)
            .where(
                incident_systems.c.system_id.in_(system_ids),
                incident_systems.c.incident_id != incident.id,
            )
            .order_by(incident_systems.c.incident_id.desc())
            .limit(SIMILAR_CANDIDATES)
        )
    candidate_ids: set[int] = set()
    for query in criteria:
        candidate_ids.update(session.scalars(query))
    if not candidate_ids:
        return []
    # Score on three light columns; only the few shown are loaded whole.
    rows = session.execute(
        select(Incident.id, Incident.archetype, Incident.severity).where(
            Incident.id.in_(candidate_ids)
        )
    ).all()
    their_systems: dict[int, list[tuple[int, str, str]]] = defaultdict(list)
    for incident_id, system_id, name, kind in session.execute(
        select(incident_systems.c.incident_id, AISystem.id, AISystem.name, AISystem.kind)
        .join(AISystem, AISystem.id == incident_systems.c.system_id)
        .where(incident_systems.c.incident_id.in_(candidate_ids))
    ):
        their_systems[incident_id].append((system_id, name, kind))
    mine = set(system_ids)
    scored = []
    for other in rows:
        systems = their_systems.get(other.id, [])
        ids = {s[0] for s in systems}
        overlap = len(ids & mine) / len(ids | mine) if ids | mine else 0.0
        kind_match = 1.0 if kinds and kinds & {s[2] for s in systems} else 0.0
        same_archetype = (
            1.0
            if incident.archetype != "unclassified" and other.archetype == incident.archetype
            else 0.0
        )
        closeness = 1 - abs(severity_rank(other.severity) - severity_rank(incident.severity)) / 3
        score = 0.4 * same_archetype + 0.3 * overlap + 0.1 * kind_match + 0.05 * closeness
        reasons = [
            r
            for r, yes in (
                (f"same archetype ({other.archetype})", same_archetype),
                ("same system", overlap),
                ("same kind of system", kind_match and not overlap),
            )
            if yes
        ]
        scored.append((round(score, 3), other, systems, reasons))
    # Ties go to the more recent incident (ids grow with time).
    scored.sort(key=lambda t: (-t[0], -t[1].id))
    if symptoms:
        scored = _with_symptoms(session, scored[: shown * 6], set(symptoms)) + scored[shown * 6 :]
    top = scored[:shown]
    full = {
        i.id: i
        for i in session.scalars(select(Incident).where(Incident.id.in_([t[1].id for t in top])))
    }
    worked = _mitigations_of(session, [t[1].id for t in top])
    out = []
    for score, light, systems, reasons in top:
        past = full[light.id]
        ttr = (past.resolved_at - past.detected_at).total_seconds() if past.resolved_at else None
        ttm = (past.mitigated_at - past.detected_at).total_seconds() if past.mitigated_at else None
        out.append(
            {
                "id": past.id,
                "title": past.title,
                "severity": past.severity,
                "archetype": past.archetype,
                "status": past.status,
                "systems": sorted(s[1] for s in systems),
                "detected_at": iso(past.detected_at),
                "score": score,
                "why": reasons,
                "outcome": {
                    "resolved": past.resolved_at is not None,
                    "time_to_mitigate_s": ttm,
                    "time_to_resolve_s": ttr,
                },
                "mitigations": worked.get(past.id, []),
            }
        )
    return out


def _with_symptoms(session: Session, scored: list[Any], symptoms: set[str]) -> list[Any]:
    """Re-rank the best candidates by how many of this incident's signal kinds they shared."""
    kinds: dict[int, set[str]] = defaultdict(set)
    try:
        from quell.ingest.models import Alert
    except ImportError:
        return scored
    ids = [t[1].id for t in scored]
    for incident_id, kind in session.execute(
        select(Alert.incident_id, Alert.kind).where(Alert.incident_id.in_(ids)).distinct()
    ):
        if incident_id is not None:
            kinds[incident_id].add(str(kind))
    out = []
    for score, light, systems, reasons in scored:
        theirs = kinds.get(light.id, set())
        shared = len(theirs & symptoms) / len(theirs | symptoms) if theirs else 0.0
        if shared:
            reasons = [*reasons, f"same signals ({', '.join(sorted(theirs & symptoms))})"]
        out.append((round(score + 0.15 * shared, 3), light, systems, reasons))
    out.sort(key=lambda t: (-t[0], -t[1].id))
    return out


def _mitigations_of(session: Session, incident_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """What was done to mitigate each incident, read off its timeline."""
    if not incident_ids:
        return {}
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for event in session.scalars(
        select(TimelineEvent)
        .where(
            TimelineEvent.incident_id.in_(incident_ids),
            or_(TimelineEvent.kind.in_(MITIGATION_KINDS), TimelineEvent.kind.like("mitigation.%")),
        )
        .order_by(TimelineEvent.incident_id, TimelineEvent.seq)
        .limit(50 * len(incident_ids))
    ):
        data = event.data or {}
        if event.kind == "action.executed":
            what = str(data.get("type") or data.get("action_type") or data.get("action") or "")
            text = data.get("summary") or f"containment action {what}"
            entry = {"kind": "action", "action": what or None, "text": text}
        elif event.kind == "checklist.step_done":
            entry = {"kind": "step", "action": data.get("action"), "text": data.get("text", "")}
        elif event.kind == "incident.mitigated":
            if not event.reason:
                continue
            entry = {"kind": "mitigated", "action": None, "text": event.reason}
        else:
            entry = {"kind": "mitigation", "action": data.get("action"), "text": event.reason}
        entry["at"] = iso(event.at)
        out[event.incident_id].append(entry)
    return out


# ---------------------------------------------------------------- known mitigations


def known_mitigations(
    session: Session,
    incident: Incident,
    symptoms: list[str],
    similar: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Playbook steps for this archetype, system kinds and symptoms, with past use noted."""
    kinds = [s.kind for s in incident.systems]
    used: dict[str, list[int]] = defaultdict(list)
    for past in similar:
        for m in past["mitigations"]:
            if m.get("action"):
                used[m["action"]].append(past["id"])
    steps = steps_for(incident.archetype, kinds, symptoms, session=session)
    return [
        {
            **step.to_dict(),
            "matched_symptoms": sorted(set(step.symptoms) & set(symptoms)),
            "used_in_similar": sorted(set(used.get(step.action or "", []))),
        }
        for step in steps
    ]
