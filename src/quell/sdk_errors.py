"""The exceptions the SDK (``quell.Monitor``) and the guard client (``quell.guard``) raise.

Each is something the host application chose to be told about: enforce mode blocking a call,
the guard refusing an action, a setting that cannot work. Reporting problems (quell down, a
full buffer) are never raised; they are counted in ``stats()``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from quell.detection.base import Finding
    from quell.guard import Decision


class QuellSDKError(Exception):
    """Base of every exception the SDK and the guard client raise on purpose."""


class SDKConfigError(QuellSDKError, ValueError):
    """A Monitor or Guard was built with settings that cannot work (bad mode, bad store)."""


class Blocked(QuellSDKError):
    """Enforce mode refused a model call; ``findings`` says why."""

    def __init__(self, message: str, findings: list[Finding]) -> None:
        super().__init__(message)
        self.findings = findings


class InjectionBlocked(Blocked):
    """The input looked like prompt injection or a jailbreak; the model was not called."""


class OutputBlocked(Blocked):
    """The output carried something it must not (personal data, a secret, the canary, abuse)."""


class GuardError(QuellSDKError):
    """The guard refused a tool call or could not be asked properly."""

    def __init__(self, message: str, decision: Decision | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.decision = decision
        self.extra = extra


class ActionDenied(GuardError):
    """The guard said deny: by policy, because the agent is revoked, or failing closed."""


class ApprovalRequired(GuardError):
    """The guard said needs_approval; retry with ``approval_id`` once a person approved it."""

    @property
    def approval_id(self) -> int | None:
        return self.decision.action_id if self.decision is not None else None
