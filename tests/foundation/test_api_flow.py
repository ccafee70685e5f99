"""The foundation flow through the API: system -> incident -> ack -> commander -> resolve."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from quell.incidents.models import Incident, TimelineEvent
from quell.store.db import session_scope
from tests.conftest import auth

SYSTEM = {"name": "support-bot", "kind": "generative", "criticality": "high"}


def _count(db: Engine, model: type) -> int:
    with session_scope(db) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_whole_flow_with_a_token(app_client: TestClient, tokens: dict[str, str]) -> None:
    r = app_client.post("/api/v1/systems", json=SYSTEM, headers=auth(tokens["admin"]))
    assert r.status_code == 201, r.text
    r = app_client.post(
        "/api/v1/incidents",
        json={
            "title": "Bot leaks emails",
            "severity": "SEV-2",
            "systems": ["support-bot"],
            "archetype": "data_exfiltration",
            "source": "user_report",
        },
        headers=auth(tokens["responder"]),
    )
    assert r.status_code == 201, r.text
    incident = r.json()
    assert incident["status"] == "triggered" and incident["systems"] == ["support-bot"]
    iid = incident["id"]

    r = app_client.post(
        f"/api/v1/incidents/{iid}/transition",
        json={"to": "acknowledged"},
        headers=auth(tokens["responder"]),
    )
    assert r.status_code == 200 and r.json()["acknowledged_at"] is not None
    assert r.json()["time_to_acknowledge_s"] >= 0

    r = app_client.post(
        f"/api/v1/incidents/{iid}/roles",
        json={"role": "incident_commander", "person": "Ana"},
        headers=auth(tokens["responder"]),
    )
    assert r.status_code == 200 and r.json()["roles"] == {"incident_commander": "Ana"}
    r = app_client.post(
        f"/api/v1/incidents/{iid}/roles",
        json={"role": "incident_commander", "person": "Ben"},
        headers=auth(tokens["responder"]),
    )
    history = r.json()["role_history"]
    assert [h["person"] for h in history] == ["Ana", "Ben"]
    assert history[0]["ended_at"] is not None and history[1]["ended_at"] is None

    r = app_client.post(
        f"/api/v1/incidents/{iid}/transition",
        json={"to": "resolved"},
        headers=auth(tokens["responder"]),
    )
    assert r.json()["status"] == "resolved"

    timeline = app_client.get(
        f"/api/v1/incidents/{iid}/timeline", headers=auth(tokens["viewer"])
    ).json()
    kinds = [e["kind"] for e in timeline]
    assert kinds == [
        "incident.created",
        "incident.acknowledged",
        "role.assigned",
        "role.assigned",
        "incident.resolved",
    ]
    # The actor is the token's owner, not something the client claims.
    assert {e["actor"] for e in timeline} == {"rui"}
    assert timeline[1]["prev_hash"] == timeline[0]["hash"]

    check = app_client.get("/api/v1/timeline/verify", headers=auth(tokens["viewer"])).json()
    assert check["ok"] is True and check["events"] == 5


def test_requests_without_a_token_are_refused(app_client: TestClient, db: Engine) -> None:
    r = app_client.post("/api/v1/incidents", json={"title": "x", "severity": "SEV-3"})
    assert r.status_code == 401
    assert "token" in r.json()["message"]
    assert app_client.get("/api/v1/incidents").status_code == 401
    bad = app_client.get("/api/v1/incidents", headers=auth("qk_not-a-real-token"))
    assert bad.status_code == 401
    assert (
        app_client.get("/api/v1/incidents", headers={"Authorization": "Basic abc"}).status_code
        == 401
    )
    assert _count(db, Incident) == 0


def test_roles_are_enforced(app_client: TestClient, tokens: dict[str, str], db: Engine) -> None:
    r = app_client.post(
        "/api/v1/incidents",
        json={"title": "x", "severity": "SEV-3"},
        headers=auth(tokens["viewer"]),
    )
    assert r.status_code == 403 and "responder" in r.json()["message"]
    r = app_client.post("/api/v1/systems", json=SYSTEM, headers=auth(tokens["responder"]))
    assert r.status_code == 403 and "admin" in r.json()["message"]
    assert app_client.get("/api/v1/systems", headers=auth(tokens["viewer"])).status_code == 200
    assert _count(db, Incident) == 0


def test_bad_input_names_the_field_and_writes_nothing(
    app_client: TestClient, tokens: dict[str, str], db: Engine
) -> None:
    h = {**auth(tokens["responder"]), "Content-Type": "application/json"}
    r = app_client.post("/api/v1/incidents", content=b'{"title": "x", ', headers=h)
    assert r.status_code == 400 and r.json()["error"] == "malformed_json"

    r = app_client.post("/api/v1/incidents", json={"title": "x", "severity": "SEV-9"}, headers=h)
    assert r.status_code == 422 and r.json()["field"] == "severity"
    assert "SEV-1" in r.json()["message"]

    r = app_client.post("/api/v1/incidents", json={"title": 5, "severity": "SEV-3"}, headers=h)
    assert r.status_code == 422 and r.json()["field"] == "title"

    r = app_client.post(
        "/api/v1/incidents",
        json={"title": "x", "severity": "SEV-3", "systems": ["nope"]},
        headers=h,
    )
    assert r.status_code == 422 and "nope" in r.json()["message"]
    assert r.json()["field"] == "systems"

    r = app_client.post("/api/v1/incidents", json={"title": "x", "sevrity": "SEV-3"}, headers=h)
    assert r.status_code == 422 and r.json()["field"] == "sevrity"

    assert _count(db, Incident) == 0
    assert _count(db, TimelineEvent) == 0


def test_illegal_transition_is_a_409_and_changes_nothing(
    app_client: TestClient, tokens: dict[str, str], db: Engine
) -> None:
    h = auth(tokens["responder"])
    iid = app_client.post(
        "/api/v1/incidents", json={"title": "x", "severity": "SEV-3"}, headers=h
    ).json()["id"]
    r = app_client.post(f"/api/v1/incidents/{iid}/transition", json={"to": "closed"}, headers=h)
    assert r.status_code == 409
    assert "triggered to closed" in r.json()["message"]
    r = app_client.post(f"/api/v1/incidents/{iid}/transition", json={"to": "sleeping"}, headers=h)
    assert r.status_code == 422 and r.json()["field"] == "to"
    assert app_client.get(f"/api/v1/incidents/{iid}", headers=h).json()["status"] == "triggered"
    assert _count(db, TimelineEvent) == 1
    assert (
        app_client.post(
            "/api/v1/incidents/999/transition", json={"to": "acknowledged"}, headers=h
        ).status_code
        == 404
    )


def test_list_filters(app_client: TestClient, tokens: dict[str, str]) -> None:
    a = auth(tokens["admin"])
    for name, kind in (("a", "agent"), ("b", "predictive")):
        app_client.post("/api/v1/systems", json={"name": name, "kind": kind}, headers=a)
    made = [
        {
            "title": "one",
            "severity": "SEV-1",
            "systems": ["a"],
            "archetype": "agentic_misalignment",
        },
        {"title": "two", "severity": "SEV-3", "systems": ["b"]},
        {"title": "three", "severity": "SEV-3", "systems": ["a", "b"]},
    ]
    ids = [app_client.post("/api/v1/incidents", json=m, headers=a).json()["id"] for m in made]
    app_client.post(f"/api/v1/incidents/{ids[1]}/transition", json={"to": "resolved"}, headers=a)

    def titles(query: str) -> set[str]:
        return {i["title"] for i in app_client.get(f"/api/v1/incidents?{query}", headers=a).json()}

    assert titles("severity=SEV-3") == {"two", "three"}
    assert titles("system=a") == {"one", "three"}
    assert titles("status=resolved") == {"two"}
    assert titles("open=true") == {"one", "three"}
    assert titles("archetype=agentic_misalignment") == {"one"}
    assert titles("severity=SEV-3&system=b&status=triggered") == {"three"}
    r = app_client.get("/api/v1/incidents?severity=SEV-7", headers=a)
    assert r.status_code == 422 and r.json()["field"] == "severity"


def test_tokens_created_through_the_api_work(
    app_client: TestClient, tokens: dict[str, str]
) -> None:
    r = app_client.post(
        "/api/v1/tokens", json={"name": "ci-bot", "role": "viewer"}, headers=auth(tokens["admin"])
    )
    assert r.status_code == 201
    new = r.json()["token"]
    assert app_client.get("/api/v1/whoami", headers=auth(new)).json() == {
        "name": "ci-bot",
        "role": "viewer",
    }
    r = app_client.post(
        "/api/v1/tokens", json={"name": "x", "role": "root"}, headers=auth(tokens["admin"])
    )
    assert r.status_code == 422 and r.json()["field"] == "role"
    assert (
        app_client.post(
            "/api/v1/tokens", json={"name": "x", "role": "admin"}, headers=auth(tokens["responder"])
        ).status_code
        == 403
    )


def test_openapi_docs_are_served_without_a_cdn(app_client: TestClient) -> None:
    page = app_client.get("/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower() and "/docs-assets/swagger-ui-bundle.js" in page.text
    assert app_client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
    schema = app_client.get("/openapi.json").json()
    assert "/api/v1/incidents/{incident_id}/transition" in schema["paths"]


def test_reporter_tokens_send_signals_but_read_nothing(
    app_client: TestClient, tokens: dict[str, str]
) -> None:
    """The machine identity of a monitored app: it reports, it does not read or act."""
    reporter = auth(tokens["reporter"])
    assert app_client.get("/api/v1/incidents", headers=reporter).status_code == 403
    assert app_client.get("/api/v1/systems", headers=reporter).status_code == 403
    r = app_client.post("/api/v1/incidents", json={"title": "x"}, headers=reporter)
    assert r.status_code == 403
    sent = app_client.post(
        "/api/v1/signals", json={"kind": "latency", "summary": "slow"}, headers=reporter
    )
    assert sent.status_code == 202, sent.text
    # A viewer reads but cannot send.
    refused = app_client.post(
        "/api/v1/signals",
        json={"kind": "latency", "summary": "slow"},
        headers=auth(tokens["viewer"]),
    )
    assert refused.status_code == 403
