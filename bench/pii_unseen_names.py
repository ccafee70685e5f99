"""How the PII detector does on person names it has never seen, measured on the tuning half.

Run from the repository root:  .venv/bin/python bench/pii_unseen_names.py

The name lists were grown while looking at misses in the first (tuning) half of the shared
Presidio sample, so that half flatters them. This script takes every word of that half's
PERSON spans out of the given-name and surname lists and retrains the name-shape model without
them (into a temporary file), then scores the first half again for a few settings of the
name-shape thresholds. The shipped thresholds in quell.detection.pii were chosen from this
output, never from the second (held-out) half.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import quell.detection.pii as pii  # noqa: E402
from quell.detection.evaluate import evaluate  # noqa: E402

SHARED = Path(os.environ.get("QUELL_DATASETS", "/work/shared/datasets"))


def main() -> None:
    path = SHARED / "pii-dev.jsonl"
    if not path.exists():
        print(f"{path} not found", file=sys.stderr)
        return
    rows = path.read_text(encoding="utf-8").splitlines()
    first = rows[: len(rows) // 2]
    names = {
        pii._fold(word)
        for line in first
        for span in json.loads(line)["spans"]
        if span["entity_type"] == "PERSON"
        for word in re.findall(r"[^\W\d_]+", span["entity_value"])
    }
    with tempfile.TemporaryDirectory() as tmp:
        exclude = Path(tmp) / "names.txt"
        exclude.write_text("\n".join(sorted(names)), encoding="utf-8")
        model = Path(tmp) / "name_model.json"
        env = {**os.environ, "QUELL_NAME_EXCLUDE_FILE": str(exclude),
               "QUELL_NAME_MODEL_OUT": str(model)}  # fmt: skip
        subprocess.run([sys.executable, str(ROOT / "bench" / "train_name_model.py")],
                       check=True, env=env, stdout=subprocess.DEVNULL)  # fmt: skip
        data = json.loads(model.read_text(encoding="utf-8"))
        data_file = Path(tmp) / "first.jsonl"
        data_file.write_text("\n".join(first) + "\n", encoding="utf-8")
        weights = {k: float(v) for k, v in data["weights"].items()}
        pii._name_model.cache_clear()
        pii.name_likeness.cache_clear()
        pii._name_model = lambda: (weights, float(data["bias"]))  # type: ignore[assignment]
        print(f"first half, {len(names)} name words removed from lists and shape model")
        grid = itertools.product((0.5, 0.6, 0.7, 0.8), (0.9,), (0.9, 0.95, 0.98, 1.01))
        for pair, single, lone in [(None, None, None), *grid]:
            shapes = pair is not None
            if pair is not None and single is not None and lone is not None:
                pii.NAME_SHAPE_PAIR, pii.NAME_SHAPE_SINGLE, pii.NAME_SHAPE_LONE = pair, single, lone
            detector = pii.PIIDetector(name_shapes=shapes)
            detector._first_names = detector._first_names - names
            detector._surnames = detector._surnames - names
            span = evaluate(detector, data_file)["span"]
            person = span["per_type"]["person"]
            label = f"pair {pair} single {single} lone {lone}" if shapes else "no name shapes"
            print(f"  {label:<34} span P {span['precision']:.3f} R {span['recall']:.3f}  "
                  f"person P {person['precision']:.3f} R {person['recall']:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
