"""Agent action policy: a pure decision on whether an agent may take a proposed action.

``decide(policy, action, history, now)`` returns allow, deny or needs_approval with the
reasons. Nothing here calls a tool or stores state; the guard and SDK build on it. The policy
is loaded from the plain dict found under a system's ``agent_policy:`` key in quell.yaml::

    agent_policy:
      default: deny                      # tools matched by no list: deny | allow | needs_approval
      allow_tools: [search_*, read_file, send_email]
      deny_tools: [shell, delete_*]      # deny wins over allow
      require_approval: [send_email, payments.*]
      arguments:                         # per tool (glob), per argument
        send_email:
          to: {pattern: '.*@example\\.com$'}
          body: {max_length: 5000}
        payments.refund:
          amount: {max: 500, min: 0}
          currency: {allowed: [EUR, USD]}
      rate_limits:
        - {tool: '*', max_calls: 60, per_seconds: 60}
        - {tool: send_email, max_calls: 5, per_seconds: 3600}
      spend:
        max_per_action: 50.0             # above this: deny
        approval_over: 10.0              # above this: needs_approval
        max_per_window: 200.0
        window_seconds: 86400
      data_classes:
        allowed: [public, internal]      # an action touching any other class is denied
        approval: [pii]                  # touching these needs a human
"""

from __future__ import annotations

import fnmatch
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from quell.detection.base import Finding
from quell.errors import InvalidInput

Outcome = Literal["allow", "deny", "needs_approval"]
_OUTCOMES: tuple[str, ...] = ("allow", "deny", "needs_approval")
_TOP_KEYS = frozenset({"default", "allow_tools", "deny_tools", "require_approval", "arguments",
                       "rate_limits", "spend", "data_classes"})  # fmt: skip
_ARG_RULE_KEYS = frozenset({"max", "min", "pattern", "allowed", "denied", "max_length",
                            "required", "forbidden"})  # fmt: skip


class PolicyError(InvalidInput):
    """An agent policy that cannot be loaded (unknown key, wrong type, bad pattern)."""

    code = "invalid_agent_policy"


