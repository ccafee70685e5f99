"""Drift for predictive models: PSI, KS, chi-square, Jensen-Shannon and Wasserstein.

``compare_feature`` measures one feature (or the prediction) of a current window against a
reference sample. ``DriftMonitor`` keeps a sliding window of records and reports each drifted
feature as a finding. Defaults follow common practice and are defined once in
``DriftThresholds``:

- PSI >= 0.2 is drift (0.1 to 0.2 is a moderate shift, reported as score below 1);
- Kolmogorov-Smirnov (numeric): p < 0.01 and statistic >= 0.1;
- chi-square (categorical): p < 0.01 and Jensen-Shannon distance >= 0.05;
- Jensen-Shannon distance (base 2, 0..1) >= 0.1;
- Wasserstein distance divided by the reference standard deviation >= 0.1 (numeric only).

A feature is drifted when PSI or its significance test (KS or chi-square) says so; the other
measures are reported alongside to help a person judge.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats
from scipy.spatial.distance import jensenshannon

from quell.detection.base import Finding, clamp_score

_EPS = 1e-4  # floor for empty bins so PSI stays finite


@dataclass(frozen=True, slots=True)
class DriftThresholds:
    """When a measured shift counts as drift; the values documented in the module docstring."""

    psi: float = 0.2
    psi_moderate: float = 0.1
    ks_pvalue: float = 0.01
    ks_statistic: float = 0.1
    chi2_pvalue: float = 0.01
    chi2_min_js: float = 0.05
    js_distance: float = 0.1
    wasserstein_std: float = 0.1
    bins: int = 10
    min_samples: int = 50


@dataclass(frozen=True, slots=True)
class DriftResult:
    """Every drift measure for one feature, and whether it counts as drift."""

    feature: str
    kind: str  # "numeric" or "categorical"
    n_reference: int
    n_current: int
    psi: float
    js_distance: float
    ks_statistic: float | None = None
    ks_pvalue: float | None = None
    chi2_statistic: float | None = None
    chi2_pvalue: float | None = None
    wasserstein: float | None = None
    wasserstein_std: float | None = None
    drifted: bool = False
    reasons: tuple[str, ...] = ()
    score: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """The result as plain JSON-ready values."""
        return {k: getattr(self, k) for k in self.__slots__}


def psi(
    reference: Sequence[float] | np.ndarray, current: Sequence[float] | np.ndarray, bins: int = 10
) -> float:
    """Population Stability Index over quantile bins of the reference."""
    ref = np.asarray(reference, dtype=float)
    cur = np.asarray(current, dtype=float)
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)))
    if len(edges) < 2:
        edges = np.array([ref.min() - 0.5, ref.max() + 0.5])
    edges[0], edges[-1] = -np.inf, np.inf
    p = np.histogram(ref, edges)[0] / len(ref)
    q = np.histogram(cur, edges)[0] / len(cur)
    return _psi_from_shares(p, q)


def _psi_from_shares(p: np.ndarray, q: np.ndarray) -> float:
    p = np.clip(p, _EPS, None)
    q = np.clip(q, _EPS, None)
    return float(np.sum((q - p) * np.log(q / p)))


def categorical_shares(
    reference: Iterable[Any], current: Iterable[Any]
) -> tuple[list[Any], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Category list, counts and shares of both samples over the union of categories."""
    rc, cc = Counter(reference), Counter(current)
    cats = sorted(set(rc) | set(cc), key=str)
    r = np.array([rc[c] for c in cats], dtype=float)
    c = np.array([cc[k] for k in cats], dtype=float)
    return cats, r, c, r / max(r.sum(), 1), c / max(c.sum(), 1)


def compare_feature(
    name: str,
    reference: Sequence[Any],
    current: Sequence[Any],
    categorical: bool | None = None,
    thresholds: DriftThresholds | None = None,
) -> DriftResult:
    """Measure how far ``current`` has moved from ``reference`` for one feature."""
    t = thresholds or DriftThresholds()
    if categorical is None:
        categorical = not all(_is_number(v) for v in list(reference)[:200])
    if categorical:
        return _compare_categorical(name, reference, current, t)
    return _compare_numeric(name, reference, current, t)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _compare_numeric(
    name: str, reference: Sequence[Any], current: Sequence[Any], t: DriftThresholds
) -> DriftResult:
    ref = np.asarray([v for v in reference if _is_number(v)], dtype=float)
    cur = np.asarray([v for v in current if _is_number(v)], dtype=float)
    if len(ref) < 2 or len(cur) < 2:
        return DriftResult(name, "numeric", len(ref), len(cur), 0.0, 0.0)
    value_psi = psi(ref, cur, t.bins)
    ks = stats.ks_2samp(ref, cur)
    edges = np.histogram_bin_edges(np.concatenate([ref, cur]), bins=t.bins * 2)
    js = float(jensenshannon(np.histogram(ref, edges)[0] + _EPS,
                             np.histogram(cur, edges)[0] + _EPS, base=2))  # fmt: skip
    wd = float(stats.wasserstein_distance(ref, cur))
    std = float(ref.std()) or 1.0
    reasons: list[str] = []
    if value_psi >= t.psi:
        reasons.append(f"PSI {value_psi:.3f} >= {t.psi}")
    if ks.pvalue < t.ks_pvalue and ks.statistic >= t.ks_statistic:
        reasons.append(f"KS statistic {ks.statistic:.3f} (p={ks.pvalue:.2g})")
    score = _score(value_psi, t, extra=ks.statistic / (2 * t.ks_statistic) if reasons else 0.0)
    return DriftResult(
        name, "numeric", len(ref), len(cur), round(value_psi, 6), round(js, 6),
        ks_statistic=round(float(ks.statistic), 6), ks_pvalue=float(ks.pvalue),
        wasserstein=round(wd, 6), wasserstein_std=round(wd / std, 6),
        drifted=bool(reasons), reasons=tuple(reasons), score=score,
    )  # fmt: skip


