"""The console's forms (POST): thin doors onto the same service functions as the API.

Each one checks origin, CSRF token and role, calls one service function, and redirects back
to the page it came from with the outcome as a one-shot message (post/redirect/get). The
forms for containment, gates, playbook steps and clocks are in quell.web.response_forms.
"""

from __future__ import annotations

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
from quell.web.common import (
    WebRoute,
    act,
    act_then,
    form_guard,
    redirect,
    render,
    responder_form,
    signed_in,
)
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

    def declare() -> int:
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
        return incident.id

    def declared(incident_id: int) -> Response:
        return redirect(
            f"/incidents/{incident_id}", kind="ok", message=f"Incident {incident_id} declared."
        )

    return await run_in_threadpool(act_then, session, "/board#declare", declare, declared)


@router.post("/incidents/{incident_id}/transition")
def transition(
    incident_id: int,
    to: str = Form(default=""),
    reason: str = Form(default=""),
    session: Session = Depends(get_session),
    web: WebSession = Depends(responder_form),
) -> Response:
    return act(
        session,
        f"/incidents/{incident_id}#status",
        f"Incident {incident_id} is now {to}.",
        lambda: service.transition(session, incident_id, to, actor=web.name, reason=reason),
    )


@router.post("/incidents/{incident_id}/roles")
def assign_role(
    incident_id: int,
    role: str = Form(default=""),
    person: str = Form(default=""),
    session: Session = Depends(get_session),
    web: WebSession = Depends(responder_form),
) -> Response:
    return act(
        session,
        f"/incidents/{incident_id}#roles",
        f"{person.strip() or 'Nobody'} assigned as {role.replace('_', ' ')}.",
        lambda: service.assign_role(session, incident_id, role, person, actor=web.name),
    )


@router.post("/incidents/{incident_id}/notes")
def add_note(
    incident_id: int,
    text: str = Form(default=""),
    session: Session = Depends(get_session),
    web: WebSession = Depends(responder_form),
) -> Response:
    return act(
        session,
        f"/incidents/{incident_id}#timeline",
        "Note added to the timeline.",
        lambda: service.add_note(session, incident_id, text, actor=web.name),
    )


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
