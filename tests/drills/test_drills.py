"""Drills replay scenario signals through the real intake and correlation path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from quell.config import apply_config, parse_config
from quell.drills import load_scenarios, run_drill
from quell.errors import InvalidInput, NotFound
from quell.incidents.timeline import events
from quell.ingest.models import SignalRow
from quell.store.db import session_scope

INVENTORY = {
    "teams": [{"name": "core", "members": [{"name": "Ana"}]}],
    "systems": [
        {"name": "scorer", "kind": "predictive", "owner_team": "core"},
        {
            "name": "refunds",
            "kind": "agent",
            "owner_team": "core",
            "depends_on": ["scorer"],
            "criticality": "high",
        },
        {"name": "chat", "kind": "generative", "owner_team": "core", "depends_on": ["refunds"]},
    ],
    # Open candidates at once so the test does not wait for group_wait.
    "correlation": {"group_wait": 0, "min_signals": 1},
}


def _apply(db: Engine, raw: dict) -> None:
    config, extras = parse_config(raw)
    with session_scope(db) as s:
        apply_config(s, config, extras)


def _no_sleep(_: float) -> None:
    return None


def test_every_shipped_scenario_is_valid_and_names_an_archetype_or_severity() -> None:
    scenarios = load_scenarios()
    expected = {s.expect.archetype for s in scenarios.values()} - {None}
    assert expected == {
        "prompt_injection",
        "data_exfiltration",
        "model_manipulation",
        "misinformation_cascade",
        "toxicity_abuse",
        "agentic_misalignment",
    }
    assert all(s.expect.archetype or s.expect.max_severity for s in scenarios.values())


@pytest.mark.parametrize("name", ["agentic_misalignment", "data_exfiltration"])
def test_drill_opens_a_marked_incident_of_the_right_archetype(db: Engine, name: str) -> None:
    _apply(db, INVENTORY)
    report = run_drill(db, name, speed=1000, wait_s=3, sleep=_no_sleep)
    assert report.incident_ids, report.to_dict()
    assert report.archetype == load_scenarios()[name].expect.archetype
    assert report.passed, report.to_dict()
    assert report.playbook_steps  # the response steps for this archetype and system kind
    with session_scope(db) as s:
        sent = s.scalar(select(func.count(SignalRow.id)))
        assert sent == report.signals_sent
        timeline = events(s, report.incident_ids[0])
        drill_events = [e for e in timeline if e.kind == "drill.report"]
        assert drill_events and drill_events[0].data["drill_id"] == report.drill_id


def test_drill_without_a_fitting_system_says_so_and_sends_nothing(db: Engine) -> None:
    _apply(db, {"systems": [{"name": "chat", "kind": "generative"}]})
    with pytest.raises(InvalidInput) as err:
        run_drill(db, "agentic_misalignment", speed=1000, wait_s=0, sleep=_no_sleep)
    assert "agent system" in err.value.message
    with pytest.raises(NotFound):
        run_drill(db, "no_such_drill", sleep=_no_sleep)
    with session_scope(db) as s:
        assert s.scalar(select(func.count(SignalRow.id))) == 0


def test_a_bad_scenario_file_is_refused_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("scenarios:\n  x:\n    title: t\n    target: agent\n    steps: []\n")
    with pytest.raises(InvalidInput) as err:
        load_scenarios(path)
    assert str(path) in err.value.message and "scenarios.x.steps" in err.value.message


def test_cli_drill_run(tmp_path: Path) -> None:
    import yaml

    db_url = f"sqlite:///{tmp_path / 'drill.db'}"
    config = tmp_path / "quell.yaml"
    config.write_text(yaml.safe_dump(INVENTORY))
    env = {"QUELL_DATABASE_URL": db_url, "PATH": "/usr/bin:/bin"}

    def quell(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "quell.cli", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )

    assert quell("db", "upgrade").returncode == 0
    assert quell("apply", str(config)).returncode == 0
    out = quell("drill", "run", "toxicity_abuse", "--speed", "1000", "--wait", "5", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["passed"] and report["archetype"] == "toxicity_abuse"
    bad = quell("drill", "run", "toxicity_abuse", "--speed", "0")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1


def test_a_second_drill_joins_the_first_ones_open_incident(db: Engine) -> None:
    _apply(db, INVENTORY)
    first = run_drill(db, "toxicity_abuse", speed=1000, wait_s=3, sleep=_no_sleep)
    second = run_drill(db, "toxicity_abuse", speed=1000, wait_s=3, sleep=_no_sleep)
    assert not first.joined_existing and first.time_to_candidate_s is not None
    assert first.time_to_candidate_s >= 0
    assert second.incident_ids == first.incident_ids
    assert second.joined_existing and second.time_to_candidate_s == 0.0
