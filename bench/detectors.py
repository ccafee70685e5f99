"""Benchmark quell's offline text detectors: quality on held-out data, and speed per core.

Run from the repository root:  .venv/bin/python bench/detectors.py [--json] [--no-pin]
[--speed-only] [--model FOLDER]. ``--speed-only`` reads no final injection set: use it while tuning.
``--model`` adds an opt-in model folder's figures on the never-tuned final sets (alone and beside
the default injection detector) and its speed (bench/finetune_injection.py builds one).

The process pins itself to CPU 0 (like ``taskset -c 0``) unless ``--no-pin`` is given, and
speed is measured in CPU time, so figures read as texts per second on one core.

Data:
- bench/data/*.jsonl: hand-written for quell (ordinary prompts, injections, toxicity). The
  last of FINAL_SETS (the trainer's HELD_OUT) are the never-tuned injection sets, reported with
  a per-kind breakdown and left out of the speed corpora.
- /work/shared/datasets/*.jsonl (or $QUELL_DATASETS): development samples, read in place and
  split in two halves by line order; the first half was used for tuning, the second is reported
  as held out. Missing files are skipped with a note.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from quell.detection.base import (  # noqa: E402
    Finding,
    TextDetector,
    default_text_detectors,
    get_detector,
    scan_text,
)
from quell.detection.evaluate import evaluate  # noqa: E402
from quell.detection.injection import PromptInjectionDetector  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from train_injection_model import EMPHASIS, HELD_OUT, TRAIN  # noqa: E402

DATA = ROOT / "bench" / "data"
SHARED = Path(os.environ.get("QUELL_DATASETS", "/work/shared/datasets"))


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _mix(tmp: Path, name: str, *parts: list[str]) -> Path:
    out = tmp / name
    out.write_text("\n".join(line for part in parts for line in part) + "\n", encoding="utf-8")
    return out


def _halves(path: Path) -> tuple[list[str], list[str]]:
    rows = _lines(path)
    half = len(rows) // 2
    return rows[:half], rows[half:]


def _pick(result: dict[str, Any]) -> dict[str, Any]:
    keys = ("n", "precision", "recall", "f1", "balanced_accuracy", "false_positive_rate",
            "texts_per_second")  # fmt: skip
    out = {k: result[k] for k in keys}
    if "span" in result:
        span = result["span"]
        out["span_precision"] = span["precision"]
        out["span_recall"] = span["recall"]
        out["span_per_type"] = {k: v["recall"] for k, v in span["per_type"].items()}
    return out


# Final injection sets, oldest first, and the training sets, as the trainer lists them. Each
# final set was committed before the detector changes of its round and measured once untuned at
# the end of it; the last ones (the trainer's HELD_OUT) are never tuned on, the earlier ones
# are training data since.
FINAL_SETS: tuple[str, ...] = (
    *(name for name, group in TRAIN if group.startswith("final")),
    *HELD_OUT,
)


def _training_sets() -> dict[str, tuple[list[str], list[str]]]:
    """Label -> (ordinary prompt files, attack files) of each writer's training group."""
    files: dict[str, list[str]] = {}
    for name, group in TRAIN:
        if group.startswith("set"):
            files.setdefault(group, []).append(name)
    out = {}
    for group, names in files.items():
        note = f" ({EMPHASIS[group]})" if group in EMPHASIS else ""
        ordinary = [n for n in names if n.startswith("ordinary")]
        out[f"quell training set {group[3:]}{note}"] = (
            ordinary,
            [n for n in names if n not in ordinary],
        )
    return out


TRAINING_SETS = _training_sets()


def _held_out() -> list[tuple[int, str]]:
    """(final set number, file) of each never-tuned final set: they close FINAL_SETS."""
    return list(enumerate(HELD_OUT, start=len(FINAL_SETS) - len(HELD_OUT) + 1))


def _counts(rows: list[dict[str, Any]]) -> str:
    attacks = sum(1 for r in rows if r["label"])
    return f"{attacks} attacks + {len(rows) - attacks} ordinary"


