"""Triage pack assembly time with a large history, on SQLite and PostgreSQL.

Fills a scratch store with N past incidents (default 10,000) spread over a year on 40 AI
systems, each with its systems, timeline events (created, an executed containment action,
mitigated, resolved) and a few alerts, plus change events; then opens fresh incidents through
the service, as a responder would meet them, and times `triage_pack` on each.

    .venv/bin/python bench/triage.py                      # SQLite in a temp dir
    .venv/bin/python bench/triage.py --postgres postgresql://postgres@127.0.0.1:5432/test

History rows are bulk-inserted for speed, so their timeline hash chains are not real (the
scratch store is thrown away); the incidents that are measured are created normally.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, insert, select, text

import quell.models  # noqa: F401  (registers every table)
from quell.incidents import service as incidents
from quell.incidents.lifecycle import ARCHETYPES
from quell.incidents.models import Incident, TimelineEvent, incident_systems
from quell.ingest.models import Alert, ChangeEvent
from quell.inventory.models import AISystem, system_dependencies
from quell.store.db import _sqlite_pragmas, session_scope, upgrade
from quell.timeutil import utcnow
from quell.triage.pack import triage_pack

KINDS = ("generative", "agent", "predictive")
SIGNAL_KINDS = ("latency", "drift", "pii", "toxicity", "agent_action", "prompt_injection")
ACTIONS = ("revoke_agent", "route_fallback", "rollback_model", "pause_decisions")
SYSTEMS = 40


def fill(engine: Engine, n: int, seed: int = 7) -> None:
    """Insert the inventory and `n` resolved past incidents with events, alerts and changes."""
    rng = random.Random(seed)
    now = utcnow()
    archetypes = [a for a in ARCHETYPES if a != "unclassified"]
    with engine.begin() as conn:
        conn.execute(
            insert(AISystem),
            [
                {
                    "name": f"sys-{i:02d}",
                    "kind": KINDS[i % 3],
                    "description": "",
                    "criticality": "high",
                    "data_classes": [],
                    "regimes": [],
                    "runbooks": [],
                    "labels": {},
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(SYSTEMS)
            ],
        )
        ids = list(conn.execute(select(AISystem.id).order_by(AISystem.id)).scalars())
        # A chain with side branches: each system depends on one or two before it.
        edges = {(ids[i - 1], ids[i]) for i in range(1, SYSTEMS)}
        edges |= {(ids[i - 2], ids[i]) for i in range(2, SYSTEMS, 3)}
        conn.execute(
            insert(system_dependencies),
            [{"upstream_id": a, "downstream_id": b} for a, b in sorted(edges)],
        )
        batch = 2000
        for start in range(0, n, batch):
            rows, links, events, alerts = [], [], [], []
            for k in range(start, min(start + batch, n)):
                detected = now - timedelta(days=2 + rng.random() * 365)
                mitigated = detected + timedelta(minutes=rng.randint(5, 240))
                resolved = mitigated + timedelta(minutes=rng.randint(5, 600))
                rows.append(
                    {
                        "id": k + 1,
                        "title": f"past incident {k}",
                        "summary": "",
                        "severity": rng.choice(("SEV-1", "SEV-2", "SEV-3", "SEV-4")),
                        "archetype": rng.choice(archetypes),
                        "status": "resolved",
                        "source": "bench",
                        "facts": {},
                        "detected_at": detected,
                        "acknowledged_at": detected + timedelta(minutes=3),
                        "mitigated_at": mitigated,
                        "resolved_at": resolved,
                        "created_at": detected,
                        "updated_at": resolved,
                    }
                )
                for system_id in rng.sample(ids, rng.choice((1, 1, 2))):
                    links.append({"incident_id": k + 1, "system_id": system_id})
                for seq, (kind, at, data) in enumerate(
                    (
                        ("incident.created", detected, {}),
                        ("action.executed", mitigated, {"type": rng.choice(ACTIONS)}),
                        ("incident.mitigated", mitigated, {"from": "acknowledged"}),
                        ("incident.resolved", resolved, {"from": "mitigated"}),
                    ),
                    start=1,
                ):
                    events.append(
                        {
                            "incident_id": k + 1,
                            "seq": seq,
                            "at": at,
                            "actor": "bench",
                            "kind": kind,
                            "data": data,
                            "reason": "",
                            "prev_hash": "0" * 64,
                            "hash": "0" * 64,
                        }
                    )
                for a in range(3):
                    first = detected - timedelta(minutes=rng.randint(1, 30))
                    alerts.append(
                        {
                            "fingerprint": f"b{k}-{a}",
                            "source": "bench",
                            "system": f"sys-{rng.randrange(SYSTEMS):02d}",
                            "kind": rng.choice(SIGNAL_KINDS),
                            "summary": "bench alert",
                            "severity_hint": rng.choice(("critical", "high", "warning", "info")),
                            "status": "resolved",
                            "count": rng.randint(1, 50),
                            "first_seen_at": first,
                            "last_seen_at": first + timedelta(minutes=5),
                            "incident_id": k + 1,
                        }
                    )
            conn.execute(insert(Incident), rows)
            conn.execute(insert(incident_systems), links)
            conn.execute(insert(TimelineEvent), events)
            conn.execute(insert(Alert), alerts)
        conn.execute(
            insert(ChangeEvent),
            [
                {
                    "kind": rng.choice(("deploy", "model_version", "prompt", "config")),
                    "system": f"sys-{rng.randrange(SYSTEMS):02d}",
                    "summary": "bench change",
                    "actor": "bench",
                    "occurred_at": now - timedelta(hours=rng.random() * 24 * 365),
                    "received_at": now,
                    "details": {},
                }
                for _ in range(n * 2)
            ],
        )
        if engine.dialect.name == "postgresql":
            # Bulk inserts with explicit ids leave the sequence behind; move it past them.
            conn.execute(text("SELECT setval('incidents_id_seq', (SELECT max(id) FROM incidents))"))
            conn.execute(text("ANALYZE"))
        else:
            conn.execute(text("ANALYZE"))


def measure(engine: Engine, fresh: int, repeats: int, seed: int = 11) -> list[float]:
    """Open `fresh` incidents with alerts, then time `triage_pack` `repeats` times on each."""
    rng = random.Random(seed)
    archetypes = [a for a in ARCHETYPES if a != "unclassified"]
    opened = []
    with session_scope(engine) as session:
        for i in range(fresh):
            incident = incidents.create_incident(
                session,
                actor="bench",
                title=f"fresh {i}",
                severity="SEV-2",
                archetype=rng.choice(archetypes),
                systems=[f"sys-{rng.randrange(SYSTEMS):02d}"],
                source="bench",
            )
            for a in range(5):
                first = incident.detected_at - timedelta(minutes=rng.randint(1, 60))
                session.add(
                    Alert(
                        fingerprint=f"fresh{i}-{a}",
                        source="bench",
                        system=incident.systems[0].name,
                        kind=rng.choice(SIGNAL_KINDS),
                        summary="fresh alert",
                        severity_hint="high",
                        status="firing",
                        count=rng.randint(1, 20),
                        first_seen_at=first,
                        last_seen_at=first,
                        incident_id=incident.id,
                    )
                )
            opened.append(incident.id)
    timings = []
    for _ in range(repeats):
        for incident_id in opened:
            with session_scope(engine) as session:
                started = time.perf_counter()
                pack = triage_pack(session, incident_id)
                timings.append((time.perf_counter() - started) * 1000)
            assert pack["similar_incidents"], "history should give similar incidents"
    return timings


def report(name: str, n: int, fill_s: float, timings: list[float]) -> dict[str, Any]:
    ordered = sorted(timings)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    row = {
        "store": name,
        "past_incidents": n,
        "fill_s": round(fill_s, 1),
        "packs": len(timings),
        "p50_ms": round(statistics.median(timings), 1),
        "p99_ms": round(p99, 1),
        "max_ms": round(ordered[-1], 1),
    }
    print(
        f"{name:10} {n} past incidents (filled in {row['fill_s']} s): {row['packs']} packs, "
        f"p50 {row['p50_ms']} ms, p99 {row['p99_ms']} ms, max {row['max_ms']} ms"
    )
    return row


def run(engine: Engine, name: str, n: int, fresh: int, repeats: int) -> dict[str, Any]:
    upgrade(engine)
    started = time.perf_counter()
    fill(engine, n)
    fill_s = time.perf_counter() - started
    return report(name, n, fill_s, measure(engine, fresh, repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--fresh", type=int, default=20, help="incidents measured")
    parser.add_argument("--repeats", type=int, default=10, help="packs per measured incident")
    parser.add_argument("--postgres", default="", help="also run on this PostgreSQL URL")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        engine = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        run(engine, "sqlite", args.incidents, args.fresh, args.repeats)
        engine.dispose()
    if args.postgres:
        url = args.postgres.replace("postgresql://", "postgresql+psycopg://", 1)
        schema = f"quell_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        engine = create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
        try:
            run(engine, "postgresql", args.incidents, args.fresh, args.repeats)
        finally:
            engine.dispose()
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


if __name__ == "__main__":
    main()
