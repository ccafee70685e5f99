"""Notifiers against real receivers: a signed webhook, a Slack-shaped webhook, SMTP."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from quell import scheduler
from quell.config import ConfigError, apply_config, load_config, parse_config
from quell.errors import InvalidInput
from quell.escalation import notify
from quell.incidents.service import create_incident, get_incident, transition
from quell.incidents.timeline import events
from quell.store.db import session_scope
from quell.timeutil import utcnow
from tests.escalation.conftest import SECRET, Receiver

YAML = """
teams:
  - name: core
    members: [{name: Ada, email: ada@example.com}]
systems:
  - {name: chat, kind: generative, owner_team: core}
notifications:
  channels:
    - {name: hook, type: webhook, url_env: QUELL_TEST_HOOK_URL, secret_env: QUELL_TEST_HOOK_SECRET,
       audiences: [customer]}
    - {name: slack, type: slack, url: "SLACK_URL", audiences: [internal]}
    - {name: execs, type: email, to: [cto@example.com, ceo@example.com], audiences: [executive]}
"""


def _setup(db: Engine, tmp_path: Path, slack_url: str = "http://127.0.0.1:9/none") -> int:
    path = tmp_path / "quell.yaml"
    path.write_text(YAML.replace("SLACK_URL", slack_url), encoding="utf-8")
    config, extras = load_config(path)
    with session_scope(db) as s:
        report = apply_config(s, config, extras)
        assert report["notifications"] == {
            "hook": "created",
            "slack": "created",
            "execs": "created",
        }
        incident = create_incident(
            s, actor="ada", title="Bot leaks", severity="SEV-2", systems=["chat"]
        )
        return incident.id


def test_signed_webhook_reaches_a_real_receiver(
    db: Engine, tmp_path: Path, webhook: Receiver
) -> None:
    iid = _setup(db, tmp_path)
    with session_scope(db) as s:
        incident = get_incident(s, iid)
        delivery = notify.send(
            s,
            incident,
            "hook",
            subject="Update",
            body="We rolled back.",
            actor="ada",
            audience="customer",
        )
        assert delivery.status == "sent" and delivery.status_code == 200
    [got] = webhook.received
    assert got.signature_ok is True
    body = got.json()
    assert body["subject"] == "Update" and body["body"] == "We rolled back."
    assert body["incident"]["id"] == iid and body["incident"]["systems"] == ["chat"]
    assert got.headers["X-Quell-Signature"].startswith("sha256=")
    # A body changed in transit no longer matches its signature.
    stamp = got.headers["X-Quell-Timestamp"]
    assert not notify.verify_signature(
        SECRET, stamp, got.body + b" ", got.headers["X-Quell-Signature"]
    )
    assert not notify.verify_signature("other", stamp, got.body, got.headers["X-Quell-Signature"])
    with session_scope(db) as s:
        sent = [e for e in events(s, iid) if e.kind == "notification.sent"]
        assert len(sent) == 1
        assert sent[0].data["channel"] == "hook" and sent[0].data["status_code"] == 200
        assert sent[0].data["attempt"] == 1


def test_a_failed_webhook_is_retried_by_the_scheduler_with_backoff(
    db: Engine, tmp_path: Path, webhook: Receiver
) -> None:
    iid = _setup(db, tmp_path)
    webhook.responses = [503, 502]
    start = utcnow()
    with session_scope(db) as s:
        delivery = notify.send(
            s, get_incident(s, iid), "hook", subject="Page", body="b", actor="ada"
        )
        assert delivery.status == "retrying" and delivery.status_code == 503
        delivery_id = delivery.id
        [job] = scheduler.pending(s, key=f"delivery:{delivery_id}")
        assert job.due_at >= start + scheduler.backoff(1)
    # Before the backoff has passed nothing is sent again.
    scheduler.run_due(db, now=start)
    assert len(webhook.received) == 1
    scheduler.run_due(db, now=start + scheduler.backoff(1) + timedelta(seconds=5))
    assert len(webhook.received) == 2  # second attempt: 502
    scheduler.run_due(db, now=start + timedelta(hours=1))
    assert len(webhook.received) == 3
    assert [r.json()["attempt"] for r in webhook.received] == [1, 2, 3]
    assert all(r.signature_ok for r in webhook.received)
    with session_scope(db) as s:
        kinds = [
            (e.kind, e.data.get("attempt"), e.data.get("status_code"))
            for e in events(s, iid)
            if e.kind.startswith("notification.")
        ]
        assert kinds == [
            ("notification.failed", 1, 503),
            ("notification.failed", 2, 502),
            ("notification.sent", 3, 200),
        ]
        assert scheduler.pending(s, key=f"delivery:{delivery_id}") == []


def test_a_webhook_that_never_answers_gives_up_after_max_attempts(
    db: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    iid = _setup(db, tmp_path)
    monkeypatch.setenv("QUELL_TEST_HOOK_URL", "http://127.0.0.1:9/closed")
    monkeypatch.setenv("QUELL_TEST_HOOK_SECRET", SECRET)
    with session_scope(db) as s:
        delivery = notify.send(
            s, get_incident(s, iid), "hook", subject="x", body="y", actor="ada", max_attempts=2
        )
        assert delivery.status == "retrying" and delivery.error
    scheduler.run_due(db, now=utcnow() + timedelta(hours=1))
    with session_scope(db) as s:
        failed = [e for e in events(s, iid) if e.kind == "notification.failed"]
        assert [e.data["attempt"] for e in failed] == [1, 2]
        assert failed[-1].data["gave_up"] is True


def test_slack_gets_text_and_blocks(db: Engine, tmp_path: Path, slack: Receiver) -> None:
    iid = _setup(db, tmp_path, slack_url=slack.url)
    with session_scope(db) as s:
        delivery = notify.send(
            s,
            get_incident(s, iid),
            "slack",
            subject="SEV-2 page",
            body="*chat* is leaking",
            actor="ada",
        )
        assert delivery.status == "sent"
        # The URL of a Slack webhook is a secret: only its host is recorded.
        assert delivery.target == slack.url.rsplit("/", 1)[0]
    body = slack.received[0].json()
    assert set(body) == {"text", "blocks"}
    assert "SEV-2 page" in body["text"] and "*chat* is leaking" in body["text"]
    assert body["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "SEV-2 page"},
    }
    assert body["blocks"][1]["text"] == {"type": "mrkdwn", "text": "*chat* is leaking"}
    fields = " ".join(f["text"] for f in body["blocks"][2]["fields"])
    assert f"#{iid} Bot leaks" in fields and "SEV-2" in fields


def test_email_goes_through_a_real_smtp_server(db: Engine, tmp_path: Path, smtp) -> None:  # type: ignore[no-untyped-def]
    iid = _setup(db, tmp_path)
    with session_scope(db) as s:
        incident = get_incident(s, iid)
        [delivery] = notify.broadcast(
            s, incident, subject="Exec brief", body="Contained.", audience="executive", actor="ada"
        )
        assert delivery.status == "sent" and delivery.channel == "execs"
        direct = notify.send(
            s, incident, "mailto:ada@example.com", subject="Page", body="Hi", actor="quell"
        )
        assert direct.status == "sent"
    (sender, rcpts, msg), (_, rcpts2, msg2) = smtp.messages
    assert sender == "quell@test.local"
    assert rcpts == ["cto@example.com", "ceo@example.com"]
    assert msg["Subject"] == "Exec brief" and msg.get_payload().strip() == "Contained."
    assert msg["X-Quell-Incident"] == str(iid)
    assert rcpts2 == ["ada@example.com"] and msg2["Subject"] == "Page"


def test_broadcast_picks_channels_by_audience(
    db: Engine,
    tmp_path: Path,
    webhook: Receiver,
    smtp,  # type: ignore[no-untyped-def]
) -> None:
    iid = _setup(db, tmp_path)
    with session_scope(db) as s:
        incident = get_incident(s, iid)
        customer = notify.broadcast(
            s, incident, subject="s", body="b", audience="customer", actor="ada"
        )
        regulator = notify.broadcast(
            s, incident, subject="s", body="b", audience="regulator", actor="ada"
        )
        assert [d.channel for d in customer] == ["hook"] and regulator == []
        with pytest.raises(InvalidInput, match="unknown audience 'press'"):
            notify.broadcast(s, incident, subject="s", body="b", audience="press", actor="ada")
    assert len(webhook.received) == 1 and smtp.messages == []


def test_bad_channel_config_is_refused_naming_the_field() -> None:
    with pytest.raises(ConfigError, match="a webhook channel needs secret_env") as info:
        parse_config(
            {
                "notifications": {
                    "channels": [{"name": "h", "type": "webhook", "url": "https://x.example"}]
                }
            }
        )
    assert info.value.field is not None and info.value.field.startswith("notifications.channels[0]")
    with pytest.raises(ConfigError, match=r"notifications\.channels\[0\]\.url: must be an http"):
        parse_config(
            {"notifications": {"channels": [{"name": "h", "type": "slack", "url": "ftp://x"}]}}
        )


def test_smtp_login_with_credentials_from_the_environment(
    db: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    from tests.escalation.conftest import _free_port, _Inbox

    logins: list[tuple[str, str]] = []

    def check(
        server: object, session: object, envelope: object, mechanism: str, data: object
    ) -> AuthResult:
        user, password = data.login.decode(), data.password.decode()  # type: ignore[attr-defined]
        logins.append((user, password))
        return AuthResult(success=password == "right", handled=False)

    inbox, port = _Inbox(), _free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=check,
        auth_require_tls=False,
        auth_required=True,
    )
    controller.start()
    try:
        monkeypatch.setenv("QUELL_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("QUELL_SMTP_PORT", str(port))
        monkeypatch.setenv("QUELL_SMTP_USER", "quell")
        monkeypatch.setenv("QUELL_SMTP_PASSWORD", "wrong")
        iid = _setup(db, tmp_path)
        with session_scope(db) as s:
            refused = notify.send(
                s, get_incident(s, iid), "execs", subject="x", body="y", actor="ada"
            )
            assert refused.status == "retrying" and "535" in (refused.error or "")
        monkeypatch.setenv("QUELL_SMTP_PASSWORD", "right")
        with session_scope(db) as s:  # acknowledged: no page email besides the retry
            transition(s, iid, "acknowledged", actor="ada")
        scheduler.run_due(db, now=utcnow() + timedelta(minutes=5))
    finally:
        controller.stop()
    # smtplib tries each mechanism the server offers before giving up.
    assert set(logins[:-1]) == {("quell", "wrong")} and logins[-1] == ("quell", "right")
    assert len(inbox.messages) == 1 and inbox.messages[0][2]["Subject"] == "x"
