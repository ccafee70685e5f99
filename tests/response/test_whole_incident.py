"""Issue 4's "done when": one AI incident run through the API from the first signal to the
postmortem, over a real signed webhook receiver and a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from quell import scheduler
from quell.config import apply_config, load_config
from quell.incidents.timeline import verify_chain
from quell.store.db import session_scope
from quell.timeutil import utcnow
from tests.conftest import auth
from tests.response.conftest import Receiver

guard = pytest.importorskip("quell.remediation.guard")
aiosmtpd = pytest.importorskip("aiosmtpd.controller")

YAML = """
teams:
  - name: payments
    members:
      - {name: Ada, email: ada@example.com}
      - {name: Lena, email: lena@example.com}
systems:
  - {name: fraud-scorer, kind: predictive, owner_team: payments, criticality: high}
  - {name: refunds-agent, kind: agent, owner_team: payments, criticality: high,
     depends_on: [fraud-scorer], data_classes: [personal_data], regimes: [gdpr_art33],
     current_model_version: agent-4.1, previous_model_version: agent-4.0}
risks:
  - {key: RISK-AGENT, title: Refunds agent acts outside policy, system: refunds-agent,
     archetype: agentic_misalignment, likelihood: 2, impact: 4}
notifications:
  channels:
    - {name: payments-hook, type: webhook, url_env: QUELL_TEST_HOOK_URL,
       secret_env: QUELL_TEST_HOOK_SECRET, teams: [payments], audiences: [internal, executive]}
schedules:
  - name: payments-primary
    team: payments
    timezone: UTC
    rotations:
      - {name: solo, members: [Ada], start: 2026-01-05, handoff: "09:00"}
escalation_policies:
  - name: payments-default
    teams: [payments]
    levels:
      - {timeout_minutes: 10, targets: [{schedule: payments-primary}]}
