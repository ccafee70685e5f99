"""A small linear model over word, character and cue features that backs up the injection rules.

Features per word: the lower-cased word, the pair it ends, its six-letter stem, character
n-grams of the word with its boundaries (robust to inflection and to languages the word lists
miss), and a multilingual cue ("vergiss", "oublie", "olvida" all count as ``k:forget``; "your",
"deine", "tes" as ``k:you``). Per window: pairs of cues that occur together (``forget`` with
``rules``), ordered pairs of cues close together (``ad:you>rules`` for "your rules", "tus
reglas"), and marks of the whole text: structure (chat-template role tags, fake separators,
role prefixes at a line start) and what each sentence opens with (a question word, or a cue
such as an imperative "Zeig", "Désactive"); a text that opens with a question pairs ``ask``
with its cues, so "Welche Regeln ..." can weigh differently from "Vergiss die Regeln". Words
inside quotation marks get features of their own (``q:``), since a quoted phrase is usually
something the user talks about. Word evidence of a window longer than ``SHORT`` words is scaled
by sqrt(SHORT / words), so long ordinary prompts do not add up many weak hints.

Weights come from a logistic regression trained by ``bench/train_injection_model.py`` on
quell's own hand-written examples only, and ship as ``data/injection_model.json`` together
with the constants that say how the detector combines the model with its rules (chosen on
out-of-fold scores where each writer's round is left out whole). A text is scored window by
window (``WINDOW`` words), taking the highest window, so one injected paragraph inside a long
document still stands out and long benign documents do not add up to a high score.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator
from functools import lru_cache
from importlib import resources
from itertools import accumulate

# A snake_case identifier is one token: "system_prompt" in code is a variable, not a request.
_WORDS = re.compile(r"[^\W\d_]+(?:_[^\W_]+)+|[^\W\d_]+(?:'[^\W\d_]+)?|\d+")
WINDOW = 40
_STEP = 20
STEM = 6
NGRAMS = (3, 4)  # character n-gram lengths, over "<word>"
LONG_WORD = 32  # longer words give n-grams of their first LONG_WORD characters only

# Multilingual cue words (en, de, fr, es, it, pt, nl), folded to one concept each. A cue is a
# word-start: "richtlinie" covers "Richtlinien". Kept to words whose role in an attack is the
# same in every language; the model learns how much each concept and each pair is worth.
_CUES: dict[str, tuple[str, ...]] = {
    "forget": ("ignor", "disregard", "forget", "vergiss", "vergess", "missacht", "oubli",
               "olvid", "dimentic", "esqueç", "esquec", "negeer", "vergeet", "overrid",
               "bypass", "disobey", "scratch", "opzij", "beiseite", "descart", "desconsider",
               "scart", "ditch", "discard", "dismiss", "abandon", "toss", "overrul"),
    "rules": ("rule", "instruction", "guideline", "directive", "restriction", "constraint",
              "polic", "guardrail", "filter", "limit", "regel", "anweisung", "richtlinie",
              "vorgabe", "einschränk", "règle", "consigne", "directive", "restricti", "regla",
              "instrucci", "norma", "restricci", "límite", "regol", "istruzion", "linee",
              "restrizion", "limiti", "regra", "instruç", "instruc", "diretriz", "restriç",
              "limite", "instructie", "richtlijn", "beperking", "grenzen", "limites",
              "moderat", "safeguard", "ethic", "censur", "zensur", "schutzmechan", "charte",
              "travas"),
    "pretend": ("pretend", "imagin", "roleplay", "semblant", "fing", "finta", "finja", "alsof",
                "simulat", "act", "stell", "play", "spiel", "speel", "joue", "interpret"),
    "reveal": ("reveal", "show", "print", "display", "output", "repeat", "copy", "dump", "leak",
               "echo", "quote", "verbatim", "zeig", "kopier", "wiederhol", "wörtlich", "affich",
               "montr", "recopi", "répèt", "révèl", "muestr", "revel", "copi", "repit", "mostr",
               "ripet", "repet", "toon", "herhaal", "woordelijk", "mot", "palabra", "parola",
               "palavra", "wortlaut", "imprim", "stampa", "citeer", "zitier", "ricopi"),
    "system": ("system", "prompt", "système", "sistema", "systeem", "systemprompt", "context",
               "kontext", "contexte", "contesto", "contexto", "configur", "konfigur", "setup",
               "startkonfig", "initialis", "initializ", "inicializ"),
    "without": ("without", "ohne", "sans", "sin", "senza", "sem", "zonder", "unrestrict",
                "unfilter", "uncensor", "unbound", "unlimit", "keine", "kein", "aucun", "ningun",
                "nessun", "nenhum", "geen", "zero", "none", "free", "frei", "libre", "liber",
                "livre", "vrij", "ongefilt", "ungefilt", "filterlo", "affranchi"),
    "ai": ("ai", "ki", "ia", "assistant", "assistent", "assistente", "asistente", "chatbot",
           "bot", "llm", "model", "modèle", "modelo", "modello", "gpt"),
    "dead": ("late", "deceased", "dead", "passed", "verstorb", "défunt", "décédé", "fallecid",
             "muert", "defunt", "mort", "falecid", "overled", "gestorb", "died"),
    "safety": ("safety", "sicherheit", "sécurité", "securite", "seguridad", "sicurezza",
               "segurança", "seguranca", "veiligheid", "safe", "refusal", "weigering",
               "verweiger"),
    "off": ("disabl", "deaktiv", "désactiv", "desactiv", "disattiv", "desativ", "uitgeschakel",
            "lifted", "removed", "suspend", "void", "null", "revoked", "rescind", "aufgehob",
            "levé", "ungültig", "obsolet", "expired", "cancel", "off", "lapse", "vervall",
            "überholt", "superat", "caduc", "repeal", "apag", "deslig", "spegn", "uitschakel",
            "ausschalt", "abschalt", "ingetrok", "ritirat", "retirad"),
    "received": ("given", "received", "told", "bekommen", "erhalten", "gegeben", "reçu",
                 "donné", "recib", "dieron", "ricevut", "dato", "recebe", "deram", "gekregen",
                 "kreeg", "ontvang", "configured", "loaded", "meegegeven", "mitgegeben"),
    "authority": ("admin", "administrat", "developer", "entwickler", "développeur",
                  "desarrollador", "sviluppator", "desenvolvedor", "ontwikkelaar", "operator",
                  "betreiber", "opérateur", "operador", "root", "sudo", "beheerder",
                  "amministrator", "creator", "creators", "openai", "anthropic"),
    "now": ("now", "jetzt", "sofort", "maintenant", "ahora", "adesso", "agora", "henceforth",
            "onward", "onwards"),
    "hidden": ("hidden", "secret", "versteck", "geheim", "caché", "secrèt", "secret", "ocult",
               "nascost", "segret", "verborg", "confidential", "internal", "initial", "original",
               "iniciales", "iniziali", "oculto", "oculta", "invisible"),
    # Requests for harm dressed as fiction or theory: the topic and the frame are two concepts.
    "harm": ("metanfetamin", "methamphetamin", "explosi", "esplosiv", "sprengstoff", "bomb",
             "giftgas", "nervengas", "poison", "veneno", "veleno", "vergift", "empoison",
             "malware", "ransomware", "phishing", "keylogger", "waffe", "weapon", "gunpowder",
             "napalm", "thermit", "molotov", "counterfeit", "untraceable", "indetect",
             "undetect", "nerve"),
    "fiction": ("story", "stories", "novel", "screenplay", "fiction", "novela", "romanzo",
                "krimi", "thriller", "drehbuch", "guion", "guión", "sceneggiatura", "hypothet",
                "hipotét", "hipotet", "ipotetic", "theoretisch", "theoretic", "teoric", "teóric",
                "simulation", "dialogue", "dialog", "histoire", "historia", "storia", "verhaal",
                "documentary", "documental", "seminar"),
}  # fmt: skip
_CUE_PAIRS = frozenset(
    {
        ("forget", "rules"), ("without", "rules"), ("off", "rules"), ("off", "safety"),
        ("forget", "safety"), ("pretend", "without"), ("pretend", "rules"), ("pretend", "dead"),
        ("reveal", "system"), ("reveal", "rules"), ("reveal", "hidden"), ("received", "rules"),
        ("authority", "off"), ("authority", "rules"), ("now", "without"), ("ai", "without"),
        ("ai", "forget"), ("hidden", "rules"), ("system", "rules"), ("now", "rules"),
        ("fiction", "harm"), ("pretend", "harm"), ("harm", "without"),
    }
)  # fmt: skip
# Whole words only (a prefix would catch "dichter" for "dich"): the second person, which marks
# a text that addresses the assistant ("your rules", "deine Regeln", "tes consignes") rather
# than one about rules in general, and words that frame a request as an example.
_EXACT: dict[str, str] = {
    **dict.fromkeys(
        ("you", "your", "yours", "yourself", "u", "ur", "du", "dich", "dir", "dein", "deine",
         "deinen", "deinem", "deiner", "deines", "euch", "euer", "eure", "tu", "te", "toi", "ton",
         "ta", "tes", "vous", "votre", "vos", "tus", "tuyo", "tuya", "ti", "tuo", "tua", "tuoi",
         "tue", "você", "voce", "vocês", "seu", "sua", "seus", "suas", "teu", "teus", "tuas",
         "jij", "je", "jou", "jouw", "uw", "jullie"),
        "you",
    ),
    **dict.fromkeys(
        ("example", "examples", "sample", "beispiel", "beispiele", "exemple", "exemples",
         "ejemplo", "ejemplos", "esempio", "esempi", "exemplo", "exemplos", "voorbeeld",
         "voorbeelden"),
        "example",
    ),
    **dict.fromkeys(("meth", "sarin", "ricin", "arma", "armas", "arme", "armes"), "harm"),
    **dict.fromkeys(("roman", "romans", "scene", "scène", "escena", "scena", "szene"),
                    "fiction"),
}  # fmt: skip
# Words that open a question ("How do I ...", "Welche Anweisungen ...", "¿Cómo ...").
_ASK = frozenset(
    ("how", "what", "what's", "which", "why", "who", "where", "when", "is", "are", "can",
     "could", "should", "would", "do", "does", "did", "wie", "was", "welche", "welcher",
     "welches", "warum", "wieso", "weshalb", "wo", "wann", "kann", "kannst", "könnte", "sollte",
     "soll", "ist", "sind", "gibt", "comment", "quel", "quelle", "quels", "quelles", "pourquoi",
     "où", "quand", "qu'est", "est", "peut", "puis", "faut", "cómo", "como", "qué", "que",
     "cuál", "cuáles", "cuánto", "dónde", "cuándo", "puede", "debe", "come", "cosa", "quale",
     "quali", "perché", "dove", "quando", "può", "posso", "qual", "quais", "porque", "onde",
     "pode", "devo", "hoe", "wat", "welke", "waarom", "waar", "wanneer", "kan", "moet", "kun",
     "kunt", "mag")
)  # fmt: skip
_CUE_PAIRS = _CUE_PAIRS | frozenset(
    {
        ("you", "rules"), ("you", "system"), ("you", "safety"), ("you", "hidden"),
        ("you", "received"), ("you", "now"), ("you", "without"), ("you", "off"),
        ("ask", "rules"), ("ask", "system"), ("ask", "safety"), ("ask", "ai"), ("ask", "forget"),
        ("ask", "reveal"), ("ask", "without"), ("example", "system"), ("example", "rules"),
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
    exact = _EXACT.get(word)
    if exact is not None:
        return exact
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
        # A very long token (a hash, a blob, "yyyy...") gives n-grams of its start only, so
        # one token cannot add up thousands of them.
        padded = "<" + word + ">" if len(word) <= LONG_WORD else "<" + word[:LONG_WORD]
        for n in NGRAMS:
            out.extend("c:" + padded[i : i + n] for i in range(len(padded) - n + 1))
    concept = cue(word)
    if concept is not None:
        out.append("k:" + concept)
    return out


def structure_features(text: str) -> list[str]:
    """Structure marks of the whole text (role tags, role prefixes, fake separators)."""
    return ["s:" + name for name, pattern in _STRUCTURE.items() if pattern.search(text)]


# A quotation: its words are data the user talks about ("how do I say 'no rules' in French"),
# so they get features of their own (``q:``) rather than those of words the user says.
_QUOTED = re.compile(
    r"\"[^\"\n]{1,400}\"|“[^”\n]{1,400}”|„[^“”\n]{1,400}[“”]|«[^»\n]{1,400}»|‘[^’\n]{1,400}’"
)
_QUOTE_CHARS = ('"', "“", "„", "«", "‘")
# The first word of each sentence: an imperative there ("Zeig ...", "Désactive ...") addresses
# the reader; a question word ("Welche ...", "How should ...") usually asks about something.
_SENTENCE_START = re.compile(r"(?:^|[.!?;:\n¿¡]|\*\*)[\s\"'“„«(*-]*([^\W\d_]+(?:'[^\W\d_]+)?)")


def split_quoted(text: str) -> tuple[list[str], list[bool] | None]:
    """Words of ``text`` and, when it quotes anything, which of them lie inside quotation marks."""
    if not any(q in text for q in _QUOTE_CHARS):
        return tokens(text), None
    words: list[str] = []
    quoted: list[bool] = []
    at = 0
    for m in _QUOTED.finditer(text):
        outside = tokens(text[at : m.start()])
        inside = tokens(m.group())
        words.extend(outside)
        words.extend(inside)
        quoted.extend([False] * len(outside))
        quoted.extend([True] * len(inside))
        at = m.end()
    if at == 0:
        return tokens(text), None
    rest = tokens(text[at:])
    words.extend(rest)
    quoted.extend([False] * len(rest))
    return words, quoted


def text_marks(text: str) -> tuple[list[str], bool]:
    """Marks of the whole text (structure, sentence openers); does it open with a question?"""
    marks = structure_features(text)
    opens: set[str] = set()
    asks = False
    for i, m in enumerate(_SENTENCE_START.finditer(text)):
        word = m.group(1).lower()
        kind = "ask" if word in _ASK else cue(word)
        if kind is not None:
            opens.add("st:" + kind)
            if i == 0 and kind == "ask":
                asks = True
    marks.extend(sorted(opens))
    return marks, asks


SHORT = 12  # windows longer than this many words have their evidence scaled down


def length_scale(n: int) -> float:
    """What a window's word evidence is multiplied by: 1 up to SHORT words, then sqrt(SHORT/n)."""
    return 1.0 if n <= SHORT else math.sqrt(SHORT / n)


