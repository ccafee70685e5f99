"""The CLI: thin doors onto the same functions, one-line errors with exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from quell.cli import main


def run(args: list[str], db_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "quell.cli", *args],
        capture_output=True,
        text=True,
        env={"QUELL_DATABASE_URL": db_url, "PATH": "/usr/bin:/bin", "COLUMNS": "200"},
        timeout=120,
    )


@pytest.fixture()
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def test_demo_then_list_ack_resolve_verify(db_url: str, tmp_path: Path) -> None:
    out = run(["demo", "--no-serve"], db_url)
    assert out.returncode == 0, out.stderr
    assert "qk_" in out.stdout
    listing = run(["incidents", "list", "--json"], db_url)
    assert listing.returncode == 0
    import json

    rows = json.loads(listing.stdout)
    kinds = {r["status"] for r in rows}
    assert {"triggered", "acknowledged", "resolved"} <= kinds
    # The drift alert: triggered, and no decision gate stands before resolving it.
    fresh = next(r for r in rows if r["title"].startswith("Fraud score"))
    assert fresh["status"] == "triggered"
    assert run(["incidents", "ack", str(fresh["id"]), "--as", "ana"], db_url).returncode == 0
    assert run(["incidents", "resolve", str(fresh["id"])], db_url).returncode == 0
    shown = run(["incidents", "show", str(fresh["id"]), "--json"], db_url)
    data = json.loads(shown.stdout)
    assert data["status"] == "resolved"
    assert data["timeline"][1]["actor"] == "ana"
    assert run(["verify"], db_url).returncode == 0
    # demo twice does not duplicate anything
    assert run(["demo", "--no-serve"], db_url).returncode == 0
    assert len(json.loads(run(["incidents", "list", "--json"], db_url).stdout)) == len(rows)


def test_verify_fails_after_tampering(db_url: str) -> None:
    import sqlite3

    assert run(["demo", "--no-serve"], db_url).returncode == 0
    conn = sqlite3.connect(db_url.removeprefix("sqlite:///"))
    conn.execute("UPDATE timeline_events SET actor = 'mallory' WHERE id = 3")
    conn.commit()
    conn.close()
    out = run(["verify"], db_url)
    assert out.returncode == 1
    assert "altered" in out.stderr


@pytest.mark.parametrize(
    "args, words",
    [
        (["incidents", "ack", "notanumber"], "not a valid integer"),
        (["incidents", "ack", "999"], "does not exist"),
        (["token", "create", "--name", "x", "--role", "god"], "god"),
        (["apply", "/nonexistent/quell.yaml"], "no such file"),
        (["frobnicate"], "No such command"),
    ],
)
def test_errors_are_one_line_with_exit_code_2(db_url: str, args: list[str], words: str) -> None:
    assert run(["db", "upgrade"], db_url).returncode == 0
    out = run(args, db_url)
    assert out.returncode == 2, out
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0]


def test_commands_before_any_schema_say_what_to_do(db_url: str) -> None:
    out = run(["incidents", "list"], db_url)
    assert out.returncode == 2 and "quell db upgrade" in out.stderr


def test_illegal_transition_from_cli(db_url: str) -> None:
    run(["demo", "--no-serve"], db_url)
    out = run(["incidents", "resolve", "1"], db_url)  # incident 1 is already resolved
    assert out.returncode == 2 and "resolved to resolved" in out.stderr


def test_main_is_callable_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["token", "create", "--name", "x"])
    assert exit_.value.code == 2
    assert "--role" in capsys.readouterr().err


def test_inventory_listings(db_url: str) -> None:
    import json

    run(["demo", "--no-serve"], db_url)
    systems = json.loads(run(["systems", "--json"], db_url).stdout)
    by_name = {s["name"]: s for s in systems}
    assert by_name["support-chatbot"]["depends_on"] == ["refunds-agent"]
    assert {s["kind"] for s in systems} == {"generative", "agent", "predictive"}
    risks = json.loads(run(["risks", "--json"], db_url).stdout)
    assert [r["score"] for r in risks] == sorted((r["score"] for r in risks), reverse=True)
    assert any(r["incidents"] for r in risks)
    table = run(["systems"], db_url)
    assert table.returncode == 0 and "fraud-scorer" in table.stdout
