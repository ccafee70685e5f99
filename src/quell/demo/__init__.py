"""`quell demo`: a populated instance a newcomer can explore in the first minute."""

from __future__ import annotations

from datetime import timedelta
from importlib import resources
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from quell.auth.models import User
from quell.auth.service import create_token, create_user
from quell.communication.what_we_know import FIELDS as UPDATE_FIELDS
from quell.communication.what_we_know import draft_update, publish_update
from quell.config import apply_config, load_config
from quell.incidents import service as incidents
from quell.incidents.models import Incident
from quell.ingest.changes import record_changes
from quell.ingest.service import receive_native
from quell.inventory.service import get_risk, link_risk
from quell.postmortem.service import parse_postmortem, save_postmortem
from quell.store.db import session_scope
from quell.timeutil import utcnow

DEMO_PASSWORD = "quell-demo"


def demo_config_path() -> Path:
    return Path(str(resources.files("quell.demo") / "quell.yaml"))


def seed(engine: Engine) -> dict[str, object]:
    """Apply the demo inventory; on an empty store also tell its story: users, changes,
    incidents in several states (one opened by the real signal pipeline), an update, a
    postmortem. Running it again only adds a fresh admin token."""
    with session_scope(engine) as session:
        config, extras = load_config(demo_config_path())
        report = apply_config(session, config, extras, source=str(demo_config_path()))
        if not session.scalar(select(func.count(User.id))):
            for name, role in (
                ("admin", "admin"),
                ("responder", "responder"),
                ("viewer", "viewer"),
            ):
                create_user(session, username=name, password=DEMO_PASSWORD, role=role)
        fresh = not session.scalar(select(func.count(Incident.id)))
        if fresh:
            _seed_story(session)
        plain, _ = create_token(session, name="demo-admin", role="admin")
    created = 3
    if fresh:
        created += _seed_signals(engine)
    return {"applied": report, "incidents_created": created if fresh else 0, "admin_token": plain}


def _seed_story(session: Session) -> None:
    now = utcnow()
    bot = "quell"
    # The changes a triage pack should surface: a model upgrade and an agent prompt edit.
    record_changes(
        session,
        [
            {
                "kind": "model_version",
                "system": "fraud-scorer",
                "summary": "Retrained fraud model rolled out",
                "from_version": "fraud-gbm-2026-09-14",
                "to_version": "fraud-gbm-2026-11-02",
                "actor": "Eli Moreau",
                "occurred_at": (now - timedelta(hours=20)).isoformat(),
            },
            {
                "kind": "prompt",
                "system": "refunds-agent",
                "summary": "Refund agent prompt template: 'resolve the customer's issue fully'",
                "actor": "Eli Moreau",
                "occurred_at": (now - timedelta(minutes=55)).isoformat(),
            },
        ],
        actor="deploy-bot",
        max_batch=10,
    )

    # An old prompt injection, handled, with its postmortem written.
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
    save_postmortem(
        session,
        old.id,
        parse_postmortem(
            {
                "summary": "Instructions hidden in a pasted order note made the chatbot call "
                "the order lookup for another account.",
                "root_cause": {
                    "text": "The order lookup tool trusted the account id the model passed.",
                },
                "action_items": [
                    {
                        "title": "Bind the lookup tool to the signed-in account",
                        "owner": "Ben Okafor",
                    },
                    {
                        "title": "Add the injection detector to the chat input path",
                        "owner": "Ana Souza",
                    },
                ],
                "risks": [{"key": "RISK-001"}],
            }
        ),
        actor="Ana Souza",
    )

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
        "Agent prompt template changed 55 minutes ago; checking the diff.",
        actor="Eli Moreau",
    )
    draft = draft_update(session, live.id, "internal")
    publish_update(
        session,
        live.id,
        audience="internal",
        fields={name: draft[name] for name in UPDATE_FIELDS},
        actor="Dana Levi",
    )

    # A drift alert nobody has picked up yet.
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


def _seed_signals(engine: Engine) -> int:
    """Detector findings on the chatbot, sent through the real intake and correlation path,
    and some unrelated noise that the correlation rules keep from paging anyone."""
    now = utcnow()

    def at(minutes: float) -> str:
        return (now - timedelta(minutes=minutes)).isoformat()

    attack = [
        {
            "system": "support-chatbot",
            "kind": "prompt_injection",
            "severity": "high",
            "summary": "Instruction to ignore the system prompt inside a pasted document",
            "labels": {"detector": "prompt_injection", "category": "indirect_injection"},
            "occurred_at": at(3.5),
        },
        {
            "system": "support-chatbot",
            "kind": "prompt_injection",
            "severity": "high",
            "summary": "Same hidden instruction in a second conversation",
            "labels": {"detector": "prompt_injection", "category": "indirect_injection"},
            "occurred_at": at(2.5),
        },
        {
            "system": "support-chatbot",
            "kind": "canary",
            "severity": "critical",
            "summary": "System-prompt canary token appeared in an answer",
            "labels": {"detector": "canary", "category": "system_prompt_leak"},
            "occurred_at": at(2),
        },
    ]
    noise = [
        {
            "system": "fraud-scorer",
            "kind": "latency",
            "severity": "info",
            "summary": "P50 scoring latency 41 ms (baseline 35 ms)",
            "metrics": {"p50_latency_s": 0.041},
            "occurred_at": at(30),
        },
        {
            "system": "refunds-agent",
            "kind": "error_rate",
            "severity": "info",
            "summary": "One CRM timeout in the last 5 minutes",
            "occurred_at": at(20),
        },
    ]
    receive_native(engine, {"signals": noise}, actor="demo-monitoring")
    result = receive_native(engine, {"signals": attack}, actor="demo-monitoring")
    return len(set(result.incident_ids))
