"""The console's forms (POST): thin doors onto the same service functions as the API.

Each one checks origin, CSRF token and role, calls one service function, and redirects back
to the page it came from with the outcome as a one-shot message (post/redirect/get).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from quell.api.deps import SESSION_COOKIE, get_session
from quell.auth.service import Principal, authenticate_password, authenticate_token
from quell.errors import InvalidInput, QuellError, Unauthorized
from quell.incidents import service
from quell.timeutil import parse_time
from quell.web.auth import SESSION_TTL, WebSession, check_origin, end_session, start_session
from quell.web.common import WebRoute, act, form_guard, redirect, render, signed_in
from quell.web.pages import safe_next

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.post("/login")
def login(
    request: Request,
    username: str = Form(default=""),
    password: str = Form(default=""),
    token: str = Form(default=""),
    next: str = Form(default="/board"),
    session: Session = Depends(get_session),
) -> Response:
    check_origin(request)
    who: Principal
    try:
        if token.strip():
            who = authenticate_token(session, token.strip())
        elif username.strip():
            who = authenticate_password(session, username.strip(), password)
        else:
            raise InvalidInput("enter a user name and password, or an API token", field="username")
    except QuellError as exc:
        status = 401 if isinstance(exc, Unauthorized) else exc.status_code
        return render(
            request,
            "login.html",
            None,
            nav="login",
            next=safe_next(next),
            error=exc.message,
            username=username,
            status_code=status,
        )
    plain = start_session(session, who)
    session.commit()
    response = redirect(
        safe_next(next), kind="ok", message=f"Signed in as {who.name} ({who.role})."
    )
    response.set_cookie(
        SESSION_COOKIE,
        plain,
        max_age=int(SESSION_TTL.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/logout")
def logout(
    request: Request,
    csrf: str = Form(default=""),
    session: Session = Depends(get_session),
    web: WebSession = Depends(signed_in),
) -> Response:
    form_guard(request, web, csrf, role="viewer")
    end_session(session, request)
    session.commit()
    response = redirect("/login", kind="ok", message="Signed out.")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/incidents")
async def declare_incident(
    request: Request,
    session: Session = Depends(get_session),
    web: WebSession = Depends(signed_in),
) -> Response:
    """Open an incident by hand (a user report, a call from support): the board's form."""
    form = await request.form()
    form_guard(request, web, str(form.get("csrf", "")))
    created: list[int] = []

    def declare() -> None:
        incident = service.create_incident(
            session,
            actor=web.name,
            title=str(form.get("title", "")),
            severity=str(form.get("severity", "")),
            archetype=str(form.get("archetype", "")) or "unclassified",
            summary=str(form.get("summary", "")),
            systems=[str(v) for v in form.getlist("systems") if str(v)],
            source="console",
        )
        created.append(incident.id)

    response = await run_in_threadpool(act, session, "/board#declare", "", declare)
    if created:
        response = redirect(
            f"/incidents/{created[0]}", kind="ok", message=f"Incident {created[0]} declared."
        )
    return response


@router.post("/incidents/{incident_id}/transition")
def transition(
    request: Request,
    incident_id: int,
    to: str = Form(default=""),
    reason: str = Form(default=""),
    csrf: str = Form(default=""),
    session: Session = Depends(get_session),
    web: WebSession = Depends(signed_in),
) -> Response:
    form_guard(request, web, csrf)
    return act(
        session,
        f"/incidents/{incident_id}#status",
        f"Incident {incident_id} is now {to}.",
        lambda: service.transition(session, incident_id, to, actor=web.name, reason=reason),
    )


@router.post("/incidents/{incident_id}/roles")
def assign_role(
    request: Request,
    incident_id: int,
    role: str = Form(default=""),
    person: str = Form(default=""),
    csrf: str = Form(default=""),
    session: Session = Depends(get_session),
    web: WebSession = Depends(signed_in),
) -> Response:
    form_guard(request, web, csrf)
    return act(
        session,
        f"/incidents/{incident_id}#roles",
        f"{person.strip() or 'Nobody'} assigned as {role.replace('_', ' ')}.",
        lambda: service.assign_role(session, incident_id, role, person, actor=web.name),
    )


@router.post("/incidents/{incident_id}/notes")
def add_note(
    request: Request,
    incident_id: int,
    text: str = Form(default=""),
    csrf: str = Form(default=""),
    session: Session = Depends(get_session),
    web: WebSession = Depends(signed_in),
) -> Response:
    form_guard(request, web, csrf)
    return act(
        session,
        f"/incidents/{incident_id}#timeline",
        "Note added to the timeline.",
        lambda: service.add_note(session, incident_id, text, actor=web.name),
    )


