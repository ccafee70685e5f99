"""The triage pack: change snapshot, top anomalies, dependency snippet, similar incidents,
known mitigations; through the service, the API and the CLI."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from quell.incidents import service as incidents
from quell.incidents.timeline import append_event
from quell.store.db import session_scope
from quell.triage.pack import triage_pack
from tests.conftest import auth
from tests.response.conftest import add_alert, make_incident, record_change, run_cli


def _scenario(session: Session) -> dict[str, int]:
    """An agent incident whose upstream scorer got a new model version two hours before."""
    past = make_incident(
        session,
        title="Agent refunded twice",
        detected_ago=timedelta(days=20),
        facts={"unauthorized_action_taken": True},
    )
    append_event(
        session,
        past,
        actor="rui",
        kind="action.executed",
        data={"action_id": 1, "type": "revoke_agent", "system": "agent"},
    )
    incidents.transition(session, past.id, "mitigated", actor="rui", reason="kill switch held")
    incidents.transition(session, past.id, "resolved", actor="rui")
    other_kind = make_incident(
        session,
        title="Scorer misled by agent",
        archetype="agentic_misalignment",
        systems=("scorer",),
        detected_ago=timedelta(days=10),
    )
    unrelated = make_incident(
        session,
        title="Chat toxic",
        archetype="toxicity_abuse",
        systems=("chat",),
        severity="SEV-3",
        detected_ago=timedelta(days=2),
    )
    now = make_incident(session, severity="SEV-1", detected_ago=timedelta(minutes=30))
    detected = now.detected_at
    ids = {
        "past": past.id,
        "other": other_kind.id,
        "unrelated": unrelated.id,
        "incident": now.id,
        "model": record_change(
            session,
            kind="model_version",
            system="scorer",
            summary="new scorer",
            from_version="v2",
            to_version="v3",
            occurred_at=detected - timedelta(hours=2),
        ),
        "prompt": record_change(
            session,
            kind="prompt",
            system="agent",
            summary="refund prompt edited",
            occurred_at=detected - timedelta(hours=1),
        ),
        "config": record_change(
            session,
            kind="config",
            system="chat",
            summary="chat timeout",
            occurred_at=detected - timedelta(hours=3),
        ),
        "too_old": record_change(
            session,
            kind="deploy",
            system="agent",
            summary="old deploy",
            occurred_at=detected - timedelta(hours=30),
        ),
        "after": record_change(
            session,
            kind="deploy",
            system="agent",
            summary="hotfix",
            occurred_at=detected + timedelta(minutes=5),
        ),
    }
    ids["drift"] = add_alert(
        session,
        now,
        system="scorer",
        kind="drift",
        severity_hint="warning",
        count=40,
        first_seen=detected - timedelta(minutes=90),
    )
    ids["action"] = add_alert(
        session,
        now,
        system="agent",
        kind="agent_action",
        severity_hint="critical",
        count=12,
        first_seen=detected - timedelta(minutes=20),
    )
    ids["latency"] = add_alert(
        session,
        now,
        system="agent",
        kind="latency",
        severity_hint="info",
        count=1,
        first_seen=detected - timedelta(minutes=5),
    )
    return ids


def test_pack_lists_changes_anomalies_graph_similar_and_mitigations(store: Session) -> None:
    ids = _scenario(store)
    pack = triage_pack(store, ids["incident"])

    snap = pack["change_snapshot"]
    assert [c["id"] for c in snap["changes"]] == [ids["prompt"], ids["model"], ids["config"]]
    model = snap["changes"][1]
    assert model["model_version_change"] is True and model["relation"] == "upstream"
    assert (model["from_version"], model["to_version"]) == ("v2", "v3")
    assert model["minutes_before_detection"] == pytest.approx(120, abs=0.5)
    assert snap["model_version_changes"] == 1
    assert {c["relation"] for c in snap["changes"]} == {"affected", "upstream", "downstream"}

    anomalies = pack["top_anomalies"]
    assert anomalies["items"][0]["id"] == ids["action"]  # critical and heavy outranks early
    assert anomalies["items"][-1]["id"] == ids["latency"]
    assert anomalies["started"]["alert_id"] == ids["drift"]
    # The drift on the scorer began after the scorer's new model, on the same system.
    assert anomalies["started"]["preceded_by_change"] == ids["model"]

    graph = pack["dependency_graph"]
    relations = {n["name"]: n["relation"] for n in graph["nodes"]}
    assert relations == {"agent": "affected", "scorer": "upstream", "chat": "downstream"}
    assert {"upstream": "scorer", "downstream": "agent"} in graph["edges"]
    assert {"upstream": "agent", "downstream": "chat"} in graph["edges"]
    by_name = {n["name"]: n for n in graph["nodes"]}
    assert by_name["chat"]["open_incidents"] == [ids["unrelated"]]
    assert by_name["scorer"]["open_alerts"] == 1 and by_name["scorer"]["symptomatic"]
    assert by_name["scorer"]["open_incidents"] == [ids["other"]]

    similar = pack["similar_incidents"]
    assert [s["id"] for s in similar][:2] == [ids["past"], ids["other"]]
    assert ids["unrelated"] not in [s["id"] for s in similar]
    best = similar[0]
    assert best["outcome"]["resolved"] and best["outcome"]["time_to_resolve_s"] > 0
    assert {"kind": "action", "action": "revoke_agent"}.items() <= best["mitigations"][0].items()
    assert any(m["text"] == "kill switch held" for m in best["mitigations"])

    steps = {m["id"]: m for m in pack["known_mitigations"]}
    assert steps["agent-revoke"]["used_in_similar"] == [ids["past"]]
    assert steps["agent-revoke"]["matched_symptoms"] == ["agent_action"]
    assert "sym-latency-rate-limit" in steps and "sym-change-rollback" in steps
    assert "am-approval-gates" in steps
    assert not any(s.startswith("gen-") for s in steps)  # no generative system is affected


def test_window_is_adjustable_and_checked(store: Session) -> None:
    ids = _scenario(store)
    wide = triage_pack(store, ids["incident"], window_hours=48)
    assert ids["too_old"] in [c["id"] for c in wide["change_snapshot"]["changes"]]
    narrow = triage_pack(store, ids["incident"], window_hours=1.5)
    assert [c["id"] for c in narrow["change_snapshot"]["changes"]] == [ids["prompt"]]
    from quell.errors import InvalidInput

    with pytest.raises(InvalidInput) as err:
        triage_pack(store, ids["incident"], window_hours=0)
    assert err.value.field == "window_hours"


def test_incident_without_systems_or_alerts_gives_empty_sections(store: Session) -> None:
    incident = make_incident(store, systems=(), archetype="unclassified")
    pack = triage_pack(store, incident.id)
    assert pack["change_snapshot"]["changes"] == []
    assert pack["top_anomalies"]["items"] == [] and pack["top_anomalies"]["note"]
    assert pack["dependency_graph"]["nodes"] == []
    assert pack["similar_incidents"] == []


def test_triage_api(app_client: TestClient, tokens: dict[str, str], inventory: Engine) -> None:
    with session_scope(inventory) as s:
        ids = _scenario(s)
    r = app_client.get(
        f"/api/v1/incidents/{ids['incident']}/triage", headers=auth(tokens["viewer"])
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) >= {
        "incident",
        "change_snapshot",
        "top_anomalies",
        "dependency_graph",
        "similar_incidents",
        "known_mitigations",
    }
    assert body["change_snapshot"]["changes"][1]["model_version_change"] is True
    assert (
        app_client.get("/api/v1/incidents/999/triage", headers=auth(tokens["viewer"])).status_code
        == 404
    )
    bad = app_client.get(
        f"/api/v1/incidents/{ids['incident']}/triage?window_hours=-1",
        headers=auth(tokens["viewer"]),
    )
    assert bad.status_code == 422 and bad.json()["field"] == "window_hours"
    assert app_client.get(f"/api/v1/incidents/{ids['incident']}/triage").status_code == 401


def test_triage_cli(cli_db: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    with session_scope(cli_db) as s:
        ids = _scenario(s)
    code, out, _ = run_cli(["triage", str(ids["incident"]), "--json"], capsys)
    assert code == 0
    assert json.loads(out)["change_snapshot"]["changes"][1]["id"] == ids["model"]
    code, out, _ = run_cli(["triage", str(ids["incident"])], capsys)
    assert code == 0 and "model_version" in out and "agent-revoke" in out
    code, _, err = run_cli(["triage", "999"], capsys)
    assert code == 2 and "999" in err


def test_shared_signal_kinds_lift_a_similar_incident(store: Session) -> None:
    plain = make_incident(
        store, title="older, other signals", systems=("scorer",), detected_ago=timedelta(days=3)
    )
    add_alert(
        store,
        plain,
        system="scorer",
        kind="drift",
        first_seen=plain.detected_at - timedelta(minutes=5),
    )
    alike = make_incident(
        store, title="older, same signals", systems=("scorer",), detected_ago=timedelta(days=4)
    )
    add_alert(
        store,
        alike,
        system="scorer",
        kind="agent_action",
        first_seen=alike.detected_at - timedelta(minutes=5),
    )
    now = make_incident(store, systems=("agent",))
    add_alert(
        store,
        now,
        system="agent",
        kind="agent_action",
        first_seen=now.detected_at - timedelta(minutes=5),
    )
    similar = triage_pack(store, now.id)["similar_incidents"]
    assert [s["id"] for s in similar] == [alike.id, plain.id]
    assert "same signals (agent_action)" in similar[0]["why"]
    assert not any(w.startswith("same signals") for w in similar[1]["why"])
