"""Prometheus Alertmanager's webhook body (version 4), as a real Alertmanager sends it.

One notification carries a group of alerts, firing and resolved together; each alert becomes
one Signal. Its fingerprint is Alertmanager's own (a hash of the label set), so the same alert
re-sent on every ``group_interval`` lands on the same quell alert. Fields quell does not use,
and those Grafana adds (``orgId``, ``state``, ``values``, ``silenceURL``...), are ignored.
"""

from __future__ import annotations

from typing import Any

from quell.errors import InvalidInput, PayloadTooLarge
from quell.ingest.normalise import (
    MAX_FINGERPRINT,
    MAX_SUMMARY,
    Context,
    Item,
    kind_from_words,
    label_fingerprint,
    map_system,
    numeric_metrics,
    parse_when,
    severity_from_word,
    string_labels,
)
from quell.ingest.signal import Signal

# Annotations that are prose, not measurements, even when they happen to start with a digit.
_TEXT_ANNOTATIONS = frozenset({"summary", "description", "message", "runbook_url", "dashboard"})


def parse_alertmanager(body: Any, ctx: Context, *, max_batch: int) -> list[Item]:
    """A webhook notification -> one item per alert; any malformed alert refuses the whole."""
    if not isinstance(body, dict):
        raise InvalidInput("expected an Alertmanager webhook object")
    alerts = body.get("alerts")
    if not isinstance(alerts, list):
        raise InvalidInput("alerts: expected a list of alerts", field="alerts")
    if len(alerts) > max_batch:
        raise PayloadTooLarge(
            f"alerts: {len(alerts)} alerts in one notification; the most is {max_batch}"
            " (set max_alerts in the webhook_config)",
            field="alerts",
        )
    common = string_labels(body.get("commonLabels"), "commonLabels")
    group_key = body.get("groupKey") if isinstance(body.get("groupKey"), str) else None
    receiver = body.get("receiver") if isinstance(body.get("receiver"), str) else None
    return [
        Item(_alert_signal(raw, i, ctx, common, group_key, receiver), f"/alerts/{i}")
        for i, raw in enumerate(alerts)
    ]


def _alert_signal(
    raw: Any,
    index: int,
    ctx: Context,
    common: dict[str, str],
    group_key: str | None,
    receiver: str | None,
) -> Signal:
    where = f"alerts[{index}]"
    if not isinstance(raw, dict):
        raise InvalidInput(f"{where}: expected an alert object", field=where)
    labels = string_labels(raw.get("labels"), f"{where}.labels")
    if not labels:
        labels = dict(common)
    if not labels:
        raise InvalidInput(f"{where}.labels: an alert needs at least one label", field=where)
    annotations = string_labels(raw.get("annotations"), f"{where}.annotations")
    status = raw.get("status", "firing")
    if status not in ("firing", "resolved"):
        raise InvalidInput(f"{where}.status: expected firing or resolved", field=f"{where}.status")
    now = ctx.received_at
    started = parse_when(raw.get("startsAt"), f"{where}.startsAt", now=now, default=now)
    occurred = started
    if status == "resolved":
        # A resolved alert's endsAt is when it stopped; Alertmanager may set it a moment ahead.
        ended = raw.get("endsAt")
        if isinstance(ended, str) and not ended.startswith("0001-"):
            occurred = min(parse_when(ended, f"{where}.endsAt", now=now, default=now), now)
    alertname = labels.get("alertname")
    kind = labels.get("kind") or labels.get("signal_kind") or kind_from_words(alertname)
    if kind == "alert":
        # No word in the name: the measurement's name often says it (p90_latency_s).
        kind = kind_from_words(" ".join(k for k in annotations if k not in _TEXT_ANNOTATIONS))
    system = map_system(ctx.routing_system, labels, ctx.known_systems)
    fingerprint = raw.get("fingerprint")
    if isinstance(fingerprint, str) and fingerprint and len(fingerprint) < MAX_FINGERPRINT - 3:
        fingerprint = f"am:{fingerprint}"
    else:
        fingerprint = label_fingerprint("am", None, "", labels)
    summary = (
        annotations.get("summary")
        or annotations.get("description")
        or annotations.get("message")
        or (alertname or "alert") + " " + _label_text(labels)
    )[:MAX_SUMMARY]
    metrics = numeric_metrics(
        {k: v for k, v in annotations.items() if k not in _TEXT_ANNOTATIONS},
        {k: v for k, v in labels.items() if k not in ("alertname", "kind", "signal_kind")},
    )
    evidence: dict[str, Any] = {"annotations": annotations}
    for key, name in (("generatorURL", "generator_url"), ("startsAt", "starts_at")):
        if isinstance(raw.get(key), str) and raw[key]:
            evidence[name] = raw[key]
    if group_key:
        evidence["group_key"] = group_key
    if receiver:
        evidence["receiver"] = receiver
    archetype = labels.get("archetype") or annotations.get("archetype")
    return Signal(
        source="alertmanager",
        kind=kind[:100],
        summary=summary,
        system=system,
        fingerprint=fingerprint,
        occurred_at=occurred,
        received_at=now,
        status=status,
        severity_hint=severity_from_word(labels.get("severity"))  # type: ignore[arg-type]
        or severity_from_word(labels.get("priority")),
        labels=labels,
        metrics=metrics,
        archetype_hint=archetype,
        evidence=evidence,
    )


def _label_text(labels: dict[str, str]) -> str:
    shown = [f"{k}={v}" for k, v in sorted(labels.items()) if k != "alertname"]
    return "{" + ", ".join(shown[:6]) + "}"
