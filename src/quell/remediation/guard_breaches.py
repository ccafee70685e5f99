"""Guard refusals as signals: a policy breach becomes a native signal handed to intake once
the decision that recorded it has committed."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from quell.detection.agent_policy import Decision, ProposedAction, decision_to_finding
from quell.detection.base import finding_to_signal
from quell.remediation.guard_models import AgentAction
from quell.timeutil import iso

log = logging.getLogger("quell.remediation.guard")  # the logger name these messages always had


def breach_signal(
    action: AgentAction, proposed: ProposedAction, verdict: Decision, *, rule: str
) -> dict[str, Any]:
    """The native signal a policy breach becomes: kind agent_action, agentic_misalignment."""
    finding = decision_to_finding(proposed, verdict)
    assert finding is not None  # only called for a deny
    signal = finding_to_signal(finding, action.system)
    digest = hashlib.sha256(f"{action.system}|{action.tool}|{rule}".encode()).hexdigest()[:16]
    signal.update(
        source="guard",
        kind="agent_action",
        summary=f"{action.system}: {action.tool} refused by the guard ({verdict.reasons[0]})",
        severity="critical" if rule == "acted_while_revoked" else "high",
        status="firing",
        occurred_at=iso(action.at),
        fingerprint=f"guard:{digest}",
    )
    signal["labels"] = {**signal["labels"], "tool": action.tool, "rule": rule}
    signal["evidence"] = {
        **signal["evidence"],
        "action_id": action.id,
        "arguments": action.arguments,
        "run_id": action.run_id,
    }
    return signal


def report_breach(
    session: Session,
    action: AgentAction,
    proposed: ProposedAction,
    verdict: Decision,
    *,
    rule: str,
) -> None:
    """Queue a breach as a signal for intake, sent once this transaction has committed.

    After the commit, not inside it: intake writes in its own transaction (one writer at a time
    on SQLite), and a refused decision must be on record even if intake is unavailable.
    """
    pending: list[dict[str, Any]] = session.info.setdefault(_PENDING, [])
    if not pending:
        event.listen(session, "after_commit", _send_pending, once=True)
        event.listen(session, "after_rollback", _drop_pending, once=True)
    pending.append(breach_signal(action, proposed, verdict, rule=rule))


_PENDING = "guard_breach_signals"


def _send_pending(session: Session) -> None:
    signals = session.info.pop(_PENDING, [])
    if not signals:
        return
    try:
        from quell.sdk_transport import store_native_signals

        store_native_signals(session.get_bind(), signals, received_by="guard")  # type: ignore[arg-type]
    except Exception:  # the decision is committed; losing its signal must not fail the request
        log.exception("guard: %d breach signal(s) not handed to intake", len(signals))


def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)
