"""Playbooks as data: steps per system kind, archetype and symptom; quell.yaml extensions;
the incident checklist with its done/undone state on the timeline."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from quell.config import ConfigError, apply_config, load_config
from quell.incidents.lifecycle import ARCHETYPES
from quell.incidents.models import TimelineEvent
from quell.incidents.timeline import append_event
from quell.remediation.action_models import ContainmentType
from quell.remediation.playbooks import builtin_catalogue, steps_for
from quell.store.db import session_scope
from tests.conftest import auth
from tests.response.conftest import make_incident


def test_builtin_playbooks_cover_every_kind_and_archetype() -> None:
    catalogue = builtin_catalogue()
    for kind in ("generative", "agent", "predictive"):
        assert catalogue[f"system:{kind}"], kind
    for archetype in ARCHETYPES:
        if archetype != "unclassified":
            assert catalogue[f"archetype:{archetype}"], archetype
    ids = [s.id for steps in catalogue.values() for s in steps]
    assert len(ids) == len(set(ids))
    used = {s.action for steps in catalogue.values() for s in steps} - {None}
    assert used == set(get_args(ContainmentType))


def test_system_priorities_come_first_in_the_playbook_order() -> None:
    generative = steps_for("prompt_injection", "generative")
    assert [s.id for s in generative[:4]] == [
        "gen-isolate",
        "gen-review-exposure",
        "gen-update-filters",
        "gen-notify-users",
    ]
    assert generative[0].action == "route_fallback"
    assert generative[3].gate == "personal_data_exposed" and generative[3].when is True
    assert [s.group for s in generative[4:]] == ["archetype:prompt_injection"] * 3
    agent = steps_for("agentic_misalignment", "agent")
    assert agent[0].id == "agent-revoke" and agent[0].action == "revoke_agent"
    predictive = steps_for("model_manipulation", "predictive")
    pause = next(s for s in predictive if s.action == "pause_decisions")
    assert pause.gate == "safety_critical"
    assert [s.id for s in predictive[-2:]] == ["mm-rollback", "mm-adversarial-tests"]


def test_symptoms_add_steps_and_several_kinds_merge_without_duplicates() -> None:
    plain = {s.id for s in steps_for("toxicity_abuse", ["generative", "generative"])}
    with_latency = {s.id for s in steps_for("toxicity_abuse", "generative", ["latency"])}
    assert with_latency - plain == {"sym-latency-rate-limit"}
    both = steps_for("agentic_misalignment", ["agent", "generative"])
    assert len({s.id for s in both}) == len(both)
    assert {"agent-revoke", "gen-isolate"} <= {s.id for s in both}


def _yaml(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "playbooks.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def test_quell_yaml_adds_and_replaces_steps(store: Session, tmp_path: Path) -> None:
    path = _yaml(
        tmp_path,
        """
playbooks:
  systems:
    generative:
      - {id: gen-isolate, text: Switch the bot to the FAQ page., action: route_fallback}
  archetypes:
    prompt_injection:
      - {id: pi-ticket, text: File a ticket with the model vendor.}
""",
    )
    config, extras = load_config(path)
    report = apply_config(store, config, extras)
    assert report["playbooks"]["steps"].startswith("created")
    steps = steps_for("prompt_injection", "generative", session=store)
    assert steps[0].id == "gen-isolate" and steps[0].text == "Switch the bot to the FAQ page."
    assert steps[-1].id == "pi-ticket"
    assert len([s for s in steps if s.id == "gen-isolate"]) == 1
    # Without a session only the shipped playbooks are used.
    assert steps_for("prompt_injection", "generative")[0].text.startswith("Isolate")
    again = apply_config(store, *load_config(path))
    assert again["playbooks"]["steps"].startswith("unchanged")


@pytest.mark.parametrize(
    "body, field",
    [
        (
            "playbooks:\n  archetypes:\n    prompt_injection:\n"
            "      - {id: x, text: y, action: reboot}\n",
            "playbooks.archetypes.prompt_injection[0].action",
        ),
        (
            "playbooks:\n  systems:\n    robot:\n      - {id: x, text: y}\n",
            "playbooks.systems.robot",
        ),
        (
            "playbooks:\n  symptoms:\n    latency:\n      - {id: a, text: ''}\n",
            "playbooks.symptoms.latency[0].text",
        ),
    ],
)
def test_bad_playbook_sections_are_refused(
    store: Session, tmp_path: Path, body: str, field: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(_yaml(tmp_path, body))
    assert (err.value.field or "").startswith(field)


def test_duplicate_step_ids_are_refused_and_nothing_is_stored(
    store: Session, tmp_path: Path
) -> None:
    path = _yaml(
        tmp_path,
        """
