"""Measure a text detector on labelled JSON Lines: precision, recall, F1, balanced accuracy, speed.

Two line shapes are understood, and a file may mix them:

- ``{"text": "...", "label": 0 | 1}``: the text is flagged when the detector returns any
  finding; compared with the label.
- ``{"full_text": "...", "spans": [{"entity_type", "start_position", "end_position"}]}``
  (the Presidio research format): every gold span of a type the detector covers counts;
  a predicted span matches a gold span of the same type when the two overlap. These lines
  also count towards the text-level figures (label = has at least one covered span).

Malformed lines (not UTF-8, not JSON, wrong fields) are listed with their line numbers and
skipped; the rest are still evaluated. ``texts_per_second`` is measured in CPU time of this
process (detectors are single-threaded), so it reads as texts per second per core.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from quell.detection.base import MAX_SCAN_CHARS, DetectorInputError, TextDetector, coerce_text

# Entity names used by Presidio-style data sets -> the PII detector's categories.
SPAN_TYPE_MAP: dict[str, str] = {
    "EMAIL_ADDRESS": "email",
    "PHONE_NUMBER": "phone",
    "CREDIT_CARD": "credit_card",
    "IBAN_CODE": "iban",
    "US_SSN": "us_ssn",
    "UK_NINO": "uk_nino",
    "IP_ADDRESS": "ip_address",
    "PERSON": "person",
    "STREET_ADDRESS": "street_address",
}


@dataclass(frozen=True, slots=True)
class Malformed:
    """A line that could not be used, and why."""

    line: int
    error: str


@dataclass(frozen=True, slots=True)
class Example:
    """One usable line: the text, its binary label and (for span data) its gold spans."""

    line: int
    text: str
    label: int
    spans: tuple[tuple[int, int, str], ...] | None = None


def read_examples(path: str | Path) -> tuple[list[Example], list[Malformed]]:
    """Read a labelled JSONL file, keeping good lines and reporting bad ones by number."""
    examples: list[Example] = []
    bad: list[Malformed] = []
    for number, raw in _lines(Path(path)):
        if not raw.strip():
            continue
        try:
            example = parse_example(number, raw)
        except ValueError as exc:
            bad.append(Malformed(number, str(exc)))
            continue
        examples.append(example)
    return examples, bad


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as fh:
        yield from enumerate(fh, start=1)


def parse_example(number: int, raw: bytes) -> Example:
    """Turn one JSONL line into an Example, raising ValueError with a short reason."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("line is not valid UTF-8") from None
        raise ValueError(f"invalid JSON ({str(exc).split(':')[0]})") from None
    if not isinstance(obj, dict):
        raise ValueError("line is not a JSON object")
    if "full_text" in obj:
        return _span_example(number, obj)
    text, label = obj.get("text"), obj.get("label")
    if not isinstance(text, str):
        raise ValueError('missing string field "text"')
    if isinstance(label, bool):
        label = int(label)
    if label not in (0, 1):
        raise ValueError('field "label" must be 0 or 1')
    return Example(number, text, int(label))


def _span_example(number: int, obj: Mapping[str, Any]) -> Example:
    text, spans = obj.get("full_text"), obj.get("spans")
    if not isinstance(text, str) or not isinstance(spans, list):
        raise ValueError('"full_text" must be a string and "spans" a list')
    gold: list[tuple[int, int, str]] = []
    for s in spans:
        if not isinstance(s, dict):
            raise ValueError("each span must be an object")
        a, b, kind = s.get("start_position"), s.get("end_position"), s.get("entity_type")
        if not (isinstance(a, int) and isinstance(b, int) and isinstance(kind, str)
                and 0 <= a < b <= len(text)):  # fmt: skip
            raise ValueError("span needs entity_type and 0 <= start < end <= len(full_text)")
        gold.append((a, b, kind))
    covered = any(k in SPAN_TYPE_MAP for _, _, k in gold)
    return Example(number, text, int(covered), tuple(gold))


@dataclass
class _Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, predicted: bool, actual: bool) -> None:
        if predicted and actual:
            self.tp += 1
        elif predicted:
            self.fp += 1
        elif actual:
            self.fn += 1
        else:
            self.tn += 1


