"""Toxicity by category, with targets and negation."""

from __future__ import annotations

import pytest

from quell.detection.toxicity import ToxicityDetector


@pytest.fixture(scope="module")
def tox() -> ToxicityDetector:
    return ToxicityDetector()


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("Immigrants are disgusting vermin.", "hate"),
        ("You are a pathetic idiot.", "harassment"),
        ("I will kill you if you come back.", "violence"),
        ("You should just kill yourself.", "self_harm"),
        ("Here is some explicit porn for you.", "sexual"),
        ("Marcus is a worthless moron.", "harassment"),
    ],
)
def test_categories(tox: ToxicityDetector, text: str, category: str) -> None:
    assert category in {f.category for f in tox.scan(text)}


@pytest.mark.parametrize(
    "text",
    [
        "The weather is terrible today.",
        "You are not stupid, you are learning.",
        "This bug is killing me, but I will fix it.",
        "Kill the process with kill -9 if it hangs.",
        "The muslim and jewish communities held a joint charity dinner.",
    ],
)
def test_ordinary_text_is_not_flagged(tox: ToxicityDetector, text: str) -> None:
    assert tox.scan(text) == []


def test_evidence_span_covers_the_abuse(tox: ToxicityDetector) -> None:
    text = "Honestly, you are a pathetic idiot."
    (finding,) = tox.scan(text)
    a, b = finding.span or (0, 0)
    assert text[a:b] in ("pathetic", "idiot")
    assert finding.archetype == "toxicity_abuse"


def test_plain_swearing_is_below_the_default_threshold(tox: ToxicityDetector) -> None:
    assert tox.scan("well, shit, the build failed again") == []
    assert 0 < tox.score("well, shit, the build failed again") < 0.5
