"""Update cadence: when the next What We Know update is due, reminders, and overdue marks.

The state is computed on read from the incident's severity and its last `update.published`
event, so it is right even with no scheduler running; the scheduler, when installed, adds a
timeline reminder when an update falls due and an overdue mark after the grace period.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from quell.config import register_section
from quell.incidents.lifecycle import OPEN_STATUSES, SEVERITIES
from quell.incidents.models import Incident, TimelineEvent
from quell.timeutil import as_utc, iso, utcnow

SETTING_KEY = "communication"
# Minutes between updates per severity; None: no scheduled updates.
DEFAULT_CADENCE: dict[str, int | None] = {"SEV-1": 30, "SEV-2": 60, "SEV-3": 240, "SEV-4": None}
DEFAULT_OVERDUE_AFTER_MINUTES = 10
REMINDER_JOB = "communication.update_due"
OVERDUE_JOB = "communication.update_overdue"


class DrafterConfig(BaseModel):
    """An OpenAI-compatible chat-completions endpoint used to draft updates (opt-in)."""

    model_config = ConfigDict(extra="forbid")

    url: Annotated[str, Field(min_length=1, description="base URL, e.g. http://127.0.0.1:8080/v1")]
    model: Annotated[str, Field(min_length=1)]
    api_key_env: str | None = None
    timeout_s: Annotated[float, Field(gt=0, le=120)] = 20.0

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        return value.rstrip("/")


class CommunicationSection(BaseModel):
    """quell.yaml `communication:`: cadence per severity and the optional drafting endpoint."""

    model_config = ConfigDict(extra="forbid")

    cadence_minutes: dict[str, Annotated[int, Field(gt=0, le=10080)] | None] = Field(
        default_factory=dict
    )
    overdue_after_minutes: Annotated[int, Field(ge=0, le=1440)] = DEFAULT_OVERDUE_AFTER_MINUTES
    drafter: DrafterConfig | None = None

    @field_validator("cadence_minutes")
    @classmethod
    def _severities(cls, value: dict[str, int | None]) -> dict[str, int | None]:
        unknown = [k for k in value if k not in SEVERITIES]
        if unknown:
            raise ValueError(f"unknown severity {unknown[0]!r}; expected one of SEV-1..SEV-4")
        return value


def settings(session: Session) -> CommunicationSection:
    from quell.store.sections import stored_section

    stored = stored_section(session, SETTING_KEY)
    return CommunicationSection.model_validate(stored or {})


def cadence_minutes(session: Session, severity: str) -> int | None:
    configured = settings(session).cadence_minutes
    if severity in configured:
        return configured[severity]
    return DEFAULT_CADENCE.get(severity)


def last_published(session: Session, incident_id: int) -> TimelineEvent | None:
    return session.scalars(
        select(TimelineEvent)
        .where(TimelineEvent.incident_id == incident_id, TimelineEvent.kind == "update.published")
        .order_by(TimelineEvent.seq.desc())
        .limit(1)
    ).first()


def next_update_due(session: Session, incident: Incident) -> datetime | None:
    """When the next update is due: the time the last update promised, else by cadence."""
    if incident.status not in OPEN_STATUSES:
        return None
    minutes = cadence_minutes(session, incident.severity)
    last = last_published(session, incident.id)
    if last is not None:
        promised = last.data.get("next_update_at")
        if promised:
            return as_utc(datetime.fromisoformat(str(promised)))
        return None if minutes is None else as_utc(last.at) + timedelta(minutes=minutes)
    return None if minutes is None else as_utc(incident.detected_at) + timedelta(minutes=minutes)


def update_state(
    session: Session, incident: Incident, *, now: datetime | None = None
) -> dict[str, Any]:
    """The cadence state on read: ok before the due time, due, then overdue after the grace."""
    now = now or utcnow()
    config = settings(session)
    due = next_update_due(session, incident)
    last = last_published(session, incident.id)
    state = "none"
    if due is not None:
        overdue_at = due + timedelta(minutes=config.overdue_after_minutes)
        state = "ok" if now < due else ("due" if now < overdue_at else "overdue")
    return {
        "cadence_minutes": cadence_minutes(session, incident.severity),
        "overdue_after_minutes": config.overdue_after_minutes,
        "last_published_at": iso(last.at) if last else None,
        "next_update_due_at": iso(due),
        "state": state,
    }


def _apply_section(session: Session, section: CommunicationSection) -> dict[str, str]:
    from quell.store.sections import store_section

    return {"settings": store_section(session, SETTING_KEY, section.model_dump(mode="json"))}


register_section(SETTING_KEY, CommunicationSection, _apply_section)


# ---------------------------------------------------------------- durable reminders


def _scheduler() -> Any:
    try:
        import quell.escalation  # noqa: F401  (loads the scheduler's own tables first)
        from quell import scheduler
    except ImportError:  # the scheduler is not installed: state is still computed on read
        return None
    return scheduler


def schedule_reminder(session: Session, incident: Incident) -> datetime | None:
    """(Re)schedule the due reminder of an incident's next update; returns the due time."""
    scheduler = _scheduler()
    due = next_update_due(session, incident)
    if scheduler is None:
        return due
    for kind in (REMINDER_JOB, OVERDUE_JOB):
        scheduler.cancel(session, f"{kind}:{incident.id}")
    if due is not None:
        scheduler.schedule(
            session,
            REMINDER_JOB,
            due,
            {"incident_id": incident.id, "due_at": iso(due)},
            key=f"{REMINDER_JOB}:{incident.id}",
        )
    return due


