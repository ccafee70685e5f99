"""Decision gates: they block transitions until answered, become facts, and drive next steps."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from quell.incidents.models import TimelineEvent
from quell.store.db import session_scope
from tests.conftest import auth
from tests.remediation.helpers import INVENTORY, apply_yaml


def _incident(client: TestClient, token: str, **body: Any) -> int:
    r = client.post("/api/v1/incidents", json={"title": "trouble", **body}, headers=auth(token))
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _gates(client: TestClient, token: str, iid: int) -> dict[str, dict[str, Any]]:
    r = client.get(f"/api/v1/incidents/{iid}/gates", headers=auth(token))
    assert r.status_code == 200, r.text
    return {g["key"]: g for g in r.json()}


def _events(db: Engine) -> int:
    with session_scope(db) as s:
        return int(s.scalar(select(func.count()).select_from(TimelineEvent)) or 0)


def test_open_gate_blocks_mitigation_until_answered(
    app_client: TestClient, tokens: dict[str, str], db: Engine
) -> None:
    apply_yaml(db, INVENTORY)
    h = auth(tokens["responder"])
    iid = _incident(
        app_client,
        tokens["responder"],
        severity="SEV-2",
        archetype="prompt_injection",
        systems=["chat"],
    )
    gate = _gates(app_client, tokens["viewer"], iid)["personal_data_exposed"]
    assert gate["required"] and not gate["answered"] and gate["required_before"] == "mitigated"

    before = _events(db)
    for target in ("mitigated", "resolved"):
        r = app_client.post(f"/api/v1/incidents/{iid}/transition", json={"to": target}, headers=h)
        assert r.status_code == 409, r.text
        assert "personal_data_exposed" in r.json()["message"] and r.json()["field"] == "gates"
    assert _events(db) == before
    assert app_client.get(f"/api/v1/incidents/{iid}", headers=h).json()["status"] == "triggered"

    r = app_client.post(
        f"/api/v1/incidents/{iid}/gates/personal_data_exposed",
        json={"answer": "yes", "note": "3 order histories shown to another user"},
        headers=h,
    )
    assert r.status_code == 200, r.text
    calls = r.json()["gate"]["calls_for"]
    assert {x["role"] for x in calls["roles"]} == {"legal_liaison"}
    assert "gen-notify-users" in [s["id"] for s in calls["steps"]]

    incident = app_client.get(f"/api/v1/incidents/{iid}", headers=h).json()
    assert incident["facts"]["personal_data_exposed"] is True
    timeline = app_client.get(f"/api/v1/incidents/{iid}/timeline", headers=h).json()
    answered = [e for e in timeline if e["kind"] == "gate.answered"]
    assert answered[-1]["actor"] == "rui"
    assert answered[-1]["data"]["key"] == "personal_data_exposed"
    assert answered[-1]["data"]["answer"] is True
    assert answered[-1]["data"]["note"] == "3 order histories shown to another user"

    r = app_client.post(f"/api/v1/incidents/{iid}/transition", json={"to": "mitigated"}, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "mitigated"


def test_yes_to_safety_critical_proposes_pausing_decisions(
    app_client: TestClient, tokens: dict[str, str], db: Engine
) -> None:
    apply_yaml(db, INVENTORY)
    iid = _incident(app_client, tokens["responder"], severity="SEV-2", systems=["scorer"])
    assert _gates(app_client, tokens["viewer"], iid)["safety_critical"]["required"]
    r = app_client.post(
        f"/api/v1/incidents/{iid}/gates/safety_critical",
        json={"answer": True},
        headers=auth(tokens["responder"]),
    )
    [proposed] = r.json()["proposed_actions"]
    assert proposed["type"] == "pause_decisions" and proposed["status"] == "proposed"
    assert proposed["system"] == "scorer" and proposed["proposed_by"] == "rui"
    # Answering the same again changes nothing and proposes nothing more.
    again = app_client.post(
        f"/api/v1/incidents/{iid}/gates/safety_critical",
        json={"answer": "yes"},
        headers=auth(tokens["responder"]),
    )
    assert again.json()["changed"] is False and again.json()["proposed_actions"] == []
    listed = app_client.get(f"/api/v1/incidents/{iid}/actions", headers=auth(tokens["viewer"]))
    assert len(listed.json()) == 1


def test_no_to_safety_critical_proposes_nothing_and_unblocks(
    app_client: TestClient, tokens: dict[str, str], db: Engine
) -> None:
    apply_yaml(db, INVENTORY)
    h = auth(tokens["responder"])
    iid = _incident(app_client, tokens["responder"], severity="SEV-1", systems=["scorer"])
    r = app_client.post(
        f"/api/v1/incidents/{iid}/gates/safety_critical", json={"answer": "no"}, headers=h
    )
    assert r.json()["proposed_actions"] == []
    assert app_client.get(f"/api/v1/incidents/{iid}/actions", headers=h).json() == []
    r = app_client.post(f"/api/v1/incidents/{iid}/transition", json={"to": "resolved"}, headers=h)
    assert r.status_code == 200, r.text


def test_a_fact_given_at_creation_answers_the_gate(
    app_client: TestClient, tokens: dict[str, str], db: Engine
) -> None:
    apply_yaml(db, INVENTORY)
    iid = _incident(
        app_client,
        tokens["responder"],
        severity="SEV-2",
        archetype="data_exfiltration",
        systems=["chat"],
        facts={"personal_data_exposed": False},
    )
    gate = _gates(app_client, tokens["viewer"], iid)["personal_data_exposed"]
    assert gate["answered"] and gate["answer"] is False and gate["answered_by"] == "facts"
    r = app_client.post(
        f"/api/v1/incidents/{iid}/transition",
        json={"to": "mitigated"},
        headers=auth(tokens["responder"]),
    )
    assert r.status_code == 200


def test_gates_do_not_block_when_switched_off(
    app_client: TestClient, tokens: dict[str, str], db: Engine
) -> None:
    apply_yaml(db, INVENTORY + "decision_gates: {enforce: false}\n")
    iid = _incident(app_client, tokens["responder"], severity="SEV-1", systems=["scorer"])
    assert not _gates(app_client, tokens["viewer"], iid)["safety_critical"]["answered"]
    r = app_client.post(
        f"/api/v1/incidents/{iid}/transition",
        json={"to": "mitigated"},
        headers=auth(tokens["responder"]),
    )
    assert r.status_code == 200


def test_a_custom_gate_from_quell_yaml(
    app_client: TestClient, tokens: dict[str, str], db: Engine
) -> None:
    apply_yaml(
        db,
        INVENTORY
        + """
