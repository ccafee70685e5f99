"""Record monitors: drift, SLO windows and output pattern change."""

from __future__ import annotations

import numpy as np
import pytest

from quell.detection.drift import DriftMonitor, compare_feature, psi
from quell.detection.output_patterns import OutputPatternMonitor, guess_language, is_refusal
from quell.detection.slo import SLOMonitor, SLOTargets
from quell.errors import InvalidInput


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)


def test_psi_is_near_zero_for_the_same_distribution(rng: np.random.Generator) -> None:
    a = rng.normal(0, 1, 5000)
    b = rng.normal(0, 1, 5000)
    assert psi(a, b) < 0.05
    assert psi(a, rng.normal(1.5, 1, 5000)) > 0.2


def test_numeric_drift_uses_psi_and_ks(rng: np.random.Generator) -> None:
    ref = list(rng.normal(50, 5, 2000))
    same = compare_feature("x", ref, list(rng.normal(50, 5, 500)))
    moved = compare_feature("x", ref, list(rng.normal(56, 5, 500)))
    assert not same.drifted
    assert moved.drifted and moved.ks_pvalue is not None and moved.ks_pvalue < 0.01
    assert moved.wasserstein_std is not None and moved.wasserstein_std > 0.5
    assert moved.kind == "numeric"


def test_categorical_drift_uses_chi_square(rng: np.random.Generator) -> None:
    ref = list(rng.choice(["a", "b", "c"], 2000, p=[0.6, 0.3, 0.1]))
    cur = list(rng.choice(["a", "b", "c"], 800, p=[0.2, 0.3, 0.5]))
    res = compare_feature("plan", ref, cur)
    assert res.kind == "categorical" and res.drifted
    assert res.chi2_pvalue is not None and res.chi2_pvalue < 0.01
    assert 0 < res.js_distance <= 1


def test_drift_monitor_reports_feature_and_prediction(rng: np.random.Generator) -> None:
    ref = {"age": list(rng.normal(40, 8, 1000)), "prediction": list(rng.random(1000))}
    monitor = DriftMonitor(ref, window=300)
    for _ in range(49):
        monitor.observe({"age": 70.0, "prediction": 0.99})
    assert monitor.check() == []  # below min_samples
    for _ in range(300):
        monitor.observe({"age": float(rng.normal(40, 8)), "prediction": float(rng.random() ** 4)})
    found = {f.category: f for f in monitor.check()}
    assert "prediction_drift" in found and "feature_drift" not in found
    assert found["prediction_drift"].details["feature"] == "prediction"


def calls(monitor: SLOMonitor, start: int, n: int, **record: object) -> None:
    for i in range(start, start + n):
        monitor.observe({"ts": i, **record})


def test_slo_latency_errors_completion_and_spikes() -> None:
    monitor = SLOMonitor(window_seconds=100)
    calls(monitor, 0, 500, latency_ms=100, tokens=400, cost=0.01, completed=True)
    assert monitor.check() == []
    calls(monitor, 500, 100, latency_ms=9000, tokens=4000, cost=0.2, completed=False, error=True)
    found = {f.category for f in monitor.check()}
    assert {"latency_p95", "error_rate", "task_completion", "tokens_spike", "cost_spike"} <= found


def test_slo_needs_enough_samples() -> None:
    monitor = SLOMonitor(targets=SLOTargets(min_samples=50))
    calls(monitor, 0, 10, latency_ms=99999, error=True)
    assert monitor.check() == []


def test_slo_budget_and_config_validation() -> None:
    targets = SLOTargets.from_dict({"max_cost_per_window": 1.0, "latency_p95_ms": None})
    monitor = SLOMonitor(targets=targets, window_seconds=60)
    calls(monitor, 0, 30, cost=0.1, latency_ms=50)
    assert any(f.category == "cost_budget" for f in monitor.check())
    with pytest.raises(InvalidInput, match="unknown"):
        SLOTargets.from_dict({"latency_p99": 5})


def test_refusals_and_languages() -> None:
    assert is_refusal("I'm sorry, but I can't help with that.")
    assert not is_refusal("Sure, here is the recipe you asked for.")
    assert guess_language("The cat is on the table and it is happy.") == "en"
    assert guess_language("Der Hund ist nicht mit der Katze auf dem Sofa.") == "de"
    assert guess_language("这是一个测试句子，用来检查语言。") == "zh"


def test_output_pattern_monitor() -> None:
    monitor = OutputPatternMonitor(baseline_size=100, window_size=50)
    for i in range(100):
        monitor.observe(f"Here is the summary of document {i}: it covers sales and costs.")
    for i in range(50):
        monitor.observe(f"Here is the summary of document {i}: it covers sales and costs.")
    assert monitor.check() == []
    for _ in range(50):
        monitor.observe("I'm sorry, but I can't help with that request.")
    found = {f.category for f in monitor.check()}
    assert "refusal_rate" in found and "vocabulary_shift" in found
