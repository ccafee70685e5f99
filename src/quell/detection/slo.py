"""Service-level monitors over a sliding window: latency percentiles, completion, errors, spend.

Each record is one model or agent call: ``{"ts": 1700000000.0, "latency_ms": 812,
"error": false, "completed": true, "tokens": 950, "cost": 0.004}`` (every key optional).
``SLOMonitor.check()`` compares the last ``window_seconds`` against the targets in
``SLOTargets`` and against the monitor's own longer history for spikes (unbounded
consumption: a burst of tokens or cost well above the usual level).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from quell.detection.base import Finding, clamp_score


@dataclass(frozen=True, slots=True)
class SLOTargets:
    """Targets a window must meet; ``None`` means not checked."""

    latency_p50_ms: float | None = None
    latency_p90_ms: float | None = None
    latency_p95_ms: float | None = 5000.0
    min_task_completion_rate: float | None = 0.9
    max_error_rate: float | None = 0.05
    token_spike_factor: float | None = 3.0  # window mean tokens per call vs history mean
    cost_spike_factor: float | None = 3.0
    max_tokens_per_window: float | None = None
    max_cost_per_window: float | None = None
    min_samples: int = 20  # fewer calls than this in the window: rates are not judged

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SLOTargets:
        """Build targets from a plain dict (as in quell.yaml), refusing unknown keys."""
        unknown = set(data) - set(cls.__slots__)
        if unknown:
            from quell.errors import InvalidInput

            raise InvalidInput(f"unknown SLO target(s): {', '.join(sorted(unknown))}")
        return cls(**dict(data))


@dataclass(slots=True)
class _Call:
    ts: float
    latency_ms: float | None
    error: bool
    completed: bool | None
    tokens: float | None
    cost: float | None


@dataclass
class SLOMonitor:
    """Sliding-window SLO checks for one AI system."""

    targets: SLOTargets = field(default_factory=SLOTargets)
    window_seconds: float = 300.0
    history_seconds: float = 6 * 3600.0  # baseline for spike detection
    name: str = "slo"
    _calls: deque[_Call] = field(default_factory=deque, init=False)

    def observe(self, record: Mapping[str, Any]) -> None:
        """Add one call record; records older than the history are dropped."""
        raw_ts = _num(record.get("ts"))
        ts = time.time() if raw_ts is None else raw_ts
        error = bool(record.get("error", False)) or record.get("status") == "error"
        completed = record.get("completed")
        self._calls.append(_Call(
            ts=ts,
            latency_ms=_num(record.get("latency_ms")),
            error=error,
            completed=None if completed is None else bool(completed),
            tokens=_num(record.get("tokens")),
            cost=_num(record.get("cost")),
        ))  # fmt: skip
        horizon = ts - self.history_seconds
        while self._calls and self._calls[0].ts < horizon:
            self._calls.popleft()

    def check(self, now: float | None = None) -> list[Finding]:
        """Findings for every target the current window misses."""
        if not self._calls:
            return []
        end = now if now is not None else max(c.ts for c in self._calls)
        start = end - self.window_seconds
        window = [c for c in self._calls if start < c.ts <= end]
        before = [c for c in self._calls if c.ts <= start]
        t = self.targets
        found: list[Finding] = []
        latencies = [c.latency_ms for c in window if c.latency_ms is not None]
        if len(latencies) >= t.min_samples:
            for q, target in ((50, t.latency_p50_ms), (90, t.latency_p90_ms),
                              (95, t.latency_p95_ms)):  # fmt: skip
                if target is None:
                    continue
                value = float(np.percentile(latencies, q))
                if value > target:
                    found.append(
                        self._finding(
                            f"latency_p{q}",
                            value / target - 1.0,
                            f"P{q} latency {value:.0f} ms > {target:.0f} ms",
                            value=value,
                            target=target,
                            calls=len(latencies),
                        )
                    )
        if len(window) >= t.min_samples:
            errors = sum(c.error for c in window) / len(window)
            if t.max_error_rate is not None and errors > t.max_error_rate:
                found.append(
                    self._finding(
                        "error_rate",
                        errors / max(t.max_error_rate, 1e-9) - 1,
                        f"error rate {errors:.1%} > {t.max_error_rate:.1%}",
                        value=errors,
                        target=t.max_error_rate,
                        calls=len(window),
                    )
                )
            judged = [c.completed for c in window if c.completed is not None]
            if t.min_task_completion_rate is not None and len(judged) >= t.min_samples:
                rate = sum(judged) / len(judged)
                if rate < t.min_task_completion_rate:
                    gap = (t.min_task_completion_rate - rate) / max(
                        t.min_task_completion_rate, 1e-9
                    )
                    found.append(
                        self._finding(
                            "task_completion",
                            gap * 4,
                            f"task completion {rate:.1%} < {t.min_task_completion_rate:.1%}",
                            value=rate,
                            target=t.min_task_completion_rate,
                            calls=len(judged),
                        )
                    )
        found += self._consumption(
            window, before, "tokens", t.token_spike_factor, t.max_tokens_per_window
        )
        found += self._consumption(
            window, before, "cost", t.cost_spike_factor, t.max_cost_per_window
        )
        return found  # fmt: skip

    def _consumption(self, window: list[_Call], before: list[_Call], key: str,
                     factor: float | None, cap: float | None) -> list[Finding]:  # fmt: skip
        now_vals = [v for c in window if (v := getattr(c, key)) is not None]
        if not now_vals:
            return []
        found: list[Finding] = []
        total = float(sum(now_vals))
        if cap is not None and total > cap:
            found.append(self._finding(f"{key}_budget", total / cap - 1.0,
                                       f"{key} in window {total:g} > budget {cap:g}",
                                       value=total, target=cap))  # fmt: skip
        past = [v for c in before if (v := getattr(c, key)) is not None]
        if (
            factor is not None
            and len(past) >= self.targets.min_samples
            and len(now_vals) >= min(5, self.targets.min_samples)
        ):
            base = float(np.mean(past))
            mean = float(np.mean(now_vals))
            if base > 0 and mean > factor * base:
                found.append(self._finding(f"{key}_spike", mean / (factor * base) - 1.0,
                                           f"{key} per call {mean:g} is {mean / base:.1f}x the "
                                           f"usual {base:g}", value=mean, baseline=base,
                                           factor=factor))  # fmt: skip
        return found

    def _finding(self, category: str, excess: float, evidence: str, **details: Any) -> Finding:
        # Just over target scores 0.5; twice as far over (or more) scores 1.
        return Finding(self.name, category, clamp_score(0.5 + 0.5 * min(excess, 1.0)),
                       "unclassified", None, evidence, details)  # fmt: skip


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
