"""What We Know updates: drafts per audience, the opt-in model drafter, publishing through the
notifiers, the cadence with durable reminders, and every refusal."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from quell import scheduler
from quell.communication import cadence
from quell.communication.what_we_know import FIELDS, draft_update, publish_update
from quell.config import apply_config, load_config
from quell.errors import InvalidInput
from quell.incidents.models import TimelineEvent
from quell.incidents.service import get_incident
from quell.incidents.timeline import append_event
from quell.store.db import session_scope
from quell.timeutil import parse_time, utcnow
from tests.conftest import auth
from tests.response.conftest import Receiver, make_incident, record_change, run_cli


def _published(db: Engine) -> int:
    with session_scope(db) as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(TimelineEvent)
                .where(TimelineEvent.kind == "update.published")
            )
            or 0
        )


def _chat_incident(session: Session) -> int:
    """A SEV-1 injection on the chatbot (personal data, GDPR), after a model change, with the
    kill switch run and a commander assigned."""
    incident = make_incident(
        session,
        title="Chat reveals other customers' orders",
        severity="SEV-1",
        archetype="prompt_injection",
        systems=("chat",),
        detected_ago=timedelta(minutes=20),
    )
    record_change(
        session,
        kind="model_version",
        system="chat",
        summary="new chat model",
        from_version="chat-7",
        to_version="chat-8",
        occurred_at=incident.detected_at - timedelta(hours=1),
    )
    append_event(
        session,
        incident,
        actor="rui",
        kind="action.executed",
        data={"action_id": 9, "type": "route_fallback", "system": "chat"},
    )
    from quell.incidents.service import assign_role

    assign_role(session, incident.id, "incident_commander", "Marta Quispe", actor="rui")
    return incident.id


def test_drafts_give_each_audience_its_detail(store: Session) -> None:
    iid = _chat_incident(store)
    events = store.scalar(select(func.count()).select_from(TimelineEvent))
    internal = draft_update(store, iid, "internal")
    assert internal["draft"] is True and internal["machine_draft"] is False
    assert "chat" in internal["what_happened"] and "chat-8" in internal["what_happened"]
    assert "chat-7 -> chat-8" in internal["what_we_are_testing"]
    assert "route_fallback (executed)" in internal["what_we_are_doing"]
    assert "Marta Quispe" in internal["what_we_are_doing"]
    assert "personal data" in internal["what_we_do_not_know"]

    customer = draft_update(store, iid, "customer")
    text = customer["text"]
    for internal_word in ("chat", "Marta", "model_version", "prompt_injection", "SEV-1", "rui"):
        assert internal_word not in text, internal_word
    assert "safe fallback" in customer["what_we_are_doing"]
    assert "personal data" in customer["what_we_do_not_know"]

    regulator = draft_update(store, iid, "regulator")
    assert "personal_data" in regulator["what_happened"]
    assert "gdpr_art33" in regulator["what_happened"]
    assert "detected" in regulator["what_happened"] and "UTC" in regulator["what_happened"]

    executive = draft_update(store, iid, "executive")
    assert executive["what_happened"].startswith("SEV-1 incident on chat")
    assert "High-criticality systems involved: chat" in executive["what_happened"]
    # Drafting writes nothing.
    assert store.scalar(select(func.count()).select_from(TimelineEvent)) == events


def test_customer_draft_uses_the_public_name_and_states_answered_exposure(store: Session) -> None:
    from quell.inventory.models import AISystem

    store.scalars(select(AISystem).where(AISystem.name == "chat")).one().labels = {
        "public_name": "the Help assistant"
    }
    iid = _chat_incident(store)
    append_event(
        store,
        get_incident(store, iid),
        actor="rui",
        kind="gate.answered",
        data={"key": "personal_data_exposed", "answer": True},
    )
    customer = draft_update(store, iid, "customer")
    assert "the Help assistant" in customer["what_happened"]
    assert "personal data may have been exposed" in customer["what_happened"]
    assert "personal data" not in customer["what_we_do_not_know"]


def test_publish_records_sends_and_sets_the_next_update(
    app_client: TestClient,
    tokens: dict[str, str],
    inventory: Engine,
    receiver: Receiver,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QUELL_TEST_HOOK_SECRET", "s3cret")
    path = tmp_path / "channels.yaml"
    path.write_text(
        "notifications:\n  channels:\n"
        f"    - {{name: status-hook, type: webhook, url: '{receiver.url}/hook', "
        "secret_env: QUELL_TEST_HOOK_SECRET, audiences: [internal, executive]}\n",
        encoding="utf-8",
    )
    with session_scope(inventory) as s:
        apply_config(s, *load_config(path))
        iid = _chat_incident(s)
    h = auth(tokens["responder"])
    draft = app_client.post(f"/api/v1/incidents/{iid}/updates/draft?audience=internal", headers=h)
    assert draft.status_code == 200, draft.text
    body = {name: draft.json()[name] for name in FIELDS}
    body["what_we_are_testing"] = "Whether chat-8 follows injected instructions; replaying logs."
    before = utcnow()
    r = app_client.post(
        f"/api/v1/incidents/{iid}/updates", json={"audience": "internal", **body}, headers=h
    )
    assert r.status_code == 201, r.text
    published = r.json()
    assert published["number"] == 1 and published["published_by"] == "rui"
    assert "replaying logs" in published["text"]
    # SEV-1: every 30 minutes by default.
    due = parse_time(published["next_update_at"])
    assert timedelta(minutes=29) < due - before < timedelta(minutes=31)
    assert [d["status"] for d in published["deliveries"]] == ["sent"]
    sent = orjson.loads(receiver.requests[0]["body"])
    assert "replaying logs" in json.dumps(sent)

    listing = app_client.get(
        f"/api/v1/incidents/{iid}/updates", headers=auth(tokens["viewer"])
    ).json()
    assert listing["cadence"]["state"] == "ok"
    assert listing["cadence"]["next_update_due_at"] == published["next_update_at"]
    assert [u["number"] for u in listing["updates"]] == [1]
    timeline = app_client.get(
        f"/api/v1/incidents/{iid}/timeline", headers=auth(tokens["viewer"])
    ).json()
    event = next(e for e in timeline if e["kind"] == "update.published")
    assert event["data"]["text"] == published["text"]
    assert any(e["kind"] == "notification.sent" for e in timeline)

    # A customer update goes nowhere here (no customer channel) but is still recorded.
    r = app_client.post(
        f"/api/v1/incidents/{iid}/updates", json={"audience": "customer", **body}, headers=h
    )
    assert r.status_code == 201 and r.json()["deliveries"] == []
    assert r.json()["number"] == 2 and len(receiver.requests) == 1


@pytest.mark.parametrize("field", FIELDS)
def test_an_empty_part_is_refused_and_nothing_is_written(
    app_client: TestClient, tokens: dict[str, str], inventory: Engine, field: str
) -> None:
    with session_scope(inventory) as s:
        iid = make_incident(s).id
    body = {name: "something" for name in FIELDS}
    body[field] = "   "
    r = app_client.post(
        f"/api/v1/incidents/{iid}/updates", json=body, headers=auth(tokens["responder"])
    )
    assert r.status_code == 422 and r.json()["field"] == field
    assert field in r.json()["message"]
    assert _published(inventory) == 0


def test_other_refusals(app_client: TestClient, tokens: dict[str, str], inventory: Engine) -> None:
    with session_scope(inventory) as s:
        iid = make_incident(s).id
    h = auth(tokens["responder"])
    r = app_client.post(f"/api/v1/incidents/{iid}/updates/draft?audience=press", headers=h)
    assert r.status_code == 422 and r.json()["field"] == "audience"
    body = {name: "x" for name in FIELDS}
    r = app_client.post(
        f"/api/v1/incidents/{iid}/updates", json={**body, "audience": "press"}, headers=h
    )
    assert r.status_code == 422 and r.json()["field"] == "audience"
    past = (utcnow() - timedelta(minutes=1)).isoformat()
    r = app_client.post(
        f"/api/v1/incidents/{iid}/updates", json={**body, "next_update_at": past}, headers=h
    )
    assert r.status_code == 422 and r.json()["field"] == "next_update_at"
    r = app_client.post(
        f"/api/v1/incidents/{iid}/updates", json=body, headers=auth(tokens["viewer"])
    )
    assert r.status_code == 403
    r = app_client.post(f"/api/v1/incidents/{iid}/updates/draft?backend=model", headers=h)
    assert r.status_code == 422 and "drafter" in r.json()["message"]
    assert _published(inventory) == 0


def test_cadence_is_computed_on_read(store: Session, tmp_path: Path) -> None:
    now = utcnow()
    sev2 = get_incident(store, make_incident(store, detected_ago=timedelta(minutes=5)).id)
    state = cadence.update_state(store, sev2, now=now)
    assert state["cadence_minutes"] == 60 and state["state"] == "ok"
    assert cadence.update_state(store, sev2, now=now + timedelta(minutes=56))["state"] == "due"
    assert cadence.update_state(store, sev2, now=now + timedelta(minutes=66))["state"] == "overdue"
    sev4 = make_incident(store, severity="SEV-4")
    assert cadence.update_state(store, sev4, now=now)["state"] == "none"

    path = tmp_path / "comms.yaml"
    path.write_text(
        "communication:\n  cadence_minutes: {SEV-2: 120, SEV-4: 480}\n  overdue_after_minutes: 0\n",
        encoding="utf-8",
    )
    apply_config(store, *load_config(path))
    assert cadence.update_state(store, sev2, now=now + timedelta(minutes=66))["state"] == "ok"
    assert cadence.update_state(store, sev2, now=now + timedelta(minutes=116))["state"] == "overdue"
    assert cadence.update_state(store, sev4, now=now)["cadence_minutes"] == 480


def test_bad_communication_section_is_refused(tmp_path: Path) -> None:
    from quell.config import ConfigError

    path = tmp_path / "bad.yaml"
    path.write_text("communication:\n  cadence_minutes: {SEV-9: 5}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.field == "communication.cadence_minutes"
    path.write_text("communication:\n  drafter: {url: ftp://x, model: m}\n", encoding="utf-8")
    with pytest.raises(ConfigError):
        load_config(path)


def test_reminder_when_due_and_overdue_mark_after(inventory: Engine) -> None:
    with session_scope(inventory) as s:
        incident = make_incident(s, severity="SEV-1", detected_ago=timedelta(minutes=1))
        iid = incident.id
        published = publish_update(
            s, iid, audience="internal", actor="rui", fields={name: "known" for name in FIELDS}
        )
        assert scheduler.pending(s, key=f"{cadence.REMINDER_JOB}:{iid}")
    due = parse_time(published["next_update_at"])

    def kinds() -> list[str]:
        with session_scope(inventory) as s:
            return list(
                s.scalars(
                    select(TimelineEvent.kind)
                    .where(TimelineEvent.incident_id == iid, TimelineEvent.kind.like("update.%"))
                    .order_by(TimelineEvent.seq)
                )
            )

    scheduler.run_due(inventory, now=due - timedelta(minutes=1))
    assert kinds() == ["update.published"]
    scheduler.run_due(inventory, now=due + timedelta(minutes=1))
    assert kinds() == ["update.published", "update.reminder"]
    scheduler.run_due(inventory, now=due + timedelta(minutes=11))
    assert kinds() == ["update.published", "update.reminder", "update.overdue"]


def test_a_new_update_supersedes_the_pending_reminder(inventory: Engine) -> None:
    with session_scope(inventory) as s:
        iid = make_incident(s, severity="SEV-1", detected_ago=timedelta(minutes=1)).id
        first = publish_update(
            s, iid, audience="internal", actor="rui", fields={name: "one" for name in FIELDS}
        )
        second = publish_update(
            s,
            iid,
            audience="internal",
            actor="rui",
            fields={name: "two" for name in FIELDS},
            next_update_at=utcnow() + timedelta(hours=2),
        )
    scheduler.run_due(inventory, now=parse_time(first["next_update_at"]) + timedelta(minutes=20))
    with session_scope(inventory) as s:
        reminders = s.scalar(
            select(func.count())
            .select_from(TimelineEvent)
            .where(TimelineEvent.kind.in_(("update.reminder", "update.overdue")))
        )
        assert reminders == 0
        state = cadence.update_state(s, get_incident(s, iid))
    assert state["next_update_due_at"] == second["next_update_at"]


def _drafter_yaml(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "drafter.yaml"
    path.write_text(
        f"communication:\n  drafter: {{url: '{url}/v1', model: tiny-local, "
        "api_key_env: QUELL_TEST_DRAFTER_KEY}\n",
        encoding="utf-8",
    )
    return path


def test_model_drafter_is_marked_and_falls_back(
    store: Session, receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUELL_TEST_DRAFTER_KEY", "sk-local")
    apply_config(store, *load_config(_drafter_yaml(tmp_path, receiver.url)))
    iid = _chat_incident(store)
    answer = {name: f"model wording of {name}" for name in FIELDS}
    receiver.reply = orjson.dumps(
        {
            "choices": [
                {
                    "message": {
                        "role": "assistant",
                        "content": "```json\n" + json.dumps(answer) + "\n```",
                    }
                }
            ]
        }
    )
    draft = draft_update(store, iid, "executive")
    assert draft["machine_draft"] is True and draft["drafted_by"] == "model:tiny-local"
    assert draft["draft"] is True and draft["what_happened"] == "model wording of what_happened"
    request = receiver.requests[-1]
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == "Bearer sk-local"
    sent = orjson.loads(request["body"])
    assert sent["model"] == "tiny-local"
    # The model is given the template's facts, for the audience asked.
    assert "executives" in sent["messages"][-1]["content"]
    assert "SEV-1 incident on chat" in sent["messages"][-1]["content"]

    template = draft_update(store, iid, "executive", backend="template")
    assert template["machine_draft"] is False

    receiver.status = 500
    broken = draft_update(store, iid, "executive")
    assert broken["machine_draft"] is False and "failed" in broken["warning"]
    receiver.status, receiver.reply = 200, b'{"choices": [{"message": {"content": "sorry"}}]}'
    assert draft_update(store, iid, "executive")["drafted_by"] == "template"


def test_update_cli(cli_db: Engine, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with session_scope(cli_db) as s:
        iid = _chat_incident(s)
    code, out, _ = run_cli(["update", "draft", str(iid), "--audience", "customer"], capsys)
    assert code == 0 and "DRAFT" in out and "What we do not know yet" in out
    code, out, _ = run_cli(["update", "publish", str(iid), "--from-draft", "--as", "ana"], capsys)
    assert code == 0 and "update #1" in out
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({name: "" for name in FIELDS}), encoding="utf-8")
    code, _, err = run_cli(["update", "publish", str(iid), "--file", str(empty)], capsys)
    assert code == 2 and "what_happened is empty" in err
    code, _, err = run_cli(["update", "draft", str(iid), "--audience", "press"], capsys)
    assert code == 2 and "audience" in err
    code, out, _ = run_cli(["update", "list", str(iid), "--json"], capsys)
    data = json.loads(out)
    assert [u["published_by"] for u in data["updates"]] == ["ana"]


def test_publish_refuses_without_the_service_writing(store: Session) -> None:
    iid = make_incident(store).id
    with pytest.raises(InvalidInput) as err:
        publish_update(
            store,
            iid,
            audience="internal",
            actor="rui",
            fields={"what_happened": "x", "what_we_are_testing": "y", "what_we_are_doing": "z"},
        )
    assert err.value.field == "what_we_do_not_know"
