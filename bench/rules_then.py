"""Audit the injection detector's rules as a new writer meets them: each final set scored by
the rules as they stood before anyone read that set, beside the word model out of fold.

Run from the repository root (needs the git history, and the out-of-fold probabilities that
``bench/train_injection_model.py --cv`` saves):

    .venv/bin/python bench/train_injection_model.py --cv
    .venv/bin/python bench/rules_then.py [--oof /tmp/quell_injection_oof.npy]

For each final set below, the commit that added it (the rules then had never seen it) is
checked out in a temporary git worktree and its rules' hits on the set are read there; the
hits are then combined with the word model's grouped out-of-fold probability by today's
``model_evidence`` under round 7's and today's calibrations. Printed: rules alone, each
calibration, and the model alone at a few thresholds, pooled and per set. This is how round 8
found that the rules, out of sample, buy about a point of recall for half a point of false
flags (bench/README.md, "Round 8").
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from train_injection_model import DATA, TRAIN, load, rates  # noqa: E402

from quell.detection.injection import (  # noqa: E402
    PromptInjectionDetector,
    Rule,
    _Hit,
    model_evidence,
)
from quell.detection.injection_model import shipped_scorer  # noqa: E402

# Final set -> the commit that added it, before any rule was tuned on it.
RULES_THEN = {
    "injection-final-heldout-4.jsonl": "0de453d",
    "injection-final-heldout-5.jsonl": "794a1c7",
    "injection-final-heldout-6.jsonl": "d13cfea",
    "injection-final-heldout-7.jsonl": "b6154ed",
}
ROUND_7 = {"min": 0.95, "weight": 0.51, "veto": 0.2, "spares": 0.99}
# Run inside an old worktree: print each text's rule hits as JSON.
_DUMP = """
import json, sys
from quell.detection.injection import PromptInjectionDetector
det = PromptInjectionDetector(model=False)
out = []
for line in open(sys.argv[1], encoding="utf-8"):
    if line.strip():
        hits, _ = det._hits(json.loads(line)["text"])
        out.append([[h.rule.name, h.rule.category, h.weight, h.via] for h in hits])
print(json.dumps(out))
"""


def hits_then(name: str, commit: str, scratch: Path) -> list[list[list]]:
    """Rule hits on ``name`` by the rules at ``commit`` (a throwaway worktree)."""
    tree = scratch / commit
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-f", str(tree),
                    commit], check=True, capture_output=True)  # fmt: skip
    try:
        done = subprocess.run(
            [sys.executable, "-c", _DUMP, str(DATA / name)], cwd=tree, check=True,
            capture_output=True, text=True, env={"PYTHONPATH": str(tree / "src")},
        )  # fmt: skip
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                       check=False, capture_output=True)  # fmt: skip
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--oof", default="/tmp/quell_injection_oof.npy",
                        help="grouped out-of-fold probabilities saved by the trainer")
    args = parser.parse_args()
    texts, y_all, groups = load()
    p_all = np.load(args.oof)
    if len(p_all) != len(texts):
        sys.exit(f"{args.oof} holds {len(p_all)} scores for {len(texts)} training texts: "
                 "rerun bench/train_injection_model.py --cv")  # fmt: skip
    group_of = dict(TRAIN)  # each final set is a group of its own, its lines in file order
    det = PromptInjectionDetector(model=False)
    rules: dict[tuple[str, str], Rule] = {}
    rows = []  # (set, text, label, hits, p)
    with tempfile.TemporaryDirectory() as scratch:
        for name, commit in RULES_THEN.items():
            if name not in group_of:
                sys.exit(f"{name} is not in the trainer's TRAIN list: no out-of-fold score")
            at = np.flatnonzero(groups == group_of[name])
            print(f"{name}: rules at {commit} ...", file=sys.stderr)
            for i, found in zip(at, hits_then(name, commit, Path(scratch)), strict=True):
                hits = [
                    _Hit(rules.setdefault((r, c), Rule(r, c, 0.0, re.compile(r"(?!)"))),
                         (0, len(texts[i])), w, via)
                    for r, c, w, via in found
                ]  # fmt: skip
                rows.append((name, texts[i], int(y_all[i]), hits, float(p_all[i])))
    y = np.array([r[2] for r in rows])
    sets = np.array([r[0] for r in rows])
    p = np.array([r[4] for r in rows])

    def decide(cal: dict[str, float]) -> np.ndarray:
        return np.array([
            bool(det._combine(t, model_evidence(h, pr, cal, len(t)), 0.5))
            for _, t, _, h, pr in rows
        ])  # fmt: skip

    shipped = shipped_scorer()
    ways = {
        "rules alone": decide({"min": 2.0, "veto": 0.0}),
        f"round 7's calibration {ROUND_7}": decide(ROUND_7),
        f"shipped calibration {shipped.calibration if shipped else {}}": decide(
            shipped.calibration if shipped else {}
        ),
        **{f"model alone >= {t}": p >= t for t in (0.85, 0.9, 0.95)},
    }
    for label, flagged in ways.items():
        rec, fpr = rates(flagged, y)
        per = "  ".join(
            "{} {:.3f} at {:.2%}".format(n.removeprefix("injection-final-heldout-")[:-6],
                                         *rates(flagged[sets == n], y[sets == n]))
            for n in RULES_THEN
        )  # fmt: skip
        print(f"{label}\n    pooled recall {rec:.3f} at {fpr:.2%} ordinary flagged | {per}")


if __name__ == "__main__":
    main()