def _still_due(session: Session, payload: dict[str, Any]) -> tuple[Incident, datetime] | None:
    """The incident and due time a job was for, unless an update has since been published."""
    from quell.errors import NotFound
    from quell.incidents.service import get_incident

    try:
        incident = get_incident(session, int(payload["incident_id"]))
    except (NotFound, KeyError, TypeError, ValueError):
        return None
    due = next_update_due(session, incident)
    if due is None or iso(due) != payload.get("due_at"):
        return None  # resolved, or an update was published after the job was scheduled
    return incident, due


def _mark_if_still_due(
    session: Session, payload: dict[str, Any], *, kind: str, state: str, reason: str
) -> tuple[Incident, datetime] | None:
    """Put `kind` on the timeline if the update the job was for is still unpublished."""
    from quell.incidents.timeline import append_event

    found = _still_due(session, payload)
    if found is None:
        return None
    incident, due = found
    append_event(
        session,
        incident,
        actor="quell",
        kind=kind,
        data={"due_at": iso(due), "state": state},
        reason=reason,
    )
    return found


def _on_due(session: Session, payload: dict[str, Any]) -> None:
    """Scheduler job: say on the timeline that the next update is due, and arm the overdue mark."""
    found = _mark_if_still_due(
        session,
        payload,
        kind="update.reminder",
        state="due",
        reason="the next What We Know update is due",
    )
    if found is None:
        return
    incident, due = found
    scheduler = _scheduler()
    grace = timedelta(minutes=settings(session).overdue_after_minutes)
    if scheduler is not None:
        scheduler.schedule(
            session,
            OVERDUE_JOB,
            due + grace,
            {"incident_id": incident.id, "due_at": iso(due)},
            key=f"{OVERDUE_JOB}:{incident.id}",
        )


def _on_overdue(session: Session, payload: dict[str, Any]) -> None:
    """Scheduler job: mark the promised update overdue on the timeline."""
    _mark_if_still_due(
        session,
        payload,
        kind="update.overdue",
        state="overdue",
        reason="the What We Know update promised for this time has not been published",
    )


def _on_incident_change(session: Session, incident: Incident, what: str, actor: str) -> None:
    # A new incident, or a new severity, sets when the first or next update falls due.
    if what in ("created", "severity"):
        schedule_reminder(session, incident)


def _register() -> None:
    scheduler = _scheduler()
    if scheduler is not None:
        scheduler.register(REMINDER_JOB, _on_due)
        scheduler.register(OVERDUE_JOB, _on_overdue)
        from quell.incidents import service

        if _on_incident_change not in service.CHANGE_LISTENERS:
            service.CHANGE_LISTENERS.append(_on_incident_change)


_register()
