"""Postmortem operations: pre-fill from the timeline, validate edits, store, link risks.

The pre-filled draft is what the record already says (times, actions, changes, decisions);
the judgements (root cause, what worked, prevention) are fields people write. Saving one
creates or updates the risk register entries it names and links them to the incident.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from quell.errors import Conflict, InvalidInput
from quell.incidents.models import Incident, TimelineEvent
from quell.incidents.service import current_roles, durations, get_incident
from quell.incidents.timeline import append_event
from quell.inventory.models import Risk
from quell.inventory.schemas import RiskIn
from quell.inventory.service import link_risk, upsert_risk
from quell.postmortem.models import Postmortem
from quell.remediation.playbooks import gate_answers
from quell.timeutil import as_utc, iso, utcnow
from quell.triage import sources
from quell.validation import first_error

# Change kinds that fill each model-level factor of the root cause.
FACTOR_KINDS = {
    "model_version": ("model_version", "model", "model_rollback", "weights"),
    "prompt_or_template": ("prompt", "template", "system_prompt"),
    "data": ("data", "dataset", "training_data", "retrieval", "index"),
    "guardrail": ("guardrail", "filter", "policy", "safety"),
}
SEVERITY_IMPACT = {"SEV-1": 5, "SEV-2": 4, "SEV-3": 3, "SEV-4": 2}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ActionItem(_Strict):
    """One prevention step: who owns it and by when."""

    title: Annotated[str, Field(min_length=1, max_length=500)]
    owner: str = Field(description="the person accountable; required")
    due_date: date | None = None
    status: Literal["open", "done", "dropped"] = "open"

    @field_validator("owner")
    @classmethod
    def _owner(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("every action item needs an owner")
        return value


class RiskLink(_Strict):
    """A risk register entry to create or update from this postmortem."""

    key: Annotated[str, Field(min_length=1, max_length=100)]
    title: Annotated[str, Field(max_length=300)] | None = None
    description: str | None = None
    system: str | None = None
    likelihood: Annotated[int, Field(ge=1, le=5)] | None = None
    impact: Annotated[int, Field(ge=1, le=5)] | None = None
    owner: str | None = None
    controls: list[str] | None = None
    status: Literal["open", "mitigated", "accepted", "closed"] | None = None
    archetype: str | None = None


class PostmortemIn(_Strict):
    """The editable postmortem, as PUT takes it (every section may be edited)."""

    status: Literal["draft", "final"] = "draft"
    summary: str = ""
    root_cause: dict[str, Any] = Field(default_factory=dict)
    impact: dict[str, Any] = Field(default_factory=dict)
    detection_review: dict[str, Any] = Field(default_factory=dict)
    response_review: dict[str, Any] = Field(default_factory=dict)
    action_items: list[ActionItem] = Field(default_factory=list)
    risks: list[RiskLink] = Field(default_factory=list)
    version: int | None = Field(default=None, description="the version edited, to catch races")


def parse_postmortem(raw: Any) -> PostmortemIn:
    """Validate a postmortem body; the error names the field, e.g. action_items[0].owner."""
    try:
        return PostmortemIn.model_validate(raw)
    except ValidationError as exc:
        where, message = first_error(exc)
        raise InvalidInput(message, field=where or None) from None


# ---------------------------------------------------------------- pre-fill


def _summary_of(event: TimelineEvent) -> str:
    data = event.data or {}
    if event.kind == "incident.created":
        return f"incident opened: {data.get('title', '')}"
    if event.kind.startswith("incident.") and "to" in data:
        return f"{data.get('from')} -> {data.get('to')}"
    if event.kind == "role.assigned":
        return f"{data.get('person')} is {data.get('role')}"
    if event.kind == "note":
        return str(data.get("text", ""))
    if event.kind == "update.published":
        return f"What We Know update #{data.get('number')} to {data.get('audience')}"
    if event.kind == "gate.answered":
        return f"gate {data.get('key')}: {data.get('answer')}"
    if event.kind.startswith("action."):
        return f"{data.get('type') or data.get('action_type') or 'action'} {event.kind[7:]}"
    if event.kind == "checklist.step_done":
        return f"done: {data.get('text', '')}"
    return ", ".join(f"{k}={v}" for k, v in list(data.items())[:4])


def timeline_rows(session: Session, incident_id: int) -> list[dict[str, Any]]:
    return [
        {
            "at": iso(e.at),
            "actor": e.actor,
            "kind": e.kind,
            "summary": _summary_of(e),
            "reason": e.reason,
        }
        for e in session.scalars(
            select(TimelineEvent)
            .where(TimelineEvent.incident_id == incident_id)
            .order_by(TimelineEvent.seq)
            .limit(5000)
        )
    ]


def _factors(incident: Incident, changes: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Model-level factors pre-filled from the changes before detection."""
    out: dict[str, dict[str, Any]] = {}
    for factor, kinds in FACTOR_KINDS.items():
        found = [c for c in changes if c["kind"] in kinds]
        out[factor] = {
            "suspected": bool(found),
            "changes": [
                {k: c[k] for k in ("id", "system", "kind", "summary", "from_version", "to_version")}
                | {"occurred_at": c["occurred_at"]}
                for c in found[:5]
            ],
            "notes": "",
        }
    versions = {
        s.name: {"current": s.current_model_version, "previous": s.previous_model_version}
        for s in incident.systems
    }
    out["model_version"]["versions"] = versions
    return out


