"""The incident's vocabulary and state machine: statuses, legal moves, severities, roles."""

from __future__ import annotations

from typing import Final, Literal, get_args

from quell.errors import Conflict, InvalidInput

STATUSES: Final = ("triggered", "acknowledged", "mitigated", "resolved", "closed")
OPEN_STATUSES: Final = frozenset({"triggered", "acknowledged", "mitigated"})

# Forward moves follow the playbook; the backward ones are the legal corrections:
# a mitigation that did not hold (mitigated -> acknowledged), a reopen (resolved -> acknowledged).
TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    "triggered": frozenset({"acknowledged", "mitigated", "resolved"}),
    "acknowledged": frozenset({"mitigated", "resolved"}),
    "mitigated": frozenset({"resolved", "acknowledged"}),
    "resolved": frozenset({"closed", "acknowledged"}),
    "closed": frozenset(),
}

# The timestamp each status sets when it is first reached.
STATUS_TIMESTAMP: Final = {
    "acknowledged": "acknowledged_at",
    "mitigated": "mitigated_at",
    "resolved": "resolved_at",
    "closed": "closed_at",
}

SEVERITIES: Final = ("SEV-1", "SEV-2", "SEV-3", "SEV-4")

Archetype = Literal[
    "prompt_injection",
    "data_exfiltration",
    "model_manipulation",
    "misinformation_cascade",
    "toxicity_abuse",
    "agentic_misalignment",
    "unclassified",
]
ARCHETYPES: Final[tuple[str, ...]] = get_args(Archetype)

ROLES: Final = (
    "incident_commander",
    "scribe",
    "technical_lead",
    "comms_lead",
    "legal_liaison",
)

ROLE_TITLES: Final = {
    "incident_commander": "Incident commander",
    "scribe": "Scribe",
    "technical_lead": "Technical lead",
    "comms_lead": "Comms lead",
    "legal_liaison": "Legal/compliance liaison",
}


def check_transition(current: str, target: str) -> None:
    """Raise unless moving from `current` to `target` is a legal step of the state machine."""
    if target not in STATUSES:
        raise InvalidInput(
            f"unknown status {target!r}; expected one of {', '.join(STATUSES)}", field="to"
        )
    if target not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none (closed is final)"
        raise Conflict(f"cannot move an incident from {current} to {target}; allowed: {allowed}")


def _one_of(value: str, known: tuple[str, ...], field: str) -> str:
    """`value` when it is one of `known`; else InvalidInput naming the field and the choices."""
    if value not in known:
        raise InvalidInput(
            f"unknown {field} {value!r}; expected one of {', '.join(known)}", field=field
        )
    return value


def check_severity(value: str) -> str:
    return _one_of(value, SEVERITIES, "severity")


def check_archetype(value: str) -> str:
    return _one_of(value, ARCHETYPES, "archetype")


def check_role(value: str) -> str:
    return _one_of(value, ROLES, "role")


def severity_rank(severity: str) -> int:
    """1 for SEV-1 (worst) .. 4 for SEV-4."""
    return SEVERITIES.index(severity) + 1