# ---------------------------------------------------------------- containment actions


def _remediation() -> Any:
    from quell.remediation import actions

    return actions


@router.post("/incidents/{incident_id}/kill-switch")
def kill_switch(
    request: Request,
    incident_id: int,
    confirm: str = Form(default=""),
    reason: str = Form(default=""),
    csrf: str = Form(default=""),
    session: Session = Depends(get_session),
    web: WebSession = Depends(signed_in),
) -> Response:
    """Revoke the incident's agents: at once where the presser may approve alone, else proposed."""
    form_guard(request, web, csrf)
    back = f"/incidents/{incident_id}#actions"
    if confirm != "yes":
        return redirect(
            back, kind="error", message="Tick the confirmation box to press the kill switch."
        )
    outcome: dict[str, Any] = {}

    def press() -> None:
        from quell.remediation.kill_switch import kill_switch as press_kill_switch

        outcome.update(press_kill_switch(session, incident_id, who=web.principal, reason=reason))

    response = act(session, back, "", press)
    if outcome:
        kind = "ok" if outcome.get("executed") or outcome.get("needs_second_approver") else "error"
        response = redirect(back, kind=kind, message=f"Kill switch: {outcome['message']}.")
    return response


@router.post("/incidents/{incident_id}/actions")
def propose_action(
    request: Request,
    incident_id: int,
    choice: str = Form(default=""),
    reason: str = Form(default=""),
    params: str = Form(default=""),
    csrf: str = Form(default=""),
    session: Session = Depends(get_session),
    web: WebSession = Depends(signed_in),
) -> Response:
    """Propose one containment action; `choice` is 'type@system' from the page's list."""
    form_guard(request, web, csrf)
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
    request: Request,
    incident_id: int,
    action_id: int,
    decision: str,
    reason: str = Form(default=""),
    csrf: str = Form(default=""),
    session: Session = Depends(get_session),
    web: WebSession = Depends(signed_in),
) -> Response:
    """Approve (and so carry out), reject or cancel a proposed action."""
    form_guard(request, web, csrf)
    remediation = _remediation()
    back = f"/incidents/{incident_id}#actions"
    if decision not in ("approve", "reject", "cancel"):
        return redirect(back, kind="error", message=f"unknown decision {decision!r}")
    action = remediation.get_action(session, action_id)
    if action.incident_id != incident_id:
        return redirect(back, kind="error", message=f"action {action_id} is not on this incident")
    done: dict[str, Any] = {}

    def decide() -> None:
        fn = {
            "approve": remediation.approve_action,
            "reject": remediation.reject_action,
            "cancel": remediation.cancel_action,
        }[decision]
        result = fn(session, action_id, who=web.principal, reason=reason)
        done.update(remediation.action_to_dict(result))

    response = act(session, back, "", decide)
    if done:
        failed = done["status"] == "failed"
        message = f"Action {action_id} ({done['title']} on {done['system']}): {done['status']}"
        if failed and done.get("error"):
            message += f" ({done['error']})"
        response = redirect(back, kind="error" if failed else "ok", message=message + ".")
    return response


@router.post("/incidents/{incident_id}/gates/{key}")
def answer_gate(
    request: Request,
    incident_id: int,
    key: str,
    answer: str = Form(default=""),
    note: str = Form(default=""),
    csrf: str = Form(default=""),
    session: Session = Depends(get_session),
    web: WebSession = Depends(signed_in),
) -> Response:
    """Answer a decision gate yes or no; the answer may propose actions or start clocks."""
    form_guard(request, web, csrf)
    from quell.remediation import gates

    outcome: dict[str, Any] = {}

    def record() -> None:
        outcome.update(
            gates.answer_gate(session, incident_id, key, answer, who=web.principal, note=note)
        )

    back = f"/incidents/{incident_id}#gates"
    response = act(session, back, "", record)
    if outcome:
        proposed = outcome.get("proposed_actions") or []
        message = f"Answered {key.replace('_', ' ')}: {answer}."
        if proposed:
            message += f" It proposed {len(proposed)} containment action(s) below."
        response = redirect(back, kind="ok", message=message)
    return response


@router.post("/incidents/{incident_id}/checklist/{step_id}")
def mark_step(
    request: Request,
    incident_id: int,
    step_id: str,
    done: str = Form(default="yes"),
    csrf: str = Form(default=""),
    session: Session = Depends(get_session),
    web: WebSession = Depends(signed_in),
) -> Response:
    """Tick or untick a playbook step."""
    form_guard(request, web, csrf)
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
    request: Request,
    incident_id: int,
    regime: str,
    stage: str,
    what: str = Form(default=""),
    at: str = Form(default=""),
    reason: str = Form(default=""),
    reference: str = Form(default=""),
    csrf: str = Form(default=""),
    session: Session = Depends(get_session),
    web: WebSession = Depends(signed_in),
) -> Response:
    """Move a clock's anchor (`what=anchor`) or record that the notification was filed (`met`)."""
    form_guard(request, web, csrf)
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


