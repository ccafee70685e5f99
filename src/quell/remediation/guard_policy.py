"""An agent's guard policy: the ``agent_policies:`` section of quell.yaml.

Each entry is keyed by system name and holds the detection phase's agent action policy
(``quell.detection.agent_policy``: tool allow/deny lists, argument constraints, rate and spend
limits, data-class scope, approvals), plus two keys only the guard reads: ``fail_mode`` and
``cache_ttl_s``. The decision itself is ``quell.detection.agent_policy.decide``, kept pure.
"""

from __future__ import annotations

import fnmatch
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, RootModel, model_validator

from quell.detection.agent_policy import AgentPolicy, PolicyError
from quell.inventory.schemas import Name, Strict

FailMode = Literal["open", "closed"]

# How long an agent may reuse an answer when the policy does not say: short, so that a
# revoke reaches a running agent within seconds.
DEFAULT_CACHE_TTL_S = 2.0
# Criticalities whose agents fail closed (deny) when quell cannot be reached, unless set.
FAIL_CLOSED_CRITICALITIES = frozenset({"high", "critical"})


class GuardPolicySpec(Strict):
    """One agent's policy: guard settings plus every key of the agent action policy."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)

    fail_mode: FailMode | None = Field(
        default=None, description="default: closed for high/critical systems, else open"
    )
    cache_ttl_s: Annotated[float, Field(ge=0, le=60)] = DEFAULT_CACHE_TTL_S

    @model_validator(mode="after")
    def _valid_action_policy(self) -> GuardPolicySpec:
        try:
            AgentPolicy.from_dict(self.action_policy_dict())
        except PolicyError as exc:
            # Say it in this section's words: the keys sit directly under the system name.
            raise ValueError(exc.message.removeprefix("agent_policy: ")) from None
        return self

    def action_policy_dict(self) -> dict[str, Any]:
        """The keys that belong to the agent action policy (everything but guard settings)."""
        return dict(self.model_extra or {})

    def action_policy(self) -> AgentPolicy:
        return AgentPolicy.from_dict(self.action_policy_dict())


class AgentPoliciesSection(RootModel[dict[Name, GuardPolicySpec]]):
    """``agent_policies:`` in quell.yaml: system name -> its policy."""


def history_window(policy: AgentPolicy) -> float:
    """How far back (seconds) a decision needs past actions for this policy's limits."""
    windows = [r.per_seconds for r in policy.rate_limits]
    if policy.spend.max_per_window is not None:
        windows.append(policy.spend.window_seconds)
    return max(windows, default=0.0)


def is_metered(policy: AgentPolicy, tool: str) -> bool:
    """True when every call of ``tool`` counts against a limit, so no answer may be cached."""
    return policy.spend.max_per_window is not None or any(
        fnmatch.fnmatchcase(tool, r.tool) for r in policy.rate_limits
    )


def effective_fail_mode(spec: GuardPolicySpec | None, criticality: str) -> FailMode:
    """The policy's fail mode, or closed for high-risk systems and open for the rest."""
    if spec is not None and spec.fail_mode is not None:
        return spec.fail_mode
    return "closed" if criticality in FAIL_CLOSED_CRITICALITIES else "open"
