"""Severity policies: data rules over an incident's impact, evaluated as signals join.

A rule names a severity and conditions written as `<field> <op> <value>`, for example
`p90_latency_s > 15`, `criticality >= high`, `archetype in [data_exfiltration, prompt_injection]`.
Every condition in `all` must hold, and at least one in `any` when `any` is given. Of the
matching rules the most severe wins (the first of them in order when several tie).

Fields: criticality (low < medium < high < critical, the most critical affected system),
archetype, archetype_confidence, system, system_kind (true when any affected system is that
one / of that kind), systems_affected, users_affected, signal_count, alert_count,
severity_hint (info < warning < high < critical, the highest seen), kind (any signal of that
kind). Any other name is a metric carried by signals (`metrics: {p90_latency_s: 16}`): `>` and
`>=` test the highest value seen, `<` and `<=` the lowest, so "any signal breached it".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from quell.incidents.lifecycle import severity_rank
from quell.inventory.schemas import Strict

CRITICALITY_ORDER = ("low", "medium", "high", "critical")
HINT_ORDER = ("info", "warning", "high", "critical")
ORDERED_FIELDS = {"criticality": CRITICALITY_ORDER, "severity_hint": HINT_ORDER}
SET_FIELDS = ("system", "system_kind", "kind")
TEXT_FIELDS = ("archetype",)
NUMBER_FIELDS = (
    "archetype_confidence",
    "systems_affected",
    "users_affected",
    "signal_count",
    "alert_count",
)
OPERATORS = (">=", "<=", "!=", "==", ">", "<", "not in", "in")

_CONDITION = re.compile(
    r"^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(>=|<=|!=|==|>|<|not\s+in\b|in\b)\s*(.+?)\s*$"
)


@dataclass(frozen=True, slots=True)
class Condition:
    """One parsed `<field> <op> <value>`."""

    field: str
    op: str
    value: float | str | tuple[str, ...]
    text: str


@lru_cache(maxsize=4096)
def parse_condition(text: str) -> Condition:
    """Parse and check one condition; a ValueError names what is wrong."""
    match = _CONDITION.match(text)
    if not match:
        raise ValueError(
            f"condition {text!r} is not `<field> <op> <value>` (ops: {', '.join(OPERATORS)})"
        )
    name, op, raw = match.group(1), re.sub(r"\s+", " ", match.group(2)), match.group(3)
    if op in ("in", "not in"):
        if not (raw.startswith("[") and raw.endswith("]")):
            raise ValueError(f"condition {text!r}: `{op}` needs a list like [a, b]")
        items = tuple(v.strip().strip("'\"") for v in raw[1:-1].split(",") if v.strip())
        if name not in (*TEXT_FIELDS, *SET_FIELDS, *ORDERED_FIELDS):
            raise ValueError(f"condition {text!r}: `{op}` applies to words, not to {name}")
        for item in items:
            _check_word(name, item, text)
        return Condition(name, op, items, text)
    word = raw.strip("'\"")
    if name in ORDERED_FIELDS:
        _check_word(name, word, text)
        return Condition(name, op, word, text)
    if name in (*TEXT_FIELDS, *SET_FIELDS):
        if op not in ("==", "!="):
            raise ValueError(f"condition {text!r}: {name} can only be compared with == or !=")
        return Condition(name, op, word, text)
    try:
        number = float(word)
    except ValueError:
        raise ValueError(f"condition {text!r}: {name} needs a number, got {word!r}") from None
    if name not in NUMBER_FIELDS and op in ("==", "!="):
        raise ValueError(f"condition {text!r}: compare the metric {name} with <, <=, > or >=")
    return Condition(name, op, number, text)


def _check_word(name: str, word: str, text: str) -> None:
    order = ORDERED_FIELDS.get(name)
    if order is not None and word not in order:
        raise ValueError(f"condition {text!r}: {name} is one of {', '.join(order)}")


class SeverityRule(Strict):
    """One rule of the `severity_policies` section."""

    name: Annotated[str, Field(min_length=1, max_length=100)]
    severity: Literal["SEV-1", "SEV-2", "SEV-3", "SEV-4"]
    all: list[str] = Field(default_factory=list)
    any: list[str] = Field(default_factory=list)
    description: str = ""

    @field_validator("all", "any")
    @classmethod
    def _parse(cls, value: list[str]) -> list[str]:
        for text in value:
            parse_condition(text)
        return value

    @model_validator(mode="after")
    def _has_conditions(self) -> SeverityRule:
        if not self.all and not self.any:
            raise ValueError(f"rule {self.name!r} needs at least one condition in `all` or `any`")
        return self


@dataclass(slots=True)
class Impact:
    """What the severity rules look at: a plain summary of an incident candidate."""

    systems: set[str] = field(default_factory=set)
    system_kinds: set[str] = field(default_factory=set)
    criticality: str = "medium"
    archetype: str = "unclassified"
    archetype_confidence: float = 0.0
    signal_count: int = 0
    alert_count: int = 0
    severity_hint: str | None = None
    kinds: set[str] = field(default_factory=set)
    metrics_max: dict[str, float] = field(default_factory=dict)
    metrics_min: dict[str, float] = field(default_factory=dict)

    @property
    def users_affected(self) -> float:
        return self.metrics_max.get("users_affected", 0.0)


def _compare(left: float, op: str, right: float) -> bool:
    if op == ">":
        return left > right
    if op == ">=":
        return left >= right
    if op == "<":
        return left < right
    if op == "<=":
        return left <= right
    if op == "==":
        return left == right
    return left != right


def holds(condition: Condition, impact: Impact) -> bool:
    """Whether one condition is true of the impact (an unknown metric is never true)."""
    name, op, value = condition.field, condition.op, condition.value
    if name in ORDERED_FIELDS:
        order = ORDERED_FIELDS[name]
        current = impact.criticality if name == "criticality" else impact.severity_hint
        if current is None:
            return False
        if isinstance(value, tuple):
            return (current in value) == (op == "in")
        return _compare(order.index(current), op, order.index(str(value)))
    if name in SET_FIELDS or name in TEXT_FIELDS:
        seen = {
            "system": impact.systems,
            "system_kind": impact.system_kinds,
            "kind": impact.kinds,
            "archetype": {impact.archetype},
        }[name]
        wanted = set(value) if isinstance(value, tuple) else {str(value)}
        hit = bool(seen & wanted)
        return hit if op in ("==", "in") else not hit
    assert isinstance(value, float)
    number: float | None
    if name in NUMBER_FIELDS:
        number = {
            "archetype_confidence": impact.archetype_confidence,
            "systems_affected": float(len(impact.systems)),
            "users_affected": impact.users_affected,
            "signal_count": float(impact.signal_count),
            "alert_count": float(impact.alert_count),
        }[name]
    elif op in (">", ">="):
        number = impact.metrics_max.get(name)
    else:
        number = impact.metrics_min.get(name)
    return number is not None and _compare(number, op, value)


def rule_matches(rule: SeverityRule, impact: Impact) -> bool:
    if not all(holds(parse_condition(c), impact) for c in rule.all):
        return False
    return not rule.any or any(holds(parse_condition(c), impact) for c in rule.any)


@dataclass(frozen=True, slots=True)
class SeverityDecision:
    severity: str
    rule: str  # the rule that fired, or "default"
    conditions: tuple[str, ...]


def evaluate(rules: list[SeverityRule], impact: Impact, default: str = "SEV-4") -> SeverityDecision:
    """The most severe matching rule (first in order among equals), else the default."""
    best: SeverityRule | None = None
    for rule in rules:
        if rule_matches(rule, impact) and (
            best is None or severity_rank(rule.severity) < severity_rank(best.severity)
        ):
            best = rule
    if best is None:
        return SeverityDecision(default, "default", ())
    return SeverityDecision(best.severity, best.name, (*best.all, *best.any))


def _rule(
    name: str, severity: str, *, all: tuple[str, ...] = (), any: tuple[str, ...] = ()
) -> SeverityRule:
    return SeverityRule(name=name, severity=severity, all=list(all), any=list(any))  # type: ignore[arg-type]


# The shipped rules. The first two are the playbook's voice-agent thresholds (Hamming AI's
# analysis of 4M+ production calls); the rest are quell's defaults per archetype and impact.
DEFAULT_RULES: list[SeverityRule] = [
    _rule("voice-sev1", "SEV-1", any=("p90_latency_s > 15", "task_completion < 0.10")),
    _rule("voice-sev2", "SEV-2", any=("p90_latency_s > 7", "task_completion < 0.50")),
    _rule(
        "exfiltration-critical-system",
        "SEV-1",
        all=("archetype == data_exfiltration", "criticality >= high"),
    ),
    _rule("exfiltration", "SEV-2", all=("archetype == data_exfiltration",)),
    _rule(
        "agent-misaligned-critical-system",
        "SEV-1",
        all=("archetype == agentic_misalignment", "criticality == critical"),
    ),
    _rule("agent-misaligned", "SEV-2", all=("archetype == agentic_misalignment",)),
    _rule(
        "attack-on-important-system",
        "SEV-2",
        all=(
            "archetype in [prompt_injection, model_manipulation, toxicity_abuse]",
            "criticality >= high",
        ),
    ),
    _rule(
        "attack",
        "SEV-3",
        all=("archetype in [prompt_injection, model_manipulation, toxicity_abuse]",),
    ),
    _rule(
        "misinformation-spreading",
        "SEV-2",
        all=("archetype == misinformation_cascade", "systems_affected >= 2"),
    ),
    _rule("misinformation", "SEV-3", all=("archetype == misinformation_cascade",)),
    _rule("many-users", "SEV-1", all=("users_affected >= 10000",)),
    _rule("some-users", "SEV-2", all=("users_affected >= 1000",)),
    _rule("cascade-wide", "SEV-2", all=("systems_affected >= 3",)),
    _rule(
        "critical-alert-critical-system",
        "SEV-1",
        all=("severity_hint == critical", "criticality == critical"),
    ),
    _rule("critical-alert", "SEV-2", all=("severity_hint == critical",)),
    _rule("important-system", "SEV-3", all=("criticality >= high",)),
]


def _measures(rule: SeverityRule) -> bool:
    """Whether a rule tests a measured metric (an SLO) rather than labels or classification."""
    fields = (parse_condition(c).field for c in (*rule.all, *rule.any))
    known = (*ORDERED_FIELDS, *SET_FIELDS, *TEXT_FIELDS, *NUMBER_FIELDS)
    return any(f not in known for f in fields)


def metric_breach(rules: list[SeverityRule], impact: Impact, worst: str) -> SeverityDecision | None:
    """The most severe matching rule that tests a metric, when it is `worst` or more severe.

    A breached SLO threshold (the playbook's voice agent above 7 s P90) is a page by the
    policy's own words, however few alerts carried the measurement.
    """
    if not impact.metrics_max and not impact.metrics_min:
        return None
    best: SeverityRule | None = None
    for rule in rules:
        if severity_rank(rule.severity) > severity_rank(worst) or not _measures(rule):
            continue
        if rule_matches(rule, impact) and (
            best is None or severity_rank(rule.severity) < severity_rank(best.severity)
        ):
            best = rule
    if best is None:
        return None
    return SeverityDecision(best.severity, best.name, (*best.all, *best.any))
