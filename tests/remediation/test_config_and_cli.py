"""quell.yaml sections of remediation, and the CLI doors (exit 2 with one line on bad input)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from quell.config import ConfigError, parse_config
from tests.remediation.helpers import INVENTORY


@pytest.mark.parametrize(
    ("section", "field", "words"),
    [
        ("connectors: [{name: a, kind: webhook, secret_env: X}]", "connectors", "url"),
        (
            "connectors: [{name: a, url: 'https://x', secret_env: X, kind: carrier_pigeon}]",
            "connectors",
            "unknown connector kind",
        ),
        (
            "connectors: [{name: a, url: 'https://x', secret_env: X, action_types: [nuke]}]",
            "connectors",
            "unknown action type",
        ),
        (
            "containment_policies: [{name: p, when: {severities: [SEV-9]}, action: revoke_agent}]",
            "containment_policies",
            "SEV-9",
        ),
        (
            "containment_policies: [{name: p, when: {}, action: rate_limit}]",
            "containment_policies",
            "requests_per_minute",
        ),
        ("containment: {approver_role: intern}", "containment.approver_role", "responder"),
        ("decision_gates: {gates: [{key: Bad Key, question: q}]}", "decision_gates", "key"),
    ],
)
def test_bad_sections_name_the_field(section: str, field: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(yaml.safe_load(section))
    assert caught.value.field is not None and caught.value.field.startswith(field)
    assert words in caught.value.message


def run(args: list[str], db_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "quell.cli", *args],
        capture_output=True,
        text=True,
        env={"QUELL_DATABASE_URL": db_url, "PATH": "/usr/bin:/bin", "COLUMNS": "200"},
        timeout=120,
    )


def test_cli_gates_and_actions(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'cli.db'}"
    config = tmp_path / "quell.yaml"
    config.write_text(INVENTORY, encoding="utf-8")
    assert run(["db", "upgrade"], db_url).returncode == 0
    assert run(["apply", str(config)], db_url).returncode == 0
    from quell.incidents.service import create_incident
    from quell.store.db import get_engine, session_scope

    with session_scope(get_engine(db_url)) as session:
        iid = create_incident(
            session, actor="t", title="scores off", severity="SEV-1", systems=["scorer"]
        ).id

    gates = run(["gates", str(iid), "--json"], db_url)
    assert gates.returncode == 0, gates.stderr
    assert {g["key"] for g in json.loads(gates.stdout)} == {"safety_critical"}
    blocked = run(["incidents", "mitigate", str(iid)], db_url)
    assert blocked.returncode == 2 and "safety_critical" in blocked.stderr
    answered = run(["gate", "answer", str(iid), "safety_critical", "yes", "--as", "ana"], db_url)
    assert answered.returncode == 0, answered.stderr
    assert "pause_decisions on scorer" in answered.stdout

    listed = json.loads(run(["actions", "list", str(iid), "--json"], db_url).stdout)
    assert [(a["type"], a["status"], a["proposed_by"]) for a in listed] == [
        ("pause_decisions", "proposed", "ana")
    ]
    aid = str(listed[0]["id"])
    own = run(["actions", "approve", aid, "--as", "ana"], db_url)  # scorer is critical
    assert own.returncode == 2 and "two-person rule" in own.stderr
    assert len(own.stderr.strip().splitlines()) == 1
    rejected = run(
        ["actions", "reject", aid, "--as", "ben", "--reason", "humans are slower"], db_url
    )
    assert rejected.returncode == 0, rejected.stderr
    proposed = run(
        [
            "actions",
            "propose",
            str(iid),
            "rate_limit",
            "--param",
            "requests_per_minute=60",
            "--as",
            "ben",
            "--json",
        ],
        db_url,
    )
    assert proposed.returncode == 0, proposed.stderr
    assert json.loads(proposed.stdout)["params"]["requests_per_minute"] == 60

    for args, words in (
        (["gate", "answer", str(iid), "nope", "yes"], "unknown decision gate"),
        (["actions", "propose", str(iid), "explode"], "unknown action type"),
        (["actions", "approve", "999"], "does not exist"),
        (["actions", "kill-switch", str(iid)], "no affected agent"),
    ):
        out = run(args, db_url)
        assert out.returncode == 2 and words in out.stderr, (args, out.stderr)
        assert len(out.stderr.strip().splitlines()) == 1
