"""Integrations: senders that authenticate by routing key (PagerDuty Events v2) and the system
each key stands for. Declared in quell.yaml or created through the API::

    integrations:
      - name: chatbot-pagerduty
        routing_key: 3f1c0e9a6b2d4c8e9f0a1b2c3d4e5f60   # what the sender puts in routing_key
        system: support-chatbot                     # signals sent with it belong here
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from pydantic import Field, RootModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from quell.config import register_section
from quell.errors import Conflict, InvalidInput
from quell.ingest.models import Integration
from quell.inventory.models import AISystem
from quell.inventory.schemas import Name, Strict
from quell.store.db import first_or_missing

RoutingKey = Annotated[str, Field(min_length=8, max_length=100, pattern=r"^[A-Za-z0-9._~-]+$")]


class IntegrationIn(Strict):
    """One routing key and the AI system it maps to (None: map from the event's fields)."""

    name: Name
    routing_key: RoutingKey | None = None  # generated when absent (API only)
    system: Name | None = None


class IntegrationsSection(RootModel[list[IntegrationIn]]):
    """The ``integrations:`` section of quell.yaml."""


def new_routing_key() -> str:
    """A 32-character key, the length PagerDuty's own integration keys have."""
    return secrets.token_hex(16)


def _check_system(session: Session, name: str | None, field: str) -> None:
    if name and session.scalars(select(AISystem.id).where(AISystem.name == name)).first() is None:
        raise InvalidInput(
            f"unknown AI system {name!r}; add it to the inventory first", field=field
        )


def upsert_integration(
    session: Session, spec: IntegrationIn, *, field: str = ""
) -> tuple[str, Integration]:
    """Create or update the integration `spec.name`; returns (outcome, row)."""
    _check_system(session, spec.system, f"{field}.system" if field else "system")
    row = session.scalars(select(Integration).where(Integration.name == spec.name)).first()
    key = spec.routing_key or (row.routing_key if row else new_routing_key())
    clash = session.scalars(select(Integration).where(Integration.routing_key == key)).first()
    if clash is not None and clash is not row:
        raise Conflict(
            f"routing key already used by integration {clash.name!r}",
            field=f"{field}.routing_key" if field else "routing_key",
        )
    if row is None:
        row = Integration(name=spec.name, routing_key=key, system=spec.system)
        session.add(row)
        session.flush()
        return "created", row
    if row.routing_key == key and row.system == spec.system:
        return "unchanged", row
    row.routing_key, row.system = key, spec.system
    session.flush()
    return "updated", row


def apply_section(session: Session, section: IntegrationsSection) -> dict[str, str]:
    """quell.yaml apply hook: upsert each integration; routing keys are required in the file."""
    report = {}
    for index, spec in enumerate(section.root):
        if not spec.routing_key:
            raise InvalidInput(
                "routing_key is required in quell.yaml", field=f"integrations[{index}].routing_key"
            )
        report[spec.name], _ = upsert_integration(session, spec, field=f"integrations[{index}]")
    return report


def by_routing_key(session: Session, routing_key: str) -> Integration | None:
    return session.scalars(
        select(Integration).where(Integration.routing_key == routing_key)
    ).first()


def list_integrations(session: Session) -> list[Integration]:
    return list(session.scalars(select(Integration).order_by(Integration.name)))


def delete_integration(session: Session, name: str) -> None:
    row = first_or_missing(
        session,
        select(Integration).where(Integration.name == name),
        f"integration {name!r} does not exist",
    )
    session.delete(row)


def integration_to_dict(row: Integration, *, reveal: bool = False) -> dict[str, Any]:
    """The routing key is a credential: shown whole only to an admin, else by its first 4."""
    key = row.routing_key if reveal else row.routing_key[:4] + "…"
    return {"name": row.name, "routing_key": key, "system": row.system}


register_section("integrations", IntegrationsSection, apply_section)
