"""Train the small "does this word look like a personal name" model used by the PII detector.

Run from the repository root:  .venv/bin/python bench/train_name_model.py

Positives: the given names and family names bundled with quell (src/quell/detection/data/).
Negatives: ordinary words, taken as the lower-case words of the Python standard library's own
source and docstrings (whatever Python runs this script), of quell's hand-written prompts in
bench/data, and a short hand-written list of place and organisation words below; words that
are also in the name lists are dropped. Nothing from /work/shared is read. Features are
character 2- to 4-grams of the folded word with start and end marks; logistic regression with
an L2 penalty (SciPy L-BFGS); small weights are pruned. Output:
src/quell/detection/data/name_model.json.
"""

from __future__ import annotations

import collections
import json
import os
import pathlib
import re
import sys
import sysconfig

import numpy as np
from scipy import sparse

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from quell.detection.pii import first_names, name_features, surnames  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from linear import fit_logistic, write_model  # noqa: E402

OUT = ROOT / "src" / "quell" / "detection" / "data" / "name_model.json"
# For experiments only: names to leave out (one per line) and where to write instead.
EXCLUDE = set(
    (
        os.environ.get("QUELL_NAME_EXCLUDE_FILE")
        and pathlib.Path(os.environ["QUELL_NAME_EXCLUDE_FILE"]).read_text().split()
    )
    or ()
)
if os.environ.get("QUELL_NAME_MODEL_OUT"):
    OUT = pathlib.Path(os.environ["QUELL_NAME_MODEL_OUT"])
L2 = 2.0
PRUNE = 0.05
# Places, organisation words and other capitalised non-names, written for quell.
NOT_NAMES = """
london paris berlin madrid rome vienna prague budapest warsaw lisbon dublin oslo stockholm helsinki
copenhagen amsterdam brussels athens bucharest sofia zagreb belgrade ljubljana bratislava riga
tallinn
vilnius kyiv moscow istanbul ankara cairo tunis algiers rabat lagos nairobi accra johannesburg
tokyo osaka kyoto beijing shanghai seoul mumbai delhi bangalore karachi dhaka jakarta manila bangkok
hanoi sydney melbourne auckland toronto montreal vancouver chicago boston seattle denver houston
dallas atlanta miami phoenix portland detroit california texas florida ohio georgia virginia
carolina arizona nevada oregon washington colorado michigan illinois europe asia africa america
australia canada mexico brazil argentina chile peru colombia germany france spain italy portugal
poland austria hungary czechia slovakia slovenia croatia serbia greece turkey romania bulgaria
ukraine russia sweden norway finland denmark iceland ireland scotland england wales netherlands
belgium switzerland luxembourg estonia latvia lithuania cyprus malta egypt morocco nigeria kenya
india china japan korea vietnam thailand indonesia pakistan iran iraq israel jordan lebanon syria
company group holdings solutions systems technologies services partners bank university college
school institute hospital clinic street road avenue square station airport hotel restaurant museum
church theatre stadium market insurance airlines motors electric global international industries
enterprises labs software network media foundation association council ministry department agency
office north south east west central monday tuesday wednesday thursday friday saturday sunday
january february march april june july august september october november december spring summer
autumn winter christmas easter internet google microsoft amazon apple facebook twitter youtube
python java linux windows android iphone excel word powerpoint english german french spanish
italian chinese japanese russian arabic portuguese dutch swedish polish greek turkish hindi
"""


def vocabulary() -> list[str]:
    """Ordinary lower-case words from the standard library and quell's own prompt files."""
    counts: collections.Counter[str] = collections.Counter()
    std = pathlib.Path(sysconfig.get_paths()["stdlib"])
    for path in std.rglob("*.py"):
        if "test" in path.parts or "site-packages" in path.parts:
            continue
        text = path.read_text("utf-8", errors="ignore")
        counts.update(re.findall(r"(?<![\w.])[a-z]{3,}(?![\w(])", text))
    for path in (ROOT / "bench" / "data").glob("*.jsonl"):
        for line in path.read_text("utf-8").splitlines():
            if line.strip():
                counts.update(
                    w.lower() for w in re.findall(r"[^\W\d_]{3,}", json.loads(line)["text"])
                )
    words = {w for w, n in counts.items() if n >= 2} | set(NOT_NAMES.split())
    names = first_names() | surnames()
    return sorted(w for w in words if w not in names and w not in EXCLUDE)


def main() -> None:
    names = sorted((first_names() | surnames()) - EXCLUDE)
    words = vocabulary()
    texts = names + words
    y = np.array([1.0] * len(names) + [0.0] * len(words))
    vocab: dict[str, int] = {}
    rows: list[int] = []
    cols: list[int] = []
    for r, t in enumerate(texts):
        for f in name_features(t):
            rows.append(r)
            cols.append(vocab.setdefault(f, len(vocab)))
    x = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(texts), len(vocab)))
    w, b = fit_logistic(x, y, L2, maxiter=400)
    weights = {f: round(float(w[j]), 2) for f, j in vocab.items() if abs(w[j]) >= PRUNE}
    write_model(OUT, "quell name-shape model; see bench/train_name_model.py", round(b, 3), weights)
    print(f"{OUT}: {len(weights)} weights; {len(names)} names, {len(words)} ordinary words")


if __name__ == "__main__":
    main()
