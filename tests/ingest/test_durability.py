"""A signal that got a 2xx survives `kill -9` of the server a moment later."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx

from quell.auth.service import create_token
from quell.store.db import dispose_engines, get_engine, session_scope, upgrade

from .servers import quell_server


def test_acknowledged_signals_survive_kill_9(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'durable.db'}"
    engine = get_engine(url)
    upgrade(engine)
    with session_scope(engine) as s:
        token, _ = create_token(s, name="alertmanager", role="responder")
    dispose_engines()
    headers = {"Authorization": f"Bearer {token}"}
    log = tmp_path / "serve.log"
    batch = {
        "signals": [
            {"kind": "latency", "summary": f"s{i}", "fingerprint": f"f{i}"} for i in range(50)
        ]
    }
    with quell_server(url, log) as (base, proc):
        one = httpx.post(
            f"{base}/api/v1/signals", json={"kind": "pii", "summary": "x"}, headers=headers
        )
        many = httpx.post(f"{base}/api/v1/signals", json=batch, headers=headers)
        assert one.status_code == 202 and many.status_code == 202
        proc.send_signal(signal.SIGKILL)  # at once: no shutdown hook, no checkpoint
        proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL
    ids = one.json()["signals"] + many.json()["signals"]
    with quell_server(url, log) as (base, _proc):
        for signal_id in ids:
            got = httpx.get(f"{base}/api/v1/signals/{signal_id}", headers=headers)
            assert got.status_code == 200, got.text
        last = httpx.get(f"{base}/api/v1/signals/{ids[-1]}", headers=headers).json()
        assert last["raw"] == batch["signals"][-1]
        alerts = httpx.get(f"{base}/api/v1/alerts?limit=1000", headers=headers).json()
        assert len(alerts) == 51


def test_an_opening_answered_before_its_links_survives_kill_9(tmp_path: Path) -> None:
    """A critical signal opens a candidate holding hundreds of earlier alerts: the 202 names
    the incident, the earlier alerts are linked after the answer. Killed at once, the restarted
    server still ends with every alert in that one incident (however far the links had got)."""
    from quell.config import apply_config, parse_config
    from quell.detection.pipeline import LINK_INLINE_MAX

    url = f"sqlite:///{tmp_path / 'opening.db'}"
    engine = get_engine(url)
    upgrade(engine)
    config, extras = parse_config(
        {
            "systems": [{"name": "bot", "kind": "generative"}],
            "correlation": {"group_wait": 3600, "min_signals": 100_000},
        }
    )
    with session_scope(engine) as s:
        apply_config(s, config, extras)
        token, _ = create_token(s, name="sender", role="responder")
    dispose_engines()
    headers = {"Authorization": f"Bearer {token}"}
    held = LINK_INLINE_MAX + 100

    def latency(i: int, severity: str) -> dict[str, object]:
        return {
            "system": "bot",
            "kind": "latency",
            "severity": severity,
            "summary": f"slow {i}",
            "fingerprint": f"lat-{i}",
        }

    log = tmp_path / "serve.log"
    with quell_server(url, log) as (base, proc):
        warnings = {"signals": [latency(i, "warning") for i in range(held)]}
        assert (
            httpx.post(f"{base}/api/v1/signals", json=warnings, headers=headers).json()["incidents"]
            == []
        )
        opening = httpx.post(
            f"{base}/api/v1/signals", json=latency(held, "critical"), headers=headers
        )
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert opening.status_code == 202
    [incident_id] = opening.json()["incidents"]
    with quell_server(url, log) as (base, _proc):
        # The serve loop's first correlation tick rebuilds the index, doing the links first.
        deadline = time.monotonic() + 60
        while True:
            alerts = httpx.get(f"{base}/api/v1/alerts?limit=1000", headers=headers).json()
            if {a["incident_id"] for a in alerts} == {incident_id} or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert len(alerts) == held + 1
        assert {a["incident_id"] for a in alerts} == {incident_id}
        incidents = httpx.get(f"{base}/api/v1/incidents", headers=headers).json()
        assert [i["id"] for i in incidents] == [incident_id]
