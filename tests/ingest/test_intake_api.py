"""Intake through the API on SQLite and PostgreSQL: storage, dedup, bad input, read-back."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from quell.config import apply_config, load_config
from quell.ingest.models import Alert, ChangeEvent, Payload, SignalRow
from quell.ingest.service import changes_for
from quell.inventory.models import AISystem
from quell.store.db import session_scope
from quell.timeutil import utcnow
from tests.conftest import auth

from .test_adapters import am_alert, am_body, pd_event


@pytest.fixture()
def inventory(db: Engine, demo_yaml: Path) -> None:
    """The demo inventory, and a correlation index that forgets the previous test's store."""
    from quell.detection.pipeline import Correlator

    Correlator.forget(db)
    config, extras = load_config(demo_yaml)
    with session_scope(db) as s:
        apply_config(s, config, extras)


def counts(db: Engine) -> tuple[int, int, int]:
    with session_scope(db) as s:
        return (
            s.scalar(select(func.count()).select_from(Payload)) or 0,
            s.scalar(select(func.count()).select_from(SignalRow)) or 0,
            s.scalar(select(func.count()).select_from(Alert)) or 0,
        )


def sig(**over: object) -> dict[str, object]:
    body: dict[str, object] = {"kind": "latency", "summary": "p90 up", "system": "chat"}
    body.update(over)
    return body


def test_native_single_batch_and_list(
    app_client: TestClient, tokens: dict[str, str], inventory: None, db: Engine
) -> None:
    h = auth(tokens["responder"])
    one = app_client.post("/api/v1/signals", json=sig(), headers=h)
    assert one.status_code == 202, one.text
    assert one.json()["accepted"] == 1 and one.json()["alerts"]["new"] == 1
    batch = app_client.post(
        "/api/v1/signals", json={"signals": [sig(), sig(kind="pii")]}, headers=h
    )
    assert batch.json()["alerts"] == {"new": 1, "deduplicated": 1, "resolved": 0, "unmatched": 0}
    listed = app_client.post("/api/v1/signals", json=[sig(system="ghost")], headers=h)
    assert listed.json()["unmapped"] == 1
    assert counts(db) == (3, 4, 3)
    unmapped = app_client.get("/api/v1/signals?unmapped=true", headers=auth(tokens["viewer"]))
    assert [s["labels"]["system"] for s in unmapped.json()] == ["ghost"]


def test_duplicates_count_on_the_open_alert_and_resolve_closes_it(
    app_client: TestClient, tokens: dict[str, str], inventory: None, db: Engine
) -> None:
    h = auth(tokens["responder"])
    for _ in range(3):
        app_client.post("/api/v1/signals", json=sig(fingerprint="fp-1"), headers=h)
    alerts = app_client.get("/api/v1/alerts", headers=h).json()
    assert len(alerts) == 1 and alerts[0]["count"] == 3 and alerts[0]["status"] == "firing"
    r = app_client.post(
        "/api/v1/signals", json=sig(fingerprint="fp-1", status="resolved"), headers=h
    )
    assert r.json()["alerts"]["resolved"] == 1
    closed = app_client.get("/api/v1/alerts", headers=h).json()[0]
    assert closed["status"] == "resolved" and closed["resolved_at"]
    # A resolve with nothing open is stored but matches no alert.
    again = app_client.post(
        "/api/v1/signals", json=sig(fingerprint="fp-1", status="resolved"), headers=h
    )
    assert again.json()["alerts"]["unmatched"] == 1
    # Firing again after the resolve is a new alert, not the old one reopened.
    new = app_client.post("/api/v1/signals", json=sig(fingerprint="fp-1"), headers=h)
    assert new.json()["alerts"]["new"] == 1
    assert [a["status"] for a in app_client.get("/api/v1/alerts", headers=h).json()] == [
        "firing",
        "resolved",
    ]


def test_resolve_then_fire_in_one_batch(
    app_client: TestClient, tokens: dict[str, str], inventory: None
) -> None:
    h = auth(tokens["responder"])
    app_client.post("/api/v1/signals", json=sig(fingerprint="f"), headers=h)
    body = [sig(fingerprint="f", status="resolved"), sig(fingerprint="f"), sig(fingerprint="f")]
    r = app_client.post("/api/v1/signals", json=body, headers=h)
    assert r.status_code == 202, r.text
    assert r.json()["alerts"] == {"new": 1, "deduplicated": 1, "resolved": 1, "unmatched": 0}
    alerts = app_client.get("/api/v1/alerts", headers=h).json()
    assert [(a["status"], a["count"]) for a in alerts] == [("firing", 2), ("resolved", 1)]


