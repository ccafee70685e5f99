"""A small linear model over word, character and cue features that backs up the injection rules.

Features per word: the lower-cased word, the pair it ends, its six-letter stem, character
n-grams of the word with its boundaries (robust to inflection and to languages the word lists
miss), and a multilingual cue ("vergiss", "oublie", "olvida" all count as ``k:forget``). Per
window: pairs of cues that occur together (``forget`` with ``rules``, ``pretend`` with
``without``) and structure marks (chat-template role tags, fake separators, role prefixes at
a line start). Weights come from a logistic regression trained by
``bench/train_injection_model.py`` on quell's own hand-written examples only, and ship as
``data/injection_model.json`` together with the constants that say how the detector combines
the model with its rules (chosen on a validation split of the training data). A text is scored
window by window (``WINDOW`` words), taking the highest window, so one injected paragraph inside
a long document still stands out and long benign documents do not add up to a high score.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from functools import lru_cache
from importlib import resources
from itertools import accumulate
from typing import Any

# A snake_case identifier is one token: "system_prompt" in code is a variable, not a request.
_WORDS = re.compile(r"[^\W\d_]+(?:_[^\W_]+)+|[^\W\d_]+(?:'[^\W\d_]+)?|\d+")
WINDOW = 40
_STEP = 20
STEM = 6
NGRAMS = (3, 4)  # character n-gram lengths, over "<word>"

# Multilingual cue words (en, de, fr, es, it, pt, nl), folded to one concept each. A cue is a
# word-start: "richtlinie" covers "Richtlinien". Kept to words whose role in an attack is the
# same in every language; the model learns how much each concept and each pair is worth.
_CUES: dict[str, tuple[str, ...]] = {
    "forget": ("ignor", "disregard", "forget", "vergiss", "vergess", "missacht", "oubli",
               "olvid", "dimentic", "esqueç", "esquec", "negeer", "vergeet", "overrid",
               "bypass", "disobey", "scratch"),
    "rules": ("rule", "instruction", "guideline", "directive", "restriction", "constraint",
              "polic", "guardrail", "filter", "limit", "regel", "anweisung", "richtlinie",
              "vorgabe", "einschränk", "règle", "consigne", "directive", "restricti", "regla",
              "instrucci", "norma", "restricci", "límite", "regol", "istruzion", "linee",
              "restrizion", "limiti", "regra", "instruç", "instruc", "diretriz", "restriç",
              "limite", "instructie", "richtlijn", "beperking", "grenzen", "limites",
              "moderat", "safeguard", "ethic"),
    "pretend": ("pretend", "imagin", "roleplay", "semblant", "fing", "finta", "finja", "alsof",
                "simulat", "act", "stell", "play", "spiel", "speel", "joue", "interpret"),
    "reveal": ("reveal", "show", "print", "display", "output", "repeat", "copy", "dump", "leak",
               "echo", "quote", "verbatim", "zeig", "kopier", "wiederhol", "wörtlich", "affich",
               "montr", "recopi", "répèt", "révèl", "muestr", "revel", "copi", "repit", "mostr",
               "ripet", "repet", "toon", "herhaal", "woordelijk", "mot", "palabra", "parola",
               "palavra", "wortlaut"),
    "system": ("system", "prompt", "système", "sistema", "systeem", "systemprompt", "context",
               "kontext", "contexte", "contesto", "contexto", "configur", "konfigur", "setup"),
    "without": ("without", "ohne", "sans", "sin", "senza", "sem", "zonder", "unrestrict",
                "unfilter", "uncensor", "unbound", "unlimit", "keine", "kein", "aucun", "ningun",
                "nessun", "nenhum", "geen", "zero", "none", "free", "frei", "libre", "liber",
                "livre", "vrij"),
    "ai": ("ai", "ki", "ia", "assistant", "assistent", "assistente", "asistente", "chatbot",
           "bot", "llm", "model", "modèle", "modelo", "modello", "gpt"),
    "dead": ("late", "deceased", "dead", "passed", "verstorb", "défunt", "décédé", "fallecid",
             "muert", "defunt", "mort", "falecid", "overled", "gestorb", "died"),
    "safety": ("safety", "sicherheit", "sécurité", "securite", "seguridad", "sicurezza",
               "segurança", "seguranca", "veiligheid", "safe"),
    "off": ("disabl", "deaktiv", "désactiv", "desactiv", "disattiv", "desativ", "uitgeschakel",
            "lifted", "removed", "suspend", "void", "null", "revoked", "rescind", "aufgehob",
            "levé", "ungültig", "obsolet", "expired", "cancel", "off"),
    "received": ("given", "received", "told", "bekommen", "erhalten", "gegeben", "reçu",
                 "donné", "recib", "dieron", "ricevut", "dato", "recebe", "deram", "gekregen",
                 "kreeg", "ontvang", "configured", "loaded"),
    "authority": ("admin", "administrat", "developer", "entwickler", "développeur",
                  "desarrollador", "sviluppator", "desenvolvedor", "ontwikkelaar", "operator",
                  "betreiber", "opérateur", "operador", "root", "sudo", "beheerder",
                  "amministrator", "creator", "creators", "openai", "anthropic"),
    "now": ("now", "jetzt", "sofort", "maintenant", "ahora", "adesso", "agora", "henceforth",
            "onward", "onwards"),
    "hidden": ("hidden", "secret", "versteck", "geheim", "caché", "secrèt", "secret", "ocult",
               "nascost", "segret", "verborg", "confidential", "internal", "initial", "original",
               "iniciales", "iniziali"),
}  # fmt: skip
_CUE_PAIRS = frozenset(
    {
        ("forget", "rules"), ("without", "rules"), ("off", "rules"), ("off", "safety"),
        ("forget", "safety"), ("pretend", "without"), ("pretend", "rules"), ("pretend", "dead"),
        ("reveal", "system"), ("reveal", "rules"), ("reveal", "hidden"), ("received", "rules"),
        ("authority", "off"), ("authority", "rules"), ("now", "without"), ("ai", "without"),
        ("ai", "forget"), ("hidden", "rules"), ("system", "rules"), ("now", "rules"),
    }
)  # fmt: skip
_CUE_PREFIXES = sorted(((p, c) for c, ps in _CUES.items() for p in ps), key=lambda pc: -len(pc[0]))
_SHORT_CUES = {p: c for p, c in _CUE_PREFIXES if len(p) <= 3}  # exact words only

# Structure marks, looked for once per text.
_STRUCTURE = {
    "role_tag": re.compile(
        r"<\|[a-z_]+\|>|\[/?INST\]|<</?SYS>>|</?(?:system|assistant|user|instruction)>|"
        r"<(?:start|end)_of_turn>|\[/?(?:SYSTEM|ADMIN|ASSISTANT)\]",
        re.IGNORECASE,
    ),
    "role_prefix": re.compile(
        r"(?:^|\n|\\n|[\"'}\]]\s*)(?:system|assistant|admin|human|user)\s*:", re.IGNORECASE
    ),
    "separator": re.compile(
        r"(?:-{3,}|={3,}|#{3,}|\*{3,})\s*(?:end|begin|new|start)\b|\b(?:end|begin) of "
        r"(?:input|document|prompt|context|user|data|text)\b",
        re.IGNORECASE,
    ),
}


def tokens(text: str) -> list[str]:
    """Lower-cased words of ``text`` (letters, apostrophes inside words, identifiers, digits)."""
    return _WORDS.findall(text.lower())


@lru_cache(maxsize=65536)
def cue(word: str) -> str | None:
    """The multilingual concept a word belongs to, or None."""
    if len(word) <= 3:
        return _SHORT_CUES.get(word)
    for prefix, concept in _CUE_PREFIXES:
        if len(prefix) > 3 and word.startswith(prefix):
            return concept
    return None


def word_features(word: str) -> list[str]:
    """Features of one word alone: itself, its stem, its character n-grams and its cue."""
    out = ["w:" + word]
    if len(word) > STEM:
        out.append("p:" + word[:STEM])
    if not word.isdigit():
        padded = "<" + word + ">"
        for n in NGRAMS:
            out.extend("c:" + padded[i : i + n] for i in range(len(padded) - n + 1))
    concept = cue(word)
    if concept is not None:
        out.append("k:" + concept)
    return out


def structure_features(text: str) -> list[str]:
    """Structure marks of the whole text (role tags, role prefixes, fake separators)."""
    return ["s:" + name for name, pattern in _STRUCTURE.items() if pattern.search(text)]


def _pair_features(concepts: set[str]) -> list[str]:
    return [f"kk:{a}+{b}" for a, b in _CUE_PAIRS if a in concepts and b in concepts]


def window_bags(text: str) -> list[list[str]]:
    """Every feature of each scoring window of ``text``: what the model sums per window."""
    words = tokens(text)
    structure = structure_features(text)
    if not words:
        return [structure]
    starts = [0] if len(words) <= WINDOW else range(0, len(words) - WINDOW + _STEP, _STEP)
    bags = []
    for s in starts:
        part = words[s : s + WINDOW]
        bag: list[str] = []
        prev = "<s>" if s == 0 else words[s - 1]
        concepts: set[str] = set()
        for w in part:
            bag.extend(word_features(w))
            bag.append("b:" + prev + " " + w)
            c = cue(w)
            if c is not None:
                concepts.add(c)
            prev = w
        bag.extend(_pair_features(concepts))
        bag.extend(structure)
        bags.append(bag)
    return bags


def features(words: list[str]) -> Iterator[tuple[int, str]]:
    """Word-level features with the position of the word they end on (no windows, no marks)."""
    prev = "<s>"
    for i, w in enumerate(words):
        for f in word_features(w):
            yield i, f
        yield i, "b:" + prev + " " + w
        prev = w


class LinearScorer:
    """Scores text with shipped logistic-regression weights; 0..1, higher = more likely attack."""

    def __init__(
        self, weights: dict[str, float], bias: float, calibration: dict[str, float] | None = None
    ) -> None:
        self.weights = weights
        self.bias = bias
        # How the detector combines this model with its rules (see injection.MODEL_*).
        self.calibration = dict(calibration or {})
        # Words that begin some word-pair feature; pairs starting elsewhere are not looked up.
        self._pair_heads = frozenset(f[2:].split(" ", 1)[0] for f in weights if f[:2] == "b:")
        self._has_pairs = any(f[:3] == "kk:" for f in weights)
        self._structure = [
            (pattern, weights["s:" + name])
            for name, pattern in _STRUCTURE.items()
            if "s:" + name in weights
        ]
        self._word_cache: dict[str, float] = {}

    def _word_weight(self, word: str) -> float:
        """Sum of the weights of the word's own features, cached: most words repeat."""
        cached = self._word_cache.get(word)
        if cached is None:
            get = self.weights.get
            cached = sum(get(f, 0.0) for f in word_features(word))
            if len(self._word_cache) < 200_000:
                self._word_cache[word] = cached
        return cached

    def probability(self, text: str) -> float:
        """Highest window probability that ``text`` is an injection."""
        words = tokens(text)
        extra = sum(w for pattern, w in self._structure if pattern.search(text))
        if not words:
            return 0.0
        get = self.weights.get
        heads = self._pair_heads
        word_weight = self._word_weight
        per_word: list[float] = []
        cues: list[tuple[int, str]] = []
        prev = "<s>"
        for i, w in enumerate(words):
            weight = word_weight(w)
            if prev in heads:
                weight += get("b:" + prev + " " + w, 0.0)
            per_word.append(weight)
            if self._has_pairs:
                c = cue(w)
                if c is not None:
                    cues.append((i, c))
            prev = w
        if len(words) <= WINDOW:
            best = sum(per_word) + self._pairs(c for _, c in cues)
        else:
            sums = [0.0, *accumulate(per_word)]
            best = max(
                sums[min(start + WINDOW, len(words))]
                - sums[start]
                + self._pairs(c for i, c in cues if start <= i < start + WINDOW)
                for start in range(0, len(words) - WINDOW + _STEP, _STEP)
            )
        z = self.bias + best + extra
        return 1.0 / (1.0 + math.exp(-z)) if z > -30 else 0.0

    def _pairs(self, concepts: Iterator[str] | Any) -> float:
        found = set(concepts)
        if len(found) < 2:
            return 0.0
        get = self.weights.get
        return sum(get(f, 0.0) for f in _pair_features(found))


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
    return LinearScorer(
        {k: float(v) for k, v in data["weights"].items()},
        float(data["bias"]),
        {k: float(v) for k, v in data.get("calibration", {}).items()},
    )
