"""The issue's main flow, end to end in the browser: a signal arrives through the API, the
incident appears on the board without a reload, a responder acknowledges it and assigns the
commander, presses the agent kill switch, an admin approves it, an update is published, the
incident is resolved and its postmortem is written and exported."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from quell.auth.service import create_token, create_user
from quell.config import apply_config, load_config
from quell.demo import DEMO_PASSWORD, demo_config_path
from quell.detection.pipeline import Correlator
from quell.store.db import session_scope
from tests.web.conftest import answer_open_gates, browser_login, shot

pytestmark = pytest.mark.browser

# The demo inventory, with the two-person rule on high-criticality systems and no
# pre-approval policy, so the kill switch waits for a second person to approve it.
RULES = """
containment:
  two_person_rule: {criticality: [high, critical]}
  default_policies: false
"""


@pytest.fixture()
def inventory(db: Engine, tmp_path: Path) -> dict[str, str]:
    """Demo systems and users, no incident yet; an intake token for the sender."""
    Correlator.forget(db)  # the correlation index is per engine; start from the empty store
    config_file = tmp_path / "quell.yaml"
    config_file.write_text(demo_config_path().read_text("utf-8") + RULES, encoding="utf-8")
    with session_scope(db) as session:
        config, extras = load_config(config_file)
        apply_config(session, config, extras, source=str(config_file))
        for name, role in (("admin", "admin"), ("responder", "responder")):
            create_user(session, username=name, password=DEMO_PASSWORD, role=role)
        sender, _ = create_token(session, name="guard-monitor", role="responder")
    return {"sender": sender}


def test_signal_to_postmortem(
    page: Any, browser: Any, live_server: str, inventory: dict[str, str], db: Engine
) -> None:
    browser_login(page, live_server, "responder")
    page.wait_for_function("document.getElementById('live-status').textContent.includes('Live')")
    assert page.locator("#board-rows tr[data-incident]").count() == 0
    page.evaluate("window.__same_page = true")

    # 1. A signal arrives through the intake API.
    r = httpx.post(
        f"{live_server}/api/v1/signals",
        json={
            "source": "guard",
            "system": "refunds-agent",
            "kind": "agent_action",
            "severity": "critical",
            "archetype": "agentic_misalignment",
            "summary": "refunds-agent issued a 950 EUR refund (limit 200 EUR)",
            "labels": {"tool": "issue_refund"},
            "evidence": {"amount_eur": 950},
        },
        headers={"Authorization": f"Bearer {inventory['sender']}"},
    )
    assert r.status_code == 202, r.text
    assert r.json()["incidents"], r.text  # a critical signal pages at once
    incident_id = r.json()["incidents"][0]

    # 2. It appears on the board without a reload.
    row = page.locator(f'#board-rows tr[data-incident="{incident_id}"]')
    row.wait_for()
    assert page.evaluate("window.__same_page") is True
    assert "refunds-agent" in row.inner_text()
    shot(page, "flow-1-board")

    # 3. Acknowledge, 4. assign the commander.
    row.get_by_role("link").first.click()
    page.wait_for_url(f"{live_server}/incidents/{incident_id}")
    assert "950 EUR" in page.locator("#signals").inner_text()  # the signal is on the page
    page.get_by_role("button", name="Acknowledge").click()
    page.locator(".flash-ok").wait_for()
    assert page.locator(".incident-head .status").inner_text() == "acknowledged"
    page.get_by_label("Role", exact=True).select_option("incident_commander")
    page.get_by_label("Person", exact=True).fill("Dana Levi")
    page.get_by_role("button", name="Assign").click()
    page.locator(".flash-ok").wait_for()
    assert "Incident commander\tDana Levi" in page.locator("#roles table").inner_text()

    # 5. Press the kill switch: a confirmation first, then it waits for a second person.
    page.on("dialog", lambda dialog: dialog.accept())  # the JS confirm() on top of the checkbox
    page.get_by_role("button", name="Press the kill switch").click()
    assert page.url.endswith("#roles")  # the required checkbox stopped the submission
    page.get_by_label("I confirm").check()
    page.get_by_label("Reason").first.fill("refunds above the limit")
    page.get_by_role("button", name="Press the kill switch").click()
    assert "second approver" in page.locator(".flash-ok").inner_text()
    card = page.locator("#actions .card.pending")
    assert "revoke" in card.inner_text().lower() and "proposed" in card.inner_text()
    assert page.get_by_role("button", name="Approve and run").count() == 0  # not by the proposer
    shot(page, "flow-2-kill-switch-proposed")

    # ... and an admin, in their own browser, approves it; the guard now denies the agent.
    admin = browser.new_context(viewport={"width": 1366, "height": 768})
    admin_page = admin.new_page()
    browser_login(admin_page, live_server, "admin")
    admin_page.goto(f"{live_server}/incidents/{incident_id}#actions")
    admin_page.get_by_role("button", name="Approve and run").click()
    assert "succeeded" in admin_page.locator(".flash-ok").inner_text()
    assert "(revoked)" in admin_page.locator(".killswitch").inner_text()
    shot(admin_page, "flow-3-kill-switch-approved")
    admin.close()
    status = httpx.get(
        f"{live_server}/api/v1/guard/refunds-agent",
        headers={"Authorization": f"Bearer {inventory['sender']}"},
    )
    assert status.status_code == 200, status.text
    assert status.json()["containment"]["state"] == "revoked"

    # 6. Publish a What We Know update (the draft is pre-filled; edit one part).
    page.goto(f"{live_server}/incidents/{incident_id}?audience=executive#wwk")
    assert page.get_by_role("link", name="Executive").get_attribute("aria-current") == "true"
    page.get_by_label("What we are doing").fill(
        "The refunds agent is revoked; refunds go to people."
    )
    page.get_by_role("button", name="Publish executive update").click()
    assert "Published the executive update" in page.locator(".flash-ok").inner_text()
    published = page.locator("#wwk details.card").first.inner_text()
    assert "#1 executive" in published
    assert page.locator("#wwk time.countdown").count() == 1  # the next update counts down
    shot(page, "flow-4-update-published")

    # 7. Resolve: refused while decisions are open, with the reason on the page; answer them.
    page.get_by_role("button", name="Resolve").click()
    assert "decision gate(s) are unanswered" in page.locator(".flash-error").inner_text()
    answer_open_gates(page)
    page.get_by_role("button", name="Resolve").click()
    assert "is now resolved" in page.locator(".flash").inner_text()
    assert page.locator(".incident-head .status").inner_text() == "resolved"

    # 8. View and write the postmortem, then open its export.
    pm = page.locator("#postmortem")
    assert "pre-filled" in pm.inner_text()
    page.get_by_label("Root cause").fill("A prompt template change widened the refund mandate.")
    page.get_by_label("Action item 1").fill("Add a hard refund cap in the payments tool")
    page.get_by_label("Owner of item 1").fill("Eli Moreau")
    page.get_by_role("button", name="Save postmortem").click()
    assert "Postmortem saved" in page.locator(".flash-ok").inner_text()
    assert "Version 1" in pm.inner_text()
    assert "Add a hard refund cap" in pm.inner_text()
    shot(page, "flow-5-postmortem")
    page.get_by_role("link", name="HTML").click()
    body = page.locator("body").inner_text()
    assert "A prompt template change widened the refund mandate." in body
    assert "Eli Moreau" in body
    shot(page, "flow-6-postmortem-export")
    timeline = httpx.get(
        f"{live_server}/api/v1/incidents/{incident_id}/timeline",
        headers={"Authorization": f"Bearer {inventory['sender']}"},
    ).json()
    kinds = [e["kind"] for e in timeline]
    for kind in (
        "incident.acknowledged",
        "role.assigned",
        "action.proposed",
        "action.approved",
        "update.published",
        "incident.resolved",
        "postmortem.created",
    ):
        assert kind in kinds, kinds
    actors = {e["kind"]: e["actor"] for e in timeline}
    assert actors["action.proposed"] == "responder" and actors["action.approved"] == "admin"
