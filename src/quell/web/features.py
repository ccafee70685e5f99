"""The console's window onto the other phases (ingest, triage, communication, remediation,
compliance, postmortem, metrics).

Each function returns a Panel: the data when the phase is installed, or the name of the piece
that has not landed yet, so that the page says so plainly instead of showing made-up data.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import ModuleType
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from quell.errors import QuellError
from quell.incidents.models import Incident
from quell.timeutil import as_utc, utcnow


@dataclass
class Panel:
    """One section of a page: its data, or why it cannot be shown yet."""

    available: bool
    data: Any = None
    missing: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def unavailable(piece: str) -> Panel:
    return Panel(available=False, missing=piece)


def _module(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _function(module: str, name: str) -> Callable[..., Any] | None:
    found = _module(module)
    fn = getattr(found, name, None) if found else None
    return fn if callable(fn) else None


def frameworks(incident_dict: dict[str, Any]) -> Panel:
    """OWASP LLM / MITRE ATLAS / NIST AI 600-1 mappings of the incident's archetype."""
    mapping = incident_dict.get("frameworks")
    if mapping is None:
        fn = _function("quell.compliance.frameworks", "mappings_for")
        if fn is None:
            return unavailable("framework mappings (quell.compliance.frameworks)")
        mapping = fn(incident_dict["archetype"])
    return Panel(available=True, data=mapping)


# ---------------------------------------------------------------- metrics (fallback)


@dataclass(frozen=True)
class Bucket:
    label: str
    start: datetime
    end: datetime


def day_buckets(days: int, now: datetime | None = None) -> list[Bucket]:
    end = (now or utcnow()).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    out = []
    for i in range(days, 0, -1):
        start = end - timedelta(days=i)
        out.append(Bucket(start.strftime("%m-%d"), start, start + timedelta(days=1)))
    return out


def response_times(session: Session, buckets: list[Bucket]) -> dict[str, list[float | None]]:
    """Mean minutes from detection to acknowledge and to resolve, per bucket of detection day."""
    start = buckets[0].start
    rows = session.execute(
        select(Incident.detected_at, Incident.acknowledged_at, Incident.resolved_at).where(
            Incident.detected_at >= start
        )
    ).all()
    tta: list[list[float]] = [[] for _ in buckets]
    ttr: list[list[float]] = [[] for _ in buckets]
    for detected, acked, resolved in rows:
        detected = as_utc(detected)
        for i, bucket in enumerate(buckets):
            if bucket.start <= detected < bucket.end:
                if acked:
                    tta[i].append((as_utc(acked) - detected).total_seconds() / 60)
                if resolved:
                    ttr[i].append((as_utc(resolved) - detected).total_seconds() / 60)
                break

    def mean(values: list[float]) -> float | None:
        return round(sum(values) / len(values), 1) if values else None

    return {"acknowledge": [mean(v) for v in tta], "resolve": [mean(v) for v in ttr]}


def incidents_per_bucket(session: Session, buckets: list[Bucket]) -> list[float]:
    rows = session.scalars(
        select(Incident.detected_at).where(Incident.detected_at >= buckets[0].start)
    ).all()
    counts = [0.0 for _ in buckets]
    for detected in rows:
        detected = as_utc(detected)
        for i, bucket in enumerate(buckets):
            if bucket.start <= detected < bucket.end:
                counts[i] += 1
                break
    return counts


def signals_per_bucket(session: Session, buckets: list[Bucket]) -> Panel:
    """Signals received per bucket, from the ingest store."""
    models = _module("quell.ingest.models")
    row = getattr(models, "SignalRow", None) if models else None
    column = getattr(row, "received_at", None) if row is not None else None
    if column is None:
        return unavailable("signal store (quell.ingest)")
    rows = session.scalars(select(column).where(column >= buckets[0].start)).all()
    counts = [0.0 for _ in buckets]
    for received in rows:
        received = as_utc(received)
        for i, bucket in enumerate(buckets):
            if bucket.start <= received < bucket.end:
                counts[i] += 1
                break
    return Panel(available=True, data=counts)


# ---------------------------------------------------------------- incident sections


def triage_pack(session: Session, incident: Incident) -> Panel:
    """Change snapshot, top anomalies, dependency snippet, similar incidents, mitigations."""
    fn = _function("quell.triage.pack", "triage_pack")
    if fn is None:
        return unavailable("the triage pack (quell.triage)")
    return Panel(available=True, data=fn(session, incident.id))


RAW_LIMIT = 20_000  # characters of a raw payload shown inline; the API has the rest