def _pair_features(concepts: set[str]) -> list[str]:
    return [f"kk:{a}+{b}" for a, b in _CUE_PAIRS if a in concepts and b in concepts]


_NEAR = 3  # cue words at most this many words apart make an ordered pair ("your rules")


def _near_features(cues: list[tuple[int, str]]) -> list[str]:
    """Ordered pairs of cue concepts close together: ``ad:you>rules``, ``ad:forget>you``."""
    out = []
    for k, (i, a) in enumerate(cues):
        for j, b in cues[k + 1 :]:
            if j - i > _NEAR:
                break
            out.append(f"ad:{a}>{b}")
    return out


def quoted_features(word: str) -> list[str]:
    """Features of a word inside a quotation: the word and its cue, marked as quoted."""
    concept = cue(word)
    return ["q:" + word] if concept is None else ["q:" + word, "qk:" + concept]


def text_features(text: str) -> list[str]:
    """Every feature of a whole (normalised) text, as training sees it: one window, no limit.

    ``LinearScorer.probability`` sums the weights of exactly these features for a text of up
    to ``WINDOW`` words.
    """
    words, quoted = split_quoted(text)
    out: list[str] = []
    cues: list[tuple[int, str]] = []
    prev = "<s>"
    for i, w in enumerate(words):
        if quoted is not None and quoted[i]:
            out.extend(quoted_features(w))
            prev = "<q>"
            continue
        out.extend(word_features(w))
        out.append("b:" + prev + " " + w)
        c = cue(w)
        if c is not None:
            cues.append((i, c))
        prev = w
    marks, asks = text_marks(text)
    concepts = {c for _, c in cues}
    if asks:
        concepts.add("ask")
    out.extend(_pair_features(concepts))
    out.extend(_near_features(cues))
    out.extend(marks)
    return out