def prefill(session: Session, incident: Incident) -> dict[str, Any]:
    """A postmortem draft from what the record already says."""
    names = [s.name for s in incident.systems]
    changes, change_note = sources.changes(
        session, names, incident.detected_at - timedelta(hours=72), incident.detected_at
    )
    alerts, _ = sources.incident_alerts(session, incident.id)
    first = min((a["first_seen_at"] for a in alerts), default=None)
    times = durations(incident)
    end = incident.resolved_at or utcnow()
    events = timeline_rows(session, incident.id)
    gates = gate_answers(session, incident.id)
    actions = [e["summary"] for e in events if e["kind"].startswith("action.")]
    created_at = as_utc(incident.created_at)
    return {
        "summary": incident.summary,
        "root_cause": {
            "summary": "",
            "factors": _factors(incident, changes),
            "change_note": change_note,
        },
        "impact": {
            "users_affected": incident.facts.get("users_affected"),
            "systems": names,
            "data_classes": sorted({c for s in incident.systems for c in s.data_classes or []}),
            "personal_data_exposed": gates.get(
                "personal_data_exposed", incident.facts.get("personal_data_exposed")
            ),
            "started_at": iso(first or incident.detected_at),
            "ended_at": iso(incident.resolved_at),
            "duration_s": (end - (first or incident.detected_at)).total_seconds(),
            "description": "",
        },
        "detection_review": {
            "how_detected": incident.source
            + (f" ({', '.join(sorted({a['kind'] for a in alerts}))})" if alerts else ""),
            "first_signal_at": iso(first),
            "time_to_detect_s": (incident.detected_at - first).total_seconds() if first else None,
            "time_to_coherent_candidate_s": (
                (created_at - first).total_seconds() if first else None
            ),
            "signals": len(alerts),
            "observations": _detection_observations(incident, alerts, first),
            "could_it_have_been_faster": "",
        },
        "response_review": {
            **times,
            "roles": current_roles(incident),
            "actions": actions,
            "decisions": gates,
            "updates_published": sum(1 for e in events if e["kind"] == "update.published"),
            "observations": _response_observations(events),
            "what_worked": "",
            "what_did_not": "",
        },
        "action_items": [],
        "risks": suggested_risks(session, incident),
    }


def _detection_observations(
    incident: Incident, alerts: list[dict[str, Any]], first: Any
) -> list[str]:
    """Facts that bear on 'could it have been faster?', for the reviewers to judge."""
    out = []
    if incident.source == "user_report":
        out.append("found by a user report, not by monitoring")
    if first is not None:
        lag = (incident.detected_at - first).total_seconds() / 60
        if lag >= 5:
            out.append(f"the first signal came {lag:.0f} min before the incident was opened")
    if not alerts:
        out.append("no signal is attached: nothing in monitoring saw it")
    return out


def _response_observations(events: list[dict[str, Any]]) -> list[str]:
    """Counts from the timeline that point at what did not go smoothly."""
    counts: dict[str, int] = {}
    for event in events:
        counts[event["kind"]] = counts.get(event["kind"], 0) + 1
    out = []
    for kind, text in (
        ("update.overdue", "What We Know update(s) went out late"),
        ("action.failed", "containment action(s) failed"),
        ("notification.failed", "notification attempt(s) failed"),
        ("incident.reopened", "reopen(s) after resolving"),
    ):
        if counts.get(kind):
            out.append(f"{counts[kind]} {text}")
    backward = sum(
        1 for e in events if e["kind"] == "incident.acknowledged" and "mitigated ->" in e["summary"]
    )
    if backward:
        out.append(f"{backward} mitigation(s) did not hold")
    return out


def suggested_risks(session: Session, incident: Incident) -> list[dict[str, Any]]:
    """Existing register entries for these systems and archetype, or one new entry to add."""
    ids = [s.id for s in incident.systems]
    found = (
        list(session.scalars(select(Risk).where(Risk.system_id.in_(ids)).order_by(Risk.key)))
        if ids
        else []
    )
    matching = [r for r in found if r.archetype in (None, incident.archetype)]
    if matching:
        return [{"key": r.key, "title": r.title} for r in matching]
    system = incident.systems[0].name if incident.systems else None
    return [
        {
            "key": f"RISK-INC-{incident.id}",
            "title": f"{incident.archetype.replace('_', ' ')} on {system or 'an AI system'}"[:300],
            "system": system,
            "archetype": incident.archetype if incident.archetype != "unclassified" else None,
            "impact": SEVERITY_IMPACT.get(incident.severity, 3),
        }
    ]


