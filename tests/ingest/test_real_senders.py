"""Real senders against a real `quell serve`: Debian's Alertmanager, a PagerDuty-format client."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from quell.auth.service import create_token
from quell.config import apply_config, parse_config
from quell.store.db import dispose_engines, get_engine, session_scope, upgrade

from .servers import free_port, quell_server, wait_http

ALERTMANAGER = shutil.which("prometheus-alertmanager") or (
    "/usr/bin/prometheus-alertmanager"
    if Path("/usr/bin/prometheus-alertmanager").exists()
    else None
)
ROUTING_KEY = "0123456789abcdef0123456789abcdef"
INVENTORY: dict[str, Any] = {
    "systems": [
        {"name": "voice-agent", "kind": "agent", "criticality": "high"},
        {"name": "support-chatbot", "kind": "generative"},
    ],
    "integrations": [
        {"name": "chatbot-pd", "routing_key": ROUTING_KEY, "system": "support-chatbot"}
    ],
}


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[tuple[str, dict[str, str], str]]:
    """A quell server on a fresh SQLite file with an inventory and a responder token."""
    url = f"sqlite:///{tmp_path / 'quell.db'}"
    engine = get_engine(url)
    upgrade(engine)
    config, extras = parse_config(INVENTORY)
    with session_scope(engine) as s:
        apply_config(s, config, extras)
        token, _ = create_token(s, name="alertmanager", role="responder")
    dispose_engines()
    with quell_server(url, tmp_path / "serve.log") as (base, _proc):
        yield base, {"Authorization": f"Bearer {token}"}, token


def poll(fetch: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Call `fetch` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = fetch()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"nothing after {timeout} s")


@pytest.mark.skipif(
    ALERTMANAGER is None,
    reason="prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager)",
)
def test_real_alertmanager_webhook_opens_an_incident(
    served: tuple[str, dict[str, str], str], tmp_path: Path
) -> None:
    base, headers, token = served
    port = free_port()
    config = tmp_path / "alertmanager.yml"
    config.write_text(
        f"""
route:
  receiver: quell
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: quell
    webhook_configs:
      - url: {base}/api/v1/integrations/alertmanager
        send_resolved: true
        http_config:
          authorization:
            credentials: {token}
"""
    )
    assert ALERTMANAGER is not None
    with (tmp_path / "alertmanager.log").open("wb") as log:
        proc = subprocess.Popen(
            [
                ALERTMANAGER,
                f"--config.file={config}",
                f"--storage.path={tmp_path / 'am-data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    am = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{am}/-/ready", proc)
        alert = {
            "labels": {
                "alertname": "VoiceAgentP90Latency",
                "service": "voice-agent",
                "severity": "critical",
            },
            "annotations": {"summary": "voice agent P90 latency 16.4 s", "p90_latency_s": "16.4"},
            "generatorURL": "http://prometheus.example/graph",
        }
        assert httpx.post(f"{am}/api/v2/alerts", json=[alert]).status_code == 200

        def signals() -> list[dict[str, Any]]:
            r = httpx.get(f"{base}/api/v1/signals?source=alertmanager", headers=headers)
            return list(r.json())

        (signal,) = poll(signals)
        assert signal["system"] == "voice-agent" and signal["kind"] == "latency"
        assert signal["metrics"] == {"p90_latency_s": 16.4}
        assert signal["fingerprint"].startswith("am:")
        full = httpx.get(f"{base}/api/v1/signals/{signal['id']}", headers=headers).json()
        assert full["raw"]["labels"]["alertname"] == "VoiceAgentP90Latency"
        assert full["payload"]["received_by"] == "alertmanager"
        incident_id = poll(
            lambda: httpx.get(f"{base}/api/v1/alerts", headers=headers).json()[0]["incident_id"]
        )
        incident = httpx.get(f"{base}/api/v1/incidents/{incident_id}", headers=headers).json()
        assert incident["systems"] == ["voice-agent"]
        assert incident["status"] == "triggered"

        # Ending the alert in Alertmanager sends a resolved notification: the alert closes.
        ended = {**alert, "endsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        assert httpx.post(f"{am}/api/v2/alerts", json=[ended]).status_code == 200
        poll(
            lambda: (
                httpx.get(f"{base}/api/v1/alerts", headers=headers).json()[0]["status"]
                == "resolved"
            )
        )
        still = httpx.get(f"{base}/api/v1/incidents/{incident_id}", headers=headers).json()
        assert still["status"] == "triggered"  # a resolved alert does not resolve the incident
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_pagerduty_sender_opens_an_incident(served: tuple[str, dict[str, str], str]) -> None:
    base, headers, _token = served
    event = {
        "routing_key": ROUTING_KEY,
        "event_action": "trigger",
        "payload": {
            "summary": "Support chatbot leaking customer emails",
            "source": "chatbot-prod-3",
            "severity": "critical",
            "class": "pii",
            "custom_details": {"matches": 14},
        },
        "links": [{"href": "https://grafana.example/d/abc", "text": "dashboard"}],
    }
    with httpx.Client(base_url=base) as client:  # a PagerDuty sender sends no auth header
        r = client.post("/api/v1/integrations/pagerduty", json=event)
        assert r.status_code == 202, r.text
        dedup_key = r.json()["dedup_key"]
        assert r.json()["status"] == "success" and len(dedup_key) == 32
        again = client.post(
            "/api/v1/integrations/pagerduty", json={**event, "dedup_key": dedup_key}
        )
        assert again.json()["dedup_key"] == dedup_key
    alerts = httpx.get(f"{base}/api/v1/alerts", headers=headers).json()
    assert [(a["system"], a["count"], a["kind"]) for a in alerts] == [("support-chatbot", 2, "pii")]
    incident_id = alerts[0]["incident_id"]
    assert incident_id is not None
    incident = httpx.get(f"{base}/api/v1/incidents/{incident_id}", headers=headers).json()
    assert incident["systems"] == ["support-chatbot"]
    collapsed = httpx.get(f"{base}/api/v1/incidents/{incident_id}/signals", headers=headers).json()
    assert collapsed[0]["count"] == 2
