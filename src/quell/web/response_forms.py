"""The console's forms for responding: containment actions and the kill switch, decision gates,
playbook steps and regulatory clocks. Same shape as quell.web.forms: origin, CSRF and role
checked, one service call, then back to the incident page with the outcome."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Form, Response
from sqlalchemy.orm import Session

from quell.api.deps import get_session
from quell.errors import InvalidInput
from quell.incidents import service
from quell.timeutil import parse_time
from quell.web.auth import WebSession
from quell.web.common import WebRoute, act, act_then, redirect, responder_form

router = APIRouter(route_class=WebRoute, include_in_schema=False)


# ---------------------------------------------------------------- containment actions


def _remediation() -> Any:
    from quell.remediation import actions

    return actions


@router.post("/incidents/{incident_id}/kill-switch")
def kill_switch(
    incident_id: int,
    confirm: str = Form(default=""),
    reason: str = Form(default=""),
    session: Session = Depends(get_session),
    web: WebSession = Depends(responder_form),
) -> Response:
    """Revoke the incident's agents: at once where the presser may approve alone, else proposed."""
    back = f"/incidents/{incident_id}#actions"
    if confirm != "yes":
        return redirect(
            back, kind="error", message="Tick the confirmation box to press the kill switch."
        )

    def press() -> dict[str, Any]:
        from quell.remediation.kill_switch import kill_switch as press_kill_switch

        return press_kill_switch(session, incident_id, who=web.principal, reason=reason)

    def pressed(outcome: dict[str, Any]) -> Response:
        kind = "ok" if outcome.get("executed") or outcome.get("needs_second_approver") else "error"
        return redirect(back, kind=kind, message=f"Kill switch: {outcome['message']}.")

    return act_then(session, back, press, pressed)


@router.post("/incidents/{incident_id}/actions")
def propose_action(
    incident_id: int,
    choice: str = Form(default=""),
    reason: str = Form(default=""),
    params: str = Form(default=""),
    session: Session = Depends(get_session),
    web: WebSession = Depends(responder_form),
) -> Response:
    """Propose one containment action; `choice` is 'type@system' from the page's list."""
    action_type, _, system = choice.partition("@")

    def propose() -> None:
        parsed: dict[str, Any] | None = None
        if params.strip():
            try:
                parsed = json.loads(params)
            except ValueError as exc:
                raise InvalidInput(
                    f"parameters are not valid JSON: {exc}", field="params"
                ) from None
            if not isinstance(parsed, dict):
                raise InvalidInput("parameters must be a JSON object", field="params")
        _remediation().propose_action(
            session,
            incident_id,
            action_type,
            who=web.principal,
            system=system or None,
            params=parsed,
            reason=reason,
        )

    return act(
        session,
        f"/incidents/{incident_id}#actions",
        f"Proposed {action_type.replace('_', ' ')} on {system}; it waits for an approver.",
        propose,
    )


@router.post("/incidents/{incident_id}/actions/{action_id}/{decision}")
def decide_action(
    incident_id: int,
    action_id: int,
    decision: str,
    reason: str = Form(default=""),
    session: Session = Depends(get_session),
    web: WebSession = Depends(responder_form),
) -> Response:
    """Approve (and so carry out), reject or cancel a proposed action."""
    remediation = _remediation()
    back = f"/incidents/{incident_id}#actions"
    if decision not in ("approve", "reject", "cancel"):
        return redirect(back, kind="error", message=f"unknown decision {decision!r}")
    action = remediation.get_action(session, action_id)
    if action.incident_id != incident_id:
        return redirect(back, kind="error", message=f"action {action_id} is not on this incident")

    def decide() -> dict[str, Any]:
        fn = {
            "approve": remediation.approve_action,
            "reject": remediation.reject_action,
            "cancel": remediation.cancel_action,
        }[decision]
        result = fn(session, action_id, who=web.principal, reason=reason)
        return dict(remediation.action_to_dict(result))

    def decided(done: dict[str, Any]) -> Response:
        failed = done["status"] == "failed"
        message = f"Action {action_id} ({done['title']} on {done['system']}): {done['status']}"
        if failed and done.get("error"):
            message += f" ({done['error']})"
        return redirect(back, kind="error" if failed else "ok", message=message + ".")

    return act_then(session, back, decide, decided)


@router.post("/incidents/{incident_id}/gates/{key}")
def answer_gate(
    incident_id: int,
    key: str,
    answer: str = Form(default=""),
    note: str = Form(default=""),
    session: Session = Depends(get_session),
    web: WebSession = Depends(responder_form),
) -> Response:
    """Answer a decision gate yes or no; the answer may propose actions or start clocks."""
    from quell.remediation import gates

    def record() -> dict[str, Any]:
        return gates.answer_gate(session, incident_id, key, answer, who=web.principal, note=note)

    def recorded(outcome: dict[str, Any]) -> Response:
        proposed = outcome.get("proposed_actions") or []
        message = f"Answered {key.replace('_', ' ')}: {answer}."
        if proposed:
            message += f" It proposed {len(proposed)} containment action(s) below."
        return redirect(back, kind="ok", message=message)

    back = f"/incidents/{incident_id}#gates"
    return act_then(session, back, record, recorded)


@router.post("/incidents/{incident_id}/checklist/{step_id}")
def mark_step(
    incident_id: int,
    step_id: str,
    done: str = Form(default="yes"),
    session: Session = Depends(get_session),
    web: WebSession = Depends(responder_form),
) -> Response:
    """Tick or untick a playbook step."""
    from quell.remediation import playbooks

    ticked = done == "yes"
    return act(
        session,
        f"/incidents/{incident_id}#checklist",
        "Step ticked." if ticked else "Step unticked.",
        lambda: playbooks.mark_step(
            session,
            service.get_incident(session, incident_id),
            step_id,
            done=ticked,
            actor=web.name,
        ),
    )


@router.post("/incidents/{incident_id}/clocks/{regime}/{stage}")
def update_clock(
    incident_id: int,
    regime: str,
    stage: str,
    what: str = Form(default=""),
    at: str = Form(default=""),
    reason: str = Form(default=""),
    reference: str = Form(default=""),
    session: Session = Depends(get_session),
    web: WebSession = Depends(responder_form),
) -> Response:
    """Move a clock's anchor (`what=anchor`) or record that the notification was filed (`met`)."""
    from quell.compliance import clocks

    def change() -> None:
        if what == "anchor":
            try:
                when = parse_time(at)
            except ValueError:
                raise InvalidInput(
                    "anchor: expected a date and time like 2026-11-27T09:30 (UTC)", field="at"
                ) from None
            clocks.set_anchor(
                session, incident_id, regime, stage, when, actor=web.name, reason=reason
            )
        elif what == "met":
            clocks.mark_met(
                session, incident_id, regime, stage, actor=web.name, reference=reference
            )
        else:
            raise InvalidInput("what: anchor or met", field="what")

    done = "Clock anchor moved." if what == "anchor" else "Notification recorded as filed."
    return act(session, f"/incidents/{incident_id}#clocks", done, change)
