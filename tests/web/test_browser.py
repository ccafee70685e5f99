"""The console in headless chromium against a real uvicorn server on the test database."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from quell.auth.service import create_token
from quell.store.db import session_scope
from tests.web.conftest import answer_open_gates, browser_login, shot

pytestmark = pytest.mark.browser


def _token(db: Engine, name: str, role: str) -> str:
    with session_scope(db) as session:
        plain, _ = create_token(session, name=name, role=role)
    return plain


def test_new_incident_appears_live_then_is_acknowledged_assigned_and_resolved(
    page: Any, live_server: str, seeded: dict[str, Any], db: Engine
) -> None:
    browser_login(page, live_server, "responder")
    board = page.locator("#board-rows")
    # The demo's open incidents: the agent, the drift alert and the pipeline's injection.
    assert board.locator("tr[data-incident]").count() == 3
    page.wait_for_function("document.getElementById('live-status').textContent.includes('Live')")
    page.evaluate("window.__same_page = true")

    token = _token(db, "detector-bot", "responder")
    r = httpx.post(
        f"{live_server}/api/v1/incidents",
        json={
            "title": "Support chatbot repeats injected instructions",
            "severity": "SEV-2",
            "archetype": "prompt_injection",
            "systems": ["support-chatbot"],
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 201, r.text
    new_id = r.json()["id"]
    row = page.locator(f'tr[data-incident="{new_id}"]')
    row.wait_for()
    assert page.evaluate("window.__same_page") is True  # arrived without a reload
    assert "SEV-2" in row.inner_text() and "no commander" in row.inner_text()
    shot(page, "board-live")

    row.get_by_role("link").first.click()
    page.wait_for_url(f"{live_server}/incidents/{new_id}")
    page.get_by_role("button", name="Acknowledge").click()
    page.locator(".flash-ok").wait_for()
    assert page.locator(".incident-head .status").inner_text() == "acknowledged"

    page.get_by_label("Role", exact=True).select_option("incident_commander")
    page.get_by_label("Person", exact=True).fill("Ana Souza")
    page.get_by_role("button", name="Assign").click()
    page.locator(".flash-ok").wait_for()
    roles = page.locator("#roles table").inner_text()
    assert "Incident commander\tAna Souza" in roles

    answer_open_gates(page)
    page.get_by_role("button", name="Resolve").click()
    page.locator(".flash-ok").wait_for()
    assert page.locator(".incident-head .status").inner_text() == "resolved"
    timeline = page.locator("ol.timeline").inner_text()
    for kind in ("incident.created", "incident.acknowledged", "role.assigned", "incident.resolved"):
        assert kind in timeline
    assert "by responder" in timeline  # the console acts as the signed-in person
    shot(page, "incident-resolved")

    page.goto(f"{live_server}/board")
    assert page.locator(f'tr[data-incident="{new_id}"]').count() == 0  # resolved: off the board


def test_an_illegal_move_shows_a_message_not_a_stack_trace(
    page: Any, live_server: str, seeded: dict[str, Any]
) -> None:
    browser_login(page, live_server, "responder")
    page.goto(f"{live_server}/incidents/3")
    # Two tabs on a triggered incident: the first acknowledges it, the second is now stale.
    other = page.context.new_page()
    other.goto(f"{live_server}/incidents/3")
    page.get_by_role("button", name="Acknowledge").click()
    page.locator(".flash-ok").wait_for()
    other.get_by_role("button", name="Acknowledge").click()
    error = other.locator(".flash-error")
    error.wait_for()
    assert "cannot move an incident from acknowledged to acknowledged" in error.inner_text()
    assert other.locator(".incident-head .status").inner_text() == "acknowledged"
    assert "Traceback" not in other.content()


def test_a_viewer_sees_no_controls_and_a_forged_post_is_refused(
    page: Any, live_server: str, seeded: dict[str, Any]
) -> None:
    browser_login(page, live_server, "viewer")
    page.goto(f"{live_server}/incidents/2")
    assert page.locator("main form").count() == 0  # no transitions, roles, notes, actions
    assert page.get_by_role("button", name="Acknowledge").count() == 0
    assert page.locator(".killswitch").count() == 0
    heading = page.get_by_role("heading", level=1).inner_text()
    assert heading.startswith("Refunds agent issuing refunds")  # can still read it
    shot(page, "incident-viewer")
    # A viewer who builds the form by hand, with a valid CSRF token from their own session.
    status = page.evaluate(
        """async () => {
            const csrf = document.querySelector('header form input[name=csrf]').value;
            const body = new URLSearchParams({to: 'resolved', csrf});
            const r = await fetch('/incidents/2/transition', {method: 'POST', body});
            return [r.status, await r.text()];
        }"""
    )
    assert status[0] == 403 and "needs the responder role" in status[1]
    page.reload()
    assert page.locator(".incident-head .status").inner_text() == "acknowledged"


def test_login_with_a_token_and_with_a_wrong_password(
    page: Any, live_server: str, seeded: dict[str, Any]
) -> None:
    page.goto(f"{live_server}/board")
    page.wait_for_url(f"{live_server}/login?next=/board")
    page.get_by_label("User name").fill("responder")
    page.get_by_label("Password", exact=True).fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    assert "wrong user name or password" in page.locator("#login-error").inner_text()
    shot(page, "login-error")
    page.get_by_label("User name").fill("")
    page.get_by_label("API token").fill(str(seeded["admin_token"]))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server}/board")
    assert "demo-admin" in page.locator("header .who").inner_text()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{live_server}/login")
    page.goto(f"{live_server}/systems")
    assert "/login" in page.url  # the session is gone


def test_screenshots_of_every_page(page: Any, live_server: str, seeded: dict[str, Any]) -> None:
    page.goto(f"{live_server}/login")
    shot(page, "login")
    browser_login(page, live_server, "admin")
    for name, path, heading in (
        ("board", "/board", "Incidents"),
        ("incident", "/incidents/2", "Refunds agent issuing refunds above the 200 EUR limit"),
        ("systems", "/systems", "AI systems"),
        ("system", "/systems/refunds-agent", "refunds-agent"),
        ("risks", "/risks", "AI risk register"),
        ("graph", "/graph", "Dependency graph"),
        ("metrics", "/metrics", "Metrics"),
    ):
        page.goto(live_server + path)
        assert page.get_by_role("heading", level=1).inner_text() == heading
        shot(page, name)
    page.goto(f"{live_server}/graph")
    hot = page.locator("svg.graph a.node.hot text.name").all_text_contents()
    # The demo's open incidents touch all three: drift, the agent, the chatbot's injection.
    assert sorted(hot) == ["fraud-scorer", "refunds-agent", "support-chatbot"]


def test_the_keyboard_alone_can_work_an_incident(
    page: Any, live_server: str, seeded: dict[str, Any]
) -> None:
    browser_login(page, live_server, "responder")
    page.goto(f"{live_server}/incidents/3")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")  # the first control inside the main content
    focused = page.evaluate(
        "[document.activeElement.closest('main') !== null,"
        " getComputedStyle(document.activeElement).outlineStyle]"
    )
    assert focused == [True, "solid"]  # the focus ring is visible
    page.get_by_role("button", name="Acknowledge").focus()
    page.keyboard.press("Enter")
    page.locator(".flash-ok").wait_for()
    assert page.locator(".incident-head .status").inner_text() == "acknowledged"
