"""Train the small linear injection model that ships in src/quell/detection/data/.

Run from the repository root:  .venv/bin/python bench/train_injection_model.py [--cv]

Training data is quell's own hand-written examples in bench/data (listed in TRAIN below);
nothing from /work/shared or any other data set is read. The current final held-out set
(bench/data/injection-final-heldout-2.jsonl) is never used here; the previous round's final
set (injection-final-heldout.jsonl) was measured once untuned and is now training data.
Logistic regression with an L2 penalty over hashed-free word features (see
quell.detection.injection_model), fitted with SciPy's L-BFGS; weights smaller than PRUNE are
dropped to keep the file small.
``--cv`` prints 5-fold out-of-fold figures instead of writing the weights.
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

from quell.detection.injection_model import features, tokens  # noqa: E402
from quell.detection.normalize import normalize  # noqa: E402

DATA = ROOT / "bench" / "data"
TRAIN = (
    "injections-train.jsonl",
    "injections-train-2.jsonl",
    "injections-heldout.jsonl",
    "injections-heldout-2.jsonl",
    "injections-heldout-3.jsonl",
    "ordinary-prompts.jsonl",
    "ordinary-prompts-2.jsonl",
    "ordinary-prompts-3.jsonl",
    "ordinary-prompts-4.jsonl",
    "ordinary-prompts-5.jsonl",
    "ordinary-prompts-dev.jsonl",
    # The previous round's final set, measured once untuned; now training data.
    "injection-final-heldout.jsonl",
)
OUT = ROOT / "src" / "quell" / "detection" / "data" / "injection_model.json"
L2 = float(os.environ.get("QUELL_L2", "1.0"))
PRUNE = 0.02
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
    bags = [[f for _, f in features(tokens(normalize(t).text))] for t in texts]
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
    from quell.detection.injection_model import LinearScorer

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cv", action="store_true", help="print out-of-fold figures only")
    args = parser.parse_args()
    texts, y = load()
    if args.cv:
        p = cross_validate(texts, y)
        for t in (0.5, 0.6, 0.7, 0.8, 0.9):
            flagged = p >= t
            rec = (flagged & (y == 1)).sum() / (y == 1).sum()
            fpr = (flagged & (y == 0)).sum() / (y == 0).sum()
            print(f"threshold {t}: recall {rec:.3f}  false positive rate {fpr:.3f}")
        np.save("/tmp/quell_injection_oof.npy", p)
        return
    x, vocab = featurize(texts)
    w, b = fit(x, y)
    weights = {f: round(float(w[j]), 3) for f, j in vocab.items() if abs(w[j]) >= PRUNE}
    OUT.write_text(
        json.dumps({"about": "quell injection model; see bench/train_injection_model.py",
                    "bias": round(b, 4), "weights": dict(sorted(weights.items()))},
                   ensure_ascii=False, separators=(",", ":")) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    print(f"{OUT}: {len(weights)} weights from {len(texts)} texts ({int(y.sum())} attacks)")


if __name__ == "__main__":
    main()
