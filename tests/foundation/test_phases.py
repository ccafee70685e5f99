"""Every phase's rules apply to an incident however it is changed, even from a bare script."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = """
import sys
from quell.store.db import get_engine, session_scope, upgrade
from quell.incidents import service
from quell.incidents.timeline import events

engine = get_engine(sys.argv[1])
if sys.argv[2] == "setup":
    from quell.config import apply_config, parse_config

    upgrade(engine)
    config, extras = parse_config({"systems": [{"name": "bot", "kind": "agent"}]})
    with session_scope(engine) as s:
        apply_config(s, config, extras)
    sys.exit(0)
with session_scope(engine) as s:
    inc = service.create_incident(
        s, actor="script", title="agent gone rogue", severity="SEV-1",
        archetype="agentic_misalignment", systems=["bot"],
    )
    print(",".join(e.kind for e in events(s, inc.id)))
"""


def test_a_script_that_never_imports_the_app_still_gets_every_phase(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"

    def run(mode: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", SCRIPT, url, mode], capture_output=True, text=True, timeout=120
        )

    assert run("setup").returncode == 0
    # A fresh process that only imports the incident service: no app, no CLI, no quell.yaml.
    out = run("incident")
    assert out.returncode == 0, out.stderr
    kinds = out.stdout.strip().split(",")
    # The default containment policy revokes an agent at SEV-1 agentic misalignment.
    assert "guard.revoked" in kinds, kinds
