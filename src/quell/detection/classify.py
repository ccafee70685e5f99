"""Archetype classification: which of the playbook's six archetypes a group of signals shows.

Evidence comes from four places, strongest first: an explicit archetype hint (a detector
finding or a sender that knows), the signal kind (the detector type), labels (`archetype`,
`category`, `owasp`), and words in the summary and alert name. Each piece of evidence gives a
weight to one archetype; weights of many signals combine as independent evidence
(1 - prod(1 - w)), so ten weak hints add up but never reach certainty.

The answer is `unclassified` unless the best archetype clears a confidence threshold: an
operational symptom (latency, error rate, drift) alone names no archetype, and quell does not
guess one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from quell.incidents import lifecycle
from quell.ingest.signal import Signal

UNCLASSIFIED = "unclassified"
ARCHETYPES = tuple(a for a in lifecycle.ARCHETYPES if a != UNCLASSIFIED)
DEFAULT_THRESHOLD = 0.6

# Weight of an explicit hint: a detector that says "prompt_injection" is nearly, not fully, sure.
HINT_WEIGHT = 0.85

# Signal kind (detector type) -> archetype weights. Operational kinds (latency, drift,
# error_rate, task_completion, cost, change) are absent on purpose: they describe impact, not cause.
KIND_EVIDENCE: dict[str, dict[str, float]] = {
    "prompt_injection": {"prompt_injection": 0.75},
    "pii": {"data_exfiltration": 0.75},
    "secrets": {"data_exfiltration": 0.75},
    # A canary in an output is a leaked system prompt, usually pulled out by an injection.
    "canary": {"data_exfiltration": 0.6, "prompt_injection": 0.35},
    "toxicity": {"toxicity_abuse": 0.75},
    "agent_action": {"agentic_misalignment": 0.75},
    "jailbreak": {"model_manipulation": 0.75},
    "hallucination": {"misinformation_cascade": 0.7},
    "output_pattern": {"model_manipulation": 0.15, "misinformation_cascade": 0.15},
}

# Detector categories (label `category`) that point somewhere more precise than their detector.
CATEGORY_EVIDENCE: dict[str, dict[str, float]] = {
    "jailbreak": {"model_manipulation": 0.7},
    "role_play": {"model_manipulation": 0.5},
    "obfuscation": {"model_manipulation": 0.4, "prompt_injection": 0.3},
    "direct_injection": {"prompt_injection": 0.6},
    "indirect_injection": {"prompt_injection": 0.7},
    "system_prompt_extraction": {"prompt_injection": 0.5, "data_exfiltration": 0.4},
    "canary_leak": {"data_exfiltration": 0.6},
    "hate": {"toxicity_abuse": 0.7},
    "harassment": {"toxicity_abuse": 0.7},
    "sexual": {"toxicity_abuse": 0.6},
    "violence": {"toxicity_abuse": 0.6},
    "action_denied": {"agentic_misalignment": 0.6},
}

# OWASP LLM Top 10 2025 ids a sender may put in an `owasp` label.
OWASP_EVIDENCE: dict[str, dict[str, float]] = {
    "LLM01": {"prompt_injection": 0.7},
    "LLM02": {"data_exfiltration": 0.7},
    "LLM04": {"model_manipulation": 0.6},
    "LLM06": {"agentic_misalignment": 0.7},
    "LLM07": {"data_exfiltration": 0.4, "prompt_injection": 0.3},
    "LLM09": {"misinformation_cascade": 0.7},
}

# Words in the summary or alert name. Moderate weights: text is the weakest evidence.
TEXT_EVIDENCE: tuple[tuple[re.Pattern[str], str, float], ...] = tuple(
    (re.compile("|".join(patterns), re.IGNORECASE), archetype, weight)
    for patterns, archetype, weight in (
        (
            (r"prompt[ _-]?injection", r"ignore (all )?(the )?previous instructions"),
            "prompt_injection",
            0.55,
        ),
        (
            (
                r"jail[ _-]?break",
                r"adversarial (input|prompt|example)",
                r"safety filter (bypass|evasion)",
                r"evasion attack",
            ),
            "model_manipulation",
            0.55,
        ),
        (
            (
                r"\bpii\b",
                r"personal data",
                r"data (leak|exfiltration)",
                r"exfiltrat",
                r"leaked (data|credentials?|records?)",
                r"training data (extraction|leak)",
                r"secrets? (leak|exposed)",
            ),
            "data_exfiltration",
            0.55,
        ),
        (
            (
                r"hallucinat",
                r"misinformation",
                r"confabulat",
                r"fabricated",
                r"(incorrect|wrong) (answers?|facts?|policy)",
            ),
            "misinformation_cascade",
            0.5,
        ),
        (
            (r"toxic", r"hate speech", r"harass", r"abusive", r"\bslurs?\b", r"discriminat"),
            "toxicity_abuse",
            0.55,
        ),
        (
            (
                r"unauthori[sz]ed (action|tool|refund|transfer)",
                r"outside (of )?policy",
                r"excessive agency",
                r"agent (loop|runaway)",
                r"guard (deni|block)",
                r"tool call denied",
            ),
            "agentic_misalignment",
            0.55,
        ),
    )
)


@dataclass(slots=True)
class Classification:
    """The archetype of a group of signals, how sure quell is, and why."""

    archetype: str
    confidence: float  # of the best archetype, even when it stayed below the threshold
    scores: dict[str, float] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)

    @property
    def classified(self) -> bool:
        return self.archetype != UNCLASSIFIED


Evidence = tuple[tuple[str, float, str], ...]

# Evidence per distinct (hint, kind, labels read, summary): intake routes thousands of signals a
# second that mostly repeat a few of these, and the text patterns cost ~15 µs a signal.
_EVIDENCE_CACHE: dict[tuple[str | None, ...], Evidence] = {}
_EVIDENCE_CACHE_MAX = 4096


def signal_evidence(signal: Signal) -> Evidence:
    """(archetype, weight, why) for each distinct piece of evidence one signal carries."""
    labels = signal.labels
    key = (
        signal.archetype_hint,
        signal.kind,
        signal.summary,
        labels.get("archetype"),
        labels.get("category"),
        labels.get("owasp"),
        labels.get("alertname"),
    )
    found = _EVIDENCE_CACHE.get(key)
    if found is None:
        if len(_EVIDENCE_CACHE) >= _EVIDENCE_CACHE_MAX:
            _EVIDENCE_CACHE.clear()
        # One signal counts once per (archetype, reason): a repeated hint is one piece.
        unique: dict[tuple[str, str], tuple[str, float, str]] = {}
        for piece in _evidence(signal):
            unique.setdefault((piece[0], piece[2]), piece)
        found = _EVIDENCE_CACHE[key] = tuple(unique.values())
    return found


def _evidence(signal: Signal) -> list[tuple[str, float, str]]:
    found: list[tuple[str, float, str]] = []
    hint = (signal.archetype_hint or signal.labels.get("archetype") or "").strip()
    if hint in ARCHETYPES:
        found.append((hint, HINT_WEIGHT, f"archetype hint {hint}"))
    for archetype, weight in KIND_EVIDENCE.get(signal.kind, {}).items():
        found.append((archetype, weight, f"kind {signal.kind}"))
    category = signal.labels.get("category", "")
    for archetype, weight in CATEGORY_EVIDENCE.get(category, {}).items():
        found.append((archetype, weight, f"category {category}"))
    owasp = signal.labels.get("owasp", "")[:5].upper()
    for archetype, weight in OWASP_EVIDENCE.get(owasp, {}).items():
        found.append((archetype, weight, f"label owasp={owasp}"))
    text = f"{signal.labels.get('alertname', '')} {signal.summary}"
    for pattern, archetype, weight in TEXT_EVIDENCE:
        match = pattern.search(text)
        if match:
            found.append((archetype, weight, f"text {match.group(0)!r}"))
    return found


class EvidenceScores:
    """Per-archetype evidence accumulated over signals; the state a candidate carries."""

    __slots__ = ("miss", "reasons")

    def __init__(self) -> None:
        # Product of (1 - weight) per archetype: the chance that all the evidence was wrong.
        self.miss: dict[str, float] = {}
        self.reasons: dict[str, list[str]] = {}

    def add(self, signal: Signal) -> None:
        for archetype, weight, why in signal_evidence(signal):  # one piece per reason
            self.miss[archetype] = self.miss.get(archetype, 1.0) * (1.0 - weight)
            reasons = self.reasons.setdefault(archetype, [])
            if why not in reasons and len(reasons) < 5:
                reasons.append(why)

    def scores(self) -> dict[str, float]:
        return {a: round(1.0 - m, 4) for a, m in self.miss.items()}

    def to_dict(self) -> dict[str, object]:
        return {"miss": dict(self.miss), "reasons": {k: list(v) for k, v in self.reasons.items()}}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> EvidenceScores:
        scores = cls()
        miss = data.get("miss")
        reasons = data.get("reasons")
        if isinstance(miss, dict):
            scores.miss = {str(k): float(v) for k, v in miss.items()}
        if isinstance(reasons, dict):
            scores.reasons = {str(k): [str(r) for r in v] for k, v in reasons.items()}
        return scores


def decide(evidence: EvidenceScores, threshold: float = DEFAULT_THRESHOLD) -> Classification:
    """Turn accumulated evidence into an archetype, or `unclassified` below the threshold.

    Confidence is the best score minus half the runner-up's: two archetypes with equal
    evidence are a contradiction, and a contradiction is not confidence.
    """
    scores = evidence.scores()
    if not scores:
        return Classification(UNCLASSIFIED, 0.0, {}, ["no archetype evidence"])
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], ARCHETYPES.index(kv[0])))
    best, best_score = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
    confidence = round(max(0.0, best_score - runner_up / 2), 4)
    reasons = list(evidence.reasons.get(best, []))
    if confidence < threshold:
        why = f"best guess {best} at {confidence:.2f} is below the threshold {threshold:.2f}"
        return Classification(UNCLASSIFIED, confidence, scores, [why, *reasons])
    return Classification(best, confidence, scores, reasons)


def classify(signals: Iterable[Signal], threshold: float = DEFAULT_THRESHOLD) -> Classification:
    """Classify a group of signals into one archetype or `unclassified`."""
    evidence = EvidenceScores()
    for signal in signals:
        evidence.add(signal)
    return decide(evidence, threshold)


_LEANING_CACHE: dict[tuple[Evidence, float], tuple[str, str]] = {}


def leaning(signal: Signal, threshold: float = DEFAULT_THRESHOLD) -> tuple[str, str]:
    """What ``classify([signal])`` says of one signal alone, and the archetype it leans to.

    The lean is the best-scoring archetype even below the threshold ("" without evidence).
    Both depend only on the signal's evidence, so they are kept per distinct evidence.
    """
    evidence = signal_evidence(signal)
    key = (evidence, threshold)
    found = _LEANING_CACHE.get(key)
    if found is None:
        verdict = classify([signal], threshold)
        scores = verdict.scores
        found = (verdict.archetype, max(scores, key=scores.__getitem__) if scores else "")
        if len(_LEANING_CACHE) >= _EVIDENCE_CACHE_MAX:
            _LEANING_CACHE.clear()
        _LEANING_CACHE[key] = found
    return found
