"""The phases of quell, loaded in one place.

Importing a phase's module registers its seams: quell.yaml sections
(`quell.config.register_section`), incident hooks (`TRANSITION_GUARDS`, `TRANSITION_LISTENERS`,
`CHANGE_LISTENERS` in `quell.incidents.service`), and scheduler jobs and periodic tasks
(`quell.scheduler.register`, `register_periodic`). `load()` imports them all; the incident
service calls it before the first change and quell.yaml before the first parse, so no entry
point (API, CLI, SDK, a script) can act on an incident with a phase's rules missing.
"""

from __future__ import annotations

import importlib
import threading

# A phase adds its registering modules here.
PHASE_MODULES: tuple[str, ...] = (
    "quell.ingest.integrations",
    "quell.detection.rules",
    "quell.detection.pipeline",
    "quell.escalation",
    "quell.escalation.config",
    "quell.escalation.notify",
    "quell.compliance.clocks",
    "quell.communication.cadence",
    "quell.remediation.guard_state",
    "quell.remediation.guard",
    "quell.remediation.connectors",
    "quell.remediation.approval_rules",
    "quell.remediation.actions",
    "quell.remediation.policies",
    "quell.remediation.gates",
    "quell.remediation.playbooks",
    "quell.postmortem",
    "quell.postmortem.guard",
)

_loaded = False
_lock = threading.Lock()


def load() -> None:
    """Import every phase module once (cheap after the first call)."""
    global _loaded
    if _loaded:
        return
    with _lock:
        if not _loaded:
            for name in PHASE_MODULES:
                importlib.import_module(name)
            _loaded = True
