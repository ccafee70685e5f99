"""Real receivers on 127.0.0.1 for the notifier tests: an HTTP server that checks the quell
signature, and an SMTP server (aiosmtpd)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine, create_engine, text

from quell.escalation.notify import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature

SECRET = "s3cret-for-tests"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    signature_ok: bool | None

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """An HTTP endpoint that records each POST; `responses` are status codes to answer with,
    in order (200 once they run out)."""

    url: str
    secret: str | None
    received: list[Received] = field(default_factory=list)
    responses: list[int] = field(default_factory=list)


def _start_receiver(secret: str | None) -> tuple[Receiver, ThreadingHTTPServer]:
    receiver = Receiver(url="", secret=secret)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            ok = None
            if receiver.secret is not None:
                ok = verify_signature(
                    receiver.secret,
                    self.headers.get(TIMESTAMP_HEADER, ""),
                    body,
                    self.headers.get(SIGNATURE_HEADER, ""),
                )
            with lock:
                receiver.received.append(Received(self.path, dict(self.headers), body, ok))
                status = receiver.responses.pop(0) if receiver.responses else 200
            if ok is False:
                status = 401  # what a real receiver does with a bad signature
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b"ok" if status < 300 else b"nope")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver, server


@pytest.fixture()
def webhook(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    """A signed-webhook receiver; its URL and secret are in QUELL_TEST_HOOK_URL/SECRET."""
    receiver, server = _start_receiver(SECRET)
    monkeypatch.setenv("QUELL_TEST_HOOK_URL", receiver.url)
    monkeypatch.setenv("QUELL_TEST_HOOK_SECRET", SECRET)
    yield receiver
    server.shutdown()
    server.server_close()


@pytest.fixture()
def slack() -> Iterator[Receiver]:
    """Stands in for Slack's incoming-webhook endpoint (unsigned)."""
    receiver, server = _start_receiver(None)
    yield receiver
    server.shutdown()
    server.server_close()


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            (envelope.mail_from, list(envelope.rcpt_tos), message_from_bytes(envelope.content))
        )
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Inbox]:
    """A real SMTP server on 127.0.0.1; QUELL_SMTP_* point at it."""
    inbox = _Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("QUELL_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("QUELL_SMTP_PORT", str(port))
    monkeypatch.setenv("QUELL_SMTP_FROM", "quell@test.local")
    yield inbox
    controller.stop()


def fresh_engine(db: Engine) -> Engine:
    """A new engine on the same database (and PostgreSQL schema), as a restarted process has."""
    if db.dialect.name == "postgresql":
        with db.connect() as conn:
            path = conn.execute(text("SHOW search_path")).scalar()
        return create_engine(db.url, connect_args={"options": f"-csearch_path={path}"})
    return create_engine(db.url, connect_args={"check_same_thread": False})
