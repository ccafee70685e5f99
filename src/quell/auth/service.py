"""API tokens and console users: who is acting, and with which role."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from quell.auth.models import ApiToken, User
from quell.errors import Conflict, Forbidden, InvalidInput, Unauthorized
from quell.timeutil import utcnow

# People read (viewer), act on incidents (responder) or administer (admin), each role
# including the one before. `reporter` is the machine identity of a monitored application or
# an agent: it may send signals and change events, ask the guard and record agent actions,
# and read nothing else. Responders and admins may do what a reporter does.
ROLES: Final = ("reporter", "viewer", "responder", "admin")
_RANK: Final = {"viewer": 1, "responder": 2, "admin": 3}
_REPORTING: Final = frozenset({"reporter", "responder", "admin"})
TOKEN_PREFIX: Final = "qk_"
_hasher = PasswordHasher()


@dataclass(frozen=True)
class Principal:
    """The authenticated actor: its name goes on every timeline event it causes."""

    name: str
    role: str

    def can(self, role: str) -> bool:
        if role == "reporter":
            return self.role in _REPORTING
        if self.role == "reporter":
            return False
        return _RANK[self.role] >= _RANK[role]

    def require(self, role: str) -> None:
        if not self.can(role):
            raise Forbidden(f"this needs the {role} role; {self.name} has {self.role}")


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidInput(
            f"unknown role {role!r}; expected one of {', '.join(ROLES)}", field="role"
        )
    return role


def _digest(token: str) -> str:
    # Tokens carry 256 bits of randomness, so a fast hash is enough; passwords use argon2.
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, *, name: str, role: str) -> tuple[str, ApiToken]:
    """Create a token; the plain value is returned once and never stored."""
    check_role(role)
    if not name.strip():
        raise InvalidInput("a token needs a name (the actor it acts as)", field="name")
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(name=name.strip(), role=role, token_hash=_digest(plain), prefix=plain[:10])
    session.add(row)
    session.flush()
    return plain, row


def authenticate_token(session: Session, token: str) -> Principal:
    row = session.scalars(select(ApiToken).where(ApiToken.token_hash == _digest(token))).first()
    if row is None or row.revoked_at is not None:
        raise Unauthorized("invalid or revoked API token")
    return Principal(name=row.name, role=row.role)


def revoke_token(session: Session, token_id: int) -> None:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise InvalidInput(f"no token with id {token_id}", field="id")
    row.revoked_at = row.revoked_at or utcnow()


def create_user(
    session: Session, *, username: str, password: str, role: str, display_name: str = ""
) -> User:
    check_role(role)
    if len(password) < 8:
        raise InvalidInput("a password needs at least 8 characters", field="password")
    if session.scalars(select(User).where(User.username == username)).first():
        raise Conflict(f"user {username!r} exists already")
    user = User(
        username=username,
        display_name=display_name or username,
        role=role,
        password_hash=_hasher.hash(password),
    )
    session.add(user)
    session.flush()
    return user


def authenticate_password(session: Session, username: str, password: str) -> Principal:
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        _hasher.hash(password)  # spend the same time as a real check
        raise Unauthorized("wrong user name or password")
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        raise Unauthorized("wrong user name or password") from None
    return Principal(name=user.username, role=user.role)
