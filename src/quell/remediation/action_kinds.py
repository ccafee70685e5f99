"""The containment action types: what each applies to, the parameters it takes, what it needs.

Which systems an action type fits and what the inventory must know first; the rows themselves
(proposed, approved, executed) live in quell.remediation.actions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Final, Literal, get_args

from pydantic import BaseModel, Field

from quell.inventory.models import AISystem
from quell.inventory.schemas import Strict, SystemKind
from quell.remediation.action_models import ACTION_TYPES


class NoParams(Strict):
    """Actions that take no parameters: the inventory says what to do."""


class PauseParams(Strict):
    mode: Literal["human_review", "hold"] = Field(
        default="human_review", description="send cases to people, or hold them"
    )


class FilterParams(Strict):
    direction: Literal["input", "output", "both"] = "both"
    level: Literal["strict", "maximum"] = "strict"
    patterns: list[Annotated[str, Field(min_length=1, max_length=500)]] = Field(
        default_factory=list, max_length=100, description="patterns to block, e.g. the injection"
    )
    categories: list[Annotated[str, Field(min_length=1, max_length=60)]] = Field(
        default_factory=list, max_length=50, description="content categories to block"
    )


class RateLimitParams(Strict):
    requests_per_minute: Annotated[int, Field(ge=1, le=1_000_000)]
    scope: Literal["system", "user", "ip", "api_key"] = "user"
    duration_minutes: Annotated[int, Field(ge=1, le=10_080)] | None = None


@dataclass(frozen=True)
class ActionKind:
    """What an action type applies to, what it takes, and what the inventory must know first."""

    name: str
    title: str
    system_kinds: frozenset[str]
    params: type[BaseModel]
    needs: str | None = None  # an AISystem field that must be set, e.g. safe_fallback


ALL_KINDS: Final = frozenset(get_args(SystemKind))
ACTION_KINDS: Final[dict[str, ActionKind]] = {
    k.name: k
    for k in (
        ActionKind(
            "revoke_agent", "Revoke the agent's permissions", frozenset({"agent"}), NoParams
        ),
        ActionKind(
            "restore_agent", "Restore the agent's permissions", frozenset({"agent"}), NoParams
        ),
        ActionKind(
            "route_fallback", "Route to the safe fallback", ALL_KINDS, NoParams, "safe_fallback"
        ),
        ActionKind(
            "rollback_model",
            "Roll back to the previous model version",
            ALL_KINDS,
            NoParams,
            "previous_model_version",
        ),
        ActionKind(
            "pause_decisions",
            "Pause automated decisions",
            frozenset({"predictive"}),
            PauseParams,
        ),
        ActionKind(
            "tighten_filters",
            "Tighten input/output filters",
            frozenset({"generative", "agent"}),
            FilterParams,
        ),
        ActionKind("rate_limit", "Rate limit", ALL_KINDS, RateLimitParams),
    )
}
assert set(ACTION_KINDS) == set(ACTION_TYPES)


def eligible(kind: ActionKind, system: AISystem) -> str | None:
    """Why `system` cannot take this action (None when it can)."""
    if system.kind not in kind.system_kinds:
        allowed = ", ".join(sorted(kind.system_kinds))
        return f"{kind.name} applies to {allowed} systems; {system.name} is {system.kind}"
    if kind.needs and not getattr(system, kind.needs):
        return f"{system.name} has no {kind.needs} in the inventory; set it first"
    return None
