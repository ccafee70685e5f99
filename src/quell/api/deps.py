"""What every router needs: a database session per request and the authenticated principal."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from quell.auth.service import Principal, authenticate_token
from quell.errors import InvalidInput, Unauthorized
from quell.store.db import session_scope

SESSION_COOKIE = "quell_token"


def get_engine_dep(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed if the handler returns, rolled back if it raises."""
    with session_scope(request.app.state.engine) as session:
        yield session


def token_from_request(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthorized("the Authorization header must be 'Bearer <token>'")
        return value.strip()
    return request.cookies.get(SESSION_COOKIE)


def principal(request: Request, session: Session = Depends(get_session)) -> Principal:
    token = token_from_request(request)
    if not token:
        raise Unauthorized("an API token is needed: send 'Authorization: Bearer <token>'")
    return authenticate_token(session, token)


def require(role: str) -> Callable[..., Principal]:
    """A dependency that lets the request through only for `role` or above."""

    def check(who: Principal = Depends(principal)) -> Principal:
        who.require(role)
        return who

    return check


def same_as_url(in_body: str, in_url: str, *, field: str = "name") -> None:
    """A PUT names its object twice, in the URL and in the body: they must agree."""
    if in_body != in_url:
        raise InvalidInput(
            f"the body's {field} is {in_body!r} but the URL names {in_url!r}", field=field
        )


reporter = require("reporter")
viewer = require("viewer")
responder = require("responder")
admin = require("admin")
