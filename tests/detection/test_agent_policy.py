"""Agent action policy: a pure allow / deny / needs_approval decision."""

from __future__ import annotations

import pytest

from quell.detection.agent_policy import (
    AgentPolicy,
    PastAction,
    PolicyError,
    ProposedAction,
    decide,
    decision_to_finding,
)

POLICY = {
    "default": "deny",
    "allow_tools": ["search_*", "refund", "send_email"],
    "deny_tools": ["search_admin"],
    "require_approval": ["send_email"],
    "arguments": {
        "refund": {"amount": {"max": 500, "min": 0}, "currency": {"allowed": ["EUR", "USD"]}},
        "send_email": {"to": {"pattern": r"@example\.com$"}},
    },
    "rate_limits": [{"tool": "search_*", "max_calls": 3, "per_seconds": 60}],
    "spend": {
        "max_per_action": 100,
        "approval_over": 20,
        "max_per_window": 150,
        "window_seconds": 3600,
    },
    "data_classes": {"allowed": ["public"], "approval": ["pii"]},
}


@pytest.fixture(scope="module")
def policy() -> AgentPolicy:
    return AgentPolicy.from_dict(POLICY)


def test_allow_deny_lists(policy: AgentPolicy) -> None:
    assert decide(policy, ProposedAction("search_web"), now=0).outcome == "allow"
    assert decide(policy, ProposedAction("search_admin"), now=0).outcome == "deny"
    assert decide(policy, ProposedAction("shell"), now=0).outcome == "deny"


def test_default_can_be_approval() -> None:
    p = AgentPolicy.from_dict({"default": "needs_approval"})
    assert decide(p, ProposedAction("anything"), now=0).outcome == "needs_approval"


def test_argument_constraints(policy: AgentPolicy) -> None:
    ok = ProposedAction("refund", {"amount": 20, "currency": "EUR"})
    too_much = ProposedAction("refund", {"amount": 900, "currency": "EUR"})
    odd_currency = ProposedAction("refund", {"amount": 5, "currency": "BTC"})
    assert decide(policy, ok, now=0).outcome == "allow"
    d = decide(policy, too_much, now=0)
    assert d.outcome == "deny" and any("above 500" in r for r in d.reasons)
    assert decide(policy, odd_currency, now=0).outcome == "deny"


def test_approval_needed_and_deny_wins(policy: AgentPolicy) -> None:
    mail = ProposedAction("send_email", {"to": "a@example.com"})
    assert decide(policy, mail, now=0).outcome == "needs_approval"
    outside = ProposedAction("send_email", {"to": "a@evil.example"})
    assert decide(policy, outside, now=0).outcome == "deny"


def test_rate_limit_counts_recent_history_only(policy: AgentPolicy) -> None:
    recent = [PastAction("search_web", at=100 - i) for i in range(3)]
    old = [PastAction("search_web", at=0 - i) for i in range(10)]
    assert decide(policy, ProposedAction("search_web"), recent, now=100).outcome == "deny"
    assert decide(policy, ProposedAction("search_web"), old, now=100).outcome == "allow"


def test_spend_limits(policy: AgentPolicy) -> None:
    assert decide(policy, ProposedAction("search_web", cost=30), now=0).outcome == (
        "needs_approval"
    )
    assert decide(policy, ProposedAction("search_web", cost=101), now=0).outcome == "deny"
    spent = [PastAction("refund", at=50, cost=140)]
    assert decide(policy, ProposedAction("search_web", cost=15), spent, now=100).outcome == ("deny")


def test_data_class_scope(policy: AgentPolicy) -> None:
    pii = ProposedAction("search_web", data_classes=frozenset({"pii"}))
    secret = ProposedAction("search_web", data_classes=frozenset({"secret"}))
    assert decide(policy, pii, now=0).outcome == "needs_approval"
    assert decide(policy, secret, now=0).outcome == "deny"


def test_decision_becomes_a_finding(policy: AgentPolicy) -> None:
    action = ProposedAction("shell", agent="ops-bot")
    finding = decision_to_finding(action, decide(policy, action, now=0))
    assert finding is not None and finding.archetype == "agentic_misalignment"
    assert (
        decision_to_finding(
            ProposedAction("search_web"), decide(policy, ProposedAction("search_web"), now=0)
        )
        is None
    )


@pytest.mark.parametrize(
    "bad",
    [
        {"allow": ["x"]},
        {"default": "maybe"},
        {"allow_tools": "x", "deny_tools": [1]},
        {"arguments": {"t": {"a": {"maxx": 1}}}},
        {"arguments": {"t": {"a": {"pattern": "("}}}},
        {"rate_limits": [{"tool": "x"}]},
        {"spend": [1]},
    ],
)
def test_invalid_policies_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(PolicyError):
        AgentPolicy.from_dict(bad)
