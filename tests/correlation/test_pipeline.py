"""The correlator on a real store, driven through intake's write path."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine, select

from quell.config import apply_config, parse_config
from quell.detection.correlation_models import IncidentLink
from quell.detection.pipeline import Correlator
from quell.detection.replay import evaluate, generate
from quell.incidents import service as incidents
from quell.incidents.timeline import events
from quell.ingest.models import Alert
from quell.ingest.native import native_signal
from quell.ingest.normalise import Context, Item
from quell.ingest.service import Envelope, IngestResult, known_systems, store_envelopes
from quell.store.db import session_scope

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
INVENTORY = {
    "systems": [
        {"name": "scorer", "kind": "predictive", "criticality": "critical"},
        {"name": "agent", "kind": "agent", "depends_on": ["scorer"]},
        {"name": "voice", "kind": "generative", "depends_on": ["agent"], "criticality": "high"},
    ],
    "correlation": {"min_signals": 2, "group_wait": "30s", "reopen_within": "10m"},
}


@pytest.fixture()
def store(db: Engine) -> Engine:
    Correlator.forget(db)
    with session_scope(db) as s:
        config, extras = parse_config(INVENTORY)
        apply_config(s, config, extras)
    return db


def send(engine: Engine, at: float, **raw: Any) -> IngestResult:
    when = T0 + timedelta(seconds=at)
    with session_scope(engine) as s:
        signal = native_signal(raw, Context(received_at=when, known_systems=known_systems(s)))
        envelope = Envelope("native", orjson.dumps(raw).decode(), "test", when, [Item(signal, "")])
        return store_envelopes(s, [envelope], Correlator.for_engine(engine))


def flush(engine: Engine, at: float) -> list[Any]:
    with session_scope(engine) as s:
        return Correlator.for_engine(engine).flush_due(s, T0 + timedelta(seconds=at))


def kinds(engine: Engine, incident_id: int) -> list[str]:
    with session_scope(engine) as s:
        return [e.kind for e in events(s, incident_id)]


def test_held_then_opened_with_reasons_cascade_and_severity_rise(store: Engine) -> None:
    first = send(store, 0, system="scorer", kind="drift", summary="PSI 0.4", severity="warning")
    assert [o.action for o in first.outcomes] == ["held"]
    send(store, 5, system="scorer", kind="error_rate", summary="errors 5%", severity="warning")
    opened = flush(store, 31)
    assert {o.action for o in opened} == {"created"} and len(opened) == 2
    incident_id = opened[0].incident_id
    with session_scope(store) as s:
        alerts = list(s.scalars(select(Alert)))
        assert {a.incident_id for a in alerts} == {incident_id}
    joined = send(store, 60, system="voice", kind="latency", summary="slow",
                  metrics={"p90_latency_s": 16.0})  # fmt: skip
    assert joined.outcomes[0].action == "attached"
    assert joined.outcomes[0].incident_id == incident_id
    with session_scope(store) as s:
        incident = incidents.get_incident(s, incident_id)
        assert incident.severity == "SEV-1" and incident.source == "correlation"
        assert {x.name for x in incident.systems} == {"scorer", "voice"}
        timeline = events(s, incident_id)
    attached = [e for e in timeline if e.kind == "signal.attached"]
    assert "cascade: voice depends on" in attached[-1].reason
    rise = [e for e in timeline if e.kind == "incident.severity_changed"][-1]
    assert "voice-sev1" in rise.reason


def test_reopen_within_limit_then_new_linked_incident(store: Engine) -> None:
    send(store, 0, system="voice", kind="latency", summary="stalled", severity="critical")
    with session_scope(store) as s:
        incident_id = incidents.list_incidents(s)[0].id
        incidents.transition(s, incident_id, "resolved", actor="ana")
    # A person resolved it just now (wall clock); the next signal is a minute later.
    later = datetime.now(UTC) + timedelta(minutes=1)
    offset = (later - T0).total_seconds()
    again = send(store, offset, system="voice", kind="latency", summary="stalled again",
                 severity="critical", fingerprint="x2")  # fmt: skip
    assert again.outcomes[0].action == "reopened"
    assert "incident.reopened" in kinds(store, incident_id)
    with session_scope(store) as s:
        incidents.transition(s, incident_id, "resolved", actor="ana")
    far = send(store, offset + 3600, system="voice", kind="latency", summary="third",
               severity="critical", fingerprint="x3")  # fmt: skip
    new_id = far.outcomes[0].incident_id
    assert far.outcomes[0].action == "created" and new_id != incident_id
    with session_scope(store) as s:
        link = s.scalars(select(IncidentLink)).one()
        assert (link.incident_id, link.related_incident_id) == (new_id, incident_id)
    assert "incident.linked" in kinds(store, incident_id)


def test_held_candidates_survive_a_restart(store: Engine) -> None:
    send(store, 0, system="voice", kind="latency", summary="slow")
    Correlator.forget(store)  # a new process: the index is rebuilt from stored alerts
    send(store, 10, system="voice", kind="latency", summary="slower", fingerprint="other")
    opened = flush(store, 45)
    assert len(opened) == 2 and len({o.incident_id for o in opened}) == 1


def test_bad_severity_policy_in_quell_yaml_is_refused(tmp_path: Path, db: Engine) -> None:
    path = tmp_path / "quell.yaml"
    path.write_text(
        "severity_policies:\n  rules:\n    - {name: r, severity: SEV-1, all: ['p90 ~ 3']}\n"
    )
    url = str(db.url) if db.dialect.name == "sqlite" else None
    if url is None:
        pytest.skip("the CLI check runs on SQLite")
    out = subprocess.run(
        [sys.executable, "-m", "quell.cli", "apply", str(path)],
        capture_output=True, text=True, env={"QUELL_DATABASE_URL": url, "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert out.returncode == 2
    assert "severity_policies.rules[0].all" in out.stderr and "condition" in out.stderr


def test_eval_reports_every_figure_from_a_replay() -> None:
    figures = evaluate(generate(7, hours=1.5))
    for key in ("candidate_precision", "duplicate_ratio", "false_page_rate",
                "time_to_coherent_candidate_p50_s", "noise_reduction"):  # fmt: skip
        assert key in figures
    assert figures["incidents_opened"] >= 1
    assert 0.0 <= figures["false_page_rate"] <= 1.0
    assert figures["noise_reduction"] > 0.5  # far fewer incidents than signals


def test_eval_cli_refuses_a_broken_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"received_at": "2026-01-01T00:00:00Z"}\nnot json\n')
    out = subprocess.run(
        [sys.executable, "-m", "quell.cli", "eval", "correlation", str(bad), "--json"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert out.returncode == 2 and "line 2" in out.stderr.replace(":2:", " line 2")


def test_a_rolled_back_batch_leaves_nothing_in_the_index(store: Engine) -> None:
    raw = {"system": "agent", "kind": "latency", "summary": "slow", "fingerprint": "fp-rb"}
    correlator = Correlator.for_engine(store)
    with pytest.raises(RuntimeError), session_scope(store) as s:
        when = T0
        signal = native_signal(raw, Context(received_at=when, known_systems=known_systems(s)))
        envelope = Envelope("native", orjson.dumps(raw).decode(), "test", when, [Item(signal, "")])
        store_envelopes(s, [envelope], correlator)
        assert correlator.index is not None and correlator.index.groups
        raise RuntimeError("the transaction fails after correlating")
    assert correlator.index is None  # rebuilt from the store at the next batch
    send(store, 1, **raw)
    assert correlator.index is not None and len(correlator.index.groups) == 1
