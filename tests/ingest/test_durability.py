"""A signal that got a 2xx survives `kill -9` of the server a moment later."""

from __future__ import annotations

import signal
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
