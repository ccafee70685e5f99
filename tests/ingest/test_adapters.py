"""Adapters alone: plain bodies in, Signals out, errors naming the field."""

from __future__ import annotations

from datetime import timedelta

import pytest

from quell.errors import InvalidInput, PayloadTooLarge
from quell.ingest.alertmanager import parse_alertmanager
from quell.ingest.native import parse_native
from quell.ingest.normalise import Context, kind_from_words, map_system, severity_from_word
from quell.ingest.pagerduty import InvalidEvent, parse_pagerduty, routing_key_of
from quell.timeutil import utcnow

KNOWN = frozenset({"voice-agent", "support-chatbot", "scorer"})


def ctx(**kw: object) -> Context:
    return Context(utcnow(), KNOWN, **kw)  # type: ignore[arg-type]


def am_body(*alerts: dict[str, object], **extra: object) -> dict[str, object]:
    return {
        "version": "4",
        "groupKey": '{}:{alertname="VoiceAgentP90Latency"}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "quell",
        "groupLabels": {"alertname": "VoiceAgentP90Latency"},
        "commonLabels": {"alertname": "VoiceAgentP90Latency"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": list(alerts),
        **extra,
    }


def am_alert(**over: object) -> dict[str, object]:
    alert: dict[str, object] = {
        "status": "firing",
        "labels": {
            "alertname": "VoiceAgentP90Latency",
            "service": "voice-agent",
            "severity": "critical",
        },
        "annotations": {"summary": "P90 latency 16.2 s", "p90_latency_s": "16.2"},
        "startsAt": "2026-01-05T10:00:00.123456789Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph?g0.expr=x",
        "fingerprint": "a1b2c3d4e5f60718",
    }
    alert.update(over)
    return alert


def test_alertmanager_alert_becomes_one_signal_with_metrics_kind_and_system() -> None:
    items = parse_alertmanager(am_body(am_alert()), ctx(), max_batch=10)
    assert len(items) == 1
    s = items[0].signal
    assert (s.source, s.kind, s.system, s.severity_hint) == (
        "alertmanager",
        "latency",
        "voice-agent",
        "critical",
    )
    assert s.metrics == {"p90_latency_s": 16.2}
    assert s.fingerprint == "am:a1b2c3d4e5f60718"
    assert s.occurred_at.year == 2026 and s.occurred_at.microsecond == 123456
    assert s.summary == "P90 latency 16.2 s"
    assert items[0].item_path == "/alerts/0"


def test_alertmanager_ignores_grafana_fields_and_reads_kind_label() -> None:
    alert = am_alert(
        labels={"alertname": "Whatever", "ai_system": "scorer", "kind": "drift"},
        values={"B": 0.4},
        silenceURL="http://grafana/silence",
    )
    body = am_body(alert, orgId=1, state="alerting", title="[FIRING:1]", message="hi")
    s = parse_alertmanager(body, ctx(), max_batch=10)[0].signal
    assert (s.kind, s.system) == ("drift", "scorer")


def test_alertmanager_resolved_alert_uses_ends_at() -> None:
    alert = am_alert(status="resolved", endsAt="2026-01-05T10:05:00Z")
    s = parse_alertmanager(am_body(alert), ctx(), max_batch=10)[0].signal
    assert s.status == "resolved"
    assert (s.occurred_at.hour, s.occurred_at.minute) == (10, 5)


@pytest.mark.parametrize(
    ("alert", "field"),
    [
        ({"status": "firing", "labels": "x"}, "alerts[0].labels"),
        ({"status": "pending", "labels": {"a": "b"}}, "alerts[0].status"),
        ({"status": "firing", "labels": {"a": "b"}, "startsAt": "yesterday"}, "alerts[0].startsAt"),
    ],
)
def test_alertmanager_errors_name_the_field(alert: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_alertmanager(am_body(alert), ctx(), max_batch=10)
    assert err.value.field == field


def test_alertmanager_too_many_alerts_is_413() -> None:
    with pytest.raises(PayloadTooLarge):
        parse_alertmanager(am_body(*[am_alert()] * 3), ctx(), max_batch=2)


def test_native_batch_and_field_paths() -> None:
    body = {"signals": [{"kind": "pii", "summary": "x", "system": "support-chatbot"}] * 2}
    items = parse_native(body, ctx(), max_batch=5)
    assert [i.item_path for i in items] == ["/signals/0", "/signals/1"]
    assert items[0].signal.system == "support-chatbot"
    assert items[0].signal.fingerprint == items[1].signal.fingerprint
    bad = {
        "signals": [
            {"kind": "pii", "summary": "x"},
            {"kind": "pii", "summary": "x", "severity": "sev1"},
        ]
    }
    with pytest.raises(InvalidInput) as err:
        parse_native(bad, ctx(), max_batch=5)
    assert err.value.field == "signals[1].severity"
    with pytest.raises(InvalidInput) as err:
        parse_native([{"kind": "pii", "summary": "x", "metrics": {"a": "1"}}], ctx(), max_batch=5)
    assert err.value.field == "[0].metrics.a"
    with pytest.raises(InvalidInput) as err:
        parse_native({"kind": "pii", "summary": "x", "sevrity": "high"}, ctx(), max_batch=5)
    assert err.value.field == "sevrity"


def test_native_unknown_system_is_kept_unmapped() -> None:
    s = parse_native({"kind": "pii", "summary": "x", "system": "nope"}, ctx(), max_batch=5)[
        0
    ].signal
    assert s.system is None
    assert s.labels["system"] == "nope"


def test_native_future_time_is_refused() -> None:
    later = (utcnow() + timedelta(hours=2)).isoformat()
    with pytest.raises(InvalidInput) as err:
        parse_native({"kind": "x", "summary": "y", "occurred_at": later}, ctx(), max_batch=5)
    assert err.value.field == "occurred_at"


def test_system_mapping_order() -> None:
    labels = {"job": "scorer", "service": "voice-agent", "system": "not-known"}
    assert map_system(None, labels, KNOWN) == "voice-agent"
    assert map_system("support-chatbot", labels, KNOWN) == "support-chatbot"
    assert map_system(None, {"job": "node"}, KNOWN) is None


def test_words() -> None:
    assert kind_from_words("ChatbotErrorRateHigh") == "error_rate"
    assert kind_from_words("VoiceTaskCompletionLow") == "task_completion"
    assert kind_from_words("DiskFull") == "alert"
    assert severity_from_word("P2") == "high"
    assert severity_from_word("bogus") is None


def pd_event(**over: object) -> dict[str, object]:
    event: dict[str, object] = {
        "routing_key": "samplekeyhere0123456789abcdef012",
        "event_action": "trigger",
        "dedup_key": "voice-latency",
        "payload": {
            "summary": "Voice agent task completion 8%",
            "source": "voice-prod-1",
            "severity": "error",
            "component": "voice-agent",
            "class": "task_completion",
            "custom_details": {"task_completion": 0.08},
        },
        "links": [{"href": "http://grafana/d/1", "text": "dashboard"}],
    }
    event.update(over)
    return event


def test_pagerduty_trigger_maps_component_and_severity() -> None:
    body = pd_event()
    key = routing_key_of(body)
    item, dedup = parse_pagerduty(body, ctx(), key)
    s = item.signal
    assert dedup == "voice-latency"
    assert (s.system, s.severity_hint, s.kind) == ("voice-agent", "high", "task_completion")
    assert s.metrics == {"task_completion": 0.08}
    assert s.fingerprint.startswith("pd:") and s.fingerprint.endswith(":voice-latency")
    assert key not in s.fingerprint  # the routing key is a credential


def test_pagerduty_routing_system_wins_and_dedup_key_is_generated() -> None:
    body = pd_event(dedup_key=None)
    item, dedup = parse_pagerduty(body, ctx(routing_system="scorer"), "k" * 32)
    assert item.signal.system == "scorer"
    assert len(dedup) == 32


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"event_action": "fire"}, "event_action"),
        ({"event_action": "resolve", "dedup_key": None}, "dedup_key"),
        ({"payload": {"summary": "x", "source": "y", "severity": "fatal"}}, "payload.severity"),
        ({"payload": {"source": "y", "severity": "info"}}, "payload.summary"),
    ],
)
def test_pagerduty_invalid_events(over: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidEvent) as err:
        parse_pagerduty(pd_event(**over), ctx(), "k" * 32)
    assert err.value.field == field