def by_kind(path: Path) -> dict[str, str]:
    """Flagged / total per line kind ("attack:fiction", "ordinary:tricky") of a final set."""
    detector = PromptInjectionDetector()
    total: dict[str, int] = {}
    flagged: dict[str, int] = {}
    for line in _lines(path):
        row = json.loads(line)
        key = ("attack:" if row["label"] else "ordinary:") + row.get("kind", "-")
        total[key] = total.get(key, 0) + 1
        flagged[key] = flagged.get(key, 0) + bool(detector.scan(row["text"]))
    return {key: f"{flagged[key]}/{total[key]}" for key in sorted(total)}


def injection_quality(tmp: Path) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    inj = get_detector("prompt_injection")
    for number, final in _held_out():
        rows = [json.loads(line) for line in _lines(DATA / final)]
        label = f"final set {number} ({_counts(rows)})"
        results[f"prompt_injection / {label}, never tuned on"] = _pick(evaluate(inj, DATA / final))
        results[f"prompt_injection / {label}, rules only (no word model)"] = _pick(
            evaluate(PromptInjectionDetector(model=False), DATA / final)
        )
        results[f"prompt_injection / {label}, per kind"] = by_kind(DATA / final)
    for number, name in enumerate(FINAL_SETS[: -len(HELD_OUT)], start=1):
        earlier_rows = [json.loads(line) for line in _lines(DATA / name)]
        results[
            f"prompt_injection / final set {number} ({_counts(earlier_rows)}), now tuned and "
            "trained on"
        ] = _pick(evaluate(inj, DATA / name))
    for label, (negs, poss) in TRAINING_SETS.items():
        parts = [_lines(DATA / name) for name in (*negs, *poss)]
        results[f"prompt_injection / {label}, tuned and trained on"] = _pick(
            evaluate(inj, _mix(tmp, "t.jsonl", *parts))
        )
    return results


def quality(tmp: Path) -> dict[str, dict[str, Any]]:
    """Every quality figure, keyed by a short description of detector and data."""
    results = injection_quality(tmp)
    results["prompt_injection / quell ordinary dev prompts (30, tricky), tuned on"] = _pick(
        evaluate(get_detector("prompt_injection"), DATA / "ordinary-prompts-dev.jsonl")
    )
    ordinary_all = [line for path in sorted(DATA.glob("ordinary-prompts*.jsonl"))
                    for line in _lines(path)]  # fmt: skip
    results[
        f"pii / all quell ordinary prompts ({len(ordinary_all)}, labelled 0; a few name someone)"
    ] = _pick(evaluate(get_detector("pii"), _mix(tmp, "o.jsonl", ordinary_all)))
    tox = get_detector("toxicity")
    results["toxicity / quell held-out set (40 toxic + 45 not)"] = _pick(
        evaluate(tox, DATA / "toxicity-heldout.jsonl")
    )
    shared = {
        "prompt_injection": SHARED / "prompt-injection-dev.jsonl",
        "pii": SHARED / "pii-dev.jsonl",
        "toxicity": SHARED / "toxicity-dev.jsonl",
    }
    for name, path in shared.items():
        if not path.exists():
            print(f"note: {path} not found; skipping", file=sys.stderr)
            continue
        tune, test = _halves(path)
        detector = get_detector(name)
        results[f"{name} / {path.name} second half (held out)"] = _pick(
            evaluate(detector, _mix(tmp, f"{name}-test.jsonl", test))
        )
        results[f"{name} / {path.name} first half (tuned on)"] = _pick(
            evaluate(detector, _mix(tmp, f"{name}-tune.jsonl", tune))
        )
    return results


def speed(tmp: Path) -> dict[str, Any]:
    """Texts per second for all default detectors together, per corpus and overall."""
    corpora: dict[str, list[str]] = {}
    for path in sorted(DATA.glob("*.jsonl")) + sorted(SHARED.glob("*-dev.jsonl")):
        if path.name in HELD_OUT:
            continue  # never read outside the measurements of quality()
        for line in _lines(path):
            obj = json.loads(line)
            corpora.setdefault(path.name, []).append(obj.get("text") or obj.get("full_text") or "")
    # Longer documents (about 2,000 characters each), stitched from the ordinary prompts.
    pool = [t for name, texts in corpora.items() if name.startswith("ordinary") for t in texts]
    docs = [" ".join(pool[i : i + 40]) for i in range(0, max(len(pool) - 40, 1), 4)][:100]
    corpora["stitched ~2,000-char documents"] = docs
    report = {name: _speed(texts) for name, texts in corpora.items()}
    report["all"] = _speed([t for texts in corpora.values() for t in texts])
    return report


