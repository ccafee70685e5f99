"""The one interface every offline detector speaks: text in, findings out.

A detector is a small object with a ``name`` and a ``scan(text)`` method. It returns
``Finding`` objects, each with a score, the evidence span and the playbook archetype it
points to. ``finding_to_signal`` turns a finding into the native signal JSON that intake
accepts, so detector output enters the same pipeline as any other alert.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from quell.errors import InvalidInput
from quell.incidents import lifecycle

ARCHETYPES: frozenset[str] = frozenset(lifecycle.ARCHETYPES)

# Longest text a detector looks at; the rest is ignored and the finding says so.
MAX_SCAN_CHARS = 100_000
# Share of control characters above which a text is treated as binary, not prose.
_BINARY_CONTROL_SHARE = 0.10
_ALLOWED_CONTROLS = frozenset("\t\n\r\f\v")


class DetectorInputError(InvalidInput):
    """The text handed to a detector is not text (binary, undecodable) or not usable."""

    code = "invalid_detector_input"


class UnknownDetector(InvalidInput):
    """A detector name that is not in the registry."""

    code = "unknown_detector"


@dataclass(frozen=True, slots=True)
class Finding:
    """One piece of evidence a detector found, with where it is and what it points to."""

    detector: str
    category: str
    score: float
    archetype: str
    span: tuple[int, int] | None
    evidence: str
    details: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class TextDetector(Protocol):
    """Anything with a name that scans one text and returns findings."""

    name: str

    def scan(self, text: str) -> list[Finding]:
        """Return the findings in ``text`` (empty list when there are none)."""
        ...


def coerce_text(value: object) -> str:
    """Turn bytes or str into scannable text, refusing binary or undecodable input clearly."""
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        try:
            value = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DetectorInputError(
                f"input is not valid UTF-8 (bad byte at offset {exc.start})"
            ) from exc
    if not isinstance(value, str):
        raise DetectorInputError(f"expected text, got {type(value).__name__}")
    if "\x00" in value or _looks_binary(value):
        raise DetectorInputError("input looks binary (NUL or many control characters)")
    return value


def _looks_binary(text: str) -> bool:
    """True when a sample of the text is dominated by control characters."""
    sample = text[:4096]
    if not sample or sample.isprintable():
        return False
    controls = sum(1 for ch in sample if ch < " " and ch not in _ALLOWED_CONTROLS)
    return controls / len(sample) > _BINARY_CONTROL_SHARE


def cap_text(text: str, limit: int = MAX_SCAN_CHARS) -> tuple[str, bool]:
    """Cut ``text`` to ``limit`` characters; the flag says whether anything was cut."""
    if len(text) <= limit:
        return text, False
    return text[:limit], True


def mark_truncated(findings: list[Finding], limit: int = MAX_SCAN_CHARS) -> list[Finding]:
    """Record on each finding that only the first ``limit`` characters were scanned."""
    return [replace(f, details={**f.details, "input_truncated_at": limit}) for f in findings]


def clamp_score(score: float) -> float:
    """Keep a score inside 0..1 and round it for stable output."""
    return round(min(1.0, max(0.0, score)), 4)


# --- registry -------------------------------------------------------------------------------


def _prompt_injection() -> TextDetector:
    from quell.detection.injection import PromptInjectionDetector

    return PromptInjectionDetector()


def _pii() -> TextDetector:
    from quell.detection.pii import PIIDetector

    return PIIDetector()


def _secrets() -> TextDetector:
    from quell.detection.secrets import SecretsDetector

    return SecretsDetector()


def _canary() -> TextDetector:
    from quell.detection.canary import CanaryDetector

    return CanaryDetector()


def _toxicity() -> TextDetector:
    from quell.detection.toxicity import ToxicityDetector

    return ToxicityDetector()


DETECTORS: dict[str, Callable[[], TextDetector]] = {
    "prompt_injection": _prompt_injection,
    "pii": _pii,
    "secrets": _secrets,
    "canary": _canary,
    "toxicity": _toxicity,
}

DEFAULT_TEXT_DETECTORS: tuple[str, ...] = (
    "prompt_injection",
    "pii",
    "secrets",
    "canary",
    "toxicity",
)


def get_detector(name: str) -> TextDetector:
    """Build the registered detector called ``name``, or the model backend in folder ``name``."""
    try:
        factory = DETECTORS[name]
    except KeyError:
        from quell.detection.backends import MANIFEST, load_backend_folder

        if Path(name).is_dir():
            return load_backend_folder(name)
        known = ", ".join(sorted(DETECTORS))
        raise UnknownDetector(
            f"unknown detector {name!r}; known: {known}, or a folder holding {MANIFEST}"
        ) from None
    return factory()


def default_text_detectors() -> list[TextDetector]:
    """The detectors that run when nobody chose: all offline, no model download."""
    return [get_detector(name) for name in DEFAULT_TEXT_DETECTORS]


def scan_text(text: str, detectors: Iterable[TextDetector] | None = None) -> list[Finding]:
    """Run each detector over ``text`` (capped at MAX_SCAN_CHARS) and gather the findings."""
    clean = coerce_text(text)
    if not clean.strip():
        return []
    capped, truncated = cap_text(clean)
    found: list[Finding] = []
    for detector in detectors if detectors is not None else default_text_detectors():
        found.extend(detector.scan(capped))
    return mark_truncated(found) if truncated else found


# --- findings as native signals ---------------------------------------------------------------

# Categories whose mere presence is an emergency: a live credential or a leaked system prompt.
_CRITICAL_CATEGORIES = frozenset({"private_key", "aws_access_key", "canary_leak", "cloud_key"})
_CRITICAL_DETECTORS = frozenset({"secrets", "canary"})


def finding_severity(finding: Finding) -> str:
    """Map a finding to critical / high / warning / info from its detector and score."""
    override = finding.details.get("severity")
    if isinstance(override, str) and override in {"critical", "high", "warning", "info"}:
        return override
    if finding.category in _CRITICAL_CATEGORIES or (
        finding.detector in _CRITICAL_DETECTORS and finding.score >= 0.9
    ):
        return "critical"
    if finding.score >= 0.85:
        return "high"
    if finding.score >= 0.5:
        return "warning"
    return "info"


def finding_to_signal(finding: Finding, system: str | None) -> dict[str, Any]:
    """Turn a finding into the native quell signal dict that intake accepts."""
    where = f" at {finding.span[0]}..{finding.span[1]}" if finding.span else ""
    summary = (
        f"{finding.detector}: {finding.category.replace('_', ' ')}{where}"
        f" (score {finding.score:.2f})"
    )
    return {
        "source": "detector",
        "system": system,
        "kind": finding.detector,
        "severity": finding_severity(finding),
        "summary": summary,
        "labels": {"detector": finding.detector, "category": finding.category},
        "archetype": finding.archetype,
        "evidence": {
            "score": finding.score,
            "span": list(finding.span) if finding.span else None,
            "excerpt": finding.evidence,
            "details": finding.details,
        },
    }