@dataclass(frozen=True, slots=True)
class ArgumentRule:
    """Constraints on one argument of a tool call."""

    max: float | None = None
    min: float | None = None
    pattern: re.Pattern[str] | None = None
    allowed: tuple[Any, ...] | None = None
    denied: tuple[Any, ...] = ()
    max_length: int | None = None
    required: bool = False
    forbidden: bool = False


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``max_calls`` calls of tools matching ``tool`` within ``per_seconds``."""

    tool: str
    max_calls: int
    per_seconds: float


@dataclass(frozen=True, slots=True)
class SpendLimit:
    """Money (or any cost unit) an agent may spend per action and per window."""

    max_per_action: float | None = None
    approval_over: float | None = None
    max_per_window: float | None = None
    window_seconds: float = 86400.0


@dataclass(frozen=True, slots=True)
class AgentPolicy:
    """What an agent may do; build it with ``AgentPolicy.from_dict``."""

    default: Outcome = "deny"
    allow_tools: tuple[str, ...] = ()
    deny_tools: tuple[str, ...] = ()
    require_approval: tuple[str, ...] = ()
    arguments: Mapping[str, Mapping[str, ArgumentRule]] = field(default_factory=dict)
    rate_limits: tuple[RateLimit, ...] = ()
    spend: SpendLimit = field(default_factory=SpendLimit)
    allowed_data_classes: frozenset[str] | None = None
    approval_data_classes: frozenset[str] = frozenset()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> AgentPolicy:
        """Load a policy from the dict under ``agent_policy:``; raise PolicyError if invalid."""
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise PolicyError("agent_policy must be a mapping")
        unknown = set(data) - _TOP_KEYS
        if unknown:
            raise PolicyError(f"agent_policy: unknown key(s) {', '.join(sorted(unknown))}")
        default = data.get("default", "deny")
        if default not in _OUTCOMES:
            raise PolicyError(f"agent_policy.default must be one of {', '.join(_OUTCOMES)}")
        spend = data.get("spend") or {}
        classes = data.get("data_classes") or {}
        _mapping(spend, "spend")
        _mapping(classes, "data_classes")
        allowed = classes.get("allowed")
        try:
            return cls(
                default=default,
                allow_tools=_globs(data.get("allow_tools"), "allow_tools"),
                deny_tools=_globs(data.get("deny_tools"), "deny_tools"),
                require_approval=_globs(data.get("require_approval"), "require_approval"),
                arguments=_arguments(data.get("arguments") or {}),
                rate_limits=tuple(_rate_limit(r, i) for i, r in
                                  enumerate(data.get("rate_limits") or [])),
                spend=SpendLimit(
                    max_per_action=_opt_float(spend.get("max_per_action")),
                    approval_over=_opt_float(spend.get("approval_over")),
                    max_per_window=_opt_float(spend.get("max_per_window")),
                    window_seconds=float(spend.get("window_seconds", 86400.0)),
                ),
                allowed_data_classes=None if allowed is None else frozenset(
                    _globs(allowed, "data_classes.allowed")),
                approval_data_classes=frozenset(
                    _globs(classes.get("approval"), "data_classes.approval")),
            )  # fmt: skip
        except (TypeError, ValueError) as exc:
            raise PolicyError(f"agent_policy: {exc}") from exc


@dataclass(frozen=True, slots=True)
class ProposedAction:
    """A tool call an agent wants to make."""

    tool: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    cost: float = 0.0
    data_classes: frozenset[str] = frozenset()
    agent: str | None = None


@dataclass(frozen=True, slots=True)
class PastAction:
    """A tool call that already happened (for rate and spend limits)."""

    tool: str
    at: float
    cost: float = 0.0


@dataclass(frozen=True, slots=True)
class Decision:
    """The verdict on a proposed action and every reason behind it."""

    outcome: Outcome
    reasons: tuple[str, ...]

    @property
    def allowed(self) -> bool:
        """True only for a plain allow."""
        return self.outcome == "allow"


def decide(
    policy: AgentPolicy,
    action: ProposedAction,
    history: Sequence[PastAction] = (),
    now: float | None = None,
) -> Decision:
    """Decide on ``action`` given what the agent did recently; deny beats approval beats allow."""
    now = time.time() if now is None else now
    denials: list[str] = []
    approvals: list[str] = []
    tool = action.tool

    if _match(tool, policy.deny_tools):
        denials.append(f"tool {tool!r} is on the deny list")
    elif policy.allow_tools and _match(tool, policy.allow_tools):
        pass
    elif _match(tool, policy.require_approval):
        pass  # listed for approval: known to the policy, handled below
    elif policy.default == "deny":
        denials.append(f"tool {tool!r} is not on the allow list")
    elif policy.default == "needs_approval":
        approvals.append(f"tool {tool!r} is not listed; default needs approval")
    if _match(tool, policy.require_approval):
        approvals.append(f"tool {tool!r} requires human approval")

    for pattern, rules in policy.arguments.items():
        if fnmatch.fnmatchcase(tool, pattern):
            denials.extend(_check_arguments(tool, action.arguments, rules))

    for limit in policy.rate_limits:
        if not fnmatch.fnmatchcase(tool, limit.tool):
            continue
        recent = sum(1 for p in history if now - p.at < limit.per_seconds
                     and fnmatch.fnmatchcase(p.tool, limit.tool))  # fmt: skip
        if recent + 1 > limit.max_calls:
            denials.append(f"rate limit: {recent} calls to {limit.tool!r} in the last "
                           f"{limit.per_seconds:g}s (max {limit.max_calls})")  # fmt: skip

    spend = policy.spend
    if spend.max_per_action is not None and action.cost > spend.max_per_action:
        denials.append(f"cost {action.cost:g} exceeds the per-action limit "
                       f"{spend.max_per_action:g}")  # fmt: skip
    elif spend.approval_over is not None and action.cost > spend.approval_over:
        approvals.append(f"cost {action.cost:g} is over the approval threshold "
                         f"{spend.approval_over:g}")  # fmt: skip
    if spend.max_per_window is not None:
        spent = sum(p.cost for p in history if now - p.at < spend.window_seconds)
        if spent + action.cost > spend.max_per_window:
            denials.append(f"spend {spent + action.cost:g} would exceed "
                           f"{spend.max_per_window:g} per {spend.window_seconds:g}s")  # fmt: skip

    if policy.allowed_data_classes is not None:
        outside = sorted(c for c in action.data_classes
                         if not _match(c, tuple(policy.allowed_data_classes))
                         and not _match(c, tuple(policy.approval_data_classes)))  # fmt: skip
        if outside:
            denials.append(f"data class(es) out of scope: {', '.join(outside)}")
    needing = sorted(c for c in action.data_classes
                     if _match(c, tuple(policy.approval_data_classes)))  # fmt: skip
    if needing:
        approvals.append(f"data class(es) need approval: {', '.join(needing)}")

    if denials:
        return Decision("deny", tuple(denials + approvals))
    if approvals:
        return Decision("needs_approval", tuple(approvals))
    return Decision("allow", (f"tool {tool!r} allowed by policy",))


def decision_to_finding(action: ProposedAction, decision: Decision) -> Finding | None:
    """A finding for a denied or held action (None for a plain allow)."""
    if decision.outcome == "allow":
        return None
    return Finding(
        detector="agent_policy",
        category="action_denied" if decision.outcome == "deny" else "action_needs_approval",
        score=0.9 if decision.outcome == "deny" else 0.6,
        archetype="agentic_misalignment",
        span=None,
        evidence=f"{action.tool}: " + "; ".join(decision.reasons),
        details={"tool": action.tool, "agent": action.agent, "outcome": decision.outcome,
                 "reasons": list(decision.reasons), "cost": action.cost},
    )  # fmt: skip


# --- helpers ----------------------------------------------------------------------------------


def _match(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def _mapping(value: Any, where: str) -> None:
    if not isinstance(value, Mapping):
        raise PolicyError(f"agent_policy.{where} must be a mapping")


def _globs(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise PolicyError(f"agent_policy.{where} must be a list of strings")
    return tuple(value)


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _rate_limit(raw: Any, index: int) -> RateLimit:
    if not isinstance(raw, Mapping) or "max_calls" not in raw or "per_seconds" not in raw:
        raise PolicyError(f"agent_policy.rate_limits[{index}] needs max_calls and per_seconds")
    return RateLimit(str(raw.get("tool", "*")), int(raw["max_calls"]), float(raw["per_seconds"]))


def _arguments(raw: Any) -> dict[str, dict[str, ArgumentRule]]:
    _mapping(raw, "arguments")
    out: dict[str, dict[str, ArgumentRule]] = {}
    for tool, args in raw.items():
        _mapping(args, f"arguments.{tool}")
        out[str(tool)] = {}
        for arg, rule in args.items():
            where = f"arguments.{tool}.{arg}"
            _mapping(rule, where)
            unknown = set(rule) - _ARG_RULE_KEYS
            if unknown:
                raise PolicyError(f"agent_policy.{where}: unknown key(s) "
                                  f"{', '.join(sorted(unknown))}")  # fmt: skip
            try:
                pattern = re.compile(rule["pattern"]) if "pattern" in rule else None
            except re.error as exc:
                raise PolicyError(f"agent_policy.{where}.pattern: {exc}") from exc
            allowed = rule.get("allowed")
            out[str(tool)][str(arg)] = ArgumentRule(
                max=_opt_float(rule.get("max")),
                min=_opt_float(rule.get("min")),
                pattern=pattern,
                allowed=None if allowed is None else tuple(allowed),
                denied=tuple(rule.get("denied") or ()),
                max_length=None if rule.get("max_length") is None else int(rule["max_length"]),
                required=bool(rule.get("required", False)),
                forbidden=bool(rule.get("forbidden", False)),
            )
    return out


def _check_arguments(tool: str, args: Mapping[str, Any],
                     rules: Mapping[str, ArgumentRule]) -> list[str]:  # fmt: skip
    problems: list[str] = []
    for name, rule in rules.items():
        where = f"{tool}.{name}"
        if name not in args:
            if rule.required:
                problems.append(f"argument {where} is required")
            continue
        value = args[name]
        if rule.forbidden:
            problems.append(f"argument {where} is not allowed")
            continue
        if rule.max is not None or rule.min is not None:
            number = _as_number(value)
            if number is None:
                problems.append(f"argument {where} must be a number")
            elif rule.max is not None and number > rule.max:
                problems.append(f"argument {where}={number:g} is above {rule.max:g}")
            elif rule.min is not None and number < rule.min:
                problems.append(f"argument {where}={number:g} is below {rule.min:g}")
        values = value if isinstance(value, list | tuple) else [value]
        if rule.allowed is not None:
            bad = [v for v in values if v not in rule.allowed]
            if bad:
                problems.append(f"argument {where} value(s) {bad!r} not in the allowed list")
        hit = [v for v in values if v in rule.denied]
        if hit:
            problems.append(f"argument {where} value(s) {hit!r} are denied")
        if rule.pattern is not None:
            bad = [v for v in values if not rule.pattern.search(str(v))]
            if bad:
                problems.append(f"argument {where} does not match {rule.pattern.pattern!r}")
        if rule.max_length is not None and len(str(value)) > rule.max_length:
            problems.append(f"argument {where} is longer than {rule.max_length} characters")
    return problems


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
