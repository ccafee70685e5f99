"""Fixtures for the console: a real uvicorn server on a free port, headless chromium, logins."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from quell.api.app import create_app
from quell.demo import DEMO_PASSWORD, seed
from quell.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def artifacts_dir() -> Path:
    """Where screenshots go: $QUELL_TEST_ARTIFACTS/console (default test-artifacts/console)."""
    path = Path(os.environ.get("QUELL_TEST_ARTIFACTS", "test-artifacts")) / "console"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture()
def seeded(db: Engine) -> dict[str, Any]:
    """The demo inventory, users (admin/responder/viewer) and incidents, made by the services."""
    return seed(db)


@pytest.fixture()
def web_client(db: Engine) -> Iterator[TestClient]:
    """A TestClient whose base URL is the console's own origin (so Origin checks pass)."""
    app = create_app(Settings(database_url="sqlite://"), engine=db)
    with TestClient(app, base_url="http://testserver") as client:
        yield client


def login(client: TestClient, username: str, password: str = DEMO_PASSWORD) -> None:
    r = client.post(
        "/login", data={"username": username, "password": password}, follow_redirects=False
    )
    assert r.status_code == 303, r.text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def live_server(db: Engine) -> Iterator[str]:
    """`quell serve` in a thread: the same app, a real uvicorn, the test database."""
    app = create_app(Settings(database_url="sqlite://"), engine=db)
    port = _free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the console server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=15)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is absent (CI installs Debian's chromium package)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture()
def page(browser: Any, live_server: str) -> Iterator[Any]:
    """A fresh browser context per test, sized like a 1366x768 laptop.

    It depends on live_server so that it closes first: an open live-update stream would
    otherwise hold the server's shutdown.
    """
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    context.close()


def browser_login(page: Any, base: str, username: str, password: str = DEMO_PASSWORD) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/board")


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(artifacts_dir() / f"{name}.png"), full_page=True)


def answer_open_gates(page: Any) -> None:
    """Answer 'no' to every decision gate the incident still requires (none without gates)."""
    pending = page.locator("#gates .card.pending")
    while pending.count():
        pending.first.get_by_role("button", name="No", exact=True).click()
        page.locator(".flash-ok").wait_for()