def _speed(texts: list[str], repeat: int = 3) -> dict[str, Any]:
    """Best of ``repeat`` runs of every default detector over ``texts`` on one core."""
    detectors = default_text_detectors()
    best = 0.0
    per_detector: dict[str, float] = {}
    for _ in range(repeat):
        started = time.process_time()
        for text in texts:
            for d in detectors:
                d.scan(text)
        best = max(best, len(texts) / (time.process_time() - started))
    for d in detectors:
        started = time.process_time()
        for text in texts:
            d.scan(text)
        per_detector[d.name] = round(len(texts) / (time.process_time() - started))
    mean_len = sum(map(len, texts)) / max(len(texts), 1)
    return {"texts": len(texts), "mean_chars": round(mean_len), "all_defaults_texts_per_second":
            round(best), "per_detector_texts_per_second": per_detector}  # fmt: skip


class _Either:
    """Flags what either detector flags: a model folder run beside the default detector."""

    def __init__(self, *detectors: TextDetector) -> None:
        self.detectors = detectors
        self.name = "+".join(d.name for d in detectors)

    def scan(self, text: str) -> list[Finding]:
        return scan_text(text, self.detectors)


def model_quality(folder: Path) -> dict[str, Any]:
    """An opt-in model folder on the never-tuned final sets: alone, beside the default, speed."""
    model = get_detector(str(folder))
    either = _Either(get_detector("prompt_injection"), model)
    results: dict[str, Any] = {}
    for number, name in _held_out():
        label = f"final set {number}"
        results[f"{model.name} / {label}, never tuned on"] = _pick(evaluate(model, DATA / name))
        results[f"{model.name} or prompt_injection / {label}"] = _pick(
            evaluate(either, DATA / name)
        )
    ordinary = [json.loads(line)["text"] for line in _lines(DATA / "ordinary-prompts.jsonl")]
    started = time.process_time()
    for text in ordinary:
        model.scan(text)
    results[f"{model.name} / speed on {len(ordinary)} ordinary prompts, one core"] = {
        "texts_per_second": round(len(ordinary) / (time.process_time() - started)),
        "mean_chars": round(sum(map(len, ordinary)) / len(ordinary)),
    }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--no-pin", action="store_true", help="do not pin to CPU 0")
    parser.add_argument(
        "--speed-only", action="store_true", help="speed alone (reads no final set)"
    )
    parser.add_argument(
        "--model", type=Path, help="also measure an opt-in model folder (quell-detector.json)"
    )
    args = parser.parse_args()
    if not args.no_pin and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    with tempfile.TemporaryDirectory() as tmp:
        q = {} if args.speed_only else quality(Path(tmp))
        if args.model and not args.speed_only:
            q.update(model_quality(args.model))
        s = speed(Path(tmp))
    if args.json:
        print(json.dumps({"quality": q, "speed": s}, indent=2))
        return
    for name, r in q.items():
        if name.endswith("per kind"):
            print(f"{name}\n    " + ", ".join(f"{k} {v}" for k, v in r.items()))
            continue
        figures = ", ".join(
            f"{k}={v}" for k, v in r.items() if k not in ("span_per_type", "texts_per_second")
        ) or f"{r['texts_per_second']} texts/s"
        print(f"{name}\n    {figures}")
        if "span_per_type" in r:
            print(f"    span recall per type: {r['span_per_type']}")
    print("speed, all default detectors together, one core (texts/s):")
    for name, r in s.items():
        print(
            f"    {name:<32} {r['all_defaults_texts_per_second']:>7}  "
            f"(n={r['texts']}, mean {r['mean_chars']} chars)"
        )


if __name__ == "__main__":
    main()
