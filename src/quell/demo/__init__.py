"""`quell demo`: a populated instance a newcomer can explore in the first minute."""

from __future__ import annotations

from datetime import timedelta
from importlib import resources
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from quell.auth.models import User
from quell.auth.service import create_token, create_user
from quell.config import apply_config, load_config
from quell.incidents import service as incidents
from quell.incidents.models import Incident
from quell.inventory.service import get_risk, link_risk
from quell.timeutil import utcnow

DEMO_PASSWORD = "quell-demo"


def demo_config_path() -> Path:
    return Path(str(resources.files("quell.demo") / "quell.yaml"))


def seed(session: Session) -> dict[str, object]:
    """Apply the demo inventory; on an empty store, add users and incidents in several states."""
    config, extras = load_config(demo_config_path())
    report = apply_config(session, config, extras, source=str(demo_config_path()))
    if not session.scalar(select(func.count(User.id))):
        for name, role in (("admin", "admin"), ("responder", "responder"), ("viewer", "viewer")):
            create_user(session, username=name, password=DEMO_PASSWORD, role=role)
    created = 0
    if not session.scalar(select(func.count(Incident.id))):
        created = _seed_incidents(session)
    plain, _ = create_token(session, name="demo-admin", role="admin")
    return {"applied": report, "incidents_created": created, "admin_token": plain}


def _seed_incidents(session: Session) -> int:
    now = utcnow()
    bot = "quell"
    # An old prompt injection, handled and closed out.
    old = incidents.create_incident(
        session,
        actor=bot,
        title="Chatbot disclosed order history of another customer via injected instructions",
        severity="SEV-2",
        archetype="prompt_injection",
        archetype_confidence=0.9,
        systems=["support-chatbot"],
        source="user_report",
        detected_at=now - timedelta(days=9, hours=3),
        summary="A user pasted hidden instructions into a support chat; the bot listed orders "
        "belonging to another account.",
        facts={"personal_data_exposed": True, "users_affected": 3},
    )
    incidents.assign_role(session, old.id, "incident_commander", "Ana Souza", actor="Ana Souza")
    incidents.transition(session, old.id, "acknowledged", actor="Ana Souza")
    incidents.transition(
        session, old.id, "mitigated", actor="Ana Souza", reason="Input filter rule added"
    )
    incidents.transition(session, old.id, "resolved", actor="Ana Souza")
    link_risk(session, get_risk(session, "RISK-001"), [old.id])

    # A refunds agent acting beyond its mandate, being worked on now.
    live = incidents.create_incident(
        session,
        actor=bot,
        title="Refunds agent issuing refunds above the 200 EUR limit",
        severity="SEV-1",
        archetype="agentic_misalignment",
        archetype_confidence=0.85,
        systems=["refunds-agent"],
        source="detector",
        detected_at=now - timedelta(minutes=42),
        summary="The guard saw 14 refund calls above the per-refund limit in ten minutes.",
    )
    incidents.transition(session, live.id, "acknowledged", actor="Dana Levi")
    incidents.assign_role(session, live.id, "incident_commander", "Dana Levi", actor="Dana Levi")
    incidents.assign_role(session, live.id, "technical_lead", "Eli Moreau", actor="Dana Levi")
    incidents.add_note(
        session,
        live.id,
        "Agent prompt template changed at 09:12; checking the diff.",
        actor="Eli Moreau",
    )

    # A fresh drift alert nobody has picked up yet.
    incidents.create_incident(
        session,
        actor=bot,
        title="Fraud score distribution shifted (PSI 0.31 on merchant_category)",
        severity="SEV-3",
        archetype="unclassified",
        systems=["fraud-scorer"],
        source="detector",
        detected_at=now - timedelta(minutes=6),
        summary="Population stability index above 0.25 on two features since the last deploy.",
    )
    return 3
