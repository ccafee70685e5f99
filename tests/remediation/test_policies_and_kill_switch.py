"""Pre-approval policies and the agent kill switch (through the real guard)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from quell.auth.service import create_token
from quell.incidents import service as incidents
from quell.store.db import session_scope
from tests.conftest import auth
from tests.remediation.helpers import INVENTORY, apply_yaml, webhook_receiver

guard = pytest.importorskip(
    "quell.remediation.guard", reason="the guard (quell.remediation.guard) is not installed"
)
SECRET_ENV = "QUELL_TEST_POLICY_SECRET"


def _incident(client: TestClient, token: str, **body: Any) -> int:
    r = client.post("/api/v1/incidents", json={"title": "trouble", **body}, headers=auth(token))
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _timeline(client: TestClient, token: str, iid: int) -> list[dict[str, Any]]:
    return client.get(f"/api/v1/incidents/{iid}/timeline", headers=auth(token)).json()


def _denied(db: Engine, system: str) -> bool:
    with session_scope(db) as s:
        verdict = guard.decide(s, system, tool="issue_refund", arguments={"amount": 10})
    return verdict["decision"] == "deny"


def test_policy_from_quell_yaml_runs_at_once_and_is_named(
    app_client: TestClient, tokens: dict[str, str], db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, "pk")
    with webhook_receiver("pk") as receiver:
        apply_yaml(
            db,
            INVENTORY
            + f"""
connectors:
  - {{name: edge, url: '{receiver.url}', secret_env: {SECRET_ENV}, action_types: [route_fallback]}}
containment_policies:
  - name: fallback-on-serious-injection
    description: Injection at SEV-2 or worse goes to the fallback.
    when: {{severities: [SEV-1, SEV-2], archetypes: [prompt_injection], system_kinds: [generative]}}
    action: route_fallback
