"""Shared pieces of the remediation tests: a small inventory and a real signed-webhook receiver."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy import Engine

from quell.config import apply_config, parse_config
from quell.store.db import session_scope

INVENTORY = """
systems:
  - {name: refunds-agent, kind: agent, criticality: high}
  - {name: payout-agent, kind: agent, criticality: critical}
  - {name: chat, kind: generative, criticality: high, safe_fallback: canned answers,
     data_classes: [personal_data], current_model_version: chat-3, previous_model_version: chat-2}
  - {name: scorer, kind: predictive, criticality: critical,
     current_model_version: gbm-7, previous_model_version: gbm-6}
"""


def apply_yaml(db: Engine, text: str) -> dict[str, Any]:
    import yaml

    config, extras = parse_config(yaml.safe_load(text))
    with session_scope(db) as session:
        return apply_config(session, config, extras)


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1 that checks quell's HMAC signature on every request."""

    secret: str
    status: int = 200
    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    bad_signatures: int = 0


@contextmanager
def webhook_receiver(secret: str, status: int = 200) -> Iterator[Receiver]:
    state = Receiver(secret=secret, status=status)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            timestamp = self.headers.get("X-Quell-Timestamp", "")
            # Computed here with hmac directly, not with quell's own helper, so a wrong scheme
            # on quell's side cannot verify itself.
            expected = (
                "sha256="
                + hmac.new(
                    state.secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256
                ).hexdigest()
            )
            if not hmac.compare_digest(expected, self.headers.get("X-Quell-Signature", "")):
                state.bad_signatures += 1
                self._reply(401, b'{"error": "bad signature"}')
                return
            state.received.append(json.loads(body))
            self._reply(state.status, b'{"ok": true, "note": "fallback engaged"}')

        def _reply(self, code: int, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/contain"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