def signals(session: Session, incident: Incident) -> Panel:
    """The incident's alerts (duplicate signals collapsed into a count) with the latest raw item."""
    ingest = _module("quell.ingest.service")
    listing = getattr(ingest, "incident_signals", None)
    if ingest is None or listing is None:
        return unavailable("signals and alerts per incident (quell.ingest)")
    alerts: list[dict[str, Any]] = listing(session, incident.id)
    for alert in alerts:
        alert["raw"] = None
        latest = alert.get("latest_signal")
        if latest:
            try:
                _payload, item = ingest.raw_item(session, ingest.get_signal(session, latest["id"]))
            except QuellError as exc:
                alert["raw"] = f"(raw payload unavailable: {exc.message})"
                continue
            text = json.dumps(item, indent=2, sort_keys=True, default=str)
            if len(text) > RAW_LIMIT:
                text = text[:RAW_LIMIT] + f"\n… cut at {RAW_LIMIT} characters"
            alert["raw"] = text
    total = sum(int(a.get("count") or 1) for a in alerts)
    return Panel(available=True, data=alerts, extra={"total": total})


def clocks(session: Session, incident: Incident) -> Panel:
    """The regulatory clocks the incident has started, soonest deadline first."""
    fn = _function("quell.compliance.clocks", "clocks")
    if fn is None:
        return unavailable("regulatory clocks (quell.compliance.clocks)")
    report = fn(session, incident.id)
    return Panel(available=True, data=report["clocks"], extra={"disclaimer": report["disclaimer"]})


def clocks_summary(session: Session, incident: Incident) -> Panel:
    """The open clock due soonest, for the board."""
    panel = clocks(session, incident)
    if not panel.available:
        return panel
    running = [c for c in panel.data if c.get("deadline") and not c.get("met_at")]
    if not running:
        return Panel(available=True, data=None)
    first = running[0]
    return Panel(
        available=True,
        data={
            "name": f"{first['title']} ({first['stage']})",
            "due_at": first["deadline"],
            "text": _due_text(first.get("remaining_s")),
            "status": first.get("status"),
        },
    )


def _due_text(remaining_s: float | None) -> str:
    from quell.web.common import duration

    if remaining_s is None:
        return ""
    return (
        f"due in {duration(remaining_s)}"
        if remaining_s >= 0
        else f"overdue by {duration(-remaining_s)}"
    )


def actions(session: Session, incident: Incident, who: Any = None) -> Panel:
    """Containment actions: the ones proposed so far, what may be proposed, what the agents did."""
    remediation = _module("quell.remediation.actions")
    if remediation is None or not hasattr(remediation, "list_actions"):
        return unavailable("containment actions (quell.remediation.actions)")
    from quell.remediation.action_kinds import ACTION_KINDS, eligible
    from quell.remediation.approval_rules import approval_refusal
    from quell.remediation.kill_switch import agent_revoked

    listed = []
    for action in remediation.list_actions(session, incident.id):
        item = remediation.action_to_dict(action)
        refusal = approval_refusal(action, who.principal) if who else "signed out"
        item["can_approve"] = action.status == "proposed" and refusal is None
        item["why_not"] = refusal
        listed.append(item)
    choices = []
    for system in incident.systems:
        for kind in ACTION_KINDS.values():
            if eligible(kind, system) is None:
                choices.append({"type": kind.name, "title": kind.title, "system": system.name})
    agents = [s.name for s in incident.systems if s.kind == "agent"]
    revoked = {a: agent_revoked(session, incident.id, a) is not None for a in agents}
    agent_log: list[dict[str, Any]] = []
    guard = _module("quell.remediation.guard")
    if agents and guard is not None and hasattr(guard, "list_actions"):
        agent_log = guard.list_actions(session, incident_id=incident.id, limit=50)
    return Panel(
        available=True,
        data=listed,
        extra={
            "choices": choices,
            "agents": agents,
            "revoked": revoked,
            "agent_log": agent_log,
            "guard": guard is not None,
        },
    )


def what_we_know(session: Session, incident: Incident, audience: str) -> Panel:
    """A fresh draft for the audience, the updates published so far and the cadence."""
    wwk = _module("quell.communication.what_we_know")
    if wwk is None or not hasattr(wwk, "draft_update"):
        return unavailable("What We Know updates (quell.communication)")
    draft = wwk.draft_update(session, incident.id, audience, backend="template")
    overview = wwk.updates_overview(session, incident.id)
    return Panel(
        available=True,
        data=draft,
        extra={
            "fields": [(name, wwk.FIELD_TITLES[name]) for name in wwk.FIELDS],
            "updates": list(reversed(overview["updates"])),
            "cadence": overview["cadence"],
        },
    )


def postmortem(session: Session, incident: Incident) -> Panel:
    """The stored postmortem, or the draft pre-filled from the record."""
    fn = _function("quell.postmortem.service", "get_postmortem")
    if fn is None:
        return unavailable("postmortems (quell.postmortem)")
    return Panel(available=True, data=fn(session, incident.id))


# ---------------------------------------------------------------- metrics page