# ---------------------------------------------------------------- What We Know


@router.post("/incidents/{incident_id}/updates")
async def publish_update(
    request: Request,
    incident_id: int,
    session: Session = Depends(get_session),
    web: WebSession = Depends(signed_in),
) -> Response:
    """Publish the edited What We Know draft for one audience."""
    form = await request.form()
    form_guard(request, web, str(form.get("csrf", "")))
    from quell.communication import what_we_know as wwk

    audience = str(form.get("audience", ""))
    fields = {name: str(form.get(name, "")) for name in wwk.FIELDS}
    next_at = str(form.get("next_update_at", "")).strip()
    machine = form.get("machine_draft") == "true"

    def publish() -> None:
        when = None
        if next_at:
            try:
                when = parse_time(next_at)
            except ValueError:
                raise InvalidInput(
                    "next update: expected a date and time like 2026-11-27T14:30",
                    field="next_update_at",
                ) from None
        wwk.publish_update(
            session,
            incident_id,
            audience=audience,
            fields=fields,
            actor=web.name,
            next_update_at=when,
            machine_draft=machine,
        )

    return await run_in_threadpool(
        act,
        session,
        f"/incidents/{incident_id}?audience={quote(audience)}#wwk",
        f"Published the {audience} update.",
        publish,
    )


# ---------------------------------------------------------------- postmortem

PM_TEXT = {
    "summary": ("summary",),
    "root_cause_summary": ("root_cause", "summary"),
    "impact_description": ("impact", "description"),
    "could_it_have_been_faster": ("detection_review", "could_it_have_been_faster"),
    "what_worked": ("response_review", "what_worked"),
    "what_did_not": ("response_review", "what_did_not"),
}


@router.post("/incidents/{incident_id}/postmortem")
async def save_postmortem(
    request: Request,
    incident_id: int,
    session: Session = Depends(get_session),
    web: WebSession = Depends(signed_in),
) -> Response:
    """Save the postmortem editor: the written parts, factor notes and action items."""
    form = await request.form()
    form_guard(request, web, str(form.get("csrf", "")))
    from quell.postmortem import service as pm_service

    def save() -> None:
        current = pm_service.get_postmortem(session, incident_id)
        body: dict[str, Any] = {
            key: current.get(key)
            for key in ("summary", "root_cause", "impact", "detection_review", "response_review")
        }
        body["risks"] = current.get("risks", [])
        for name, path in PM_TEXT.items():
            if name not in form:
                continue
            value = str(form.get(name, ""))
            if len(path) == 1:
                body[path[0]] = value
            else:
                body[path[0]] = {**(body.get(path[0]) or {}), path[1]: value}
        factors = dict((body.get("root_cause") or {}).get("factors") or {})
        for factor in list(factors):
            field = f"factor_{factor}"
            if field in form:
                factors[factor] = {**factors[factor], "notes": str(form.get(field, ""))}
        if factors:
            body["root_cause"] = {**body["root_cause"], "factors": factors}
        users = str(form.get("users_affected", "")).strip()
        if "users_affected" in form:
            if users and not users.isdigit():
                raise InvalidInput("users affected: a whole number", field="users_affected")
            body["impact"] = {**body["impact"], "users_affected": int(users) if users else None}
        body["action_items"] = _action_items(form)
        body["status"] = "final" if form.get("status") == "final" else "draft"
        version = str(form.get("version", "")).strip()
        body["version"] = int(version) if version.isdigit() and int(version) > 0 else None
        parsed = pm_service.parse_postmortem(body)
        pm_service.save_postmortem(session, incident_id, parsed, actor=web.name)

    return await run_in_threadpool(
        act, session, f"/incidents/{incident_id}#postmortem", "Postmortem saved.", save
    )


def _action_items(form: Any) -> list[dict[str, Any]]:
    """Rows item-N-title/owner/due/status; a row with no title is skipped (the blank one)."""
    items = []
    for n in range(100):
        title = form.get(f"item-{n}-title")
        if title is None:
            break
        if not str(title).strip():
            continue
        items.append(
            {
                "title": str(title),
                "owner": str(form.get(f"item-{n}-owner", "")),
                "due_date": str(form.get(f"item-{n}-due", "")).strip() or None,
                "status": str(form.get(f"item-{n}-status", "open")),
            }
        )
    return items