decision_gates:
  gates:
    - key: regulator_informed
      question: Has the supervisory authority been informed?
      applies_to: [{severities: [SEV-1]}]
      required_before: resolved
""",
    )
    h = auth(tokens["responder"])
    iid = _incident(
        app_client,
        tokens["responder"],
        severity="SEV-1",
        systems=["chat"],
        facts={"personal_data_exposed": False},
    )
    assert (
        app_client.post(
            f"/api/v1/incidents/{iid}/transition", json={"to": "mitigated"}, headers=h
        ).status_code
        == 200
    )
    r = app_client.post(f"/api/v1/incidents/{iid}/transition", json={"to": "resolved"}, headers=h)
    assert r.status_code == 409 and "regulator_informed" in r.json()["message"]


def test_bad_answers_are_refused_and_write_nothing(
    app_client: TestClient, tokens: dict[str, str], db: Engine
) -> None:
    apply_yaml(db, INVENTORY)
    iid = _incident(app_client, tokens["responder"], severity="SEV-2", systems=["scorer"])
    before = _events(db)
    url = f"/api/v1/incidents/{iid}/gates"
    r = app_client.post(
        f"{url}/safety_critical", json={"answer": "maybe"}, headers=auth(tokens["responder"])
    )
    assert r.status_code == 422 and r.json()["field"] == "answer"
    r = app_client.post(
        f"{url}/is_it_bad", json={"answer": "yes"}, headers=auth(tokens["responder"])
    )
    assert r.status_code == 422 and r.json()["field"] == "key"
    assert "safety_critical" in r.json()["message"]
    r = app_client.post(
        f"{url}/safety_critical", json={"answer": "yes"}, headers=auth(tokens["viewer"])
    )
    assert r.status_code == 403
    r = app_client.post(
        "/api/v1/incidents/999/gates/safety_critical",
        json={"answer": "yes"},
        headers=auth(tokens["responder"]),
    )
    assert r.status_code == 404
    assert _events(db) == before
