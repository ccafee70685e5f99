"""quell.yaml: validation names file and field; applying twice changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from quell.config import ConfigError, apply_config, load_config
from quell.inventory import service
from quell.store.db import session_scope
from tests.conftest import auth


def _apply(db: Engine, path: Path) -> dict[str, dict[str, str]]:
    config, extras = load_config(path)
    with session_scope(db) as s:
        return apply_config(s, config, extras, source=str(path))


def test_apply_is_idempotent(db: Engine, demo_yaml: Path) -> None:
    first = _apply(db, demo_yaml)
    assert set(first["systems"].values()) == {"created"}
    second = _apply(db, demo_yaml)
    assert set(second["systems"].values()) == {"unchanged"}
    assert set(second["teams"].values()) == {"unchanged"}
    assert set(second["risks"].values()) == {"unchanged"}
    with session_scope(db) as s:
        chat = service.get_system(s, "chat")
        assert [u.name for u in chat.upstream] == ["agent"]
        assert [d.name for d in service.get_system(s, "scorer").downstream] == ["agent"]
        assert len(service.get_team(s, "core").members) == 2


def test_changed_file_updates_and_removes_members(db: Engine, demo_yaml: Path) -> None:
    _apply(db, demo_yaml)
    demo_yaml.write_text(
        demo_yaml.read_text()
        .replace("      - {name: Rui, timezone: Europe/Lisbon}\n", "")
        .replace("criticality: high", "criticality: critical")
    )
    report = _apply(db, demo_yaml)
    assert report["systems"]["chat"] == "updated" and report["teams"]["core"] == "updated"
    with session_scope(db) as s:
        assert [m.name for m in service.get_team(s, "core").members] == ["Ada"]


@pytest.mark.parametrize(
    "body, expected_field, words",
    [
        ("systems:\n  - {name: x, kind: chatbot}\n", "systems[0].kind", "generative"),
        ("systems:\n  - {name: x, kind: agent, regimes: [hipaa]}\n", "systems[0].regimes", "hipaa"),
        (
            "systems:\n  - {name: x, kind: agent, owner_team: ghosts}\n",
            "systems[0].owner_team",
            "ghosts",
        ),
        (
            "systems:\n  - {name: x, kind: agent, depends_on: [y]}\n"
            "  - {name: y, kind: agent, depends_on: [x]}\n",
            "depends_on",
            "cycle",
        ),
        (
            "risks:\n  - {key: R, title: t, likelihood: 9}\n",
            "risks[0].likelihood",
            "less than or equal",
        ),
        ("sytems: []\n", "sytems", "unknown section"),
        (
            "teams:\n  - {name: a, members: [{name: b, timezone: Mars/Olympus}]}\n",
            "teams[0].members[0].timezone",
            "time zone",
        ),
        ("systems: [\n", None, "line"),
    ],
)
def test_validation_errors_name_file_and_field(
    db: Engine, tmp_path: Path, body: str, expected_field: str | None, words: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(body)
    with pytest.raises(ConfigError) as err:
        _apply(db, path)
    assert str(path) in err.value.message
    assert words in err.value.message
    if expected_field:
        assert expected_field in (err.value.field or "")
    with session_scope(db) as s:
        assert service.list_systems(s) == []


def test_a_failing_file_applies_nothing(db: Engine, tmp_path: Path) -> None:
    path = tmp_path / "half.yaml"
    path.write_text(
        "systems:\n  - {name: ok, kind: agent}\nrisks:\n  - {key: R, title: t, system: missing}\n"
    )
    with pytest.raises(ConfigError) as err:
        _apply(db, path)
    assert "risks[0].system" in err.value.message
    with session_scope(db) as s:
        assert service.list_systems(s) == []


def test_inventory_through_the_api(
    app_client: TestClient, tokens: dict[str, str], db: Engine, demo_yaml: Path
) -> None:
    _apply(db, demo_yaml)
    v, a = auth(tokens["viewer"]), auth(tokens["admin"])
    systems = {s["name"]: s for s in app_client.get("/api/v1/systems", headers=v).json()}
    assert systems["chat"]["depends_on"] == ["agent"]
    assert systems["scorer"]["dependents"] == ["agent"]
    assert systems["chat"]["regimes"] == ["gdpr_art33"]
    risk = app_client.get("/api/v1/risks/R1", headers=v).json()
    assert risk["score"] == 20 and risk["system"] == "chat"
    body = {"key": "R2", "title": "Drift", "system": "scorer", "likelihood": 2, "impact": 2}
    r = app_client.put("/api/v1/risks/R2", json=body, headers=a)
    assert r.status_code == 200 and r.json()["outcome"] == "created"
    r = app_client.put("/api/v1/risks/R2", json=body, headers=a)
    assert r.json()["outcome"] == "unchanged"
    r = app_client.put(
        "/api/v1/systems/scorer",
        json={"name": "scorer", "kind": "predictive", "depends_on": ["chat"]},
        headers=a,
    )
    assert r.status_code == 422 and "cycle" in r.json()["message"]
    team = {"name": "core", "members": [{"name": "Zed"}]}
    assert app_client.put("/api/v1/teams/core", json=team, headers=a).json()["outcome"] == "updated"
    assert app_client.get("/api/v1/systems/nope", headers=v).status_code == 404


def test_a_put_whose_body_and_url_disagree_is_refused(
    app_client: TestClient, tokens: dict[str, str]
) -> None:
    a = auth(tokens["admin"])
    r = app_client.put("/api/v1/systems/x", json={"name": "y", "kind": "agent"}, headers=a)
    assert r.status_code == 422 and r.json()["field"] == "name"
    assert "'y'" in r.json()["message"] and "'x'" in r.json()["message"]
    r = app_client.put("/api/v1/risks/R9", json={"key": "R8", "title": "t"}, headers=a)
    assert r.status_code == 422 and r.json()["field"] == "key"
    assert app_client.get("/api/v1/systems/y", headers=a).status_code == 404
