"""The phases of quell, loaded in one place.

Importing a phase's module registers its seams: quell.yaml sections
(`quell.config.register_section`), incident hooks (`TRANSITION_GUARDS`, `TRANSITION_LISTENERS`,
`CHANGE_LISTENERS` in `quell.incidents.service`), scheduler jobs and periodic tasks
(`quell.scheduler.register`, `register_periodic`), and loaders of bundled data files that a
server runs at start (`warm_up`, run by `warm()`). `load()` imports them all; the incident
service calls it before the first change and quell.yaml before the first parse, so no entry
point (API, CLI, SDK, a script) can act on an incident with a phase's rules missing.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T", bound=Callable[[], object])

# A phase adds its registering modules here.
PHASE_MODULES: tuple[str, ...] = (
    "quell.ingest.integrations",
    "quell.detection.rules",
    "quell.detection.pipeline",
    "quell.escalation",
    "quell.escalation.config",
    "quell.escalation.notify",
    "quell.compliance.clocks",
    "quell.compliance.frameworks",
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


# Loaders of bundled data files (cached per process) that a server runs at start-up.
_WARMERS: list[Callable[[], object]] = []


def warm_up(loader: T) -> T:
    """Mark a cached, argument-free loader of a bundled file to be run by `warm()`."""
    _WARMERS.append(loader)
    return loader


def warm() -> None:
    """Load every phase and parse its bundled data now, not during the first incident.

    A server calls this at start: the first incident's request otherwise paid for parsing
    the shipped policies, gates, playbooks and frameworks (about 30 ms in the ingest bench).
    """
    load()
    for loader in _WARMERS:
        loader()