def test_signal_read_back_with_raw_and_verbatim_payload(
    app_client: TestClient, tokens: dict[str, str], inventory: None
) -> None:
    h = auth(tokens["responder"])
    raw = (
        b'{"signals": [ {"kind":"pii","summary":"a","system":"chat"},\n'
        b' {"kind":"pii", "summary":"b", "extra_spacing" :null}]}'
    )
    bad = app_client.post("/api/v1/signals", content=raw, headers=h)
    assert bad.status_code == 422 and bad.json()["field"] == "signals[1].extra_spacing"
    raw = raw.replace(b', "extra_spacing" :null', b"")
    ids = app_client.post("/api/v1/signals", content=raw, headers=h).json()["signals"]
    one = app_client.get(f"/api/v1/signals/{ids[1]}", headers=h).json()
    assert one["raw"] == {"kind": "pii", "summary": "b"}
    assert one["item_path"] == "/signals/1" and one["payload"]["received_by"] == "rui"
    verbatim = app_client.get(f"/api/v1/signals/{ids[1]}/payload", headers=h)
    assert verbatim.content == raw
    assert app_client.get("/api/v1/signals/999999", headers=h).status_code == 404


def test_bad_input_writes_nothing(
    app_client: TestClient, tokens: dict[str, str], inventory: None, db: Engine
) -> None:
    h = auth(tokens["responder"])
    cases = [
        (b"{not json", 400, None),
        (orjson.dumps({"signals": [sig()] * 1001}), 413, "signals"),
        (orjson.dumps({"signals": [sig(), sig(kind=None)]}), 422, "signals[1].kind"),
        (orjson.dumps({"signals": [sig(), sig(status="open")]}), 422, "signals[1].status"),
        (orjson.dumps({"signals": []}), 422, "signals"),
        (orjson.dumps("text"), 422, None),
    ]
    for body, status, field in cases:
        r = app_client.post("/api/v1/signals", content=body, headers=h)
        assert r.status_code == status, (body[:40], r.text)
        assert r.json().get("field") == field
    assert counts(db) == (0, 0, 0)


def test_intake_needs_a_responder_token(
    app_client: TestClient, tokens: dict[str, str], inventory: None, db: Engine
) -> None:
    assert app_client.post("/api/v1/signals", json=sig()).status_code == 401
    bad = app_client.post("/api/v1/signals", json=sig(), headers=auth("qk_wrong"))
    assert bad.status_code == 401
    viewer = app_client.post("/api/v1/signals", json=sig(), headers=auth(tokens["viewer"]))
    assert viewer.status_code == 403
    r = app_client.post("/api/v1/integrations/alertmanager", json=am_body(am_alert()))
    assert r.status_code == 401
    assert counts(db) == (0, 0, 0)


def test_alertmanager_webhook(
    app_client: TestClient, tokens: dict[str, str], inventory: None, db: Engine
) -> None:
    h = auth(tokens["responder"])
    firing = am_body(
        am_alert(labels={"alertname": "ChatLatency", "ai_system": "chat", "severity": "warning"}),
        am_alert(fingerprint="0000000000000002", labels={"alertname": "Other", "job": "node"}),
    )
    r = app_client.post("/api/v1/integrations/alertmanager", json=firing, headers=h)
    assert r.status_code == 202, r.text
    assert r.json()["accepted"] == 2 and r.json()["unmapped"] == 1
    # Alertmanager re-sends the group on every group_interval: a repeat, not a new alert.
    r = app_client.post("/api/v1/integrations/alertmanager", json=firing, headers=h)
    assert r.json()["alerts"]["deduplicated"] == 2
    resolved = am_body(am_alert(status="resolved", endsAt=utcnow().isoformat()))
    r = app_client.post("/api/v1/integrations/alertmanager", json=resolved, headers=h)
    assert r.json()["alerts"]["resolved"] == 1
    with session_scope(db) as s:
        rows = {a.fingerprint: (a.status, a.count) for a in s.scalars(select(Alert))}
    assert rows == {"am:a1b2c3d4e5f60718": ("resolved", 2), "am:0000000000000002": ("firing", 2)}


def test_pagerduty_events(
    app_client: TestClient, tokens: dict[str, str], inventory: None, db: Engine
) -> None:
    created = app_client.post(
        "/api/v1/integrations",
        json={"name": "scorer-pd", "system": "scorer"},
        headers=auth(tokens["admin"]),
    )
    assert created.status_code == 201, created.text
    key = created.json()["routing_key"]
    r = app_client.post("/api/v1/integrations/pagerduty", json=pd_event(routing_key=key))
    assert r.status_code == 202
    assert r.json() == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": "voice-latency",
    }
    ack = pd_event(routing_key=key, event_action="acknowledge", payload=None)
    assert app_client.post("/api/v1/integrations/pagerduty", json=ack).status_code == 202
    res = pd_event(routing_key=key, event_action="resolve", payload=None)
    assert app_client.post("/api/v1/integrations/pagerduty", json=res).status_code == 202
    with session_scope(db) as s:
        alert = s.scalars(select(Alert)).one()
        assert (alert.system, alert.status, alert.count) == ("scorer", "resolved", 1)
        assert alert.acknowledged_at is not None
        assert s.scalar(select(func.count()).select_from(SignalRow)) == 3
    unknown = app_client.post("/api/v1/integrations/pagerduty", json=pd_event(routing_key="x" * 32))
    assert unknown.status_code == 400
    assert unknown.json()["status"] == "invalid event" and unknown.json()["field"] == "routing_key"
    bad = app_client.post(
        "/api/v1/integrations/pagerduty", json=pd_event(routing_key=key, event_action="fire")
    )
    assert bad.status_code == 400 and bad.json()["errors"][0].startswith("'event_action'")
    broken = app_client.post("/api/v1/integrations/pagerduty", content=b"{")
    assert broken.status_code == 400 and broken.json()["status"] == "invalid event"
    assert counts(db)[1] == 3


