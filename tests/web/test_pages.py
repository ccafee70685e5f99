"""The console's page routes through TestClient: status codes, roles, CSRF, no-JS rendering."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, update

from quell.auth.models import ApiToken
from quell.incidents.models import Incident, TimelineEvent
from quell.store.db import session_scope
from quell.timeutil import utcnow
from tests.web.conftest import login


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def events(db: Engine) -> int:
    with session_scope(db) as s:
        return int(s.scalar(select(func.count(TimelineEvent.id))) or 0)


def status_of(db: Engine, incident_id: int) -> str:
    with session_scope(db) as s:
        incident = s.get(Incident, incident_id)
        assert incident is not None
        return incident.status


def test_pages_need_a_login_and_come_back_after_it(
    web_client: TestClient, seeded: dict[str, Any]
) -> None:
    r = web_client.get("/", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "/board"
    for path in ("/board", "/incidents/2", "/systems", "/risks", "/graph", "/metrics", "/events"):
        r = web_client.get(path, follow_redirects=False)
        assert r.status_code == 303, path
        assert r.headers["location"].startswith("/login?next=")
    r = web_client.get("/login?next=/incidents/2")
    assert 'name="next" value="/incidents/2"' in r.text
    r = web_client.post(
        "/login",
        data={"username": "responder", "password": "quell-demo", "next": "/incidents/2"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/incidents/2"
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("quell_token="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=43200" in cookie


def test_login_refuses_bad_credentials_and_foreign_redirects(
    web_client: TestClient, seeded: dict[str, Any]
) -> None:
    r = web_client.post("/login", data={"username": "responder", "password": "wrong-password"})
    assert r.status_code == 401 and "wrong user name or password" in r.text
    assert "quell_token" not in r.cookies
    r = web_client.post("/login", data={"token": "qk_not-a-token"})
    assert r.status_code == 401 and "invalid or revoked API token" in r.text
    r = web_client.post("/login", data={})
    assert r.status_code == 422 and "enter a user name and password" in r.text
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        r = web_client.get("/login", params={"next": target})
        assert 'name="next" value="/board"' in r.text, target
    r = web_client.post(
        "/login",
        data={"username": "viewer", "password": "quell-demo", "next": "https://evil.example/"},
        follow_redirects=False,
    )
    assert r.headers["location"] == "/board"


def test_token_login_mints_a_separate_session_that_logout_revokes(
    web_client: TestClient, seeded: dict[str, Any]
) -> None:
    admin_token = str(seeded["admin_token"])
    r = web_client.post("/login", data={"token": admin_token}, follow_redirects=False)
    assert r.status_code == 303
    session_token = web_client.cookies["quell_token"]
    assert session_token != admin_token  # the console never stores the pasted token
    page = web_client.get("/board")
    assert "demo-admin" in page.text
    r = web_client.post("/logout", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    web_client.cookies.clear()
    revoked = web_client.get(
        "/api/v1/incidents", headers={"Authorization": f"Bearer {session_token}"}
    )
    assert revoked.status_code == 401  # logged out everywhere, the API included
    still = web_client.get("/api/v1/incidents", headers={"Authorization": f"Bearer {admin_token}"})
    assert still.status_code == 200


def test_an_expired_console_session_is_refused_and_revoked(
    web_client: TestClient, seeded: dict[str, Any], db: Engine
) -> None:
    login(web_client, "responder")
    token = web_client.cookies["quell_token"]
    with session_scope(db) as s:
        s.execute(
            update(ApiToken)
            .where(ApiToken.name == "responder")
            .values(created_at=utcnow() - timedelta(hours=13))
        )
    r = web_client.get("/board", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    api = web_client.get("/api/v1/incidents", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 401


def test_every_page_reads_without_javascript(
    web_client: TestClient, seeded: dict[str, Any]
) -> None:
    login(web_client, "viewer")
    board = web_client.get("/board").text
    assert "Refunds agent issuing refunds above the 200 EUR limit" in board
    assert "Fraud score distribution shifted" in board
    assert "Chatbot disclosed order history" not in board  # resolved: not on the open board
    assert "Chatbot disclosed order history" in web_client.get("/board?status=all").text
    only = web_client.get("/board?severity=SEV-3").text
    assert "Fraud score" in only and "Refunds agent" not in only
    assert "Refunds agent" in web_client.get("/board?system=refunds-agent").text
    assert "Fraud score" not in web_client.get("/board?system=refunds-agent").text
    bad = web_client.get("/board?severity=SEV-9")
    assert bad.status_code == 422 and "unknown severity" in bad.text
    incident = web_client.get("/incidents/2").text
    for text in (
        "Agentic misalignment",
        "refunds-agent",
        "Dana Levi",
        "incident.acknowledged",
        "Eli Moreau",
        "ASI01",
    ):
        assert text in incident, text
    assert web_client.get("/incidents/999").status_code == 404
    assert "fraud-gbm-2026-11-02" in web_client.get("/systems").text
    agent = web_client.get("/systems/refunds-agent").text
    assert "queue refunds for a human agent" in agent
    assert "<dt>Guard</dt>" in agent and "revoked since" in agent  # by the demo's SEV-1 policy
    assert web_client.get("/systems/nope").status_code == 404
    risks = web_client.get("/risks").text
    assert risks.index("RISK-001") < risks.index("RISK-003")  # score 15 before score 9
    graph = web_client.get("/graph").text
    assert "<svg" in graph and "fraud-scorer → refunds-agent" in graph
    assert "refunds-agent → support-chatbot" in graph
    metrics = web_client.get("/metrics?days=30").text
    assert metrics.count("<svg") == 2 and "Time to acknowledge" in metrics
    assert web_client.get("/metrics?days=0").status_code == 422
    rows = web_client.get("/board/rows").text
    assert rows.lstrip().startswith("<tr") and "<html" not in rows


def test_a_viewer_sees_no_form_and_every_forged_post_is_refused(
    web_client: TestClient, seeded: dict[str, Any], db: Engine
) -> None:
    login(web_client, "viewer")
    page = web_client.get("/incidents/2").text
    assert "/transition" not in page and "kill-switch" not in page and "/roles" not in page
    assert "Press the kill switch" not in page and 'name="csrf"' in page  # only Sign out
    csrf = csrf_of(page)
    before = events(db)
    for path, data in (
        ("/incidents/2/transition", {"to": "resolved"}),
        ("/incidents/2/roles", {"role": "scribe", "person": "Vic"}),
        ("/incidents/2/notes", {"text": "hello"}),
        ("/incidents/2/kill-switch", {"confirm": "yes"}),
        ("/incidents/2/actions", {"choice": "revoke_agent@refunds-agent"}),
        ("/incidents/2/gates/personal_data_exposed", {"answer": "yes"}),
        ("/incidents/2/updates", {"audience": "internal"}),
        ("/incidents/2/postmortem", {"summary": "x"}),
    ):
        r = web_client.post(path, data={**data, "csrf": csrf}, follow_redirects=False)
        assert r.status_code == 403, path
        assert "needs the responder role" in r.text and "Traceback" not in r.text
    assert events(db) == before and status_of(db, 2) == "acknowledged"


def test_forms_without_the_csrf_token_or_from_another_origin_are_refused(
    web_client: TestClient, seeded: dict[str, Any], db: Engine
) -> None:
    login(web_client, "responder")
    csrf = csrf_of(web_client.get("/incidents/3").text)
    before = events(db)
    r = web_client.post("/incidents/3/transition", data={"to": "acknowledged"})
    assert r.status_code == 403 and "security token" in r.text
    r = web_client.post("/incidents/3/transition", data={"to": "acknowledged", "csrf": "0" * 64})
    assert r.status_code == 403
    r = web_client.post(
        "/incidents/3/transition",
        data={"to": "acknowledged", "csrf": csrf},
        headers={"Origin": "https://evil.example"},
    )
    assert r.status_code == 403 and "not from the console" in r.text
    assert events(db) == before and status_of(db, 3) == "triggered"
    r = web_client.post(
        "/incidents/3/transition",
        data={"to": "acknowledged", "csrf": csrf},
        headers={"Origin": "http://testserver"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/incidents/3#status"
    assert status_of(db, 3) == "acknowledged"


def test_a_refused_change_comes_back_as_a_message_and_changes_nothing(
    web_client: TestClient, seeded: dict[str, Any], db: Engine
) -> None:
    login(web_client, "responder")
    csrf = csrf_of(web_client.get("/incidents/3").text)
    before = events(db)
    r = web_client.post("/incidents/3/transition", data={"to": "closed", "csrf": csrf})
    assert r.status_code == 200  # followed the redirect back to the incident
    assert "cannot move an incident from triggered to closed" in r.text
    assert 'class="flash flash-error"' in r.text
    again = web_client.get("/incidents/3").text
    assert "cannot move an incident" not in again  # the message is shown once
    r = web_client.post("/incidents/3/roles", data={"role": "boss", "person": "X", "csrf": csrf})
    assert "unknown role 'boss'" in html.unescape(r.text)
    r = web_client.post("/incidents/3/notes", data={"text": "  ", "csrf": csrf})
    assert "a note must have some text" in r.text
    assert events(db) == before
    r = web_client.post("/incidents/3/notes", data={"text": "checking PSI", "csrf": csrf})
    assert "Note added" in r.text and "checking PSI" in r.text
    assert events(db) == before + 1


def test_kill_switch_needs_the_confirmation_box(
    web_client: TestClient, seeded: dict[str, Any], db: Engine
) -> None:
    login(web_client, "responder")
    page = web_client.get("/incidents/2").text
    assert "Press the kill switch" in page
    before = events(db)
    r = web_client.post("/incidents/2/kill-switch", data={"csrf": csrf_of(page)})
    assert "Tick the confirmation box" in r.text and events(db) == before
    r = web_client.post(
        "/incidents/2/kill-switch", data={"csrf": csrf_of(page), "confirm": "yes", "reason": "x"}
    )
    flash = re.search(r'class="flash flash-\w+"[^>]*>([^<]*)<', r.text)
    assert flash and html.unescape(flash.group(1)).startswith("Kill switch:"), r.text[:3000]
    # The demo's SEV-1 agentic incident had its agent revoked by the built-in policy already.
    assert "revoked: refunds-agent" in flash.group(1)
    assert "<strong>refunds-agent</strong> (revoked)" in r.text


def test_the_live_stream_says_hello_with_a_change_token(
    web_client: TestClient, seeded: dict[str, Any]
) -> None:
    login(web_client, "viewer")
    with web_client.stream("GET", "/events") as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        first = next(r.iter_lines())
        assert first.startswith("retry:")


def test_postmortem_export_and_static_files(web_client: TestClient, seeded: dict[str, Any]) -> None:
    login(web_client, "viewer")
    assert web_client.get("/static/console.css").status_code == 200
    assert "EventSource" in web_client.get("/static/console.js").text
    md = web_client.get("/incidents/1/postmortem.md")
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
    assert "Chatbot disclosed order history" in md.text
    assert web_client.get("/incidents/1/postmortem.pdf").status_code == 422


def test_checklist_steps_and_clocks_change_through_their_forms(
    web_client: TestClient, seeded: dict[str, Any], db: Engine
) -> None:
    login(web_client, "responder")
    page = web_client.get("/incidents/2").text
    csrf = csrf_of(page)
    step = re.search(r'action="/incidents/2/checklist/([^"]+)"', page)
    assert step, "the SEV-1 agentic incident has a playbook"
    r = web_client.post(f"/incidents/2/checklist/{step.group(1)}", data={"csrf": csrf})
    assert "Step ticked." in r.text and "responder" in r.text
    assert re.search(r"1 of \d+ steps done", r.text)
    r = web_client.post(
        "/incidents/2/checklist/no-such-step", data={"csrf": csrf}, follow_redirects=True
    )
    assert "is not on incident 2" in html.unescape(r.text)

    page = web_client.get("/incidents/1").text  # personal data exposed: GDPR's clock runs
    clock = re.search(r'action="/incidents/1/clocks/([^/]+)/([^"]+)"', page)
    assert clock, "the demo's data leak starts a regulatory clock"
    url = f"/incidents/1/clocks/{clock.group(1)}/{clock.group(2)}"
    before = events(db)
    r = web_client.post(
        url, data={"csrf": csrf, "what": "anchor", "at": "2099-01-01T00:00", "reason": "x"}
    )
    assert "lies in the future" in r.text and events(db) == before
    r = web_client.post(url, data={"csrf": csrf, "what": "met", "reference": "DPA-2026-118"})
    assert "Notification recorded as filed." in r.text and "Met " in r.text
    assert events(db) == before + 1


def test_declaring_an_incident_by_hand_and_markup_in_it_stays_text(
    web_client: TestClient, seeded: dict[str, Any], db: Engine
) -> None:
    login(web_client, "responder")
    with session_scope(db) as s:
        new_id = int(s.scalar(select(func.max(Incident.id))) or 0) + 1
    board = web_client.get("/board").text
    assert 'action="/incidents"' in board
    csrf = csrf_of(board)
    r = web_client.post(
        "/incidents",
        data={
            "csrf": csrf,
            "title": "<script>alert(1)</script> chatbot swears",
            "severity": "SEV-2",
            "archetype": "toxicity_abuse",
            "systems": ["support-chatbot"],
            "summary": "reported by support",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"/incidents/{new_id}"
    page = web_client.get(f"/incidents/{new_id}").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; chatbot swears" in page
    assert "<script>alert(1)" not in page
    assert "<script>alert(1)" not in web_client.get("/board").text
    with session_scope(db) as s:
        incident = s.get(Incident, new_id)
        assert incident is not None and incident.source == "console"
    r = web_client.post("/incidents", data={"csrf": csrf, "title": " ", "severity": "SEV-2"})
    assert "title must not be empty" in r.text
    r = web_client.post("/incidents", data={"csrf": csrf, "title": "x", "severity": "SEV-7"})
    assert "unknown severity" in html.unescape(r.text)
    login(web_client, "viewer")
    viewer_board = web_client.get("/board").text
    assert 'action="/incidents"' not in viewer_board
    r = web_client.post("/incidents", data={"csrf": csrf_of(viewer_board), "title": "x"})
    assert r.status_code == 403
