"""A short-lived cache of intake callers' tokens, so a busy sender costs no lookup per request.

A token that authenticated is remembered for ``TOKEN_TTL_S`` seconds (by its SHA-256, never
in plain). Any change to a token row made through this process (``quell.auth.service.
revoke_token`` from the API, the console or a CLI in the same process) empties the cache at
once; a revocation made by another process (``quell token revoke`` from a shell while the
server runs) takes effect within ``TOKEN_TTL_S``. Failed lookups are never cached, so a new
token works at once.
"""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Any, Final

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from quell.auth.models import ApiToken
from quell.auth.service import Principal, authenticate_token
from quell.store.db import session_scope

TOKEN_TTL_S: Final = 5.0

_clock = time.monotonic  # a seam for tests that need an entry to expire
_entries: dict[tuple[int, str], tuple[Principal, float]] = {}
_guard = threading.Lock()


def _key(engine: Engine, token: str) -> tuple[int, str]:
    return id(engine), hashlib.sha256(token.encode()).hexdigest()


def cached(engine: Engine, token: str) -> Principal | None:
    """The principal of `token` if it authenticated in the last TOKEN_TTL_S seconds."""
    key = _key(engine, token)
    found = _entries.get(key)
    if found is None:
        return None
    who, expires = found
    if _clock() >= expires:
        _entries.pop(key, None)
        return None
    return who


def authenticate(engine: Engine, token: str) -> Principal:
    """Look `token` up in the store (401 when unknown or revoked) and remember it."""
    with session_scope(engine) as session:
        who = authenticate_token(session, token)
    with _guard:
        _entries[_key(engine, token)] = (who, _clock() + TOKEN_TTL_S)
    return who


def forget_all() -> None:
    """Drop every cached token (a token row changed)."""
    with _guard:
        _entries.clear()


@event.listens_for(ApiToken, "after_update")
@event.listens_for(ApiToken, "after_delete")
def _token_changed(_mapper: Any, _connection: Any, target: ApiToken) -> None:
    # Revoking sets revoked_at through the ORM; rows change rarely, so drop everything, now
    # and again at commit: a request that looked the token up in between read the old row.
    forget_all()
    session = Session.object_session(target)
    if session is not None:
        event.listen(session, "after_commit", lambda _s: forget_all(), once=True)
