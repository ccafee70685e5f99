"""The logistic regression both of quell's small shipped models are fitted with.

Class-balanced, L2-penalised, fitted with SciPy's L-BFGS on a sparse feature matrix; used by
bench/train_injection_model.py and bench/train_name_model.py, which write the weights as JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse
from scipy.optimize import minimize


def fit_logistic(
    x: Any, y: np.ndarray, l2: float, *, neg_weight: float = 1.0, maxiter: int = 500
) -> tuple[np.ndarray, float]:
    """Weights and bias; each class weighted to half the loss (ordinary ones x ``neg_weight``)."""
    n, d = x.shape
    pos = y.sum()
    sw = np.where(y == 1, n / (2 * pos), neg_weight * n / (2 * (n - pos)))

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:d], theta[d]
        p = 1 / (1 + np.exp(-(x @ w + b)))
        ll = -(sw * (y * np.log(p + 1e-12) + (1 - y) * np.log(1 - p + 1e-12))).sum()
        g = sw * (p - y)
        return ll + 0.5 * l2 * float(w @ w), np.concatenate([x.T @ g + l2 * w, [g.sum()]])

    res = minimize(
        loss, np.zeros(d + 1), jac=True, method="L-BFGS-B", options={"maxiter": maxiter}
    )
    return res.x[:d], float(res.x[d])


def nb_ratios(x: Any, y: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """Log-count ratio of each feature's presence in positives against negatives (smoothed)."""
    present = (x > 0).astype(float)
    p = alpha + np.asarray(present[y == 1].sum(axis=0)).ravel()
    q = alpha + np.asarray(present[y == 0].sum(axis=0)).ravel()
    return np.log((p / p.sum()) / (q / q.sum()))


def fit_nb_logistic(
    x: Any, y: np.ndarray, l2: float, *, alpha: float = 1.0, neg_weight: float = 1.0
) -> tuple[np.ndarray, float]:
    """Logistic regression over features scaled by their NB log-count ratios (NBSVM's idea).

    The scaling is folded back into the weights, so the result scores the unscaled features and
    ships in the same linear format.
    """
    r = nb_ratios(x, y, alpha)
    w, b = fit_logistic(x @ sparse.diags(r), y, l2, neg_weight=neg_weight)
    return w * r, b


def write_model(
    path: Path, about: str, bias: float, weights: dict[str, float], **extra: Any
) -> None:
    """The model file: compact JSON, weights sorted by feature."""
    body = {"about": about, "bias": bias, **extra, "weights": dict(sorted(weights.items()))}
    path.write_text(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8"
    )