def metrics(session: Session, days: int, by: str = "severity") -> dict[str, Any]:
    """Charts and figures for the metrics page over the last `days` days.

    With the response phase installed (quell.metrics) its definitions are used: response times
    per day and per group, and signals/alerts/incidents per day. Without it, the page computes
    mean times from incident timestamps and counts signals from the ingest store.
    """
    from quell.web import svg

    buckets = day_buckets(days)
    labels = [b.label for b in buckets]
    engine = _module("quell.metrics")
    groups: dict[str, Any] | None = None
    if engine is not None and hasattr(engine, "response_metrics"):
        source = "quell.metrics (the response phase's definitions)"
        tta: list[float | None] = []
        ttr: list[float | None] = []
        for b in buckets:
            day = engine.response_metrics(session, since=b.start, until=b.end, by="severity")
            overall = day["overall"]
            tta.append(_minutes(overall["time_to_acknowledge"]["mean_s"]))
            ttr.append(_minutes(overall["time_to_resolve"]["mean_s"]))
        times = {"acknowledge": tta, "resolve": ttr}
        groups = engine.response_metrics(
            session, since=buckets[0].start, until=buckets[-1].end, by=by
        )
        noise = engine.noise_reduction(
            session, since=buckets[0].start, until=buckets[-1].end - timedelta(seconds=1)
        )
        per_day = {row["start"][:10]: row for row in noise["buckets"]}
        keys = [b.start.date().isoformat() for b in buckets]
        incidents = [float(per_day.get(k, {}).get("incidents", 0)) for k in keys]
        signal_counts = [float(per_day.get(k, {}).get("signals", 0)) for k in keys]
        alert_counts = [float(per_day.get(k, {}).get("alerts", 0)) for k in keys]
        volume = (
            unavailable(noise["note"])
            if noise.get("note")
            else Panel(available=True, data=signal_counts, extra={"alerts": alert_counts})
        )
    else:
        source = "incident timestamps (quell.metrics is not part of this build)"
        times = response_times(session, buckets)
        incidents = incidents_per_bucket(session, buckets)
        volume = signals_per_bucket(session, buckets)
    longest = max((v for vs in times.values() for v in vs if v is not None), default=0.0)
    unit = "hours" if longest > 600 else "minutes"  # 13,000 minutes reads better as 217 hours
    if unit == "hours":
        times = {
            k: [None if v is None else round(v / 60, 1) for v in vs] for k, vs in times.items()
        }
    response_chart = svg.line_chart(
        "Time to acknowledge and to resolve (mean per day of detection)",
        labels,
        [
            svg.Series("acknowledge", times["acknowledge"], "s1"),
            svg.Series("resolve", times["resolve"], "s2"),
        ],
        unit,
        "chart-times",
    )
    series = [svg.Series("incidents", incidents, "s2")]
    if volume.available:
        series.insert(0, svg.Series("signals", volume.data, "s1"))
        if "alerts" in volume.extra:
            series.insert(1, svg.Series("alerts", volume.extra["alerts"], "s3"))
    volume_chart = svg.bar_chart(
        "Signals received against incidents opened, per day", labels, series, "count", "chart-vol"
    )
    total_signals = sum(volume.data) if volume.available else None
    total_incidents = sum(incidents)
    reduction = (
        round(1 - total_incidents / total_signals, 3)
        if total_signals and total_incidents <= total_signals
        else None
    )
    table = [
        {
            "label": b.label,
            "tta": times["acknowledge"][i],
            "ttr": times["resolve"][i],
            "incidents": incidents[i],
            "signals": volume.data[i] if volume.available else None,
        }
        for i, b in enumerate(buckets)
    ]
    return {
        "source": source,
        "response_chart": response_chart,
        "volume_chart": volume_chart,
        "volume": volume,
        "total_signals": total_signals,
        "total_incidents": total_incidents,
        "noise_reduction": reduction,
        "table": table,
        "groups": groups,
        "by": by,
        "unit": unit,
    }


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


def postmortem_renderer() -> Callable[..., str] | None:
    return _function("quell.postmortem.export", "render_postmortem")


def gates(session: Session, incident: Incident) -> Panel:
    """The decision gates of the incident: questions to answer before it moves on."""
    fn = _function("quell.remediation.gates", "incident_gates")
    if fn is None:
        return unavailable("decision gates (quell.remediation.gates)")
    return Panel(available=True, data=fn(session, incident))


def checklist(session: Session, incident: Incident) -> Panel:
    """The playbook checklist: steps for the archetype and system kinds, who ticked them."""
    fn = _function("quell.remediation.playbooks", "checklist")
    if fn is None:
        return unavailable("the playbook checklist (quell.remediation.playbooks)")
    return Panel(available=True, data=fn(session, incident))


def escalation(session: Session, incident: Incident) -> Panel:
    """Owning team, paging status and the suggested first responders; people to pick from."""
    fn = _function("quell.escalation.service", "escalation_view")
    if fn is None:
        return unavailable("escalation and on-call (quell.escalation)")
    view = fn(session, incident.id)
    people: list[str] = [s["person"] for s in view.get("suggestions") or [] if s.get("person")]
    for system in incident.systems:
        team = system.owner_team
        if team is not None:
            people.extend(m.name for m in team.members)
    return Panel(available=True, data=view, extra={"people": list(dict.fromkeys(people))})


def guard_status(session: Session, system: str) -> Panel:
    """An agent's containment state and fail mode, as the guard reports it."""
    fn = _function("quell.remediation.guard", "guard_status")
    if fn is None:
        return unavailable("the guard (quell.remediation.guard)")
    return Panel(available=True, data=fn(session, system))
