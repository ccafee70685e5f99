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


class Receiver:
    """A tiny HTTP server on 127.0.0.1 that records requests and answers with `reply`."""

    def __init__(self) -> None:
        import http.server
        import threading

        self.requests: list[dict[str, Any]] = []
        self.status = 200
        self.reply: bytes = b"{}"
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                outer.requests.append(
                    {
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": self.rfile.read(length),
                    }
                )
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(outer.reply)))
                self.end_headers()
                self.wfile.write(outer.reply)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()
