"""What every console page shares: templates, the signed-in person, flash messages, errors."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, unquote

from fastapi import Depends, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session

from quell.api.deps import get_session
from quell.errors import Forbidden, QuellError
from quell.incidents.lifecycle import ROLE_TITLES
from quell.timeutil import as_utc, iso, parse_time, utcnow
from quell.web.auth import LoginRequired, WebSession, check_csrf, check_origin, load_session

T = TypeVar("T")
TEMPLATES_DIR = Path(__file__).parent / "templates"
FLASH_COOKIE = "quell_flash"


def ago(value: datetime | None) -> str:
    """A short, human age: '42 min', '3 h 5 min', '9 d'."""
    if value is None:
        return ""
    seconds = int((utcnow() - as_utc(value)).total_seconds())
    return duration(seconds)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = int(seconds)
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    if seconds < 60:
        return f"{sign}{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{sign}{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{sign}{hours} h {minutes} min" if minutes else f"{sign}{hours} h"
    return f"{sign}{hours // 24} d {hours % 24} h"


def when(value: datetime | str | None) -> str:
    """A UTC timestamp to the minute, the same for every reader whatever their time zone."""
    if value is None:
        return ""
    if isinstance(value, str):
        try:
            return parse_time(value).strftime("%Y-%m-%d %H:%M UTC")
        except ValueError:
            return value
    return as_utc(value).strftime("%Y-%m-%d %H:%M UTC")


def iso_text(value: datetime | str | None) -> str:
    """An ISO 8601 timestamp for a datetime attribute, whether given as datetime or text."""
    if value is None:
        return ""
    return value if isinstance(value, str) else str(iso(value))


def label(value: str | None) -> str:
    """A code name made readable: 'agentic_misalignment' -> 'Agentic misalignment'."""
    if not value:
        return ""
    return str(ROLE_TITLES.get(value) or value.replace("_", " ").replace(".", " ").capitalize())


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(ago=ago, duration=duration, when=when, label=label, iso=iso_text)
    env.filters["json"] = lambda v: json.dumps(v, indent=2, sort_keys=True, default=str)
    return env


templates = Jinja2Templates(env=_environment())


class WebRoute(APIRoute):
    """A page route: errors become readable pages, a missing login becomes the login page."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired:
                target = request.url.path
                if request.method == "GET" and request.url.query:
                    target += "?" + request.url.query
                return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
            except QuellError as exc:
                return error_page(request, exc)

        return guarded


def error_page(request: Request, exc: QuellError) -> Response:
    return templates.TemplateResponse(
        request,
        "error.html",
        {"web": None, "error": exc, "flash": None, "nav": ""},
        status_code=exc.status_code,
    )


def optional_web(request: Request, session: Session = Depends(get_session)) -> WebSession | None:
    return load_session(session, request)


def signed_in(web: WebSession | None = Depends(optional_web)) -> WebSession:
    if web is None:
        raise LoginRequired()
    return web


def form_guard(request: Request, web: WebSession, csrf: str, role: str = "responder") -> None:
    """Every state-changing form: same origin, a valid CSRF token, and the role to act."""
    check_origin(request)
    check_csrf(web, csrf)
    if not web.can(role):
        raise Forbidden(f"this needs the {role} role; {web.name} is a {web.role}")


def responder_form(
    request: Request, csrf: str = Form(default=""), web: WebSession = Depends(signed_in)
) -> WebSession:
    """The signed-in responder behind a state-changing form, checked by `form_guard`."""
    form_guard(request, web, csrf)
    return web


def render(
    request: Request,
    name: str,
    web: WebSession | None,
    *,
    nav: str = "",
    status_code: int = 200,
    **context: Any,
) -> Response:
    flash = _read_flash(request)
    response = templates.TemplateResponse(
        request,
        name,
        {"web": web, "flash": flash, "nav": nav, **context},
        status_code=status_code,
    )
    if flash:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def fragment(request: Request, name: str, **context: Any) -> HTMLResponse:
    html = templates.get_template(name).render({"request": request, **context})
    return HTMLResponse(html)


def _read_flash(request: Request) -> dict[str, str] | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        data = json.loads(unquote(raw))
        return {"kind": str(data["kind"]), "message": str(data["message"])}
    except (ValueError, KeyError, TypeError):
        return None


def redirect(url: str, *, kind: str = "", message: str = "") -> RedirectResponse:
    """Post/redirect/get: the outcome travels to the next page in a one-shot cookie."""
    response = RedirectResponse(url, status_code=303)
    if message:
        value = quote(json.dumps({"kind": kind or "ok", "message": message[:500]}))
        response.set_cookie(
            FLASH_COOKIE, value, max_age=60, httponly=True, samesite="strict", path="/"
        )
    return response


def act(session: Session, back: str, success: str, work: Callable[[], object]) -> Response:
    """Run one service call for a form; a QuellError goes back to the page as a message."""
    try:
        work()
    except QuellError as exc:
        session.rollback()
        return redirect(back, kind="error", message=exc.message)
    # Commit before answering: the request's session would only commit after the redirect is
    # sent, and the browser's next GET could then read the page from before the change.
    session.commit()
    return redirect(back, kind="ok", message=success)


def act_then(
    session: Session, back: str, work: Callable[[], T], then: Callable[[T], Response]
) -> Response:
    """`act`, where the page after success is built from what the service call returned."""
    done: list[T] = []
    response = act(session, back, "", lambda: done.append(work()))
    return then(done[0]) if done else response
