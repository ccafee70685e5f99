"""Canary tokens: a random marker planted in a system prompt that must never appear in output.

``make_canary()`` returns a fresh token for the SDK to plant. ``CanaryDetector`` reports it
when it turns up in model output, which means the hidden prompt leaked. Tokens share a fixed
shape (``QC-`` + 20 base32 characters), so a detector with no list of planted tokens still
recognises any quell canary; given the planted ones, it also tells which prompt leaked.
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Iterable

from quell.detection.base import Finding, cap_text, mark_truncated

CANARY_PREFIX = "QC-"
_BODY_LEN = 20
CANARY_PATTERN = re.compile(rf"\b{CANARY_PREFIX}[A-Z2-7]{{{_BODY_LEN}}}\b")
# A model often echoes a token with its letters split or its case changed.
_LOOSE_PATTERN = re.compile(rf"\bQ\W?C\W{{0,3}}((?:[A-Za-z2-7]\W?){{{_BODY_LEN}}})", re.I)


def make_canary() -> str:
    """Return a new random canary token (about 100 bits) to plant in a system prompt."""
    body = base64.b32encode(secrets.token_bytes(15)).decode("ascii")[:_BODY_LEN]
    return f"{CANARY_PREFIX}{body}"


def is_canary(token: str) -> bool:
    """True when ``token`` has the shape of a quell canary."""
    return CANARY_PATTERN.fullmatch(token) is not None


class CanaryDetector:
    """Reports a planted canary token found in model output: the system prompt has leaked."""

    name = "canary"

    def __init__(self, planted: Iterable[str] = ()) -> None:
        self.planted = {t.upper(): t for t in planted}

    def plant(self, token: str) -> None:
        """Remember a token so findings can say which prompt it came from."""
        self.planted[token.upper()] = token

    def scan(self, text: str) -> list[Finding]:
        """Return a finding for every canary token in ``text``, exact or lightly disguised."""
        capped, truncated = cap_text(text)
        if "C" not in capped and "c" not in capped:
            return []
        found: list[Finding] = []
        seen: set[tuple[int, int]] = set()
        for m in CANARY_PATTERN.finditer(capped):
            seen.add(m.span())
            found.append(self._finding(m.group(0), m.span(), exact=True))
        for m in _LOOSE_PATTERN.finditer(capped):
            if any(a < m.end() and m.start() < b for a, b in seen):
                continue
            token = CANARY_PREFIX + re.sub(r"\W", "", m.group(1)).upper()
            if token not in self.planted:
                continue  # a loose shape only counts when it spells a planted token
            found.append(self._finding(token, m.span(), exact=False))
        return mark_truncated(found) if truncated else found

    def _finding(self, token: str, span: tuple[int, int], exact: bool) -> Finding:
        known = token.upper() in self.planted
        score = 1.0 if (known or (exact and not self.planted)) else 0.9
        return Finding(
            detector=self.name,
            category="canary_leak",
            score=score,
            archetype="data_exfiltration",
            span=span,
            evidence=token[:7] + "…",
            details={"planted": known, "exact": exact, "severity": "critical"},
        )
