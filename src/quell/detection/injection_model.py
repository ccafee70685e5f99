"""A small linear model over word features that backs up the injection phrase rules.

Features are lower-cased words, word pairs and six-letter word stems (so "ignoriere" and
"ignorieren" share evidence). Weights come from a logistic regression trained by
``bench/train_injection_model.py`` on quell's own hand-written examples only, and ship as
``data/injection_model.json``. A text is scored window by window (``WINDOW`` words), taking
the highest window, so one injected paragraph inside a long document still stands out and
long benign documents do not add up to a high score.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from functools import lru_cache
from importlib import resources
from itertools import accumulate

# A snake_case identifier is one token: "system_prompt" in code is a variable, not a request.
_WORDS = re.compile(r"[^\W\d_]+(?:_[^\W_]+)+|[^\W\d_]+(?:'[^\W\d_]+)?|\d+")
WINDOW = 40
_STEP = 20
STEM = 6


def tokens(text: str) -> list[str]:
    """Lower-cased words of ``text`` (letters, apostrophes inside words, identifiers, digits)."""
    return _WORDS.findall(text.lower())


def features(words: list[str]) -> Iterator[tuple[int, str]]:
    """Every feature with the position of the word it ends on."""
    prev = "<s>"
    for i, w in enumerate(words):
        yield i, "w:" + w
        yield i, "b:" + prev + " " + w
        if len(w) > STEM:
            yield i, "p:" + w[:STEM]
        prev = w


class LinearScorer:
    """Scores text with shipped logistic-regression weights; 0..1, higher = more likely attack."""

    def __init__(self, weights: dict[str, float], bias: float) -> None:
        self.weights = weights
        self.bias = bias
        # Words that begin some word-pair feature; pairs starting elsewhere are not looked up.
        self._pair_heads = frozenset(f[2:].split(" ", 1)[0] for f in weights if f[:2] == "b:")
        self._word_cache: dict[str, float] = {}

    def _word_weight(self, word: str) -> float:
        """The word's own and its stem's weight, cached: most words repeat across texts."""
        cached = self._word_cache.get(word)
        if cached is None:
            get = self.weights.get
            cached = get("w:" + word, 0.0)
            if len(word) > STEM:
                cached += get("p:" + word[:STEM], 0.0)
            if len(self._word_cache) < 200_000:
                self._word_cache[word] = cached
        return cached

    def probability(self, text: str) -> float:
        """Highest window probability that ``text`` is an injection."""
        words = tokens(text)
        if not words:
            return 0.0
        get = self.weights.get
        heads = self._pair_heads
        word_weight = self._word_weight
        per_word: list[float] = []
        prev = "<s>"
        for w in words:
            weight = word_weight(w)
            if prev in heads:
                weight += get("b:" + prev + " " + w, 0.0)
            per_word.append(weight)
            prev = w
        if len(words) <= WINDOW:
            best = sum(per_word)
        else:
            sums = [0.0, *accumulate(per_word)]
            best = max(
                sums[min(start + WINDOW, len(words))] - sums[start]
                for start in range(0, len(words) - WINDOW + _STEP, _STEP)
            )
        z = self.bias + best
        return 1.0 / (1.0 + math.exp(-z)) if z > -30 else 0.0


@lru_cache(maxsize=1)
def shipped_scorer() -> LinearScorer | None:
    """The model bundled with quell, or None when the weights file is missing."""
    try:
        raw = (
            resources.files("quell.detection")
            .joinpath("data/injection_model.json")
            .read_text("utf-8")
        )
    except FileNotFoundError:
        return None
    data = json.loads(raw)
    return LinearScorer({k: float(v) for k, v in data["weights"].items()}, float(data["bias"]))