playbooks:
  symptoms:
    latency: [{id: dup, text: one}]
    cost: [{id: dup, text: two}]
""",
    )
    with pytest.raises(ConfigError) as err:
        apply_config(store, *load_config(path))
    assert "dup" in err.value.message
    from quell.store.sections import stored_section

    assert stored_section(store, "playbooks") is None


def _events(db: Engine, kind: str) -> int:
    with session_scope(db) as s:
        return int(
            s.scalar(
                select(func.count()).select_from(TimelineEvent).where(TimelineEvent.kind == kind)
            )
            or 0
        )


def test_checklist_through_the_api(
    app_client: TestClient, tokens: dict[str, str], inventory: Engine
) -> None:
    with session_scope(inventory) as s:
        iid = make_incident(s, archetype="prompt_injection", systems=("chat",)).id
    url = f"/api/v1/incidents/{iid}/checklist"
    body = app_client.get(url, headers=auth(tokens["viewer"])).json()
    assert body["done"] == 0 and body["total"] == len(body["steps"]) >= 7
    notify = next(s for s in body["steps"] if s["id"] == "gen-notify-users")
    assert notify["applies"] is None  # the personal data gate is not answered yet
    isolate = next(s for s in body["steps"] if s["id"] == "gen-isolate")
    assert isolate["action_status"] is None

    with session_scope(inventory) as s:
        from quell.incidents.service import get_incident

        append_event(
            s,
            get_incident(s, iid),
            actor="rui",
            kind="action.executed",
            data={"action_id": 1, "type": "route_fallback", "system": "chat"},
        )
    body = app_client.get(url, headers=auth(tokens["viewer"])).json()
    isolate = next(s for s in body["steps"] if s["id"] == "gen-isolate")
    assert isolate["action_status"] == "executed" and not isolate["done"]

    r = app_client.post(
        f"{url}/gen-isolate", json={"note": "FAQ mode on"}, headers=auth(tokens["responder"])
    )
    assert r.status_code == 200, r.text
    step = next(s for s in r.json()["steps"] if s["id"] == "gen-isolate")
    assert step["done"] and step["done_by"] == "rui"
    # Ticking twice records nothing new.
    app_client.post(f"{url}/gen-isolate", headers=auth(tokens["responder"]))
    assert _events(inventory, "checklist.step_done") == 1

    timeline = app_client.get(
        f"/api/v1/incidents/{iid}/timeline", headers=auth(tokens["viewer"])
    ).json()
    done = next(e for e in timeline if e["kind"] == "checklist.step_done")
    assert done["data"]["step_id"] == "gen-isolate" and done["reason"] == "FAQ mode on"

    r = app_client.post(
        f"{url}/gen-isolate", json={"done": False}, headers=auth(tokens["responder"])
    )
    assert not next(s for s in r.json()["steps"] if s["id"] == "gen-isolate")["done"]
    assert _events(inventory, "checklist.step_undone") == 1

    with session_scope(inventory) as s:
        from quell.incidents.service import get_incident

        append_event(
            s,
            get_incident(s, iid),
            actor="rui",
            kind="gate.answered",
            data={"key": "personal_data_exposed", "answer": "no"},
        )
    notify = next(
        s
        for s in app_client.get(url, headers=auth(tokens["viewer"])).json()["steps"]
        if s["id"] == "gen-notify-users"
    )
    assert notify["applies"] is False and notify["gate_answer"] == "no"


def test_checklist_refusals(
    app_client: TestClient, tokens: dict[str, str], inventory: Engine
) -> None:
    with session_scope(inventory) as s:
        iid = make_incident(s).id
    before = _events(inventory, "checklist.step_done")
    r = app_client.post(
        f"/api/v1/incidents/{iid}/checklist/gen-isolate", headers=auth(tokens["responder"])
    )
    assert r.status_code == 404 and "agent-revoke" in r.json()["message"]
    r = app_client.post(
        f"/api/v1/incidents/{iid}/checklist/agent-revoke", headers=auth(tokens["viewer"])
    )
    assert r.status_code == 403
    r = app_client.post(
        f"/api/v1/incidents/{iid}/checklist/agent-revoke",
        json={"done": "maybe"},
        headers=auth(tokens["responder"]),
    )
    assert r.status_code == 422
    assert (
        app_client.get(
            "/api/v1/incidents/404/checklist", headers=auth(tokens["viewer"])
        ).status_code
        == 404
    )
    assert _events(inventory, "checklist.step_done") == before
