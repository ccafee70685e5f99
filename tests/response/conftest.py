"""Fixtures of the response tests: the three-system inventory and helpers to build history."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from quell.config import apply_config, load_config
from quell.incidents import service as incidents
from quell.incidents.models import Incident
from quell.store.db import session_scope
from quell.timeutil import utcnow


@pytest.fixture()
def inventory(db: Engine, demo_yaml: Path) -> Engine:
    """chat (generative) -> agent (agent) -> scorer (predictive), team core, risk R1 on chat."""
    config, extras = load_config(demo_yaml)
    with session_scope(db) as s:
        apply_config(s, config, extras)
    return db


@pytest.fixture()
def store(inventory: Engine) -> Iterator[Session]:
    with session_scope(inventory) as s:
        yield s


def make_incident(
    session: Session,
    *,
    title: str = "Agent refunds above limit",
    severity: str = "SEV-2",
    archetype: str = "agentic_misalignment",
    systems: tuple[str, ...] = ("agent",),
    detected_ago: timedelta = timedelta(minutes=30),
    **extra: Any,
) -> Incident:
    return incidents.create_incident(
        session,
        actor="test",
        title=title,
        severity=severity,
        archetype=archetype,
        systems=list(systems),
        detected_at=utcnow() - detected_ago,
        **extra,
    )


def add_alert(
    session: Session,
    incident: Incident,
    *,
    system: str,
    kind: str,
    first_seen: datetime,
    severity_hint: str | None = "warning",
    count: int = 1,
    summary: str = "",
) -> int:
    """An alert attached to the incident, as ingest's correlation leaves it."""
    from quell.ingest.models import Alert

    alert = Alert(
        fingerprint=f"{system}:{kind}:{first_seen.isoformat()}",
        source="native",
        system=system,
        kind=kind,
        summary=summary or f"{kind} on {system}",
        severity_hint=severity_hint,
        status="firing",
        count=count,
        first_seen_at=first_seen,
        last_seen_at=first_seen + timedelta(minutes=1),
        incident_id=incident.id,
    )
    session.add(alert)
    session.flush()
    return alert.id


def record_change(session: Session, **change: Any) -> int:
    """A change event through ingest's own intake function."""
    from quell.ingest.changes import record_changes

    if isinstance(change.get("occurred_at"), datetime):
        change["occurred_at"] = change["occurred_at"].isoformat()
    out = record_changes(session, {"changes": [change]}, actor="deployer", max_batch=10)
    return int(out[0]["id"])


@pytest.fixture()
def cli_db(inventory: Engine, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """Point the `quell` command at the test database (same schema on PostgreSQL)."""
    url = inventory.url.render_as_string(hide_password=False)
    if inventory.dialect.name == "postgresql":
        with inventory.connect() as conn:
            schema = conn.exec_driver_sql("SELECT current_schema()").scalar()
        url += f"?options=-csearch_path%3D{schema}"
    monkeypatch.setenv("QUELL_DATABASE_URL", url)
    return inventory


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run `quell ARGS` in-process; returns (exit code, stdout, stderr)."""
    from quell.cli import main

    capsys.readouterr()
    code = 0
    try:
        main(args)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err
