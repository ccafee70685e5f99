"""The close guard: SEV-1 and SEV-2 incidents (configurable) need a postmortem to be closed."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from quell.config import register_section
from quell.errors import Conflict
from quell.incidents.models import Incident

SETTING_KEY = "postmortem"
Severity = Literal["SEV-1", "SEV-2", "SEV-3", "SEV-4"]
DEFAULT_REQUIRED_FOR: tuple[Severity, ...] = ("SEV-1", "SEV-2")


class PostmortemSection(BaseModel):
    """quell.yaml `postmortem:`: which severities cannot close without a postmortem."""

    model_config = ConfigDict(extra="forbid")

    required_for: list[Severity] = Field(default_factory=lambda: list(DEFAULT_REQUIRED_FOR))
    # When true, the postmortem must also be marked final, not only exist.
    require_final: bool = False


def policy(session: Session) -> PostmortemSection:
    from quell.store.sections import stored_section

    return PostmortemSection.model_validate(stored_section(session, SETTING_KEY) or {})


def require_postmortem(session: Session, incident: Incident, current: str, target: str) -> None:
    """Transition guard: refuse `closed` while a required postmortem is missing."""
    if target != "closed":
        return
    rules = policy(session)
    if incident.severity not in rules.required_for:
        return
    from quell.postmortem.models import Postmortem

    status = session.scalar(select(Postmortem.status).where(Postmortem.incident_id == incident.id))
    if status is None:
        raise Conflict(
            f"{incident.severity} incidents need a postmortem before they close; write one with "
            f"PUT /api/v1/incidents/{incident.id}/postmortem (or `quell postmortem "
            f"{incident.id} --edit FILE`), then close again"
        )
    if rules.require_final and status != "final":
        raise Conflict(
            f"the postmortem of incident {incident.id} is still a {status}; mark it final "
            "(status: final) before closing"
        )


def _apply_section(session: Session, section: PostmortemSection) -> dict[str, str]:
    from quell.store.sections import store_section

    return {"policy": store_section(session, SETTING_KEY, section.model_dump(mode="json"))}


register_section(SETTING_KEY, PostmortemSection, _apply_section)