@dataclass
class _SpanCounts:
    gold: Counter[str] = field(default_factory=Counter)
    found: Counter[str] = field(default_factory=Counter)
    predicted_ok: Counter[str] = field(default_factory=Counter)
    predicted: Counter[str] = field(default_factory=Counter)


def evaluate(detector: TextDetector, path: str | Path) -> dict[str, Any]:
    """Run ``detector`` over a labelled file and return the metrics as a JSON-ready dict."""
    examples, bad = read_examples(path)
    counts = _Counts()
    spans = _SpanCounts()
    has_spans = False
    skipped: list[Malformed] = []
    truncated = 0
    elapsed = 0.0
    for ex in examples:
        try:
            text = coerce_text(ex.text)
        except DetectorInputError as exc:
            skipped.append(Malformed(ex.line, exc.message))
            continue
        truncated += len(text) > MAX_SCAN_CHARS
        started = time.process_time()
        findings = detector.scan(text)
        elapsed += time.process_time() - started
        counts.add(bool(findings), bool(ex.label))
        if ex.spans is not None:
            has_spans = True
            _count_spans(ex.spans, [(f.span, f.category) for f in findings if f.span], spans)
    n = counts.tp + counts.fp + counts.fn + counts.tn
    result: dict[str, Any] = {
        "detector": detector.name,
        "file": str(path),
        "n": n,
        **binary_metrics(counts.tp, counts.fp, counts.fn, counts.tn),
        "texts_per_second": round(n / elapsed, 1) if elapsed > 0 else None,
        "truncated": truncated,
        "malformed": [{"line": m.line, "error": m.error} for m in bad + skipped],
    }
    if has_spans:
        result["span"] = _span_metrics(spans)
    return result


def binary_metrics(tp: int, fp: int, fn: int, tn: int) -> dict[str, Any]:
    """Precision, recall, F1, balanced accuracy and the confusion counts."""
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    specificity = tn / (tn + fp) if tn + fp else 0.0
    if tp + fn and tn + fp:
        balanced = (recall + specificity) / 2
    else:
        balanced = recall if tp + fn else specificity
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "balanced_accuracy": round(balanced, 4),
        "false_positive_rate": round(fp / (fp + tn), 4) if fp + tn else 0.0,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
    }


def _count_spans(gold: tuple[tuple[int, int, str], ...],
                 predicted: list[tuple[tuple[int, int], str]], c: _SpanCounts) -> None:  # fmt: skip
    mapped = [(a, b, SPAN_TYPE_MAP[k]) for a, b, k in gold if k in SPAN_TYPE_MAP]
    for a, b, kind in mapped:
        c.gold[kind] += 1
        if any(cat == kind and s[0] < b and a < s[1] for s, cat in predicted):
            c.found[kind] += 1
    for (a, b), cat in predicted:
        c.predicted[cat] += 1
        if any(kind == cat and a < gb and ga < b for ga, gb, kind in mapped):
            c.predicted_ok[cat] += 1


def _span_metrics(c: _SpanCounts) -> dict[str, Any]:
    gold, found = sum(c.gold.values()), sum(c.found.values())
    pred, ok = sum(c.predicted.values()), sum(c.predicted_ok.values())
    per_type = {
        kind: {
            "gold": c.gold[kind],
            "recall": round(c.found[kind] / c.gold[kind], 4) if c.gold[kind] else None,
            "predicted": c.predicted[kind],
            "precision": round(c.predicted_ok[kind] / c.predicted[kind], 4)
            if c.predicted[kind] else None,
        }
        for kind in sorted(set(c.gold) | set(c.predicted))
    }  # fmt: skip
    return {
        "matching": "overlap, same type",
        "precision": round(ok / pred, 4) if pred else 0.0,
        "recall": round(found / gold, 4) if gold else 0.0,
        "gold_spans": gold,
        "predicted_spans": pred,
        "per_type": per_type,
        "types_evaluated": sorted(SPAN_TYPE_MAP),
    }
