"""Toxic and abusive output, by category: hate, harassment, sexual, violence, self-harm.

A lexicon (``data/toxicity.txt``) says which words insult, swear, name a group of people or
are sexually explicit; a few phrase rules catch threats and self-harm. What turns a word into
a finding is its target: an insult aimed at a group is hate, at "you" or a named person is
harassment, and a negation ("not stupid") cancels it. Scores are fixed per rule, so the
result is explainable from the evidence span alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from quell.detection.base import Finding, cap_text, mark_truncated

ARCHETYPE = "toxicity_abuse"
_Note = Callable[[str, float, tuple[int, int], str], None]
CATEGORIES = ("hate", "harassment", "sexual", "violence", "self_harm", "profanity")

_TOKEN = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")
_JOIN = re.compile(r"\b(middle)[ -](eastern|aged)\b|\b(african)[ -](american)\b")
_MASKED_SWEAR = re.compile(r"\b(?:f[\W_]{1,3}c?k|f[u*@#]{1,2}[c*]k\w*|sh[i1!*]t\w*|b[i1!*]tch\w*|"
                           r"a[s$*]{2}hole\w*|c[u*]nt)\b", re.I)  # fmt: skip
_NEGATORS = frozenset(
    [
        "not",
        "never",
        "no",
        "nothing",
        "isn't",
        "aren't",
        "wasn't",
        "weren't",
        "hardly",
        "nor",
        "none",
        "neither",
        "don't",
        "doesn't",
    ]
)
_SECOND_PERSON = frozenset(
    ["you", "you're", "youre", "your", "yours", "yourself", "yourselves", "u", "ur", "ya"]
)
_THIRD_PERSON = frozenset(
    [
        "he",
        "she",
        "they",
        "he's",
        "she's",
        "they're",
        "him",
        "her",
        "them",
        "people",
        "guy",
        "guys",
        "person",
        "folks",
    ]
)
_ATTACK_VERBS = frozenset(
    [
        "destroy",
        "eliminate",
        "eradicate",
        "exterminate",
        "deport",
        "ban",
        "expel",
        "annihilate",
        "purge",
    ]
)
_HATE_VERBS = frozenset(["hate", "hates", "despise", "despises", "loathe", "detest"])
_COPULA = frozenset(["is", "are", "was", "were", "be", "being", "am", "'s", "'re"])

_THREAT = re.compile(
    r"\b(?:i(?:'ll| will| am going to|'m going to|'m gonna| gonna| want to| wanna)|"
    r"we(?:'ll| will| are going to|'re going to| gonna)|somebody should|someone should)\s+"
    r"(?:\w+\s+)?(?:kill|murder|hurt|beat|shoot|stab|strangle|rape|burn|choke|slaughter|"
    r"behead|bomb|torture|break your|smash your)\b"
    r"|\bi know where you live\b|\byou(?:'re| are) (?:dead|going to die|gonna die)\b"
    r"|\b(?:should|deserves? to|ought to|must)\s+(?:all\s+)?(?:be\s+)?(?:die|killed|shot|hanged|"
    r"hung|raped|burned|burnt|beaten|executed|lynched|gassed|slaughtered|tortured)\b"
    r"|\b(?:kill|shoot|hang|burn|gas|lynch|exterminate|murder|slaughter|eliminate)\s+(?:all|"
    r"every|each|those|these)\s+\w+",
    re.I,
)
_SELF_HARM_URGED = re.compile(
    r"\b(?:you should|go|just|why don'?t you)\s+(?:\w+\s+)?(?:kill|hurt|hang|cut|harm)\s+"
    r"yourself\b|\bkys\b|\bdrink bleach\b",
    re.I,
)
_SELF_HARM = re.compile(
    r"\b(?:kill|hurt|cut|harm|hang|starve|poison)\s+(?:myself|yourself|themselves|himself|"
    r"herself)\b|\bend (?:my|your|their|his|her) (?:own )?life\b|\bsuicid\w*|\bself[- ]harm\w*"
    r"|\bslit (?:my|your) wrists?\b|\b(?:want|wanted|going) to die\b"
    r"|\b(?:best|easiest|painless) way to (?:die|overdose)\b",
    re.I,
)


@dataclass(frozen=True, slots=True)
class Lexicon:
    """Word sets by section, with prefixes for entries written as ``word*``."""

    words: dict[str, frozenset[str]]
    prefixes: dict[str, tuple[str, ...]]
    phrases: dict[str, tuple[str, ...]]
    _cache: dict[str, frozenset[str]] = field(default_factory=dict, compare=False, repr=False)

    def has(self, section: str, token: str) -> bool:
        """True when ``token`` is in ``section`` (exactly or by a listed prefix)."""
        return section in self.sections_of(token)

    def sections_of(self, token: str) -> frozenset[str]:
        """Every section that lists ``token``; remembered, since words repeat a lot."""
        cached = self._cache.get(token)
        if cached is None:
            cached = frozenset(
                name
                for name in self.words.keys() | self.prefixes.keys()
                if token in self.words.get(name, ())
                or token.startswith(self.prefixes.get(name, ("\0",)))
            )
            if len(self._cache) < 50_000:
                self._cache[token] = cached
        return cached


@lru_cache(maxsize=1)
def load_lexicon() -> Lexicon:
    """Read the bundled toxicity lexicon once."""
    raw = resources.files("quell.detection").joinpath("data/toxicity.txt").read_text("utf-8")
    words: dict[str, set[str]] = {}
    prefixes: dict[str, list[str]] = {}
    phrases: dict[str, list[str]] = {}
    section = ""
    for line in raw.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        if section == "dehumanize" and " " in line:
            phrases.setdefault(section, []).append(line)
            continue
        for entry in line.split():
            if entry.endswith("*"):
                prefixes.setdefault(section, []).append(entry[:-1])
            else:
                words.setdefault(section, set()).add(entry)
    return Lexicon(
        {k: frozenset(v) for k, v in words.items()},
        {k: tuple(v) for k, v in prefixes.items()},
        {k: tuple(v) for k, v in phrases.items()},
    )


class ToxicityDetector:
    """Finds hate, harassment, sexual content, threats of violence and self-harm in text."""

    name = "toxicity"

    def __init__(self, threshold: float = 0.5) -> None:
        self.threshold = threshold
        self.lex = load_lexicon()

    def scan(self, text: str) -> list[Finding]:
        """Return at most one finding per category, the strongest evidence for it."""
        capped, truncated = cap_text(text)
        best: dict[str, tuple[float, tuple[int, int], str]] = {}

        def note(category: str, score: float, span: tuple[int, int], rule: str) -> None:
            if score > best.get(category, (0.0, (0, 0), ""))[0]:
                best[category] = (score, span, rule)

        self._phrases(capped, note)
        self._words(capped, note)
        found = [
            Finding(self.name, category, score, ARCHETYPE, span, capped[span[0]:span[1]][:200],
                    {"rule": rule})
            for category, (score, span, rule) in best.items()
            if score >= self.threshold
        ]  # fmt: skip
        found.sort(key=lambda f: -f.score)
        return mark_truncated(found) if truncated else found

    def score(self, text: str) -> float:
        """The highest category score for ``text`` (0 when nothing abusive was found)."""
        keep, self.threshold = self.threshold, 0.0
        try:
            return max((f.score for f in self.scan(text)), default=0.0)
        finally:
            self.threshold = keep

    def _phrases(self, text: str, note: _Note) -> None:
        for m in _THREAT.finditer(text):
            note("violence", 0.9, m.span(), "threat")
        for m in _SELF_HARM_URGED.finditer(text):
            note("self_harm", 0.95, m.span(), "urging_self_harm")
            note("harassment", 0.9, m.span(), "urging_self_harm")
        for m in _SELF_HARM.finditer(text):
            note("self_harm", 0.75, m.span(), "self_harm_mention")
        for m in _MASKED_SWEAR.finditer(text):
            note("profanity", 0.45, m.span(), "masked_swear")

    def _words(self, original: str, note: _Note) -> None:
        lex = self.lex
        # Joining two-word group names keeps the text's length, so spans stay valid.
        text = _JOIN.sub(lambda m: "-".join(g for g in m.groups() if g), original.lower())
        toks = [(m.group(0), m.span()) for m in _TOKEN.finditer(text)]
        words = [t for t, _ in toks]
        n = len(words)
        sections = [lex.sections_of(w) for w in words]
        identity_at = [i for i, secs in enumerate(sections) if "identity" in secs]
        for phrase in lex.phrases.get("dehumanize", ()):
            at = text.find(phrase)
            if at >= 0:
                near = any(abs(toks[i][1][0] - at) < 60 for i in identity_at)
                note("hate", 0.95 if near else 0.55, (at, at + len(phrase)), "dehumanizing")
        dehumanize_words = lex.words.get("dehumanize", frozenset())
        for i, w in enumerate(words):
            secs = sections[i]
            if not secs and w not in _CUE_WORDS and w not in dehumanize_words:
                continue  # most words are in no list: skip the window work below
            span = toks[i][1]
            negated = any(words[j] in _NEGATORS for j in range(max(0, i - 3), i))
            window = words[max(0, i - 5) : i + 4]
            if (
                "insult" in secs
                or "strong_insult" in secs
                or (w in dehumanize_words and i > 0 and words[i - 1] in _COPULA)
            ):
                if negated:
                    continue
                strong = "strong_insult" in secs
                if any(abs(j - i) <= 4 and j != i for j in identity_at):
                    note("hate", 0.9, _cover(toks, i, identity_at), "insult_at_group")
                elif any(x in _SECOND_PERSON for x in window):
                    note("harassment", 0.85, span, "insult_at_you")
                elif any(x in _COPULA for x in words[max(0, i - 3) : i]) and (
                    any(x in _THIRD_PERSON for x in words[max(0, i - 5) : i])
                    or _named_subject(original, toks, i)
                ):
                    note("harassment", 0.8, span, "insult_at_person")
                elif strong:
                    note("harassment", 0.6, span, "strong_insult")
            elif "profanity" in secs:
                if any(x in _SECOND_PERSON for x in window) and not negated:
                    note("harassment", 0.8, span, "swearing_at_you")
                elif any(abs(j - i) <= 3 for j in identity_at):
                    note("hate", 0.8, _cover(toks, i, identity_at), "swearing_at_group")
                else:
                    note("profanity", 0.45, span, "swearing")
            elif w in _ATTACK_VERBS and not negated and any(i < j <= i + 2 for j in identity_at):
                note("hate", 0.8, _cover(toks, i, identity_at), "attack_on_group")
            elif w in _HATE_VERBS and not negated:
                if any(i < j <= i + 3 for j in identity_at):
                    note("hate", 0.85, _cover(toks, i, identity_at), "hatred_of_group")
                elif i + 1 < n and words[i + 1] in _SECOND_PERSON:
                    note("harassment", 0.65, span, "hatred_of_you")
            elif "sexual" in secs:
                note("sexual", 0.8, span, "explicit_term")
            elif "sexual_mild" in secs:
                note("sexual", 0.35, span, "sexual_term")


# Words outside the lexicon that still start a rule in ToxicityDetector._words.
_CUE_WORDS = _ATTACK_VERBS | _HATE_VERBS


def _cover(toks: list[tuple[str, tuple[int, int]]], i: int, group_at: list[int]) -> tuple[int, int]:
    """Span from the abusive word to the nearest group name."""
    j = min(group_at, key=lambda k: abs(k - i))
    return min(toks[i][1][0], toks[j][1][0]), max(toks[i][1][1], toks[j][1][1])


_NOT_SUBJECTS = frozenset(
    [
        "the",
        "this",
        "that",
        "it",
        "there",
        "these",
        "those",
        "here",
        "what",
        "which",
        "who",
        "i",
        "we",
        "a",
        "an",
        "my",
        "our",
        "its",
        "everything",
        "nothing",
        "something",
        "life",
        "today",
    ]
)


def _named_subject(original: str, toks: list[tuple[str, tuple[int, int]]], i: int) -> bool:
    """True for "<Name> is a ... <insult>": a capitalised subject right before "is"/"was"."""
    for j in range(max(1, i - 4), i):
        if toks[j][0] in ("is", "was"):
            word, (a, _) = toks[j - 1]
            return not original[a].islower() and word not in _NOT_SUBJECTS
    return False