# ---------------------------------------------------------------- read / save


def get_postmortem(session: Session, incident_id: int) -> dict[str, Any]:
    """The stored postmortem, or the pre-filled draft (stored: false) when none is saved."""
    incident = get_incident(session, incident_id)
    row = session.scalars(select(Postmortem).where(Postmortem.incident_id == incident_id)).first()
    base = {"incident_id": incident.id, "incident": _incident_header(incident)}
    if row is None:
        return {
            **base,
            "stored": False,
            "status": "draft",
            "version": 0,
            **prefill(session, incident),
        }
    return {**base, "stored": True, **_row_to_dict(row)}


def _incident_header(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.id,
        "title": incident.title,
        "severity": incident.severity,
        "archetype": incident.archetype,
        "status": incident.status,
        "systems": [s.name for s in incident.systems],
        "detected_at": iso(incident.detected_at),
        "resolved_at": iso(incident.resolved_at),
    }


def _row_to_dict(row: Postmortem) -> dict[str, Any]:
    return {
        "status": row.status,
        "version": row.version,
        "summary": row.summary,
        "root_cause": row.root_cause,
        "impact": row.impact,
        "detection_review": row.detection_review,
        "response_review": row.response_review,
        "action_items": row.action_items,
        "risks": row.risks,
        "created_by": row.created_by,
        "updated_by": row.updated_by,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }


def save_postmortem(
    session: Session, incident_id: int, body: PostmortemIn, *, actor: str
) -> dict[str, Any]:
    """Create or update the postmortem; its risks are upserted and linked in the same commit."""
    incident = get_incident(session, incident_id, lock=True)
    row = session.scalars(select(Postmortem).where(Postmortem.incident_id == incident_id)).first()
    if row is not None and body.version is not None and body.version != row.version:
        raise Conflict(
            f"the postmortem changed since version {body.version} (now {row.version}); "
            "reload it and apply your edits again"
        )
    # What the body leaves out keeps its stored (or pre-filled) value; a section given as an
    # object updates the keys it names, so editing the root cause keeps the model-level factors.
    base = _row_to_dict(row) if row is not None else prefill(session, incident)
    given = body.model_fields_set
    risks = (
        body.risks
        if "risks" in given
        else [RiskLink.model_validate(r) for r in base.get("risks", [])]
    )
    risk_keys = _save_risks(session, incident, risks)
    now = utcnow()
    values: dict[str, Any] = {
        "status": body.status if "status" in given else base.get("status", "draft"),
        "summary": body.summary if "summary" in given else base.get("summary", ""),
        "action_items": (
            [i.model_dump(mode="json") for i in body.action_items]
            if "action_items" in given
            else base.get("action_items", [])
        ),
        "risks": [r.model_dump(mode="json", exclude_none=True) for r in risks],
    }
    for section in ("root_cause", "impact", "detection_review", "response_review"):
        values[section] = {**base.get(section, {}), **getattr(body, section)}
    created = row is None
    if row is None:
        row = Postmortem(
            incident_id=incident.id, created_by=actor, created_at=now, version=1, **values
        )
        session.add(row)
    else:
        for key, value in values.items():
            setattr(row, key, value)
        row.version += 1
    row.updated_by = actor
    row.updated_at = now
    session.flush()
    append_event(
        session,
        incident,
        actor=actor,
        kind="postmortem.created" if created else "postmortem.updated",
        data={
            "version": row.version,
            "status": row.status,
            "action_items": len(values["action_items"]),
            "risks": risk_keys,
        },
    )
    return get_postmortem(session, incident_id)


def _save_risks(session: Session, incident: Incident, risks: list[RiskLink]) -> list[str]:
    keys = []
    for index, link in enumerate(risks):
        field = f"risks[{index}]"
        existing = session.scalars(select(Risk).where(Risk.key == link.key)).first()
        if existing is None and not link.title:
            raise InvalidInput(
                f"risk {link.key!r} is new, so it needs a title", field=f"{field}.title"
            )
        current: dict[str, Any] = (
            {
                "title": existing.title,
                "description": existing.description,
                "system": existing.system.name if existing.system else None,
                "likelihood": existing.likelihood,
                "impact": existing.impact,
                "owner": existing.owner,
                "controls": list(existing.controls or []),
                "status": existing.status,
                "archetype": existing.archetype,
            }
            if existing
            else {}
        )
        current.update(link.model_dump(exclude_none=True, exclude={"key"}))
        try:
            spec = RiskIn.model_validate({"key": link.key, **current})
        except ValidationError as exc:
            where, message = first_error(exc)
            raise InvalidInput(message, field=f"{field}.{where}") from None
        upsert_risk(session, spec, field=field)
        risk = session.scalars(select(Risk).where(Risk.key == link.key)).one()
        link_risk(session, risk, [incident.id], field=field)
        keys.append(link.key)
    return keys
