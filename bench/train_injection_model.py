"""Train the small linear injection model that ships in src/quell/detection/data/.

Run from the repository root:  .venv/bin/python bench/train_injection_model.py [--cv]

Training data is quell's own hand-written examples in bench/data (listed in TRAIN below);
nothing from /work/shared or any other data set is read. The current final held-out set
(bench/data/injection-final-heldout-3.jsonl) is never read here; the two earlier final sets
were each measured once untuned and are now training data.
Logistic regression with an L2 penalty over word, word-pair, stem, character n-gram,
multilingual cue, cue-pair and structure features (see quell.detection.injection_model),
fitted with SciPy's L-BFGS; weights smaller than PRUNE are dropped to keep the file small.

Calibration: every training text is scored by a model fitted on the other four folds (5-fold
out-of-fold probabilities); the full detector (rules + model) is run on those scores for each
candidate of how the model's probability enters the rules' noisy-or (minimum probability,
weight, veto level), and the candidate with the highest recall whose false-flag rate on the
ordinary training prompts stays at or under TARGET_FPR is written into the model file.
``--cv`` prints the out-of-fold figures and the calibration table without writing anything.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
from scipy import sparse
from scipy.optimize import minimize

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from quell.detection.injection import PromptInjectionDetector  # noqa: E402
from quell.detection.injection_model import (  # noqa: E402
    LinearScorer,
    _pair_features,
    cue,
    features,
    structure_features,
    tokens,
)
from quell.detection.normalize import normalize  # noqa: E402

DATA = ROOT / "bench" / "data"
TRAIN = (
    "injections-train.jsonl",
    "injections-train-2.jsonl",
    "injections-heldout.jsonl",
    "injections-heldout-2.jsonl",
    "injections-heldout-3.jsonl",
    "injections-train-3.jsonl",
    "injections-train-4.jsonl",
    "ordinary-prompts.jsonl",
    "ordinary-prompts-2.jsonl",
    "ordinary-prompts-3.jsonl",
    "ordinary-prompts-4.jsonl",
    "ordinary-prompts-5.jsonl",
    "ordinary-prompts-6.jsonl",
    "ordinary-prompts-7.jsonl",
    "ordinary-prompts-dev.jsonl",
    # Earlier rounds' final sets, each measured once untuned; now training data.
    "injection-final-heldout.jsonl",
    "injection-final-heldout-2.jsonl",
)
OUT = ROOT / "src" / "quell" / "detection" / "data" / "injection_model.json"
L2 = float(os.environ.get("QUELL_L2", "1.0"))
PRUNE = 0.02
TARGET_FPR = 0.005  # half the 1% target, as a margin for data the model never saw
MIN_COUNT = 2  # a feature must occur in at least this many training texts


def load() -> tuple[list[str], np.ndarray]:
    """Texts and labels of every training file."""
    texts: list[str] = []
    labels: list[int] = []
    for name in TRAIN:
        for line in (DATA / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                texts.append(row["text"])
                labels.append(int(row["label"]))
    return texts, np.array(labels, dtype=float)


def featurize(texts: list[str], vocab: dict[str, int] | None = None):  # type: ignore[no-untyped-def]
    """Sparse count matrix over the feature vocabulary (built from ``texts`` when None)."""
    bags = [text_bag(normalize(t).text) for t in texts]
    if vocab is None:
        df: dict[str, int] = {}
        for bag in bags:
            for f in set(bag):
                df[f] = df.get(f, 0) + 1
        vocab = {f: i for i, f in enumerate(sorted(f for f, c in df.items() if c >= MIN_COUNT))}
    rows, cols = [], []
    for r, bag in enumerate(bags):
        for f in bag:
            j = vocab.get(f)
            if j is not None:
                rows.append(r)
                cols.append(j)
    x = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(texts), len(vocab)))
    return x, vocab


def text_bag(text: str) -> list[str]:
    """Every feature of a whole training text (word features, cue pairs, structure marks)."""
    words = tokens(text)
    out = [f for _, f in features(words)]
    out.extend(_pair_features({c for c in map(cue, words) if c is not None}))
    out.extend(structure_features(text))
    return out


def fit(x, y: np.ndarray) -> tuple[np.ndarray, float]:  # type: ignore[no-untyped-def]
    """L2-penalised logistic regression; classes weighted to balance."""
    n, d = x.shape
    pos = y.sum()
    sw = np.where(y == 1, n / (2 * pos), n / (2 * (n - pos)))

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:d], theta[d]
        z = x @ w + b
        p = 1 / (1 + np.exp(-z))
        eps = 1e-12
        ll = -(sw * (y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps))).sum()
        g = sw * (p - y)
        grad = np.concatenate([x.T @ g + L2 * w, [g.sum()]])
        return ll + 0.5 * L2 * float(w @ w), grad

    res = minimize(loss, np.zeros(d + 1), jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return res.x[:d], float(res.x[d])


def cross_validate(texts: list[str], y: np.ndarray, folds: int = 5) -> np.ndarray:
    """Out-of-fold probabilities, each text scored by a model that never saw it."""
    rng = np.random.default_rng(7)
    order = rng.permutation(len(texts))
    out = np.zeros(len(texts))
    for k in range(folds):
        test = order[k::folds]
        train = np.setdiff1d(order, test)
        x, vocab = featurize([texts[i] for i in train])
        w, b = fit(x, y[train])
        inv = {j: f for f, j in vocab.items()}
        scorer = LinearScorer({inv[j]: float(w[j]) for j in range(len(w))}, b)
        for i in test:
            out[i] = scorer.probability(normalize(texts[i]).text)
    return out


class _Fixed(LinearScorer):
    """A scorer that answers with precomputed out-of-fold probabilities."""

    def __init__(self, table: dict[str, float], calibration: dict[str, float]) -> None:
        super().__init__({}, 0.0, calibration)
        self.table = table

    def probability(self, text: str) -> float:
        return self.table.get(text, 0.0)


CANDIDATES = [
    {"min": m, "weight": w, "veto": v}
    for m in (0.6, 0.7, 0.8, 0.85, 0.9, 0.95)
    for w in (0.55, 0.65, 0.75, 0.85, 0.95)
    for v in (0.05, 0.1, 0.2, 0.3)
]


def calibrate(texts: list[str], y: np.ndarray, p: np.ndarray) -> tuple[dict[str, float], list]:  # type: ignore[type-arg]
    """The combination with the best recall at <= TARGET_FPR, run through the real detector."""
    table = {normalize(t).text: float(pi) for t, pi in zip(texts, p, strict=True)}
    rows = []
    for cal in CANDIDATES:
        det = PromptInjectionDetector(model=_Fixed(table, cal))
        flagged = np.array([bool(det.scan(t)) for t in texts])
        rec = float((flagged & (y == 1)).sum() / (y == 1).sum())
        fpr = float((flagged & (y == 0)).sum() / (y == 0).sum())
        rows.append((cal, rec, fpr))
    # None within the target: the lowest false-flag rate, and the best recall at that rate.
    ok = [r for r in rows if r[2] <= TARGET_FPR] or [
        r for r in rows if r[2] == min(x[2] for x in rows)
    ]
    best = max(ok, key=lambda r: (r[1], -r[2]))
    return best[0], rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cv", action="store_true", help="print out-of-fold figures only")
    args = parser.parse_args()
    texts, y = load()
    p = cross_validate(texts, y)
    np.save("/tmp/quell_injection_oof.npy", p)
    for t in (0.5, 0.6, 0.7, 0.8, 0.9):
        flagged = p >= t
        rec = (flagged & (y == 1)).sum() / (y == 1).sum()
        fpr = (flagged & (y == 0)).sum() / (y == 0).sum()
        print(f"model alone, threshold {t}: recall {rec:.3f}  false positive rate {fpr:.3f}")
    if os.environ.get("QUELL_MODEL_ONLY"):
        return
    cal, rows = calibrate(texts, y, p)
    for c, rec, fpr in sorted(rows, key=lambda r: (-r[1], r[2]))[:8]:
        print(f"detector with {c}: out-of-fold recall {rec:.3f}, ordinary flagged {fpr:.3f}")
    chosen = next(r for r in rows if r[0] == cal)
    print(f"chosen: {cal}: out-of-fold recall {chosen[1]:.3f}, ordinary flagged {chosen[2]:.3f}")
    if args.cv:
        return
    x, vocab = featurize(texts)
    w, b = fit(x, y)
    weights = {f: round(float(w[j]), 3) for f, j in vocab.items() if abs(w[j]) >= PRUNE}
    OUT.write_text(
        json.dumps({"about": "quell injection model; see bench/train_injection_model.py",
                    "bias": round(b, 4), "calibration": cal,
                    "weights": dict(sorted(weights.items()))},
                   ensure_ascii=False, separators=(",", ":")) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    print(f"{OUT}: {len(weights)} weights from {len(texts)} texts ({int(y.sum())} attacks)")


if __name__ == "__main__":
    main()
