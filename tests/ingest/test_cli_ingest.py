"""`quell ingest FILE.jsonl` against a SQLite file: per-line errors, exit codes, formats."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from sqlalchemy import func, select

from quell.cli import main
from quell.ingest.models import Alert, Payload, SignalRow
from quell.store.db import dispose_engines, get_engine, session_scope, upgrade

from .test_adapters import am_alert, am_body, pd_event


@pytest.fixture()
def store_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("QUELL_DATABASE_URL", url)
    upgrade(get_engine(url))
    yield url
    dispose_engines()


def run(argv: list[str]) -> int:
    try:
        main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def rows(url: str) -> tuple[int, int, int]:
    with session_scope(get_engine(url)) as s:
        return tuple(  # type: ignore[return-value]
            s.scalar(select(func.count()).select_from(t)) or 0 for t in (Payload, SignalRow, Alert)
        )


def test_native_lines_with_malformed_ones(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = orjson.dumps({"kind": "latency", "summary": "slow", "fingerprint": "a"}).decode()
    path = tmp_path / "s.jsonl"
    path.write_text("\n".join([good, '{"kind": "x"}', "not json", "", good]) + "\n")
    assert run(["ingest", str(path), "--json"]) == 1
    out = capsys.readouterr()
    assert "s.jsonl:2: summary: required" in out.err
    assert "s.jsonl:3: not valid JSON" in out.err
    summary = orjson.loads(out.out)
    assert summary["accepted"] == 2 and summary["alerts"]["deduplicated"] == 1
    assert summary["lines"] == {"stored": 2, "skipped": 2}
    assert rows(store_url) == (2, 2, 1)


def test_alertmanager_and_pagerduty_formats(store_url: str, tmp_path: Path) -> None:
    am = tmp_path / "am.jsonl"
    am.write_bytes(orjson.dumps(am_body(am_alert(), am_alert(fingerprint="ff"))) + b"\n")
    assert run(["ingest", str(am), "--format", "alertmanager"]) == 0
    pd = tmp_path / "pd.jsonl"
    pd.write_bytes(orjson.dumps(pd_event()) + b"\n")
    assert run(["ingest", str(pd), "--format", "pagerduty"]) == 0
    assert rows(store_url) == (2, 3, 3)


def test_unusable_input_exits_2(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["ingest", str(tmp_path / "missing.jsonl")]) == 2
    assert (
        capsys.readouterr().err.strip()
        == f"quell: error: {tmp_path / 'missing.jsonl'}: no such file"
    )
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    assert run(["ingest", str(empty)]) == 2
    junk = tmp_path / "junk.jsonl"
    junk.write_text("nope\n")
    assert run(["ingest", str(junk)]) == 2
    assert run(["ingest", str(junk), "--format", "syslog"]) == 2
    assert rows(store_url) == (0, 0, 0)