def test_integrations_section_in_quell_yaml(tmp_path: Path, db: Engine, demo_yaml: Path) -> None:
    text = demo_yaml.read_text() + (
        "integrations:\n  - {name: chat-pd, routing_key: abcdef0123456789, system: chat}\n"
    )
    path = tmp_path / "q.yaml"
    path.write_text(text)
    config, extras = load_config(path)
    with session_scope(db) as s:
        report = apply_config(s, config, extras)
    assert report["integrations"] == {"chat-pd": "created"}
    with session_scope(db) as s:
        assert apply_config(s, config, extras)["integrations"] == {"chat-pd": "unchanged"}
    path.write_text(text.replace("system: chat}", "system: nowhere}"))
    config, extras = load_config(path)
    with pytest.raises(Exception, match=r"integrations\[0\]\.system"), session_scope(db) as s:
        apply_config(s, config, extras)


def test_change_events_and_model_version(
    app_client: TestClient, tokens: dict[str, str], inventory: None, db: Engine
) -> None:
    h = auth(tokens["responder"])
    before = utcnow() - timedelta(minutes=1)
    r = app_client.post(
        "/api/v1/changes",
        json={
            "kind": "model_version",
            "system": "scorer",
            "summary": "v3 rollout",
            "to_version": "v3",
        },
        headers=h,
    )
    assert r.status_code == 201, r.text
    inv = r.json()["changes"][0]["inventory"]
    assert inv == {"updated": True, "current_model_version": "v3", "previous_model_version": "v2"}
    r = app_client.post(
        "/api/v1/changes",
        json={
            "changes": [
                {"kind": "deploy", "system": "chat", "summary": "release 42", "actor": "ci"},
                {"kind": "flag", "system": "chat", "summary": "x"},
            ]
        },
        headers=h,
    )
    assert r.status_code == 422 and r.json()["field"] == "changes[1].kind"
    r = app_client.post(
        "/api/v1/changes",
        json=[{"kind": "prompt", "system": "chat", "summary": "new template"}],
        headers=h,
    )
    assert r.status_code == 201
    with session_scope(db) as s:
        assert (
            s.scalars(select(AISystem).where(AISystem.name == "scorer")).one().current_model_version
            == "v3"
        )
        found = changes_for(s, ["chat", "scorer"], before, utcnow())
        assert [c.kind for c in found] == ["model_version", "prompt"]
        assert changes_for(s, ["agent"], before, utcnow()) == []
        assert s.scalar(select(func.count()).select_from(ChangeEvent)) == 2
    listed = app_client.get(
        "/api/v1/changes", params={"system": "chat", "since": before.isoformat()}, headers=h
    )
    assert [c["summary"] for c in listed.json()] == ["new template"]


def test_critical_signal_opens_an_incident_and_duplicates_collapse(
    app_client: TestClient, tokens: dict[str, str], inventory: None, db: Engine
) -> None:
    h = auth(tokens["responder"])
    body = [sig(fingerprint="lat", severity="critical", metrics={"p90_latency_s": 16.0})] * 4
    r = app_client.post("/api/v1/signals", json=body, headers=h)
    assert r.status_code == 202, r.text
    (incident_id,) = r.json()["incidents"]
    alerts = app_client.get(f"/api/v1/alerts?incident={incident_id}", headers=h).json()
    assert [(a["count"], a["incident_id"]) for a in alerts] == [(4, incident_id)]
    collapsed = app_client.get(f"/api/v1/incidents/{incident_id}/signals", headers=h).json()
    assert len(collapsed) == 1 and collapsed[0]["count"] == 4
    assert collapsed[0]["latest_signal"]["id"] == r.json()["signals"][-1]
    incident = app_client.get(f"/api/v1/incidents/{incident_id}", headers=h).json()
    assert incident["systems"] == ["chat"]
    # Resolving the alert closes the alert, not the incident.
    app_client.post("/api/v1/signals", json=sig(fingerprint="lat", status="resolved"), headers=h)
    assert (
        app_client.get(f"/api/v1/incidents/{incident_id}", headers=h).json()["status"]
        == "triggered"
    )
    assert (
        app_client.get(f"/api/v1/incidents/{incident_id}/signals", headers=h).json()[0]["status"]
        == "resolved"
    )
    assert app_client.get("/api/v1/incidents/9999/signals", headers=h).status_code == 404
