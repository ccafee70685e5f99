"""Paging an incident: owning team from the inventory, level 1 over a real webhook and SMTP,
level 2 after the timeout, acknowledgement stops it; first responder and role suggestions."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from quell import scheduler
from quell.config import apply_config, load_config
from quell.incidents.service import create_incident, transition
from quell.incidents.timeline import events
from quell.store.db import session_scope
from quell.timeutil import utcnow
from tests.conftest import auth
from tests.escalation.conftest import Receiver, fresh_engine

YAML = """
teams:
  - name: core
    members:
      - {name: Ada, email: ada@example.com}
      - {name: Rui, email: rui@example.com}
      - {name: Lena, email: lena@example.com}
      - {name: Sam}
  - name: ops
    members: [{name: Olu, email: olu@example.com}, {name: Pia, email: pia@example.com}]
systems:
  - {name: chat, kind: generative, owner_team: core, regimes: [gdpr_art33],
     data_classes: [personal_data]}
  - {name: orphan, kind: predictive}
  - {name: ops-bot, kind: agent, owner_team: ops}
notifications:
  channels:
    - {name: core-hook, type: webhook, url_env: QUELL_TEST_HOOK_URL,
       secret_env: QUELL_TEST_HOOK_SECRET, teams: [core], audiences: [internal]}
schedules:
  - name: core-primary
    team: core
    timezone: Europe/Lisbon
    rotations:
      - {name: solo, members: [Ada], start: 2026-01-05, handoff: "09:00"}
escalation_policies:
  - name: core-default
    teams: [core]
    repeat: REPEAT
    levels:
      - {timeout_minutes: 10, targets: [{schedule: core-primary}]}
      - {timeout_minutes: 20, targets: [{person: Lena}]}
    roles: {legal_liaison: Lena}