# The kill switch is to be approved by a person in this walk, not pre-approved by a policy.
containment: {default_policies: false}
"""


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Any]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture()
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Inbox]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    inbox = _Inbox()
    controller = aiosmtpd.Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("QUELL_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("QUELL_SMTP_PORT", str(port))
    monkeypatch.setenv("QUELL_SMTP_FROM", "quell@test.local")
    yield inbox
    controller.stop()


def test_a_whole_incident_from_signals_to_postmortem(
    db: Engine,
    app_client: TestClient,
    tokens: dict[str, str],
    receiver: Receiver,
    smtp: _Inbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from quell.detection.pipeline import Correlator

    Correlator.forget(db)
    monkeypatch.setenv("QUELL_TEST_HOOK_URL", f"{receiver.url}/hook")
    monkeypatch.setenv("QUELL_TEST_HOOK_SECRET", "walk-secret")
    path = tmp_path / "quell.yaml"
    path.write_text(YAML, encoding="utf-8")
    with session_scope(db) as s:
        apply_config(s, *load_config(path))
    h, viewer = auth(tokens["responder"]), auth(tokens["viewer"])

    # A model version change two hours before the trouble.
    r = app_client.post(
        "/api/v1/changes",
        headers=h,
        json={
            "kind": "model_version",
            "system": "refunds-agent",
            "summary": "agent model upgrade",
            "from_version": "agent-4.1",
            "to_version": "agent-4.2",
            "occurred_at": (utcnow() - timedelta(hours=2)).isoformat(),
        },
    )
    assert r.status_code == 201, r.text
    change_id = r.json()["changes"][0]["id"]

    # Signals open the incident.
    signal = {
        "kind": "agent_action",
        "system": "refunds-agent",
        "severity": "critical",
        "summary": "refund above the 200 EUR limit",
        "fingerprint": "refund-limit",
        "archetype": "agentic_misalignment",
    }
    r = app_client.post("/api/v1/signals", json=[signal] * 3, headers=h)
    assert r.status_code == 202, r.text
    (iid,) = r.json()["incidents"]
    incident = app_client.get(f"/api/v1/incidents/{iid}", headers=viewer).json()
    assert incident["systems"] == ["refunds-agent"]
    assert incident["archetype"] == "agentic_misalignment"

    # The on-call responder is paged over the signed webhook and by email.
    scheduler.run_due(db, now=utcnow())
    assert any("Page" in json.loads(req["body"]).get("subject", "") for req in receiver.requests)
    assert [m[0] for m in smtp.messages] == [["ada@example.com"]]

    # Roles.
    for role, person in (("incident_commander", "Ada"), ("comms_lead", "Lena")):
        r = app_client.post(
            f"/api/v1/incidents/{iid}/roles", json={"role": role, "person": person}, headers=h
        )
        assert r.status_code == 200, r.text
    assert (
        app_client.post(
            f"/api/v1/incidents/{iid}/transition", json={"to": "acknowledged"}, headers=h
        ).status_code
        == 200
    )

    # The triage pack lists the model version change that preceded it.
    pack = app_client.get(f"/api/v1/incidents/{iid}/triage", headers=viewer).json()
    [change] = pack["change_snapshot"]["changes"]
    assert change["id"] == change_id and change["model_version_change"] is True
    assert pack["top_anomalies"]["started"]["preceded_by_change"] == change_id
    assert pack["known_mitigations"][0]["action"] == "revoke_agent"

    # The kill switch, approved by the responder; the guard then denies the agent.
    r = app_client.post(
        f"/api/v1/incidents/{iid}/kill-switch", json={"reason": "refunds above limit"}, headers=h
    )
    assert r.status_code == 200 and r.json()["executed"], r.text
    with session_scope(db) as s:
        verdict = guard.decide(s, "refunds-agent", tool="issue_refund", arguments={"amount": 5})
    assert verdict["decision"] == "deny"

    # Decision gates; personal data was exposed, so the GDPR clock runs.
    for gate in ("personal_data_exposed", "unauthorized_action_taken"):
        r = app_client.post(
            f"/api/v1/incidents/{iid}/gates/{gate}", json={"answer": "yes"}, headers=h
        )
        assert r.status_code == 200, r.text
    clocks = app_client.get(f"/api/v1/incidents/{iid}/clocks", headers=viewer).json()
    assert "gdpr_art33" in {c["regime"] for c in clocks["clocks"]}

    # Two What We Know updates go out.
    before = len(receiver.requests)
    for audience in ("internal", "executive"):
        draft = app_client.post(
            f"/api/v1/incidents/{iid}/updates/draft?audience={audience}", headers=h
        ).json()
        body = {
            k: draft[k]
            for k in (
                "what_happened",
                "what_we_are_testing",
                "what_we_are_doing",
                "what_we_do_not_know",
            )
        }
        r = app_client.post(
            f"/api/v1/incidents/{iid}/updates", json={"audience": audience, **body}, headers=h
        )
        assert r.status_code == 201, r.text
        assert [d["status"] for d in r.json()["deliveries"]] == ["sent"]
    regulator = app_client.post(
        f"/api/v1/incidents/{iid}/updates/draft?audience=regulator", headers=h
    ).json()
    assert "GDPR" in regulator["what_we_are_doing"] and "due by" in regulator["what_we_are_doing"]
    sent = [json.loads(req["body"]) for req in receiver.requests[before:]]
    assert len(sent) == 2 and all("What We Know" in json.dumps(b) for b in sent)
    assert "revoke_agent" in sent[0]["body"]

    # Mitigated, resolved, then the postmortem, which a SEV-1/2 needs before closing.
    for status in ("mitigated", "resolved"):
        r = app_client.post(f"/api/v1/incidents/{iid}/transition", json={"to": status}, headers=h)
        assert r.status_code == 200, r.text
    severity = app_client.get(f"/api/v1/incidents/{iid}", headers=viewer).json()["severity"]
    assert severity in ("SEV-1", "SEV-2")  # a critical breach by a high-criticality agent
    r = app_client.post(f"/api/v1/incidents/{iid}/transition", json={"to": "closed"}, headers=h)
    assert r.status_code == 409 and "postmortem" in r.json()["message"]
    r = app_client.put(
        f"/api/v1/incidents/{iid}/postmortem",
        headers=h,
        json={
            "root_cause": {"summary": "agent-4.2 reads the refund limit as advisory"},
            "action_items": [
                {
                    "title": "Guard rule for the refund limit",
                    "owner": "Ada",
                    "due_date": "2026-12-20",
                }
            ],
            "risks": [{"key": "RISK-AGENT", "likelihood": 4}],
        },
    )
    assert r.status_code == 200, r.text
    md = app_client.get(f"/api/v1/incidents/{iid}/postmortem.md", headers=viewer).text
    for expected in (
        "incident.created",
        "action.executed",
        "update.published",
        "agent-4.1 -> agent-4.2",
        "RISK-AGENT",
        "linked to this incident",
        "Guard rule for the refund limit",
    ):
        assert expected in md, expected
    risks = app_client.get("/api/v1/risks", headers=viewer).json()
    assert iid in next(r for r in risks if r["key"] == "RISK-AGENT")["incidents"]
    r = app_client.post(f"/api/v1/incidents/{iid}/transition", json={"to": "closed"}, headers=h)
    assert r.status_code == 200, r.text
    with session_scope(db) as s:
        assert verify_chain(s, iid).ok
