"""The console's forms (POST): thin doors onto the same service functions as the API.

Each one checks origin, CSRF token and role, calls one service function, and redirects back
to the page it came from with the outcome as a one-shot message (post/redirect/get).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request, Response
from sqlalchemy.orm import Session

from quell.api.deps import SESSION_COOKIE, get_session
from quell.auth.service import Principal, authenticate_password, authenticate_token
from quell.errors import InvalidInput, QuellError, Unauthorized
from quell.incidents import service
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
