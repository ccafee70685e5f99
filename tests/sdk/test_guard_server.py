"""The guard on the server: policies from quell.yaml, decisions, the kill switch, the action log."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from quell.config import ConfigError, apply_config, load_config, parse_config
from quell.errors import Conflict, InvalidInput, NotFound
from quell.incidents.service import create_incident
from quell.incidents.timeline import events
from quell.remediation import guard
from quell.remediation.guard_models import AgentAction
from quell.store.db import session_scope
from tests.conftest import auth

GUARD_YAML = """
teams:
  - name: ops
systems:
  - {name: refund-agent, kind: agent, owner_team: ops, criticality: high}
  - {name: notes-agent, kind: agent, owner_team: ops, criticality: low}
agent_policies:
  refund-agent:
    allow_tools: [lookup_order, issue_refund, send_email, "read_*"]
    deny_tools: [read_secrets]
    arguments:
      issue_refund:
        amount: {max: 500, required: true}
        currency: {allowed: [EUR, USD]}
    spend: {approval_over: 200}
    rate_limits:
      - {tool: send_email, max_calls: 2, per_seconds: 3600}
    data_classes: {allowed: [orders]}
  notes-agent:
    fail_mode: closed
    default: allow
    spend: {max_per_window: 10, window_seconds: 3600}
