"""Rules every adapter shares: system mapping, kind and severity from words, metrics, times.

Each rule is one small function over plain data, so an adapter reads as a list of field
lookups and each rule can be tested alone.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from quell.errors import InvalidInput
from quell.ingest.signal import Signal
from quell.timeutil import as_utc

# Labels that may name the AI system, most specific first.
SYSTEM_LABELS: Final = ("ai_system", "system", "service", "job")
SEVERITIES: Final = ("critical", "high", "warning", "info")
STATUSES: Final = ("firing", "resolved")
# Words senders use for severity, mapped onto quell's four hints.
SEVERITY_WORDS: Final[dict[str, str]] = {
    "critical": "critical",
    "crit": "critical",
    "page": "critical",
    "fatal": "critical",
    "emergency": "critical",
    "p1": "critical",
    "high": "high",
    "error": "high",
    "major": "high",
    "p2": "high",
    "warning": "warning",
    "warn": "warning",
    "medium": "warning",
    "minor": "warning",
    "p3": "warning",
    "info": "info",
    "low": "info",
    "none": "info",
    "notice": "info",
    "p4": "info",
}
# Words in an alert's name that say what kind of signal it is; the first match wins.
KIND_WORDS: Final[tuple[tuple[tuple[str, ...], str], ...]] = (
    (("injection", "jailbreak"), "prompt_injection"),
    (("pii", "personal"), "pii"),
    (("secret", "credential", "apikey", "api_key"), "secrets"),
    (("canary",), "canary"),
    (("toxic", "abuse", "hate"), "toxicity"),
    (("drift",), "drift"),
    (("latency", "slow", "p90", "p95", "p99", "duration"), "latency"),
    (("completion", "task_success", "tasksuccess"), "task_completion"),
    (("error", "5xx", "failure", "failed"), "error_rate"),
    (("cost", "spend", "token", "budget"), "cost"),
    (("refusal", "output_length", "language"), "output_pattern"),
    (("agent", "tool_call", "toolcall", "guard", "permission"), "agent_action"),
    (("user_report", "complaint"), "user_report"),
)
# How far ahead of quell's clock a sender's event time may be before it is refused.
MAX_CLOCK_SKEW: Final = timedelta(minutes=10)
MAX_SUMMARY: Final = 2000
MAX_NAME: Final = 100
MAX_FINGERPRINT: Final = 200


@dataclass(slots=True)
class Item:
    """One signal read from a payload, with where it sits in the body."""

    signal: Signal
    item_path: str  # RFC 6901 pointer into the request body, "" for the whole body
    acknowledge: bool = False  # a PagerDuty acknowledge: marks the open alert, never opens one


@dataclass(slots=True)
class Context:
    """What an adapter needs besides the body: the clock and the inventory's names."""

    received_at: datetime
    known_systems: Collection[str]
    routing_system: str | None = None  # system named by the sender's routing key, if any
    extra_labels: dict[str, str] = field(default_factory=dict)


def map_system(
    explicit: str | None, labels: Mapping[str, str], known: Collection[str]
) -> str | None:
    """The AI system a signal belongs to, or None (kept and shown as unmapped, never dropped).

    An explicit name (a native ``system`` field, a routing key's system) wins; then the labels
    ``ai_system``, ``system``, ``service``, ``job`` in that order. Only names of systems in the
    inventory count, so an exporter's ``job="node"`` does not invent an AI system.
    """
    if explicit and explicit in known:
        return explicit
    for key in SYSTEM_LABELS:
        value = labels.get(key)
        if value and value in known:
            return value
    return None


def kind_from_words(*texts: str | None) -> str:
    """Guess a signal kind from an alert name or class; "alert" when nothing matches."""
    words = " ".join(t.lower() for t in texts if t)
    if not words:
        return "alert"
    for needles, kind in KIND_WORDS:
        if any(n in words for n in needles):
            return kind
    return "alert"


def severity_from_word(value: Any) -> str | None:
    """Map a sender's severity word (critical, error, warning, P2...) to a quell hint."""
    if not isinstance(value, str):
        return None
    return SEVERITY_WORDS.get(value.strip().lower())


def numeric_metrics(*sources: Mapping[str, Any]) -> dict[str, float]:
    """Every value that reads as a finite number, e.g. annotations ``p90_latency_s: "16.2"``."""
    out: dict[str, float] = {}
    for source in sources:
        for key, value in source.items():
            number = as_number(value)
            if number is not None:
                out[key] = number
    return out


def as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str) and value and (value[0].isdigit() or value[0] in "+-."):
        try:
            number = float(value.strip().rstrip("%"))
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def parse_when(value: Any, where: str, *, now: datetime, default: datetime) -> datetime:
    """Parse an RFC 3339 time field; absent -> default; unparsable or far future -> 422."""
    if value is None or value == "":
        return default
    if not isinstance(value, str):
        raise InvalidInput(f"{where}: expected an RFC 3339 time string", field=where)
    try:
        when = as_utc(datetime.fromisoformat(value))
    except ValueError:
        raise InvalidInput(
            f"{where}: {value[:40]!r} is not an RFC 3339 time (e.g. 2026-05-01T12:00:00Z)",
            field=where,
        ) from None
    if when > now + MAX_CLOCK_SKEW:
        raise InvalidInput(f"{where}: {value[:40]} lies in the future", field=where)
    return when


def string_labels(value: Any, where: str) -> dict[str, str]:
    """A label set: a mapping of strings; numbers and booleans are written as text."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(f"{where}: expected an object of label names to strings", field=where)
    out: dict[str, str] = {}
    for key, item in value.items():
        if isinstance(item, str):
            out[key] = item
        elif isinstance(item, bool):
            out[key] = "true" if item else "false"
        elif isinstance(item, int | float):
            out[key] = str(item)
        elif item is None:
            continue
        else:
            raise InvalidInput(f"{where}.{key}: expected a string", field=f"{where}.{key}")
    return out


def text_field(
    value: Any, where: str, *, required: bool = True, limit: int = MAX_NAME
) -> str | None:
    """A string field: required ones must be non-empty; over-long ones are refused."""
    if value is None or value == "":
        if required:
            raise InvalidInput(f"{where}: required", field=where)
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{where}: expected a string", field=where)
    if len(value) > limit:
        raise InvalidInput(f"{where}: longer than {limit} characters", field=where)
    return value


def label_fingerprint(source: str, system: str | None, kind: str, labels: Mapping[str, str]) -> str:
    """A stable identity for senders that give none: the same labels give the same alert."""
    h = hashlib.sha256(f"{source}\x1f{system or ''}\x1f{kind}".encode())
    for key in sorted(labels):
        h.update(f"\x1e{key}\x1f{labels[key]}".encode())
    return f"{source}:{h.hexdigest()[:32]}"
