"""Response metrics (time to detect, acknowledge, mitigate, resolve) and signal volume."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from quell.errors import InvalidInput
from quell.incidents.service import get_incident
from quell.metrics import noise_reduction, response_metrics
from quell.store.db import session_scope
from quell.timeutil import utcnow
from tests.conftest import auth
from tests.response.conftest import add_alert, make_incident, run_cli

# (severity, systems, minutes to detect, to acknowledge, to mitigate, to resolve)
HISTORY = [
    ("SEV-1", ("chat",), 4, 3, 20, 60),
    ("SEV-1", ("chat", "agent"), 10, 6, 35, 90),
    ("SEV-1", ("agent",), None, 2, None, None),
    ("SEV-2", ("scorer",), 30, 15, 120, 300),
    ("SEV-2", ("scorer",), 1, 45, 50, 55),
]


def _history(session: Session, base: datetime) -> list[int]:
    ids = []
    for n, (severity, systems, ttd, tta, ttm, ttr) in enumerate(HISTORY):
        detected = base + timedelta(hours=n)
        incident = make_incident(
            session,
            severity=severity,
            systems=systems,
            archetype="unclassified",
            detected_ago=utcnow() - detected,
        )
        if ttd is not None:
            add_alert(
                session,
                incident,
                system=systems[0],
                kind="latency",
                first_seen=detected - timedelta(minutes=ttd),
            )
        # Set the stamps directly: the transitions would stamp the wall clock.
        for attr, minutes in (
            ("acknowledged_at", tta),
            ("mitigated_at", ttm),
            ("resolved_at", ttr),
        ):
            if minutes is not None:
                setattr(incident, attr, detected + timedelta(minutes=minutes))
        ids.append(incident.id)
    session.flush()
    return ids


def _expected(values: list[float]) -> tuple[float, float, float]:
    seconds = [v * 60 for v in values]
    return (
        round(float(np.mean(seconds)), 1),
        round(float(np.percentile(seconds, 50)), 1),
        round(float(np.percentile(seconds, 90)), 1),
    )


def test_metrics_by_severity_system_and_overall(store: Session) -> None:
    base = utcnow() - timedelta(days=3)
    _history(store, base)
    result = response_metrics(store, since=base - timedelta(hours=1), until=utcnow(), by="severity")
    assert result["incidents"] == 5
    sev1 = next(g for g in result["groups"] if g["severity"] == "SEV-1")
    assert sev1["incidents"] == 3
    ack = sev1["time_to_acknowledge"]
    assert (ack["mean_s"], ack["p50_s"], ack["p90_s"]) == _expected([3, 6, 2])
    assert ack["n"] == 3 and sev1["time_to_mitigate"]["n"] == 2
    detect = result["overall"]["time_to_detect"]
    assert (detect["mean_s"], detect["p50_s"], detect["p90_s"]) == _expected([4, 10, 30, 1])
    resolve = result["overall"]["time_to_resolve"]
    assert (resolve["mean_s"], resolve["p50_s"], resolve["p90_s"]) == _expected([60, 90, 300, 55])

    by_system = response_metrics(store, since=base - timedelta(hours=1), by="system")
    groups = {g["system"]: g for g in by_system["groups"]}
    assert {k: g["incidents"] for k, g in groups.items()} == {"agent": 2, "chat": 2, "scorer": 2}
    assert groups["chat"]["time_to_mitigate"]["mean_s"] == _expected([20, 35])[0]

    # The period filters on detection time.
    narrow = response_metrics(
        store,
        since=base + timedelta(minutes=30),
        until=base + timedelta(hours=2, minutes=30),
        by="archetype",
    )
    assert narrow["incidents"] == 2 and narrow["groups"][0]["archetype"] == "unclassified"


def test_refusals(store: Session) -> None:
    now = utcnow()
    with pytest.raises(InvalidInput) as err:
        response_metrics(store, since=now, until=now - timedelta(days=1))
    assert err.value.field == "since"
    with pytest.raises(InvalidInput) as err:
        response_metrics(store, by="team")
    assert err.value.field == "by"
    with pytest.raises(InvalidInput) as err:
        noise_reduction(store, bucket="minute")
    assert err.value.field == "bucket"
    with pytest.raises(InvalidInput) as err:
        noise_reduction(store, since=now - timedelta(days=400), bucket="hour")
    assert err.value.field == "bucket"


def _signals(session: Session, when: list[datetime]) -> None:
    from quell.ingest.models import Payload, SignalRow

    payload = Payload(source="native", body="{}", received_at=when[0])
    session.add(payload)
    session.flush()
    for n, at in enumerate(when):
        session.add(
            SignalRow(
                payload_id=payload.id,
                source="native",
                system="chat",
                kind="latency",
                summary="slow",
                status="firing",
                fingerprint=f"f{n}",
                occurred_at=at,
                received_at=at,
            )
        )
    session.flush()


def test_noise_reduction_buckets(store: Session) -> None:
    day = utcnow().replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=2)
    _signals(
        store,
        [day + timedelta(minutes=m) for m in range(0, 60, 2)]  # 30 on day one
        + [day + timedelta(days=1, minutes=m) for m in range(10)],
    )  # 10 on day two
    make_incident(store, systems=("chat",), detected_ago=utcnow() - day - timedelta(minutes=5))
    result = noise_reduction(
        store, since=day - timedelta(hours=1), until=day + timedelta(days=1, hours=1), bucket="day"
    )
    assert result["signals"] == 40 and result["incidents"] == 1
    assert result["reduction"] == pytest.approx(1 - 1 / 40)
    busy = [b for b in result["buckets"] if b["signals"]]
    assert [b["signals"] for b in busy] == [30, 10]
    assert busy[0]["incidents"] == 1 and busy[0]["signals_per_incident"] == 30.0
    hourly = noise_reduction(store, since=day, until=day + timedelta(hours=3), bucket="hour")
    assert [b["signals"] for b in hourly["buckets"]][:2] == [30, 0]


def test_metrics_api_and_cli(
    app_client: TestClient,
    tokens: dict[str, str],
    cli_db: Engine,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base = utcnow() - timedelta(days=2)
    with session_scope(cli_db) as s:
        ids = _history(s, base)
        assert get_incident(s, ids[0]).acknowledged_at is not None
    h = auth(tokens["viewer"])
    r = app_client.get("/api/v1/metrics", params={"by": "system"}, headers=h)
    assert r.status_code == 200 and {g["system"] for g in r.json()["groups"]} == {
        "chat",
        "agent",
        "scorer",
    }
    r = app_client.get(
        "/api/v1/metrics",
        params={"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
        headers=h,
    )
    assert r.status_code == 422 and r.json()["field"] == "since"
    r = app_client.get("/api/v1/metrics", params={"by": "colour"}, headers=h)
    assert r.status_code == 422 and r.json()["field"] == "by"
    r = app_client.get("/api/v1/metrics/noise", params={"bucket": "hour"}, headers=h)
    assert r.status_code == 200 and r.json()["incidents"] == 5
    assert app_client.get("/api/v1/metrics").status_code == 401

    code, out, _ = run_cli(["metrics", "--json", "--by", "severity"], capsys)
    assert code == 0 and json.loads(out)["incidents"] == 5
    code, out, _ = run_cli(["metrics"], capsys)
    assert code == 0 and "SEV-2" in out
    code, _, err = run_cli(["metrics", "--since", "2026-02-01", "--until", "2026-01-01"], capsys)
    assert code == 2 and "since" in err
    code, _, err = run_cli(["metrics", "--since", "yesterday"], capsys)
    assert code == 2 and "since" in err