""",
        )
        quiet = _incident(
            app_client,
            tokens["responder"],
            severity="SEV-3",
            archetype="prompt_injection",
            systems=["chat"],
        )
        loud = _incident(
            app_client,
            tokens["responder"],
            severity="SEV-2",
            archetype="prompt_injection",
            systems=["chat"],
        )
    h = auth(tokens["viewer"])
    assert app_client.get(f"/api/v1/incidents/{quiet}/actions", headers=h).json() == []
    [action] = app_client.get(f"/api/v1/incidents/{loud}/actions", headers=h).json()
    assert action["status"] == "succeeded" and action["policy"] == "fallback-on-serious-injection"
    assert action["approved_by"] == "quell" and action["connector"] == "edge"
    assert receiver.received[0]["action"]["policy"] == "fallback-on-serious-injection"
    approved = next(
        e for e in _timeline(app_client, tokens["viewer"], loud) if e["kind"] == "action.approved"
    )
    assert approved["data"]["policy"] == "fallback-on-serious-injection"
    assert "fallback-on-serious-injection" in approved["reason"]


def test_default_policy_revokes_agent_at_sev1_misalignment_and_guard_denies(
    app_client: TestClient, tokens: dict[str, str], db: Engine
) -> None:
    apply_yaml(db, INVENTORY)
    assert not _denied(db, "refunds-agent")
    iid = _incident(
        app_client,
        tokens["responder"],
        severity="SEV-1",
        archetype="agentic_misalignment",
        systems=["refunds-agent"],
    )
    [action] = app_client.get(
        f"/api/v1/incidents/{iid}/actions", headers=auth(tokens["viewer"])
    ).json()
    assert action["type"] == "revoke_agent" and action["status"] == "succeeded"
    assert action["policy"] == "revoke-agent-at-sev1-agentic-misalignment"
    assert action["connector"] == "guard"
    assert _denied(db, "refunds-agent")


def test_policy_runs_when_severity_rises_and_never_twice(
    app_client: TestClient, tokens: dict[str, str], db: Engine
) -> None:
    apply_yaml(db, INVENTORY)
    iid = _incident(
        app_client,
        tokens["responder"],
        severity="SEV-3",
        archetype="agentic_misalignment",
        systems=["refunds-agent"],
    )
    h = auth(tokens["viewer"])
    assert app_client.get(f"/api/v1/incidents/{iid}/actions", headers=h).json() == []
    with session_scope(db) as s:
        incident = incidents.get_incident(s, iid)
        incidents.set_severity(s, incident, "SEV-1", actor="rui", reason="refunds keep going out")
    with session_scope(db) as s:  # a second change re-evaluates; the policy must not repeat
        incident = incidents.get_incident(s, iid)
        incidents.set_archetype(
            s, incident, "agentic_misalignment", actor="rui", reason="x", confidence=0.9
        )
    actions = app_client.get(f"/api/v1/incidents/{iid}/actions", headers=h).json()
    assert [(a["type"], a["status"]) for a in actions] == [("revoke_agent", "succeeded")]
    assert _denied(db, "refunds-agent")


def test_default_policies_can_be_switched_off(
    app_client: TestClient, tokens: dict[str, str], db: Engine
) -> None:
    apply_yaml(db, INVENTORY + "containment: {default_policies: false}\n")
    iid = _incident(
        app_client,
        tokens["responder"],
        severity="SEV-1",
        archetype="agentic_misalignment",
        systems=["refunds-agent"],
    )
    h = auth(tokens["viewer"])
    assert app_client.get(f"/api/v1/incidents/{iid}/actions", headers=h).json() == []
    listed = app_client.get("/api/v1/containment/policies", headers=h).json()
    assert listed and not any(p["active"] for p in listed)
    assert not _denied(db, "refunds-agent")


def test_kill_switch_in_one_call(
    app_client: TestClient, tokens: dict[str, str], db: Engine
) -> None:
    apply_yaml(db, INVENTORY)
    iid = _incident(
        app_client,
        tokens["responder"],
        severity="SEV-2",
        archetype="agentic_misalignment",
        systems=["refunds-agent", "chat"],
    )
    r = app_client.post(
        f"/api/v1/incidents/{iid}/kill-switch",
        json={"reason": "refunds above limit"},
        headers=auth(tokens["responder"]),
    )
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["executed"] and not result["needs_second_approver"]
    assert [(a["system"], a["status"]) for a in result["actions"]] == [
        ("refunds-agent", "succeeded")
    ]
    assert _denied(db, "refunds-agent")
    kinds = [e["kind"] for e in _timeline(app_client, tokens["viewer"], iid)]
    assert (
        kinds.index("action.proposed")
        < kinds.index("action.approved")
        < kinds.index("action.executed")
    )
    again = app_client.post(
        f"/api/v1/incidents/{iid}/kill-switch", headers=auth(tokens["responder"])
    )
    assert again.json()["actions"][0]["note"] == "already revoked"

    # Restoring goes through the same approval path and the guard lets the agent act again.
    restore = app_client.post(
        f"/api/v1/incidents/{iid}/actions",
        json={"type": "restore_agent", "reason": "fixed the prompt"},
        headers=auth(tokens["responder"]),
    ).json()
    done = app_client.post(
        f"/api/v1/actions/{restore['id']}/approve", headers=auth(tokens["admin"])
    )
    assert done.json()["status"] == "succeeded"
    assert not _denied(db, "refunds-agent")


def test_kill_switch_on_a_critical_agent_waits_for_a_second_person(
    app_client: TestClient, tokens: dict[str, str], db: Engine
) -> None:
    apply_yaml(db, INVENTORY)
    with session_scope(db) as s:
        other_responder, _ = create_token(s, name="sam", role="responder")
    iid = _incident(
        app_client,
        tokens["responder"],
        severity="SEV-2",
        archetype="agentic_misalignment",
        systems=["payout-agent"],
    )
    r = app_client.post(f"/api/v1/incidents/{iid}/kill-switch", headers=auth(tokens["responder"]))
    assert r.status_code == 202 and r.json()["needs_second_approver"]
    [waiting] = r.json()["actions"]
    assert waiting["status"] == "proposed" and "two-person rule" in waiting["note"]
    assert not _denied(db, "payout-agent")
    own = app_client.post(
        f"/api/v1/actions/{waiting['id']}/approve", headers=auth(tokens["responder"])
    )
    assert own.status_code == 403
    ok = app_client.post(f"/api/v1/actions/{waiting['id']}/approve", headers=auth(other_responder))
    assert ok.json()["status"] == "succeeded" and ok.json()["approved_by"] == "sam"
    assert _denied(db, "payout-agent")


def test_kill_switch_needs_an_agent_and_a_responder(
    app_client: TestClient, tokens: dict[str, str], db: Engine
) -> None:
    apply_yaml(db, INVENTORY)
    iid = _incident(app_client, tokens["responder"], severity="SEV-2", systems=["chat"])
    r = app_client.post(f"/api/v1/incidents/{iid}/kill-switch", headers=auth(tokens["responder"]))
    assert r.status_code == 409 and "no affected agent" in r.json()["message"]
    agent = _incident(app_client, tokens["responder"], severity="SEV-2", systems=["refunds-agent"])
    r = app_client.post(f"/api/v1/incidents/{agent}/kill-switch", headers=auth(tokens["viewer"]))
    assert r.status_code == 403
    assert (
        app_client.get(f"/api/v1/incidents/{agent}/actions", headers=auth(tokens["viewer"])).json()
        == []
    )


def test_yes_to_unauthorized_action_lets_the_default_policy_revoke(
    app_client: TestClient, tokens: dict[str, str], db: Engine
) -> None:
    apply_yaml(db, INVENTORY)
    iid = _incident(
        app_client,
        tokens["responder"],
        severity="SEV-2",
        archetype="agentic_misalignment",
        systems=["refunds-agent"],
    )
    h = auth(tokens["responder"])
    r = app_client.post(
        f"/api/v1/incidents/{iid}/gates/unauthorized_action_taken",
        json={"answer": "yes", "note": "14 refunds above the limit"},
        headers=h,
    )
    assert r.status_code == 200, r.text
    # The gate proposes the revoke; the written policy for this fact approves it at once.
    [action] = app_client.get(f"/api/v1/incidents/{iid}/actions", headers=h).json()
    assert action["type"] == "revoke_agent" and action["status"] == "succeeded"
    assert action["proposed_by"] == "rui"
    assert action["policy"] == "revoke-agent-after-unauthorized-action"
    assert _denied(db, "refunds-agent")
