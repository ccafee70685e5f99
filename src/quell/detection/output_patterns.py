"""Output pattern change: a model's answers shift in length, refusals, language or vocabulary.

``OutputPatternMonitor`` learns a baseline from the first ``baseline_size`` outputs (or from
``set_baseline``), then compares each full window of recent outputs against it:

- length: Kolmogorov-Smirnov test on character counts (p < 0.01 and statistic >= 0.2);
- refusal rate: rises or falls by at least 10 points and a two-proportion z-test gives |z| >= 3;
- language: the share of outputs in the baseline's main language drops by 20 points or more;
- vocabulary: Jensen-Shannon distance (base 2) between word distributions >= 0.35.
"""

from __future__ import annotations

import math
import re
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from scipy import stats
from scipy.spatial.distance import jensenshannon

from quell.detection.base import Finding, clamp_score

_REFUSAL = re.compile(
    r"\b(?:i(?:'m| am) (?:sorry|afraid),? (?:but )?i (?:can(?:'t|not)|won'?t|am unable|'m unable)|"
    r"i (?:can(?:'t|not)|won'?t|am not able to|'m not able to|am unable to|must decline to) "
    r"(?:help|assist|provide|do|comply|fulfil|fulfill|answer|share|create|write|generate)|"
    r"(?:as an ai|as a language model)\b.{0,40}\b(?:can(?:'t|not)|unable|not able)|"
    r"(?:that|this) (?:request )?(?:goes against|violates) (?:my|our|the) "
    r"(?:guidelines|policies|policy)|i(?:'m| am) not (?:able|allowed|permitted) to)",
    re.I,
)
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def _wordset(words: str) -> frozenset[str]:
    return frozenset(words.split())


# A few very frequent words per language; enough to tell the main language of a paragraph.
_STOPWORDS: dict[str, frozenset[str]] = {
    "en": _wordset("the and is are of to in that it you for with this on was have be not"),
    "de": _wordset("der die das und ist nicht ich sie mit den ein eine zu auf für von es"),
    "fr": _wordset("le la les et est des une un pas que pour dans vous avec sur du ce il"),
    "es": _wordset("el la los las y es que de en un una por para con no se lo su del"),
    "it": _wordset("il la le e è che di un una per non con sono del della gli si lo"),
    "pt": _wordset("o a os as e é que de em um uma para com não do da no na se"),
    "nl": _wordset("de het een en is van dat niet ik je met op voor zijn er te"),
}
_SCRIPTS = (("zh", 0x4E00, 0x9FFF), ("ja", 0x3040, 0x30FF), ("ko", 0xAC00, 0xD7AF),
            ("ru", 0x0400, 0x04FF), ("ar", 0x0600, 0x06FF), ("he", 0x0590, 0x05FF),
            ("el", 0x0370, 0x03FF), ("hi", 0x0900, 0x097F), ("th", 0x0E00, 0x0E7F))  # fmt: skip


def is_refusal(text: str) -> bool:
    """True when the output reads as the model declining the request."""
    return _REFUSAL.search(text[:2000]) is not None