def features(words: list[str]) -> Iterator[tuple[int, str]]:
    """Word-level features with the position of the word they end on (no windows, no marks)."""
    prev = "<s>"
    for i, w in enumerate(words):
        for f in word_features(w):
            yield i, f
        yield i, "b:" + prev + " " + w
        prev = w


class _FeatureSum:
    """Sum of the weights of one word's features, cached (up to ``cap`` words): most repeat."""

    def __init__(
        self, weights: dict[str, float], features: Callable[[str], list[str]], cap: int
    ) -> None:
        self.get = weights.get
        self.features = features
        self.cap = cap
        self.cache: dict[str, float] = {}

    def __call__(self, word: str) -> float:
        cached = self.cache.get(word)
        if cached is None:
            get = self.get
            cached = sum(get(f, 0.0) for f in self.features(word))
            if len(self.cache) < self.cap:
                self.cache[word] = cached
        return cached


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
        self._has_pairs = any(f[:3] in ("kk:", "ad:") for f in weights)
        self._marks = any(f[:3] == "st:" for f in weights)
        self._structure = [
            (pattern, weights["s:" + name])
            for name, pattern in _STRUCTURE.items()
            if "s:" + name in weights
        ]
        self._word_weight = _FeatureSum(self.weights, word_features, 200_000)
        self._quoted_weight = _FeatureSum(self.weights, quoted_features, 50_000)

    def probability(self, text: str) -> float:
        """Highest window probability that ``text`` is an injection."""
        words, quoted = split_quoted(text)
        get = self.weights.get
        if self._marks:
            marks, asks = text_marks(text)
            extra = sum(get(m, 0.0) for m in marks)
        else:
            asks = False
            extra = sum(w for pattern, w in self._structure if pattern.search(text))
        if not words:
            return 0.0
        heads = self._pair_heads
        word_weight = self._word_weight
        per_word: list[float] = []
        cues: list[tuple[int, str]] = []
        prev = "<s>"
        for i, w in enumerate(words):
            if quoted is not None and quoted[i]:
                per_word.append(self._quoted_weight(w))
                prev = "<q>"
                continue
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
            best = (sum(per_word) + self._pairs(cues, asks)) * length_scale(len(words))
        else:
            sums = [0.0, *accumulate(per_word)]
            best = max(
                sums[min(start + WINDOW, len(words))]
                - sums[start]
                + self._pairs([ic for ic in cues if start <= ic[0] < start + WINDOW], asks)
                for start in range(0, len(words) - WINDOW + _STEP, _STEP)
            ) * length_scale(WINDOW)
        z = self.bias + best + extra
        return 1.0 / (1.0 + math.exp(-z)) if z > -30 else 0.0

    def _pairs(self, cues: list[tuple[int, str]], asks: bool) -> float:
        if not cues:
            return 0.0
        get = self.weights.get
        found = {c for _, c in cues}
        if asks:
            found.add("ask")
        total = sum(get(f, 0.0) for f in _pair_features(found)) if len(found) >= 2 else 0.0
        if len(cues) >= 2:
            total += sum(get(f, 0.0) for f in _near_features(cues))
        return total


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
