"""Console sessions: login by password or token, a short-lived cookie, CSRF tokens, role checks.

A console session is an ordinary API token minted at login for the person (same name, same
role), kept in an httponly SameSite=Strict cookie; logging out revokes it and the console
refuses it after SESSION_TTL. Every form carries a CSRF token derived from the session token
with HMAC, so a page on another site cannot forge one; the Origin header, when sent, must match.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from quell.api.deps import SESSION_COOKIE
from quell.auth.models import ApiToken
from quell.auth.service import Principal, authenticate_token, create_token, revoke_token
from quell.errors import Forbidden, Unauthorized
from quell.timeutil import as_utc, utcnow

SESSION_TTL: Final = timedelta(hours=12)
CSRF_FIELD: Final = "csrf"


class LoginRequired(Exception):
    """Raised by a page that needs a signed-in person; the console answers with the login page."""


@dataclass(frozen=True)
class WebSession:
    """The person behind a console request and the CSRF token their forms must carry."""

    principal: Principal
    csrf: str
    token_id: int

    @property
    def name(self) -> str:
        return self.principal.name

    @property
    def role(self) -> str:
        return self.principal.role

    def can(self, role: str) -> bool:
        return self.principal.can(role)


def _token_row(session: Session, token: str) -> ApiToken | None:
    # Same digest as quell.auth.service uses to store tokens (SHA-256 of the plain value).
    digest = hashlib.sha256(token.encode()).hexdigest()
    return session.scalars(select(ApiToken).where(ApiToken.token_hash == digest)).first()


def csrf_for(token: str) -> str:
    """The CSRF token of a session: only someone holding the httponly cookie can compute it."""
    return hmac.new(token.encode(), b"quell-console-csrf", hashlib.sha256).hexdigest()


def start_session(session: Session, who: Principal) -> str:
    """Mint the console token for a person who just proved who they are."""
    plain, _row = create_token(session, name=who.name, role=who.role)
    return plain


def load_session(session: Session, request: Request) -> WebSession | None:
    """The signed-in person, or None when there is no valid, unexpired console cookie."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        who = authenticate_token(session, token)
    except Unauthorized:
        return None
    row = _token_row(session, token)
    if row is None:
        return None
    if as_utc(row.created_at) + SESSION_TTL < utcnow():
        revoke_token(session, row.id)  # expired: make sure the API refuses it as well
        return None
    return WebSession(principal=who, csrf=csrf_for(token), token_id=row.id)


def end_session(session: Session, request: Request) -> None:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        row = _token_row(session, token)
        if row is not None:
            revoke_token(session, row.id)


def check_origin(request: Request) -> None:
    """Refuse a form posted from another origin (browsers send Origin on cross-site POSTs)."""
    origin = request.headers.get("origin")
    if origin and origin != "null":
        expected = f"{request.url.scheme}://{request.url.netloc}"
        if origin.rstrip("/") != expected:
            raise Forbidden(f"this form was posted from {origin}, not from the console")
    elif origin == "null":
        raise Forbidden("this form was posted from an opaque origin")


def check_csrf(web: WebSession, submitted: str | None) -> None:
    if not submitted or not hmac.compare_digest(submitted, web.csrf):
        raise Forbidden("the form's security token is missing or stale; reload the page and retry")