def guess_language(text: str) -> str:
    """A cheap guess at the main language: a script, or stopword counts for Latin text."""
    sample = text[:2000]
    counts: Counter[str] = Counter()
    for ch in sample:
        code = ord(ch)
        if code < 0x0370:
            continue
        for lang, lo, hi in _SCRIPTS:
            if lo <= code <= hi:
                counts[lang] += 1
                break
    letters = sum(ch.isalpha() for ch in sample) or 1
    if counts and counts.most_common(1)[0][1] / letters > 0.3:
        return counts.most_common(1)[0][0]
    words = [w.lower() for w in _WORD.findall(sample)]
    if not words:
        return "unknown"
    scores = {lang: sum(w in stop for w in words) for lang, stop in _STOPWORDS.items()}
    best = max(scores, key=lambda k: scores[k])
    return best if scores[best] >= max(1, len(words) // 20) else "unknown"


@dataclass(frozen=True, slots=True)
class _Profile:
    lengths: list[int]
    refusals: int
    languages: Counter[str]
    words: Counter[str]

    @classmethod
    def of(cls, texts: Iterable[str]) -> _Profile:
        lengths: list[int] = []
        refusals = 0
        languages: Counter[str] = Counter()
        words: Counter[str] = Counter()
        for text in texts:
            lengths.append(len(text))
            refusals += is_refusal(text)
            languages[guess_language(text)] += 1
            words.update(w.lower() for w in _WORD.findall(text[:5000]))
        return cls(lengths, refusals, languages, words)


@dataclass
class OutputPatternMonitor:
    """Compares recent model outputs with a baseline window and reports what changed."""

    baseline_size: int = 500
    window_size: int = 100
    ks_pvalue: float = 0.01
    ks_statistic: float = 0.2
    refusal_delta: float = 0.10
    refusal_z: float = 3.0
    language_drop: float = 0.20
    vocabulary_js: float = 0.35
    vocabulary_top: int = 2000
    name: str = "output_patterns"
    _baseline: _Profile | None = field(default=None, init=False)
    _pending: list[str] = field(default_factory=list, init=False)
    _window: deque[str] = field(default_factory=deque, init=False)

    def set_baseline(self, texts: Iterable[str]) -> None:
        """Use ``texts`` (outputs from a known-good period) as the baseline."""
        self._baseline = _Profile.of(texts)
        self._pending.clear()

    def observe(self, text: str) -> None:
        """Add one output: to the baseline until it is full, then to the current window."""
        if self._baseline is None:
            self._pending.append(text)
            if len(self._pending) >= self.baseline_size:
                self.set_baseline(self._pending)
            return
        self._window.append(text)
        while len(self._window) > self.window_size:
            self._window.popleft()

    def check(self) -> list[Finding]:
        """Findings for each way the current window differs from the baseline."""
        if self._baseline is None or len(self._window) < self.window_size:
            return []
        base, cur = self._baseline, _Profile.of(self._window)
        found: list[Finding] = []
        ks = stats.ks_2samp(base.lengths, cur.lengths)
        if ks.pvalue < self.ks_pvalue and ks.statistic >= self.ks_statistic:
            before = sorted(base.lengths)[len(base.lengths) // 2]
            after = sorted(cur.lengths)[len(cur.lengths) // 2]
            found.append(self._finding("length_shift", ks.statistic,
                                       f"median length {before} -> {after} characters",
                                       ks_statistic=float(ks.statistic),
                                       ks_pvalue=float(ks.pvalue),
                                       median_before=before, median_after=after))  # fmt: skip
        p0 = base.refusals / max(len(base.lengths), 1)
        p1 = cur.refusals / max(len(cur.lengths), 1)
        z = _two_proportion_z(base.refusals, len(base.lengths), cur.refusals, len(cur.lengths))
        if abs(p1 - p0) >= self.refusal_delta and abs(z) >= self.refusal_z:
            found.append(self._finding("refusal_rate", min(1.0, abs(p1 - p0) * 3),
                                       f"refusal rate {p0:.0%} -> {p1:.0%}",
                                       before=p0, after=p1, z=z))  # fmt: skip
        main, main_n = base.languages.most_common(1)[0] if base.languages else ("unknown", 0)
        share0 = main_n / max(len(base.lengths), 1)
        share1 = cur.languages.get(main, 0) / max(len(cur.lengths), 1)
        if main != "unknown" and share0 - share1 >= self.language_drop:
            found.append(self._finding("language_shift", min(1.0, (share0 - share1) * 2),
                                       f"outputs in {main}: {share0:.0%} -> {share1:.0%}",
                                       language=main, before=share0, after=share1,
                                       now=dict(cur.languages.most_common(5))))  # fmt: skip
        js = self._vocabulary_js(base.words, cur.words)
        if js >= self.vocabulary_js:
            new_words = [w for w, _ in cur.words.most_common(50) if w not in base.words][:10]
            found.append(self._finding("vocabulary_shift", js,
                                       f"vocabulary distance {js:.2f}; new words: "
                                       + ", ".join(new_words), js_distance=js,
                                       new_words=new_words))  # fmt: skip
        return found

    def _vocabulary_js(self, a: Counter[str], b: Counter[str]) -> float:
        vocab = [w for w, _ in (a + b).most_common(self.vocabulary_top)]
        if not vocab:
            return 0.0
        pa = [a.get(w, 0) + 0.5 for w in vocab]
        pb = [b.get(w, 0) + 0.5 for w in vocab]
        return float(jensenshannon(pa, pb, base=2))

    def _finding(self, category: str, strength: float, evidence: str, **details: object) -> Finding:
        return Finding(self.name, category, clamp_score(0.5 + 0.5 * strength),
                       "model_manipulation" if category == "refusal_rate" else "unclassified",
                       None, evidence, dict(details))  # fmt: skip


def _two_proportion_z(x0: int, n0: int, x1: int, n1: int) -> float:
    """z statistic for the difference between two proportions (0 when undefined)."""
    if n0 == 0 or n1 == 0:
        return 0.0
    pooled = (x0 + x1) / (n0 + n1)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n0 + 1 / n1))
    return 0.0 if se == 0 else (x1 / n1 - x0 / n0) / se
