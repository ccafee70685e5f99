"""The one normalised Signal every source is turned into, once, at the door.

Adapters (Alertmanager, PagerDuty, native JSON, SDK, detectors, drills) produce these; the
detection pipeline (dedup -> correlate -> classify -> severity) consumes them and never looks
at a raw payload again. The raw payload is stored verbatim beside the signal for audit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

SeverityHint = Literal["critical", "high", "warning", "info"]
SignalStatus = Literal["firing", "resolved"]

# Kinds a signal may have; free text is allowed, these are the ones the pipeline understands.
KNOWN_KINDS = (
    "prompt_injection",  # detector finding or alert on inputs
    "pii",  # personal data in outputs
    "secrets",  # credentials in outputs
    "canary",  # system-prompt canary seen in output
    "toxicity",
    "output_pattern",  # output length / refusal / language shift
    "drift",  # data or prediction drift
    "latency",
    "task_completion",
    "error_rate",
    "cost",  # token or spend spike
    "agent_action",  # guard denial or policy breach
    "user_report",
    "change",  # a change event (deploy, model version, prompt, flag...)
    "alert",  # anything else from an alerting tool
)


@dataclass(slots=True)
class Signal:
    source: str  # "alertmanager" | "pagerduty" | "native" | "sdk" | "detector" | "drill"
    kind: str
    summary: str
    system: str | None  # AI system name, None when it could not be mapped (kept, never dropped)
    fingerprint: str  # stable identity for dedup: the same alert firing again has the same one
    occurred_at: datetime  # when it happened, by the sender's clock
    received_at: datetime  # when quell received it
    status: SignalStatus = "firing"
    severity_hint: SeverityHint | None = None
    labels: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)  # e.g. {"p90_latency_s": 16.0}
    archetype_hint: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