"""


def _apply(db: Engine, tmp_path: Path, repeat: int = 0) -> None:
    path = tmp_path / "quell.yaml"
    path.write_text(YAML.replace("REPEAT", str(repeat)), encoding="utf-8")
    config, extras = load_config(path)
    with session_scope(db) as s:
        report = apply_config(s, config, extras)
    assert report["schedules"] == {"core-primary": "created"}
    assert report["escalation_policies"] == {"core-default": "created"}
    with session_scope(db) as s:  # applying twice changes nothing
        again = apply_config(s, config, extras)
    assert again["escalation_policies"] == {"core-default": "unchanged"}


def _kinds(db: Engine, iid: int, prefix: str = "") -> list[str]:
    with session_scope(db) as s:
        return [e.kind for e in events(s, iid) if e.kind.startswith(prefix)]


def _paged(db: Engine, iid: int) -> list[dict[str, Any]]:
    with session_scope(db) as s:
        return [
            dict(e.data, reason=e.reason) for e in events(s, iid) if e.kind == "escalation.paged"
        ]


def test_open_page_escalate_acknowledge(
    db: Engine,
    tmp_path: Path,
    app_client: TestClient,
    tokens: dict[str, str],
    webhook: Receiver,
    smtp: Any,
) -> None:
    _apply(db, tmp_path)
    r = app_client.post(
        "/api/v1/incidents",
        headers=auth(tokens["responder"]),
        json={
            "title": "Chatbot shows other customers' orders",
            "severity": "SEV-2",
            "systems": ["chat"],
            "archetype": "data_exfiltration",
        },
    )
    assert r.status_code == 201, r.text
    iid = r.json()["id"]

    # Opening the incident queued its first page; the worker sends it.
    with session_scope(db) as s:
        mine = [
            j.kind
            for j in scheduler.pending(s, incident_id=iid)
            if j.kind.startswith("escalation.")
        ]
        assert mine == ["escalation.page"]
    t0 = utcnow()
    scheduler.run_due(db, now=t0)
    [level1] = _paged(db, iid)
    assert level1["level"] == 1 and level1["people"] == ["Ada"]
    assert level1["first_responder"] == "Ada"
    assert {d["status"] for d in level1["deliveries"]} == {"sent"}
    # Level 1 reached the team's webhook, signed, and Ada's inbox.
    assert len(webhook.received) == 1 and webhook.received[0].signature_ok
    assert "Escalation level 1 of 2" in webhook.received[0].json()["body"]
    assert [m[1] for m in smtp.messages] == [["ada@example.com"]]
    assert smtp.messages[0][2]["Subject"].startswith("[SEV-2] Page: incident #")

    view = app_client.get(
        f"/api/v1/incidents/{iid}/escalation", headers=auth(tokens["viewer"])
    ).json()
    assert (view["status"], view["level"], view["owning_team"]) == ("paging", 1, "core")
    assert view["policy"] == "core-default" and view["next_due_at"] is not None

    # Nobody acknowledges: before the timeout nothing happens, after it level 2 is paged,
    # by a new engine (a restarted process) reading the durable timer.
    scheduler.run_due(db, now=t0 + timedelta(minutes=9))
    assert len(_paged(db, iid)) == 1
    engine = fresh_engine(db)
    try:
        scheduler.run_due(engine, now=t0 + timedelta(minutes=11))
    finally:
        engine.dispose()
    level2 = _paged(db, iid)[1]
    assert level2["level"] == 2 and level2["people"] == ["Lena"]
    assert "not acknowledged within 10 min" in level2["reason"]
    assert smtp.messages[-1][1] == ["lena@example.com"]

    # Acknowledging stops the escalation and cancels its timer.
    r = app_client.post(
        f"/api/v1/incidents/{iid}/transition",
        json={"to": "acknowledged"},
        headers=auth(tokens["responder"]),
    )
    assert r.status_code == 200
    scheduler.run_due(db, now=t0 + timedelta(hours=3))
    assert _kinds(db, iid, "escalation.") == [
        "escalation.paged",
        "escalation.paged",
        "escalation.stopped",
    ]
    view = app_client.get(
        f"/api/v1/incidents/{iid}/escalation", headers=auth(tokens["viewer"])
    ).json()
    assert view["status"] == "acknowledged" and view["next_due_at"] is None
    with session_scope(db) as s:
        pages = [
            e.data["channel"]
            for e in events(s, iid)
            if e.kind == "notification.sent" and e.data["subject"].startswith("[SEV-2] Page")
        ]
    assert pages == ["email", "core-hook", "email", "core-hook"]  # Lena is in core too
    with session_scope(db) as s:
        from quell.incidents.timeline import verify_chain

        assert verify_chain(s, iid).ok


def test_unacknowledged_pages_repeat_then_exhaust(
    db: Engine, tmp_path: Path, webhook: Receiver
) -> None:
    _apply(db, tmp_path, repeat=1)
    with session_scope(db) as s:
        iid = create_incident(
            s, actor="quell", title="Agent loops", severity="SEV-1", systems=["chat"]
        ).id
    t0 = utcnow()
    scheduler.run_due(db, now=t0)
    scheduler.run_due(db, now=t0 + timedelta(minutes=11))  # level 2
    scheduler.run_due(db, now=t0 + timedelta(minutes=32))  # repeat: level 1 again
    scheduler.run_due(db, now=t0 + timedelta(minutes=43))  # level 2 again
    scheduler.run_due(db, now=t0 + timedelta(minutes=64))  # gives up
    assert [(p["level"], p["cycle"]) for p in _paged(db, iid)] == [(1, 0), (2, 0), (1, 1), (2, 1)]
    assert _kinds(db, iid, "escalation.")[-1] == "escalation.exhausted"
    scheduler.run_due(db, now=t0 + timedelta(days=1))
    assert _kinds(db, iid, "escalation.")[-1] == "escalation.exhausted"


def test_explicit_page_from_a_level_and_a_stale_timer(
    db: Engine, tmp_path: Path, app_client: TestClient, tokens: dict[str, str], webhook: Receiver
) -> None:
    _apply(db, tmp_path)
    with session_scope(db) as s:
        iid = create_incident(s, actor="quell", title="x", severity="SEV-3", systems=["chat"]).id
    r = app_client.post(
        f"/api/v1/incidents/{iid}/page",
        json={"level": 2, "reason": "Ada is out"},
        headers=auth(tokens["responder"]),
    )
    assert r.status_code == 200, r.text
    assert r.json()["level"] == 2
    paged = _paged(db, iid)
    assert [p["level"] for p in paged] == [1 + 1] and paged[0]["reason"] == "Ada is out"
    # The automatic first page queued on open was replaced, not run on top.
    scheduler.run_due(db, now=utcnow())
    assert len(_paged(db, iid)) == 1
    r = app_client.post(
        f"/api/v1/incidents/{iid}/page", json={"level": 3}, headers=auth(tokens["responder"])
    )
    assert r.status_code == 422 and r.json()["field"] == "level"
    assert (
        app_client.post(
            f"/api/v1/incidents/{iid}/page", json={}, headers=auth(tokens["viewer"])
        ).status_code
        == 403
    )


def test_an_incident_nobody_owns_cannot_be_paged_and_nothing_is_written(
    db: Engine, tmp_path: Path, app_client: TestClient, tokens: dict[str, str]
) -> None:
    _apply(db, tmp_path)
    with session_scope(db) as s:
        iid = create_incident(
            s, actor="quell", title="drift", severity="SEV-3", systems=["orphan"]
        ).id
    before = _kinds(db, iid)
    r = app_client.post(f"/api/v1/incidents/{iid}/page", headers=auth(tokens["responder"]))
    assert r.status_code == 409 and "no owning team" in r.json()["message"]
    assert _kinds(db, iid) == before
    # The automatic page records that it could not route instead.
    scheduler.run_due(db)
    assert _kinds(db, iid)[-1] == "escalation.unrouted"
    with session_scope(db) as s:
        transition(s, iid, "resolved", actor="rui")
    r = app_client.post(f"/api/v1/incidents/{iid}/page", headers=auth(tokens["responder"]))
    assert r.status_code == 409 and "resolved" in r.json()["message"]


def test_first_responder_and_roles_are_suggested_then_assigned(
    db: Engine, tmp_path: Path, app_client: TestClient, tokens: dict[str, str]
) -> None:
    _apply(db, tmp_path)
    with session_scope(db) as s:
        # Rui resolved the last incident on this system.
        old = create_incident(
            s,
            actor="quell",
            title="old",
            severity="SEV-3",
            systems=["chat"],
            detected_at=utcnow() - timedelta(days=3),
        )
        transition(s, old.id, "resolved", actor="Rui")
        iid = create_incident(
            s,
            actor="quell",
            title="leak",
            severity="SEV-1",
            systems=["chat"],
            facts={"personal_data_exposed": True},
        ).id
    r = app_client.post(f"/api/v1/incidents/{iid}/roles/suggest", headers=auth(tokens["responder"]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert [c["person"] for c in body["first_responder"]] == ["Ada", "Rui"]
    roles = {row["role"]: row for row in body["roles"]}
    assert all(row["needed"] for row in roles.values())  # SEV-1 with personal data
    assert roles["incident_commander"]["person"] == "Ada"
    assert roles["technical_lead"]["person"] == "Rui"
    assert roles["legal_liaison"]["person"] == "Lena"
    assert "personal data was exposed" in roles["legal_liaison"]["why_needed"]
    people = [row["person"] for row in roles.values()]
    assert len(set(people)) >= 4  # distinct people where the team allows it
    for role in ("incident_commander", "legal_liaison"):
        r = app_client.post(
            f"/api/v1/incidents/{iid}/roles",
            json={"role": role, "person": roles[role]["person"]},
            headers=auth(tokens["responder"]),
        )
        assert r.status_code == 200
    again = app_client.post(
        f"/api/v1/incidents/{iid}/roles/suggest", headers=auth(tokens["responder"])
    ).json()
    held = {row["role"]: row for row in again["roles"]}
    assert held["incident_commander"]["current"] == "Ada"
    assert held["incident_commander"]["reason"] == "already holds the role"


def test_a_low_severity_unregulated_incident_needs_fewer_roles(db: Engine, tmp_path: Path) -> None:
    _apply(db, tmp_path)
    from quell.escalation.roles import suggest_roles

    with session_scope(db) as s:
        incident = create_incident(
            s, actor="quell", title="slow", severity="SEV-4", systems=["orphan"]
        )
        rows = {r["role"]: r for r in suggest_roles(s, incident)["roles"]}
    assert [role for role, r in rows.items() if r["needed"]] == ["technical_lead"]
    assert rows["legal_liaison"]["reason"] == "not needed at this severity"


def test_a_policy_naming_unknown_targets_is_refused(
    app_client: TestClient, tokens: dict[str, str], db: Engine, tmp_path: Path
) -> None:
    _apply(db, tmp_path)
    body = {"name": "p2", "levels": [{"timeout_minutes": 5, "targets": [{"schedule": "nope"}]}]}
    r = app_client.put("/api/v1/escalation-policies/p2", json=body, headers=auth(tokens["admin"]))
    assert r.status_code == 422 and "nope" in r.json()["message"]
    assert r.json()["field"] == "levels[0].targets[0].schedule"
    assert (
        app_client.get("/api/v1/escalation-policies/p2", headers=auth(tokens["viewer"])).status_code
        == 404
    )
    body = {"name": "p2", "levels": [{"targets": [{"team": "core", "person": "Ada"}]}]}
    r = app_client.put("/api/v1/escalation-policies/p2", json=body, headers=auth(tokens["admin"]))
    assert r.status_code == 422
    body = {
        "name": "p2",
        "teams": ["core"],
        "levels": [{"timeout_minutes": 5, "targets": [{"team": "core"}]}],
    }
    r = app_client.put("/api/v1/escalation-policies/p2", json=body, headers=auth(tokens["admin"]))
    assert r.status_code == 200 and r.json()["outcome"] == "created"


@pytest.mark.parametrize("status", ["mitigated", "resolved"])
def test_leaving_triggered_any_way_cancels_the_first_page(db: Engine, status: str) -> None:
    with session_scope(db) as s:
        iid = create_incident(s, actor="quell", title="x", severity="SEV-3").id
        assert scheduler.pending(s, key=f"escalation:{iid}")
        transition(s, iid, status, actor="rui")
        assert scheduler.pending(s, key=f"escalation:{iid}") == []


def test_a_team_without_a_policy_is_paged_as_a_whole(
    db: Engine, tmp_path: Path, app_client: TestClient, tokens: dict[str, str], smtp: Any
) -> None:
    _apply(db, tmp_path)
    with session_scope(db) as s:
        iid = create_incident(
            s, actor="quell", title="agent loops", severity="SEV-2", systems=["ops-bot"]
        ).id
    t0 = utcnow()
    scheduler.run_due(db, now=t0)
    [page] = _paged(db, iid)
    assert page["policy"] == "ops (no policy)" and page["people"] == ["Olu", "Pia"]
    assert sorted(m[1][0] for m in smtp.messages) == ["olu@example.com", "pia@example.com"]
    # One level only: after its timeout the escalation is exhausted, not repeated.
    scheduler.run_due(db, now=t0 + timedelta(minutes=16))
    assert _kinds(db, iid, "escalation.") == ["escalation.paged", "escalation.exhausted"]
    view = app_client.get(
        f"/api/v1/incidents/{iid}/escalation", headers=auth(tokens["viewer"])
    ).json()
    assert view["status"] == "exhausted" and view["owning_team"] == "ops"
