"""The `correlation:` and `severity_policies:` sections of quell.yaml: shapes, defaults, storage.

Both are data with documented defaults (docs/correlation.md). Applying quell.yaml stores the
validated section in the store (`quell.store.sections`), so every quell process reads the same
rules; a running correlator picks up a change within seconds.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator
from sqlalchemy.orm import Session

from quell.config import register_section
from quell.detection.severity import DEFAULT_RULES, SeverityRule
from quell.inventory.schemas import Strict
from quell.store.sections import sections_changed_at, store_section, stored_section

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: Any) -> float:
    """'30s', '10m', '4h', '1d' or a number of seconds -> seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like 30s, 10m or 4h")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a duration; write it like 30s, 10m or 4h")
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2) or "s"]
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]
SeverityHintName = Literal["critical", "high", "warning", "info"]
GROUP_KEYS = ("system", "archetype", "kind")


def _critical_only() -> list[SeverityHintName]:
    return ["critical"]


# How much one firing alert counts towards `min_signals`, by its severity hint (no hint counts
# as a warning) and, multiplied, by its kind. A warning alert of an ordinary kind counts 1.
DEFAULT_HINT_WEIGHTS: dict[str, float] = {
    "info": 0.25,
    "warning": 1.0,
    "high": 1.5,
    "critical": 3.0,
}
DEFAULT_KIND_WEIGHTS: dict[str, float] = {
    # Weak on their own: spend forecasts, single user complaints and output-shape shifts are
    # mostly noise until something else corroborates them.
    "cost": 0.5,
    "user_report": 0.5,
    "output_pattern": 0.5,
    # A planted canary in an output cannot be a false positive; credentials rarely are.
    "canary": 3.0,
    "secrets": 2.0,
}


class CorrelationRules(Strict):
    """How signals become incident candidates (defaults in docs/correlation.md)."""

    # What a candidate is grouped by: system, archetype, kind, or label:<name>.
    group_by: list[str] = Field(default_factory=lambda: ["system", "archetype"])
    # Cascades: a symptom on a system joins an open incident of a system it depends on
    # (or that depends on it), within the window.
    follow_dependencies: bool = True
    # A signal joins a candidate whose last signal is at most this old.
    window: Duration = 300.0
    # ... and whose first signal is at most this old: a slow trickle cannot keep one open forever.
    max_age: Duration = 4 * 3600.0
    # A new candidate is held this long to gather related signals before it is opened (paged).
    group_wait: Duration = 30.0
    # A held candidate is opened only once its firing alerts weigh this much together: each
    # distinct alert (fingerprint) counts once, however often it repeats or flaps, with the
    # weight of its severity hint times the weight of its kind (a warning alert counts 1).
    min_signals: Annotated[float, Field(gt=0)] = 3.0
    hint_weights: dict[SeverityHintName, Annotated[float, Field(ge=0)]] = Field(
        default_factory=lambda: dict(DEFAULT_HINT_WEIGHTS)  # type: ignore[arg-type]
    )
    kind_weights: dict[str, Annotated[float, Field(ge=0)]] = Field(
        default_factory=lambda: dict(DEFAULT_KIND_WEIGHTS)
    )
    # Only signals related to a candidate join it: the same alert type on the same system, a
    # related archetype, or kinds that plausibly share a cause (see docs/correlation.md).
    require_coherence: bool = True
    # Severity hints that open a candidate at once, without waiting or counting.
    page_immediately: list[SeverityHintName] = Field(default_factory=lambda: _critical_only())
    # A candidate whose measured metrics breach a severity rule of this severity or worse
    # (e.g. the voice agent's P90 latency above 7 s: SEV-2) opens after group_wait, whatever
    # its weight; null turns this off.
    page_on_breach: Literal["SEV-1", "SEV-2", "SEV-3", "SEV-4"] | None = "SEV-2"
    # A signal for a resolved incident reopens it when it resolved at most this long ago ...
    reopen_within: Duration = 1800.0
    # ... otherwise it opens a new incident, linked to the old one when it resolved within this.
    link_within: Duration = 7 * 86400.0
    # Below this confidence the archetype stays `unclassified`.
    classify_threshold: Annotated[float, Field(ge=0.0, le=1.0)] = 0.6

    @field_validator("group_by")
    @classmethod
    def _known_keys(cls, value: list[str]) -> list[str]:
        for key in value:
            if key not in GROUP_KEYS and not (key.startswith("label:") and len(key) > 6):
                raise ValueError(
                    f"unknown group_by key {key!r}; use system, archetype, kind or label:<name>"
                )
        return value

    @field_validator("hint_weights", "kind_weights")
    @classmethod
    def _over_defaults(cls, value: dict[str, float], info: Any) -> dict[str, float]:
        # Weights given in quell.yaml override the defaults one by one; the rest stay.
        defaults = (
            DEFAULT_HINT_WEIGHTS if info.field_name == "hint_weights" else DEFAULT_KIND_WEIGHTS
        )
        return {**defaults, **value}

    @model_validator(mode="after")
    def _windows_consistent(self) -> CorrelationRules:
        if self.max_age < self.window:
            raise ValueError("max_age must be at least as long as window")
        return self


class SeverityPolicies(Strict):
    """Ordered severity rules; the most severe matching rule wins (first among equals)."""

    default: Literal["SEV-1", "SEV-2", "SEV-3", "SEV-4"] = "SEV-4"
    # Keep the shipped rules (the playbook's voice-agent thresholds and archetype defaults)
    # and add these after them; false replaces them with `rules` alone.
    include_defaults: bool = True
    rules: list[SeverityRule] = Field(default_factory=list)

    @field_validator("rules")
    @classmethod
    def _unique_names(cls, value: list[SeverityRule]) -> list[SeverityRule]:
        seen: set[str] = set()
        for rule in value:
            if rule.name in seen:
                raise ValueError(f"rule name {rule.name!r} appears twice")
            seen.add(rule.name)
        return value

    def effective_rules(self) -> list[SeverityRule]:
        return [*(DEFAULT_RULES if self.include_defaults else []), *self.rules]


def apply_correlation(session: Session, section: CorrelationRules) -> dict[str, str]:
    return {"rules": store_section(session, "correlation", section.model_dump(mode="json"))}


def apply_severity(session: Session, section: SeverityPolicies) -> dict[str, str]:
    return {
        "policies": store_section(session, "severity_policies", section.model_dump(mode="json"))
    }


def load_rules(session: Session) -> tuple[CorrelationRules, SeverityPolicies]:
    """The stored sections, or the defaults when quell.yaml never set them."""
    correlation = CorrelationRules.model_validate(stored_section(session, "correlation") or {})
    severity = SeverityPolicies.model_validate(stored_section(session, "severity_policies") or {})
    return correlation, severity


def rules_version(session: Session) -> datetime | None:
    """When the stored rules last changed: a cheap way for a correlator to notice an apply."""
    return sections_changed_at(session, ("correlation", "severity_policies"))


register_section("correlation", CorrelationRules, apply_correlation)
register_section("severity_policies", SeverityPolicies, apply_severity)
