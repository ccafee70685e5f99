"""A real ``quell serve`` in a subprocess, on a free 127.0.0.1 port, with its own SQLite store."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from quell.auth.service import create_token
from quell.config import apply_config, parse_config
from quell.store.db import get_engine, session_scope, upgrade

APP_YAML = """
teams:
  - name: ops
systems:
  - {name: support-chat, kind: generative, owner_team: ops, criticality: high}
  - {name: refund-agent, kind: agent, owner_team: ops, criticality: high}
  - {name: notes-agent, kind: agent, owner_team: ops, criticality: low}
agent_policies:
  refund-agent:
    cache_ttl_s: 1
    allow_tools: [lookup_order, issue_refund]
    arguments:
      issue_refund:
        amount: {max: 500}
  notes-agent:
    default: allow
correlation:
  group_wait: 0s
  min_signals: 1
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A running quell server and the tokens to talk to it."""

    url: str
    process: subprocess.Popen[bytes]
    tokens: dict[str, str]
    database_url: str

    def client(self, role: str = "responder") -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.tokens[role]}"}, timeout=10
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def _quell_command() -> list[str]:
    script = Path(sys.executable).parent / "quell"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from quell.cli import main; main(sys.argv[1:])"]


def start_server(folder: Path, config_text: str = APP_YAML) -> Server:
    """Migrate a fresh store, apply the config, make tokens, then start ``quell serve``."""
    database_url = f"sqlite:///{folder / 'quell.db'}"
    engine = get_engine(database_url)
    upgrade(engine)
    config, extras = parse_config(yaml.safe_load(config_text))
    tokens: dict[str, Any] = {}
    with session_scope(engine) as session:
        apply_config(session, config, extras)
        for role, name in (
            ("admin", "ada"),
            ("responder", "rui"),
            ("viewer", "vic"),
            ("reporter", "agent-bot"),
        ):
            tokens[role], _ = create_token(session, name=name, role=role)
    port = free_port()
    env = {**os.environ, "QUELL_DATABASE_URL": database_url}
    env.pop("QUELL_CONFIG", None)
    log = (folder / "server.log").open("wb")
    process = subprocess.Popen(
        [*_quell_command(), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=folder,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError((folder / "server.log").read_text("utf-8", "replace")[-3000:])
        try:
            if httpx.get(f"{url}/healthz", timeout=0.5).status_code == 200:
                return Server(url, process, tokens, database_url)
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("quell serve did not start within 30 s")


def eventually(check: Any, *, timeout_s: float = 5.0, interval_s: float = 0.1) -> Any:
    """Call ``check`` until it returns something truthy or the time is up (then return it)."""
    deadline = time.monotonic() + timeout_s
    result = check()
    while not result and time.monotonic() < deadline:
        time.sleep(interval_s)
        result = check()
    return result
