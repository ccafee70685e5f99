"""Containment actions through the API: propose, approve, the webhook connector, refusals."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from quell.auth.service import create_token
from quell.incidents.models import TimelineEvent
from quell.inventory.models import AISystem
from quell.remediation.action_models import ContainmentAction
from quell.store.db import session_scope
from tests.conftest import auth
from tests.remediation.helpers import INVENTORY, apply_yaml, webhook_receiver

SECRET_ENV = "QUELL_TEST_CONNECTOR_SECRET"


def _incident(client: TestClient, token: str, **body: Any) -> int:
    body = {"title": "trouble", "severity": "SEV-2", **body}
    r = client.post("/api/v1/incidents", json=body, headers=auth(token))
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _connector(db: Engine, url: str, **extra: str) -> None:
    lines = "".join(f", {k}: {v}" for k, v in extra.items())
    apply_yaml(
        db,
        INVENTORY
        + f"connectors:\n  - {{name: ops, kind: webhook, url: '{url}', secret_env: {SECRET_ENV}"
        + f", timeout_s: 5{lines}}}\n",
    )


def _kinds(client: TestClient, token: str, incident_id: int) -> list[str]:
    r = client.get(f"/api/v1/incidents/{incident_id}/timeline", headers=auth(token))
    return [e["kind"] for e in r.json()]


def _counts(db: Engine) -> tuple[int, int]:
    with session_scope(db) as s:
        actions = s.scalar(select(func.count()).select_from(ContainmentAction)) or 0
        events = s.scalar(select(func.count()).select_from(TimelineEvent)) or 0
        return int(actions), int(events)


def test_webhook_connector_signs_posts_and_records(
    app_client: TestClient, tokens: dict[str, str], db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, "s3cret-for-tests")
    with webhook_receiver("s3cret-for-tests") as receiver:
        _connector(db, receiver.url)
        iid = _incident(app_client, tokens["responder"], systems=["chat"])
        r = app_client.post(
            f"/api/v1/incidents/{iid}/actions",
            json={"type": "route_fallback", "reason": "bot leaking order data"},
            headers=auth(tokens["responder"]),
        )
        assert r.status_code == 201, r.text
        proposed = r.json()
        assert proposed["status"] == "proposed" and proposed["system"] == "chat"
        assert proposed["params"] == {"fallback": "canned answers"}
        assert receiver.received == []  # nothing runs before an approval

        r = app_client.post(
            f"/api/v1/actions/{proposed['id']}/approve",
            json={"reason": "agreed"},
            headers=auth(tokens["admin"]),
        )
        assert r.status_code == 200, r.text
        done = r.json()

    assert done["status"] == "succeeded" and done["approved_by"] == "ada"
    assert done["connector"] == "ops" and done["result"]["status_code"] == 200
    assert "fallback engaged" in done["result"]["response"]
    assert receiver.bad_signatures == 0 and len(receiver.received) == 1
    sent = receiver.received[0]
    assert sent["action"]["type"] == "route_fallback" and sent["action"]["id"] == done["id"]
    assert sent["system"]["safe_fallback"] == "canned answers"
    assert sent["incident"]["id"] == iid
    kinds = _kinds(app_client, tokens["viewer"], iid)
    assert kinds[-3:] == ["action.proposed", "action.approved", "action.executed"]
    events = app_client.get(f"/api/v1/incidents/{iid}/timeline", headers=auth(tokens["viewer"]))
    approved = next(e for e in events.json() if e["kind"] == "action.approved")
    assert approved["actor"] == "ada" and approved["reason"] == "agreed"


@pytest.mark.parametrize(
    ("receiver_secret", "status", "env_secret", "error_part"),
    [
        ("right", 500, "right", "answered 500"),  # the receiver says no
        ("other", 200, "right", "answered 401"),  # the receiver rejects our signature
        ("right", 200, None, "is not set"),  # no secret: nothing is sent unsigned
    ],
)
def test_failed_delivery_is_recorded_as_failed(
    app_client: TestClient,
    tokens: dict[str, str],
    db: Engine,
    monkeypatch: pytest.MonkeyPatch,
    receiver_secret: str,
    status: int,
    env_secret: str | None,
    error_part: str,
) -> None:
    if env_secret is None:
        monkeypatch.delenv(SECRET_ENV, raising=False)
    else:
        monkeypatch.setenv(SECRET_ENV, env_secret)
    with webhook_receiver(receiver_secret, status=status) as receiver:
        _connector(db, receiver.url)
        iid = _incident(app_client, tokens["responder"], systems=["chat"])
        action = app_client.post(
            f"/api/v1/incidents/{iid}/actions",
            json={"type": "rate_limit", "params": {"requests_per_minute": 30, "scope": "ip"}},
            headers=auth(tokens["responder"]),
        ).json()
        r = app_client.post(
            f"/api/v1/actions/{action['id']}/approve", headers=auth(tokens["admin"])
        )
    assert r.status_code == 200
    assert r.json()["status"] == "failed" and error_part in r.json()["error"]
    assert _kinds(app_client, tokens["viewer"], iid)[-1] == "action.failed"
    if env_secret is None:
        assert receiver.received == [] and receiver.bad_signatures == 0


def test_no_connector_fails_with_a_clear_message(
    app_client: TestClient, tokens: dict[str, str], db: Engine
) -> None:
    apply_yaml(db, INVENTORY)
    iid = _incident(app_client, tokens["responder"], systems=["chat"])
    action = app_client.post(
        f"/api/v1/incidents/{iid}/actions",
        json={"type": "tighten_filters", "params": {"direction": "input", "patterns": ["ignore"]}},
        headers=auth(tokens["responder"]),
    ).json()
    done = app_client.post(f"/api/v1/actions/{action['id']}/approve", headers=auth(tokens["admin"]))
    assert done.json()["status"] == "failed"
    assert "no connector is configured for tighten_filters" in done.json()["error"]


def test_two_person_rule_and_admin_role_for_a_critical_rollback(
    app_client: TestClient, tokens: dict[str, str], db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, "k")
    with session_scope(db) as s:
        second_admin, _ = create_token(s, name="ben", role="admin")
    with webhook_receiver("k") as receiver:
        _connector(db, receiver.url)
        iid = _incident(app_client, tokens["responder"], systems=["scorer"])
        r = app_client.post(
            f"/api/v1/incidents/{iid}/actions",
            json={"type": "rollback_model", "reason": "drift after deploy"},
            headers=auth(tokens["admin"]),
        )
        action = r.json()
        assert action["approval"]["role"] == "admin" and action["approval"]["two_person"]
        assert action["params"] == {"from_version": "gbm-7", "to_version": "gbm-6"}
        before = _counts(db)

        own = app_client.post(
            f"/api/v1/actions/{action['id']}/approve", headers=auth(tokens["admin"])
        )
        assert own.status_code == 403
        assert "two-person rule" in own.json()["message"] and "ada" in own.json()["message"]
        low = app_client.post(
            f"/api/v1/actions/{action['id']}/approve", headers=auth(tokens["responder"])
        )
        assert low.status_code == 403 and "needs the admin role" in low.json()["message"]
        assert _counts(db) == before  # refused: nothing written
        still = app_client.get(f"/api/v1/actions/{action['id']}", headers=auth(tokens["viewer"]))
        assert still.json()["status"] == "proposed"
        assert receiver.received == []

        ok = app_client.post(f"/api/v1/actions/{action['id']}/approve", headers=auth(second_admin))
    assert ok.json()["status"] == "succeeded", ok.json()
    assert ok.json()["approved_by"] == "ben"
    assert ok.json()["result"]["model_version"] == {"from": "gbm-7", "to": "gbm-6"}
    with session_scope(db) as s:
        scorer = s.scalars(select(AISystem).where(AISystem.name == "scorer")).one()
        assert (scorer.current_model_version, scorer.previous_model_version) == ("gbm-6", "gbm-7")


def test_refusals_write_nothing(app_client: TestClient, tokens: dict[str, str], db: Engine) -> None:
    apply_yaml(db, INVENTORY)
    iid = _incident(app_client, tokens["responder"], systems=["chat", "scorer"])
    url = f"/api/v1/incidents/{iid}/actions"
    h = auth(tokens["responder"])
    before = _counts(db)
    cases: list[tuple[dict[str, Any], str, int, str | None]] = [
        ({"type": "explode"}, "responder", 422, "type"),
        ({"type": "rate_limit", "system": "chat"}, "responder", 422, "params.requests_per_minute"),
        (
            {"type": "rate_limit", "system": "chat", "params": {"requests_per_minute": 0}},
            "responder",
            422,
            "params.requests_per_minute",
        ),
        ({"type": "revoke_agent", "system": "chat"}, "responder", 422, "system"),
        ({"type": "rollback_model"}, "responder", 422, "system"),  # two systems could: name one
        ({"type": "route_fallback", "system": "nope"}, "responder", 422, "system"),
        ({"type": "route_fallback", "system": "chat"}, "viewer", 403, None),
    ]
    for body, role, status, field in cases:
        r = app_client.post(url, json=body, headers=auth(tokens[role]))
        assert r.status_code == status, (body, r.text)
        if field:
            assert r.json()["field"] == field, (body, r.json())
    assert _counts(db) == before

    action = app_client.post(url, json={"type": "route_fallback", "system": "chat"}, headers=h)
    aid = action.json()["id"]
    dup = app_client.post(url, json={"type": "route_fallback", "system": "chat"}, headers=h)
    assert dup.status_code == 409 and f"action {aid}" in dup.json()["message"]
    no_reason = app_client.post(f"/api/v1/actions/{aid}/reject", json={}, headers=h)
    assert no_reason.status_code == 422 and no_reason.json()["field"] == "reason"
    by_viewer = app_client.post(
        f"/api/v1/actions/{aid}/reject", json={"reason": "x"}, headers=auth(tokens["viewer"])
    )
    assert by_viewer.status_code == 403
    rejected = app_client.post(
        f"/api/v1/actions/{aid}/reject", json={"reason": "fallback is down too"}, headers=h
    )
    assert rejected.json()["status"] == "rejected" and rejected.json()["decided_by"] == "rui"
    again = app_client.post(f"/api/v1/actions/{aid}/approve", headers=auth(tokens["admin"]))
    assert again.status_code == 409 and "rejected" in again.json()["message"]
    assert app_client.post("/api/v1/actions/9999/approve", headers=h).status_code == 404
    assert _kinds(app_client, tokens["viewer"], iid)[-1] == "action.rejected"


def test_cancel_and_list(app_client: TestClient, tokens: dict[str, str], db: Engine) -> None:
    apply_yaml(db, INVENTORY)
    iid = _incident(app_client, tokens["responder"], systems=["scorer"])
    h = auth(tokens["responder"])
    made = app_client.post(
        f"/api/v1/incidents/{iid}/actions",
        json={"type": "pause_decisions", "params": {"mode": "hold"}},
        headers=h,
    ).json()
    r = app_client.post(
        f"/api/v1/actions/{made['id']}/cancel", json={"reason": "not needed"}, headers=h
    )
    assert r.json()["status"] == "cancelled"
    listed = app_client.get(f"/api/v1/incidents/{iid}/actions", headers=auth(tokens["viewer"]))
    assert [(a["type"], a["status"]) for a in listed.json()] == [("pause_decisions", "cancelled")]
    assert _kinds(app_client, tokens["viewer"], iid)[-1] == "action.cancelled"
