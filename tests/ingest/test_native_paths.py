"""The native adapter's quick path gives the same signal as the full check, or steps aside."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from quell.errors import InvalidInput
from quell.ingest.native import _usual_signal, native_signal, parse_native
from quell.ingest.normalise import Context

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
CTX = Context(NOW, frozenset({"support-bot", "rag-search"}))

BASE: dict[str, Any] = {"kind": "latency", "summary": "p90 above SLO", "system": "support-bot"}

SAME = [
    BASE,
    {**BASE, "labels": {"region": "eu"}, "metrics": {"p90": 8, "p99": 9.5}, "severity": "high"},
    {**BASE, "system": "unknown-bot", "labels": {"service": "rag-search"}},
    {**BASE, "system": "unknown-bot"},  # kept in labels as the sender said it
    {**BASE, "fingerprint": "fp-1", "status": "resolved", "archetype": "prompt_injection"},
    {**BASE, "occurred_at": "2026-05-01T11:59:00Z", "source": "sdk", "evidence": {"x": [1]}},
    {"kind": "pii", "summary": "an email address in an answer", "labels": {"system": "rag-search"}},
]

# Valid, but unusual enough that the quick path leaves them to the full check.
UNUSUAL = [
    {**BASE, "labels": {"n": 3, "flag": True, "gone": None}},
    {**BASE, "source": ""},
    {**BASE, "occurred_at": ""},
]

BAD = [
    ({**BASE, "kind": ""}, "signals[0].kind"),
    ({**BASE, "summary": 3}, "signals[0].summary"),
    ({**BASE, "colour": "red"}, "signals[0].colour"),
    ({**BASE, "severity": "loud"}, "signals[0].severity"),
    ({**BASE, "metrics": {"p90": True}}, "signals[0].metrics.p90"),
    ({**BASE, "metrics": {"p90": "8"}}, "signals[0].metrics.p90"),
    ({**BASE, "labels": {"a": ["b"]}}, "signals[0].labels.a"),
    ({**BASE, "evidence": [1]}, "signals[0].evidence"),
    ({**BASE, "occurred_at": "2099-01-01T00:00:00Z"}, "signals[0].occurred_at"),
    ({**BASE, "occurred_at": "yesterday"}, "signals[0].occurred_at"),
    ({**BASE, "fingerprint": "f" * 201}, "signals[0].fingerprint"),
]


@pytest.mark.parametrize("raw", SAME)
def test_quick_path_gives_the_full_checks_signal(raw: dict[str, Any]) -> None:
    quick = _usual_signal(raw, CTX)
    assert quick is not None
    assert quick == native_signal(raw, CTX)
    assert parse_native({"signals": [raw]}, CTX, max_batch=10)[0].signal == quick


@pytest.mark.parametrize("raw", UNUSUAL)
def test_unusual_but_valid_signals_are_still_accepted(raw: dict[str, Any]) -> None:
    assert _usual_signal(raw, CTX) is None
    items = parse_native([raw], CTX, max_batch=10)
    assert items[0].signal == native_signal(raw, CTX)


@pytest.mark.parametrize(("raw", "field"), BAD)
def test_errors_still_name_the_field(raw: dict[str, Any], field: str) -> None:
    assert _usual_signal(raw, CTX) is None
    with pytest.raises(InvalidInput) as caught:
        parse_native({"signals": [BASE, raw][1:]}, CTX, max_batch=10)
    assert caught.value.field == field


def test_the_caller_keeps_its_own_labels_and_metrics() -> None:
    raw = {**BASE, "system": "unknown-bot", "labels": {"a": "b"}, "metrics": {"m": 1}}
    signal = _usual_signal(raw, CTX)
    assert signal is not None and signal.labels == {"a": "b", "system": "unknown-bot"}
    assert raw["labels"] == {"a": "b"} and raw["metrics"] == {"m": 1}
    assert signal.metrics == {"m": 1.0} and type(signal.metrics["m"]) is float
