"""Postmortems: pre-filled from the record, edited and stored, risks created and linked,
exported as Markdown and HTML, and required before a SEV-1/SEV-2 incident closes."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from quell.config import apply_config, load_config
from quell.errors import Conflict
from quell.incidents import service as incidents
from quell.incidents.timeline import append_event
from quell.inventory.models import Risk
from quell.inventory.service import get_risk, risk_incident_ids
from quell.postmortem.models import Postmortem
from quell.postmortem.service import get_postmortem
from quell.store.db import session_scope
from tests.conftest import auth
from tests.response.conftest import add_alert, make_incident, record_change, run_cli


def _resolved_incident(session: Session, severity: str = "SEV-1") -> int:
    incident = make_incident(
        session,
        title="Chat leaked order history",
        severity=severity,
        archetype="prompt_injection",
        systems=("chat",),
        detected_ago=timedelta(hours=3),
        facts={"personal_data_exposed": True, "users_affected": 12},
    )
    record_change(
        session,
        kind="model_version",
        system="chat",
        summary="chat model upgrade",
        from_version="c-1",
        to_version="c-2",
        occurred_at=incident.detected_at - timedelta(hours=2),
    )
    record_change(
        session,
        kind="guardrail",
        system="chat",
        summary="output filter relaxed",
        occurred_at=incident.detected_at - timedelta(hours=5),
    )
    add_alert(
        session,
        incident,
        system="chat",
        kind="pii",
        severity_hint="high",
        first_seen=incident.detected_at - timedelta(minutes=12),
    )
    append_event(
        session,
        incident,
        actor="rui",
        kind="action.executed",
        data={"action_id": 3, "type": "route_fallback", "system": "chat"},
    )
    incidents.transition(session, incident.id, "acknowledged", actor="rui")
    incidents.transition(session, incident.id, "mitigated", actor="rui", reason="FAQ fallback")
    incidents.transition(session, incident.id, "resolved", actor="rui")
    return incident.id


def _body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "summary": "An injected instruction made the chatbot list another customer's orders.",
        "root_cause": {"summary": "chat model c-2 follows instructions in pasted text"},
        "action_items": [
            {"title": "Add injection regression tests", "owner": "Ana", "due_date": "2026-12-15"},
        ],
        "risks": [
            {"key": "R1", "likelihood": 5},
            {
                "key": "RISK-NEW",
                "title": "Model upgrades skip injection tests",
                "system": "chat",
                "impact": 4,
                "owner": "Ana",
            },
        ],
    }
    body.update(changes)
    return body


def test_prefill_reads_the_record(store: Session) -> None:
    iid = _resolved_incident(store)
    pm = get_postmortem(store, iid)
    assert pm["stored"] is False and pm["version"] == 0
    factors = pm["root_cause"]["factors"]
    assert factors["model_version"]["suspected"] is True
    assert factors["model_version"]["changes"][0]["to_version"] == "c-2"
    assert factors["model_version"]["versions"]["chat"]["current"] == "c-2"
    assert factors["guardrail"]["suspected"] is True
    assert factors["prompt_or_template"]["suspected"] is False
    impact = pm["impact"]
    assert impact["users_affected"] == 12 and impact["systems"] == ["chat"]
    assert impact["personal_data_exposed"] is True
    assert impact["duration_s"] == pytest.approx(3 * 3600 + 12 * 60, abs=120)
    detection = pm["detection_review"]
    assert detection["time_to_detect_s"] == pytest.approx(12 * 60, abs=1)
    assert detection["how_detected"] == "manual (pii)"
    assert detection["observations"] == [
        "the first signal came 12 min before the incident was opened"
    ]
    assert pm["response_review"]["observations"] == []
    response = pm["response_review"]
    assert response["time_to_resolve_s"] is not None
    assert "route_fallback executed" in response["actions"]
    assert pm["risks"] == [{"key": "R1", "title": "Injection leaks data"}]


def test_save_links_risks_and_versions(
    app_client: TestClient, tokens: dict[str, str], inventory: Engine
) -> None:
    with session_scope(inventory) as s:
        iid = _resolved_incident(s)
    url = f"/api/v1/incidents/{iid}/postmortem"
    r = app_client.put(url, json=_body(), headers=auth(tokens["responder"]))
    assert r.status_code == 200, r.text
    pm = r.json()
    assert pm["stored"] is True and pm["version"] == 1 and pm["updated_by"] == "rui"
    assert pm["action_items"][0] == {
        "title": "Add injection regression tests",
        "owner": "Ana",
        "due_date": "2026-12-15",
        "status": "open",
    }
    with session_scope(inventory) as s:
        r1 = get_risk(s, "R1")
        assert r1.likelihood == 5 and r1.impact == 5 and r1.title == "Injection leaks data"
        assert risk_incident_ids(s, r1) == [iid]
        new = get_risk(s, "RISK-NEW")
        assert new.system is not None and new.system.name == "chat" and new.impact == 4
        assert risk_incident_ids(s, new) == [iid]

    r = app_client.put(
        url, json=_body(status="final", version=1), headers=auth(tokens["responder"])
    )
    assert r.json()["version"] == 2 and r.json()["status"] == "final"
    stale = app_client.put(url, json=_body(version=1), headers=auth(tokens["responder"]))
    assert stale.status_code == 409 and "version" in stale.json()["message"]
    kinds = [
        e["kind"]
        for e in app_client.get(
            f"/api/v1/incidents/{iid}/timeline", headers=auth(tokens["viewer"])
        ).json()
    ]
    assert kinds.count("postmortem.created") == 1 and kinds.count("postmortem.updated") == 1
    assert app_client.get(url, headers=auth(tokens["viewer"])).json()["version"] == 2


@pytest.mark.parametrize(
    "change, field",
    [
        ({"action_items": [{"title": "Fix it", "owner": "  "}]}, "action_items[0].owner"),
        ({"action_items": [{"title": "Fix it"}]}, "action_items[0].owner"),
        (
            {"action_items": [{"title": "Fix", "owner": "A", "due_date": "soon"}]},
            "action_items[0].due_date",
        ),
        ({"risks": [{"key": "R-NOPE"}]}, "risks[0].title"),
        ({"risks": [{"key": "R1", "likelihood": 9}]}, "risks[0].likelihood"),
        ({"risks": [{"key": "R9", "title": "x", "system": "ghost"}]}, "risks[0].system"),
        ({"status": "published"}, "status"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_postmortems_are_refused_and_nothing_changes(
    app_client: TestClient,
    tokens: dict[str, str],
    inventory: Engine,
    change: dict[str, Any],
    field: str,
) -> None:
    with session_scope(inventory) as s:
        iid = _resolved_incident(s)
    r = app_client.put(
        f"/api/v1/incidents/{iid}/postmortem",
        json=_body(**change),
        headers=auth(tokens["responder"]),
    )
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field
    with session_scope(inventory) as s:
        assert s.scalar(select(func.count()).select_from(Postmortem)) == 0
        assert s.scalars(select(Risk.key)).all() == ["R1"]
        assert get_risk(s, "R1").likelihood == 4
        assert risk_incident_ids(s, get_risk(s, "R1")) == []


def test_roles_and_unknown_incident(
    app_client: TestClient, tokens: dict[str, str], inventory: Engine
) -> None:
    with session_scope(inventory) as s:
        iid = _resolved_incident(s)
    assert (
        app_client.put(
            f"/api/v1/incidents/{iid}/postmortem", json=_body(), headers=auth(tokens["viewer"])
        ).status_code
        == 403
    )
    assert (
        app_client.get(
            "/api/v1/incidents/77/postmortem", headers=auth(tokens["viewer"])
        ).status_code
        == 404
    )
    assert (
        app_client.get(
            "/api/v1/incidents/77/postmortem.md", headers=auth(tokens["viewer"])
        ).status_code
        == 404
    )


def test_sev1_cannot_close_without_a_postmortem(
    app_client: TestClient, tokens: dict[str, str], inventory: Engine
) -> None:
    with session_scope(inventory) as s:
        iid = _resolved_incident(s, "SEV-1")
        minor = _resolved_incident(s, "SEV-3")
    h = auth(tokens["responder"])
    r = app_client.post(f"/api/v1/incidents/{iid}/transition", json={"to": "closed"}, headers=h)
    assert r.status_code == 409
    assert (
        "postmortem" in r.json()["message"]
        and f"/incidents/{iid}/postmortem" in r.json()["message"]
    )
    assert app_client.get(f"/api/v1/incidents/{iid}", headers=h).json()["status"] == "resolved"
    r = app_client.post(f"/api/v1/incidents/{minor}/transition", json={"to": "closed"}, headers=h)
    assert r.status_code == 200
    app_client.put(f"/api/v1/incidents/{iid}/postmortem", json=_body(), headers=h)
    r = app_client.post(f"/api/v1/incidents/{iid}/transition", json={"to": "closed"}, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "closed"


def test_close_policy_is_configurable(store: Session, tmp_path: Path) -> None:
    path = tmp_path / "pm.yaml"
    path.write_text(
        "postmortem:\n  required_for: [SEV-3]\n  require_final: true\n", encoding="utf-8"
    )
    apply_config(store, *load_config(path))
    sev1 = _resolved_incident(store, "SEV-1")
    incidents.transition(store, sev1, "closed", actor="rui")
    sev3 = _resolved_incident(store, "SEV-3")
    from quell.postmortem.service import parse_postmortem, save_postmortem

    save_postmortem(store, sev3, parse_postmortem(_body()), actor="rui")
    with pytest.raises(Conflict) as err:
        incidents.transition(store, sev3, "closed", actor="rui")
    assert "final" in err.value.message
    save_postmortem(store, sev3, parse_postmortem(_body(status="final")), actor="rui")
    assert incidents.transition(store, sev3, "closed", actor="rui").status == "closed"


def test_exports(app_client: TestClient, tokens: dict[str, str], inventory: Engine) -> None:
    with session_scope(inventory) as s:
        iid = _resolved_incident(s)
    h = auth(tokens["responder"])
    body = _body(summary="Bot printed <script>alert(1)</script> & more")
    app_client.put(f"/api/v1/incidents/{iid}/postmortem", json=body, headers=h)
    md = app_client.get(f"/api/v1/incidents/{iid}/postmortem.md", headers=h)
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
    text = md.text
    assert text.startswith(f"# Postmortem: #{iid} Chat leaked order history")
    for section in (
        "## Timeline",
        "## Root cause",
        "## Impact",
        "## Detection review",
        "## Response review",
        "## Prevention plan",
        "## Risk register",
    ):
        assert section in text
    assert "incident.resolved" in text and "route_fallback executed" in text
    assert "| Add injection regression tests | Ana | 2026-12-15 | open |" in text
    assert "RISK-NEW: Model upgrades skip injection tests" in text and "linked" in text
    assert "c-1 -> c-2" in text
    html = app_client.get(f"/api/v1/incidents/{iid}/postmortem.html", headers=h)
    assert html.headers["content-type"].startswith("text/html")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in html.text
    assert "<script>" not in html.text
    assert "<td>Ana</td>" in html.text


def test_postmortem_cli(cli_db: Engine, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with session_scope(cli_db) as s:
        iid = _resolved_incident(s)
    good = tmp_path / "pm.json"
    good.write_text(json.dumps(_body()), encoding="utf-8")
    code, out, _ = run_cli(["postmortem", str(iid), "--edit", str(good), "--as", "ana"], capsys)
    assert code == 0 and "## Prevention plan" in out and "Ana" in out
    code, out, _ = run_cli(["postmortem", str(iid), "--format", "html"], capsys)
    assert code == 0 and out.lstrip().startswith("<!doctype html>")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(_body(action_items=[{"title": "x"}])), encoding="utf-8")
    code, _, err = run_cli(["postmortem", str(iid), "--edit", str(bad)], capsys)
    assert code == 2 and "owner" in err
    code, out, _ = run_cli(["postmortem", str(iid), "--format", "json"], capsys)
    assert json.loads(out)["version"] == 1


def test_response_review_notes_what_went_wrong(store: Session) -> None:
    incident = make_incident(store, facts={"unauthorized_action_taken": True})
    incidents.transition(store, incident.id, "mitigated", actor="rui")
    incidents.transition(store, incident.id, "acknowledged", actor="rui", reason="came back")
    append_event(store, incident, actor="quell", kind="update.overdue", data={})
    append_event(
        store, incident, actor="quell", kind="action.failed", data={"type": "revoke_agent"}
    )
    observations = get_postmortem(store, incident.id)["response_review"]["observations"]
    assert observations == [
        "1 What We Know update(s) went out late",
        "1 containment action(s) failed",
        "1 mitigation(s) did not hold",
    ]
    detection = get_postmortem(store, incident.id)["detection_review"]
    assert detection["observations"] == ["no signal is attached: nothing in monitoring saw it"]
