"""PagerDuty Events API v2, so an existing PagerDuty sender works by changing only its URL.

A sender cannot add headers, so the ``routing_key`` is its credential and names the AI system
(see ``quell.ingest.integrations``). ``trigger`` opens or repeats an alert keyed by
``dedup_key`` (generated when absent and returned, as PagerDuty does), ``acknowledge`` marks
the open alert, ``resolve`` closes it. Answers copy PagerDuty's shapes: 202 with
``{"status": "success", "message": "Event processed", "dedup_key": ...}`` and 400 with
``{"status": "invalid event", "message": "Event object is invalid", "errors": [...]}``.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any, Final

from quell.errors import InvalidInput
from quell.ingest.normalise import (
    MAX_SUMMARY,
    SYSTEM_LABELS,
    Context,
    Item,
    kind_from_words,
    map_system,
    numeric_metrics,
    parse_when,
)
from quell.ingest.signal import Signal

ACTIONS: Final = ("trigger", "acknowledge", "resolve")
PD_SEVERITIES: Final[dict[str, str]] = {
    "critical": "critical",
    "error": "high",
    "warning": "warning",
    "info": "info",
}
MAX_DEDUP_KEY: Final = 255


class InvalidEvent(InvalidInput):
    """An Events v2 body PagerDuty itself would refuse; answered in PagerDuty's 400 shape."""

    status_code = 400
    code = "invalid_event"


def routing_key_of(body: Any) -> str:
    """The routing key of an event body, checked first because it authenticates the sender."""
    if not isinstance(body, dict):
        raise InvalidEvent("the event must be a JSON object")
    key = body.get("routing_key")
    if not isinstance(key, str) or not key.strip():
        raise InvalidEvent("'routing_key' is missing or blank", field="routing_key")
    if len(key) > 100:
        raise InvalidEvent("'routing_key' is longer than 100 characters", field="routing_key")
    return key


def key_scope(routing_key: str) -> str:
    """A short public stand-in for a routing key: dedup keys are scoped per key, as in PagerDuty."""
    return hashlib.sha256(routing_key.encode()).hexdigest()[:12]


def parse_pagerduty(body: dict[str, Any], ctx: Context, routing_key: str) -> tuple[Item, str]:
    """One Events v2 body -> one item and the dedup_key to answer with."""
    action = body.get("event_action")
    if action not in ACTIONS:
        raise InvalidEvent(
            "'event_action' must be one of trigger, acknowledge, resolve", field="event_action"
        )
    dedup_key = body.get("dedup_key")
    if dedup_key is not None and (not isinstance(dedup_key, str) or len(dedup_key) > MAX_DEDUP_KEY):
        raise InvalidEvent(
            f"'dedup_key' must be a string of at most {MAX_DEDUP_KEY} characters",
            field="dedup_key",
        )
    if action != "trigger" and not dedup_key:
        raise InvalidEvent(f"'dedup_key' is required to {action}", field="dedup_key")
    dedup_key = dedup_key or uuid.uuid4().hex
    payload = body.get("payload")
    if action == "trigger" or payload is not None:
        if not isinstance(payload, dict):
            raise InvalidEvent(
                "'payload' is required to trigger and must be an object", field="payload"
            )
    else:
        payload = {}
    assert isinstance(payload, dict)
    if action == "trigger":
        for name in ("summary", "source", "severity"):
            value = payload.get(name)
            if not isinstance(value, str) or not value.strip():
                raise InvalidEvent(f"'payload.{name}' is missing or blank", field=f"payload.{name}")
        if payload["severity"] not in PD_SEVERITIES:
            raise InvalidEvent(
                "'payload.severity' must be one of critical, error, warning, info",
                field="payload.severity",
            )
        if len(payload["summary"]) > 1024:
            raise InvalidEvent(
                "'payload.summary' is longer than 1024 characters", field="payload.summary"
            )
    details = payload.get("custom_details")
    details = details if isinstance(details, dict) else ({"details": details} if details else {})
    labels: dict[str, str] = {}
    for name in ("source", "component", "group", "class"):
        if isinstance(payload.get(name), str) and payload[name]:
            labels[name] = payload[name]
    for key, value in details.items():
        if isinstance(value, str) and len(value) <= 200:
            labels.setdefault(key, value)
    system = map_system(ctx.routing_system, labels, ctx.known_systems)
    if system is None:
        # PagerDuty's own places for a service name, after the usual labels.
        for name in ("component", "group", "source"):
            if labels.get(name) in ctx.known_systems and name not in SYSTEM_LABELS:
                system = labels[name]
                break
    now = ctx.received_at
    occurred = parse_when(payload.get("timestamp"), "payload.timestamp", now=now, default=now)
    summary = payload.get("summary") if isinstance(payload.get("summary"), str) else None
    kind = (
        labels.get("kind")
        or labels.get("signal_kind")
        or kind_from_words(labels.get("class"), summary)
    )
    severity = PD_SEVERITIES.get(payload.get("severity") or "")
    evidence: dict[str, Any] = {"event_action": action, "dedup_key": dedup_key}
    for name in ("links", "images", "client", "client_url"):
        if body.get(name):
            evidence[name] = body[name]
    if details:
        evidence["custom_details"] = details
    signal = Signal(
        source="pagerduty",
        kind=kind[:100],
        summary=(summary or f"{action} {dedup_key}")[:MAX_SUMMARY],
        system=system,
        fingerprint=f"pd:{key_scope(routing_key)}:{dedup_key}",
        occurred_at=occurred,
        received_at=now,
        status="resolved" if action == "resolve" else "firing",
        severity_hint=severity,  # type: ignore[arg-type]
        labels=labels,
        metrics=numeric_metrics(details),
        archetype_hint=labels.get("archetype"),
        evidence=evidence,
    )
    return Item(signal, "", acknowledge=action == "acknowledge"), dedup_key