def _compare_categorical(
    name: str, reference: Sequence[Any], current: Sequence[Any], t: DriftThresholds
) -> DriftResult:
    _cats, r, c, p, q = categorical_shares(reference, current)
    if r.sum() < 2 or c.sum() < 2:
        return DriftResult(name, "categorical", int(r.sum()), int(c.sum()), 0.0, 0.0)
    value_psi = _psi_from_shares(p, q)
    js = float(jensenshannon(p + _EPS, q + _EPS, base=2))
    chi2, pvalue = _chi_square(r, c)
    reasons: list[str] = []
    if value_psi >= t.psi:
        reasons.append(f"PSI {value_psi:.3f} >= {t.psi}")
    if pvalue < t.chi2_pvalue and js >= t.chi2_min_js:
        reasons.append(f"chi-square {chi2:.1f} (p={pvalue:.2g})")
    score = _score(value_psi, t, extra=js / (2 * t.js_distance) if reasons else 0.0)
    return DriftResult(
        name, "categorical", int(r.sum()), int(c.sum()), round(value_psi, 6), round(js, 6),
        chi2_statistic=round(chi2, 6), chi2_pvalue=pvalue,
        drifted=bool(reasons), reasons=tuple(reasons), score=score,
    )  # fmt: skip


def _chi_square(r: np.ndarray, c: np.ndarray) -> tuple[float, float]:
    """Chi-square test of homogeneity between two count vectors."""
    table = np.vstack([r, c])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return 0.0, 1.0
    res = stats.chi2_contingency(table)
    return float(res.statistic), float(res.pvalue)


def _score(value_psi: float, t: DriftThresholds, extra: float) -> float:
    """0..1: half-way at the moderate PSI band, 1 at twice the drift threshold."""
    return clamp_score(max(value_psi / (2 * t.psi), min(extra, 1.0)))


@dataclass
class DriftMonitor:
    """Keeps a sliding window of model records and reports features that drifted.

    ``reference`` maps each feature (and the prediction) to a sample from training or a
    known-good period. Records passed to ``observe`` are dicts with the same keys.
    """

    reference: Mapping[str, Sequence[Any]]
    categorical: frozenset[str] = frozenset()
    prediction_key: str = "prediction"
    window: int = 1000
    thresholds: DriftThresholds = field(default_factory=DriftThresholds)
    name: str = "drift"
    _current: dict[str, deque[Any]] = field(default_factory=dict, init=False)

    def observe(self, record: Mapping[str, Any]) -> None:
        """Add one scored record (features and prediction) to the current window."""
        for key in self.reference:
            if key in record and record[key] is not None:
                self._current.setdefault(key, deque(maxlen=self.window)).append(record[key])

    def results(self) -> list[DriftResult]:
        """Drift measures for every feature with enough data in the window."""
        out: list[DriftResult] = []
        for key, ref in self.reference.items():
            cur = self._current.get(key)
            if cur is None or len(cur) < self.thresholds.min_samples:
                continue
            out.append(compare_feature(key, ref, list(cur), key in self.categorical or None,
                                       self.thresholds))  # fmt: skip
        return out

    def check(self) -> list[Finding]:
        """One finding per drifted feature; prediction drift is its own category."""
        found: list[Finding] = []
        for res in self.results():
            if not res.drifted:
                continue
            category = "prediction_drift" if res.feature == self.prediction_key else (
                "feature_drift")  # fmt: skip
            found.append(
                Finding(
                    detector=self.name,
                    category=category,
                    score=max(res.score, 0.5),
                    archetype="unclassified",
                    span=None,
                    evidence=f"{res.feature}: " + "; ".join(res.reasons),
                    details=res.as_dict(),
                )
            )
        return found