"""


@pytest.fixture()
def guarded(db: Engine, tmp_path: Path) -> Engine:
    path = tmp_path / "quell.yaml"
    path.write_text(GUARD_YAML, encoding="utf-8")
    config, extras = load_config(path)
    with session_scope(db) as s:
        apply_config(s, config, extras)
    return db


def _decide(session: Session, tool: str, **kw: Any) -> dict[str, Any]:
    return guard.decide(session, "refund-agent", tool=tool, **kw)


def test_policy_from_yaml_is_idempotent_and_versioned(guarded: Engine) -> None:
    config, extras = parse_config(__import__("yaml").safe_load(GUARD_YAML))
    with session_scope(guarded) as s:
        report = apply_config(s, config, extras)
        assert report["agent_policies"] == {"refund-agent": "unchanged", "notes-agent": "unchanged"}
        status = guard.guard_status(s, "refund-agent")
    assert status["policy_version"] == 1
    assert status["fail_mode"] == "closed"  # high criticality, no fail_mode set
    assert status["containment"]["state"] == "active"
    with session_scope(guarded) as s:
        low = guard.guard_status(s, "notes-agent")
    assert low["fail_mode"] == "closed"  # set explicitly although criticality is low


def test_policy_errors_name_the_field() -> None:
    bad = GUARD_YAML.replace("max_calls: 2", "most: 2")
    with pytest.raises(ConfigError) as err:
        parse_config(__import__("yaml").safe_load(bad))
    assert err.value.field == "agent_policies.refund-agent"
    assert "rate_limits[0] needs max_calls" in err.value.message
    typo = GUARD_YAML.replace("fail_mode: closed", "fail_mode: shut")
    with pytest.raises(ConfigError) as err:
        parse_config(__import__("yaml").safe_load(typo))
    assert err.value.field == "agent_policies.notes-agent.fail_mode"


def test_policy_for_unknown_system_is_refused(db: Engine) -> None:
    config, extras = parse_config({"agent_policies": {"ghost": {"deny_tools": ["x"]}}})
    with session_scope(db) as s, pytest.raises(ConfigError) as err:
        apply_config(s, config, extras)
    assert err.value.field == "agent_policies.ghost"


def test_decisions_follow_the_policy(guarded: Engine) -> None:
    with session_scope(guarded) as s:
        assert _decide(s, "lookup_order", arguments={"id": 7})["decision"] == "allow"
        denied = _decide(s, "read_secrets")
        assert denied["decision"] == "deny"
        assert "deny list" in denied["reasons"][0]
        assert _decide(s, "drop_table")["decision"] == "deny"  # not on the allow list
        over = _decide(s, "issue_refund", arguments={"amount": 900, "currency": "EUR"})
        assert over["decision"] == "deny"
        assert any("above 500" in r for r in over["reasons"])
        assert _decide(s, "issue_refund", arguments={"currency": "EUR"})["decision"] == "deny"
        small = _decide(s, "issue_refund", arguments={"amount": 50, "currency": "EUR"})
        assert small["decision"] == "allow"
        big = _decide(s, "issue_refund", arguments={"amount": 300, "currency": "USD"}, cost=300)
        assert big["decision"] == "needs_approval"
        assert big["ttl_s"] == 0
        scope = _decide(s, "read_customer", data_classes=["personal_data"])
        assert scope["decision"] == "deny"  # personal_data is out of the agent's scope
        count = s.scalar(select(func.count(AgentAction.id)))
    assert count == 8  # every attempt is recorded


def test_rate_and_spend_limits_count_allowed_calls(guarded: Engine) -> None:
    with session_scope(guarded) as s:
        first = _decide(s, "send_email")
        assert first["ttl_s"] == 0  # metered: may not be cached
        assert _decide(s, "send_email")["decision"] == "allow"
        third = _decide(s, "send_email")
        assert third["decision"] == "deny"
        assert "rate limit" in third["reasons"][0]
        spend = [
            guard.decide(s, "notes-agent", tool="summarise", cost=c)["decision"] for c in (4, 4, 4)
        ]
    assert spend == ["allow", "allow", "deny"]


def test_approval_lets_the_same_call_through(guarded: Engine) -> None:
    args = {"amount": 300, "currency": "EUR"}
    with session_scope(guarded) as s:
        asked = _decide(s, "issue_refund", arguments=args, cost=300)
        assert asked["decision"] == "needs_approval"
        with pytest.raises(Conflict):
            _decide(s, "issue_refund", arguments=args, cost=300, approval_id=asked["action_id"])
        guard.approve_action(s, asked["action_id"], actor="rui")
        again = _decide(s, "issue_refund", arguments=args, cost=300, approval_id=asked["action_id"])
        assert again["decision"] == "allow"
        assert "approved by rui" in again["reasons"][-1]
        with pytest.raises(InvalidInput):
            _decide(
                s,
                "issue_refund",
                arguments={**args, "amount": 400},
                cost=400,
                approval_id=asked["action_id"],
            )


def test_revoke_denies_everything_and_goes_on_the_timeline(guarded: Engine) -> None:
    with session_scope(guarded) as s:
        incident = create_incident(
            s,
            title="agent refunds too much",
            severity="SEV-2",
            actor="ada",
            systems=["refund-agent"],
        )
        incident_id = incident.id
        out = guard.revoke_agent(
            s, "refund-agent", actor="rui", reason="refund spree", incident_id=incident_id
        )
        assert out["state"] == "revoked"
        assert out["changed"] is True
        again = guard.revoke_agent(s, "refund-agent", actor="rui", reason="again")
        assert again["changed"] is False
        decision = _decide(s, "lookup_order")
        assert decision["decision"] == "deny"
        assert decision["revoked"] is True
        assert "revoked by rui" in decision["reasons"][0]
        restored = guard.restore_agent(
            s, "refund-agent", actor="rui", reason="fixed the prompt", incident_id=incident_id
        )
        assert restored["state"] == "active"
        assert _decide(s, "lookup_order")["decision"] == "allow"
        kinds = [e.kind for e in events(s, incident_id)]
    assert kinds.count("guard.revoked") == 1
    assert kinds.count("guard.restored") == 1


def test_revoke_needs_a_known_system_and_a_reason(guarded: Engine) -> None:
    with session_scope(guarded) as s:
        with pytest.raises(NotFound):
            guard.revoke_agent(s, "ghost", actor="rui", reason="x")
        with pytest.raises(InvalidInput):
            guard.revoke_agent(s, "refund-agent", actor="rui", reason="  ")
        with pytest.raises(NotFound):
            guard.revoke_agent(s, "refund-agent", actor="rui", reason="x", incident_id=999)


def test_records_and_listing(guarded: Engine) -> None:
    with session_scope(guarded) as s:
        decided = _decide(s, "issue_refund", arguments={"amount": 20, "currency": "EUR"})
        done = guard.record_action(
            s,
            "refund-agent",
            tool="issue_refund",
            arguments={"amount": 20, "currency": "EUR"},
            result={"refund_id": "r-1"},
            undo={"kind": "tool", "tool": "cancel_refund", "arguments": {"refund_id": "r-1"}},
            decision_id=decided["action_id"],
        )
        assert done["decision"] == "allow"
        guard.record_action(s, "notes-agent", tool="summarise", result="ok")
        mine = guard.list_actions(s, system="refund-agent", phase="done")
        assert [a["tool"] for a in mine] == ["issue_refund"]
        assert mine[0]["undo"]["tool"] == "cancel_refund"
        assert len(guard.list_actions(s)) == 3
        with pytest.raises(InvalidInput):
            guard.record_action(s, "refund-agent", tool="x", undo={"kind": "teleport"})
        with pytest.raises(InvalidInput):
            guard.record_action(s, "refund-agent", tool="x", decision_id=10_000)


def test_undo_manual_needs_a_note_and_happens_once(guarded: Engine) -> None:
    with session_scope(guarded) as s:
        done = guard.record_action(
            s, "refund-agent", tool="issue_refund", undo={"kind": "tool", "tool": "cancel_refund"}
        )
        with pytest.raises(InvalidInput):
            guard.undo_action(s, done["id"], actor="rui")
        undone = guard.undo_action(s, done["id"], actor="rui", note="cancelled refund r-1 by hand")
        assert undone["undo_status"] == "done"
        assert undone["undone_by"] == "rui"
        with pytest.raises(Conflict):
            guard.undo_action(s, done["id"], actor="rui", note="twice")


def test_api_kill_switch_and_bad_input(
    guarded: Engine, app_client: TestClient, tokens: dict[str, str]
) -> None:
    agent, viewer = auth(tokens["reporter"]), auth(tokens["viewer"])
    responder = auth(tokens["responder"])
    # A person who may only read is not an agent: the guard refuses their calls.
    as_viewer = app_client.post(
        "/api/v1/guard/decide",
        json={"system": "refund-agent", "tool": "lookup_order"},
        headers=viewer,
    )
    assert as_viewer.status_code == 403
    ok = app_client.post(
        "/api/v1/guard/decide",
        json={"system": "refund-agent", "tool": "lookup_order"},
        headers=agent,
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["decision"] == "allow"
    # An agent's token (reporter) cannot revoke itself or anyone, nor read the record.
    refused = app_client.post(
        "/api/v1/guard/refund-agent/revoke", json={"reason": "x"}, headers=agent
    )
    assert refused.status_code == 403
    revoked = app_client.post(
        "/api/v1/guard/refund-agent/revoke", json={"reason": "runaway"}, headers=responder
    )
    assert revoked.status_code == 200
    assert revoked.json()["actor"] == "rui"
    denied = app_client.post(
        "/api/v1/guard/decide",
        json={"system": "refund-agent", "tool": "lookup_order"},
        headers=agent,
    )
    assert denied.json()["decision"] == "deny"
    listed = app_client.get("/api/v1/guard/actions?system=refund-agent", headers=viewer).json()
    assert [a["decision"] for a in listed] == ["deny", "allow"]
    assert app_client.get("/api/v1/guard/actions", headers=agent).status_code == 403
    missing = app_client.post(
        "/api/v1/guard/decide", json={"system": "refund-agent"}, headers=agent
    )
    assert missing.status_code == 422
    assert "tool" in missing.json()["field"]
    unknown = app_client.post(
        "/api/v1/guard/decide", json={"system": "ghost", "tool": "x"}, headers=agent
    )
    assert unknown.status_code == 404
    no_reason = app_client.post("/api/v1/guard/refund-agent/restore", json={}, headers=responder)
    assert no_reason.status_code == 422
    assert no_reason.json()["field"] == "reason"
    big = app_client.post(
        "/api/v1/guard/actions",
        json={"system": "refund-agent", "tool": "x", "result": {"blob": "a" * 70_000}},
        headers=agent,
    )
    assert big.status_code == 413
    assert big.json()["field"] == "result"
    with session_scope(guarded) as s:
        assert s.scalar(select(func.count(AgentAction.id)).where(AgentAction.tool == "x")) == 0


def test_api_policy_put_bumps_version(
    guarded: Engine, app_client: TestClient, tokens: dict[str, str]
) -> None:
    admin = auth(tokens["admin"])
    put = app_client.put(
        "/api/v1/guard/notes-agent/policy", json={"deny_tools": ["delete_*"]}, headers=admin
    )
    assert put.status_code == 200, put.text
    assert put.json()["outcome"] == "updated"
    assert put.json()["policy_version"] == 2
    assert put.json()["fail_mode"] == "open"  # low criticality, fail_mode no longer set
    bad = app_client.put(
        "/api/v1/guard/notes-agent/policy", json={"deny_tool": ["a"]}, headers=admin
    )
    assert bad.status_code == 422
    assert "deny_tool" in bad.json()["message"]
    with session_scope(guarded) as s:
        assert guard.guard_status(s, "notes-agent")["policy_version"] == 2
