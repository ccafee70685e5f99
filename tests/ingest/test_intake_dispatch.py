"""Intake's POST routes are answered ahead of FastAPI's router: the answers stay the same."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from quell.api import ingest
from quell.api.app import API_PREFIX
from quell.ingest import native
from tests.conftest import auth

SIGNAL = {"kind": "latency", "summary": "p90 above SLO", "system": "support-bot"}


def test_intake_routes_are_answered_first_and_still_documented(app_client: TestClient) -> None:
    app = app_client.app
    routes = ("/signals", "/integrations/alertmanager", "/integrations/pagerduty")
    assert set(app.intake_routes) == {API_PREFIX + p for p in routes}  # type: ignore[attr-defined]
    paths = app_client.get("/openapi.json").json()["paths"]
    assert "post" in paths["/api/v1/signals"]
    assert "post" in paths["/api/v1/integrations/pagerduty"]


def test_errors_are_the_routers_errors(app_client: TestClient, tokens: dict[str, str]) -> None:
    missing = app_client.post("/api/v1/signals", json=SIGNAL)
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert missing.json()["error"]
    headers = auth(tokens["responder"])
    bad = app_client.post("/api/v1/signals", json={**SIGNAL, "kind": 3}, headers=headers)
    assert bad.status_code == 422 and bad.json()["field"] == "kind"
    broken = app_client.post("/api/v1/signals", content=b"{nope", headers=headers)
    assert broken.status_code == 400 and broken.json()["error"] == "malformed_json"
    # Other methods and paths still go through the router.
    assert app_client.get("/api/v1/signals", headers=headers).status_code == 200
    assert app_client.put("/api/v1/signals", json=SIGNAL, headers=headers).status_code == 405


def test_an_unexpected_error_is_a_500(
    db: Engine, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from quell.api.app import create_app
    from quell.settings import Settings

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(native, "batch_items", broken)
    app = create_app(Settings(database_url="sqlite://"), engine=db)
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.post("/api/v1/signals", json=SIGNAL, headers=auth(tokens["responder"]))
    assert r.status_code == 500 and r.text == "Internal Server Error"
    assert ingest.INTAKE_POSTS["/signals"] is ingest.post_signals
